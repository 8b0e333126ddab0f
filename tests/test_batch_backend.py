"""The batched C MuJoCo engine (host side): parity with MujocoBackend, thread independence."""

from __future__ import annotations

import numpy as np
import pytest

import flyenvs.body as fb
from flyenvs.body import constants as C
from flyenvs.body.kinematics import tripod_gait
from flyenvs.sim import MujocoBackend, Readout
from flyenvs.sim.batch_backend import BatchMujocoBackend, check_mocap_inert
from flyenvs.tasks import visual

B, K, N_SUB, N_STEPS = 3, 10, 8, 8


@pytest.fixture(scope="module")
def model():
    return fb.load("train")


@pytest.fixture(scope="module")
def start(model):
    qpos = np.tile(fb.neutral_qpos(model), (B, 1))
    lay = fb.layout(model)
    noise = np.random.default_rng(0).uniform(-0.02, 0.02, (B, C.N_LEG_JOINTS))
    qpos[:, lay.leg_qpos_adr] += noise
    ctrl, adhesion = tripod_gait(np.arange(N_STEPS * K) * 0.002)
    return qpos, ctrl.reshape(N_STEPS, K, -1), adhesion.reshape(N_STEPS, K, -1)


def _run(backend, qpos, ctrl, adhesion):
    states, readout = backend.init(qpos, np.zeros((B, backend.model.nv)))
    for c, a in zip(ctrl, adhesion, strict=True):
        tile = (B, *c.shape)
        states, readout = backend.step(
            states, np.broadcast_to(c, tile), np.broadcast_to(a, (B, *a.shape)), N_SUB
        )
    return states, readout


def test_batch_matches_mujoco_backend_to_float64_noise(model, start):
    qpos, ctrl, adhesion = start
    _, batch = _run(BatchMujocoBackend(model), qpos, ctrl, adhesion)
    cpu = MujocoBackend(model)
    for i in range(B):
        d = cpu.init(qpos[i])
        for c, a in zip(ctrl.reshape(-1, 42), adhesion.reshape(-1, 6), strict=True):
            d = cpu.step(d, c, a, N_SUB)
        ref = cpu.readout(d)
        for name in Readout._fields:
            np.testing.assert_allclose(getattr(batch, name)[i], getattr(ref, name), rtol=1e-9,
                                       atol=1e-9, err_msg=name)  # fmt: skip
    assert np.all(batch.body_pos_mm[:, 0] > 0.5)  # they walked


@pytest.mark.parametrize("method", ["threads", "rollout"])
def test_results_do_not_depend_on_the_thread_count(model, start, method):
    runs = [_run(BatchMujocoBackend(model, n, method), *start) for n in (1, 2, 3)]
    for states, readout in runs[1:]:
        np.testing.assert_array_equal(states, runs[0][0])
        for name in Readout._fields:
            np.testing.assert_array_equal(getattr(readout, name), getattr(runs[0][1], name))


def test_bad_inputs_raise(model, start):
    qpos, ctrl, adhesion = start
    backend = BatchMujocoBackend(model, 2)
    states, _ = backend.init(qpos, np.zeros((B, model.nv)))
    c = np.broadcast_to(ctrl[0], (B, K, 42)).copy()
    a = np.broadcast_to(adhesion[0], (B, K, 6)).copy()
    with pytest.raises(ValueError, match="ctrl must have shape"):
        backend.step(states, c[:, :, :41], a, N_SUB)
    with pytest.raises(ValueError, match="adhesion must have shape"):
        backend.step(states, c, a[:2], N_SUB)
    c[1, 3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        backend.step(states, c, a, N_SUB)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        backend.step(states, np.zeros((B, K, 42)), a + 1.5, N_SUB)
    with pytest.raises(ValueError, match="n_threads"):
        BatchMujocoBackend(model, 0)
    with pytest.raises(ValueError, match="method"):
        BatchMujocoBackend(model, 1, "gpu")
    backend.close()


def _arena_model(edit=None):
    """The train body with a visual arena's mocap body (as a visual task adds it), edited."""
    root = fb.build_mjcf("train")
    visual.add_mocap(root, "target", [{"type": "sphere", "size": [1.0]}])
    if edit is not None:
        edit(root)
    return root, fb.compile_mjcf(root)


def test_mocap_scenery_is_inert_and_other_mocap_bodies_are_refused(start):
    """The engine keeps no mocap poses: moving an arena's mocap body (here through the fly, every
    step) leaves the physics bit-identical; a mocap body that could act is refused."""
    root, model = _arena_model()
    cpu = MujocoBackend(model)
    qpos, ctrl, adhesion = start
    still, moved = cpu.init(qpos[0]), cpu.init(qpos[0])
    rng = np.random.default_rng(0)
    for c, a in zip(ctrl.reshape(-1, 42)[:40], adhesion.reshape(-1, 6)[:40], strict=True):
        moved.mocap_pos[:] = rng.uniform(-2, 2, (1, 3))
        moved.mocap_quat[:] = rng.normal(size=(1, 4))
        moved.mocap_quat /= np.linalg.norm(moved.mocap_quat)
        still, moved = cpu.step(still, c, a, N_SUB), cpu.step(moved, c, a, N_SUB)
    np.testing.assert_array_equal(moved.qpos, still.qpos)
    np.testing.assert_array_equal(moved.qvel, still.qvel)
    assert still.qpos[0] > 0.3  # it walked
    engine = BatchMujocoBackend(model, build_mjcf=lambda: _arena_model()[0])
    assert engine.native.nmocap == 1

    def colliding(root):
        post = root.worldbody.add("body", name="post", mocap=True)
        post.add("geom", type="sphere", size=[1], contype=1, conaffinity=1)

    def attached(root):  # a pendulum hanging from the mocap body
        child = root.find("body", "target").add("body", name="bob", pos=[0, 0, -2])
        child.add("joint", type="hinge", axis=[1, 0, 0])
        child.add("geom", type="sphere", size=[0.5], mass=1, contype=0, conaffinity=0)

    for edit, message in ((colliding, "can collide"), (attached, "attached to a mocap body")):
        with pytest.raises(ValueError, match=message):
            check_mocap_inert(_arena_model(edit)[1])
