"""MuJoCo twin of a :class:`Scene`: the same primitives as MuJoCo geoms, for cross-checks.

``scene_to_spec`` builds an ``mujoco.MjSpec`` whose geoms are the scene's ground (plane),
panorama (a cylinder geom: MuJoCo's is closed by caps, ours is an open tube), spheres and
pillars (cylinders), with materials coloured by luminance (and a checker texture on the ground
when the scene's ground is a checkerboard) so it can also be rendered. ``multiray`` casts rays
with ``mujoco.mj_multiRay``. Used by the tests (hit distances agree with the JAX caster) and by
``scripts/bench_vision.py``.
"""

from __future__ import annotations

import mujoco
import numpy as np

from flyenvs.vision.scene import CHECKER, Scene

#: Geom names in the twin model.
GROUND, PANORAMA = "ground", "panorama"


def _rgba(lum: np.ndarray) -> list[float]:
    g = float(np.mean(lum))
    return [g, g, g, 1.0]


def scene_to_spec(scene: Scene, ground_half_size_mm: float = 500.0) -> mujoco.MjSpec:
    """An ``MjSpec`` with one geom per used primitive of an unbatched ``scene``.

    Geom names: ``ground``, ``panorama``, ``sphere_<i>``, ``pillar_<i>`` (slot index ``i``).
    The ground plane is infinite for rays (``ground_half_size_mm`` only sets its drawn size).
    """
    if np.ndim(scene.ground_z_mm) != 0:
        raise ValueError("scene_to_spec takes an unbatched Scene (index a batch first)")
    spec = mujoco.MjSpec()
    spec.modelname = "flyenvs_vision_scene"
    world = spec.worldbody
    spec.add_material(name="mat_white", rgba=[1, 1, 1, 1])
    if bool(scene.ground_on):
        tex = scene.ground
        mat = spec.add_material(name="mat_ground", rgba=_rgba(np.asarray(tex.lum_a)))
        if int(tex.kind) == CHECKER:
            a, b = float(np.mean(tex.lum_a)), float(np.mean(tex.lum_b))
            spec.add_texture(
                name="tex_ground",
                type=mujoco.mjtTexture.mjTEXTURE_2D,
                builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
                width=64,
                height=64,
                rgb1=[a, a, a],
                rgb2=[b, b, b],
            )
            mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "tex_ground"
            mat.texrepeat = [2 * ground_half_size_mm / float(tex.period)] * 2
            mat.rgba = [1, 1, 1, 1]
        world.add_geom(
            name=GROUND,
            type=mujoco.mjtGeom.mjGEOM_PLANE,
            size=[ground_half_size_mm, ground_half_size_mm, 1.0],
            pos=[0.0, 0.0, float(scene.ground_z_mm)],
            material="mat_ground",
        )
    if bool(scene.panorama_on):
        z_lo, z_hi = (float(z) for z in np.asarray(scene.panorama_z_mm))
        cx, cy = (float(c) for c in np.asarray(scene.panorama_center_mm))
        spec.add_material(name="mat_panorama", rgba=_rgba(np.asarray(scene.panorama.lum_a)))
        world.add_geom(
            name=PANORAMA,
            type=mujoco.mjtGeom.mjGEOM_CYLINDER,
            size=[float(scene.panorama_radius_mm), 0.5 * (z_hi - z_lo), 0.0],
            pos=[cx, cy, 0.5 * (z_lo + z_hi)],
            material="mat_panorama",
        )
    for i in np.flatnonzero(np.asarray(scene.sphere_on)):
        spec.add_material(name=f"mat_sphere_{i}", rgba=_rgba(np.asarray(scene.sphere_lum[i])))
        world.add_geom(
            name=f"sphere_{i}",
            type=mujoco.mjtGeom.mjGEOM_SPHERE,
            size=[float(scene.sphere_radius_mm[i]), 0.0, 0.0],
            pos=np.asarray(scene.sphere_center_mm[i], dtype=np.float64).tolist(),
            material=f"mat_sphere_{i}",
        )
    for i in np.flatnonzero(np.asarray(scene.cylinder_on)):
        spec.add_material(name=f"mat_pillar_{i}", rgba=_rgba(np.asarray(scene.cylinder_lum[i])))
        world.add_geom(
            name=f"pillar_{i}",
            type=mujoco.mjtGeom.mjGEOM_CYLINDER,
            size=[float(scene.cylinder_radius_mm[i]), float(scene.cylinder_half_height_mm[i]), 0.0],
            pos=np.asarray(scene.cylinder_center_mm[i], dtype=np.float64).tolist(),
            material=f"mat_pillar_{i}",
        )
    world.add_light(
        pos=[0.0, 0.0, 200.0], dir=[0.0, 0.0, -1.0], type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL
    )
    return spec


def multiray(
    model: mujoco.MjModel, data: mujoco.MjData, origin_mm: np.ndarray, directions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``mujoco.mj_multiRay`` from one origin [3] along ``directions`` [N, 3] (unit).

    Returns:
        distance_mm [N] (``inf`` where nothing is hit) and geom ids [N] (-1 on a miss).
    """
    directions = np.ascontiguousarray(directions, dtype=np.float64).reshape(-1, 3)
    n = directions.shape[0]
    geomid = np.full(n, -1, np.int32)
    dist = np.zeros(n, np.float64)
    mujoco.mj_multiRay(
        model,
        data,
        np.asarray(origin_mm, np.float64),
        directions.ravel(),
        None,
        1,
        -1,
        geomid,
        dist,
        None,
        n,
        mujoco.mjMAXVAL,
    )
    return np.where(geomid >= 0, dist, np.inf), geomid
