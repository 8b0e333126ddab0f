"""Recurrent PPO for Brax environments: the training loop.

One training step (under ``jit``, :func:`make_training_step`):

1. roll out ``unroll_length`` steps on ``num_envs`` environments, carrying the policy state and
   resetting it where an episode ended (:func:`agents.recurrent_ppo.rollout.rollout`);
2. bootstrap the value from the state after the segment and compute GAE(lambda);
3. ``num_updates_per_batch`` epochs over the batch, shuffled by environment into
   ``num_minibatches`` minibatches of whole sequences; each loss re-runs the network from the
   segment's start carry (truncated BPTT over the unroll) with the clipped PPO, value and
   entropy terms; Adam with global-norm gradient clipping (optax);
4. update the observation normaliser (Brax's ``running_statistics``) with the segment's
   observations. The rollout and its epochs use the same statistics, so the loss reproduces the
   rollout's log-probabilities exactly before the first update.

The environment and the policy state persist from one training step to the next (the segments
of an episode are consecutive). :func:`train` mirrors ``brax.training.agents.ppo.train``'s
arguments where they mean the same thing; the network is any
:class:`agents.recurrent_ppo.networks.RecurrentNetwork` (default: a GRU actor-critic).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from brax.training.acme import running_statistics, specs

from agents.recurrent_ppo.networks import GRUActorCritic, RecurrentNetwork
from agents.recurrent_ppo.rollout import compute_gae, policy_step, ppo_loss, regress_out, rollout


class TrainState(NamedTuple):
    """Everything a training step carries forward."""

    params: Any  # network parameters
    opt_state: Any
    normalizer: running_statistics.RunningStatisticsState
    env_state: Any  # batched, wrapped env state
    carry: Any  # policy state, leaves [num_envs, ...]
    key: jax.Array
    env_steps: jax.Array  # environment steps so far (int)


def make_training_step(
    env: Any,
    network: RecurrentNetwork,
    optimizer: optax.GradientTransformation,
    *,
    num_envs: int,
    unroll_length: int,
    num_minibatches: int,
    num_updates_per_batch: int,
    entropy_cost: float,
    discounting: float,
    gae_lambda: float,
    clipping_epsilon: float,
    value_cost: float = 0.5,
    normalize_observations: bool = True,
    value_warmup_steps: int = 0,
    baseline_obs: tuple[int, ...] = (),
    split_ratio: bool = False,
    baseline_metrics: tuple[str, ...] = (),
) -> Callable[[TrainState], tuple[TrainState, dict[str, jax.Array]]]:
    """The (un-jitted) training step ``state -> (state, metrics)`` for the batched ``env``;
    before ``value_warmup_steps`` env steps only the critic learns (the policy is fixed); with
    ``baseline_obs`` (raw observation columns) the advantages are regressed on them
    (:func:`~agents.recurrent_ppo.rollout.regress_out`) before the policy loss, and on the env
    metrics named by ``baseline_metrics`` (privileged: the policy never sees them)."""
    if num_envs % num_minibatches:
        raise ValueError(f"num_minibatches ({num_minibatches}) must divide num_envs ({num_envs})")
    mb_size = num_envs // num_minibatches

    def loss(params, normalizer, traj, adv, targets):
        return ppo_loss(
            network, params, normalizer, traj, adv, targets, clipping_epsilon, entropy_cost,
            value_cost, split_ratio,
        )  # fmt: skip

    grad_fn = jax.value_and_grad(loss, has_aux=True)

    def sgd_step(carry, batch):
        params, opt_state, normalizer, weight = carry
        (seq, adv, targets), carry0 = batch
        to_time = lambda x: jnp.swapaxes(x, 0, 1)  # noqa: E731
        traj = jax.tree.map(to_time, seq)._replace(carry0=carry0)
        (_, metrics), grads = grad_fn(params, normalizer, traj, to_time(adv), to_time(targets))
        if value_warmup_steps > 0:  # while the critic warms up, only its gradients count
            grads = critic_only(grads, weight)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state, normalizer, weight), metrics

    def step(ts: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        key, k_roll, k_epochs = jax.random.split(ts.key, 3)
        env_state, carry_end, traj = rollout(
            env,
            network,
            ts.params,
            ts.normalizer,
            ts.env_state,
            ts.carry,
            k_roll,
            unroll_length,
            baseline_metrics,
        )
        _, _, (_, _, _, boot, _) = policy_step(
            network, ts.params, ts.normalizer, carry_end, env_state.obs, env_state.done > 0, None
        )
        adv, targets = compute_gae(
            traj.reward, traj.value, boot, traj.done, traj.truncation, discounting, gae_lambda
        )
        if baseline_obs or baseline_metrics:  # the value targets stay GAE's
            seen = traj.obs[..., jnp.asarray(baseline_obs, jnp.int32)]
            adv = regress_out(adv, jnp.concatenate([seen, traj.baseline], -1), traj.reset)
        # env-major sequences ([B, T, ...]) and start carries ([B, ...]), shuffled by env
        to_env = lambda x: jnp.swapaxes(x, 0, 1)  # noqa: E731
        data = (jax.tree.map(to_env, (traj._replace(carry0=None), adv, targets)), traj.carry0)

        def epoch(c, k):
            perm = jax.random.permutation(k, num_envs)
            split = lambda x: x[perm].reshape(num_minibatches, mb_size, *x.shape[1:])  # noqa: E731
            return jax.lax.scan(sgd_step, c, jax.tree.map(split, data))

        weight = (ts.env_steps >= value_warmup_steps).astype(jnp.float32)
        (params, opt_state, _, _), m = jax.lax.scan(
            epoch,
            (ts.params, ts.opt_state, ts.normalizer, weight),
            jax.random.split(k_epochs, num_updates_per_batch),
        )
        normalizer = ts.normalizer
        if normalize_observations:
            normalizer = running_statistics.update(normalizer, traj.obs)
        metrics = {f"training/{k}": jnp.mean(v) for k, v in m.items()}
        metrics["training/first_approx_kl"] = m["approx_kl"][0, 0]
        metrics["training/reward_per_step"] = jnp.mean(traj.reward)
        new = TrainState(
            params, opt_state, normalizer, env_state, carry_end, key,
            ts.env_steps + num_envs * unroll_length,
        )  # fmt: skip
        return new, metrics

    return step


def critic_only(grads: Any, weight: jax.Array) -> Any:
    """``grads`` with every leaf outside a ``"value"`` subtree scaled by ``weight`` (0 while
    the critic warms up: the policy stays as it is, whether a gradient came from the policy
    and entropy terms or from the value loss through the carry). Raises ValueError for a
    network with no ``"value"`` parameters."""

    def is_value(path) -> bool:
        return any(getattr(k, "key", None) == "value" for k in path)

    paths = [p for p, _ in jax.tree_util.tree_flatten_with_path(grads)[0]]
    if not any(is_value(p) for p in paths):
        raise ValueError(
            "value_warmup_steps needs a network whose critic parameters sit under a 'value' "
            "key (the connectome policies, the feed-forward control)"
        )
    return jax.tree_util.tree_map_with_path(
        lambda path, g: g if is_value(path) else g * weight, grads
    )


def make_evaluator(
    eval_env: Any, network: RecurrentNetwork, num_eval_envs: int, episode_length: int
) -> Callable[[Any, Any, jax.Array], dict[str, jax.Array]]:
    """``evaluate(params, normalizer, key) -> metrics``: one episode per environment with the
    deterministic policy (the squashed mean); ``eval/episode_reward`` is the mean return and
    ``eval/episode_<name>`` the mean over episodes of each env metric's sum over its episode
    (as Brax's evaluator)."""

    def evaluate(params, normalizer, key):
        state = eval_env.reset(jax.random.split(key, num_eval_envs))
        alive = jnp.ones((num_eval_envs,))
        sums = {k: jnp.zeros((num_eval_envs,)) for k, v in state.metrics.items() if v.ndim == 1}

        def step(c, _):
            state, carry, ret, length, alive, sums = c
            carry, action, _ = policy_step(
                network, params, normalizer, carry, state.obs, state.done > 0, None
            )
            nstate = eval_env.step(state, action)
            ret = ret + nstate.reward * alive
            sums = {k: v + nstate.metrics[k] * alive for k, v in sums.items()}
            length = length + alive
            return (nstate, carry, ret, length, alive * (1 - nstate.done), sums), None

        init = (state, network.initial_carry(num_eval_envs), alive * 0, alive * 0, alive, sums)
        (_, _, ret, length, _, sums), _ = jax.lax.scan(step, init, None, length=episode_length)
        return {
            "eval/episode_reward": jnp.mean(ret),
            "eval/episode_reward_std": jnp.std(ret),
            "eval/avg_episode_length": jnp.mean(length),
            **{f"eval/episode_{k}": jnp.mean(v) for k, v in sums.items()},
        }

    return evaluate


def init_params(
    network: RecurrentNetwork, obs_size: int, key: jax.Array | None = None
) -> dict[str, Any]:
    """Fresh ``{"normalizer", "network"}`` parameters (also the template to load a checkpoint
    of :func:`train`'s params into)."""
    key = jax.random.PRNGKey(0) if key is None else key
    normalizer = running_statistics.init_state(specs.Array((obs_size,), jnp.float32))
    return {"normalizer": normalizer, "network": network.init(key, obs_size)}


def make_optimizer(learning_rate: float, max_grad_norm: float) -> optax.GradientTransformation:
    """Adam after global-norm gradient clipping."""
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate))


