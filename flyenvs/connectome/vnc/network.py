"""The compiled VNC network and its pure rate dynamics.

A :class:`VNCNetwork` is connectome data compiled once into index arrays (flyvis style):

* nodes: ``n_neurons`` neurons, each with a cell type (``neuron_type``) and a class
  (descending, intrinsic, motor, ...);
* edges: ``edge_pre -> edge_post`` with a frozen signed synapse count ``edge_count`` and the index
  of the learnable strength they share (``edge_group``: one per cell-type pair, or per inter-leg
  coupling);
* inputs: the descending neurons ``dn_index`` that receive the descending command ``dn_input``;
* outputs: motor-neuron pools (``pool_neurons`` grouped by ``pool_id``), each pulling its leg
  joint (``pool_joint``, index into ``flyenvs.body.constants.LEG_JOINTS``) towards its swing
  (``pool_sign = +1``) or stance (``-1``) excursion.

Rate model (Pugliese et al. 2025), per neuron i with cell type t(i)::

    tau_t dR_i/dt = -R_i + max(0, r_max tanh((a_t / r_max) (I_i + sum_j W_ij R_j - theta_t)))
    W_ij = |strength_g(ij)| * signed_count_ij

integrated with forward Euler at the rate ``1 / max(tau_t, dt)`` (flyvis's rule, so a trained
time constant below the step cannot make it unstable). Strengths enter through ``abs`` so they
stay >= 0 under any optimiser update; signs and counts are frozen data. Joint targets::

    u_k = tanh(sum_p sign_p * mean_rate_p / motor_scale_hz)          in [-1, 1]
    q_k = joint_center_rad_k + joint_amplitude_rad_k * u_k          (rad)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from flyenvs.body.constants import N_LEG_JOINTS

Params = dict[str, jax.Array]


class VNCState(NamedTuple):
    """Network state: firing rates ``rates_hz`` [n_neurons] (Hz)."""

    rates_hz: jax.Array


@dataclass(frozen=True, eq=False)
class VNCNetwork:
    """A compiled, read-only VNC network (numpy index arrays; see the module docstring).

    Build one with :func:`flyenvs.connectome.vnc.build`. All methods are pure; ``step`` and
    ``motor_output`` are jit/vmap/grad-able (vmap them over a batch of states).
    """

    name: str
    neuron_names: tuple[str, ...]
    neuron_type: np.ndarray  # int32 [n_neurons]
    neuron_class: tuple[str, ...]  # [n_neurons]
    type_names: tuple[str, ...]
    edge_pre: np.ndarray  # int32 [n_edges]
    edge_post: np.ndarray  # int32 [n_edges]
    edge_count: np.ndarray  # float32 [n_edges], signed synapse counts (frozen)
    edge_group: np.ndarray  # int32 [n_edges]
    group_names: tuple[str, ...]
    dn_index: np.ndarray  # int32 [n_dn]
    pool_neurons: np.ndarray  # int32 [n_pool_members]
    pool_id: np.ndarray  # int32 [n_pool_members]
    pool_names: tuple[str, ...]
    pool_joint: np.ndarray  # int32 [n_pools], index into LEG_JOINTS
    pool_sign: np.ndarray  # float32 [n_pools], +1 swing / -1 stance
    init_tau_s: np.ndarray  # float32 [n_types]
    init_gain: np.ndarray  # float32 [n_types] (a)
    init_threshold: np.ndarray  # float32 [n_types] (theta)
    init_strength: np.ndarray  # float32 [n_groups]
    init_joint_center_rad: np.ndarray  # float32 [42]
    init_joint_amplitude_rad: np.ndarray  # float32 [42]
    r_max_hz: float = 200.0
    init_motor_scale_hz: float = 5.0
    counts: dict = field(default_factory=dict)
    alive: np.ndarray | None = None  # float32 [n_neurons]; 0 silences a neuron
    init_rates_hz: np.ndarray | None = None  # float32 [n_neurons]

    def __post_init__(self) -> None:
        n, e = self.n_neurons, self.n_edges
        checks = [
            (self.neuron_type.shape == (n,), "neuron_type"),
            (len(self.neuron_class) == n, "neuron_class"),
            (self.edge_post.shape == (e,), "edge_post"),
            (self.edge_count.shape == (e,), "edge_count"),
            (self.edge_group.shape == (e,), "edge_group"),
            (self.pool_id.shape == self.pool_neurons.shape, "pool_id"),
            (self.pool_joint.shape == (len(self.pool_names),), "pool_joint"),
            (self.pool_sign.shape == (len(self.pool_names),), "pool_sign"),
            (self.init_strength.shape == (len(self.group_names),), "init_strength"),
            (self.init_tau_s.shape == (len(self.type_names),), "init_tau_s"),
        ]
        for ok, what in checks:
            if not ok:
                raise ValueError(f"VNCNetwork {self.name!r}: {what} has an inconsistent shape")
        for arr, hi, what in (
            (self.edge_pre, n, "edge_pre"),
            (self.edge_post, n, "edge_post"),
            (self.dn_index, n, "dn_index"),
            (self.pool_neurons, n, "pool_neurons"),
            (self.edge_group, len(self.group_names), "edge_group"),
            (self.neuron_type, len(self.type_names), "neuron_type"),
            (self.pool_joint, N_LEG_JOINTS, "pool_joint"),
        ):
            if arr.size and (arr.min() < 0 or arr.max() >= hi):
                raise ValueError(f"VNCNetwork {self.name!r}: {what} index out of range [0, {hi})")
        if self.alive is None:
            object.__setattr__(self, "alive", np.ones(n, np.float32))
        if self.init_rates_hz is None:
            object.__setattr__(self, "init_rates_hz", np.zeros(n, np.float32))

    # ------------------------------------------------------------------ sizes
    @property
    def n_neurons(self) -> int:
        return len(self.neuron_names)

    @property
    def n_edges(self) -> int:
        return int(self.edge_pre.shape[0])

    @property
    def n_dn(self) -> int:
        return int(self.dn_index.shape[0])

    @property
    def n_pools(self) -> int:
        return len(self.pool_names)

    @property
    def dn_names(self) -> tuple[str, ...]:
        return tuple(self.neuron_names[i] for i in self.dn_index)

    def index(self, name: str) -> int:
        """Index of the neuron called ``name``; raises KeyError listing similar names."""
        try:
            return self.neuron_names.index(name)
        except ValueError:
            near = [n for n in self.neuron_names if name.split("_")[0] in n][:8]
            msg = f"no neuron {name!r} in network {self.name!r}; similar: {near}"
            raise KeyError(msg) from None

    def silenced(self, names: tuple[str, ...] | list[str]) -> VNCNetwork:
        """A copy of the network whose neurons ``names`` are silenced (rate clamped to 0)."""
        alive = self.alive.copy()
        for name in names:
            alive[self.index(name)] = 0.0
        return replace(self, alive=alive)

    # ----------------------------------------------------------- params/state
    def init_params(self) -> Params:
        """Fresh learnable parameters (a dict pytree of float32 arrays).

        ``tau_s`` [n_types] (s), ``gain`` [n_types] (a), ``threshold`` [n_types] (theta),
        ``strength`` [n_groups] (>= 0 in use), ``joint_center_rad`` [42],
        ``joint_amplitude_rad`` [42] (rad, signed: + means the swing pools raise the angle),
        ``motor_scale_hz`` [] (Hz).
        """
        return {
            "tau_s": jnp.asarray(self.init_tau_s, jnp.float32),
            "gain": jnp.asarray(self.init_gain, jnp.float32),
            "threshold": jnp.asarray(self.init_threshold, jnp.float32),
            "strength": jnp.asarray(self.init_strength, jnp.float32),
            "joint_center_rad": jnp.asarray(self.init_joint_center_rad, jnp.float32),
            "joint_amplitude_rad": jnp.asarray(self.init_joint_amplitude_rad, jnp.float32),
            "motor_scale_hz": jnp.asarray(self.init_motor_scale_hz, jnp.float32),
        }

    def init_state(self) -> VNCState:
        """Initial state: rates [n_neurons] (Hz), the network's documented initial condition."""
        return VNCState(rates_hz=jnp.asarray(self.init_rates_hz, jnp.float32))

    # --------------------------------------------------------------- dynamics
    def synaptic_input(self, params: Params, rates_hz: jax.Array) -> jax.Array:
        """Recurrent input sum_j W_ij R_j [n_neurons] for rates [n_neurons] (sparse)."""
        w = jnp.abs(params["strength"])[self.edge_group] * self.edge_count
        return jax.ops.segment_sum(
            w * rates_hz[self.edge_pre], self.edge_post, num_segments=self.n_neurons
        )

    def dense_weights(self, params: Params) -> jax.Array:
        """Dense W [n_neurons (post), n_neurons (pre)], the reference for the sparse step."""
        w = jnp.abs(params["strength"])[self.edge_group] * self.edge_count
        return jnp.zeros((self.n_neurons, self.n_neurons)).at[self.edge_post, self.edge_pre].add(w)

    def step(self, params: Params, state: VNCState, dn_input: jax.Array, dt_s: float) -> VNCState:
        """One forward-Euler step of ``dt_s`` seconds.

        Args:
            params: from :meth:`init_params`.
            state: rates [n_neurons] (Hz).
            dn_input: descending command [n_dn], the input current I of the descending neurons
                in the order of ``dn_names`` (the paper's stimulus is 250).
            dt_s: step (s); stable for dt_s well below min(tau_s) (default tau 0.02 s).
        Returns:
            the next state. Unbatched: vmap for a batch of states/inputs.
        """
        dn_input = jnp.asarray(dn_input)
        if dn_input.shape != (self.n_dn,):
            raise ValueError(
                f"dn_input must have shape ({self.n_dn},) (one current per descending neuron "
                f"of {self.name!r}), got {dn_input.shape}; vmap step for batches"
            )
        if state.rates_hz.shape != (self.n_neurons,):
            raise ValueError(
                f"state.rates_hz must have shape ({self.n_neurons},), got {state.rates_hz.shape}"
            )
        rates = state.rates_hz
        drive = self.synaptic_input(params, rates).at[self.dn_index].add(dn_input)
        t = self.neuron_type
        gain, theta = params["gain"][t], params["threshold"][t]
        tau = jnp.maximum(params["tau_s"][t], dt_s)  # Euler stays stable if training shrinks tau
        target = jax.nn.relu(self.r_max_hz * jnp.tanh(gain / self.r_max_hz * (drive - theta)))
        rates = rates + (dt_s / tau) * (target - rates)
        return VNCState(rates_hz=rates * self.alive)

    def multi_step(
        self, params: Params, state: VNCState, dn_input: jax.Array, dt_s: float, n_steps: int
    ) -> VNCState:
        """``n_steps`` (static int) steps of ``dt_s`` with a held ``dn_input`` [n_dn]: one env
        control step of ``n_steps * dt_s`` seconds."""
        return jax.lax.fori_loop(
            0, n_steps, lambda _, s: self.step(params, s, dn_input, dt_s), state
        )

    def rollout(
        self, params: Params, state: VNCState, dn_inputs: jax.Array, dt_s: float
    ) -> tuple[VNCState, jax.Array]:
        """Scan :meth:`step` over dn_inputs [T, n_dn] -> (last state, rates [T, n_neurons])."""

        def body(s: VNCState, x: jax.Array) -> tuple[VNCState, jax.Array]:
            s = self.step(params, s, x, dt_s)
            return s, s.rates_hz

        return jax.lax.scan(body, state, dn_inputs)

    # ----------------------------------------------------------------- output
    def pool_rates(self, state: VNCState) -> jax.Array:
        """Mean rate of each motor-neuron pool [n_pools] (Hz)."""
        total = jax.ops.segment_sum(
            state.rates_hz[self.pool_neurons], self.pool_id, num_segments=self.n_pools
        )
        size = np.bincount(self.pool_id, minlength=self.n_pools).clip(1)
        return total / size

    def motor_output_normalised(self, state: VNCState, params: Params | None = None) -> jax.Array:
        """Joint commands u [42] in [-1, 1] (+1 = full swing excursion), LEG_JOINTS order.

        ``params`` defaults to :meth:`init_params` (only ``motor_scale_hz`` is used).
        """
        scale = self.init_motor_scale_hz if params is None else params["motor_scale_hz"]
        drive = jax.ops.segment_sum(
            self.pool_sign * self.pool_rates(state), self.pool_joint, num_segments=N_LEG_JOINTS
        )
        return jnp.tanh(drive / scale)

    def motor_output(self, state: VNCState, params: Params | None = None) -> jax.Array:
        """Joint position targets [42] (rad) in ``flyenvs.body.constants.LEG_JOINTS`` order.

        q = joint_center_rad + joint_amplitude_rad * u, u from :meth:`motor_output_normalised`;
        ``params`` defaults to :meth:`init_params` (pass the learnt ones when training).
        """
        if params is None:
            center, amp = self.init_joint_center_rad, self.init_joint_amplitude_rad
        else:
            center, amp = params["joint_center_rad"], params["joint_amplitude_rad"]
        return center + amp * self.motor_output_normalised(state, params)

    def summary(self) -> dict:
        """n_neurons, n_edges, n_dn, n_pools and the count tables given by the builder."""
        return {
            "name": self.name,
            "n_neurons": self.n_neurons,
            "n_edges": self.n_edges,
            "n_dn": self.n_dn,
            "n_pools": self.n_pools,
            "n_types": len(self.type_names),
            "n_groups": len(self.group_names),
            **self.counts,
        }
