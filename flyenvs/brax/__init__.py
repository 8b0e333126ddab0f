"""Brax front end: flyenvs tasks on MJX as ``brax.envs.Env``.

``flyenvs.brax.make("Walk", **config)`` returns the environment; importing this module also
registers every task with Brax (``brax.envs.get_environment("flyenvs_walk", **config)``).
Train with ``brax.training.agents.ppo.train(env, ..., episode_length=env.episode_length,
wrap_env_fn=flyenvs.brax.wrap_for_training)``.
"""

from __future__ import annotations

import functools
from typing import Any

# Before brax, which imports mujoco.mjx itself: MJX imported once, without its warp-probe lines.
from flyenvs.sim import _mjx_import  # noqa: F401

# isort: split
from brax import envs as brax_envs

from flyenvs.brax.env import (
    FlattenObservationWrapper,
    FlyBraxEnv,
    FreshAutoResetWrapper,
    wrap_for_training,
)
from flyenvs.tasks.registry import TASKS

__all__ = [
    "BRAX_NAMES",
    "FlattenObservationWrapper",
    "FlyBraxEnv",
    "FreshAutoResetWrapper",
    "make",
    "wrap_for_training",
]

#: Brax registry name -> task name.
BRAX_NAMES: dict[str, str] = {spec.brax_name: name for name, spec in TASKS.items()}


def make(task_name: str, **config: Any) -> FlyBraxEnv:
    """The task ``task_name`` (e.g. ``"Walk"``) on MJX, config overrides by keyword.

    Raises:
        KeyError: unknown task or config option (the message lists the valid ones).
    """
    return FlyBraxEnv(task_name, **config)


for _brax_name, _task_name in BRAX_NAMES.items():
    brax_envs.register_environment(_brax_name, functools.partial(FlyBraxEnv, _task_name))
