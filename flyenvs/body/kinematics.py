"""NeuroMechFly's recorded single-step leg kinematics.

Data: ``assets/neuromechfly/single_steps_untethered.npz``.

One recorded step of an untethered walking fly per leg (flygym's ``PreprogrammedSteps`` data),
sampled every ``timestep_s`` (3 ms, 45 frames, 0.135 s). For each leg, swing runs from t = 0 to
``stance_start_s[leg]``, then stance to the end of the step. Angles in rad, joint order
``constants.LEG_JOINTS``.
"""

from __future__ import annotations

import functools
import zipfile
from typing import NamedTuple

import numpy as np

from flyenvs._paths import asset_path
from flyenvs.body.constants import LEG_JOINTS, LEGS, N_LEG_JOINTS

STEPS_FILE = ("neuromechfly", "single_steps_untethered.npz")


class SingleSteps(NamedTuple):
    """Recorded single step. Arrays are read-only.

    Attributes:
        joint_angles_rad: [n_frames, 42] joint angles, order ``LEG_JOINTS``.
        timestep_s: [] sampling interval of the recording.
        stance_start_s: [6] time at which each leg's swing ends and stance begins.
    """

    joint_angles_rad: np.ndarray
    timestep_s: float
    stance_start_s: np.ndarray

    @property
    def duration_s(self) -> float:
        """Duration of one recorded step (s)."""
        return self.joint_angles_rad.shape[0] * self.timestep_s


def single_steps() -> SingleSteps:
    """Load the recorded single step (cached per file); raises an error naming the file if it is
    missing (FileNotFoundError) or corrupt (ValueError)."""
    return _load_steps(str(asset_path(*STEPS_FILE)))


@functools.lru_cache(maxsize=4)
def _load_steps(path: str) -> SingleSteps:
    try:
        with np.load(path, allow_pickle=False) as f:
            angles = np.array(f["joint_angles_rad"], dtype=np.float64)
            names = tuple(str(n) for n in f["joint_names"])
            timestep_s = float(f["timestep_s"])
            stance_start_s = np.array(f["stance_start_s"], dtype=np.float64)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"corrupt kinematics asset {path}: {e}") from e
    if names != LEG_JOINTS or angles.ndim != 2 or angles.shape[1] != N_LEG_JOINTS:
        raise ValueError(f"kinematics asset {path} does not hold the 42 LEG_JOINTS columns")
    if stance_start_s.shape != (len(LEGS),):
        raise ValueError(f"kinematics asset {path}: stance_start_s must have shape (6,)")
    angles.flags.writeable = False
    stance_start_s.flags.writeable = False
    return SingleSteps(angles, timestep_s, stance_start_s)


def step_angles(phase_rad: np.ndarray) -> np.ndarray:
    """Joint angles of the recorded step at the given phase, per leg.

    Args:
        phase_rad: [..., 6] phase of each leg's step cycle (rad; 0 = swing onset, 2 pi = end).

    Returns:
        [..., 42] joint angles (rad), order ``LEG_JOINTS``; periodic linear interpolation of the
        recording.
    """
    steps = single_steps()
    angles = steps.joint_angles_rad
    n = angles.shape[0]
    phase = np.asarray(phase_rad, dtype=np.float64)
    pos = (np.mod(phase, 2 * np.pi) / (2 * np.pi)) * n  # [..., 6] frame index (float)
    i0 = np.floor(pos).astype(int) % n
    i1 = (i0 + 1) % n
    w = (pos - np.floor(pos))[..., None]  # [..., 6, 1]
    per_leg = angles.reshape(n, len(LEGS), -1)  # [n, 6, 7]
    legs = np.arange(len(LEGS))
    out = (1 - w) * per_leg[i0, legs] + w * per_leg[i1, legs]  # [..., 6, 7]
    return out.reshape(*phase.shape[:-1], N_LEG_JOINTS)


def in_stance(phase_rad: np.ndarray) -> np.ndarray:
    """Whether each leg is in stance at the given phase.

    Args:
        phase_rad: [..., 6] step phase per leg (rad).

    Returns:
        [..., 6] boolean.
    """
    steps = single_steps()
    stance_start_phase = 2 * np.pi * steps.stance_start_s / steps.duration_s
    return np.mod(np.asarray(phase_rad), 2 * np.pi) >= stance_start_phase


#: Phase offsets (rad) of a tripod gait, order ``LEGS``: LF, RM, LH together, RF, LM, RH opposite.
TRIPOD_PHASE_OFFSETS_RAD: np.ndarray = np.array([0.0, np.pi, 0.0, np.pi, 0.0, np.pi])
#: Step frequency (Hz) of NeuroMechFly's CPG walking examples.
TRIPOD_FREQUENCY_HZ: float = 12.0


def tripod_gait(
    time_s: np.ndarray, frequency_hz: float = TRIPOD_FREQUENCY_HZ
) -> tuple[np.ndarray, np.ndarray]:
    """Open-loop tripod gait replaying the recorded step.

    Args:
        time_s: [...] times.
        frequency_hz: steps per second (the recording, 0.135 s, is time-scaled to it).

    Returns:
        ``(ctrl, adhesion)``: [..., 42] joint targets (rad) and [..., 6] adhesion (1 in stance,
        0 in swing).
    """
    t = np.asarray(time_s, dtype=np.float64)[..., None]
    phase = 2 * np.pi * frequency_hz * t + TRIPOD_PHASE_OFFSETS_RAD
    return step_angles(phase), in_stance(phase).astype(np.float64)
