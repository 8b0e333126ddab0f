"""The VNC as a :class:`flyenvs.connectome.circuit.Circuit`: descending currents -> motor commands.

``inputs`` [batch, n_dn]: the input current of each descending neuron (``network.dn_names``
order; the Pugliese et al. stimulus is 250). ``state``: :class:`VNCState` with rates
[batch, n_neurons] (Hz). ``outputs``:

* ``motor_u`` [batch, 42]: normalised joint commands in [-1, 1] (+1 full swing excursion),
  ``flyenvs.body.constants.LEG_JOINTS`` order;
* ``joint_target_rad`` [batch, 42]: ``joint_center_rad + joint_amplitude_rad * motor_u`` (rad);
* ``pool_rates_hz`` [batch, n_pools]: mean rate of each motor-neuron pool (Hz).

Parameters (type level, :meth:`VNCNetwork.init_params`): ``tau_s``, ``gain``, ``threshold``
[n_types]; ``strength`` [n_groups] (one per cell-type pair or inter-leg coupling; used as
``|strength|`` so it stays >= 0); the motor mapping ``joint_center_rad``,
``joint_amplitude_rad`` [42] and ``motor_scale_hz`` []. Signs and synapse counts are frozen.
"""

from __future__ import annotations

from collections.abc import Iterable

import jax
import jax.numpy as jnp

from flyenvs.body.constants import N_LEG_JOINTS
from flyenvs.connectome import circuit
from flyenvs.connectome.vnc.network import Params, VNCNetwork, VNCState

#: Parameter names in :meth:`VNCNetwork.init_params` order.
PARAM_NAMES: tuple[str, ...] = (
    "tau_s",
    "gain",
    "threshold",
    "strength",
    "joint_center_rad",
    "joint_amplitude_rad",
    "motor_scale_hz",
)


class VNCCircuit:
    """A compiled VNC behind the circuit interface (batched; see the module docstring).

    Args:
        network: from ``flyenvs.connectome.vnc.build()`` (default) or ``build(manc_dir=...)``.
        trainable: the parameter names that learn (default: all of :data:`PARAM_NAMES`).
    """

    param_names = PARAM_NAMES

    def __init__(self, network: VNCNetwork, trainable: Iterable[str] | None = None) -> None:
        if not isinstance(network, VNCNetwork):
            raise TypeError(f"network must be a VNCNetwork, got {type(network).__name__}")
        self.network = network
        self.name = network.name
        self.trainable = circuit.check_trainable(trainable, PARAM_NAMES)
        self.n_inputs = network.n_dn
        self.output_sizes = {
            "motor_u": N_LEG_JOINTS,
            "joint_target_rad": N_LEG_JOINTS,
            "pool_rates_hz": network.n_pools,
        }
        init = network.init_params()
        self._shapes = {k: tuple(jnp.shape(v)) for k, v in init.items()}

    def init_params(self, key: jax.Array | None = None) -> Params:
        """The network's connectome-derived parameters (deterministic: ``key`` is unused)."""
        return self.network.init_params()

    def init_state(self, params: Params, batch: int) -> VNCState:
        """The network's initial rates, [batch, n_neurons] (Hz); ``params`` is unused."""
        if int(batch) < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        rates = self.network.init_state().rates_hz
        return VNCState(rates_hz=jnp.broadcast_to(rates, (int(batch), self.network.n_neurons)))

    def freeze(self, params: Params) -> Params:
        """``params`` with the gradient stopped on every name not in :attr:`trainable`."""
        return circuit.freeze(params, self.trainable)

    def step(
        self, params: Params, state: VNCState, inputs: jax.Array, dt_s: float
    ) -> tuple[VNCState, dict[str, jax.Array]]:
        """One Euler step of ``dt_s`` s for the batch: inputs [batch, n_dn] -> (state, outputs)."""
        circuit.check_params(params, self._shapes, self.name)
        batch = state.rates_hz.shape[0]
        inputs = circuit.check_inputs(inputs, self.n_inputs, batch, self.name)
        net = self.network
        state = jax.vmap(lambda s, x: net.step(params, s, x, dt_s))(state, inputs)
        u = jax.vmap(lambda s: net.motor_output_normalised(s, params))(state)
        outputs = {
            "motor_u": u,
            "joint_target_rad": params["joint_center_rad"] + params["joint_amplitude_rad"] * u,
            "pool_rates_hz": jax.vmap(net.pool_rates)(state),
        }
        return state, outputs
