"""Walking proof: an open-loop tripod gait replaying NeuroMechFly's recorded single step walks the
``"train"`` body >= 5 mm forward in 1 s on flat ground, on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import mujoco
import numpy as np
import pytest

import flyenvs.body as fb
from flyenvs.body.kinematics import tripod_gait
from flyenvs.sim import MjxBackend, MujocoBackend

ROOT = Path(__file__).resolve().parents[1]
MIN_FORWARD_MM = 5.0
N_SUB = 8  # control every 2 ms (8 physics steps of 0.25 ms)
SETTLE_S = 0.1


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return fb.load("train")


def _walk(init, step, readout, model: mujoco.MjModel) -> tuple[np.ndarray, np.ndarray, float]:
    """Settle SETTLE_S in the neutral pose, then 1 s of tripod gait; returns the thorax
    displacement [3] (mm), the final gravity direction in the body frame [3] and the final
    body-contact flag."""
    dt = N_SUB * model.opt.timestep
    state = init(fb.neutral_qpos(model))
    for _ in range(int(round(SETTLE_S / dt))):
        state = step(state, fb.neutral_joint_angles(), np.ones(6), N_SUB)
    start = np.asarray(readout(state).body_pos_mm)
    ctrls, adhs = tripod_gait(np.arange(int(round(1.0 / dt))) * dt)
    for ctrl, adh in zip(ctrls, adhs, strict=True):
        state = step(state, ctrl, adh, N_SUB)
    r = jax.tree.map(np.asarray, readout(state))
    return r.body_pos_mm - start, r.gravity_body, r.body_contact


def test_walks_forward_c_mujoco(model):
    b = MujocoBackend(model)
    disp, gravity, body_contact = _walk(b.init, b.step, b.readout, model)
    assert disp[0] >= MIN_FORWARD_MM, disp
    assert abs(disp[1]) < disp[0]  # heading within 45 degrees of straight ahead
    assert gravity[2] < -0.95 and body_contact == 0.0  # upright, body off the floor


def test_walks_forward_mjx(model):
    b = MjxBackend(model)
    step = jax.jit(b.step, static_argnums=3)
    disp, gravity, body_contact = _walk(jax.jit(b.init), step, jax.jit(b.readout), model)
    assert disp[0] >= MIN_FORWARD_MM, disp
    assert abs(disp[1]) < disp[0]
    assert gravity[2] < -0.95 and body_contact == 0.0


def test_walk_demo_script_writes_video(tmp_path):
    out = tmp_path / "walk.mp4"
    env = {**os.environ, "MUJOCO_GL": "egl"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "walk_demo.py"), "--out", str(out),
         "--duration-s", "0.3", "--width", "160", "--height", "120"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "mm forward" in proc.stdout
    assert out.stat().st_size > 1000


def test_walk_demo_rejects_bad_output(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "walk_demo.py"), "--out", str(tmp_path / "x.gif")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode != 0 and ".mp4" in proc.stderr


from reference_wheels import WHEELS  # noqa: E402


def test_import_assets_reproduces_committed_assets(tmp_path):
    w1, w2 = WHEELS / "flygym-1.2.1-py3-none-any.whl", WHEELS / "flygym-2.1.1-py3-none-any.whl"
    if not (w1.is_file() and w2.is_file()):
        pytest.skip(f"flygym wheels not found in {WHEELS}")
    out = tmp_path / "neuromechfly"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "import_assets.py"), "--flygym1", str(w1),
         "--flygym2", str(w2), "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    committed = ROOT / "assets" / "neuromechfly"
    made = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert made == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    for rel in made:
        if rel.suffix != ".npz":  # npz embeds zip timestamps; compare its arrays instead
            assert (out / rel).read_bytes() == (committed / rel).read_bytes(), rel
    npz = "single_steps_untethered.npz"
    a, b = np.load(out / npz), np.load(committed / npz)
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
