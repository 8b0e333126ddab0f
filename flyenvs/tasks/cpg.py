"""A gait prior: coupled phase oscillators driving NeuroMechFly's recorded tripod step.

Six oscillators (one per leg, order ``constants.LEGS``) follow the NeuroMechFly v2 CPG model
(Wang-Chen et al. 2024, flygym ``CPGNetwork``)::

    dtheta_i/dt = 2 pi nu_i + sum_j r_j w_ij sin(theta_j - theta_i - phi_ij)
    dr_i/dt     = alpha_i (R_i - r_i)

with phase theta (rad), magnitude r, intrinsic frequency nu (Hz), intrinsic amplitude R,
coupling weights w, phase biases phi (pi between legs of different tripods) and convergence
rate alpha (1/s). Leg ``i``'s joint angles at phase theta are the recorded single step
``psi_i(theta)`` scaled about the neutral pose ``psi_i(pi)``::

    q_i = psi_i(pi) + r_i (psi_i(theta) - psi_i(pi))

and its adhesion is off during the swing part of the cycle. The recorded step is resampled once
(periodic cubic spline, numpy) to a table of ``n_bins`` phases; the JAX side interpolates it
linearly, so everything here is pure and jit/vmap-able.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.interpolate import CubicSpline

from flyenvs import body
from flyenvs.body import constants

#: Phase biases of the tripod gait (rad): LF, RM, LH move together, against RF, LM, RH.
TRIPOD_PHASE_BIAS_RAD: np.ndarray = np.pi * np.array(
    [
        [0, 1, 0, 1, 0, 1],
        [1, 0, 1, 0, 1, 0],
        [0, 1, 0, 1, 0, 1],
        [1, 0, 1, 0, 1, 0],
        [0, 1, 0, 1, 0, 1],
        [1, 0, 1, 0, 1, 0],
    ],
    dtype=np.float32,
)
#: Tripod group of each leg (0 or 1): the stance-phase offset of a leg is pi * group.
TRIPOD_GROUP: np.ndarray = np.array([0, 1, 0, 1, 0, 1], dtype=np.float32)
#: +1 for left legs, -1 for right legs (order ``constants.LEGS``).
LEG_SIDE: np.ndarray = np.array([1, 1, 1, -1, -1, -1], dtype=np.float32)


class StepTable(NamedTuple):
    """One recorded step per leg, resampled on a uniform phase grid.

    Attributes:
        angles_rad: [6, n_bins, 7] joint angles at phases ``2 pi k / n_bins``.
        neutral_rad: [6, 7] neutral pose ``psi(pi)``.
        swing_end_rad: [6] the swing (adhesion off) part of the cycle is phase in (0, swing_end).
    """

    angles_rad: jax.Array
    neutral_rad: jax.Array
    swing_end_rad: jax.Array


class CPGState(NamedTuple):
    """Oscillator state. phase_rad: [6] (unwrapped); magnitude: [6] (dimensionless)."""

    phase_rad: jax.Array
    magnitude: jax.Array


def make_step_table(
    joint_angles_rad: np.ndarray, swing_fraction: np.ndarray, n_bins: int = 128
) -> StepTable:
    """Resample a recorded single step to a phase table.

    Args:
        joint_angles_rad: [n_frames, 42] one step cycle (order ``constants.LEG_JOINTS``), frame
            ``k`` at phase ``2 pi k / n_frames`` (the convention of ``flyenvs.body.kinematics``;
            phase 0 = swing onset).
        swing_fraction: [6] fraction of the cycle (from phase 0) during which each leg swings.
        n_bins: table resolution.
    """
    angles = np.asarray(joint_angles_rad, dtype=np.float64)
    swing_fraction = np.asarray(swing_fraction, dtype=np.float64)
    if angles.ndim != 2 or angles.shape[1] != constants.N_LEG_JOINTS or angles.shape[0] < 4:
        raise ValueError(f"joint_angles_rad must be [n_frames >= 4, 42], got {angles.shape}")
    if swing_fraction.shape != (constants.N_LEGS,) or np.any(
        (swing_fraction <= 0) | (swing_fraction >= 1)
    ):
        raise ValueError(f"swing_fraction must be 6 values in (0, 1), got {swing_fraction}")
    n_frames = angles.shape[0]
    grid = 2 * np.pi * np.arange(n_frames + 1) / n_frames
    closed = np.concatenate([angles, angles[:1]], axis=0)  # periodic: frame n = frame 0
    spline = CubicSpline(grid, closed, axis=0, bc_type="periodic")
    per_leg = lambda x: x.reshape(*x.shape[:-1], constants.N_LEGS, constants.N_DOFS_PER_LEG)  # noqa: E731
    table = per_leg(spline(2 * np.pi * np.arange(n_bins) / n_bins))  # [n_bins, 6, 7]
    return StepTable(
        angles_rad=jnp.asarray(np.swapaxes(table, 0, 1), dtype=jnp.float32),
        neutral_rad=jnp.asarray(per_leg(spline(np.pi)), dtype=jnp.float32),
        swing_end_rad=jnp.asarray(2 * np.pi * swing_fraction, dtype=jnp.float32),
    )


def body_step_table(n_bins: int = 128) -> StepTable:
    """The table of NeuroMechFly's recorded step (``flyenvs.body.single_steps``)."""
    steps = body.single_steps()
    return make_step_table(steps.joint_angles_rad, steps.stance_start_s / steps.duration_s, n_bins)


