"""Index arrays of a compiled fly model, and its neutral standing pose.

Everything a backend or task needs to address the model by index lives in :class:`Layout`
(built once per model, read-only). Names come from :mod:`flyenvs.body.constants`.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from flyenvs.body import constants as C
from flyenvs.body.kinematics import single_steps, step_angles


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    a.flags.writeable = False
    return a


def _id(model: mujoco.MjModel, obj: mujoco.mjtObj, name: str) -> int:
    i = mujoco.mj_name2id(model, obj, name)
    if i < 0:
        raise ValueError(f"fly model has no {obj.name.removeprefix('mjOBJ_').lower()} {name!r}")
    return i


@dataclass(frozen=True)
class Layout:
    """Index arrays of one fly model (all ``np.ndarray`` of int, read-only).

    Attributes:
        leg_qpos_adr: [42] qpos addresses of ``LEG_JOINTS``.
        leg_qvel_adr: [42] qvel (dof) addresses of ``LEG_JOINTS``.
        leg_actuator_ids: [42] actuator ids, order ``LEG_JOINTS`` (equals arange(42)).
        free_qpos_adr: [] qpos address of the free joint (pos at +0..3, quat at +3..7).
        free_qvel_adr: [] qvel address of the free joint (MuJoCo's convention: linear velocity
            in the world frame at +0..3, angular velocity in the body frame at +3..6).
        thorax_body_id: [] body id of the thorax.
        tarsus_body_ids: [6] body carrying each leg's tarsus tip (after static-segment fusion;
            ``LFTarsus1`` etc. in ``"train"``, ``LFTarsus5`` etc. in ``"reference"``).
        tarsus_site_ids: [6] tarsus tip sites (``TARSUS_TIP_SITES``).
        tarsus_geom_ids: [6] tarsus-tip collision spheres.
        geom_leg: [ngeom] leg index (0..5) of geoms whose floor contact counts as that leg's
            tarsus contact, else -1 (train: the tip spheres; reference: the tarsus 1-5 meshes).
        body_contact_geom_ids: [k] geoms whose floor contact sets ``body_contact``.
        geom_is_body: [ngeom] 1 for ``body_contact_geom_ids``, else 0.
        geom_body: [ngeom] id of the body each geom belongs to (after static-segment fusion).
        floor_geom_id: [] the floor plane.
        eye_site_ids: [2] ``l_eye``, ``r_eye``.
        camera_id: [] the tracking camera.
    """

    leg_qpos_adr: np.ndarray
    leg_qvel_adr: np.ndarray
    leg_actuator_ids: np.ndarray
    free_qpos_adr: int
    free_qvel_adr: int
    thorax_body_id: int
    tarsus_body_ids: np.ndarray
    tarsus_site_ids: np.ndarray
    tarsus_geom_ids: np.ndarray
    geom_leg: np.ndarray
    body_contact_geom_ids: np.ndarray
    geom_is_body: np.ndarray
    geom_body: np.ndarray
    floor_geom_id: int
    eye_site_ids: np.ndarray
    camera_id: int


def layout(model: mujoco.MjModel) -> Layout:
    """Index arrays of ``model`` (a model from :func:`flyenvs.body.load`)."""
    J, B, S, G = (mujoco.mjtObj.mjOBJ_JOINT, mujoco.mjtObj.mjOBJ_BODY, mujoco.mjtObj.mjOBJ_SITE,
                  mujoco.mjtObj.mjOBJ_GEOM)  # fmt: skip
    jids = [_id(model, J, n) for n in C.LEG_JOINTS]
    act = [_id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, f"actuator_{n}") for n in C.LEG_JOINTS]
    free = _id(model, J, C.FREE_JOINT)
    tip_sites = [_id(model, S, n) for n in C.TARSUS_TIP_SITES]
    tip_geoms = [_id(model, G, f"{leg}_tip_collision") for leg in C.LEGS]
    geom_leg = np.full(model.ngeom, -1, dtype=np.int32)
    for leg_i, leg in enumerate(C.LEGS):
        geom_leg[tip_geoms[leg_i]] = leg_i
        for k in range(1, 6):  # reference: flygym's tarsus meshes collide with the floor
            g = mujoco.mj_name2id(model, G, f"{leg}Tarsus{k}")
            if g >= 0 and _geom_collides_with_floor(model, g):
                geom_leg[g] = leg_i
    body_geoms = [_id(model, G, f"{s}_collision") for s in C.BODY_CONTACT_SEGMENTS]
    geom_is_body = np.zeros(model.ngeom, dtype=np.int32)
    geom_is_body[body_geoms] = 1
    return Layout(
        leg_qpos_adr=_ro(model.jnt_qposadr[jids].astype(np.int32)),
        leg_qvel_adr=_ro(model.jnt_dofadr[jids].astype(np.int32)),
        leg_actuator_ids=_ro(np.array(act, dtype=np.int32)),
        free_qpos_adr=int(model.jnt_qposadr[free]),
        free_qvel_adr=int(model.jnt_dofadr[free]),
        thorax_body_id=_id(model, B, "Thorax"),
        tarsus_body_ids=_ro(model.site_bodyid[tip_sites].astype(np.int32)),
        tarsus_site_ids=_ro(np.array(tip_sites, dtype=np.int32)),
        tarsus_geom_ids=_ro(np.array(tip_geoms, dtype=np.int32)),
        geom_leg=_ro(geom_leg),
        body_contact_geom_ids=_ro(np.array(body_geoms, dtype=np.int32)),
        geom_is_body=_ro(geom_is_body),
        geom_body=_ro(model.geom_bodyid.astype(np.int32)),
        floor_geom_id=_id(model, G, C.FLOOR_GEOM),
        eye_site_ids=_ro(np.array([_id(model, S, n) for n in C.EYE_SITES], dtype=np.int32)),
        camera_id=_id(model, mujoco.mjtObj.mjOBJ_CAMERA, C.TRACKING_CAMERA),
    )


def _geom_collides_with_floor(model: mujoco.MjModel, geom_id: int) -> bool:
    floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, C.FLOOR_GEOM)
    pairs = {(int(a), int(b)) for a, b in zip(model.pair_geom1, model.pair_geom2, strict=True)}
    return (geom_id, floor) in pairs or (floor, geom_id) in pairs


#: Step phase (rad) of the recorded step used as the neutral pose (flygym's choice: pi).
NEUTRAL_PHASE_RAD: float = np.pi
#: Clearance (mm) between the lowest tarsus tip and the floor in the neutral pose.
NEUTRAL_CLEARANCE_MM: float = 0.01


def neutral_joint_angles() -> np.ndarray:
    """[42] leg joint angles (rad) of the neutral standing pose: every leg at phase pi of the
    recorded step (mid-stance, flygym's ``PreprogrammedSteps`` neutral pose)."""
    single_steps()  # validates the asset
    return step_angles(np.full(C.N_LEGS, NEUTRAL_PHASE_RAD))


def neutral_qpos(model: mujoco.MjModel) -> np.ndarray:
    """[nq] neutral standing pose: level thorax at the origin (x, y = 0), legs at
    :func:`neutral_joint_angles`, other joints at 0, lowered so the lowest tarsus-tip sphere is
    ``NEUTRAL_CLEARANCE_MM`` above the floor."""
    lay = layout(model)
    qpos = model.qpos0.copy()
    qpos[lay.leg_qpos_adr] = neutral_joint_angles()
    a = lay.free_qpos_adr
    qpos[a : a + 3] = 0.0
    qpos[a + 3 : a + 7] = (1.0, 0.0, 0.0, 0.0)
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_kinematics(model, data)
    bottom = data.geom_xpos[lay.tarsus_geom_ids, 2] - model.geom_size[lay.tarsus_geom_ids, 0]
    qpos[a + 2] = NEUTRAL_CLEARANCE_MM - bottom.min()
    return qpos
