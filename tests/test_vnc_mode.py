"""The ``"vnc"`` action mode: descending commands -> connectome VNC -> Walk task (issue 6)."""

from __future__ import annotations

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flyenvs  # noqa: F401  (registers the Gymnasium ids)
from flyenvs import body
from flyenvs.body import constants
from flyenvs.connectome.vnc import build
from flyenvs.tasks import walk
from flyenvs.tasks.action_modes.vnc import VNCController, make


@pytest.fixture(scope="module")
def controller() -> VNCController:
    model = body.load("train")
    return make(model, walk.default_config(action_mode="vnc"))


@pytest.fixture(scope="module")
def gym_env():
    env = gymnasium.make("flyenvs/Walk-v1", action_mode="vnc")
    yield env
    env.close()


# ------------------------------------------------------------------------- controller alone
def test_controller_shapes_and_ranges(controller: VNCController) -> None:
    assert controller.action_low.shape == (6,) and controller.action_high.shape == (6,)
    assert controller.command_neurons == tuple(f"DNg100_{leg}" for leg in constants.LEGS)
    assert controller.n_vnc_steps == 2 and controller.vnc_dt_s == pytest.approx(1e-3)
    params = controller.default_params()
    state = controller.init(jax.random.PRNGKey(0), params)
    ctrl, adhesion, state = jax.jit(controller.schedule)(jnp.zeros(6), state, params)
    assert ctrl.shape == (controller.n_inner, constants.N_LEG_JOINTS)
    assert adhesion.shape == (controller.n_inner, constants.N_LEGS)
    low, high = np.asarray(controller._low), np.asarray(controller._high)
    assert np.all(np.asarray(ctrl) >= low - 1e-6) and np.all(np.asarray(ctrl) <= high + 1e-6)
    assert set(np.unique(np.asarray(adhesion))) <= {0.0, 1.0}
    feats = controller.features(state)
    assert feats.shape == (controller.n_features,) == (42 + 18,)
    assert np.all(np.isfinite(np.asarray(feats))) and np.all(np.abs(np.asarray(feats)) <= 1.0)


def test_init_phase_differs_across_seeds(controller: VNCController) -> None:
    params = controller.default_params()
    init = jax.jit(controller.init)
    a, b = init(jax.random.PRNGKey(0), params), init(jax.random.PRNGKey(3), params)
    assert not np.allclose(np.asarray(a.rates_hz), np.asarray(b.rates_hz))
    # after the warm-up the rhythm runs: some leg swings while another stands
    u = np.asarray(controller.features(a))[:42].reshape(6, 7).mean(axis=1)
    assert u.max() - u.min() > 0.3


def test_drive_mapping(controller: VNCController) -> None:
    dn = np.asarray(controller.dn_input(jnp.array([-1.0, 0.0, 1.0, 5.0, -5.0, 0.5])))
    np.testing.assert_allclose(dn, [200.0, 225.0, 250.0, 250.0, 200.0, 237.5])


def test_schedule_vmap_matches_single(controller: VNCController) -> None:
    params = controller.default_params()
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    states = jax.vmap(controller.init, in_axes=(0, None))(keys, params)
    actions = jnp.array([[0.0] * 6, [-1.0] * 3 + [1.0] * 3, [0.5] * 6])
    batched = jax.jit(jax.vmap(controller.schedule, in_axes=(0, 0, None)))
    ctrl_b, adh_b, state_b = batched(actions, states, params)
    for i in range(3):
        state_i = jax.tree.map(lambda x, i=i: x[i], states)
        ctrl, adh, state = controller.schedule(actions[i], state_i, params)
        np.testing.assert_allclose(np.asarray(ctrl_b[i]), np.asarray(ctrl), atol=1e-5)
        np.testing.assert_array_equal(np.asarray(adh_b[i]), np.asarray(adh))
        np.testing.assert_allclose(
            np.asarray(state_b.rates_hz[i]), np.asarray(state.rates_hz), atol=1e-3
        )


def test_gradient_wrt_vnc_params_finite(controller: VNCController) -> None:
    """d(joint targets over 3 control steps) / d(VNC params): finite, non-zero."""

    def loss(params):
        state = controller.init(jax.random.PRNGKey(0), params)
        total = 0.0
        for _ in range(3):
            ctrl, _, state = controller.schedule(jnp.zeros(6), state, params)
            total = total + jnp.sum(jnp.sin(ctrl))
        return total

    grads = jax.jit(jax.grad(loss))(controller.default_params())
    for name, g in grads.items():
        assert np.all(np.isfinite(np.asarray(g))), name
    for name in ("strength", "tau_s", "threshold", "joint_amplitude_rad"):
        assert np.abs(np.asarray(grads[name])).max() > 0, name


def test_bad_inputs(controller: VNCController) -> None:
    params = controller.default_params()
    state = controller.init(jax.random.PRNGKey(0), params)
    with pytest.raises(ValueError, match="vnc action must have shape"):
        controller.schedule(jnp.zeros(5), state, params)
    with pytest.raises(ValueError, match="vnc action must have shape"):
        controller.schedule(jnp.zeros((2, 6)), state, params)
    net = build()
    rng = np.zeros((42, 2), np.float32)
    with pytest.raises(ValueError, match="command_neurons"):
        VNCController(net, rng, 10, 2e-3, command_neurons=("DNg100_XX",))
    with pytest.raises(ValueError, match="joint_range_rad"):
        VNCController(net, np.zeros((6, 2)), 10, 2e-3)
    with pytest.raises(ValueError, match="inner_dt_s"):
        VNCController(net, rng, 10, 0.0)
    with pytest.raises(ValueError, match="adhesion_threshold"):
        VNCController(net, rng, 10, 2e-3, adhesion_threshold=1.5)
    with pytest.raises(ValueError, match="drive_gain"):
        VNCController(net, rng, 10, 2e-3, drive_gain=-1.0)


