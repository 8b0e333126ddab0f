"""``"cpg"``: the policy modulates a tripod central pattern generator (:mod:`flyenvs.tasks.cpg`).

Action [8] in [-1, 1]:

- ``a[0:6]`` per-leg step amplitude: ``R_i = amp (1 + amplitude_gain a_i)``;
- ``a[6]`` stepping frequency: ``nu = freq_hz (1 + frequency_gain a_6)``;
- ``a[7]`` turning asymmetry: left legs ``R (1 + turn_gain a_7)``, right ``R (1 - turn_gain
  a_7)`` (positive turns right, as the left legs step longer).

Amplitudes are clipped to [0, max_amplitude]. A zero action walks straight with the nominal
tripod gait (about 7 mm/s on the ``train`` body, docs/walk.md). Adhesion is on in stance, off in
swing (``action.cpg.adhesion=True``, default) or always off. Features [18]: sin(phase) [6],
cos(phase) [6], magnitude [6].
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from ml_collections import ConfigDict

from flyenvs.body import constants
from flyenvs.tasks import cpg
from flyenvs.tasks.action_modes.base import inner_dt_s

#: Options of ``action.cpg``.
DEFAULTS: dict[str, Any] = {
    "freq_hz": 12.0,
    "amplitude": 1.0,
    "coupling": 10.0,
    "convergence_1_s": 20.0,
    "amplitude_gain": 0.5,
    "frequency_gain": 0.5,
    "turn_gain": 0.8,
    "max_amplitude": 1.5,
    "adhesion": True,
}


class CPGParams(NamedTuple):
    """Oscillator constants (see :mod:`flyenvs.tasks.cpg`); shapes [6], [6], [6, 6], [6, 6], [6]."""

    freq_hz: jax.Array
    amplitude: jax.Array
    coupling: jax.Array
    phase_bias_rad: jax.Array
    convergence_1_s: jax.Array


class CPGController:
    """The ``"cpg"`` mode (see the module docstring).

    Args:
        table: the recorded step resampled (:func:`flyenvs.tasks.cpg.body_step_table`).
        cfg: the ``action.cpg`` config group.
        n_inner: K, joint-target updates per control period.
        inner_dt_s: duration (s) of one update (the oscillators' Euler step).
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


def validate(cfg: ConfigDict) -> None:
    """Raise ValueError on ``action.cpg`` options out of their domain."""
    for name in ("freq_hz", "convergence_1_s", "max_amplitude"):
        if not cfg[name] > 0:
            raise ValueError(f"action.cpg.{name} must be > 0, got {cfg[name]}")
    for name in ("amplitude", "coupling", "amplitude_gain", "frequency_gain", "turn_gain"):
        if not cfg[name] >= 0:
            raise ValueError(f"action.cpg.{name} must be >= 0, got {cfg[name]}")


def make(model: mujoco.MjModel, config: ConfigDict) -> CPGController:
    """The ``"cpg"`` mode for a task config (``action.cpg``, ``n_inner``, ``control_dt_s``)."""
    del model  # the step table comes from the body's recorded kinematics
    validate(config.action.cpg)
    table = cpg.body_step_table()
    return CPGController(table, config.action.cpg, int(config.n_inner), inner_dt_s(config))
