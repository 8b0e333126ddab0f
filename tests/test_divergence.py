"""A diverged simulation ends the episode cleanly on every backend (docs/reliability.md).

Forced divergence: NaN written into ``qpos`` or a scripted state with a huge ``qvel``. C MuJoCo
flags such a state (``mjWARN_BADQPOS``/``BADQVEL``/``BADQACC``) and resets the data, which
would teleport the fly silently; MJX carries NaN on. Either way the step must come back with
``terminated`` (Brax: ``done``), the ``diverged`` flag, a finite observation and reward 0.
"""

from __future__ import annotations

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flyenvs  # noqa: F401
from flyenvs.brax.env import FlyBraxEnv
from flyenvs.tasks import base, walk

#: A joint velocity past MuJoCo's bad-value threshold (``mjMAXVAL`` = 1e10).
HUGE_QVEL = 1e11


def _finite(obs: dict) -> bool:
    return all(np.all(np.isfinite(np.asarray(v))) for v in obs.values())


def _in_space(env: gym.Env, obs: dict) -> bool:
    return all(env.observation_space[k].contains(np.asarray(v, np.float32)) for k, v in obs.items())


def _nan_qpos(data) -> None:
    data.qpos[0] = np.nan


def _huge_qvel(data) -> None:
    data.qvel[:] = HUGE_QVEL


@pytest.mark.parametrize("task", ["Walk", "VisualTaxis"])
@pytest.mark.parametrize("force", [_nan_qpos, _huge_qvel], ids=["nan_qpos", "huge_qvel"])
def test_gymnasium_divergence_terminates_with_finite_output(task, force):
    env = gym.make(f"flyenvs/{task}-v1", episode_length=10).unwrapped
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, np.float32)
    obs, reward, terminated, _, info = env.step(action)
    assert info["diverged"] is False and not terminated
    force(env._physics)  # the scripted bad state
    obs, reward, terminated, _, info = env.step(action)
    assert terminated and info["diverged"] is True
    assert reward == 0.0 and _finite(obs) and _in_space(env, obs)
    assert all(np.isfinite(v) for v in info.values() if isinstance(v, float))
    obs, _ = env.reset(seed=1)  # a reset starts a clean episode
    _, _, terminated, _, info = env.step(action)
    assert info["diverged"] is False
    env.close()


@pytest.mark.parametrize("method", ["rollout", "threads"])
def test_batched_engine_divergence_is_per_env(method):
    env = FlyBraxEnv("Walk", backend="mujoco", n_threads=1, episode_length=10)
    if method == "threads":
        env.sim.engine.close()  # the engine falls back to its threads method
    assert env.sim.engine.method == method
    states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), 2))
    qvel = jnp.zeros((2, env.task.nv)).at[1].set(HUGE_QVEL)  # env 1 only
    qpos = jnp.broadcast_to(env.task._init_qpos, (2, env.task.nq))
    physics = jax.vmap(env.sim.init)(qpos, qvel)
    states = states.replace(pipeline_state=physics)
    out = jax.jit(jax.vmap(env.step))(states, jnp.zeros((2, env.action_size)))
    np.testing.assert_array_equal(out.metrics["diverged"], [0.0, 1.0])
    np.testing.assert_array_equal(out.done, [0.0, 1.0])
    assert float(out.reward[1]) == 0.0 and _finite(out.obs)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in out.metrics.values())


@pytest.mark.slow
def test_mjx_divergence_terminates_with_finite_output():
    """MJX (one env, one jitted step): NaN in ``qpos`` propagates; the step ends finite."""
    env = FlyBraxEnv("Walk", backend="mjx", episode_length=10)
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    step = jax.jit(env.step)
    action = jnp.zeros(env.action_size)
    ok = step(state, action)
    assert float(ok.metrics["diverged"]) == 0.0 and float(ok.done) == 0.0
    physics = state.pipeline_state
    bad = step(state.replace(pipeline_state=physics.replace(qpos=physics.qpos.at[0].set(jnp.nan))),
               action)  # fmt: skip
    assert float(bad.metrics["diverged"]) == 1.0 and float(bad.done) == 1.0
    assert float(bad.reward) == 0.0 and _finite(bad.obs)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in bad.metrics.values())


def test_guard_is_the_identity_on_a_normal_step_and_flags_instability():
    """:func:`base.guard_transition` on task outputs (no physics): values unchanged when the
    readout is healthy; ``unstable`` alone (C MuJoCo's reset, finite fields) ends the step."""
    from flyenvs import body

    task = walk.WalkTask(body.load("train"), walk.default_config())
    qpos, qvel, info = task.reset(jax.random.PRNGKey(0))
    from flyenvs.sim.mujoco_backend import MujocoBackend

    cpu = MujocoBackend(task.model)
    readout = cpu.readout(cpu.init(np.asarray(qpos), np.asarray(qvel)))
    action = jnp.zeros(task.action_size)
    out = task.transition(readout, info, action)
    guarded = base.guard_transition(task, readout, out)
    assert not bool(guarded["diverged"])
    for k in out["obs"]:
        np.testing.assert_array_equal(guarded["obs"][k], out["obs"][k])
    assert float(guarded["reward"]) == float(out["reward"])
    unstable = readout._replace(unstable=np.float64(1.0))
    guarded = base.guard_transition(task, unstable, task.transition(unstable, info, action))
    assert bool(guarded["diverged"]) and bool(guarded["terminated"])
    assert float(guarded["reward"]) == 0.0
