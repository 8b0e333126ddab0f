"""The generic control step shared by the front ends, for any task of the registry.

:func:`step_jax` runs one control step on MJX or on the batched C MuJoCo engine behind
``jax.pure_callback`` (:class:`flyenvs.sim.host_callback.HostBackend`, which takes the whole
schedule at once: ``step_schedule``); pure, jit/vmap-able. :class:`NumpyStepper` runs it on
C MuJoCo (a Python loop over the controller's schedule). The task contract is
:class:`flyenvs.tasks.base.Task`; tasks are made by :func:`flyenvs.tasks.registry.make_task`.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from flyenvs.tasks.base import Task, guard_transition


def reset_jax(task: Task, backend: Any, rng: jax.Array, params: Any = None):
    """(physics state, obs, info) at the start of an episode (pure)."""
    qpos, qvel, info = task.reset(rng, params)
    physics = backend.init(qpos, qvel)
    return physics, task.observe(backend.readout(physics), info), info


def clip_action(task: Task, action: Any) -> jax.Array:
    """``action`` as float32 clipped to the task's action bounds: the one rule every backend
    applies before the controller and the reward see it (so ``prev_action`` and the
    ``action_rate`` term agree between the Gymnasium and Brax paths for any action).

    Raises:
        ValueError: the action's shape is not the action space's (checked when traced, so a
            ``[1]`` or scalar action is not silently broadcast to every entry).
    """
    ctrl = task.controller
    action = jnp.asarray(action, jnp.float32)
    if action.shape != ctrl.action_low.shape:
        raise ValueError(
            f"action must have shape {ctrl.action_low.shape} (one env's action; vmap over a "
            f"batch), got {action.shape}"
        )
    return jnp.clip(action, ctrl.action_low, ctrl.action_high)


def step_jax(task: Task, backend: Any, physics: Any, info: dict, action: jax.Array, params=None):
    """(physics state, transition dict) after one control step (pure; ``lax.scan`` inside)."""
    action = clip_action(task, action)
    ctrl, adhesion, info = task.controls(action, info, params)
    if hasattr(backend, "step_schedule"):  # a host engine: the whole schedule in one call
        physics = backend.step_schedule(physics, ctrl, adhesion, task.n_substeps)
        return physics, guarded_transition(task, backend.readout(physics), info, action)

    def inner(state: Any, controls: tuple[jax.Array, jax.Array]):
        return backend.step(state, controls[0], controls[1], task.n_substeps), None

    physics, _ = jax.lax.scan(inner, physics, (ctrl, adhesion))
    return physics, guarded_transition(task, backend.readout(physics), info, action)


def guarded_transition(task: Task, readout: Any, info: dict, action: jax.Array) -> dict:
    """``task.transition`` through :func:`flyenvs.tasks.base.guard_transition`: a diverged step
    ends the episode (``terminated``, ``diverged``) with finite observation, reward, metrics."""
    # the barrier keeps the guard out of the transition's fusions; a normal step's values then
    # match the unguarded driver's up to float32 rounding of the reward sum (in a check on the
    # host engine, 1 reward in 24 moved by 1 ulp; obs and metrics were bit-identical)
    out = jax.lax.optimization_barrier(task.transition(readout, info, action))
    return guard_transition(task, readout, out)


class NumpyStepper:
    """One control step of ``task`` on a numpy backend (C MuJoCo), task functions jitted once."""

    def __init__(self, task: Task, backend: Any) -> None:
        self.task = task
        self.backend = backend
        self.reset_fn = jax.jit(task.reset)
        self.controls_fn = jax.jit(task.controls)
        self.clip_fn = jax.jit(functools.partial(clip_action, task))
        self.observe_fn = jax.jit(task.observe)
        # two programs: the task's transition compiles exactly as without the guard (its
        # float32 sums fused alone), so a normal step's numbers stay bit-identical
        self._transition_fn = jax.jit(task.transition)
        self._guard_fn = jax.jit(functools.partial(guard_transition, task))

    def transition_fn(self, readout: Any, info: dict, action: Any) -> dict:
        """:func:`guarded_transition` as two jitted programs (the transition, then the guard)."""
        return self._guard_fn(readout, self._transition_fn(readout, info, action))

    def reset(self, rng: jax.Array, params: Any = None):
        """(physics state, obs, info) at the start of an episode."""
        qpos, qvel, info = self.reset_fn(rng, params)
        physics = self.backend.init(jax.device_get(qpos), jax.device_get(qvel))
        return physics, self.observe_fn(self.backend.readout(physics), info), info

    def step(self, physics: Any, info: dict, action: Any, params: Any = None):
        """(physics state, transition dict) after one control step."""
        action = self.clip_fn(action)
        ctrl, adhesion, info = self.controls_fn(action, info, params)
        ctrl, adhesion = jax.device_get((ctrl, adhesion))
        for k in range(ctrl.shape[0]):
            physics = self.backend.step(physics, ctrl[k], adhesion[k], self.task.n_substeps)
        return physics, self.transition_fn(self.backend.readout(physics), info, action)
