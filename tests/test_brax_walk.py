"""Brax front end of Walk on MJX: jit/vmap, no NaN, auto-reset, parity with the Gymnasium side.

The MJX graphs take about a minute to compile on CPU; one module-scoped fixture compiles the
batched reset/step once for the fast tests. Parity and the unbatched graphs are slow-marked.
"""

from __future__ import annotations

import brax.envs
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flyenvs.brax
from flyenvs.sim.mujoco_backend import MujocoBackend
from flyenvs.tasks import driver, registry
from flyenvs.tasks.base import flatten_observation

N_ENVS = 4


@pytest.fixture(scope="module")
def env():
    return flyenvs.brax.make("Walk", episode_length=50)


@pytest.fixture(scope="module")
def batched(env):
    """(jit(vmap(reset)), jit(vmap(step))) of the env, compiled once."""
    return jax.jit(jax.vmap(env.reset)), jax.jit(jax.vmap(env.step))


def test_make_and_registry(env):
    assert isinstance(env, brax.envs.Env)
    assert env.backend == "mjx" and env.action_size == 8
    spec = env.task.observation_spec
    assert env.observation_size == {k: v.shape for k, v in spec.items()}
    assert env.observation_size["joint_pos_rad"] == (42,)
    wrapped = flyenvs.brax.wrap_for_training(env, 10)
    assert wrapped.observation_size == env.task.observation_size == 135
    other = brax.envs.get_environment("flyenvs_walk", action_mode="joints")
    assert other.action_size == 48


def test_unknown_option_raises():
    with pytest.raises(KeyError, match="valid options"):
        flyenvs.brax.make("Walk", speed=1.0)
    valid = "\\['Optomotor', 'Pursuit', 'VisualTaxis', 'Walk'\\]"
    with pytest.raises(KeyError, match=f"valid: {valid}"):
        flyenvs.brax.make("Run")


def test_training_wrappers_trace_with_flat_observations(env):
    """Brax's EpisodeWrapper scans over the inner step: the flattening wrapper must hand the
    inner envs their dict back (traced only: no MJX compile)."""
    wrapped = flyenvs.brax.wrap_for_training(env, episode_length=5)
    state = jax.eval_shape(wrapped.reset, jax.ShapeDtypeStruct((2, 2), jnp.uint32))
    assert state.obs.shape == (2, env.task.observation_size)
    action = jax.ShapeDtypeStruct((2, env.action_size), jnp.float32)
    assert jax.eval_shape(wrapped.step, state, action).obs.shape == state.obs.shape


def test_wrap_rejects_domain_randomisation(env):
    with pytest.raises(ValueError, match="randomization_fn"):
        flyenvs.brax.wrap_for_training(env, 10, 1, randomization_fn=lambda sys: sys)


def test_jit_vmap_random_rollout_has_no_nan(env, batched):
    reset, step = batched
    state = reset(jax.random.split(jax.random.PRNGKey(0), N_ENVS))
    obs0 = np.asarray(flatten_observation(state.obs, env.task.observation_spec))
    assert obs0.shape == (N_ENVS, env.task.observation_size)
    assert not np.allclose(obs0[0], obs0[1])  # initial states differ across keys
    r = env.config.reward
    low, high = -(r.energy + r.action_rate), r.speed + r.turn + r.upright
    key = jax.random.PRNGKey(1)
    x_mm = []
    for _ in range(100):
        key, sub = jax.random.split(key)
        action = jax.random.uniform(sub, (N_ENVS, env.action_size), minval=-1.0, maxval=1.0)
        state = step(state, action)
        assert all(np.all(np.isfinite(np.asarray(x))) for x in state.obs.values())
        reward = np.asarray(state.reward)
        assert np.all((reward >= low - 1e-5) & (reward <= high + 1e-5))
        x_mm.append(np.asarray(state.metrics["x_mm"]))
    assert set(state.metrics) >= {f"reward/{t}" for t in ("speed", "turn", "upright")}
    assert np.all(np.isfinite(np.asarray(state.pipeline_state.qpos)))
    # modulated tripod gaits still move the fly forward on average over 2 s
    assert float(np.mean(x_mm[-1])) > 2.0


@pytest.mark.slow
def test_unbatched_jit_reset_and_step(env):
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    state = reset(jax.random.PRNGKey(0))
    for _ in range(10):
        state = step(state, jnp.zeros(env.action_size))
    assert all(np.all(np.isfinite(np.asarray(x))) for x in state.obs.values())
    assert float(state.done) == 0.0


@pytest.mark.slow
def test_training_wrapper_resets_the_whole_task_state(env):
    wrapped = flyenvs.brax.wrap_for_training(env, episode_length=3)
    state = jax.jit(wrapped.reset)(jax.random.split(jax.random.PRNGKey(0), 2))
    step = jax.jit(wrapped.step)
    assert state.obs.shape == (2, env.task.observation_size)  # flattened for Brax PPO
    first_command = np.asarray(state.info["task"]["command"])
    for _ in range(3):
        state = step(state, jnp.zeros((2, env.action_size)))
    # the episode hit its length: a fresh episode started with a new command and step 0
    assert np.all(np.asarray(state.info["task"]["step"]) == 0)
    assert not np.allclose(np.asarray(state.info["task"]["command"]), first_command)


@pytest.mark.slow
def test_parity_with_c_mujoco_front_end(env):
    """Same task functions, same initial state: MJX and C MuJoCo agree over 5 control steps."""
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    task = registry.make_task("Walk", episode_length=50)
    spec = task.observation_spec
    stepper = driver.NumpyStepper(task, MujocoBackend(task.model))
    key = jax.random.PRNGKey(4)
    state = reset(key)
    physics, obs_c, info_c = stepper.reset(key)
    for key in spec:
        np.testing.assert_allclose(state.obs[key], obs_c[key], rtol=1e-4, atol=1e-3)
    for _ in range(5):
        state = step(state, jnp.zeros(8))
        physics, out = stepper.step(physics, info_c, np.zeros(8, np.float32))
        info_c = out["info"]
    np.testing.assert_allclose(
        np.asarray(state.metrics["x_mm"]), np.asarray(out["metrics"]["x_mm"]), atol=0.05
    )
    np.testing.assert_allclose(
        state.obs["joint_pos_rad"], out["obs"]["joint_pos_rad"], atol=0.05
    )  # joint angles (rad)
