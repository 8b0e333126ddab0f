"""Task registry and the generic control step shared by the front ends.

A task is an object with ``config``, ``action_size``, ``observation_size``, ``n_inner``,
``n_substeps`` and the pure functions ``default_params()``, ``reset(rng, params)``,
``controls(action, info, params)``, ``observe(readout, info)``, ``transition(readout, info,
action)`` and ``zero_metrics()`` (see :class:`flyenvs.tasks.walk.WalkTask`). This module runs
one control step of any such task on any backend: :func:`step_jax` for MJX (pure, jit/vmap-able),
:func:`step_numpy` for C MuJoCo (a Python loop over the controller's schedule).

A new task touches ``flyenvs/tasks/`` and adds one line to :data:`TASKS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from flyenvs import body
from flyenvs.tasks import visual_optomotor, visual_pursuit, visual_taxis, walk

#: name -> (default_config(**overrides), task class taking (model, config)).
TASKS: dict[str, tuple[Callable[..., Any], type]] = {
    "Walk": (walk.default_config, walk.WalkTask),
    "VisualTaxis": (visual_taxis.default_config, visual_taxis.TaxisTask),
    "Optomotor": (visual_optomotor.default_config, visual_optomotor.OptomotorTask),
    "Pursuit": (visual_pursuit.default_config, visual_pursuit.PursuitTask),
}


def make_task(name: str, **overrides: Any) -> Any:
    """The task ``name`` on its fly model, config ``default_config(**overrides)``.

    Raises:
        KeyError: unknown task name or config option (the message lists the valid ones).
    """
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; valid: {sorted(TASKS)}")
    default_config, task_cls = TASKS[name]
    config = default_config(**overrides)
    return task_cls(body.load(config.body_variant), config)


def reset_jax(task: Any, backend: Any, rng: jax.Array, params: Any = None):
    """(physics state, obs, info) at the start of an episode (pure)."""
    qpos, qvel, info = task.reset(rng, params)
    physics = backend.init(qpos, qvel)
    return physics, task.observe(backend.readout(physics), info), info


def step_jax(task: Any, backend: Any, physics: Any, info: dict, action: jax.Array, params=None):
    """(physics state, transition dict) after one control step (pure; ``lax.scan`` inside)."""
    ctrl, adhesion, info = task.controls(action, info, params)

    def inner(state: Any, controls: tuple[jax.Array, jax.Array]):
        return backend.step(state, controls[0], controls[1], task.n_substeps), None

    physics, _ = jax.lax.scan(inner, physics, (ctrl, adhesion))
    return physics, task.transition(backend.readout(physics), info, action)


class NumpyStepper:
    """One control step of ``task`` on a numpy backend (C MuJoCo), task functions jitted once."""

    def __init__(self, task: Any, backend: Any) -> None:
        self.task = task
        self.backend = backend
        self.reset_fn = jax.jit(task.reset)
        self.controls_fn = jax.jit(task.controls)
        self.observe_fn = jax.jit(task.observe)
        self.transition_fn = jax.jit(task.transition)

    def reset(self, rng: jax.Array, params: Any = None):
        """(physics state, obs, info) at the start of an episode."""
        qpos, qvel, info = self.reset_fn(rng, params)
        physics = self.backend.init(jax.device_get(qpos), jax.device_get(qvel))
        return physics, self.observe_fn(self.backend.readout(physics), info), info

    def step(self, physics: Any, info: dict, action: Any, params: Any = None):
        """(physics state, transition dict) after one control step."""
        ctrl, adhesion, info = self.controls_fn(action, info, params)
        ctrl, adhesion = jax.device_get((ctrl, adhesion))
        for k in range(ctrl.shape[0]):
            physics = self.backend.step(physics, ctrl[k], adhesion[k], self.task.n_substeps)
        return physics, self.transition_fn(self.backend.readout(physics), info, action)
