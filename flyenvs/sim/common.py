"""Backend-independent physics helpers, written once for ``numpy`` and ``jax.numpy`` (``xp``).

Both backends call these with their own array module, so adhesion and readouts are the same
formulas on C MuJoCo and MJX.

Contact forces: the models use pyramidal friction cones with condim 3 (checked by
:func:`check_model`), so a contact owns 4 consecutive constraint rows and its normal force is the
sum of their forces (MuJoCo's ``mj_contactForce`` decoding).
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from flyenvs.body import constants as C
from flyenvs.body.layout import Layout
from flyenvs.sim.base import Readout

#: Constraint rows per contact (pyramidal cone, condim 3).
ROWS_PER_CONTACT = 4
#: Floor normal (world frame, flat floor at z = 0); adhesion pulls against it.
FLOOR_NORMAL = (0.0, 0.0, 1.0)


def check_model(model: mujoco.MjModel) -> None:
    """Raise ValueError if ``model`` breaks the assumptions of these helpers."""
    if model.opt.cone != mujoco.mjtCone.mjCONE_PYRAMIDAL:
        raise ValueError("flyenvs backends expect a pyramidal friction cone")
    if model.npair and np.any(model.pair_dim != 3):
        raise ValueError("flyenvs backends expect condim 3 on every contact pair")
    if model.nu != C.N_LEG_JOINTS:
        raise ValueError(f"expected {C.N_LEG_JOINTS} actuators, model has {model.nu}")


def _constant(values: Any, dtype: Any) -> np.ndarray:
    """A read-only numpy array (module constants stay immutable)."""
    a = np.array(values, dtype=dtype)
    a.flags.writeable = False
    return a


#: Offsets [1, 4] of a contact's constraint rows from its ``efc_address``.
_ROW_OFFSETS = _constant([list(range(ROWS_PER_CONTACT))], np.int64)


def touching_normal_force(xp: Any, efc_force: Any, efc_address: Any, contact_dist: Any) -> Any:
    """[ncon] normal force (uN) of each touching contact, 0 for the others.

    Touching: distance <= 0 (with a contact margin, a constraint can push a geom that approaches
    fast before it touches; that force is not "contact" here) and constraint rows present
    (``efc_address >= 0``). The normal force is the sum of the contact's 4 pyramid-edge forces,
    each >= 0.

    Args:
        efc_force: [nefc] constraint forces (uN).
        efc_address: [ncon] first constraint row of each contact (-1: none).
        contact_dist: [ncon] signed distance (mm; < 0 = penetration).
    """
    if efc_force.shape[0] == 0:
        return xp.zeros(efc_address.shape, dtype=efc_force.dtype)
    # rows of an address -1 index from the end (valid indices in numpy and JAX), then masked
    rows = xp.minimum(efc_address[:, None] + _ROW_OFFSETS, efc_force.shape[0] - 1)
    touching = (efc_address >= 0) & (contact_dist <= 0)
    return xp.where(touching, efc_force[rows].sum(axis=1), 0.0)


def tarsus_normal_force(xp: Any, lay: Layout, contact_geom: Any, touching_force: Any) -> Any:
    """[6] summed normal force (uN) of each leg's touching tarsus contacts.

    The ``tarsus_force`` readout (after the step's dynamics): > 0 when some touching contact of
    the leg's tarsus pushes (the forces are >= 0).

    Args:
        contact_geom: [ncon, 2] geom ids of each contact.
        touching_force: [ncon] from :func:`touching_normal_force`.
    """
    leg = xp.asarray(lay.geom_leg)[contact_geom].max(axis=1)  # [ncon], -1 = no tarsus
    if xp is np:
        return np.bincount(leg + 1, weights=touching_force, minlength=C.N_LEGS + 1)[1:]
    return xp.zeros(C.N_LEGS + 1, dtype=touching_force.dtype).at[leg + 1].add(touching_force)[1:]


def body_contact(xp: Any, lay: Layout, contact_geom: Any, touching_force: Any) -> Any:
    """[] 1.0 if a body-contact geom touches with a positive normal force, else 0.0.

    Args: as :func:`tarsus_normal_force`.
    """
    body = xp.asarray(lay.geom_is_body)[contact_geom].max(axis=1)  # [ncon]
    return xp.any((body > 0) & (touching_force > 0)).astype(touching_force.dtype)


def tarsus_and_body_contact(
    xp: Any, lay: Layout, contact_geom: Any, touching_force: Any
) -> tuple[Any, Any]:
    """Per-leg tarsus normal force [6] (uN) and body-contact flag [] (see the two functions)."""
    return (
        tarsus_normal_force(xp, lay, contact_geom, touching_force),
        body_contact(xp, lay, contact_geom, touching_force),
    )


def adhesion_xfrc(
    xp: Any,
    lay: Layout,
    adhesion: Any,
    contact_geom: Any,
    contact_dist: Any,
    contact_pos: Any,
    xipos: Any,
    nbody: int,
    force_max: float = C.ADHESION_FORCE_MAX,
) -> Any:
    """The adhesion rule: ``xfrc_applied`` [nbody, 6] of one physics step.

    MuJoCo's adhesion actuator (``<adhesion>``, which MJX rejects), emulated identically on both
    backends: from the contacts of the state the step starts from (its collision detection, before
    its dynamics: ``mj_step1``), every contact of a leg's tarsus geoms (``lay.geom_leg``) that
    touches (distance <= 0) pulls toward the floor (along -``FLOOR_NORMAL``) with an equal share
    ``adhesion[leg] * force_max / n_touching(leg)`` (uN) at the contact point. Each share is
    written to the ``xfrc_applied`` row of the body owning the tarsus geom, as force plus torque
    (point - com) x force (uN, uN mm). A leg pulls with ``adhesion[leg] * force_max`` in total
    while any of its tarsus contacts touches, with nothing otherwise.

    Args:
        adhesion: [6] adhesion controls in [0, 1].
        contact_geom: [ncon, 2] geom ids; contact_dist: [ncon] signed distances (mm);
            contact_pos: [ncon, 3] contact points (mm), all of the step's start state.
        xipos: [nbody, 3] bodies' centres of mass (mm) at that state.
    """
    geom_leg = xp.asarray(lay.geom_leg)
    leg_of_geom = geom_leg[contact_geom]  # [ncon, 2]
    leg = leg_of_geom.max(axis=1)  # [ncon], -1: not a tarsus contact
    touching = (leg >= 0) & (contact_dist <= 0)
    tarsus_geom = xp.where(leg_of_geom[:, 1] >= 0, contact_geom[:, 1], contact_geom[:, 0])
    body = xp.asarray(lay.geom_body)[tarsus_geom]  # [ncon]
    leg = xp.where(touching, leg, 0)
    ones = touching.astype(xipos.dtype)
    if xp is np:
        count = np.bincount(leg, weights=ones, minlength=C.N_LEGS)
    else:
        count = xp.zeros(C.N_LEGS, dtype=xipos.dtype).at[leg].add(ones)
    share = xp.asarray(adhesion, dtype=xipos.dtype)[leg] / xp.maximum(count[leg], 1.0)
    fz = xp.where(touching, -force_max * share, 0.0)  # [ncon] along FLOOR_NORMAL
    r = contact_pos - xipos[body]  # [ncon, 3] point - com (mm)
    zero = xp.zeros_like(fz)
    # force (0, 0, fz); torque r x force = (r_y fz, -r_x fz, 0)
    wrench = xp.stack([zero, zero, fz, r[:, 1] * fz, -r[:, 0] * fz, zero], axis=1)
    out = xp.zeros((nbody, 6), dtype=xipos.dtype)
    if xp is np:
        np.add.at(out, body, wrench)
        return out
    return out.at[body].add(wrench)


def make_readout(
    xp: Any,
    lay: Layout,
    *,
    time: Any,
    qpos: Any,
    qvel: Any,
    xmat: Any,
    site_xpos: Any,
    site_xmat: Any,
    tarsus_force: Any,
    body_contact: Any,
) -> Readout:
    """Assemble a :class:`Readout` from data arrays (``xmat`` [nbody, 9], ``site_xmat``
    [nsite, 9])."""
    a, v = lay.free_qpos_adr, lay.free_qvel_adr
    rot = xmat[lay.thorax_body_id].reshape(3, 3)  # columns = body axes in world
    linvel_world = qvel[v : v + 3]  # free joint: world-frame linear velocity
    return Readout(
        time_s=time,
        body_pos_mm=qpos[a : a + 3],
        body_quat=qpos[a + 3 : a + 7],
        body_linvel_mm_s=rot.T @ linvel_world,
        body_angvel_rad_s=qvel[v + 3 : v + 6],  # free joint: body-frame angular velocity
        gravity_body=rot.T @ xp.asarray([0.0, 0.0, -1.0], dtype=rot.dtype),
        joint_pos_rad=qpos[lay.leg_qpos_adr],
        joint_vel_rad_s=qvel[lay.leg_qvel_adr],
        tarsus_force=tarsus_force,
        end_effector_pos_mm=site_xpos[lay.tarsus_site_ids],
        body_contact=body_contact,
        eye_pos_mm=site_xpos[lay.eye_site_ids],
        eye_xmat=site_xmat[lay.eye_site_ids].reshape(2, 3, 3),
    )
