"""``"vnc"``: the policy sends descending commands to the connectome ventral nerve cord.

The VNC (:mod:`flyenvs.connectome.vnc`) runs inside the env step. Per control period the action
(held) sets the drive of the descending neurons; for each of the task's ``n_inner`` joint-target
updates the network takes ``n_vnc_steps`` forward-Euler steps (about 1 ms each) and its motor
output becomes the joint targets. Its state (``VNCState``, rates [n_neurons] in Hz) lives in the
task info (``info["controller"]``) and its parameters (``network.init_params()``: time constants,
gains, thresholds, edge strengths, motor mapping) are the controller ``params``, an explicit input
of ``reset``/``step``, so they can be trained end to end.

Action (default network) [6] in [-1, 1], ``LEGS`` order (LF, LM, LH, RF, RM, RH): the DNg100
drive of each leg's neuromere, ``drive_i = drive_center + drive_gain * a_i`` (default 225 +- 25,
i.e. 200 to 250; the Pugliese et al. stimulus is 250, the network has no rhythm below ~190, and
above 250 the gait breaks down: backwards at 275, flips at 300). A zero action walks forward at
~3 mm/s with the tripod; a weaker drive on one side turns the fly towards that side (docs/vnc.md).

Adhesion [6]: on (1) where the leg's mean normalised motor command ``u`` (+1 swing, -1 stance)
is below ``adhesion_threshold`` (default -0.3, i.e. firmly in stance), else 0.

Features [42 + n_feature_neurons]: the normalised motor commands u [42] in [-1, 1] and
``tanh(rate / 50 Hz)`` of the core CPG cells (E1, E2, I1 of every leg: 18 for the default).

Every option is set through the task config group ``action.vnc`` (:data:`DEFAULTS`), e.g.
``gym.make("flyenvs/Walk-v1", action_mode="vnc", action__vnc__drive_gain=30.0)``.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from flyenvs.body import constants
from flyenvs.connectome.vnc.network import Params, VNCNetwork, VNCState
from flyenvs.tasks.action_modes.base import inner_dt_s, joint_range_rad

#: Options of ``action.vnc`` (the keyword arguments of :class:`VNCController`; an empty
#: ``command_neurons`` drives every descending neuron, an empty ``manc_dir`` builds the embedded
#: default network).
DEFAULTS: dict[str, Any] = {
    "manc_dir": "",
    "command_neurons": (),
    "drive_center": 225.0,
    "drive_gain": 25.0,
    "adhesion": True,
    "adhesion_threshold": -0.3,
    "max_vnc_dt_s": 1e-3,
    "warmup_s": 0.3,
    "warmup_jitter_s": 0.07,
}

#: Rate scale (Hz) of the ``tanh`` squashing of the feature neurons' rates.
FEATURE_RATE_HZ: float = 50.0


def _core_feature_neurons(network: VNCNetwork) -> tuple[str, ...]:
    """E1, E2, I1 of every leg, where the network has them under those names (the default)."""
    names = []
    for cell in ("E1", "E2", "I1"):
        for leg in constants.LEGS:
            name = f"{cell}_{leg}"
            if name in network.neuron_names:
                names.append(name)
    return tuple(names)


class VNCController:
    """Descending commands -> connectome VNC -> joint targets [K, 42] and adhesion [K, 6].

    Implements :class:`flyenvs.tasks.action_modes.base.Controller` (``action_low``/``action_high``,
    ``n_features``, ``default_params``, ``init``, ``schedule``, ``features``).

    Args:
        network: a compiled VNC (``flyenvs.connectome.vnc.build()``).
        joint_range_rad: [42, 2] (low, high) of the leg actuators; targets are clipped to it.
        n_inner: K, joint-target updates per control period.
        inner_dt_s: duration (s) of one update; the VNC takes ``ceil(inner_dt_s / max_vnc_dt_s)``
            equal Euler steps in it.
        command_neurons: names (from ``network.dn_names``) driven by the action entries, one each;
            default all DNs (the default network: DNg100 of LF, LM, LH, RF, RM, RH). The other
            DNs get no input.
        drive_center: DN input at action 0.
        drive_gain: DN input change per unit action; drive = center + gain * a, a in [-1, 1].
        adhesion: False sends no adhesion.
        adhesion_threshold: adhesion is on where the leg's mean u is below this (in (-1, 1)).
        max_vnc_dt_s: largest VNC Euler step (s); tau is 20 ms.
        warmup_s: at reset the VNC runs this long (s) at the nominal drive (the rhythm and the
            tripod settle in ~0.2 s; starting from rest, all legs press into stance together
            and pitch the fly onto its abdomen), plus a random U(0, ``warmup_jitter_s``) to
            randomise the initial step phase (one ~15 Hz cycle is ~0.066 s).
    """

    def __init__(
        self,
        network: VNCNetwork,
        joint_range_rad: np.ndarray,
        n_inner: int,
        inner_dt_s: float,
        *,
        command_neurons: tuple[str, ...] | None = None,
        drive_center: float = 225.0,
        drive_gain: float = 25.0,
        adhesion: bool = True,
        adhesion_threshold: float = -0.3,
        max_vnc_dt_s: float = 1e-3,
        warmup_s: float = 0.3,
        warmup_jitter_s: float = 0.07,
    ) -> None:
        joint_range_rad = np.asarray(joint_range_rad, np.float32)
        if joint_range_rad.shape != (constants.N_LEG_JOINTS, 2):
            raise ValueError(
                f"joint_range_rad must have shape ({constants.N_LEG_JOINTS}, 2), "
                f"got {joint_range_rad.shape}"
            )
        if int(n_inner) < 1:
            raise ValueError(f"n_inner must be >= 1, got {n_inner}")
        for name, value in (("inner_dt_s", inner_dt_s), ("max_vnc_dt_s", max_vnc_dt_s)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be > 0 s, got {value}")
        for name, value in (("warmup_s", warmup_s), ("warmup_jitter_s", warmup_jitter_s)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be >= 0 s, got {value}")
        if not (math.isfinite(drive_center) and math.isfinite(drive_gain) and drive_gain >= 0):
            raise ValueError(
                f"drive_center must be finite and drive_gain >= 0, got {drive_center}, {drive_gain}"
            )
        if not -1.0 < adhesion_threshold < 1.0:
            raise ValueError(f"adhesion_threshold must be in (-1, 1), got {adhesion_threshold}")
        dn_names = network.dn_names
        command_neurons = dn_names if command_neurons is None else tuple(command_neurons)
        unknown = [n for n in command_neurons if n not in dn_names]
        if unknown or not command_neurons:
            raise ValueError(
                f"command_neurons must be a non-empty subset of the network's descending "
                f"neurons; unknown: {unknown}; valid (first 12): {list(dn_names[:12])}"
            )
        self.network = network
        self.command_neurons = command_neurons
        self._command_index = np.array([dn_names.index(n) for n in command_neurons], np.int32)
        self._low = jnp.asarray(joint_range_rad[:, 0])
        self._high = jnp.asarray(joint_range_rad[:, 1])
        self.n_inner = int(n_inner)
        self.n_vnc_steps = max(1, math.ceil(inner_dt_s / max_vnc_dt_s - 1e-9))
        self.vnc_dt_s = float(inner_dt_s) / self.n_vnc_steps
        self.drive_center = float(drive_center)
        self.drive_gain = float(drive_gain)
        self.adhesion = bool(adhesion)
        self.adhesion_threshold = float(adhesion_threshold)
        self.warmup_s = float(warmup_s)
        self.warmup_jitter_s = float(warmup_jitter_s)
        self._leg_of_joint = np.repeat(np.arange(constants.N_LEGS), len(constants.LEG_DOFS))
        self.feature_neurons = _core_feature_neurons(network)
        self._feature_index = np.array([network.index(n) for n in self.feature_neurons], np.int32)
        n_action = len(command_neurons)
        self.action_low = -np.ones(n_action, np.float32)
        self.action_high = np.ones(n_action, np.float32)
        self.n_features = constants.N_LEG_JOINTS + len(self.feature_neurons)

    # ------------------------------------------------------------------ protocol
    def default_params(self) -> Params:
        """The network's initial parameters (dict pytree; see ``VNCNetwork.init_params``)."""
        return self.network.init_params()

    def init(self, rng: jax.Array, params: Params) -> VNCState:
        """State at the start of an episode: the network's initial state run for
        ``warmup_s`` + U(0, ``warmup_jitter_s``) seconds at the nominal drive (action 0), so an
        episode starts mid-gait at a random phase (pure; differentiable w.r.t. ``params``)."""
        net = self.network
        n_fixed = round(self.warmup_s / self.vnc_dt_s)
        n_jitter = round(self.warmup_jitter_s / self.vnc_dt_s)
        extra = jax.random.randint(rng, (), 0, n_jitter + 1)
        dn = self.dn_input(jnp.zeros_like(self.action_low))

        def body(s: VNCState, k: jax.Array) -> tuple[VNCState, None]:
            new = net.step(params, s, dn, self.vnc_dt_s)
            keep = k < n_fixed + extra
            return jax.tree.map(lambda a, b: jnp.where(keep, a, b), new, s), None

        state, _ = jax.lax.scan(body, net.init_state(), jnp.arange(n_fixed + n_jitter))
        return state

    def dn_input(self, action: jax.Array) -> jax.Array:
        """Descending input [n_dn] for ``action`` [A] (clipped to [-1, 1])."""
        action = jnp.asarray(action, jnp.float32)
        if action.shape != self.action_low.shape:
            raise ValueError(
                f"vnc action must have shape {self.action_low.shape} (drive of "
                f"{self.command_neurons}), got {action.shape}"
            )
        drive = self.drive_center + self.drive_gain * jnp.clip(action, -1.0, 1.0)
        return jnp.zeros(self.network.n_dn, jnp.float32).at[self._command_index].set(drive)

    def schedule(
        self, action: jax.Array, state: VNCState, params: Params
    ) -> tuple[jax.Array, jax.Array, VNCState]:
        """(ctrl [K, 42] rad, adhesion [K, 6] in {0, 1}, new state) for one control period.

        Pure and differentiable w.r.t. ``params`` (adhesion is a threshold: zero gradient).
        """
        net = self.network
        dn = self.dn_input(action)

        def inner(s: VNCState, _: None) -> tuple[VNCState, tuple[jax.Array, jax.Array]]:
            s = net.multi_step(params, s, dn, self.vnc_dt_s, self.n_vnc_steps)
            u = net.motor_output_normalised(s, params)
            q = jnp.clip(net.motor_output(s, params), self._low, self._high)
            swing = jax.ops.segment_sum(u, self._leg_of_joint, constants.N_LEGS)
            swing = swing / len(constants.LEG_DOFS)
            stance = (swing < self.adhesion_threshold).astype(jnp.float32)
            return s, (q, stance if self.adhesion else jnp.zeros_like(stance))

        state, (ctrl, adhesion) = jax.lax.scan(inner, state, None, length=self.n_inner)
        return ctrl, adhesion, state

    def features(self, state: VNCState) -> jax.Array:
        """[n_features]: u [42] in [-1, 1], then tanh(rate / 50 Hz) of ``feature_neurons``."""
        u = self.network.motor_output_normalised(state)
        rates = jnp.tanh(state.rates_hz[self._feature_index] / FEATURE_RATE_HZ)
        return jnp.concatenate([u, rates]).astype(jnp.float32)


