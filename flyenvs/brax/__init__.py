"""Brax front end: flyenvs tasks as ``brax.envs.Env`` on MJX or on batched C MuJoCo.

``flyenvs.brax.make("Walk", backend="mjx" | "mujoco", **config)`` returns the environment;
importing this module also registers every task with Brax
(``brax.envs.get_environment("flyenvs_walk", **config)``).
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


def make(
    task_name: str, backend: str = "mjx", n_threads: int | None = None, **config: Any
) -> FlyBraxEnv:
    """The task ``task_name`` (e.g. ``"Walk"``) on ``backend`` (``"mjx"``, or ``"mujoco"``: the
    batched C MuJoCo engine on ``n_threads`` host threads), config overrides by keyword.

    Raises:
        KeyError: unknown task or config option (the message lists the valid ones).
        ValueError: unknown backend.
    """
    return FlyBraxEnv(task_name, backend=backend, n_threads=n_threads, **config)


for _brax_name, _task_name in BRAX_NAMES.items():
    brax_envs.register_environment(_brax_name, functools.partial(FlyBraxEnv, _task_name))
