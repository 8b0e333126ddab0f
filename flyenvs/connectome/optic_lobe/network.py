"""The flyvis optic-lobe network in JAX: parameters, the Euler step, and simulation over time.

Dynamics (flyvis ``PPNeuronIGRSynapses``, passive point neurons with instantaneous graded release)::

    tau_t dV_i/dt = -V_i + V_rest,t + sum_j w_ij relu(V_j) + x_i(t),
    w_ij = sign[pair] * n_syn[filter row] * strength[pair],

integrated by explicit Euler with the rate ``1 / max(tau_t, dt)``. ``x`` is the luminance of the
neuron's column for the 8 photoreceptor types R1-R8 and 0 elsewhere. Voltages are in flyvis's
arbitrary units; luminance in [0, 1] (grey = 0.5).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .connectome import Connectome, compile_connectome
from .sparse import SynapseTables, edge_weights, make_tables, synaptic_input

#: flyvis's integration step (s) for all its stimuli.
DEFAULT_DT_S = 1.0 / 200.0
#: flyvis runs 1 s of grey (0.5) from the resting potentials before every stimulus.
DEFAULT_T_PRE_S = 1.0
GREY = 0.5


class OpticLobeParams(NamedTuple):
    """The 734 trainable parameters (flyvis order within each field).

    bias: [65] resting potential per cell type (arbitrary voltage units).
    time_const_s: [65] membrane time constant per cell type (s).
    strength: [604] unitary synapse strength per connected type pair (>= 0).
    """

    bias: jax.Array
    time_const_s: jax.Array
    strength: jax.Array


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class _Tables:
    """Everything the jitted functions need, as a pytree (arrays are leaves)."""

    syn: SynapseTables
    node_type: jax.Array  # [N] int32
    n_inputs: int = field(metadata={"static": True})  # 8 * 721: first nodes, type-major
    n_columns: int = field(metadata={"static": True})


def params_from_vector(vector: jax.Array, n_types: int = 65) -> OpticLobeParams:
    """Split a flat [..., 734] vector (bias | time_const_s | strength) into parameters."""
    vector = jnp.asarray(vector)
    return OpticLobeParams(
        bias=vector[..., :n_types],
        time_const_s=vector[..., n_types : 2 * n_types],
        strength=vector[..., 2 * n_types :],
    )


def params_to_vector(params: OpticLobeParams) -> jax.Array:
    """Concatenate parameters into a flat [..., 734] vector (bias | time_const_s | strength)."""
    return jnp.concatenate([params.bias, params.time_const_s, params.strength], axis=-1)


def project(params: OpticLobeParams) -> OpticLobeParams:
    """Projected-gradient constraint (flyvis's ``clamp``): strengths >= 0."""
    return params._replace(strength=jnp.maximum(params.strength, 0.0))


def _euler(
    v: jax.Array, syn: jax.Array, x: jax.Array, bias_n: jax.Array, rate_n: jax.Array, dt_s
) -> jax.Array:
    """One explicit Euler step, in flyvis's order of operations."""
    return v + rate_n * (-v + bias_n + syn + x) * dt_s


def _node_params(tab: _Tables, params: OpticLobeParams, dt_s):
    """[N, 1] resting potentials and rates 1 / max(tau, dt)."""
    bias_n = params.bias[tab.node_type][:, None]
    rate_n = (1.0 / jnp.maximum(params.time_const_s, dt_s))[tab.node_type][:, None]
    return bias_n, rate_n


def _input_current(tab: _Tables, lum: jax.Array) -> jax.Array:
    """[C, B] column luminance -> [N, B] input current (same value to R1-R8 of a column)."""
    n_types_in = tab.n_inputs // tab.n_columns
    x_in = jnp.tile(lum, (n_types_in, 1))
    rest = jnp.zeros((tab.node_type.shape[0] - tab.n_inputs, lum.shape[1]), lum.dtype)
    return jnp.concatenate([x_in, rest], axis=0)


def _run(tab: _Tables, params: OpticLobeParams, v0: jax.Array, lum: jax.Array, dt_s, record):
    """Scan over frames. v0 [N, B]; lum [T, C, B]; returns (v_T, recorded [T, n_rec, B])."""
    # Inside an outer jit the tables are constants: without the barrier XLA constant-folds
    # index work on the 1.5 M edges at compile time (e.g. the BCSR transpose's row indices
    # in a gradient: an s32[94577, 16] reduce-window, ~50 s of compile for a 2-step grad)
    tab = jax.lax.optimization_barrier(tab)
    bias_n, rate_n = _node_params(tab, params, dt_s)
    w = edge_weights(tab.syn, params.strength, v0.shape[1])

    def body(v, frame):
        x = _input_current(tab, frame)
        v = _euler(v, synaptic_input(tab.syn, w, v), x, bias_n, rate_n, dt_s)
        out = v if record is None else v[record]
        return v, out

    return jax.lax.scan(body, v0, lum)


@partial(jax.jit, static_argnames=("n_steps", "batch", "grey"))
def _steady_state(tab: _Tables, params: OpticLobeParams, dt_s, n_steps: int, batch: int, grey):
    v0 = jnp.broadcast_to(params.bias[tab.node_type][:, None], (tab.node_type.shape[0], batch))
    lum = jnp.full((n_steps, tab.n_columns, batch), grey, v0.dtype)
    v, _ = _run(tab, params, v0, lum, dt_s, jnp.zeros((0,), jnp.int32))
    return v


@jax.jit
def _simulate(tab: _Tables, params: OpticLobeParams, v0, lum, dt_s, record):
    return _run(tab, params, v0, lum, dt_s, record)


@partial(jax.jit, static_argnames=("n_steps",))
def _advance(tab: _Tables, params: OpticLobeParams, v0, lum, dt_s, n_steps: int):
    frames = jnp.broadcast_to(lum[None], (n_steps, *lum.shape))
    v, _ = _run(tab, params, v0, frames, dt_s, jnp.zeros((0,), jnp.int32))
    return v


@jax.jit
def _simulate_all(tab: _Tables, params: OpticLobeParams, v0, lum, dt_s):
    return _run(tab, params, v0, lum, dt_s, None)


class OpticLobe:
    """The compiled network. Read-only after construction; all computation is pure JAX.

    Attributes:
        connectome: the numpy node/edge/row/pair tables (:class:`Connectome`).
        cell_types: the 65 cell type names (flyvis order).
        n_neurons, n_edges, n_cell_types, n_columns, n_params: sizes.
    """

    def __init__(self, connectome: Connectome):
        c = connectome
        n_in = len(c.input_types)
        expected = np.arange(n_in * c.n_columns, dtype=np.int32).reshape(n_in, c.n_columns)
        if not np.array_equal(c.input_index, expected):
            raise ValueError("input cell types must be the first types of the node table")
        self.connectome = c
        self.cell_types: tuple[str, ...] = c.cell_types
        self._type_id = {t: i for i, t in enumerate(c.cell_types)}
        self._tab = _Tables(
            syn=make_tables(c),
            node_type=jnp.asarray(c.node_type),
            n_inputs=n_in * c.n_columns,
            n_columns=c.n_columns,
        )
        width = 2 * c.extent + 1
        lookup = np.full((len(c.cell_types), width, width), -1, np.int64)
        lookup[c.node_type, c.node_u + c.extent, c.node_v + c.extent] = np.arange(c.n_neurons)
        self._lookup = lookup

    # -- sizes ---------------------------------------------------------------------------------
    @property
    def n_neurons(self) -> int:
        return self.connectome.n_neurons

    @property
    def n_edges(self) -> int:
        return self.connectome.n_edges

    @property
    def n_cell_types(self) -> int:
        return len(self.cell_types)

    @property
    def n_columns(self) -> int:
        return self.connectome.n_columns

    @property
    def n_pairs(self) -> int:
        return self.connectome.n_pairs

    @property
    def n_params(self) -> int:
        return 2 * self.n_cell_types + self.n_pairs

    # -- indexing ------------------------------------------------------------------------------
    def type_index(self, cell_type: str) -> int:
        """Index of ``cell_type`` in :attr:`cell_types`; raises with the valid names otherwise."""
        if cell_type not in self._type_id:
            raise KeyError(f"unknown cell type {cell_type!r}; valid: {', '.join(self.cell_types)}")
        return self._type_id[cell_type]

    def neuron_index(self, cell_type: str, u: int = 0, v: int = 0) -> int:
        """Index of the neuron of ``cell_type`` at column (u, v) in the node table."""
        k = self.type_index(cell_type)
        e = self.connectome.extent
        if not (abs(u) <= e and abs(v) <= e and abs(u + v) <= e):
            raise ValueError(f"column ({u}, {v}) is outside the lattice of extent {e}")
        index = int(self._lookup[k, u + e, v + e])
        if index < 0:
            raise ValueError(f"{cell_type} has no neuron at ({u}, {v}) (it tiles a sub-lattice)")
        return index

    def central_index(self) -> np.ndarray:
        """[65] index of each cell type's neuron at the central column (0, 0)."""
        return np.array([self.neuron_index(t, 0, 0) for t in self.cell_types])

    # -- parameters ----------------------------------------------------------------------------
    def init_params(self, key: jax.Array) -> OpticLobeParams:
        """flyvis's initialisation: bias ~ N(0.5, 0.05), tau = 50 ms, strength = 0.01 / <n_syn>.

        <n_syn> is the mean synapse count over the pair's edges (flyvis ``SynapseCountScaling``).
        """
        c = self.connectome
        pair_of_edge = c.row_pair[c.edge_row]
        n_syn_sum = np.bincount(pair_of_edge, weights=c.row_n_syn[c.edge_row], minlength=c.n_pairs)
        mean_n = n_syn_sum / np.bincount(pair_of_edge, minlength=c.n_pairs)
        k = self.n_cell_types
        return OpticLobeParams(
            bias=0.5 + 0.05 * jax.random.normal(key, (k,), jnp.float32),
            time_const_s=jnp.full((k,), 0.05, jnp.float32),
            strength=jnp.asarray((0.01 / mean_n).astype(np.float32)),
        )

    def check_params(self, params: OpticLobeParams) -> None:
        """Raise ValueError unless ``params`` has this network's shapes."""
        if not isinstance(params, OpticLobeParams):
            raise TypeError(f"params must be OpticLobeParams, got {type(params).__name__}")
        want = {"bias": (65,), "time_const_s": (65,), "strength": (self.n_pairs,)}
        for name, shape in want.items():
            got = tuple(jnp.shape(getattr(params, name)))
            if got != shape:
                raise ValueError(f"params.{name} has shape {got}, expected {shape}")

    # -- dynamics ------------------------------------------------------------------------------
    def step(
        self, params: OpticLobeParams, v: jax.Array, x: jax.Array, dt_s: float = DEFAULT_DT_S
    ) -> jax.Array:
        """One Euler step. v: [N] or [B, N] voltages; x: [721] or [B, 721] column luminance."""
        v = jnp.asarray(v)
        x = jnp.asarray(x, v.dtype)
        single = v.ndim == 1
        if v.shape[-1] != self.n_neurons or x.shape[-1] != self.n_columns or x.ndim != v.ndim:
            raise ValueError(
                f"step expects v [..., {self.n_neurons}] and x [..., {self.n_columns}] with the "
                f"same batch shape, got {v.shape} and {x.shape}"
            )
        vb = v[:, None] if single else v.T
        xb = x[None, :, None] if single else x.T[None]
        out, _ = _simulate(self._tab, params, vb, xb, dt_s, jnp.zeros((0,), jnp.int32))
        return out[:, 0] if single else out.T

    def advance(
        self,
        params: OpticLobeParams,
        v: jax.Array,
        x: jax.Array,
        n_steps: int,
        dt_s: float = DEFAULT_DT_S,
    ) -> jax.Array:
        """``n_steps`` Euler steps with the frame ``x`` held (an eye image shown for
        ``n_steps * dt_s`` seconds). v: [B, N] voltages; x: [B, 721] luminance. Returns [B, N].
        The synaptic weights are gathered once, not per step (cheaper than repeated
        :meth:`step` calls); jit-, vmap- and grad-compatible."""
        v = jnp.asarray(v)
        x = jnp.asarray(x, v.dtype)
        if v.ndim != 2 or v.shape[1] != self.n_neurons or x.shape != (v.shape[0], self.n_columns):
            raise ValueError(
                f"advance expects v [B, {self.n_neurons}] and x [B, {self.n_columns}], got "
                f"{v.shape} and {x.shape}"
            )
        if int(n_steps) < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        return _advance(self._tab, params, v.T, x.T, dt_s, int(n_steps)).T

    def steady_state(
        self,
        params: OpticLobeParams,
        dt_s: float = DEFAULT_DT_S,
        t_pre_s: float = DEFAULT_T_PRE_S,
        batch: int | None = None,
        grey: float = GREY,
    ) -> jax.Array:
        """Voltages after ``t_pre_s`` of uniform grey from the resting potentials (flyvis's
        ``steady_state``). Returns [N], or [batch, N] if ``batch`` is given."""
        _check_dt(dt_s)
        n_steps = int(t_pre_s / dt_s)
        v = _steady_state(self._tab, params, dt_s, n_steps, batch or 1, float(grey))
        return v[:, 0] if batch is None else v.T

    def simulate(
        self,
        params: OpticLobeParams,
        stimulus: jax.Array,
        dt_s: float = DEFAULT_DT_S,
        v0: jax.Array | None = None,
        record: np.ndarray | jax.Array | None = None,
        t_pre_s: float = DEFAULT_T_PRE_S,
    ) -> jax.Array:
        """Voltages after each frame of ``stimulus``.

        stimulus: [T, 721] or [B, T, 721] luminance per column (flyvis column order), one frame
            per step of ``dt_s`` seconds.
        v0: initial voltages [N] or [B, N]; default: :meth:`steady_state` after ``t_pre_s``.
        record: optional neuron indices to return (default: all neurons).
        Returns [T, n_rec] or [B, T, n_rec] (n_rec = N without ``record``).
        """
        _check_dt(dt_s)
        stimulus = jnp.asarray(stimulus, jnp.float32)
        if stimulus.ndim not in (2, 3) or stimulus.shape[-1] != self.n_columns:
            raise ValueError(
                f"stimulus must be [T, {self.n_columns}] or [B, T, {self.n_columns}], "
                f"got shape {stimulus.shape}"
            )
        single = stimulus.ndim == 2
        lum = stimulus[None] if single else stimulus  # [B, T, C]
        batch = lum.shape[0]
        if v0 is None:
            vb = self.steady_state(params, dt_s, t_pre_s, batch=batch)
        else:
            vb = jnp.asarray(v0, jnp.float32)
            if vb.shape not in ((self.n_neurons,), (batch, self.n_neurons)):
                raise ValueError(
                    f"v0 must be [{self.n_neurons}] or [{batch}, {self.n_neurons}], got {vb.shape}"
                )
            vb = jnp.broadcast_to(vb, (batch, self.n_neurons))
        lum_t = jnp.transpose(lum, (1, 2, 0))  # [T, C, B]
        if record is None:
            _, out = _simulate_all(self._tab, params, vb.T, lum_t, dt_s)
        else:
            rec = np.asarray(record, np.int32).reshape(-1)
            if rec.size and (rec.min() < 0 or rec.max() >= self.n_neurons):
                raise ValueError(f"record indices must be in [0, {self.n_neurons})")
            _, out = _simulate(self._tab, params, vb.T, lum_t, dt_s, jnp.asarray(rec))
        out = jnp.transpose(out, (2, 0, 1))  # [B, T, n_rec]
        return out[0] if single else out


def _check_dt(dt_s: float) -> None:
    if isinstance(dt_s, bool) or not (isinstance(dt_s, numbers.Real) and 0 < dt_s <= 0.1):
        raise ValueError(f"dt_s must be a number in (0, 0.1] seconds, got {dt_s!r}")


def build(connectome_path: str | None = None) -> OpticLobe:
    """Compile the committed flyvis connectome into an :class:`OpticLobe`."""
    return OpticLobe(compile_connectome(connectome_path))
