"""Gymnasium front end: every flyenvs task as a ``gymnasium.Env`` on C MuJoCo.

``import flyenvs`` registers the ids below; ``gymnasium.make("flyenvs/Walk-v0", **config)``
passes keyword arguments to the task config (see :class:`flyenvs.gym.env.FlyEnv`).
"""

from __future__ import annotations

import gymnasium

#: Gymnasium id -> (task name in ``flyenvs.tasks.driver.TASKS``, entry point).
ENV_IDS: dict[str, tuple[str, str]] = {
    "flyenvs/Walk-v0": ("Walk", "flyenvs.gym.env:FlyEnv"),
    "flyenvs/VisualTaxis-v0": ("VisualTaxis", "flyenvs.gym.visual:VisualFlyEnv"),
    "flyenvs/Optomotor-v0": ("Optomotor", "flyenvs.gym.visual:VisualFlyEnv"),
    "flyenvs/Pursuit-v0": ("Pursuit", "flyenvs.gym.visual:VisualFlyEnv"),
}


def register_envs() -> None:
    """Register every id of :data:`ENV_IDS` (idempotent)."""
    for env_id, (task_name, entry_point) in ENV_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point=entry_point,
                kwargs={"task_name": task_name},
                disable_env_checker=False,
            )
