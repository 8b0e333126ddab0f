"""Brax PPO on the MJX flyenvs environments: presets resolved, checkpoints, resume, metrics CSV.

The preset table is :mod:`agents.presets` (re-exported here: ``PRESETS``, ``POLICY_KINDS``,
``preset_name``); :func:`resolve_preset` applies a run's overrides to one.

:func:`train` wraps ``brax.training.agents.ppo.train``: it builds the environment with
``flyenvs.brax.make``, uses :func:`flyenvs.brax.wrap_for_training`, writes an atomic checkpoint
(see :mod:`agents.checkpoints`) at least every ``checkpoint_every`` environment steps, appends
every evaluation to ``metrics.csv`` and saves the resolved config and git revision as
``config.json``. ``resume=True`` restarts from the run's newest valid checkpoint (policy, value and
observation-normaliser parameters, and Adam's moments and count, :mod:`agents.brax_adam`) and
trains the remaining steps.
"""

from __future__ import annotations

import copy
import csv
import functools
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from agents import checkpoints
from agents.presets import POLICY_KINDS, PRESETS, preset_name  # noqa: F401 (re-exported)

#: Physics backends PPO can train on (``flyenvs.brax.make(..., backend=)``).
BACKENDS: tuple[str, ...] = ("mujoco", "mjx")


def default_backend() -> str:
    """The faster backend for this machine: MJX where JAX has an accelerator, else the batched
    C MuJoCo engine (5-6x MJX's env-steps/s on 2 CPU cores, docs/performance.md)."""
    import jax

    return "mjx" if jax.default_backend() != "cpu" else "mujoco"


def resolve_preset(name: str, **overrides: Any) -> dict[str, Any]:
    """A deep copy of preset ``name`` with top-level/section overrides applied.

    ``overrides`` keys: ``num_timesteps``, ``checkpoint_every``, ``seed`` (any ppo.train kwarg of
    the preset), ``env`` (a dict of task config overrides, merged), ``backend``
    (:data:`BACKENDS`; default :func:`default_backend`) or ``threads`` (host threads of the
    ``"mujoco"`` backend, >= 1; default: the CPU count; results do not depend on it) or
    ``init_from`` (a run or checkpoint directory to start from: recurrent policies only; see
    :func:`agents.recurrent_ppo.driver.init_from`; required by presets with ``fine_tunes``).

    Raises:
        KeyError: unknown preset or override (the message lists the valid ones).
    """
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; valid: {sorted(PRESETS)}")
    cfg = copy.deepcopy(PRESETS[name])
    cfg["preset"] = name
    cfg["ppo"].setdefault("seed", 0)
    cfg["backend"] = default_backend()
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ("env", "connectome") and key in cfg:
            cfg[key].update(value)
        elif key == "task":
            from flyenvs.tasks import registry

            registry.spec(value)  # KeyError listing the registered tasks
            cfg["task"] = value
        elif key == "backend":
            if value not in BACKENDS:
                raise ValueError(f"backend must be one of {BACKENDS}, got {value!r}")
            cfg["backend"] = value
        elif key == "threads":
            if int(value) < 1:
                raise ValueError(f"threads must be >= 1, got {value}")
            cfg["threads"] = int(value)
        elif key == "checkpoint_every":
            cfg[key] = int(value)
        elif key == "init_from":
            if cfg.get("policy", "mlp") == "mlp":
                raise ValueError(
                    f"init_from applies to the recurrent trainer's policies "
                    f"{[k for k in POLICY_KINDS if k != 'mlp']}, not to preset {name!r} "
                    "(Brax PPO's MLP)"
                )
            cfg["init_from"] = str(value)
        elif key in cfg["ppo"]:
            cfg["ppo"][key] = type(cfg["ppo"][key])(value)
        else:
            valid = ["task", "backend", "threads", "env", "checkpoint_every", "init_from",
                     *sorted(cfg["ppo"])]  # fmt: skip
            if "connectome" in cfg:
                valid.insert(4, "connectome")
            raise KeyError(f"unknown training option {key!r}; valid: {valid}")
    if cfg.get("fine_tunes") and not cfg.get("init_from"):
        raise ValueError(
            f"preset {name!r} fine-tunes a run of preset {cfg['fine_tunes']!r}: give init_from "
            "(scripts/train.py --init-from RUN)"
        )
    if "threads" in cfg and cfg["backend"] != "mujoco":
        raise ValueError(f"threads applies to backend='mujoco' only, not {cfg['backend']!r}")
    if cfg["checkpoint_every"] < 1 or cfg["ppo"]["num_timesteps"] < 1:
        raise ValueError("checkpoint_every and num_timesteps must be >= 1")
    return cfg


def _steps_per_update(ppo: dict[str, Any]) -> int:
    return ppo["batch_size"] * ppo["num_minibatches"] * ppo["unroll_length"]


