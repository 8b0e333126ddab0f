"""Visual tasks on MJX (Brax front end): jit/vmap, no NaN, rewards in range, parity with C MuJoCo.

Each env's batched graphs take one to two minutes to compile on this CPU (cached on disk by
``tests/conftest.py`` afterwards). VisualTaxis runs in the fast set; Optomotor and Pursuit, the
unbatched graphs and parity are slow-marked.
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

N_ENVS = 2


def _batched(name: str):
    env = flyenvs.brax.make(name, episode_length=30)
    return env, jax.jit(jax.vmap(env.reset)), jax.jit(jax.vmap(env.step))


@pytest.fixture(scope="module")
def taxis():
    return _batched("VisualTaxis")


def _random_rollout(env, reset, step, n_steps: int, low: float, high: float):
    state = reset(jax.random.split(jax.random.PRNGKey(0), N_ENVS))
    vision = np.asarray(state.obs["vision"])
    assert vision.shape == (N_ENVS, 2, 721)
    assert vision.min() >= 0.0 and vision.max() <= 1.0
    assert not np.allclose(vision[0], vision[1])  # arenas differ across keys
    key = jax.random.PRNGKey(1)
    for _ in range(n_steps):
        key, sub = jax.random.split(key)
        action = jax.random.uniform(sub, (N_ENVS, env.action_size), minval=-1.0, maxval=1.0)
        state = step(state, action)
        assert all(np.all(np.isfinite(np.asarray(x))) for x in state.obs.values())
        reward = np.asarray(state.reward)
        assert np.all((reward >= low - 1e-5) & (reward <= high + 1e-5)), reward
    assert set(state.metrics) == set(env.task.zero_metrics()) | {"diverged"}
    assert np.all(np.isfinite(np.asarray(state.pipeline_state.qpos)))
    return state


def test_taxis_jit_vmap_rollout_has_no_nan(taxis):
    env, reset, step = taxis
    assert isinstance(env, brax.envs.Env) and env.action_size == 8
    r = env.config.reward
    state = _random_rollout(env, reset, step, 20, -(1 + r.energy + r.action_rate), 1 + r.success)
    assert np.all(np.asarray(state.metrics["distance_mm"]) > 0)


def test_brax_registry_names():
    env = brax.envs.get_environment("flyenvs_visualtaxis", action_mode="joints")
    assert env.action_size == 48 and env.task.config.action_mode == "joints"
    for name in ("flyenvs_optomotor", "flyenvs_pursuit"):
        assert brax.envs.get_environment(name).observation_size["vision"] == (2, 721)
    with pytest.raises(KeyError, match="valid"):
        flyenvs.brax.make("VisualTaxis", target={"bearing": 1.0})


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Optomotor", "Pursuit"])
def test_jit_vmap_rollout_has_no_nan(name):
    env, reset, step = _batched(name)
    r = env.config.reward
    main = r.turn if name == "Optomotor" else r.follow
    _random_rollout(env, reset, step, 20, -(r.energy + r.action_rate), main)


@pytest.mark.slow
def test_taxis_parity_with_c_mujoco():
    """Same task, same key: MJX and C MuJoCo see the same thing and move alike."""
    env = flyenvs.brax.make("VisualTaxis", episode_length=30)
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    task = registry.make_task("VisualTaxis", episode_length=30)
    stepper = driver.NumpyStepper(task, MujocoBackend(task.model))
    key = jax.random.PRNGKey(3)
    state = reset(key)
    physics, obs_c, info_c = stepper.reset(key)
    for key in task.observation_spec:
        np.testing.assert_allclose(state.obs[key], obs_c[key], rtol=1e-4, atol=1e-3)
    for _ in range(5):
        state = step(state, jnp.zeros(8))
        physics, out = stepper.step(physics, info_c, np.zeros(8, np.float32))
        info_c = out["info"]
    np.testing.assert_allclose(
        np.asarray(state.metrics["distance_mm"]), float(out["metrics"]["distance_mm"]), atol=0.05
    )
    vision_mjx = np.asarray(state.obs["vision"])
    vision_c = np.asarray(out["obs"]["vision"])
    assert np.mean(np.abs(vision_mjx - vision_c)) < 0.02
