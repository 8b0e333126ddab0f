"""Gymnasium front end: every task of :data:`flyenvs.tasks.registry.TASKS` as a ``gymnasium.Env``
on C MuJoCo, registered as ``flyenvs/<name>-v<version>`` (``flyenvs/Walk-v1``, ...).

Importing this module registers the ids. ``import flyenvs`` does too, without importing
gymnasium itself: the ids are registered as soon as gymnasium is (or already was) imported.
In a process that never imports flyenvs, ``gymnasium.make("flyenvs:flyenvs/Walk-v1")`` imports
it first (Gymnasium >= 1.0 has no plugin entry point; this ``module:id`` form replaced it).
Keyword arguments of ``gymnasium.make`` reach the task config (:class:`flyenvs.gym.env.FlyEnv`).
``gymnasium.make_vec(id, num_envs=64, vectorization_mode="vector_entry_point")`` returns a native
vector env stepping all envs in one call on the batched C MuJoCo engine
(:class:`flyenvs.gym.vector.FlyVectorEnv`).
"""

from __future__ import annotations

import gymnasium

from flyenvs.tasks.registry import TASKS

#: Entry point of every id.
ENTRY_POINT: str = "flyenvs.gym.env:FlyEnv"
#: Vector entry point of every id (``gymnasium.make_vec(id, num_envs, vectorization_mode=
#: "vector_entry_point")``: all envs in one call on the batched C MuJoCo engine).
VECTOR_ENTRY_POINT: str = "flyenvs.gym.vector:FlyVectorEnv"
#: Gymnasium id -> task name, derived from the task registry.
ENV_IDS: dict[str, str] = {spec.gym_id: name for name, spec in TASKS.items()}


def register_envs() -> None:
    """Register every id of :data:`ENV_IDS` (idempotent)."""
    for env_id, task_name in ENV_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point=ENTRY_POINT,
                vector_entry_point=VECTOR_ENTRY_POINT,
                kwargs={"task_name": task_name},
                disable_env_checker=False,
            )


register_envs()