class _MetricsCSV:
    """Appends evaluation rows to ``metrics.csv``. The header is the union of the columns seen:
    a row with new columns (the training metrics, absent from the evaluation before training)
    rewrites the file with them, earlier rows left empty there."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fields: list[str] | None = None
        if path.exists():
            with path.open() as f:
                self.fields = next(csv.reader(f), None)

    def write(self, row: dict[str, float]) -> None:
        if self.fields is None:
            self.fields = list(row)
            with self.path.open("w", newline="") as f:
                csv.DictWriter(f, self.fields).writeheader()
        new = [k for k in row if k not in self.fields]
        if new:
            with self.path.open(newline="") as f:
                old = list(csv.DictReader(f))
            self.fields = [*self.fields, *new]
            tmp = self.path.with_suffix(".csv.tmp")
            with tmp.open("w", newline="") as f:
                writer = csv.DictWriter(f, self.fields, restval="")
                writer.writeheader()
                writer.writerows(old)
            tmp.replace(self.path)
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, self.fields, extrasaction="ignore")
            writer.writerow({k: row.get(k, "") for k in self.fields})


def eval_row(step: int, wall_s: float, metrics: dict[str, Any]) -> dict[str, float]:
    """A CSV row from Brax's evaluation metrics (adds per-step means of the episode sums)."""
    row = {"step": float(step), "wall_s": round(wall_s, 2)}
    length = float(metrics.get("eval/avg_episode_length", 0.0)) or 1.0
    for key in sorted(metrics):
        value = np.asarray(metrics[key])
        if value.size == 1:
            row[key] = float(value)
    if "eval/episode_forward_speed_mm_s" in metrics:
        row["eval/mean_forward_speed_mm_s"] = (
            float(metrics["eval/episode_forward_speed_mm_s"]) / length
        )
    return row


def resume_seed(seed: int, start_step: int) -> int:
    """The seed of a run's segment resumed at ``start_step`` (> 0): Brax derives every key from
    its ``seed``, so reusing the run's seed would replay the first segment's env resets and
    action noise. Deterministic in (seed, start_step); a uint32."""
    return int(np.random.SeedSequence([int(seed), int(start_step)]).generate_state(1)[0])


def run_config(run_dir: Path, cfg: dict[str, Any] | None, resume: bool) -> dict[str, Any]:
    """The training config of a run: ``cfg``, or with ``resume`` the one saved in
    ``run_dir/config.json``.

    Raises:
        FileNotFoundError: resuming a run without ``config.json``.
        ValueError: neither ``cfg`` nor ``resume``.
    """
    if resume:
        path = Path(run_dir) / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"cannot resume: {path} does not exist")
        return json.loads(path.read_text())["train"]
    if cfg is None:
        raise ValueError("pass cfg (from resolve_preset) or resume=True")
    return cfg


def restore_latest(run_dir: Path, template: Any = None, optimizer: bool = False) -> tuple[Any, int]:
    """(params or None, start step) to resume ``run_dir`` from: the temporaries of saves killed
    mid-write are removed, then the newest valid checkpoint is read into ``template``
    (:func:`agents.checkpoints.load_latest_valid`; damaged newer ones are skipped with a
    warning on stderr). (None, 0) for a run without checkpoints. With ``optimizer`` the params
    are ``(params, optimizer state dict or None)``."""
    checkpoints.remove_temporaries(run_dir)
    if not checkpoints.list_checkpoints(run_dir):
        return None, 0
    restore, meta, _ = checkpoints.load_latest_valid(
        run_dir, template, warn=_warn, optimizer=optimizer
    )
    return restore, int(meta["step"])


def write_config(run_dir: Path, cfg: dict[str, Any], env: Any, revision: str) -> None:
    """``run_dir/config.json``: the resolved training config, task config and git revision."""
    record = {"train": cfg, "env_config": env.config.to_dict(), "git_revision": revision}
    (run_dir / "config.json").write_text(json.dumps(record, indent=2, default=list))


def observation_meta(env: Any) -> dict[str, Any]:
    """The sizes a policy is rebuilt from: ``observation_size``, ``observation_entries`` (name,
    shape in the flattened order) and ``action_size``."""
    spec = env.task.observation_spec.items()
    return {
        "observation_size": env.task.observation_size,
        "observation_entries": [[k, list(v.shape)] for k, v in spec],
        "action_size": env.action_size,
    }


