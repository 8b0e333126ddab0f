"""The 50 task-trained flyvis models (flyvis 1.2.0 ensemble ``flow/0000``; Lappalainen et al. 2024).

Stored in ``assets/connectome/flyvis_ensemble_1.2.0.npz`` (float32 [50, 734], 137 KB) by
``scripts/import_connectome.py`` from the ``flycns`` 0.7.0 wheel (MIT). Model k is flyvis's network
``flow/0000/{k:03d}`` (its best checkpoint).
"""

from __future__ import annotations

import zipfile

import jax.numpy as jnp
import numpy as np

from flyenvs._paths import asset_path

from .network import OpticLobeParams, params_from_vector

ENSEMBLE_FILE = "flyvis_ensemble_1.2.0.npz"
N_MODELS = 50
#: Parameters per model: 65 biases, 65 time constants, 604 type-pair strengths.
N_PARAMS = 734
N_CELL_TYPES = 65


def load_ensemble() -> tuple[np.ndarray, tuple[str, ...]]:
    """All models as float32 [50, 734] (bias | time_const_s | strength) and the cell types.

    Raises:
        FileNotFoundError: the file is missing (the message names it).
        ValueError: it is not an npz archive, lacks ``params`` or ``cell_types``, or they do not
            have shapes [50, 734] and [65] with finite parameters (the message names the file).
    """
    path = asset_path("connectome", ENSEMBLE_FILE)
    try:
        with np.load(path, allow_pickle=False) as data:
            params, cell_types = np.asarray(data["params"]), np.asarray(data["cell_types"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(
            f"corrupt optic-lobe ensemble {path}: not an npz archive holding params and "
            f"cell_types ({type(err).__name__}: {err}); re-clone or run "
            "scripts/import_connectome.py"
        ) from err
    shapes = (params.shape, cell_types.shape)
    if shapes != ((N_MODELS, N_PARAMS), (N_CELL_TYPES,)) or params.dtype.kind != "f":
        raise ValueError(
            f"corrupt optic-lobe ensemble {path}: params {params.shape} {params.dtype} and "
            f"cell_types {cell_types.shape}, expected float [{N_MODELS}, {N_PARAMS}] and "
            f"[{N_CELL_TYPES}]"
        )
    if not np.all(np.isfinite(params)):
        raise ValueError(f"corrupt optic-lobe ensemble {path}: params hold NaN or inf")
    return params.astype(np.float32), tuple(str(t) for t in cell_types)


def load_pretrained(k: int = 0) -> OpticLobeParams:
    """Parameters of ensemble model ``k`` (0-49) as :class:`OpticLobeParams` (jax arrays)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"model index must be an int in [0, {N_MODELS}), got {k!r}")
    if not 0 <= k < N_MODELS:
        raise ValueError(f"model index must be in [0, {N_MODELS}), got {k}")
    params, _ = load_ensemble()
    return params_from_vector(jnp.asarray(params[int(k)]))
