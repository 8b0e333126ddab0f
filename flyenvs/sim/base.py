"""The backend seam: one small interface, two physics implementations.

A backend wraps one ``mujoco.MjModel`` of the fly (from :func:`flyenvs.body.load`). Its state is
opaque to callers (``mujoco.MjData`` for C MuJoCo, ``mjx.Data`` for MJX); everything a task needs
is read through :class:`Readout`, whose fields are identical on both backends (numpy arrays on C
MuJoCo, ``jax.Array`` on MJX), so task code written in ``jax.numpy`` serves both.

Units: lengths in mm, masses in mg-scale model units as NeuroMechFly (see ``flyenvs.body``),
time in s, angles in rad.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import jax
import mujoco

from flyenvs.body import constants as C


class Readout(NamedTuple):
    """What a task can observe of the physics after a step. Shapes are unbatched.

    Attributes:
        time_s: [] simulated time.
        body_pos_mm: [3] thorax position in the world frame.
        body_quat: [4] thorax orientation (w, x, y, z), world frame.
        body_linvel_mm_s: [3] thorax linear velocity in the thorax (body) frame.
        body_angvel_rad_s: [3] thorax angular velocity in the thorax (body) frame.
        gravity_body: [3] unit gravity direction in the thorax frame (upright: (0, 0, -1)).
        joint_pos_rad: [42] leg joint angles, order ``constants.LEG_JOINTS``.
        joint_vel_rad_s: [42] leg joint velocities.
        tarsus_force: [6] normal contact force on each leg's tarsus tip (model force units),
            order ``constants.LEGS``.
        end_effector_pos_mm: [6, 3] tarsus tip positions, world frame.
        body_contact: [] 1.0 if any non-leg body geom touches the ground, else 0.0.
        eye_pos_mm: [2, 3] positions of the ``l_eye`` and ``r_eye`` frames, world frame.
        eye_xmat: [2, 3, 3] orientations of the ``l_eye`` and ``r_eye`` frames (rotation
            matrices, columns = frame axes in world coordinates; x forward, z up at rest).
        unstable: [] 1.0 if C MuJoCo flagged a bad state during the step that led here
            (``mjWARN_BADQPOS``/``BADQVEL``/``BADQACC``: MuJoCo then resets the data, which
            would silently teleport the fly; :data:`UNSTABLE_WARNINGS`), else 0.0. Always 0.0
            on MJX, where a diverged state shows as non-finite fields instead.
    """

    time_s: Any
    body_pos_mm: Any
    body_quat: Any
    body_linvel_mm_s: Any
    body_angvel_rad_s: Any
    gravity_body: Any
    joint_pos_rad: Any
    joint_vel_rad_s: Any
    tarsus_force: Any
    end_effector_pos_mm: Any
    body_contact: Any
    eye_pos_mm: Any
    eye_xmat: Any
    unstable: Any = 0.0


#: C MuJoCo warnings that mark a diverged simulation (MuJoCo resets the data on each of them).
UNSTABLE_WARNINGS: tuple[int, ...] = (
    int(mujoco.mjtWarning.mjWARN_BADQPOS),
    int(mujoco.mjtWarning.mjWARN_BADQVEL),
    int(mujoco.mjtWarning.mjWARN_BADQACC),
)


#: Unbatched shape of every :class:`Readout` field.
READOUT_SHAPES = Readout(
    time_s=(),
    body_pos_mm=(3,),
    body_quat=(4,),
    body_linvel_mm_s=(3,),
    body_angvel_rad_s=(3,),
    gravity_body=(3,),
    joint_pos_rad=(C.N_LEG_JOINTS,),
    joint_vel_rad_s=(C.N_LEG_JOINTS,),
    tarsus_force=(C.N_LEGS,),
    end_effector_pos_mm=(C.N_LEGS, 3),
    body_contact=(),
    eye_pos_mm=(2, 3),
    eye_xmat=(2, 3, 3),
    unstable=(),
)


def readout_spec(dtype: Any = "float32") -> Readout:
    """A :class:`Readout` of ``jax.ShapeDtypeStruct`` (for ``jax.eval_shape``)."""
    return Readout(*(jax.ShapeDtypeStruct(shape, dtype) for shape in READOUT_SHAPES))


class Backend(Protocol):
    """A physics backend for one fly model.

    ``init`` and ``step`` are pure on MJX (jit/vmap-able) and return a new state; the C MuJoCo
    backend's ``step`` advances the given ``MjData`` in place and returns it (a copy would cost
    15 physics steps), so callers always write ``state = backend.step(state, ...)`` and use
    ``MujocoBackend.copy_state`` for snapshots.
    """

    model: mujoco.MjModel

    def init(self, qpos: Any, qvel: Any) -> Any:
        """State at rest from ``qpos`` [nq] and ``qvel`` [nv] (forward kinematics applied)."""

    def step(self, state: Any, ctrl: Any, adhesion: Any, n_substeps: int) -> Any:
        """Advance ``n_substeps`` physics steps holding ``ctrl`` [42] (joint targets, rad) and
        ``adhesion`` [6] (in [0, 1]) fixed. Raises ValueError on a wrong shape or NaN (C MuJoCo)."""

    def readout(self, state: Any) -> Readout:
        """Observable quantities of ``state`` (see :class:`Readout`)."""