def n_evals(remaining: int, checkpoint_every: int, steps_per_update: int) -> int:
    """Evaluations (the first before training, one per checkpoint after) for ``remaining``
    steps: a checkpoint at least every ``checkpoint_every`` steps, at most one per update."""
    n_ckpt = max(1, math.ceil(remaining / checkpoint_every))
    return min(n_ckpt, max(1, remaining // steps_per_update)) + 1


class EvalLog:
    """The ``progress_fn`` of a run: each evaluation becomes a ``metrics.csv`` row (step =
    ``offset`` + the trainer's step), is appended to ``summary["evals"]`` and passed to
    ``on_eval(step, row)``; an evaluation at ``skip_step`` is dropped (a resumed state that was
    evaluated when it was saved)."""

    def __init__(
        self,
        run_dir: Path,
        summary: dict[str, Any],
        on_eval: Callable[[int, dict[str, float]], None] | None,
        offset: int = 0,
        skip_step: int | None = None,
    ) -> None:
        self.csv = _MetricsCSV(run_dir / "metrics.csv")
        self.summary, self.on_eval = summary, on_eval
        self.offset, self.skip_step = offset, skip_step
        self.t0 = time.monotonic()

    def __call__(self, step: int, metrics: dict[str, Any]) -> None:
        step = self.offset + step
        if step == self.skip_step:
            return
        row = eval_row(step, time.monotonic() - self.t0, metrics)
        self.csv.write(row)
        self.summary["evals"].append(row)
        if self.on_eval is not None:
            self.on_eval(step, row)


def _warn(message: str) -> None:
    """A resume warning, on stderr (the CLI configures no logging)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def train(
    run_dir: str | Path,
    cfg: dict[str, Any] | None = None,
    resume: bool = False,
    on_eval: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Train (or resume) a PPO run in ``run_dir``. Returns a summary dict.

    Args:
        run_dir: output directory (created).
        cfg: from :func:`resolve_preset`; with ``resume`` it is read from ``run_dir/config.json``.
        resume: continue from the newest valid checkpoint of ``run_dir`` (newer damaged ones
            are skipped with a warning on stderr; none valid raises
            :class:`agents.checkpoints.CheckpointError`).
        on_eval: called as ``on_eval(step, row)`` after each evaluation (progress display).
    """
    run_dir = Path(run_dir)
    cfg = run_config(run_dir, cfg, resume)
    if cfg.get("policy", "mlp") != "mlp":
        from agents.recurrent_ppo import driver

        return driver.train(run_dir, cfg, resume=resume, on_eval=on_eval)

    import jax
    from brax.training.agents.ppo import networks as ppo_networks
    from brax.training.agents.ppo import train as ppo_train

    import flyenvs.brax
    from agents.brax_adam import AdamState

    restore, start_step = restore_latest(run_dir, optimizer=True) if resume else (None, 0)
    restore, adam_state = restore if restore is not None else (None, None)
    if restore is not None and adam_state is None:
        _warn(f"the checkpoint at step {start_step} has no optimizer state (saved before it was "
              "kept): Adam restarts from fresh moments")  # fmt: skip
    adam = AdamState(adam_state, source=f"{run_dir}/checkpoints at step {start_step}")
    run_dir.mkdir(parents=True, exist_ok=True)

    backend = cfg.get("backend", "mjx")  # runs saved before the choice trained on MJX
    env = flyenvs.brax.make(
        cfg["task"], backend=backend, n_threads=cfg.get("threads"), **cfg["env"]
    )
    network = {
        **cfg["network"],
        **observation_meta(env),
        "normalize_observations": cfg["ppo"]["normalize_observations"],
    }
    revision = checkpoints.git_revision()
    if not resume:
        write_config(run_dir, cfg, env, revision)
    meta = {"task": cfg["task"], "env_config": env.config.to_dict(), "network": network}
    meta["backend"] = backend
    meta["git_revision"] = revision

    ppo = dict(cfg["ppo"])
    total = ppo.pop("num_timesteps")
    if start_step:
        ppo["seed"] = resume_seed(ppo.get("seed", 0), start_step)
    remaining = total - start_step
    summary: dict[str, Any] = {"start_step": start_step, "total_steps": total, "evals": []}
    if remaining <= 0:
        summary["final_step"] = start_step
        return summary
    # a resumed segment's first evaluation is of the restored policy, evaluated when it was saved
    skip = start_step if start_step else None
    progress = EvalLog(run_dir, summary, on_eval, offset=start_step, skip_step=skip)

    def save_params(step: int, make_policy: Any, params: Any) -> None:
        if step > 0:
            state = adam.state_dict()
            checkpoints.save(run_dir, start_step + step, params, meta, optimizer_state=state)
            summary["final_step"] = start_step + step

    network_factory = functools.partial(
        ppo_networks.make_ppo_networks,
        policy_hidden_layer_sizes=tuple(network["policy_hidden"]),
        value_hidden_layer_sizes=tuple(network["value_hidden"]),
        init_noise_std=network["init_noise_std"],
    )
    with adam.installed():
        ppo_train.train(
            environment=env,
            num_timesteps=remaining,
            episode_length=env.episode_length,
            wrap_env_fn=flyenvs.brax.wrap_for_training,
            network_factory=network_factory,
            num_evals=n_evals(remaining, cfg["checkpoint_every"], _steps_per_update(ppo)),
            progress_fn=progress,
            policy_params_fn=save_params,
            restore_params=restore,
            **ppo,
        )
    jax.effects_barrier()
    summary["wall_s"] = time.monotonic() - progress.t0
    return summary
