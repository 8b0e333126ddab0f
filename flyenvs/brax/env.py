"""Brax adapter: a flyenvs task as a ``brax.envs.Env`` (pure, jit/vmap-able) on one of two physics
backends (``backend=``):

* ``"mjx"`` (default): MJX in JAX; ``state.pipeline_state`` is the ``mjx.Data``.
* ``"mujoco"``: the batched C MuJoCo engine on host threads (``n_threads``), called through
  ``jax.pure_callback`` (:mod:`flyenvs.sim.host_callback`: one host call per batch and control
  step under ``jit(vmap(step))``); ``state.pipeline_state`` is a ``HostState`` (the float64
  MuJoCo state as uint32 bits plus its readout). The task's functions (controls, observation,
  reward, a visual task's arena and eyes) stay in JAX; only the physics runs on the host. Every
  task, Walk and the visual tasks; train body only (native adhesion actuators added to the
  task's own MJCF, ``task.build_mjcf``: :mod:`flyenvs.sim.native_adhesion`).

With either backend, ``state.obs`` is the task's observation dict
(the same entries and shapes as the Gymnasium ``Dict`` space); the task's own state (command,
controller state, previous action, RNG, ...) lives in ``state.info["task"]``;
``state.metrics`` holds ``reward/<term>``, the task's kinematic metrics and ``diverged`` (1.0
where the physics went non-finite or C MuJoCo reset a bad state: the step is ``done`` with a
finite observation and reward 0; docs/reliability.md). ``done`` is termination only:
truncation at ``episode_length`` is Brax's ``EpisodeWrapper``'s job (pass
``episode_length=env.episode_length`` to ``ppo.train``).

Use :func:`wrap_for_training` as ``ppo.train``'s ``wrap_env_fn``: unlike Brax's default
``AutoResetWrapper`` (which restores only ``pipeline_state`` and ``obs``), it resets the whole
state, task info included, with a fresh random episode, and it flattens the observation dict
into one vector (:func:`flyenvs.tasks.base.flatten_observation`, in the order of
``env.task.observation_spec``) for Brax's MLP networks.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from brax.envs import training as brax_training
from brax.envs.base import Env, State, Wrapper

from flyenvs.tasks import base, driver, registry

#: Physics backends of :class:`FlyBraxEnv`.
BACKENDS: tuple[str, ...] = ("mjx", "mujoco")


class FlyBraxEnv(Env):
    """A registered flyenvs task on MJX or on the batched C MuJoCo engine.

    Args:
        task_name: a task of :data:`flyenvs.tasks.registry.TASKS`.
        backend: ``"mjx"`` or ``"mujoco"`` (see the module docstring).
        n_threads: ``"mujoco"`` only: host threads per batch (default: the CPU count); results
            do not depend on it.
        **config: task config overrides (dotted keys); unknown keys raise ``KeyError``.
    """

    def __init__(
        self, task_name: str = "Walk", backend: str = "mjx", n_threads: int | None = None,
        **config: Any,
    ) -> None:  # fmt: skip
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if n_threads is not None and backend != "mujoco":
            raise ValueError("n_threads applies to backend='mujoco' only")
        self.task = registry.make_task(task_name, **config)
        self.config = self.task.config
        self._backend = backend
        if backend == "mjx":
            from flyenvs.sim.mjx_backend import MjxBackend

            self.sim = MjxBackend(self.task.model)
        else:
            from flyenvs.sim.host_callback import HostBackend

            self.sim = HostBackend(self.task.model, n_threads, build_mjcf=self.task.build_mjcf)
        self.controller_params = self.task.default_params()

    # ----------------------------------------------------------------------------- brax API
    @property
    def observation_size(self) -> dict[str, tuple[int, ...]]:
        """{entry: shape} of the observation dict."""
        return {k: tuple(v.shape) for k, v in self.task.observation_spec.items()}

    @property
    def action_size(self) -> int:
        return self.task.action_size

    @property
    def backend(self) -> str:
        return self._backend

    @property
    def episode_length(self) -> int:
        """Control steps per episode (pass to ``ppo.train(episode_length=...)``)."""
        return int(self.config.episode_length)

    @property
    def dt(self) -> float:
        """Control period (s)."""
        return float(self.config.control_dt_s)

    def reset(self, rng: jax.Array, params: Any = None) -> State:
        """Initial state of an episode drawn from ``rng`` (a ``jax.random.PRNGKey``)."""
        params = self.controller_params if params is None else params
        physics, obs, info = driver.reset_jax(self.task, self.sim, rng, params)
        return State(
            pipeline_state=physics,
            obs=obs,
            reward=jnp.zeros((), jnp.float32),
            done=jnp.zeros((), jnp.float32),
            metrics={**self.task.zero_metrics(), "diverged": jnp.zeros((), jnp.float32)},
            info={"task": info},
        )

    def step(self, state: State, action: jax.Array, params: Any = None) -> State:
        """One control step; ``params`` (controller parameters) default to the task's."""
        params = self.controller_params if params is None else params
        physics, out = driver.step_jax(
            self.task, self.sim, state.pipeline_state, state.info["task"], action, params
        )
        return state.replace(
            pipeline_state=physics,
            obs=out["obs"],
            reward=out["reward"].astype(jnp.float32),
            done=out["terminated"].astype(jnp.float32),
            metrics={
                **state.metrics,
                **out["metrics"],
                "diverged": out["diverged"].astype(jnp.float32),
            },
            info={**state.info, "task": out["info"]},
        )


