"""The task registry: one line per task; Gymnasium ids and Brax names are derived from it.

Adding a task is one module in ``flyenvs/tasks/`` (a ``default_config(**overrides)`` and a
:class:`flyenvs.tasks.base.FlyTask` subclass taking ``(model, config)``) and one
:class:`TaskSpec` line in :data:`TASKS`. The module is imported when the task is first made,
so reading the registry (e.g. to register Gymnasium ids) stays cheap. docs/versions.md lists
what changed per version.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from ml_collections import ConfigDict


@dataclass(frozen=True)
class TaskSpec:
    """A registered task.

    Attributes:
        name: the task name (``flyenvs.brax.make(name)``).
        version: bumped whenever observations, rewards, dynamics or defaults change.
        module: the module defining it (``default_config`` and the task class).
        task_class: the task class's name in ``module``; ``cls(model, config)``.
        visual: True if the task has eyes (``obs["vision"]``).
        summary: one line for tables.
    """

    name: str
    version: int
    module: str
    task_class: str
    visual: bool
    summary: str

    @property
    def gym_id(self) -> str:
        """The Gymnasium id, ``flyenvs/<name>-v<version>``."""
        return f"flyenvs/{self.name}-v{self.version}"

    @property
    def brax_name(self) -> str:
        """The Brax registry name, ``flyenvs_<name in lower case>``."""
        return f"flyenvs_{self.name.lower()}"

    def default_config(self, **overrides: Any) -> ConfigDict:
        """A fresh locked config of the task with ``overrides`` applied and validated."""
        return importlib.import_module(self.module).default_config(**overrides)

    def task_cls(self) -> type:
        """The task class."""
        return getattr(importlib.import_module(self.module), self.task_class)


#: Task name -> spec (one line per task).
TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("Walk", 1, "flyenvs.tasks.walk", "WalkTask", False,
                 "follow a commanded forward speed (mm/s) and turn rate (rad/s)"),
        TaskSpec("VisualTaxis", 1, "flyenvs.tasks.visual_taxis", "TaxisTask", True,
                 "walk to a dark pillar seen with the compound eyes"),
        TaskSpec("Optomotor", 1, "flyenvs.tasks.visual_optomotor", "OptomotorTask", True,
                 "turn with a rotating vertical grating"),
        TaskSpec("Pursuit", 1, "flyenvs.tasks.visual_pursuit", "PursuitTask", True,
                 "follow a moving sphere at a set distance"),
    )
}  # fmt: skip


def spec(name: str) -> TaskSpec:
    """The spec of task ``name``; raises KeyError listing the valid names."""
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; valid: {sorted(TASKS)}")
    return TASKS[name]


def make_task(name: str, **overrides: Any) -> Any:
    """The task ``name`` on its fly model, config ``default_config(**overrides)``.

    Raises:
        KeyError: unknown task name or config option (the message lists the valid ones).
    """
    from flyenvs import body

    s = spec(name)
    config = s.default_config(**overrides)
    return s.task_cls()(body.load(config.body_variant), config)
