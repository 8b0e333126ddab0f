"""The optic lobe as a :class:`flyenvs.connectome.circuit.Circuit`: luminance -> output voltages.

``inputs`` [batch, 721]: luminance in [0, 1] of each column (flyvis column order; grey = 0.5),
one row per eye. ``state``: voltages [batch, 45669]. ``outputs``: ``readout``
[batch, n_readout_types * 721], the voltages of ``readout_types`` at every column (type-major;
default T4a-d and T5a-d).

Parameters (type level, flyvis's 734): ``bias`` [65] resting potentials, ``time_const_s`` [65]
(s; integrated with the rate ``1 / max(tau, dt)``), ``strength`` [604] unitary synapse strength
per connected type pair (clamped to >= 0 in the step, flyvis's projection). Signs and synapse
counts are frozen. ``pretrained=k`` starts from ensemble model k (0-49), ``None`` from flyvis's
random initialisation.
"""

from __future__ import annotations

from collections.abc import Iterable

import jax
import jax.numpy as jnp

from flyenvs.connectome import circuit
from flyenvs.connectome.optic_lobe.network import DEFAULT_DT_S, OpticLobe, OpticLobeParams, project
from flyenvs.connectome.optic_lobe.pretrained import load_pretrained
from flyenvs.connectome.optic_lobe.seam import MOTION_TYPES, type_columns

Params = dict[str, jax.Array]

#: Parameter names (flyvis order).
PARAM_NAMES: tuple[str, ...] = ("bias", "time_const_s", "strength")


class OpticLobeCircuit:
    """The compiled flyvis network behind the circuit interface (see the module docstring).

    Args:
        network: from ``flyenvs.connectome.optic_lobe.build()``.
        readout_types: output cell types, each tiling all 721 columns.
        trainable: the parameter names that learn (default: all of :data:`PARAM_NAMES`).
        pretrained: ensemble member whose parameters :meth:`init_params` returns (None: flyvis's
            random initialisation from the key).
    """

    param_names = PARAM_NAMES

    def __init__(
        self,
        network: OpticLobe,
        readout_types: tuple[str, ...] = MOTION_TYPES,
        trainable: Iterable[str] | None = None,
        pretrained: int | None = 0,
    ) -> None:
        if not isinstance(network, OpticLobe):
            raise TypeError(f"network must be an OpticLobe, got {type(network).__name__}")
        self.network = network
        self.name = "optic_lobe"
        self.readout_types = tuple(readout_types)
        self._readout = jnp.asarray(type_columns(network, self.readout_types))
        self.trainable = circuit.check_trainable(trainable, PARAM_NAMES)
        self.pretrained = pretrained
        if pretrained is not None:
            load_pretrained(pretrained)  # validates the index now, not at the first init
        self.n_inputs = network.n_columns
        self.output_sizes = {"readout": len(self.readout_types) * network.n_columns}
        k = network.n_cell_types
        self._shapes = {"bias": (k,), "time_const_s": (k,), "strength": (network.n_pairs,)}

    def init_params(self, key: jax.Array) -> Params:
        """Ensemble model ``pretrained`` (``key`` unused), else flyvis's init from ``key``."""
        if self.pretrained is not None:
            p = load_pretrained(self.pretrained)
        else:
            p = self.network.init_params(key)
        return {name: jnp.asarray(getattr(p, name), jnp.float32) for name in PARAM_NAMES}

    def _params(self, params: Params) -> OpticLobeParams:
        circuit.check_params(params, self._shapes, self.name)
        return project(OpticLobeParams(**{k: params[k] for k in PARAM_NAMES}))

    def init_state(self, params: Params, batch: int, dt_s: float = DEFAULT_DT_S) -> jax.Array:
        """Grey-adapted voltages [batch, N]: 1 s of luminance 0.5 from the resting potentials,
        with these parameters (flyvis's ``steady_state``)."""
        if int(batch) < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        return self.network.steady_state(self._params(params), dt_s, batch=int(batch))

    def freeze(self, params: Params) -> Params:
        """``params`` with the gradient stopped on every name not in :attr:`trainable`."""
        return circuit.freeze(params, self.trainable)

    def step(
        self, params: Params, state: jax.Array, inputs: jax.Array, dt_s: float = DEFAULT_DT_S
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """One Euler step: luminance [batch, 721] -> (voltages [batch, N], {"readout": ...})."""
        p = self._params(params)
        state = jnp.asarray(state, jnp.float32)
        if state.ndim != 2 or state.shape[1] != self.network.n_neurons:
            raise ValueError(
                f"state must be voltages [batch, {self.network.n_neurons}], got {state.shape}"
            )
        inputs = circuit.check_inputs(inputs, self.n_inputs, state.shape[0], self.name)
        v = self.network.step(p, state, inputs, dt_s)
        return v, {"readout": self.readout(v)}

    def advance(
        self,
        params: Params,
        state: jax.Array,
        inputs: jax.Array,
        n_steps: int,
        dt_s: float = DEFAULT_DT_S,
    ) -> jax.Array:
        """``n_steps`` Euler steps with ``inputs`` [batch, 721] held (one eye frame shown for
        ``n_steps * dt_s`` s): voltages [batch, N] -> voltages [batch, N]. Equal to
        :func:`flyenvs.connectome.circuit.run` of :meth:`step`, with the synaptic weights
        gathered once."""
        p = self._params(params)
        state = jnp.asarray(state, jnp.float32)
        inputs = circuit.check_inputs(inputs, self.n_inputs, state.shape[0], self.name)
        return self.network.advance(p, state, inputs, n_steps, dt_s)

    def readout(self, state: jax.Array) -> jax.Array:
        """Voltages of :attr:`readout_types` at every column: [..., N] -> [..., n_types * 721]
        (type-major, as :meth:`step`'s ``"readout"``)."""
        return state[..., self._readout]
