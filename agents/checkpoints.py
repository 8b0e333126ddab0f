"""PPO checkpoints: flax-serialized parameters + JSON metadata, written atomically.

Layout of a run directory::

    RUN_DIR/config.json                      resolved config, preset, git revision
    RUN_DIR/metrics.csv                      one row per evaluation
    RUN_DIR/checkpoints/step_000000012800/   one checkpoint (params.msgpack, meta.json)

A checkpoint is written to a temporary sibling directory and renamed into place, so a
checkpoint directory that exists is complete (an interrupted run leaves only ``.tmp-*``, which
:func:`list_checkpoints` never returns and :func:`remove_temporaries` deletes). ``meta.json``
holds ``params_sha256``, the SHA-256 of ``params.msgpack``, so a truncated or altered file is
detected on load (checkpoints written before the checksum load without the check). Every defect
found on load raises :class:`CheckpointError` naming the file and what is wrong;
:func:`load_latest_valid` skips such checkpoints (with a warning) for ``--resume``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from brax.training.acme import running_statistics, specs
from brax.training.agents.ppo import networks as ppo_networks
from flax import serialization

_STEP_DIR = re.compile(r"^step_(\d{12})$")
PARAMS_FILE = "params.msgpack"
#: The optimizer's state (Brax PPO runs: Adam's moments and count; see agents.brax_adam).
OPTIMIZER_FILE = "optimizer.msgpack"
META_FILE = "meta.json"
TMP_PREFIX = ".tmp-"
#: Keys of a checkpoint's ``network`` metadata that :func:`make_networks` reads.
NETWORK_KEYS = (
    "observation_size",
    "action_size",
    "policy_hidden",
    "value_hidden",
    "init_noise_std",
    "normalize_observations",
)
_log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """A checkpoint that exists but cannot be used: missing or unreadable files, a checksum
    mismatch, metadata without the expected keys, or parameters of another structure. The
    message names the file and the defect."""


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


def save(
    run_dir: str | Path,
    step: int,
    params: Any,
    meta: dict[str, Any],
    optimizer_state: dict[str, Any] | None = None,
) -> Path:
    """Write ``params`` (normalizer, policy, value) and ``meta`` (must hold ``network``)
    as ``RUN_DIR/checkpoints/step_<step>``, atomically. Returns the checkpoint path.

    ``optimizer_state`` (a flax state dict) goes to ``optimizer.msgpack``, its SHA-256 to
    ``meta.json``'s ``optimizer_sha256``."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{int(step):012d}"
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=root))
    try:
        blob = serialization.to_bytes(jax.device_get(params))
        record = {**meta, "step": int(step), "params_sha256": hashlib.sha256(blob).hexdigest()}
        if optimizer_state is not None:
            opt_blob = serialization.msgpack_serialize(jax.device_get(optimizer_state))
            record["optimizer_sha256"] = hashlib.sha256(opt_blob).hexdigest()
            _write_synced(tmp / OPTIMIZER_FILE, opt_blob)
        _write_synced(tmp / PARAMS_FILE, blob)
        _write_synced(tmp / META_FILE, json.dumps(record, indent=2).encode())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def remove_temporaries(run_dir: str | Path) -> list[Path]:
    """Delete the ``.tmp-*`` directories a save killed mid-write left in ``RUN_DIR/checkpoints``
    (call only while no other process saves into this run). Returns the removed paths."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    removed = [p for p in root.iterdir() if p.name.startswith(TMP_PREFIX) and p.is_dir()]
    for p in removed:
        shutil.rmtree(p, ignore_errors=True)
    return removed


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


def read_meta(ckpt: str | Path) -> dict[str, Any]:
    """The ``meta.json`` of checkpoint directory ``ckpt``, checked to be a JSON object with an
    integer ``step``. Raises :class:`CheckpointError` naming the file and the defect."""
    file = Path(ckpt) / META_FILE
    if not file.is_file():
        raise CheckpointError(f"corrupt checkpoint {ckpt}: {file} is missing")
    try:
        meta = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(
            f"corrupt checkpoint {ckpt}: {file} is not valid JSON ({err})"
        ) from err
    if not isinstance(meta, dict):
        raise CheckpointError(f"corrupt checkpoint {ckpt}: {file} is not a JSON object")
    if not isinstance(meta.get("step"), int):
        raise CheckpointError(f"corrupt checkpoint {ckpt}: {file} lacks an integer 'step'")
    return meta


def _check_network(ckpt: Path, meta: dict[str, Any]) -> dict[str, Any]:
    network = meta.get("network")
    network = network if isinstance(network, dict) else {}
    missing = [k for k in NETWORK_KEYS if k not in network]
    if missing:
        raise CheckpointError(
            f"corrupt checkpoint {ckpt}: {ckpt / META_FILE} 'network' lacks {list(missing)}"
        )
    return network


def _check_structure(ckpt: Path, template: Any, params: Any) -> None:
    """Same tree and leaf shapes as ``template`` (flax restores arrays of any shape; dtypes
    are not compared: the template's scalars are float64 where the trained ones are float32)."""
    file = ckpt / PARAMS_FILE
    want, want_tree = jax.tree.flatten(template)
    got, got_tree = jax.tree.flatten(params)
    if want_tree != got_tree:
        raise CheckpointError(
            f"corrupt checkpoint {ckpt}: {file} does not match the expected structure "
            f"({got_tree} != {want_tree})"
        )
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(template)[0]]
    for path, a, b in zip(paths, want, got, strict=True):
        if np.shape(a) != np.shape(b):
            raise CheckpointError(
                f"corrupt checkpoint {ckpt}: {file} leaf {path} has shape {list(np.shape(b))}, "
                f"expected {list(np.shape(a))}"
            )


