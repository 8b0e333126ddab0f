"""A Brax-style seam: the optic lobe as a pair of pure functions ``(init, apply)``.

``init(params, batch)`` returns grey-adapted voltages [batch, N] (batch = 2 for two eyes);
``apply(params, v, lum)`` advances them by ``substeps`` Euler steps with the eyes' column luminance
``lum`` [batch, 721] (flyvis column order) and returns ``(v, readout)``, the readout being the
voltages of ``readout_types`` at every column, [batch, n_types * 721] (type-major). Both are jit-,
vmap- and grad-compatible; the network's index arrays are closed over as constants.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .network import DEFAULT_DT_S, OpticLobe, OpticLobeParams
from .tuning import T4, T5

#: Default readout: the eight motion detectors T4a-d and T5a-d (8 x 721 = 5,768 values per eye).
MOTION_TYPES = T4 + T5


def type_columns(net: OpticLobe, cell_types: tuple[str, ...]) -> np.ndarray:
    """[n_types * 721] neuron indices of ``cell_types`` at every column (type-major).

    Raises ValueError for a type that does not tile every column (Lawf1, Lawf2)."""
    out = []
    for t in cell_types:
        nodes = np.flatnonzero(net.connectome.node_type == net.type_index(t))
        if len(nodes) != net.n_columns:
            raise ValueError(f"{t} has {len(nodes)} neurons, not one per column ({net.n_columns})")
        out.append(nodes)
    return np.concatenate(out)


def network_factory(
    net: OpticLobe,
    readout_types: tuple[str, ...] = MOTION_TYPES,
    dt_s: float = DEFAULT_DT_S,
    substeps: int = 1,
) -> tuple[Callable, Callable]:
    """Pure ``(init, apply)`` functions for a batch of eyes; see the module docstring."""
    if substeps < 1:
        raise ValueError(f"substeps must be >= 1, got {substeps}")
    readout = jnp.asarray(type_columns(net, tuple(readout_types)))

    def init(params: OpticLobeParams, batch: int = 2) -> jax.Array:
        return net.steady_state(params, dt_s, batch=batch)

    def apply(params: OpticLobeParams, v: jax.Array, lum: jax.Array):
        lum = jnp.asarray(lum, jnp.float32)
        if lum.ndim != 2 or lum.shape[1] != net.n_columns or v.shape[0] != lum.shape[0]:
            raise ValueError(
                f"apply expects v [B, {net.n_neurons}] and lum [B, {net.n_columns}], "
                f"got {v.shape} and {lum.shape}"
            )
        frames = jnp.broadcast_to(lum[:, None], (lum.shape[0], substeps, net.n_columns))
        out = net.simulate(params, frames, dt_s, v0=v)  # [B, substeps, N]
        v_next = out[:, -1]
        return v_next, v_next[:, readout]

    return init, apply
