"""A flyenvs task as a ``dm_env.Environment`` (the dm_control interface), over the Gymnasium
adapter :class:`flyenvs.gym.env.FlyEnv` (C MuJoCo; task logic is not duplicated).

Specs mirror the Gymnasium spaces: ``observation_spec()`` is a dict of float32
``specs.BoundedArray`` with the ``Dict`` space's names, order, shapes and bounds;
``action_spec()`` a float32 ``BoundedArray`` equal to the action ``Box``; ``reward_spec()`` a
float64 scalar ``Array``; ``discount_spec()`` a float64 scalar ``BoundedArray`` in [0, 1].

TimeStep semantics (``dm_env``'s contract): ``reset()`` returns ``FIRST`` (reward and discount
None); a step returns ``MID`` (discount 1), or ``LAST`` with discount 0 when the episode
terminates (a fall, body contact, diverged physics) and discount 1 when it is truncated at
``episode_length``; the step after ``LAST`` (and a step before any reset) ignores its action and
starts a new episode (``FIRST``). Seeding: ``load(..., seed=s)`` seeds the first reset; later
resets continue the same random stream, so one seed gives one sequence of episodes.
"""

from __future__ import annotations

from typing import Any

import dm_env
import numpy as np
from dm_env import specs

from flyenvs.gym.env import FlyEnv
from flyenvs.tasks import registry


class FlyDmEnv(dm_env.Environment):
    """``dm_env.Environment`` over a :class:`~flyenvs.gym.env.FlyEnv` (see the module docstring).

    Args:
        env: the Gymnasium environment to wrap (owned: :meth:`close` closes it).
        seed: seed of the first reset (None: a random one).
    """

    def __init__(self, env: FlyEnv, seed: int | None = None) -> None:
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        self.gym_env = env
        self._seed = None if seed is None else int(seed)
        self._needs_reset = True
        self._observation_spec = {
            name: specs.BoundedArray(
                box.shape, np.float32, float(box.low.min()), float(box.high.max()), name=name
            )
            for name, box in env.observation_space.spaces.items()
        }
        box = env.action_space
        self._action_spec = specs.BoundedArray(
            box.shape, np.float32, box.low.copy(), box.high.copy(), name="action"
        )

    @property
    def task(self) -> Any:
        """The wrapped task (:mod:`flyenvs.tasks`)."""
        return self.gym_env.task

    def reset(self) -> dm_env.TimeStep:
        """Start an episode: a ``FIRST`` TimeStep."""
        seed, self._seed = self._seed, None  # only the first reset is seeded
        obs, _ = self.gym_env.reset(seed=seed)
        self._needs_reset = False
        return dm_env.restart(self._observation(obs))

    def step(self, action: Any) -> dm_env.TimeStep:
        """One control step (a new episode, ignoring ``action``, after ``LAST``)."""
        if self._needs_reset:
            return self.reset()
        obs, reward, terminated, truncated, _ = self.gym_env.step(action)
        obs, reward = self._observation(obs), np.float64(reward)
        if terminated:
            self._needs_reset = True
            return dm_env.termination(reward, obs)  # discount 0
        if truncated:
            self._needs_reset = True
            return dm_env.truncation(reward, obs, discount=np.float64(1.0))
        return dm_env.transition(reward, obs, discount=np.float64(1.0))

    def _observation(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: np.asarray(obs[k], np.float32) for k in self._observation_spec}

    def observation_spec(self) -> dict[str, specs.BoundedArray]:
        return dict(self._observation_spec)

    def action_spec(self) -> specs.BoundedArray:
        return self._action_spec

    def reward_spec(self) -> specs.Array:
        return specs.Array((), np.float64, name="reward")

    def discount_spec(self) -> specs.BoundedArray:
        return specs.BoundedArray((), np.float64, 0.0, 1.0, name="discount")

    def close(self) -> None:
        self.gym_env.close()


def load(task_name: str, seed: int | None = None, **config: Any) -> FlyDmEnv:
    """Task ``task_name`` (a key of :data:`flyenvs.tasks.registry.TASKS`, e.g. ``"Walk"``,
    ``"VisualTaxis"``) as a ``dm_env.Environment`` on C MuJoCo.

    Args:
        task_name: the task; an unknown one raises ``KeyError`` listing the valid names.
        seed: seed of the first reset (later resets continue its random stream).
        **config: task config overrides (dotted keys, e.g. ``episode_length=500``); an unknown
            one raises ``KeyError`` listing the valid ones, a value out of its domain
            ``ValueError``.
    """
    registry.spec(task_name)  # KeyError listing the valid names
    return FlyDmEnv(FlyEnv(task_name, **config), seed=seed)