def load(path: str | Path) -> tuple[tuple[Any, Any, Any], dict[str, Any]]:
    """((normalizer, policy, value) params, meta) of a checkpoint or a run's latest one.

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
        CheckpointError: the checkpoint is damaged (see :func:`load_params`) or its ``network``
            metadata lacks one of :data:`NETWORK_KEYS`.
    """
    ckpt = resolve_dir(path)
    return load_params(ckpt, lambda meta: _template(_check_network(ckpt, meta)))


def load_params(path: str | Path, template: Any) -> tuple[Any, dict[str, Any]]:
    """(params, meta) of a checkpoint or a run's latest one, read into ``template`` (a pytree
    of the saved structure, or a function ``meta -> template``): for trainers other than Brax
    PPO (e.g. :func:`agents.recurrent_ppo.train.init_params`).

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
        CheckpointError: a file is missing, ``meta.json`` is not a JSON object with an integer
            ``step``, ``params.msgpack`` fails its ``params_sha256`` or cannot be decoded, or the
            parameters do not match ``template`` (tree, leaf shapes).
    """
    ckpt = resolve_dir(path)
    meta = read_meta(ckpt)
    state = _read_blob(ckpt, PARAMS_FILE, meta.get("params_sha256"), "params_sha256")
    try:
        template = template(meta) if callable(template) else template
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(
            f"corrupt checkpoint {ckpt}: {ckpt / META_FILE} does not describe the parameters "
            f"({type(err).__name__}: {err})"
        ) from err
    try:
        params = serialization.from_state_dict(template, state)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(
            f"corrupt checkpoint {ckpt}: {ckpt / PARAMS_FILE} does not match the expected "
            f"structure ({type(err).__name__}: {err})"
        ) from err
    _check_structure(ckpt, template, params)
    return params, meta


def read_optimizer_state(ckpt: str | Path) -> dict[str, Any] | None:
    """The optimizer state dict saved in checkpoint directory ``ckpt``, or None for one saved
    without it (``meta.json`` has no ``optimizer_sha256``: checkpoints written before it, or
    by trainers that keep the optimizer in ``params.msgpack``).

    Raises:
        CheckpointError: ``meta.json`` is damaged, or ``optimizer.msgpack`` is missing, fails
            its checksum or cannot be decoded.
    """
    ckpt = Path(ckpt)
    digest = read_meta(ckpt).get("optimizer_sha256")
    if digest is None:
        return None
    state = _read_blob(ckpt, OPTIMIZER_FILE, digest, "optimizer_sha256")
    if not isinstance(state, dict):
        raise CheckpointError(
            f"corrupt checkpoint {ckpt}: {ckpt / OPTIMIZER_FILE} does not hold a state dict"
        )
    return state


