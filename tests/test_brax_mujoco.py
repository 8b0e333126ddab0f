"""Brax front end on the batched C MuJoCo engine (``backend="mujoco"``): jit/vmap, training
wrappers, parity with the Gymnasium path, thread-count independence, bad inputs.

No MJX here: the graphs compile in seconds (the physics is a host callback)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils import seeding

import flyenvs.brax
from flyenvs.gym.env import FlyEnv

N_ENVS = 3


@pytest.fixture(scope="module")
def env():
    return flyenvs.brax.make("Walk", backend="mujoco", n_threads=2, episode_length=50)


@pytest.fixture(scope="module")
def batched(env):
    return jax.jit(jax.vmap(env.reset)), jax.jit(jax.vmap(env.step))


def _actions(env, n_steps: int, seed: int = 1, bound: float = 1.0) -> jax.Array:
    key = jax.random.PRNGKey(seed)
    shape = (n_steps, N_ENVS, env.action_size)
    return jax.random.uniform(key, shape, minval=-bound, maxval=bound)


def test_make_options(env):
    assert env.backend == "mujoco" and env.action_size == 8
    with pytest.raises(ValueError, match="backend must be one of"):
        flyenvs.brax.make("Walk", backend="warp")
    with pytest.raises(ValueError, match="n_threads"):
        flyenvs.brax.make("Walk", n_threads=2)


def test_parity_with_the_gymnasium_path(env, batched):
    """Same seed and actions: the batched C engine and ``FlyEnv`` (C MuJoCo, the adhesion rule)
    give the same observations and rewards (float64 physics noise only), also for actions
    outside the action space (both clip them before the controller and the reward see them)."""
    reset, step = batched
    seed = 7
    gym_env = FlyEnv("Walk", episode_length=50)
    obs, _ = gym_env.reset(seed=seed)
    key = jax.random.PRNGKey(int(seeding.np_random(seed)[0].integers(0, 2**31 - 1)))
    keys = jnp.stack([key, *jax.random.split(jax.random.PRNGKey(0), N_ENVS - 1)])
    state = reset(keys)
    for name in obs:
        np.testing.assert_allclose(state.obs[name][0], obs[name], rtol=1e-6, atol=1e-6)
    for action in _actions(env, 6, bound=1.5):
        obs, reward, terminated, _, info = gym_env.step(np.asarray(action[0]))
        state = step(state, action)
        for name in obs:
            np.testing.assert_allclose(state.obs[name][0], obs[name], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(float(state.reward[0]), reward, rtol=1e-6, atol=1e-6)
        assert bool(state.done[0]) == terminated
    qpos = env.sim.float64_state(state.pipeline_state)[0, 1 : 1 + env.task.nq]
    np.testing.assert_allclose(qpos, gym_env._physics.qpos, rtol=0, atol=1e-10)


def test_out_of_range_actions_are_clipped_alike_on_both_paths():
    """The joints mode's adhesion space is [0, 1] while policies emit [-1, 1]: the Brax path
    clips to the action space as the Gymnasium path does, so ``prev_action`` (observed) and the
    ``action_rate`` reward agree (they differed before, breaking Gym/Brax return parity)."""
    env = flyenvs.brax.make("Walk", backend="mujoco", action_mode="joints", episode_length=50)
    gym_env = FlyEnv("Walk", action_mode="joints", episode_length=50)
    obs, _ = gym_env.reset(seed=3)
    key = jax.random.PRNGKey(int(seeding.np_random(3)[0].integers(0, 2**31 - 1)))
    state = jax.jit(env.reset)(key)
    step = jax.jit(env.step)
    action = np.full(env.action_size, -0.5, np.float32)  # adhesion entries below their 0 bound
    for _ in range(2):
        obs, reward, *_ = gym_env.step(action)
        state = step(state, jnp.asarray(action))
        np.testing.assert_allclose(state.obs["prev_action"], obs["prev_action"], atol=1e-6)
        np.testing.assert_allclose(float(state.reward), reward, rtol=1e-5, atol=1e-6)
    assert float(state.obs["prev_action"][-1]) == 0.0


def test_jit_vmap_rollout_is_finite_and_thread_independent(env, batched):
    reset, step = batched
    one = flyenvs.brax.make("Walk", backend="mujoco", n_threads=1, episode_length=50)
    reset1, step1 = jax.jit(jax.vmap(one.reset)), jax.jit(jax.vmap(one.step))
    keys = jax.random.split(jax.random.PRNGKey(3), N_ENVS)
    a, b = reset(keys), reset1(keys)
    for action in _actions(env, 4, seed=2):
        a, b = step(a, action), step1(b, action)
    np.testing.assert_array_equal(a.pipeline_state.bits, b.pipeline_state.bits)
    for name in a.obs:
        assert np.all(np.isfinite(a.obs[name])), name
        np.testing.assert_array_equal(a.obs[name], b.obs[name])
    assert a.obs["joint_pos_rad"].shape == (N_ENVS, 42)


def test_training_wrappers_reset_on_the_host(env):
    wrapped = flyenvs.brax.wrap_for_training(env, episode_length=3)
    reset, step = jax.jit(wrapped.reset), jax.jit(wrapped.step)
    state = reset(jax.random.split(jax.random.PRNGKey(0), 2))
    first = np.asarray(state.pipeline_state.bits).copy()
    for _ in range(3):
        state = step(state, jnp.zeros((2, env.action_size)))
    # the episodes hit their length: fresh episodes started (step 0, a new initial state)
    assert np.all(np.asarray(state.info["task"]["step"]) == 0)
    assert not np.array_equal(np.asarray(state.pipeline_state.bits), first)
    assert np.all(np.isfinite(state.obs))


def test_nan_action_raises(env, batched):
    reset, step = batched
    state = reset(jax.random.split(jax.random.PRNGKey(0), N_ENVS))
    action = jnp.zeros((N_ENVS, env.action_size)).at[1, 2].set(jnp.nan)
    with pytest.raises(Exception, match="NaN"):
        jax.block_until_ready(step(state, action))
