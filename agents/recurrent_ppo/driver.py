"""Run directories for the recurrent PPO trainer: the connectome (VNC) policy and the GRU.

The same layout, CLI and progress as :mod:`agents.ppo` (``config.json``, ``metrics.csv``,
atomic checkpoints), with what Brax PPO cannot give: a checkpoint holds the whole training
state (parameters, normaliser, Adam's moments and count, the RNG key and the step count;
:func:`agents.recurrent_ppo.train.training_state`), so ``resume=True`` continues the optimiser
and the key stream exactly. Only the environments and the policy state restart (fresh episodes).

``cfg["policy"]``: ``"connectome"`` (:mod:`agents.connectome_walk`, options in
``cfg["connectome"]``, e.g. ``{"trainable": []}`` for a frozen VNC; on a visual task
:mod:`agents.connectome_visual`, the optic lobe's options in
``cfg["connectome"]["optic_lobe"]``), ``"gru"``
(:class:`~agents.recurrent_ppo.networks.GRUActorCritic`) or ``"feedforward"``
(:class:`~agents.recurrent_ppo.networks.MLPActorCritic`, the connectome's MLP control), the
last two with options in ``cfg["network"]``.
``cfg["ppo"]`` holds :func:`agents.recurrent_ppo.train.train`'s keyword arguments.
``cfg["init_from"]`` (optional): a run directory or checkpoint whose parameters and observation
normaliser a new run starts from (:func:`init_from`; fine-tuning with other trainable
parameters, rewards or episodes); the optimiser, key stream and step count start afresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents import checkpoints

#: Recurrent-trainer policies and what builds them (see the module docstring).
POLICIES: tuple[str, ...] = ("connectome", "gru", "feedforward")


def make_network(cfg: dict[str, Any], task: Any, action_size: int) -> Any:
    """The :class:`RecurrentNetwork` of ``cfg["policy"]`` for ``task`` (``env.task``)."""
    from agents import connectome_walk
    from agents.recurrent_ppo.networks import GRUActorCritic, MLPActorCritic

    kind = cfg.get("policy")
    if kind == "connectome":
        options = dict(cfg.get("connectome", {}))
        trainable = options.pop("trainable", None)
        trainable = None if trainable is None else tuple(trainable)
        if "vision" in task.observation_spec:  # eyes -> optic lobe -> the Walk policy
            from agents import connectome_visual

            return connectome_visual.make(task, trainable=trainable, **options)
        return connectome_walk.make(task, trainable=trainable, **options)
    if kind == "gru":
        return GRUActorCritic(action_size, **cfg.get("network", {}))
    if kind == "feedforward":
        options = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg["network"].items()}
        return MLPActorCritic(action_size, **options)
    raise ValueError(f"recurrent policy must be one of {POLICIES}, got {kind!r}")


def network_obs_size(network: Any, obs_size: int) -> int:
    """The observation size the network sees: the env's, or its frozen encoder's output."""
    encoder = getattr(network, "observation_encoder", None)
    return obs_size if encoder is None else int(encoder.encoded_size)


def state_template(network: Any, obs_size: int, ppo: dict[str, Any]) -> dict[str, Any]:
    """The training-state template of ``network`` under the trainer options ``ppo``
    (``cfg["ppo"]``): what a checkpoint of such a run loads into."""
    from agents.recurrent_ppo.train import init_training_state

    return init_training_state(
        network,
        obs_size,
        float(ppo.get("learning_rate", 3e-4)),
        float(ppo.get("max_grad_norm", 0.5)),
    )


def template(meta: dict[str, Any]) -> dict[str, Any]:
    """The training-state template a checkpoint with this ``meta`` loads into."""
    from flyenvs.tasks import registry

    task = registry.make_task(meta["task"], **meta["env_config"])
    cfg = meta["train"]
    network = make_network(cfg, task, task.action_size)
    obs_size = network_obs_size(network, int(meta["network"]["observation_size"]))
    return state_template(network, obs_size, cfg["ppo"])


def init_from(
    source: str | Path, network: Any, obs_size: int, cfg: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``({"normalizer", "network"}, meta)`` of ``source`` (a run directory: its newest valid
    checkpoint; or one checkpoint directory), read into ``network``'s parameter structure: the
    start of a run that fine-tunes another.

    Raises:
        FileNotFoundError: no checkpoint at ``source``.
        CheckpointError: the checkpoint is damaged, is of another task or policy, or its
            parameters do not fit ``network`` (another readout, circuit or observation size).
    """
    template = state_template(network, obs_size, cfg["ppo"])
    state, meta = checkpoints.load_run_or_checkpoint(source, template)
    want = (cfg["task"], cfg["policy"])
    if (meta.get("task"), meta.get("policy")) != want:
        raise checkpoints.CheckpointError(
            f"init_from {source}: a {meta.get('policy')} policy for {meta.get('task')}, "
            f"not a {want[1]} policy for {want[0]}"
        )
    return {"normalizer": state["normalizer"], "network": state["network"]}, meta


