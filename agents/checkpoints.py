"""PPO checkpoints: flax-serialized parameters + JSON metadata, written atomically.

Layout of a run directory::

    RUN_DIR/config.json                      resolved config, preset, git revision
    RUN_DIR/metrics.csv                      one row per evaluation
    RUN_DIR/checkpoints/step_000000012800/   one checkpoint (params.msgpack, meta.json)

A checkpoint is written to a temporary sibling directory and renamed into place, so a
checkpoint directory that exists is complete (an interrupted run leaves only ``.tmp-*``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from brax.training.acme import running_statistics, specs
from brax.training.agents.ppo import networks as ppo_networks
from flax import serialization

_STEP_DIR = re.compile(r"^step_(\d{12})$")
PARAMS_FILE = "params.msgpack"
META_FILE = "meta.json"


def git_revision() -> str:
    """``git describe``-like revision of the source tree (``<sha>[-dirty]`` or ``unknown``)."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def make_networks(network: dict[str, Any]) -> ppo_networks.PPONetworks:
    """PPO networks from a checkpoint's ``network`` metadata (sizes, normalisation, noise)."""
    normalize = running_statistics.normalize if network["normalize_observations"] else None
    kwargs = {} if normalize is None else {"preprocess_observations_fn": normalize}
    return ppo_networks.make_ppo_networks(
        network["observation_size"],
        network["action_size"],
        policy_hidden_layer_sizes=tuple(network["policy_hidden"]),
        value_hidden_layer_sizes=tuple(network["value_hidden"]),
        init_noise_std=network["init_noise_std"],
        **kwargs,
    )


def _template(network: dict[str, Any]) -> tuple[Any, Any, Any]:
    nets = make_networks(network)
    key_policy, key_value = jax.random.split(jax.random.PRNGKey(0))
    obs_spec = specs.Array((network["observation_size"],), jnp.dtype("float32"))
    return (
        running_statistics.init_state(obs_spec),
        nets.policy_network.init(key_policy),
        nets.value_network.init(key_value),
    )


def save(run_dir: str | Path, step: int, params: Any, meta: dict[str, Any]) -> Path:
    """Write ``params`` (normalizer, policy, value) and ``meta`` (must hold ``network``)
    as ``RUN_DIR/checkpoints/step_<step>``, atomically. Returns the checkpoint path."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{int(step):012d}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        (tmp / PARAMS_FILE).write_bytes(serialization.to_bytes(jax.device_get(params)))
        (tmp / META_FILE).write_text(json.dumps({**meta, "step": int(step)}, indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if _STEP_DIR.match(p.name) and p.is_dir())


def resolve(path: str | Path) -> Path:
    """A checkpoint directory from a checkpoint or run directory (its latest checkpoint).

    Raises:
        FileNotFoundError: nothing usable at ``path`` (the message says what was expected).
    """
    path = Path(path)
    if (path / PARAMS_FILE).is_file() and (path / META_FILE).is_file():
        return path
    found = list_checkpoints(path)
    if not found:
        raise FileNotFoundError(
            f"no checkpoint at {path}: expected a run directory with checkpoints/step_* or a "
            f"checkpoint directory holding {PARAMS_FILE} and {META_FILE}"
        )
    return found[-1]


def load(path: str | Path) -> tuple[tuple[Any, Any, Any], dict[str, Any]]:
    """((normalizer, policy, value) params, meta) of a checkpoint or a run's latest one."""
    return load_params(path, lambda meta: _template(meta["network"]))


def load_params(path: str | Path, template: Any) -> tuple[Any, dict[str, Any]]:
    """(params, meta) of a checkpoint or a run's latest one, read into ``template`` (a pytree
    of the saved structure, or a function ``meta -> template``): for trainers other than Brax
    PPO (e.g. :func:`agents.recurrent_ppo.train.init_params`)."""
    ckpt = resolve(path)
    try:
        meta = json.loads((ckpt / META_FILE).read_text())
        template = template(meta) if callable(template) else template
        params = serialization.from_bytes(template, (ckpt / PARAMS_FILE).read_bytes())
    except (KeyError, ValueError, TypeError) as err:
        raise ValueError(f"corrupt checkpoint {ckpt}: {err}") from err
    return params, meta