def step_angles(table: StepTable, phase_rad: jax.Array, magnitude: jax.Array) -> jax.Array:
    """Joint angles [6, 7] (rad) of each leg at ``phase_rad`` [6] with step ``magnitude`` [6]."""
    n_bins = table.angles_rad.shape[1]
    position = jnp.mod(phase_rad, 2 * jnp.pi) / (2 * jnp.pi) * n_bins
    i0 = jnp.floor(position).astype(jnp.int32) % n_bins
    i1 = (i0 + 1) % n_bins
    frac = (position - jnp.floor(position))[:, None]
    legs = jnp.arange(constants.N_LEGS)
    psi = (1.0 - frac) * table.angles_rad[legs, i0] + frac * table.angles_rad[legs, i1]
    return table.neutral_rad + magnitude[:, None] * (psi - table.neutral_rad)


def stance_adhesion(table: StepTable, phase_rad: jax.Array) -> jax.Array:
    """Adhesion [6] in {0, 1}: 1 in stance, 0 during swing (phase in (0, swing_end))."""
    wrapped = jnp.mod(phase_rad, 2 * jnp.pi)
    swinging = (wrapped > 0.0) & (wrapped < table.swing_end_rad)
    return 1.0 - swinging.astype(jnp.float32)


def cpg_step(
    state: CPGState,
    freq_hz: jax.Array,
    amplitude: jax.Array,
    coupling: jax.Array,
    phase_bias_rad: jax.Array,
    convergence_1_s: jax.Array,
    dt_s: float,
) -> CPGState:
    """One explicit-Euler step of the oscillator network.

    Args:
        state: current phases/magnitudes.
        freq_hz: [6] intrinsic frequencies nu.
        amplitude: [6] intrinsic amplitudes R.
        coupling: [6, 6] weights w_ij (row i is driven by column j).
        phase_bias_rad: [6, 6] phi_ij.
        convergence_1_s: [6] alpha.
        dt_s: integration step.
    """
    theta, r = state.phase_rad, state.magnitude
    diff = theta[None, :] - theta[:, None]  # [i, j] = theta_j - theta_i
    coupling_term = jnp.sum(r[None, :] * coupling * jnp.sin(diff - phase_bias_rad), axis=1)
    dtheta = 2 * jnp.pi * freq_hz + coupling_term
    dr = convergence_1_s * (amplitude - r)
    return CPGState(phase_rad=theta + dt_s * dtheta, magnitude=r + dt_s * dr)