def run_meta(cfg: dict[str, Any], env: Any, revision: str = "") -> dict[str, Any]:
    """The metadata every checkpoint of a recurrent run carries (what :func:`template` and
    ``agents.policies.load`` rebuild the policy from)."""
    from agents.ppo import observation_meta

    return {
        "task": cfg["task"],
        "env_config": env.config.to_dict(),
        "policy": cfg["policy"],
        "train": cfg,
        "network": observation_meta(env),
        "backend": cfg.get("backend", "mujoco"),
        "git_revision": revision,
    }


def train(
    run_dir: str | Path,
    cfg: dict[str, Any],
    resume: bool = False,
    on_eval: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Train (or resume) a recurrent run in ``run_dir``; called by :func:`agents.ppo.train`
    (the entry point), which passes the run's config (with ``resume``, the saved one)."""
    import jax

    import flyenvs.brax
    from agents.ppo import EvalLog, n_evals, restore_latest, write_config
    from agents.recurrent_ppo.train import train as recurrent_train

    run_dir = Path(run_dir)
    restore, start_step = restore_latest(run_dir, template) if resume else (None, 0)
    run_dir.mkdir(parents=True, exist_ok=True)

    backend = cfg.get("backend", "mujoco")
    env = flyenvs.brax.make(
        cfg["task"], backend=backend, n_threads=cfg.get("threads"), **cfg["env"]
    )
    network = make_network(cfg, env.task, env.action_size)
    start_params = None
    if cfg.get("init_from") and restore is None:  # a resumed run continues its own state
        obs_size = network_obs_size(network, env.task.observation_size)
        start_params, source = init_from(cfg["init_from"], network, obs_size, cfg)
        cfg = {**cfg, "init_from_step": int(source["step"])}
    revision = checkpoints.git_revision()
    if not resume:
        write_config(run_dir, cfg, env, revision)
    meta = run_meta(cfg, env, revision)

    ppo = dict(cfg["ppo"])
    total = ppo.pop("num_timesteps")
    remaining = total - start_step
    summary: dict[str, Any] = {"start_step": start_step, "total_steps": total, "evals": []}
    if remaining <= 0:
        summary["final_step"] = start_step
        return summary
    # the trainer reports absolute steps; a resumed state was evaluated when it was saved
    progress = EvalLog(run_dir, summary, on_eval, skip_step=start_step if restore else None)

    def save(step: int, state: dict[str, Any]) -> None:
        checkpoints.save(run_dir, step, state, meta)
        summary["final_step"] = step

    per_update = ppo["num_envs"] * ppo["unroll_length"]
    if "baseline_obs" in ppo:  # names in the config, columns for the trainer
        from flyenvs.tasks.base import observation_columns

        ppo["baseline_obs"] = observation_columns(env.task.observation_spec, ppo["baseline_obs"])
    recurrent_train(
        env,
        num_timesteps=remaining,
        network=network,
        episode_length=env.episode_length,
        num_evals=n_evals(remaining, cfg["checkpoint_every"], per_update),
        progress_fn=progress,
        checkpoint_fn=save,
        restore_state=restore,
        restore_params=start_params,
        **ppo,
    )
    jax.effects_barrier()
    summary["wall_s"] = time.monotonic() - progress.t0
    return summary
