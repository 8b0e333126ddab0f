"""MuJoCo's native adhesion actuators (C-only model) against the adhesion rule (xfrc)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

import flyenvs.body as fb
from flyenvs.body import constants as C
from flyenvs.body.kinematics import tripod_gait
from flyenvs.sim import MujocoBackend, native_adhesion
from flyenvs.tasks import registry


@pytest.fixture(scope="module")
def models():
    base = fb.load("train")
    return base, native_adhesion.native_adhesion_model(base)


def test_native_model_is_the_base_model_plus_six_adhesion_actuators(models):
    base, native = models
    assert native.nu == C.N_LEG_JOINTS + C.N_ADHESION
    adh = slice(C.N_LEG_JOINTS, None)
    assert np.all(native.actuator_trntype[adh] == mujoco.mjtTrn.mjTRN_BODY)
    np.testing.assert_array_equal(native.actuator_trnid[adh, 0], fb.layout(base).tarsus_body_ids)
    np.testing.assert_array_equal(native.actuator_gainprm[adh, 0], C.ADHESION_FORCE_MAX)
    np.testing.assert_array_equal(native.actuator_ctrlrange[: C.N_LEG_JOINTS],
                                  base.actuator_ctrlrange)  # fmt: skip
    native_adhesion.check_equivalent_to_rule(native)
    assert native_adhesion._differences(base, native) == []


def test_native_model_refuses_other_models():
    with pytest.raises(ValueError, match="tarsus geoms on bodies"):
        native_adhesion.check_equivalent_to_rule(
            native_adhesion.native_adhesion_model(fb.load("reference"))
        )
    edited = fb.load("train")
    edited.body_mass[1] *= 2
    with pytest.raises(ValueError, match="body_mass"):
        native_adhesion.native_adhesion_model(edited)


def test_native_adhesion_follows_the_rule_to_float64_noise(models):
    """0.25 s of the tripod gait, targets every 2 ms: the native model (adhesion as
    ``ctrl[42:48]``, plain ``mj_step``) and ``MujocoBackend`` (the rule's xfrc) agree to float64
    noise (measured 2e-14 mm after 1 s, scripts/bench_adhesion.py)."""
    base, native = models
    backend = MujocoBackend(base)
    hold = int(round(0.002 / base.opt.timestep))
    ctrl, adhesion = tripod_gait(np.arange(125) * 0.002)
    rule = backend.init(fb.neutral_qpos(base))
    nat = mujoco.MjData(native)
    nat.qpos[:] = rule.qpos
    nat.ctrl[: C.N_LEG_JOINTS] = rule.ctrl
    mujoco.mj_forward(native, nat)
    for c, a in zip(ctrl, adhesion, strict=True):
        rule = backend.step(rule, c, a, hold)
        nat.ctrl[:] = np.concatenate([c, a])
        for _ in range(hold):
            mujoco.mj_step(native, nat)
    np.testing.assert_allclose(nat.qpos, rule.qpos, rtol=0, atol=1e-9)
    np.testing.assert_allclose(nat.qvel, rule.qvel, rtol=0, atol=1e-6)
    assert rule.qpos[0] > 1.0  # it walked


def test_native_model_of_a_task_model_is_built_from_the_tasks_mjcf():
    """A visual task's model (body plus arena mocap bodies) gets its native copy from the task's
    own MJCF (``task.build_mjcf``), checked equal but for the actuators."""
    task = registry.make_task("Optomotor")
    model = task.model
    with pytest.raises(ValueError, match="plain flyenvs.body.load model"):
        native_adhesion.native_adhesion_model(model)
    native = native_adhesion.native_adhesion_model(model, task.build_mjcf)
    assert native.nu == C.N_LEG_JOINTS + C.N_ADHESION and native.nmocap == model.nmocap == 72
    assert native_adhesion._differences(model, native) == []
    native_adhesion.check_equivalent_to_rule(native)
    with pytest.raises(ValueError, match="build_mjcf.*nbody"):  # the plain body is not it
        native_adhesion.native_adhesion_model(model, lambda: fb.build_mjcf("train"))
