"""Trained policies as plain callables for a Gymnasium loop.

>>> policy = agents.policies.load("runs/walk_quick")        # run dir (latest) or checkpoint dir
>>> env = gymnasium.make(policy.gym_id, **policy.env_config)
>>> obs, _ = env.reset(seed=0)
>>> policy.reset()                                          # at every episode start
>>> obs, reward, terminated, truncated, info = env.step(policy(obs))

Brax PPO runs give a stateless :class:`Policy`; recurrent runs (the connectome VNC policy, the
GRU) give a :class:`RecurrentPolicy`, which holds the controller's state between calls (the
VNC's firing rates) until ``reset()``. Both have ``reset(seed=None)``.
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

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset (the MLP has no state); for a loop written for any policy."""

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


class RecurrentPolicy(Policy):
    """Deterministic recurrent policy (connectome VNC or GRU) holding its controller state.

    ``reset(seed=None)`` starts a new episode: the next call starts from the network's
    episode-start state (the VNC's warm rates). ``policy(obs)`` takes one observation (dict or
    flat [O]) or a batch [B, O] (then every row is its own episode, all reset together) and
    returns the action(s), the squashed mean (float32), advancing the state. ``seed`` is accepted
    for the Gymnasium-style signature; the policy is deterministic.

    Attributes:
        network: the :class:`agents.recurrent_ppo.networks.RecurrentNetwork`.
        state: the controller state (carry) after the last call; None right after ``reset``.
        activity: for networks with an ``activity`` method (the connectome VNC policy), what
            its neurons did in the last call as numpy arrays (``dn_input`` [n_dn] input
            currents, ``pool_rates_hz`` [C, n_pools] motor-pool rates; the visual connectome
            policy adds ``readout_maps`` [2, T, 721], its optic-lobe readout types' voltages
            at every column; a leading batch axis for a batch of observations); else an
            empty dict.
    """

    def __init__(self, train_state: dict[str, Any], meta: dict[str, Any]) -> None:
        from agents.recurrent_ppo import driver
        from agents.recurrent_ppo.rollout import normalize, policy_step

        self.meta = meta
        self.env_config = dict(meta["env_config"])
        network = meta["network"]
        self.observation_size = int(network["observation_size"])
        self.observation_entries = tuple(
            (name, tuple(shape)) for name, shape in network["observation_entries"]
        )
        self._spec = {k: jax.ShapeDtypeStruct(s, np.float32) for k, s in self.observation_entries}
        self.action_size = int(network["action_size"])
        self.gym_id = registry.spec(meta["task"]).gym_id
        task = registry.make_task(meta["task"], **self.env_config)
        self.network = driver.make_network(meta["train"], task, self.action_size)
        params, normalizer = train_state["network"], train_state["normalizer"]
        net = self.network
        enc = self._encoder = getattr(net, "observation_encoder", None)

        def step(carry, obs, reset):
            seen = {}
            if enc is not None:  # a frozen first stage (the optic lobe): the obs it gives
                enc_state, carry = carry
                enc_state, obs = enc.observe(enc.pretrained_params, enc_state, obs, reset)
                seen["readout_maps"] = enc.readout_maps(enc_state)
            if hasattr(net, "activity"):
                seen.update(net.activity(params, carry, normalize(net, normalizer, obs), reset))
            carry, action, _ = policy_step(net, params, normalizer, carry, obs, reset, None)
            return (carry if enc is None else (enc_state, carry)), action, seen

        self._step = jax.jit(step)
        self.state: Any = None
        self.activity: dict[str, np.ndarray] = {}

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode: the next call starts from the episode-start state."""
        self.state = None

    def __call__(self, obs: Any) -> np.ndarray:
        if isinstance(obs, dict):
            obs = self.flatten(obs)
        obs = np.asarray(obs, dtype=np.float32)
        if obs.shape[-1:] != (self.observation_size,) or obs.ndim not in (1, 2):
            raise ValueError(
                f"observation must be [{self.observation_size}] or [batch, "
                f"{self.observation_size}], got {obs.shape}"
            )
        batch = obs[None] if obs.ndim == 1 else obs
        fresh = self.state is None
        if fresh or jax.tree.leaves(self.state)[0].shape[0] != batch.shape[0]:
            if not fresh:
                raise ValueError(
                    f"batch size changed from {jax.tree.leaves(self.state)[0].shape[0]} to "
                    f"{batch.shape[0]} without reset()"
                )
            self.state = self.network.initial_carry(batch.shape[0])
            if self._encoder is not None:
                self.state = (self._encoder.initial_state(batch.shape[0]), self.state)
        reset = np.full((batch.shape[0],), fresh)
        self.state, action, seen = self._step(self.state, batch, reset)
        action = np.asarray(action, dtype=np.float32)
        single = obs.ndim == 1
        self.activity = {k: np.asarray(v[0] if single else v) for k, v in seen.items()}
        return action[0] if single else action


def load(path: str | Path, untrained: bool = False) -> Policy:
    """The policy of a checkpoint directory, or of a run directory's latest checkpoint: a
    :class:`RecurrentPolicy` for a recurrent (connectome, GRU) run, else a :class:`Policy`.
    ``untrained=True`` (recurrent runs only) gives the run's network with its initial
    parameters instead (the connectome VNC policy: the nominal DN drive and the connectome's
    own parameters), the baseline a trained one is compared with.

    Raises:
        FileNotFoundError: no checkpoint at ``path``; ValueError: corrupt checkpoint, or
        ``untrained`` for a Brax PPO run (its baseline is the zero action).
    """
    ckpt = checkpoints.resolve_dir(path)
    meta = checkpoints.read_meta(ckpt)
    if meta.get("policy", "mlp") != "mlp":
        from agents.recurrent_ppo import driver

        state, meta = checkpoints.load_params(ckpt, driver.template)
        if untrained:
            state = driver.template(meta)
        return RecurrentPolicy(state, meta)
    if untrained:
        raise ValueError(
            f"{ckpt} is a Brax PPO (MLP) run: its untrained baseline is the zero action"
        )
    params, meta = checkpoints.load(ckpt)
    return Policy(params, meta)
