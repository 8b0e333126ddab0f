"""Recurrent actor-critic networks for :mod:`agents.recurrent_ppo`: the swappable policy core.

The trainer sees a network only through four members (:class:`RecurrentNetwork`), so a
connectome controller (the VNC of issue 12) can replace the GRU without touching the trainer:

* ``init(rng, obs_size) -> params``: a parameter pytree;
* ``initial_carry(batch) -> carry``: the policy state at an episode start, leaves ``[batch, ...]``;
* ``apply(params, carry, obs, reset) -> (carry, (action_mean, action_log_std), value)``: one
  control step for a batch. ``obs`` is ``Float[Array, "batch obs_size"]`` (already normalised),
  ``reset`` is ``Bool[Array, "batch"]``: where true, the carry is replaced by the initial carry
  *before* the step (the episode of that row started at this observation). Outputs:
  ``action_mean`` and ``action_log_std`` ``Float[Array, "batch action_size"]`` (a Gaussian over
  the pre-tanh action), ``value`` ``Float[Array, "batch"]``;
* ``action_size``: int;
* optionally ``action_squash``: ``"tanh"`` (default: the env receives ``tanh`` of the Gaussian
  sample) or ``"clip"`` (it receives the sample clipped to [-1, 1]; the mean is then an action
  itself, as the connectome policy's joint targets are);
* optionally ``latent_size`` L > 0: a stochastic stage inside the step, before the action (the
  connectome policy's descending-neuron drive, so that exploration reaches the DNs while the
  gradient still reaches the VNC behind them). ``apply`` then takes ``noise`` ``[batch, L]``
  (standard normal; the step draws its latent as ``mean + exp(log_std) * noise``) or
  ``latent`` ``[batch, L]`` (the latent to use: the stored sample when PPO re-evaluates a
  trajectory), neither meaning the latent's mean, and returns ``(carry, (mean, log_std),
  value, latent)`` with ``mean`` and ``log_std`` ``[batch, L + action_size]``, the latent's
  Gaussian first. The trainer stores ``(latent, action)`` as the sample, so the PPO ratio is
  of the whole two-stage policy.

:class:`GRUActorCritic` is the default: dense embedding -> GRU core (or, with
``recurrent=False``, a dense layer that ignores the carry: the feed-forward control) ->
a Gaussian policy head and a value head, each with one hidden layer.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import flax.linen as nn
import jax
import jax.numpy as jnp

Params = Any
Carry = Any


class RecurrentNetwork(Protocol):
    """What :func:`agents.recurrent_ppo.train.train` needs of a policy network."""

    action_size: int

    def init(self, rng: jax.Array, obs_size: int) -> Params: ...

    def initial_carry(self, batch: int) -> Carry: ...

    def apply(
        self, params: Params, carry: Carry, obs: jax.Array, reset: jax.Array
    ) -> tuple[Carry, tuple[jax.Array, jax.Array], jax.Array]: ...


class _GRUModule(nn.Module):
    """Embedding -> GRU (or dense) core -> policy mean / value heads (flax)."""

    hidden_size: int
    action_size: int
    recurrent: bool
    init_log_std: float

    @nn.compact
    def __call__(
        self, carry: jax.Array, obs: jax.Array, reset: jax.Array
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array], jax.Array]:
        ortho = nn.initializers.orthogonal
        carry = jnp.where(reset[:, None], jnp.zeros_like(carry), carry)
        x = nn.tanh(nn.Dense(self.hidden_size, kernel_init=ortho(jnp.sqrt(2)))(obs))
        if self.recurrent:
            carry, x = nn.GRUCell(self.hidden_size)(carry, x)
        else:
            x = nn.tanh(nn.Dense(self.hidden_size, kernel_init=ortho(jnp.sqrt(2)))(x))
        pi = nn.tanh(nn.Dense(self.hidden_size, kernel_init=ortho(jnp.sqrt(2)))(x))
        mean = nn.Dense(self.action_size, kernel_init=ortho(0.01))(pi)
        log_std = self.param(
            "log_std", nn.initializers.constant(self.init_log_std), (self.action_size,)
        )
        v = nn.tanh(nn.Dense(self.hidden_size, kernel_init=ortho(jnp.sqrt(2)))(x))
        value = nn.Dense(1, kernel_init=ortho(1.0))(v)[:, 0]
        return carry, (mean, jnp.broadcast_to(log_std, mean.shape)), value


@dataclasses.dataclass(frozen=True)
class GRUActorCritic:
    """GRU actor-critic (:class:`RecurrentNetwork`); ``recurrent=False`` is its feed-forward twin.

    Args:
        action_size: action dimensions.
        hidden_size: width of the embedding, GRU state and head hidden layers.
        recurrent: False replaces the GRU by a dense layer; the carry is then unused (zeros).
        init_log_std: initial log standard deviation of the pre-tanh Gaussian.
    """

    action_size: int
    hidden_size: int = 64
    recurrent: bool = True
    init_log_std: float = 0.0

    @property
    def _module(self) -> _GRUModule:
        return _GRUModule(self.hidden_size, self.action_size, self.recurrent, self.init_log_std)

    def init(self, rng: jax.Array, obs_size: int) -> Params:
        """Parameters for observations of ``obs_size`` entries."""
        obs = jnp.zeros((1, obs_size), jnp.float32)
        return self._module.init(rng, self.initial_carry(1), obs, jnp.zeros((1,), bool))

    def initial_carry(self, batch: int) -> jax.Array:
        """``Float[Array, "batch hidden_size"]`` zeros."""
        return jnp.zeros((batch, self.hidden_size), jnp.float32)

    def apply(
        self, params: Params, carry: jax.Array, obs: jax.Array, reset: jax.Array
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array], jax.Array]:
        """One step; see the module docstring for shapes."""
        return self._module.apply(params, carry, obs, reset)


@dataclasses.dataclass(frozen=True)
class MLPActorCritic:
    """Feed-forward actor-critic behind the :class:`RecurrentNetwork` seam (the carry is unused):
    the MLP control of the connectome policy, with the same action semantics (``"clip"``: the
    mean is the action) and its own value MLP, so only the policy's structure differs.

    Args:
        action_size: action dimensions.
        policy_hidden: hidden sizes of the policy MLP (tanh); its output is the action mean.
        value_hidden: hidden sizes of the value MLP.
        init_log_std: initial log standard deviation of the action noise.
    """

    action_size: int
    policy_hidden: tuple[int, ...] = (8,)
    value_hidden: tuple[int, ...] = (64, 64)
    init_log_std: float = -1.5
    action_squash = "clip"

    def init(self, rng: jax.Array, obs_size: int) -> Params:
        """``{"policy": [layers], "value": [layers], "log_std": [A]}``, orthogonal init."""

        def mlp(key, sizes, last_scale):
            keys = jax.random.split(key, len(sizes) - 1)
            return [
                {
                    "w": nn.initializers.orthogonal(last_scale if i == len(sizes) - 2 else 2**0.5)(
                        k, (a, b), jnp.float32
                    ),
                    "b": jnp.zeros((b,), jnp.float32),
                }
                for i, (k, a, b) in enumerate(zip(keys, sizes[:-1], sizes[1:], strict=True))
            ]

        k_pi, k_v = jax.random.split(rng)
        return {
            "policy": mlp(k_pi, (obs_size, *self.policy_hidden, self.action_size), 0.01),
            "value": mlp(k_v, (obs_size, *self.value_hidden, 1), 1.0),
            "log_std": jnp.full((self.action_size,), self.init_log_std, jnp.float32),
        }

    def initial_carry(self, batch: int) -> jax.Array:
        """Unused: ``Float[Array, "batch 1"]`` zeros."""
        return jnp.zeros((batch, 1), jnp.float32)

    def apply(
        self, params: Params, carry: jax.Array, obs: jax.Array, reset: jax.Array
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array], jax.Array]:
        """One step; see the module docstring for shapes (the carry passes through)."""

        def run(layers, x):
            for layer in layers[:-1]:
                x = jnp.tanh(x @ layer["w"] + layer["b"])
            return x @ layers[-1]["w"] + layers[-1]["b"]

        mean = run(params["policy"], obs)
        value = run(params["value"], obs)[:, 0]
        return carry, (mean, jnp.broadcast_to(params["log_std"], mean.shape)), value


def count_params(params: Params) -> int:
    """Number of scalars in a parameter pytree."""
    return int(sum(jnp.size(x) for x in jax.tree.leaves(params)))


def gaussian_log_prob(x: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """Log density of the diagonal Gaussian at ``x`` ``[..., action_size]`` -> ``[...]``."""
    z = (x - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * jnp.log(2 * jnp.pi), axis=-1)


def gaussian_entropy(log_std: jax.Array) -> jax.Array:
    """Entropy (nats) of the diagonal Gaussian, ``[..., action_size]`` -> ``[...]``."""
    return jnp.sum(log_std + 0.5 * jnp.log(2 * jnp.pi * jnp.e), axis=-1)