def _read_blob(ckpt: Path, name: str, digest: str | None, digest_key: str) -> Any:
    """The msgpack state in ``ckpt / name``, checked against its SHA-256 ``digest`` (the
    ``meta.json`` entry ``digest_key``; None: no check, as in checkpoints written before it).
    Raises :class:`CheckpointError` for a missing, altered or undecodable file."""
    file = ckpt / name
    if not file.is_file():
        raise CheckpointError(f"corrupt checkpoint {ckpt}: {file} is missing")
    blob = file.read_bytes()
    if digest is not None and hashlib.sha256(blob).hexdigest() != digest:
        raise CheckpointError(
            f"corrupt checkpoint {ckpt}: {file} fails its checksum ({digest_key} in "
            f"{META_FILE}); the file is truncated or altered ({len(blob)} bytes)"
        )
    try:
        return serialization.msgpack_restore(blob)
    except Exception as err:  # msgpack raises its own exception types on truncated input
        raise CheckpointError(
            f"corrupt checkpoint {ckpt}: {file} cannot be decoded ({type(err).__name__}: {err})"
        ) from err


def resolve_dir(path: str | Path) -> Path:
    """Like :func:`resolve`, but a ``step_*`` directory counts as a checkpoint even with files
    missing (so that loading it names the missing file rather than 'no checkpoint')."""
    path = Path(path)
    if _STEP_DIR.match(path.name) and path.is_dir():
        return path
    return resolve(path)


def load_run_or_checkpoint(path: str | Path, template: Any) -> tuple[Any, dict[str, Any]]:
    """``(params, meta)`` of ``path``: a run directory's newest valid checkpoint
    (:func:`load_latest_valid`) or, for any other path, that checkpoint (:func:`load_params`).

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
        CheckpointError: the checkpoint (or every one of the run's) is damaged or does not fit
            ``template``.
    """
    path = Path(path)
    if (path / "checkpoints").is_dir():
        params, meta, _ = load_latest_valid(path, template)
        return params, meta
    return load_params(path, template)


def load_latest_valid(
    run_dir: str | Path,
    template: Any = None,
    warn: Callable[[str], None] | None = None,
    optimizer: bool = False,
) -> tuple[Any, dict[str, Any], list[tuple[Path, str]]]:
    """(params, meta, skipped) of the newest checkpoint of ``run_dir`` that loads and passes
    every check; ``skipped`` lists the newer ``(checkpoint, reason)`` pairs passed over, each
    also reported through ``warn`` (default: a ``logging`` warning).

    Args:
        template: as for :func:`load_params`; ``None`` for Brax PPO params (:func:`load`).
        optimizer: also read the checkpoint's ``optimizer.msgpack``
            (:func:`read_optimizer_state`; a damaged one makes the checkpoint invalid) and
            return ``(params, optimizer_state or None)`` in place of ``params``.

    Raises:
        FileNotFoundError: the run has no checkpoint.
        CheckpointError: none of its checkpoints is valid (the message lists each defect).
    """
    warn = warn or _log.warning
    found = list_checkpoints(run_dir)
    if not found:
        raise FileNotFoundError(f"no checkpoint in {Path(run_dir) / 'checkpoints'}")
    skipped: list[tuple[Path, str]] = []
    for ckpt in reversed(found):
        try:
            if template is None:
                params, meta = load(ckpt)
            else:
                params, meta = load_params(ckpt, template)
            if optimizer:
                params = (params, read_optimizer_state(ckpt))
        except CheckpointError as err:
            skipped.append((ckpt, str(err)))
            warn(f"skipping checkpoint {ckpt.name}: {err}")
            continue
        return params, meta, skipped
    reasons = "; ".join(reason for _, reason in skipped)
    raise CheckpointError(f"no valid checkpoint in {Path(run_dir) / 'checkpoints'}: {reasons}")