class FlattenObservationWrapper(Wrapper):
    """The observation dict as one float32 vector [..., n] in the task's entry order."""

    def __init__(self, env: Env) -> None:
        super().__init__(env)
        self._spec = env.unwrapped.task.observation_spec

    @property
    def observation_size(self) -> int:
        return base.flat_size(self._spec)

    def reset(self, rng: jax.Array) -> State:
        state = self.env.reset(rng)
        return state.replace(obs=base.flatten_observation(state.obs, self._spec))

    def step(self, state: State, action: jax.Array) -> State:
        # the inner envs carry the dict (Brax's EpisodeWrapper scans over them: same pytree in
        # and out), so the vector is split back first
        state = self.env.step(state.replace(obs=self._unflatten(state.obs)), action)
        return state.replace(obs=base.flatten_observation(state.obs, self._spec))

    def _unflatten(self, flat: jax.Array) -> dict[str, jax.Array]:
        out, start = {}, 0
        for name, leaf in self._spec.items():
            size = base.flat_size({name: leaf})
            piece = flat[..., start : start + size]
            out[name] = piece.reshape(*flat.shape[:-1], *leaf.shape).astype(leaf.dtype)
            start += size
        return out


class FreshAutoResetWrapper(Wrapper):
    """Auto-reset that starts each new episode from a fresh random reset (task info included).

    Wraps a batched env (after ``VmapWrapper`` and ``EpisodeWrapper``). Each step computes a reset
    from the task's RNG and selects it where the episode ended, so commands and initial poses
    keep varying over training (Brax's ``AutoResetWrapper`` would replay one first state).
    """

    def reset(self, rng: jax.Array) -> State:
        return self.env.reset(rng)

    def step(self, state: State, action: jax.Array) -> State:
        if "steps" in state.info:
            steps = jnp.where(state.done, jnp.zeros_like(state.info["steps"]), state.info["steps"])
            state.info.update(steps=steps)
        state = state.replace(done=jnp.zeros_like(state.done))
        state = self.env.step(state, action)
        keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(state.info["task"]["rng"])
        fresh = self.env.reset(keys)

        def where_done(new: jax.Array, old: jax.Array) -> jax.Array:
            done = jnp.reshape(state.done, state.done.shape + (1,) * (old.ndim - state.done.ndim))
            return jnp.where(done > 0, new, old)

        pipeline_state = jax.tree.map(where_done, fresh.pipeline_state, state.pipeline_state)
        obs = jax.tree.map(where_done, fresh.obs, state.obs)
        task_info = jax.tree.map(where_done, fresh.info["task"], state.info["task"])
        return state.replace(
            pipeline_state=pipeline_state, obs=obs, info={**state.info, "task": task_info}
        )


def wrap_for_training(
    env: Env, episode_length: int = 1000, action_repeat: int = 1, randomization_fn: Any = None
) -> Wrapper:
    """``VmapWrapper`` -> ``EpisodeWrapper`` -> :class:`FreshAutoResetWrapper` ->
    :class:`FlattenObservationWrapper` (the ``wrap_env_fn`` of
    ``brax.training.agents.ppo.train``)."""
    if randomization_fn is not None:
        raise ValueError("flyenvs environments do not support randomization_fn")
    env = brax_training.VmapWrapper(env)
    env = brax_training.EpisodeWrapper(env, episode_length, action_repeat)
    return FlattenObservationWrapper(FreshAutoResetWrapper(env))
