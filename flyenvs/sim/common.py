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


def contact_normal_force(xp: Any, efc_force: Any, efc_address: Any) -> Any:
    """[ncon] normal force of each contact (0 for contacts without constraint rows)."""
    if efc_force.shape[0] == 0:
        return xp.zeros(efc_address.shape, dtype=efc_force.dtype)
    valid = efc_address >= 0
    adr = xp.where(valid, efc_address, 0)
    rows = adr[:, None] + xp.arange(ROWS_PER_CONTACT)[None, :]
    rows = xp.minimum(rows, efc_force.shape[0] - 1)
    return xp.where(valid, efc_force[rows].sum(axis=1), 0.0)


def tarsus_and_body_contact(
    xp: Any, lay: Layout, contact_geom: Any, contact_dist: Any, normal_force: Any
) -> tuple[Any, Any]:
    """Per-leg tarsus normal force [6] and body-contact flag [] from the contact list.

    Only touching contacts (distance <= 0) count: with a contact margin, a constraint can push
    a geom that approaches fast before it touches; that force is not "contact" here.

    Args:
        contact_geom: [ncon, 2] geom ids of each contact.
        contact_dist: [ncon] signed distance (mm; < 0 = penetration).
        normal_force: [ncon] normal force of each contact (model force units).
    """
    normal_force = xp.where(contact_dist <= 0, normal_force, 0.0)
    geom_leg = xp.asarray(lay.geom_leg)
    leg = xp.maximum(geom_leg[contact_geom[:, 0]], geom_leg[contact_geom[:, 1]])  # [ncon]
    if xp is np:
        force = np.bincount(leg + 1, weights=normal_force, minlength=C.N_LEGS + 1)
    else:
        force = xp.zeros(C.N_LEGS + 1, dtype=normal_force.dtype).at[leg + 1].add(normal_force)
    is_body = xp.asarray(lay.geom_is_body)
    body = xp.maximum(is_body[contact_geom[:, 0]], is_body[contact_geom[:, 1]])
    body_contact = xp.any((body > 0) & (normal_force > 0)).astype(normal_force.dtype)
    return force[1:], body_contact


def adhesion_wrench(
    xp: Any,
    lay: Layout,
    adhesion: Any,
    tarsus_force: Any,
    site_xpos: Any,
    xipos: Any,
    nbody: int,
    force_max: float = C.ADHESION_FORCE_MAX,
) -> Any:
    """``xfrc_applied`` [nbody, 6] implementing tarsal adhesion.

    Each leg whose tarsus tip is in contact (normal force > 0) is pulled toward the floor with
    ``adhesion[leg] * force_max`` at its tip site; the wrench is expressed at the tarsus body's
    centre of mass as MuJoCo's ``xfrc_applied`` requires (force, torque = r x force).

    Args:
        adhesion: [6] adhesion controls in [0, 1].
        tarsus_force: [6] current tarsus normal forces (contact gate).
        site_xpos: [nsite, 3]; xipos: [nbody, 3] (mm).
    """
    fz = -xp.where(tarsus_force > 0, adhesion * force_max, 0.0)  # [6] force along -FLOOR_NORMAL
    r = site_xpos[lay.tarsus_site_ids] - xipos[lay.tarsus_body_ids]  # [6, 3]
    zero = xp.zeros_like(fz)
    # force (0, 0, fz); torque r x force = (r_y fz, -r_x fz, 0)
    wrench = xp.stack([zero, zero, fz, r[:, 1] * fz, -r[:, 0] * fz, zero], axis=1)  # [6, 6]
    out = xp.zeros((nbody, 6), dtype=site_xpos.dtype)
    if xp is np:
        out[lay.tarsus_body_ids] = wrench
        return out
    return out.at[lay.tarsus_body_ids].set(wrench)


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
