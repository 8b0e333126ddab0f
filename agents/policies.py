"""Trained policies as plain callables for a Gymnasium loop.

>>> policy = agents.policies.load("runs/walk_quick")        # run dir (latest) or checkpoint dir
>>> env = gymnasium.make("flyenvs/Walk-v0", **policy.env_config)
>>> obs, _ = env.reset(seed=0)
>>> obs, reward, terminated, truncated, info = env.step(policy(obs))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
from brax.training.agents.ppo import networks as ppo_networks

from agents import checkpoints


class Policy:
    """Deterministic PPO policy: ``action [A] = policy(obs [O])`` (numpy float32 in, out).

    Attributes:
        meta: checkpoint metadata (``step``, ``task``, ``env_config``, ``network``, ...).
        env_config: the task config the policy was trained with (nested dict; pass as
            ``gymnasium.make(..., **env_config)``).
    """

    def __init__(self, params: tuple[Any, Any, Any], meta: dict[str, Any]) -> None:
        self.meta = meta
        self.env_config: dict[str, Any] = dict(meta["env_config"])
        network = meta["network"]
        self.observation_size = int(network["observation_size"])
        self.action_size = int(network["action_size"])
        nets = checkpoints.make_networks(network)
        make_policy = ppo_networks.make_inference_fn(nets)
        inference = make_policy(params, deterministic=True)
        key = jax.random.PRNGKey(0)
        self._apply = jax.jit(lambda obs: inference(obs, key)[0])

    def __call__(self, obs: Any) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32)
        if obs.shape[-1:] != (self.observation_size,):
            raise ValueError(
                f"observation must end with dimension {self.observation_size}, got {obs.shape}"
            )
        return np.asarray(self._apply(obs), dtype=np.float32)


def load(path: str | Path) -> Policy:
    """The policy of a checkpoint directory, or of a run directory's latest checkpoint.

    Raises:
        FileNotFoundError: no checkpoint at ``path``; ValueError: corrupt checkpoint.
    """
    params, meta = checkpoints.load(path)
    return Policy(params, meta)