def build_network(manc_dir: str = "") -> VNCNetwork:
    """The VNC of ``action.vnc.manc_dir``: the embedded default ("") or the MANC graph."""
    from flyenvs.connectome import vnc

    return vnc.build(manc_dir or None)


def make(model: Any, config: Any, network: VNCNetwork | None = None) -> VNCController:
    """The ``"vnc"`` action mode for a task config (``action.vnc``, ``control_dt_s``,
    ``n_inner``).

    Args:
        model: the task's ``mujoco.MjModel`` (joint ranges from its leg actuators).
        config: the task config.
        network: the VNC; default :func:`build_network` of ``action.vnc.manc_dir``.
    """
    c = config.action.vnc
    network = build_network(c.manc_dir) if network is None else network
    return VNCController(
        network,
        joint_range_rad(model),
        int(config.n_inner),
        inner_dt_s(config),
        command_neurons=tuple(c.command_neurons) or None,
        drive_center=float(c.drive_center),
        drive_gain=float(c.drive_gain),
        adhesion=bool(c.adhesion),
        adhesion_threshold=float(c.adhesion_threshold),
        max_vnc_dt_s=float(c.max_vnc_dt_s),
        warmup_s=float(c.warmup_s),
        warmup_jitter_s=float(c.warmup_jitter_s),
    )
