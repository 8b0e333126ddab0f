"""Trained policies as plain callables for a Gymnasium loop.

>>> policy = agents.policies.load("runs/walk_quick")        # run dir (latest) or checkpoint dir
>>> env = gymnasium.make(policy.gym_id, **policy.env_config)
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
from flyenvs.tasks import registry
from flyenvs.tasks.base import flatten_observation


class Policy:
    """Deterministic PPO policy: ``action [A] = policy(obs)`` (numpy float32 out).

    ``obs`` is the environment's observation dict (flattened in the trained entry order, as
    Brax's training wrapper did) or an already flat vector [..., O].

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
        #: (entry name, shape) in the order the network saw them flattened.
        self.observation_entries: tuple[tuple[str, tuple[int, ...]], ...] = tuple(
            (name, tuple(shape)) for name, shape in network.get("observation_entries", ())
        )
        task = meta.get("task")
        #: The Gymnasium id of the task it was trained on (None if the checkpoint has no task).
        self.gym_id: str | None = registry.spec(task).gym_id if task else None
        if task and not self.observation_entries:  # v0 checkpoint: flat observations, same order
            self.env_config = migrate_v0_config(self.env_config)
            task = registry.make_task(meta["task"], **self.env_config)
            entries = task.observation_spec.items()
            self.observation_entries = tuple((k, tuple(v.shape)) for k, v in entries)
        self._spec = {k: jax.ShapeDtypeStruct(s, np.float32) for k, s in self.observation_entries}
        self.action_size = int(network["action_size"])
        nets = checkpoints.make_networks(network)
        make_policy = ppo_networks.make_inference_fn(nets)
        inference = make_policy(params, deterministic=True)
        key = jax.random.PRNGKey(0)
        self._apply = jax.jit(lambda obs: inference(obs, key)[0])

    def flatten(self, obs: dict[str, Any]) -> np.ndarray:
        """The observation dict as the flat float32 vector [..., O] the network takes."""
        missing = [name for name, _ in self.observation_entries if name not in obs]
        if missing or not self.observation_entries:
            raise ValueError(
                f"observation dict lacks {missing or 'entries'}; the policy was trained on "
                f"{[name for name, _ in self.observation_entries]}"
            )
        return flatten_observation(
            {k: np.asarray(v, np.float32) for k, v in obs.items()}, self._spec
        )

    def __call__(self, obs: Any) -> np.ndarray:
        if isinstance(obs, dict):
            obs = self.flatten(obs)
        obs = np.asarray(obs, dtype=np.float32)
        if obs.shape[-1:] != (self.observation_size,):
            raise ValueError(
                f"observation must end with dimension {self.observation_size}, got {obs.shape}"
            )
        return np.asarray(self._apply(obs), dtype=np.float32)


def migrate_v0_config(env_config: dict[str, Any]) -> dict[str, Any]:
    """A v0 task config (saved before the ``action`` group) as a v1 config: ``cpg`` moves to
    ``action.cpg``. The flat v0 observation has the v1 entries in the same order."""
    config = dict(env_config)
    if "cpg" in config:
        config["action"] = {**config.get("action", {}), "cpg": config.pop("cpg")}
    return config


def load(path: str | Path) -> Policy:
    """The policy of a checkpoint directory, or of a run directory's latest checkpoint.

    Raises:
        FileNotFoundError: no checkpoint at ``path``; ValueError: corrupt checkpoint.
    """
    params, meta = checkpoints.load(path)
    return Policy(params, meta)
