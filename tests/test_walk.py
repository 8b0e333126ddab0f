"""Walk task definition: config, CPG, reward shapes, pure task functions (no physics engine)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flyenvs import body
from flyenvs.body import constants
from flyenvs.sim.base import Readout
from flyenvs.tasks import cpg, registry, rewards, walk


@pytest.fixture(scope="module")
def model():
    return body.load("train")


@pytest.fixture(scope="module")
def cpg_task(model):
    return walk.WalkTask(model, walk.default_config())


# ---------------------------------------------------------------------------------------- config
def test_default_config_is_fresh_and_locked():
    a, b = walk.default_config(), walk.default_config()
    a.reward.speed = 3.0
    assert b.reward.speed == 1.0
    with pytest.raises(AttributeError):
        a.new_option = 1


def test_overrides_dotted_dunder_and_group():
    cfg = walk.default_config(
        **{"reward.turn": 2.0}, action__cpg__freq_hz=10.0, command={"speed_mm_s": [2, 4]}
    )
    assert cfg.reward.turn == 2.0 and cfg.action.cpg.freq_hz == 10.0
    assert cfg.command.speed_mm_s == (2.0, 4.0)


def test_unknown_option_lists_valid_ones():
    with pytest.raises(KeyError, match="valid options: .*action_mode.*reward.speed"):
        walk.default_config(speeed=1.0)
    with pytest.raises(KeyError, match="reward.nope"):
        walk.default_config(**{"reward.nope": 1.0})


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"action_mode": "muscles"}, ValueError),
        ({"action_mode": 3}, TypeError),
        ({"episode_length": 0}, ValueError),
        ({"command.speed_mm_s": (5.0, 1.0)}, ValueError),
        ({"command.speed_mm_s": (1.0, 2.0, 3.0)}, TypeError),
        ({"reward.speed": -1.0}, ValueError),
        ({"command.fixed": 1}, TypeError),
        ({"body_variant": "robot"}, ValueError),
    ],
)
def test_bad_config_values(model, overrides, error):
    with pytest.raises(error):
        walk.WalkTask(model, walk.default_config(**overrides))


def test_control_period_must_be_whole_physics_steps(model):
    with pytest.raises(ValueError, match="whole number of physics steps"):
        walk.WalkTask(model, walk.default_config(control_dt_s=0.0205))


def test_unknown_task_name():
    with pytest.raises(KeyError, match="Walk"):
        registry.make_task("Fly")


# ------------------------------------------------------------------------------------------ CPG
def test_step_table_reproduces_the_recording():
    steps = body.single_steps()
    n = steps.joint_angles_rad.shape[0]
    table = cpg.body_step_table(n_bins=n)
    recorded = steps.joint_angles_rad.reshape(n, 6, 7).transpose(1, 0, 2)
    np.testing.assert_allclose(np.asarray(table.angles_rad), recorded, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(table.neutral_rad).reshape(-1), body.neutral_joint_angles(), atol=0.02
    )


def test_step_angles_magnitude_zero_is_neutral_and_one_is_recording():
    table = cpg.body_step_table()
    phase = jnp.linspace(0.3, 5.0, 6)
    np.testing.assert_allclose(
        cpg.step_angles(table, phase, jnp.zeros(6)), table.neutral_rad, atol=1e-6
    )
    full = np.asarray(cpg.step_angles(table, phase, jnp.ones(6))).reshape(-1)
    np.testing.assert_allclose(full, body.step_angles(np.asarray(phase)), atol=0.03)


def test_stance_adhesion_matches_body_convention():
    table = cpg.body_step_table()
    phases = np.random.default_rng(0).uniform(0, 2 * np.pi, (20, 6))
    ours = np.stack([np.asarray(cpg.stance_adhesion(table, jnp.asarray(p))) for p in phases])
    np.testing.assert_array_equal(ours > 0.5, body.in_stance(phases) | (phases == 0))


def test_cpg_locks_into_a_tripod_at_the_intrinsic_frequency():
    bias = jnp.asarray(cpg.TRIPOD_PHASE_BIAS_RAD)
    state = cpg.CPGState(jnp.asarray(np.random.default_rng(1).uniform(0, 6, 6)), jnp.zeros(6))
    step = jax.jit(
        lambda s: cpg.cpg_step(
            s, jnp.full(6, 12.0), jnp.ones(6), (bias > 0) * 10.0, bias, jnp.full(6, 20.0), 1e-3
        )
    )
    for _ in range(2000):
        state = step(state)
    start = state.phase_rad
    for _ in range(500):
        state = step(state)
    freq_hz = (state.phase_rad - start) / (2 * np.pi * 0.5)
    np.testing.assert_allclose(freq_hz, 12.0, rtol=0.02)
    diff = np.mod(np.asarray(state.phase_rad - state.phase_rad[0]), 2 * np.pi)
    np.testing.assert_allclose(np.cos(diff), np.cos(np.pi * cpg.TRIPOD_GROUP), atol=0.05)
    np.testing.assert_allclose(state.magnitude, 1.0, atol=1e-3)


def test_cpg_turning_action_shortens_right_steps(cpg_task):
    params = cpg_task.default_params()
    freq, amp = cpg_task.controller.modulation(jnp.array([0] * 7 + [1.0]), params)
    assert np.all(amp[:3] > 1.0) and np.all(amp[3:] < 1.0)
    freq, amp = cpg_task.controller.modulation(jnp.array([0] * 6 + [-1.0, 0]), params)
    np.testing.assert_allclose(freq, 6.0)


# -------------------------------------------------------------------------------------- rewards
def test_tolerance_shape():
    x = jnp.array([0.0, 1.0, 2.0, 3.0, -10.0])
    v = rewards.tolerance(x, 1.0, 2.0, 1.0)
    np.testing.assert_allclose(v[1:3], 1.0)
    np.testing.assert_allclose(v[0], 0.1, rtol=1e-5)
    np.testing.assert_allclose(v[3], 0.1, rtol=1e-5)
    assert 0.0 <= float(v[4]) < 1e-6


def test_penalties_and_upright_ranges():
    x = jnp.array([0.0, 1.0, 1e6])
    p = rewards.squashed_penalty(x, 1.0)
    assert float(p[0]) == 0.0 and np.all(np.asarray(p) >= -1.0) and float(p[2]) < -0.99
    assert float(rewards.upright(jnp.array([0.0, 0.0, -1.0]))) == 1.0
    assert float(rewards.upright(jnp.array([0.0, 0.0, 1.0]))) == 0.0


# ----------------------------------------------------------------------------- task functions
def _readout(rng: np.random.Generator, scale: float = 1.0) -> Readout:
    return Readout(
        time_s=np.float32(0.1),
        body_pos_mm=rng.normal(size=3) * scale,
        body_quat=np.array([1.0, 0, 0, 0]),
        body_linvel_mm_s=rng.normal(size=3) * 10 * scale,
        body_angvel_rad_s=rng.normal(size=3) * scale,
        gravity_body=np.array([0.0, 0.0, -1.0]),
        joint_pos_rad=rng.normal(size=42),
        joint_vel_rad_s=rng.normal(size=42) * 100 * scale,
        tarsus_force=np.abs(rng.normal(size=6)) * 10,
        end_effector_pos_mm=rng.normal(size=(6, 3)),
        body_contact=np.float32(0.0),
        eye_pos_mm=rng.normal(size=(2, 3)),
        eye_xmat=np.tile(np.eye(3), (2, 1, 1)),
    )


@pytest.mark.parametrize("mode", ["cpg", "joints"])
def test_rewards_stay_in_documented_range(model, mode):
    task = walk.WalkTask(model, walk.default_config(action_mode=mode))
    r = task.config.reward
    low = -(r.energy + r.action_rate)
    high = r.speed + r.turn + r.upright
    rng = np.random.default_rng(0)
    _, _, info = task.reset(jax.random.PRNGKey(0))
    transition = jax.jit(task.transition)
    for i in range(40):
        action = rng.uniform(-1, 1, task.action_size).astype(np.float32)
        out = transition(_readout(rng, scale=10.0 ** (i % 4 - 1)), info, action)
        assert low - 1e-5 <= float(out["reward"]) <= high + 1e-5
        terms = {k for k in out["metrics"] if k.startswith("reward/")}
        assert terms == {f"reward/{k}" for k in walk.REWARD_TERMS}


def test_termination_on_flip_body_contact_and_nan(cpg_task):
    rng = np.random.default_rng(0)
    _, _, info = cpg_task.reset(jax.random.PRNGKey(0))
    action = jnp.zeros(cpg_task.action_size)
    upright = _readout(rng)
    assert not bool(cpg_task.transition(upright, info, action)["terminated"])
    flipped = upright._replace(gravity_body=np.array([0.0, 0.0, 1.0]))
    assert bool(cpg_task.transition(flipped, info, action)["terminated"])
    touching = upright._replace(body_contact=np.float32(1.0))
    assert bool(cpg_task.transition(touching, info, action)["terminated"])
    broken = upright._replace(joint_vel_rad_s=np.full(42, np.nan))
    out = cpg_task.transition(broken, info, action)
    assert bool(out["terminated"]) and float(out["reward"]) == 0.0
    assert all(np.all(np.isfinite(np.asarray(x))) for x in out["obs"].values())


def test_reset_differs_across_seeds_and_repeats_per_seed(cpg_task):
    reset = jax.jit(cpg_task.reset)
    q0, _, i0 = reset(jax.random.PRNGKey(0))
    q1, _, i1 = reset(jax.random.PRNGKey(1))
    q0b, _, i0b = reset(jax.random.PRNGKey(0))
    assert not np.allclose(q0, q1) and not np.allclose(i0["command"], i1["command"])
    np.testing.assert_array_equal(q0, q0b)
    np.testing.assert_array_equal(i0["command"], i0b["command"])


def test_fixed_command(model):
    task = walk.WalkTask(
        model, walk.default_config(**{"command.fixed": True, "command.fixed_speed_mm_s": 7.0})
    )
    _, _, info = task.reset(jax.random.PRNGKey(3))
    np.testing.assert_allclose(info["command"], [7.0, 0.0])


def test_observation_layout(model):
    for mode, n_action, n_feat in [("cpg", 8, 18), ("joints", 48, 0), ("vnc", 6, 60)]:
        task = walk.WalkTask(model, walk.default_config(action_mode=mode))
        _, _, info = task.reset(jax.random.PRNGKey(0))
        obs = task.observe(_readout(np.random.default_rng(0)), info)
        spec = task.observation_spec
        assert list(obs) == list(spec)
        assert {k: v.shape for k, v in obs.items()} == {k: v.shape for k, v in spec.items()}
        assert obs["prev_action"].shape == (n_action,)
        assert ("controller" in obs) == (n_feat > 0)
        if n_feat:
            assert obs["controller"].shape == (n_feat,)
        assert task.observation_size == 84 + 9 + 12 + 4 + n_action + n_feat
        assert task.action_size == n_action


def test_joint_mode_maps_actions_onto_control_ranges(model):
    task = walk.WalkTask(model, walk.default_config(action_mode="joints"))
    lay = body.layout(model)
    low, high = model.actuator_ctrlrange[lay.leg_actuator_ids].T
    _, _, info = task.reset(jax.random.PRNGKey(0))
    for a, expected in [(-1.0, low), (1.0, high)]:
        action = jnp.concatenate([jnp.full(42, a), jnp.full(6, 0.5)])
        ctrl, adhesion, _ = task.controls(action, info)
        assert ctrl.shape == (task.n_inner, constants.N_LEG_JOINTS)
        np.testing.assert_allclose(ctrl[0], expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(adhesion, 0.5)