def training_state(ts: TrainState) -> dict[str, Any]:
    """What a checkpoint keeps of ``ts`` for an exact resume (not the envs or policy state)."""
    return {
        "normalizer": ts.normalizer,
        "network": ts.params,
        "opt_state": ts.opt_state,
        "key": ts.key,
        "env_steps": ts.env_steps,
    }


def init_training_state(
    network: RecurrentNetwork, obs_size: int, learning_rate: float, max_grad_norm: float
) -> dict[str, Any]:
    """A fresh training state of :func:`training_state`'s structure: the template to load a
    checkpoint written by ``checkpoint_fn`` into."""
    start = init_params(network, obs_size)
    opt_state = make_optimizer(learning_rate, max_grad_norm).init(start["network"])
    key = jax.random.PRNGKey(0)
    return {**start, "opt_state": opt_state, "key": key, "env_steps": jnp.zeros((), jnp.int32)}


def train(
    environment: Any,
    num_timesteps: int,
    num_envs: int = 16,
    unroll_length: int = 16,
    num_minibatches: int = 4,
    num_updates_per_batch: int = 4,
    learning_rate: float = 3e-4,
    entropy_cost: float = 1e-3,
    discounting: float = 0.99,
    gae_lambda: float = 0.95,
    clipping_epsilon: float = 0.2,
    max_grad_norm: float = 0.5,
    value_cost: float = 0.5,
    value_warmup_steps: int = 0,
    baseline_obs: tuple[int, ...] = (),
    split_ratio: bool = False,
    baseline_metrics: tuple[str, ...] = (),
    seed: int = 0,
    hidden_size: int = 64,
    recurrent: bool = True,
    network: RecurrentNetwork | None = None,
    normalize_observations: bool = True,
    episode_length: int | None = None,
    action_repeat: int = 1,
    wrap_env_fn: Callable[..., Any] | None = None,
    num_evals: int = 1,
    num_eval_envs: int = 16,
    progress_fn: Callable[[int, dict[str, Any]], None] = lambda *_: None,
    policy_params_fn: Callable[[int, dict[str, Any]], None] = lambda *_: None,
    restore_params: dict[str, Any] | None = None,
    checkpoint_fn: Callable[[int, dict[str, Any]], None] | None = None,
    restore_state: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train a recurrent policy with PPO on a Brax ``environment`` (unbatched ``brax.envs.Env``).

    Args:
        environment: the env; wrapped with ``wrap_env_fn(env, episode_length=, action_repeat=)``
            (default :func:`flyenvs.brax.wrap_for_training`), which must batch it, auto-reset
            it and give a flat ``state.obs``.
        num_timesteps: environment steps to train for (rounded up to whole training steps of
            ``num_envs * unroll_length``).
        episode_length: time limit in steps (default ``environment.episode_length``, else 1000).
        hidden_size, recurrent: of the default :class:`GRUActorCritic` (``recurrent=False``:
            the feed-forward control); ignored when ``network`` is given.
        network: any :class:`RecurrentNetwork` (a connectome controller, say).
        num_evals: evaluations, the first before training (as Brax), each on the same
            ``num_eval_envs`` episodes (one key from ``seed``, a resumed run's as well) with
            the deterministic policy; each calls
            ``progress_fn(env_steps, metrics)``, then ``policy_params_fn(env_steps, params)``
            with ``params`` as returned (to checkpoint with :func:`agents.checkpoints.save`).
        restore_params: ``{"normalizer": ..., "network": ...}`` to start from (e.g. loaded with
            :func:`agents.checkpoints.load_params` against :func:`init_params`); the optimiser
            state restarts.
        checkpoint_fn: called after every evaluation but the first as
            ``checkpoint_fn(env_steps, state)`` with the whole training state
            ``{"normalizer", "network", "opt_state", "key", "env_steps"}`` (template:
            :func:`init_training_state`), to save for an exact resume.
        restore_state: such a state to continue from: parameters, normaliser, Adam moments and
            count, the RNG key and the step count all continue; ``num_timesteps`` counts the
            steps still to train. The environments and the policy state restart (fresh episodes
            drawn from the restored key). Excludes ``restore_params``.
        value_warmup_steps: env steps at the start during which only the critic learns
            (every gradient outside its ``"value"`` parameters zeroed): advantages are then
            computed by a critic that already knows how the return depends on, e.g., the
            command, whose share of the return's variance otherwise hides small policy
            effects (docs/connectome_walk.md).
        split_ratio: clip the latent stage's and the motor action's probability ratios apart
            (:func:`~agents.recurrent_ppo.rollout.ppo_loss`); a network with a latent stage.
        baseline_obs: raw observation columns the advantages are regressed on (a baseline of
            what the critic leaves in them, e.g. Walk's command).
        baseline_metrics: names of the env's ``state.metrics`` the advantages are regressed on
            as well: privileged quantities the policy does not see (e.g. Optomotor's
            ``grating_speed_rad_s``), used only in training.
        Others as in ``brax.training.agents.ppo.train``.

    Returns:
        ``(params, metrics)``: ``params = {"normalizer": ..., "network": ...}`` and the metrics
        of the last evaluation and training step.
    """
    if wrap_env_fn is None:
        from flyenvs.brax import wrap_for_training as wrap_env_fn
    if episode_length is None:
        episode_length = int(getattr(environment, "episode_length", 1000))
    env = wrap_env_fn(environment, episode_length=episode_length, action_repeat=action_repeat)
    if network is None:
        network = GRUActorCritic(environment.action_size, hidden_size, recurrent)
    encoder = getattr(network, "observation_encoder", None)
    if encoder is not None:  # a frozen first stage runs once per env step (encoded.py)
        from agents.recurrent_ppo.encoded import EncodedObservation

        env = EncodedObservation(env, encoder)
        if baseline_obs:
            raise ValueError(
                "baseline_obs needs the env's own observation columns; this "
                "network encodes them (observation_encoder)"
            )
    optimizer = make_optimizer(learning_rate, max_grad_norm)
    if restore_state is not None and restore_params is not None:
        raise ValueError("pass restore_state or restore_params, not both")

    key_init, key_env, key_train, key_eval = jax.random.split(jax.random.PRNGKey(seed), 4)
    if restore_state is not None:  # continue the run's key stream; fresh episodes from it,
        # but the evaluation's episodes stay the run's own, so its curve goes on comparably
        key_train, key_env, _ = jax.random.split(jnp.asarray(restore_state["key"]), 3)
    env_state = jax.jit(env.reset)(jax.random.split(key_env, num_envs))
    obs_size = int(env_state.obs.shape[-1])
    unknown = sorted(set(baseline_metrics) - set(env_state.metrics))
    if unknown:
        raise ValueError(
            f"baseline_metrics {unknown} are not env metrics; valid: {sorted(env_state.metrics)}"
        )
    if any(not 0 <= int(i) < obs_size for i in baseline_obs):
        raise ValueError(f"baseline_obs {tuple(baseline_obs)} must be columns in [0, {obs_size})")
    start = restore_state or restore_params or init_params(network, obs_size, key_init)
    params = start["network"]
    ts = TrainState(
        params=params,
        opt_state=start.get("opt_state", optimizer.init(params)),
        normalizer=start["normalizer"],
        env_state=env_state,
        carry=network.initial_carry(num_envs),
        key=key_train,
        env_steps=jnp.asarray(start.get("env_steps", 0), jnp.int32),
    )
    step = make_training_step(
        env, network, optimizer, num_envs=num_envs, unroll_length=unroll_length,
        num_minibatches=num_minibatches, num_updates_per_batch=num_updates_per_batch,
        entropy_cost=entropy_cost, discounting=discounting, gae_lambda=gae_lambda,
        clipping_epsilon=clipping_epsilon, value_cost=value_cost,
        normalize_observations=normalize_observations, value_warmup_steps=value_warmup_steps,
        baseline_obs=tuple(int(i) for i in baseline_obs), split_ratio=split_ratio,
        baseline_metrics=tuple(baseline_metrics),
    )  # fmt: skip
    n_epochs = max(num_evals - 1, 1)
    per_epoch = math.ceil(num_timesteps / (n_epochs * num_envs * unroll_length))

    @jax.jit
    def train_epoch(ts: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        ts, m = jax.lax.scan(lambda s, _: step(s), ts, None, length=per_epoch)
        return ts, jax.tree.map(jnp.mean, m)

    evaluate = jax.jit(make_evaluator(env, network, num_eval_envs, episode_length))

    def eval_metrics(ts: TrainState, k: jax.Array) -> dict[str, float]:
        return {k_: float(v) for k_, v in evaluate(ts.params, ts.normalizer, k).items()}

    metrics: dict[str, Any] = {}
    if num_evals > 1:
        metrics = eval_metrics(ts, key_eval)
        progress_fn(int(ts.env_steps), metrics)
        policy_params_fn(int(ts.env_steps), {"normalizer": ts.normalizer, "network": ts.params})
    for _ in range(n_epochs):
        ts, train_m = train_epoch(ts)
        metrics = {k: float(np.asarray(v)) for k, v in train_m.items()}
        metrics.update(eval_metrics(ts, key_eval))
        progress_fn(int(ts.env_steps), metrics)
        policy_params_fn(int(ts.env_steps), {"normalizer": ts.normalizer, "network": ts.params})
        if checkpoint_fn is not None:
            checkpoint_fn(int(ts.env_steps), training_state(ts))
    return {"normalizer": ts.normalizer, "network": ts.params}, metrics
