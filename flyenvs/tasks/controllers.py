"""Action modes of the Walk task: how an action becomes joint targets and adhesion.

A controller turns one action (held for a control period) into a schedule of ``K`` joint-target
and adhesion vectors, each held for ``n_substeps`` physics steps, so that fast patterns (the CPG's
12 Hz stepping) are resolved finer than the control period. Controllers are pure: their state
lives in the task info pytree and their parameters are an explicit input (``params``), so a
learned controller can be swapped in or trained without touching the task.

Adding a mode (e.g. the connectome VNC of a later issue) means one class with the same five
members (``action_low``/``action_high``, ``default_params``, ``init``, ``schedule``,
``features``) and one branch in ``WalkTask.__init__`` (plus its name in
``walk.ACTION_MODES``); the VNC's network state goes in the state
returned by ``init``/``schedule`` and its weights in ``params``. A mode living in a package that
flyenvs must not import registers instead an entry point of group ``flyenvs.action_modes``
(``name = "module:factory"``, ``factory(model, config) -> Controller``), as ``agents`` does for
``"vnc"`` (see ``walk.plugin_action_modes``).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict

from flyenvs.body import constants
from flyenvs.tasks import cpg


class Controller(Protocol):
    """Maps actions to joint targets [K, 42] (rad) and adhesion [K, 6] (in [0, 1])."""

    action_low: np.ndarray  # [A]
    action_high: np.ndarray  # [A]
    n_features: int  # F, extra observation entries

    def default_params(self) -> Any:
        """Parameters (a pytree) used when the caller passes none."""

    def init(self, rng: jax.Array, params: Any) -> Any:
        """Controller state at the start of an episode."""

    def schedule(self, action: jax.Array, state: Any, params: Any) -> tuple[Any, Any, Any]:
        """(ctrl [K, 42], adhesion [K, 6], new state) for one control period."""

    def features(self, state: Any) -> jax.Array:
        """Observation entries [F] describing the controller state."""


class JointController:
    """``"joints"``: 42 joint targets in [-1, 1] over the joint ranges, 6 adhesion in [0, 1]."""

    def __init__(self, joint_range_rad: np.ndarray, n_inner: int) -> None:
        """joint_range_rad: [42, 2] (low, high) of the leg joints; n_inner: K."""
        self._low = jnp.asarray(joint_range_rad[:, 0], jnp.float32)
        self._high = jnp.asarray(joint_range_rad[:, 1], jnp.float32)
        self._n_inner = n_inner
        self.action_low = np.concatenate(
            [-np.ones(constants.N_LEG_JOINTS), np.zeros(constants.N_ADHESION)]
        ).astype(np.float32)
        self.action_high = np.ones(constants.N_LEG_JOINTS + constants.N_ADHESION, np.float32)
        self.n_features = 0

    def default_params(self) -> None:
        return None

    def init(self, rng: jax.Array, params: None) -> jax.Array:
        return jnp.zeros(())

    def schedule(self, action: jax.Array, state: jax.Array, params: None):
        unit = jnp.clip(action[: constants.N_LEG_JOINTS], -1.0, 1.0)
        ctrl = self._low + 0.5 * (unit + 1.0) * (self._high - self._low)
        adhesion = jnp.clip(action[constants.N_LEG_JOINTS :], 0.0, 1.0)
        k = self._n_inner
        return jnp.tile(ctrl, (k, 1)), jnp.tile(adhesion, (k, 1)), state

    def features(self, state: jax.Array) -> jax.Array:
        return jnp.zeros((0,), jnp.float32)


class CPGParams(NamedTuple):
    """Oscillator constants (see :mod:`flyenvs.tasks.cpg`); shapes [6], [6], [6, 6], [6, 6], [6]."""

    freq_hz: jax.Array
    amplitude: jax.Array
    coupling: jax.Array
    phase_bias_rad: jax.Array
    convergence_1_s: jax.Array


class CPGController:
    """``"cpg"``: the policy modulates a tripod CPG. Action [8] in [-1, 1]:

    - ``a[0:6]`` per-leg step amplitude: ``R_i = amp (1 + amplitude_gain a_i)``;
    - ``a[6]`` stepping frequency: ``nu = freq_hz (1 + frequency_gain a_6)``;
    - ``a[7]`` turning asymmetry: left legs ``R (1 + turn_gain a_7)``, right ``R (1 - turn_gain
      a_7)`` (positive turns right, as the left legs step longer).

    Amplitudes are clipped to [0, max_amplitude]. A zero action walks straight with the nominal
    tripod gait (about 16 mm/s on the ``train`` body). Adhesion is on in stance, off in swing
    (``cpg.adhesion=True``, default) or always off (then about 12 mm/s, straighter).
    """

    def __init__(self, table: cpg.StepTable, cfg: ConfigDict, n_inner: int, inner_dt_s: float):
        self.table = table
        self.cfg = cfg
        self._n_inner = n_inner
        self._inner_dt_s = inner_dt_s
        self.action_low = -np.ones(8, np.float32)
        self.action_high = np.ones(8, np.float32)
        self.n_features = 3 * constants.N_LEGS

    def default_params(self) -> CPGParams:
        c = self.cfg
        bias = jnp.asarray(cpg.TRIPOD_PHASE_BIAS_RAD)
        return CPGParams(
            freq_hz=jnp.full(6, c.freq_hz, jnp.float32),
            amplitude=jnp.full(6, c.amplitude, jnp.float32),
            coupling=(bias > 0).astype(jnp.float32) * c.coupling,
            phase_bias_rad=bias,
            convergence_1_s=jnp.full(6, c.convergence_1_s, jnp.float32),
        )

    def init(self, rng: jax.Array, params: CPGParams) -> cpg.CPGState:
        """Tripod-locked phases with a random common offset; magnitudes ramp up from 0."""
        offset = jax.random.uniform(rng, (), minval=0.0, maxval=2 * jnp.pi)
        phase = offset + jnp.pi * jnp.asarray(cpg.TRIPOD_GROUP)
        return cpg.CPGState(phase_rad=phase, magnitude=jnp.zeros(6, jnp.float32))

    def modulation(self, action: jax.Array, params: CPGParams) -> tuple[jax.Array, jax.Array]:
        """(frequency [6] Hz, amplitude [6]) commanded by ``action`` [8]."""
        c = self.cfg
        a = jnp.clip(action, -1.0, 1.0)
        side = jnp.asarray(cpg.LEG_SIDE)
        amp = params.amplitude * (1.0 + c.amplitude_gain * a[:6])
        amp = amp * (1.0 + side * c.turn_gain * a[7])
        amp = jnp.clip(amp, 0.0, c.max_amplitude)
        freq = params.freq_hz * (1.0 + c.frequency_gain * a[6])
        return freq, amp

    def schedule(self, action: jax.Array, state: cpg.CPGState, params: CPGParams):
        freq, amp = self.modulation(action, params)

        def inner(s: cpg.CPGState, _: None):
            s = cpg.cpg_step(
                s,
                freq,
                amp,
                params.coupling,
                params.phase_bias_rad,
                params.convergence_1_s,
                self._inner_dt_s,
            )
            angles = cpg.step_angles(self.table, s.phase_rad, s.magnitude).reshape(-1)
            return s, (angles, cpg.stance_adhesion(self.table, s.phase_rad))

        state, (ctrl, adhesion) = jax.lax.scan(inner, state, None, length=self._n_inner)
        if not self.cfg.adhesion:
            adhesion = jnp.zeros_like(adhesion)
        # keep phases bounded over long episodes (the dynamics only depend on differences)
        wrapped = jnp.mod(state.phase_rad[0], 2 * jnp.pi)
        state = state._replace(phase_rad=state.phase_rad - state.phase_rad[0] + wrapped)
        return ctrl, adhesion, state

    def features(self, state: cpg.CPGState) -> jax.Array:
        return jnp.concatenate(
            [jnp.sin(state.phase_rad), jnp.cos(state.phase_rad), state.magnitude]
        )
