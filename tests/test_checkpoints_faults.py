"""Damaged checkpoints: each defect raises CheckpointError naming the file; resume falls back.

Unit-level on a small Brax PPO params pytree (fast), plus one end-to-end ``ppo.train(resume=True)``
on the ``smoke`` preset with the batched C engine.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from agents import checkpoints, ppo
from agents.checkpoints import CheckpointError

NETWORK = {
    "policy_hidden": [8],
    "value_hidden": [8],
    "init_noise_std": 0.5,
    "observation_size": 5,
    "action_size": 2,
    "normalize_observations": True,
}
META = {"network": NETWORK, "env_config": {}, "task": "Walk"}


def _params(seed: int = 0):
    leaves, tree = jax.tree.flatten(checkpoints._template(NETWORK))
    rng = np.random.default_rng(seed)
    return jax.tree.unflatten(tree, [rng.normal(size=np.shape(x)).astype(np.asarray(x).dtype)
                                     if np.issubdtype(np.asarray(x).dtype, np.floating) else x
                                     for x in leaves])  # fmt: skip


def _first_leaf(params) -> float:
    return float(np.asarray(jax.tree.leaves(params[1])[0]).ravel()[0])


@pytest.fixture
def ckpt(tmp_path):
    return checkpoints.save(tmp_path, 100, _params(), META)


def _raises(ckpt, file: str, what: str) -> None:
    pattern = f"{re.escape(str(ckpt / file))}.*{what}"
    with pytest.raises(CheckpointError, match=pattern):
        checkpoints.load(ckpt)


def test_save_records_a_checksum_and_round_trips(ckpt):
    meta = json.loads((ckpt / checkpoints.META_FILE).read_text())
    assert len(meta["params_sha256"]) == 64 and meta["step"] == 100
    params, _ = checkpoints.load(ckpt)
    assert _first_leaf(params) == _first_leaf(_params())
    assert issubclass(CheckpointError, ValueError)


def test_truncated_params_fail_the_checksum(ckpt):
    blob = (ckpt / checkpoints.PARAMS_FILE).read_bytes()
    (ckpt / checkpoints.PARAMS_FILE).write_bytes(blob[: len(blob) // 2])
    _raises(ckpt, checkpoints.PARAMS_FILE, "checksum.*truncated or altered")


def test_flipped_bytes_fail_the_checksum(ckpt):
    blob = bytearray((ckpt / checkpoints.PARAMS_FILE).read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (ckpt / checkpoints.PARAMS_FILE).write_bytes(bytes(blob))
    _raises(ckpt, checkpoints.PARAMS_FILE, "checksum")


def _drop_checksum(ckpt) -> None:
    meta = json.loads((ckpt / checkpoints.META_FILE).read_text())
    del meta["params_sha256"]
    (ckpt / checkpoints.META_FILE).write_text(json.dumps(meta))


def test_checkpoints_without_a_checksum_still_load_and_are_still_checked(ckpt):
    _drop_checksum(ckpt)  # as written before the checksum existed
    params, meta = checkpoints.load(ckpt)
    assert meta["step"] == 100 and _first_leaf(params) == _first_leaf(_params())
    blob = (ckpt / checkpoints.PARAMS_FILE).read_bytes()
    (ckpt / checkpoints.PARAMS_FILE).write_bytes(blob[: len(blob) // 2])
    _raises(ckpt, checkpoints.PARAMS_FILE, "cannot be decoded")


def test_missing_files(ckpt):
    (ckpt / checkpoints.META_FILE).unlink()
    _raises(ckpt, checkpoints.META_FILE, "is missing")
    other = checkpoints.save(ckpt.parents[1], 200, _params(), META)
    (other / checkpoints.PARAMS_FILE).unlink()
    _raises(other, checkpoints.PARAMS_FILE, "is missing")


def test_garbage_meta_json(ckpt):
    (ckpt / checkpoints.META_FILE).write_text('{"step": 100, "netw')
    _raises(ckpt, checkpoints.META_FILE, "not valid JSON")
    (ckpt / checkpoints.META_FILE).write_text("[1, 2]")
    _raises(ckpt, checkpoints.META_FILE, "not a JSON object")


def test_meta_missing_keys(ckpt):
    meta = json.loads((ckpt / checkpoints.META_FILE).read_text())
    (ckpt / checkpoints.META_FILE).write_text(json.dumps({**meta, "step": None}))
    _raises(ckpt, checkpoints.META_FILE, "integer 'step'")
    network = {k: v for k, v in NETWORK.items() if k != "action_size"}
    (ckpt / checkpoints.META_FILE).write_text(json.dumps({**meta, "network": network}))
    _raises(ckpt, checkpoints.META_FILE, r"lacks \['action_size'\]")


def test_params_of_another_structure(ckpt):
    meta = json.loads((ckpt / checkpoints.META_FILE).read_text())
    meta["network"] = {**NETWORK, "policy_hidden": [16]}  # meta no longer matches the params
    (ckpt / checkpoints.META_FILE).write_text(json.dumps(meta))
    _raises(ckpt, checkpoints.PARAMS_FILE, r"leaf .* has shape \[.*\], expected \[")
    with pytest.raises(CheckpointError, match="does not match the expected structure"):
        checkpoints.load_params(ckpt, {"a": np.zeros(3, np.float32)})


def test_half_written_temporary_is_ignored_and_removed(tmp_path):
    checkpoints.save(tmp_path, 100, _params(), META)
    tmp = tmp_path / "checkpoints" / ".tmp-killed"
    tmp.mkdir()
    (tmp / checkpoints.PARAMS_FILE).write_bytes(b"\x82\x00")  # a save killed mid-write
    assert [p.name for p in checkpoints.list_checkpoints(tmp_path)] == ["step_000000000100"]
    assert checkpoints.resolve(tmp_path).name == "step_000000000100"
    assert checkpoints.remove_temporaries(tmp_path) == [tmp] and not tmp.exists()


def test_latest_valid_skips_damaged_checkpoints_with_a_warning(tmp_path):
    checkpoints.save(tmp_path, 100, _params(0), META)
    checkpoints.save(tmp_path, 200, _params(1), META)
    bad = checkpoints.save(tmp_path, 300, _params(2), META)
    (bad / checkpoints.PARAMS_FILE).write_bytes(b"")
    (tmp_path / "checkpoints" / "step_000000000400").mkdir()  # renamed but empty
    warnings: list[str] = []
    params, meta, skipped = checkpoints.load_latest_valid(tmp_path, warn=warnings.append)
    assert meta["step"] == 200 and _first_leaf(params) == _first_leaf(_params(1))
    assert [p.name for p, _ in skipped] == ["step_000000000400", "step_000000000300"]
    assert len(warnings) == 2 and "step_000000000300" in warnings[1]
    assert "checksum" in warnings[1] and "meta.json is missing" in warnings[0]


def test_latest_valid_raises_when_none_is_valid(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoints.load_latest_valid(tmp_path)
    ckpt = checkpoints.save(tmp_path, 100, _params(), META)
    (ckpt / checkpoints.META_FILE).write_text("garbage")
    with pytest.raises(CheckpointError, match="no valid checkpoint.*meta.json is not valid JSON"):
        checkpoints.load_latest_valid(tmp_path, warn=lambda _: None)


def _adam_state(n: int = 3, count: int = 7) -> dict:
    """A state dict as agents.brax_adam saves it (optax.adam's state, `count` steps on)."""
    import optax

    state = optax.adam(1e-3).init({"w": np.zeros(n, np.float32)})
    state = jax.tree.map(lambda x: x + count if np.issubdtype(x.dtype, np.integer) else x + 0.5,
                         state)  # fmt: skip
    from flax import serialization

    return serialization.to_state_dict(jax.device_get(state))


def test_optimizer_state_round_trips_and_damage_is_named(tmp_path):
    plain = checkpoints.save(tmp_path, 100, _params(), META)
    assert checkpoints.read_optimizer_state(plain) is None  # saved without one (older runs)
    ckpt = checkpoints.save(tmp_path, 200, _params(), META, optimizer_state=_adam_state())
    state = checkpoints.read_optimizer_state(ckpt)
    assert int(state["0"]["count"]) == 7 and np.all(state["0"]["mu"]["w"] == 0.5)
    file = ckpt / checkpoints.OPTIMIZER_FILE
    blob = file.read_bytes()
    file.write_bytes(blob[: len(blob) // 2])
    pattern = f"{re.escape(str(file))}.*checksum.*truncated or altered"
    with pytest.raises(CheckpointError, match=pattern):
        checkpoints.read_optimizer_state(ckpt)
    file.unlink()
    with pytest.raises(CheckpointError, match=f"{re.escape(str(file))} is missing"):
        checkpoints.read_optimizer_state(ckpt)
    checkpoints.load(ckpt)  # the policy itself still loads (evaluation needs no optimizer)
    # resume needs both: the damaged checkpoint is skipped for the previous one
    warnings: list[str] = []
    (params, opt), meta, skipped = checkpoints.load_latest_valid(
        tmp_path, warn=warnings.append, optimizer=True
    )
    assert meta["step"] == 100 and opt is None and [p for p, _ in skipped] == [ckpt]
    assert "optimizer.msgpack is missing" in warnings[0]


def test_restored_adam_state_must_fit_the_networks(tmp_path):
    """A saved Adam state of other shapes (another network size) is refused by name."""
    import optax

    from agents.brax_adam import AdamState

    adam = AdamState(_adam_state(n=3), source="run/checkpoints at step 200")
    fitting = adam.adam(1e-3).init({"w": np.zeros(3, np.float32)})
    assert int(fitting[0].count) == 7 and float(fitting[0].mu["w"][0]) == 0.5
    with pytest.raises(CheckpointError, match="at step 200 does not fit this run's networks"):
        adam.adam(1e-3).init({"w": np.zeros(4, np.float32)})
    with pytest.raises(CheckpointError, match="does not fit"):
        adam.adam(1e-3).init({"other": np.zeros(3, np.float32)})
    assert isinstance(adam.adam(1e-3), optax.GradientTransformation)


def _adam_count(ckpt) -> int:
    return int(checkpoints.read_optimizer_state(ckpt)["0"]["count"])


def test_resume_falls_back_to_the_previous_checkpoint(tmp_path, capsys):
    """End to end on the smoke preset: the newest checkpoint is truncated, a save was killed
    mid-write; resume trains on from the previous checkpoint and says what it skipped."""
    cfg = ppo.resolve_preset("smoke", backend="mujoco")
    run = tmp_path / "run"
    ppo.train(run, cfg)
    found = checkpoints.list_checkpoints(run)
    assert len(found) >= 2
    newest, previous = found[-1], found[-2]
    blob = (newest / checkpoints.PARAMS_FILE).read_bytes()
    (newest / checkpoints.PARAMS_FILE).write_bytes(blob[:10])
    (run / "checkpoints" / ".tmp-killed").mkdir()
    summary = ppo.train(run, resume=True)
    assert summary["start_step"] == int(previous.name.removeprefix("step_"))
    assert summary["final_step"] == cfg["ppo"]["num_timesteps"]
    err = capsys.readouterr().err
    assert f"skipping checkpoint {newest.name}" in err and "checksum" in err
    assert not (run / "checkpoints" / ".tmp-killed").exists()
    checkpoints.load(newest)  # rewritten by the resumed run
    # Adam's moments and count continue from the checkpoint (a fresh Adam would count only the
    # resumed segment's SGD steps): 2 minibatches x 2 epochs per 160-step update
    sgd_per_step = 4 / 160
    assert _adam_count(previous) == summary["start_step"] * sgd_per_step
    assert _adam_count(newest) == cfg["ppo"]["num_timesteps"] * sgd_per_step


def test_cli_resume_without_a_valid_checkpoint_is_a_usage_error(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    cfg = ppo.resolve_preset("smoke", backend="mujoco")
    (run / "config.json").write_text(json.dumps({"train": cfg}))
    ckpt = checkpoints.save(run, 320, _params(), META)
    (ckpt / checkpoints.META_FILE).write_text("not json")
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, str(root / "scripts" / "train.py"), "--resume", "--out", str(run)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"},
        cwd=root,
    )
    assert proc.returncode == 2, proc.stderr
    assert "no valid checkpoint" in proc.stderr and "meta.json is not valid JSON" in proc.stderr
    assert "skipping checkpoint step_000000000320" in proc.stderr


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_completes(tmp_path):
    """``scripts/train.py`` killed with SIGKILL after its first checkpoint; ``--resume`` logic
    (``ppo.train(resume=True)``) finishes the run and every checkpoint left behind loads."""
    run = tmp_path / "run"
    root = Path(__file__).resolve().parents[1]
    args = ["--preset", "smoke", "--backend", "mujoco", "--steps", "1920"]
    proc = subprocess.Popen(
        [sys.executable, str(root / "scripts" / "train.py"), *args, "--out", str(run)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"},
        cwd=root,
    )
    try:
        deadline = time.monotonic() + 300
        while not checkpoints.list_checkpoints(run) and proc.poll() is None:
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    killed_at = [int(p.name.removeprefix("step_")) for p in checkpoints.list_checkpoints(run)]
    assert proc.returncode == -signal.SIGKILL and killed_at and max(killed_at) < 1920
    summary = ppo.train(run, resume=True)
    assert summary["start_step"] == max(killed_at) and summary["final_step"] == 1920
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".tmp-")]
    for ckpt in checkpoints.list_checkpoints(run):
        checkpoints.load(ckpt)
        # the optimizer's state went on from the kill point: 4 SGD steps per 160 env steps
        assert _adam_count(ckpt) == int(ckpt.name.removeprefix("step_")) * 4 // 160


def test_resumed_segments_draw_fresh_keys():
    """A resumed segment must not replay the first segment's key stream: its seed differs from
    the run's and from other resume points', and is the same every time for one resume point."""
    from agents.ppo import resume_seed

    seeds = {resume_seed(0, step) for step in (25_600, 51_200, 76_800)}
    assert len(seeds) == 3 and 0 not in seeds
    assert resume_seed(0, 25_600) == resume_seed(0, 25_600) != resume_seed(1, 25_600)
    assert all(0 <= s < 2**32 for s in seeds)
