"""The 50 task-trained flyvis models (flyvis 1.2.0 ensemble ``flow/0000``; Lappalainen et al. 2024).

Stored in ``assets/connectome/flyvis_ensemble_1.2.0.npz`` (float32 [50, 734], 137 KB) by
``scripts/import_connectome.py`` from the ``flycns`` 0.7.0 wheel (MIT). Model k is flyvis's network
``flow/0000/{k:03d}`` (its best checkpoint).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from flyenvs._paths import asset_path

from .network import OpticLobeParams, params_from_vector

ENSEMBLE_FILE = "flyvis_ensemble_1.2.0.npz"
N_MODELS = 50


def load_ensemble() -> tuple[np.ndarray, tuple[str, ...]]:
    """All models as float32 [50, 734] (bias | time_const_s | strength) and the cell types."""
    with np.load(asset_path("connectome", ENSEMBLE_FILE), allow_pickle=False) as data:
        return data["params"].astype(np.float32), tuple(str(t) for t in data["cell_types"])


def load_pretrained(k: int = 0) -> OpticLobeParams:
    """Parameters of ensemble model ``k`` (0-49) as :class:`OpticLobeParams` (jax arrays)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"model index must be an int in [0, {N_MODELS}), got {k!r}")
    if not 0 <= k < N_MODELS:
        raise ValueError(f"model index must be in [0, {N_MODELS}), got {k}")
    params, _ = load_ensemble()
    return params_from_vector(jnp.asarray(params[int(k)]))
