"""Synaptic input ``s = W relu(v)`` over the 1,513,231 optic-lobe edges, in pure JAX.

The edges are convolutional: every edge of a filter row (source type, target type, du, dv) carries
the same weight, and connects the source neuron at column (u - du, v - dv) to the target at (u, v).
Two exact forms are used, chosen by batch size (measurements in docs/performance.md):

- Window form (batch <= ``WINDOW_MAX_BATCH``): the rectified voltages are laid out on a
  zero-padded [65 types, 31 + 2P, 31 + 2P] grid of axial columns (P = largest offset, 6; columns
  outside the hexagon and off the Lawf sub-lattice stay 0). One ``lax.gather`` takes, for each of
  the 2,355 filter rows, the 31 x 31 window of its source type shifted by its offset; the windows
  are scaled by the row weights and summed per target type (``segment_sum`` over rows sorted by
  target). No per-edge index at all; faster than scipy's CSR mat-vec over the same edges.
- BCSR (``jax.experimental.sparse``) for larger batches, and at every batch for a rewired graph
  (``Connectome.convolutional`` False): rows = postsynaptic neurons, edges sorted
  by (target, source), the batch as dense columns.

Both hold filter-row indices, not weights: the weights ``sign * n_syn * max(strength, 0)`` come
from the 604 trainable strengths (:func:`row_weights`), so gradients reach the parameters.
:func:`make_ell` builds a third form (gather + row sums in in-degree buckets) for the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.experimental import sparse as jsparse

from .connectome import Connectome

#: Largest batch computed column by column with the window form; larger batches use BCSR.
WINDOW_MAX_BATCH = 4

_WINDOW_DIMS = lax.GatherDimensionNumbers(
    offset_dims=(1, 2), collapsed_slice_dims=(0,), start_index_map=(0, 1, 2)
)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class SynapseTables:
    """Index arrays (jax leaves) plus static layout metadata.

    Shapes: N neurons, E edges, R filter rows, K cell types, G = 2 * extent + 1 grid side.
    """

    grid_index: jax.Array  # [N] int32 flat index of each neuron in the [K, G, G] grid
    win_start: jax.Array  # [R, 3] int32 (source type, row start, col start) in the padded grid
    win_target: jax.Array  # [R] int32 target type, ascending
    win_row: jax.Array  # [R] int32 filter row of each window (rows sorted by target type)
    tr_start: jax.Array  # [R, 3] int32 transposed windows (target type, starts for -du, -dv)
    tr_target: jax.Array  # [R] int32 source type, ascending (the transpose's "target")
    tr_perm: jax.Array  # [R] int32 window index of each transposed window
    csr_indices: jax.Array  # [E] int32 presynaptic neuron, edges sorted by (target, source)
    csr_indptr: jax.Array  # [N + 1] int32
    csr_row: jax.Array  # [E] int32 filter row of each sorted edge
    row_sign_n_syn: jax.Array  # [R] float32 sign * synapse count of each filter row
    row_pair: jax.Array  # [R] int32 type pair of each filter row
    n_neurons: int = field(metadata={"static": True})
    n_types: int = field(metadata={"static": True})
    grid: int = field(metadata={"static": True})  # G
    pad: int = field(metadata={"static": True})  # P
    #: False: the window form does not hold (a rewired graph); BCSR at every batch size.
    convolutional: bool = field(default=True, metadata={"static": True})


def make_tables(c: Connectome) -> SynapseTables:
    """Build the window and BCSR forms from the compiled connectome (numpy, once)."""
    n = c.n_neurons
    order = np.lexsort((c.edge_source, c.edge_target))
    src, tgt, row = c.edge_source[order], c.edge_target[order], c.edge_row[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(tgt, minlength=n))]).astype(np.int32)

    g = 2 * c.extent + 1
    pad = int(max(np.abs(c.row_du).max(), np.abs(c.row_dv).max()))
    grid_index = c.node_type * g * g + (c.node_u + c.extent) * g + (c.node_v + c.extent)
    by_target = np.argsort(c.pair_target[c.row_pair], kind="stable")
    start = np.stack(
        [
            c.pair_source[c.row_pair][by_target],
            pad - c.row_du[by_target],
            pad - c.row_dv[by_target],
        ],
        axis=1,
    )
    # W^T (for the backward pass): each window read from the target type at the opposite offset,
    # summed into the source type.
    src_of_win = start[:, 0]
    tr_perm = np.argsort(src_of_win, kind="stable")
    tgt_of_win = c.pair_target[c.row_pair][by_target]
    tr_start = np.stack(
        [tgt_of_win[tr_perm], 2 * pad - start[tr_perm, 1], 2 * pad - start[tr_perm, 2]], axis=1
    )
    sign_n_syn = (c.pair_sign[c.row_pair] * c.row_n_syn).astype(np.float32)
    return SynapseTables(
        grid_index=jnp.asarray(grid_index.astype(np.int32)),
        win_start=jnp.asarray(start.astype(np.int32)),
        win_target=jnp.asarray(c.pair_target[c.row_pair][by_target].astype(np.int32)),
        win_row=jnp.asarray(by_target.astype(np.int32)),
        tr_start=jnp.asarray(tr_start.astype(np.int32)),
        tr_target=jnp.asarray(src_of_win[tr_perm].astype(np.int32)),
        tr_perm=jnp.asarray(tr_perm.astype(np.int32)),
        csr_indices=jnp.asarray(src.astype(np.int32)),
        csr_indptr=jnp.asarray(indptr),
        csr_row=jnp.asarray(row.astype(np.int32)),
        row_sign_n_syn=jnp.asarray(sign_n_syn),
        row_pair=jnp.asarray(c.row_pair),
        n_neurons=n,
        n_types=len(c.cell_types),
        grid=g,
        pad=pad,
        convolutional=bool(c.convolutional),
    )


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class EdgeWeights:
    """Weights in the layout a batch size uses (the other field is an empty array)."""

    win: jax.Array  # [R] float32 row weights in window order
    csr: jax.Array  # [E] float32 per sorted edge


def row_weights(t: SynapseTables, strength: jax.Array) -> jax.Array:
    """[R] weight of each filter row: sign * n_syn * max(strength, 0) (flyvis's clamp)."""
    return t.row_sign_n_syn * jnp.maximum(strength, 0.0)[t.row_pair]


def edge_weights(t: SynapseTables, strength: jax.Array, batch: int) -> EdgeWeights:
    """Weights for a batch of ``batch`` columns, computed once per simulation."""
    w_row = row_weights(t, strength)
    empty = jnp.zeros((0,), w_row.dtype)
    if batch <= WINDOW_MAX_BATCH and t.convolutional:
        return EdgeWeights(win=w_row[t.win_row], csr=empty)
    return EdgeWeights(win=empty, csr=w_row[t.csr_row])


def _to_grid(t: SynapseTables, a: jax.Array) -> jax.Array:
    """[N] -> [K, G, G] (0 where a type has no neuron)."""
    k, g = t.n_types, t.grid
    grid = jnp.zeros((k * g * g,), a.dtype).at[t.grid_index].set(a, unique_indices=True)
    return grid.reshape(k, g, g)


def _windows(t: SynapseTables, grid: jax.Array, start: jax.Array) -> jax.Array:
    """[R, G, G] shifted windows of the zero-padded grid."""
    g, p = t.grid, t.pad
    padded = jnp.pad(grid, ((0, 0), (p, p), (p, p)))
    return lax.gather(padded, start, _WINDOW_DIMS, slice_sizes=(1, g, g), mode="promise_in_bounds")


def _apply_windows(t, start, segment, w, a):
    out = jax.ops.segment_sum(
        w[:, None, None] * _windows(t, _to_grid(t, a), start),
        segment,
        t.n_types,
        indices_are_sorted=True,
    )
    return out.reshape(-1)[t.grid_index]


@jax.custom_vjp
def window_input(t: SynapseTables, w_win: jax.Array, a: jax.Array) -> jax.Array:
    """[N] synaptic input ``W a`` for one rectified activity vector ``a`` [N] (window form).

    The backward pass applies ``W^T`` in the same window form (transposed filter table) and
    reduces the window products for the weights, instead of scattering windows.
    """
    return _apply_windows(t, t.win_start, t.win_target, w_win, a)


def _window_fwd(t, w_win, a):
    return window_input(t, w_win, a), (t, w_win, a)


def _window_bwd(res, g_out):
    t, w_win, a = res
    g_a = _apply_windows(t, t.tr_start, t.tr_target, w_win[t.tr_perm], g_out)
    g_grid = _to_grid(t, g_out)[t.win_target]  # [R, G, G] cotangent of each window's target
    g_w = jnp.sum(_windows(t, _to_grid(t, a), t.win_start) * g_grid, axis=(1, 2))
    g_t = jax.tree_util.tree_map(
        lambda x: (
            np.zeros(x.shape, jax.dtypes.float0)
            if jnp.issubdtype(x.dtype, jnp.integer)
            else jnp.zeros_like(x)
        ),
        t,
    )
    return g_t, g_w, g_a


window_input.defvjp(_window_fwd, _window_bwd)


def synaptic_input(t: SynapseTables, w: EdgeWeights, v: jax.Array) -> jax.Array:
    """``sum_j w_ij relu(v_j)`` for neuron-major voltages ``v`` [N, B]; returns [N, B]."""
    a = jax.nn.relu(v)
    batch = v.shape[1]
    if batch <= WINDOW_MAX_BATCH and t.convolutional:
        return jnp.stack([window_input(t, w.win, a[:, b]) for b in range(batch)], axis=1)
    matrix = jsparse.BCSR((w.csr, t.csr_indices, t.csr_indptr), shape=(t.n_neurons, t.n_neurons))
    return matrix @ a


# -- ELL form (benchmark only) -------------------------------------------------------------------
@dataclass(frozen=True)
class EllTables:
    """Neurons in in-degree buckets; each bucket a dense [n_b, K_b] table (padding: neuron N)."""

    source: jax.Array  # [S] int32
    row: jax.Array  # [S] int32 (R on padding)
    inverse: jax.Array  # [N] int32 position of each neuron in bucket order
    shapes: tuple[tuple[int, int], ...]


def make_ell(c: Connectome, n_buckets: int = 8) -> EllTables:
    """Degree-bucketed ELL tables (buckets chosen by dynamic programming to minimise padding)."""
    n = c.n_neurons
    order = np.lexsort((c.edge_source, c.edge_target))
    src, tgt, row = c.edge_source[order], c.edge_target[order], c.edge_row[order]
    degree = np.bincount(tgt, minlength=n)
    indptr = np.concatenate([[0], np.cumsum(degree)])
    values, counts = np.unique(degree, return_counts=True)
    u = len(values)
    cum = np.concatenate([[0], np.cumsum(counts)])
    best = np.full((n_buckets + 1, u + 1), np.inf)
    arg = np.zeros((n_buckets + 1, u + 1), np.int64)
    best[0, 0] = 0.0
    for b in range(1, n_buckets + 1):
        for j in range(1, u + 1):
            cost = best[b - 1, :j] + (cum[j] - cum[:j]) * values[j - 1]
            arg[b, j] = int(np.argmin(cost))
            best[b, j] = cost[arg[b, j]]
    b, j, cuts = int(np.argmin(best[:, u])), u, []
    while b > 0:
        cuts.append((arg[b, j], j))
        j, b = arg[b, j], b - 1
    cuts = cuts[::-1]
    bucket = np.searchsorted(values[[j - 1 for _, j in cuts]], degree)
    perm = np.argsort(bucket, kind="stable")
    shapes = [(int(cum[j] - cum[i]), int(values[j - 1])) for i, j in cuts]
    srcs, rows, offset = [], [], 0
    for n_b, k in shapes:
        nodes = perm[offset : offset + n_b]
        offset += n_b
        pos = np.arange(k)[None, :]
        valid = pos < degree[nodes][:, None]
        edge = (indptr[nodes][:, None] + pos)[valid]
        s = np.full((n_b, k), n, np.int32)
        r = np.full((n_b, k), c.n_rows, np.int32)
        s[valid], r[valid] = src[edge], row[edge]
        srcs.append(s.ravel())
        rows.append(r.ravel())
    inverse = np.empty(n, np.int32)
    inverse[perm] = np.arange(n, dtype=np.int32)
    return EllTables(
        source=jnp.asarray(np.concatenate(srcs)),
        row=jnp.asarray(np.concatenate(rows)),
        inverse=jnp.asarray(inverse),
        shapes=tuple(shapes),
    )


def ell_input(e: EllTables, w_row: jax.Array, a: jax.Array) -> jax.Array:
    """[N] synaptic input for one rectified activity vector ``a`` [N] (ELL form)."""
    w = jnp.concatenate([w_row, jnp.zeros((1,), w_row.dtype)])[e.row]
    prod = jnp.concatenate([a, jnp.zeros((1,), a.dtype)])[e.source] * w
    out, offset = [], 0
    for n_b, k in e.shapes:
        out.append(prod[offset : offset + n_b * k].reshape(n_b, k).sum(axis=1))
        offset += n_b * k
    return jnp.concatenate(out)[e.inverse]
