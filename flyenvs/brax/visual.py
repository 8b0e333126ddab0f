"""Brax registration of the visual tasks (VisualTaxis, Optomotor, Pursuit).

``flyenvs.brax.make("VisualTaxis")`` works once :func:`flyenvs.gym.visual.register` has added
the tasks to :data:`flyenvs.tasks.driver.TASKS` (``import flyenvs`` does). :func:`register`
here also adds them to Brax's registry (``brax.envs.get_environment("flyenvs_visualtaxis")``),
for the case where ``flyenvs.brax`` was imported before the tasks were registered.
"""

from __future__ import annotations

import functools

from brax import envs as brax_envs

from flyenvs.brax.env import FlyBraxEnv
from flyenvs.gym import visual as gym_visual

#: Brax registry name -> task name.
VISUAL_BRAX_NAMES: dict[str, str] = {
    f"flyenvs_{name.lower()}": name for name in gym_visual.VISUAL_TASKS
}


def register() -> None:
    """Register the visual tasks with the driver and Brax (idempotent)."""
    gym_visual.register()
    for brax_name, task_name in VISUAL_BRAX_NAMES.items():
        brax_envs.register_environment(brax_name, functools.partial(FlyBraxEnv, task_name))
