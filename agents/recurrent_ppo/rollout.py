"""Rollouts with a recurrent policy, sequence re-evaluation (truncated BPTT), GAE and PPO loss.

Time-major throughout: ``T`` = ``unroll_length`` steps, ``B`` = environments.

The carry convention (the one place recurrent PPO goes wrong): the policy's input at step ``t``
is ``(obs_t, reset_t)`` with ``reset_t = done_{t-1}`` (the previous step's ``state.done``; false
at the very first step). Brax's auto-reset wrappers already replaced ``obs_t`` by the new
episode's first observation where ``done_{t-1}``, so the network zeroes its carry for exactly
that row before stepping. The rollout stores the carry at the start of the segment
(``carry0``); :func:`evaluate_sequences` re-runs the network from ``carry0`` over the stored
``(obs, reset)`` and reproduces the rollout's outputs bit for bit before any update.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from brax.training.acme import running_statistics

from agents.recurrent_ppo.networks import (
    Carry,
    Params,
    RecurrentNetwork,
    gaussian_entropy,
    gaussian_log_prob,
)


class Trajectory(NamedTuple):
    """One unroll segment. Leaves ``[T, B, ...]`` except ``carry0`` (``[B, ...]``)."""

    obs: jax.Array  # [T, B, obs_size], raw (unnormalised)
    reset: jax.Array  # [T, B] bool: the carry was reset before step t (done_{t-1})
    raw_action: jax.Array  # [T, B, L + action_size], the Gaussian sample (latent first)
    log_prob: jax.Array  # [T, B], of raw_action under the rollout policy
    latent_log_prob: jax.Array  # [T, B], of its latent part alone (0 without a latent stage)
    action_mean: jax.Array  # [T, B, L + action_size]
    value: jax.Array  # [T, B]
    reward: jax.Array  # [T, B]
    done: jax.Array  # [T, B] float: episode ended at this step (terminated or truncated)
    truncation: jax.Array  # [T, B] float: ended by the time limit
    baseline: jax.Array  # [T, B, K]: the env metrics named by ``baseline_metrics`` at step t
    carry0: Carry  # the carry entering step 0


def normalize(
    network: RecurrentNetwork,
    normalizer: running_statistics.RunningStatisticsState,
    obs: jax.Array,
) -> jax.Array:
    """``obs`` [..., O] normalised by the running statistics, except the entries
    ``network.raw_observation = (start, stop)`` (if the network has it), passed as they are
    (e.g. luminance for an optic lobe, which expects values in [0, 1])."""
    out = running_statistics.normalize(obs, normalizer)
    raw = getattr(network, "raw_observation", None)
    if raw is None:
        return out
    start, stop = raw
    return out.at[..., start:stop].set(obs[..., start:stop])


def latent_size(network: RecurrentNetwork) -> int:
    """L, the size of the network's latent stochastic stage (0: none; see
    :mod:`agents.recurrent_ppo.networks`)."""
    return int(getattr(network, "latent_size", 0))


def policy_step(
    network: RecurrentNetwork,
    params: Params,
    normalizer: running_statistics.RunningStatisticsState,
    carry: Carry,
    obs: jax.Array,
    reset: jax.Array,
    key: jax.Array | None,
) -> tuple[Carry, jax.Array, tuple[jax.Array, ...]]:
    """One policy step. ``key=None`` is deterministic (the mean).

    Returns ``(carry, action, (raw_action, log_prob, mean, value, latent_log_prob))``
    (``latent_log_prob``: of the latent part alone, 0 without one); ``action`` =
    :func:`squash` of ``raw`` (of its last ``action_size`` entries for a network with a
    latent stage, whose raw sample ``(latent, action)`` the trajectory stores), in [-1, 1], is
    what the environment receives.
    """
    obs = normalize(network, normalizer, obs)
    n_latent = latent_size(network)
    if n_latent == 0:
        carry, (mean, log_std), value = network.apply(params, carry, obs, reset)
        motor_mean, motor_log_std, latent = mean, log_std, None
    else:
        k_latent, key = (None, None) if key is None else jax.random.split(key)
        noise = jnp.zeros((obs.shape[0], n_latent), obs.dtype)
        if k_latent is not None:
            noise = jax.random.normal(k_latent, noise.shape)
        carry, (mean, log_std), value, latent = network.apply(
            params, carry, obs, reset, noise=noise
        )
        motor_mean, motor_log_std = mean[..., n_latent:], log_std[..., n_latent:]
    if key is None:
        motor_raw = motor_mean
    else:
        noise = jax.random.normal(key, motor_mean.shape)
        motor_raw = motor_mean + jnp.exp(motor_log_std) * noise
    action = squash(network, motor_raw)
    raw = motor_raw if latent is None else jnp.concatenate([latent, motor_raw], axis=-1)
    latent_lp = jnp.zeros_like(value)
    if latent is not None:
        latent_lp = gaussian_log_prob(latent, mean[..., :n_latent], log_std[..., :n_latent])
    return carry, action, (raw, gaussian_log_prob(raw, mean, log_std), mean, value, latent_lp)


def squash(network: RecurrentNetwork, raw: jax.Array) -> jax.Array:
    """The env action from a raw Gaussian sample: ``tanh(raw)`` by default, or
    ``clip(raw, -1, 1)`` for a network whose ``action_squash`` is ``"clip"`` (its mean is
    already an action, e.g. the connectome policy's joint targets in joint-range units)."""
    kind = getattr(network, "action_squash", "tanh")
    if kind == "clip":
        return jnp.clip(raw, -1.0, 1.0)
    if kind != "tanh":
        raise ValueError(f"action_squash must be 'tanh' or 'clip', got {kind!r}")
    return jnp.tanh(raw)


def rollout(
    env: Any,
    network: RecurrentNetwork,
    params: Params,
    normalizer: running_statistics.RunningStatisticsState,
    env_state: Any,
    carry: Carry,
    key: jax.Array,
    unroll_length: int,
    baseline_metrics: tuple[str, ...] = (),
) -> tuple[Any, Carry, Trajectory]:
    """``unroll_length`` steps of the batched, auto-resetting ``env`` under ``lax.scan``.

    ``env_state.done`` of the incoming state marks rows whose episode ended at the previous
    step; their carry is reset at the first step. ``baseline_metrics``: names of
    ``state.metrics`` stored as the trajectory's ``baseline`` (each step's, read after it,
    so of the episode that took it). Returns the final env state and carry (to continue from)
    and the :class:`Trajectory`.
    """

    def step(c, step_key):
        state, carry = c
        reset = state.done > 0
        carry, action, (raw, log_prob, mean, value, latent_lp) = policy_step(
            network, params, normalizer, carry, state.obs, reset, step_key
        )
        nstate = env.step(state, action)
        trunc = nstate.info.get("truncation", jnp.zeros_like(nstate.done))
        seen = [jnp.asarray(nstate.metrics[k], jnp.float32) for k in baseline_metrics]
        base = jnp.stack(seen, axis=-1) if seen else jnp.zeros((*nstate.done.shape, 0))
        out = (state.obs, reset, raw, log_prob, latent_lp, mean, value, nstate.reward,
               nstate.done, trunc, base)  # fmt: skip
        return (nstate, carry), out

    keys = jax.random.split(key, unroll_length)
    (env_state, carry_end), out = jax.lax.scan(step, (env_state, carry), keys)
    return env_state, carry_end, Trajectory(*out, carry0=carry)


def evaluate_sequences(
    network: RecurrentNetwork,
    params: Params,
    normalizer: running_statistics.RunningStatisticsState,
    carry0: Carry,
    obs: jax.Array,
    reset: jax.Array,
    raw_action: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Re-run the network over stored sequences from their start carry (BPTT in the loss).

    Args: ``carry0`` ``[B, ...]``, ``obs`` ``[T, B, obs_size]`` raw, ``reset`` ``[T, B]``;
    ``raw_action`` ``[T, B, L + action_size]`` the stored samples, needed by a network with a
    latent stage (its steps take the stored latent, so the carries are the rollout's).
    Returns ``(mean, log_std, value)``: ``[T, B, L + action_size]`` twice and ``[T, B]``.
    """
    n_latent = latent_size(network)
    if n_latent and raw_action is None:
        raise ValueError("a network with a latent stage is re-evaluated on its raw_action")
    latents = raw_action[..., :n_latent] if n_latent else jnp.zeros(reset.shape + (0,))

    def step(carry, x):
        o, r, z = x
        o = normalize(network, normalizer, o)
        if n_latent:
            carry, (mean, log_std), value, _ = network.apply(params, carry, o, r, latent=z)
        else:
            carry, (mean, log_std), value = network.apply(params, carry, o, r)
        return carry, (mean, log_std, value)

    _, out = jax.lax.scan(step, carry0, (obs, reset, latents))
    return out


def compute_gae(
    reward: jax.Array,
    value: jax.Array,
    bootstrap_value: jax.Array,
    done: jax.Array,
    truncation: jax.Array,
    discount: float,
    gae_lambda: float,
) -> tuple[jax.Array, jax.Array]:
    """GAE(lambda) with Brax's truncation handling (``[T, B]`` inputs, ``bootstrap_value``
    ``[B]``). The value targets equal Brax's ``vs``; the advantage is the standard GAE sum
    ``vs - value`` (Brax's PPO takes ``r + discount * vs_next - value``, different for
    lambda < 1). A terminated step does not bootstrap; a truncated step (time limit: the next
    observation is already the next episode's) gets zero advantage and its value target is its
    own value.
    Returns ``(advantages, value_targets)``, both ``[T, B]``.
    """
    termination = done * (1 - truncation)
    live = 1 - truncation
    next_value = jnp.concatenate([value[1:], bootstrap_value[None]], axis=0)
    delta = (reward + discount * (1 - termination) * next_value - value) * live

    def back(acc, x):
        d, term, lv = x
        acc = d + discount * gae_lambda * (1 - term) * lv * acc
        return acc, acc

    _, adv = jax.lax.scan(
        back, jnp.zeros_like(bootstrap_value), (delta, termination, live), reverse=True
    )
    return adv, adv + value


def regress_out(
    advantages: jax.Array, features: jax.Array, start: jax.Array | None = None
) -> jax.Array:
    """``advantages`` [T, B] minus their least-squares fit, over the whole batch, on a constant
    and each of ``features`` [T, B, K] (raw observation columns), its square and its absolute
    value, fitted apart at episode starts where ``start`` [T, B] (bool) is given: a baseline
    that depends only on the state, for return variance the critic leaves in the advantages
    (docs/recurrent_ppo.md). Returns [T, B]."""
    f = features.reshape(-1, features.shape[-1])
    x = jnp.concatenate([jnp.ones((f.shape[0], 1), f.dtype), f, f**2, jnp.abs(f)], axis=1)
    if start is not None:
        x = jnp.concatenate([x, x * start.reshape(-1, 1).astype(x.dtype)], axis=1)
    scale = jnp.maximum(jnp.abs(x).max(axis=0), 1e-6)  # columns of comparable size
    coef = jnp.linalg.lstsq(x / scale, advantages.reshape(-1))[0]
    return advantages - ((x / scale) @ coef).reshape(advantages.shape)


def ppo_loss(
    network: RecurrentNetwork,
    params: Params,
    normalizer: running_statistics.RunningStatisticsState,
    traj: Trajectory,
    advantages: jax.Array,
    targets: jax.Array,
    clipping_epsilon: float,
    entropy_cost: float,
    value_cost: float = 0.5,
    split_ratio: bool = False,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Clipped PPO loss over whole sequences (``traj`` is a minibatch of environments).

    ``split_ratio`` (a network with a latent stage): the latent's and the motor action's
    probability ratios are clipped apart and their surrogates added (to first order in the
    update, the joint surrogate), so a motor ratio outside the clip range no longer stops the
    latent's gradient on the same step (docs/recurrent_ppo.md).

    Returns ``(loss, metrics)``; metrics hold the terms and ``approx_kl`` (``mean(old - new)``
    log-probability: exactly 0 before the first update when the recomputation is aligned).
    """
    n_latent = latent_size(network)
    if split_ratio and n_latent == 0:
        raise ValueError("split_ratio needs a network with a latent stage (latent_size > 0)")
    mean, log_std, value = evaluate_sequences(
        network, params, normalizer, traj.carry0, traj.obs, traj.reset, traj.raw_action
    )
    log_prob = gaussian_log_prob(traj.raw_action, mean, log_std)
    log_ratio = log_prob - traj.log_prob
    ratio = jnp.exp(log_ratio)
    adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

    def surrogate(r):
        clipped = jnp.clip(r, 1 - clipping_epsilon, 1 + clipping_epsilon)
        return -jnp.mean(jnp.minimum(r * adv, clipped * adv))

    extra = {}
    if split_ratio:
        z = traj.raw_action[..., :n_latent]
        latent_lp = gaussian_log_prob(z, mean[..., :n_latent], log_std[..., :n_latent])
        latent_ratio = jnp.exp(latent_lp - traj.latent_log_prob)
        motor_ratio = jnp.exp(log_ratio - (latent_lp - traj.latent_log_prob))
        policy_loss = surrogate(latent_ratio) + surrogate(motor_ratio)
        extra["latent_clip_fraction"] = jnp.mean(jnp.abs(latent_ratio - 1) > clipping_epsilon)
    else:
        policy_loss = surrogate(ratio)
    value_loss = 0.5 * jnp.mean((value - targets) ** 2)
    entropy = jnp.mean(gaussian_entropy(log_std))
    loss = policy_loss + value_cost * value_loss - entropy_cost * entropy
    metrics = {
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": entropy,
        "approx_kl": jnp.mean(-log_ratio),
        "clip_fraction": jnp.mean(jnp.abs(ratio - 1) > clipping_epsilon),
        "value_drift": jnp.max(jnp.abs(value - traj.value)),
        **extra,
    }
    return loss, metrics