def test_unknown_mode_lists_available() -> None:
    with pytest.raises(ValueError, match="vnc") as err:
        walk.default_config(action_mode="nope")
    assert "cpg" in str(err.value) and "joints" in str(err.value)


def test_options_come_from_the_task_config() -> None:
    model = body.load("train")
    cfg = walk.default_config(
        action_mode="vnc",
        action__vnc__drive_gain=40.0,
        action__vnc__adhesion_threshold=-0.5,
        action__vnc__warmup_s=0.1,
        action__vnc__command_neurons=["DNg100_LF", "DNg100_RF"],
    )
    ctrl = walk.WalkTask(model, cfg).controller
    assert isinstance(ctrl, VNCController)
    assert ctrl.drive_gain == 40.0 and ctrl.adhesion_threshold == -0.5 and ctrl.warmup_s == 0.1
    assert ctrl.command_neurons == ("DNg100_LF", "DNg100_RF")
    assert ctrl.action_low.shape == (2,)
    with pytest.raises(ValueError, match="drive_gain"):
        walk.WalkTask(model, walk.default_config(action_mode="vnc", action__vnc__drive_gain=-1.0))
    with pytest.raises(ValueError, match="command_neurons"):
        walk.WalkTask(
            model,
            walk.default_config(action_mode="vnc", action__vnc__command_neurons=["DNg999"]),
        )


# ----------------------------------------------------------------------- env, C MuJoCo
def test_check_env(gym_env) -> None:
    from gymnasium.utils.env_checker import check_env

    check_env(gym_env.unwrapped, skip_render_check=True)
    assert gym_env.action_space.shape == (6,)
    assert gym_env.unwrapped.task.observation_size == 2 * 42 + 9 + 12 + 4 + 6 + 60
    assert gym_env.observation_space["controller"].shape == (60,)


def test_env_rejects_wrong_dn_shape(gym_env) -> None:
    gym_env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        gym_env.step(np.zeros(8, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        gym_env.step(np.full(6, np.nan, np.float32))


def _rollout(env, action: np.ndarray, seed: int, duration_s: float) -> tuple[float, float]:
    """(mean forward speed mm/s, mean turn rate rad/s) of the task's filtered metrics."""
    env.reset(seed=seed)
    speeds, turns = [], []
    for _ in range(round(duration_s / 0.02)):
        _, _, terminated, _, info = env.step(action)
        assert not terminated
        speeds.append(info["forward_speed_mm_s"])
        turns.append(info["turn_rate_rad_s"])
    return float(np.mean(speeds)), float(np.mean(turns))


def test_constant_dng100_drive_steps_forward(gym_env) -> None:
    """Constant DNg100 drive (225 on all legs): the fly walks forward (measured ~3.5 mm/s)."""
    speed, turn = _rollout(gym_env, np.zeros(6, np.float32), seed=0, duration_s=1.0)
    assert speed > 1.5, speed
    assert abs(turn) < 1.0, turn


def test_left_right_difference_turns(gym_env) -> None:
    """Weaker drive on the left (200 vs 250) turns left (+), on the right turns right (-)."""
    left_weak = np.array([-1.0] * 3 + [1.0] * 3, np.float32)
    _, turn_left = _rollout(gym_env, left_weak, seed=0, duration_s=2.0)
    _, turn_right = _rollout(gym_env, -left_weak, seed=0, duration_s=2.0)
    assert turn_left > 0.1, turn_left
    assert turn_right < 0.0, turn_right
    assert turn_left - turn_right > 0.3


# --------------------------------------------------------------------------- env, MJX
@pytest.mark.slow
def test_mjx_constant_drive_steps_forward() -> None:
    import flyenvs.brax

    env = flyenvs.brax.make("Walk", action_mode="vnc")
    params = env.controller_params

    def rollout(rng, params):
        state = env.reset(rng, params)

        def body(s, _):
            s = env.step(s, jnp.zeros(6), params)
            return s, (s.metrics["forward_speed_mm_s"], s.done)

        return jax.lax.scan(body, state, None, length=50)[1]

    speeds, done = jax.jit(rollout)(jax.random.PRNGKey(0), params)
    assert not np.any(np.asarray(done))
    assert float(np.mean(np.asarray(speeds))) > 1.5


@pytest.mark.slow
def test_quick_ppo_run_in_vnc_mode_raises_reward(tmp_path) -> None:
    """PPO on Walk with the policy driving the VNC, quick preset on the batched C engine
    (measured 54.55 -> 70.96 over 128k steps with Brax's clip 0.3; passes with the preset's
    clip 0.2 and gradient norm 0.5 too: 415 s on 2 shared cores, 2026-11-30)."""
    from agents import ppo

    cfg = ppo.resolve_preset("quick", env={"action_mode": "vnc"})
    summary = ppo.train(tmp_path / "run", cfg)
    rewards = [row["eval/episode_reward"] for row in summary["evals"]]
    assert len(rewards) >= 3
    assert rewards[-1] >= 1.10 * rewards[0], rewards
