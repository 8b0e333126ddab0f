"""Ray casting in pure JAX: each ommatidium's rays against a :class:`Scene`'s primitives.

Every ray is intersected analytically with the ground plane, the panorama wall (an open vertical
tube, seen from inside or outside), each sphere and each capped vertical cylinder; the nearest hit
gives the ray's luminance (procedural texture at the hit point, or the object's colour), a miss
gives the sky's. An ommatidium's value is the Gaussian-weighted mean over its rays. No host
callbacks, no camera images: ``render_eyes`` is ``jit``/``vmap``-able and runs the same on the
C MuJoCo (Gymnasium) and MJX (Brax) backends.

Layout: rays are handled as separate x, y, z component arrays (structure of arrays) and the
primitive slots are unrolled, so every operation is an elementwise op over all rays that XLA
fuses and vectorises; the texture is evaluated once per ray, for the nearest surface only; the
R rays of each ommatidium are cast one ring position at a time (``lax.scan``, 2 x 721 rays per
iteration) so the working set stays in cache. Under ``vmap`` each iteration covers the batch.

Scene parts whose values are known while tracing (a task's constant base scene under ``jit``;
only what the task moves is traced) are specialised (:func:`_plan`): surfaces and object slots
that are off are not cast against, and only the texture kinds in use are evaluated. The values
are the same as the general path's, with less to trace and compile.

Units: mm, rad; world frame z up. Float32 throughout.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from flyenvs.vision.lattice import DEFAULT_GEOMETRY, EyeGeometry, ray_directions, validate_geometry
from flyenvs.vision.scene import CHECKER, GRATING, SINE, UNIFORM, Scene

#: Hits closer than this (mm) are ignored (a ray never hits the surface it starts on).
T_MIN_MM: float = 1e-4
_TINY = 1e-12


def _atan2(y: jax.Array, x: jax.Array) -> jax.Array:
    """Polynomial arctan2 (max error about 1e-5 rad), cheaper than ``jnp.arctan2`` on CPU."""
    ax, ay = jnp.abs(x), jnp.abs(y)
    a = jnp.minimum(ax, ay) / jnp.maximum(jnp.maximum(ax, ay), _TINY)
    s = a * a
    p = -0.013480470
    for c in (0.057477314, -0.121239071, 0.195635925, -0.332994597, 0.999995630):
        p = p * s + c
    r = p * a
    r = jnp.where(ay > ax, 0.5 * jnp.pi - r, r)
    r = jnp.where(x < 0, jnp.pi - r, r)
    return jnp.where(y < 0, -r, r)


def _raised_cosine(f: jax.Array) -> jax.Array:
    """(1 - cos(2 pi f)) / 2 for ``f`` in [0, 1), by an even polynomial (error < 1e-6)."""
    x = 2.0 * jnp.pi * (f - 0.5)  # cos(2 pi f) = -cos(x), x in [-pi, pi)
    x2 = x * x
    p = -1.0 / 87178291200.0  # Taylor series of cos to x^14, truncation < 2e-7 on [-pi, pi]
    for c in (
        1.0 / 479001600.0,
        -1.0 / 3628800.0,
        1.0 / 40320.0,
        -1.0 / 720.0,
        1.0 / 24.0,
        -0.5,
        1.0,
    ):
        p = p * x2 + c
    return 0.5 + 0.5 * p


def _known(x: jax.Array) -> np.ndarray | None:
    """The value of ``x`` if it is known while tracing (a constant, not a tracer), else None."""
    return None if isinstance(x, jax.core.Tracer) else np.asarray(x)


def _maybe_on(flag: jax.Array) -> bool:
    """False only if the bool array ``flag`` is known while tracing to be all False."""
    value = _known(flag)
    return value is None or bool(np.any(value))


def _slots_maybe_on(on: jax.Array) -> tuple[int, ...]:
    """Indices of the slots of ``on`` [..., S] that may be in use (all of them if traced)."""
    value = _known(on)
    n = on.shape[-1]
    return tuple(range(n)) if value is None else tuple(i for i in range(n) if value[..., i].any())


def _static_kind(kind: jax.Array) -> int | None:
    """The texture kind if it is one scalar known while tracing, else None."""
    value = _known(kind)
    return int(value) if value is not None and value.size == 1 else None


class _Plan(NamedTuple):
    """What of a scene is known while tracing (hashable, static): the surfaces and object slots
    that may be on, and the texture kinds (None: traced)."""

    ground: bool
    panorama: bool
    spheres: tuple[int, ...]
    cylinders: tuple[int, ...]
    ground_kind: int | None
    panorama_kind: int | None


def _plan(scene: Scene) -> _Plan:
    """The :class:`_Plan` of ``scene`` (everything may be on if its fields are traced)."""
    return _Plan(
        ground=_maybe_on(scene.ground_on),
        panorama=_maybe_on(scene.panorama_on),
        spheres=_slots_maybe_on(scene.sphere_on),
        cylinders=_slots_maybe_on(scene.cylinder_on),
        ground_kind=_static_kind(scene.ground.kind),
        panorama_kind=_static_kind(scene.panorama.kind),
    )


def _texture_weight(
    kind: jax.Array, s1: jax.Array, s2: jax.Array, static: int | None = None
) -> jax.Array:
    """Mixing weight in [0, 1] between ``lum_a`` (0) and ``lum_b`` (1) at texture coordinates
    ``s1``, ``s2`` [...] (in periods) for texture ``kind`` (scalar or per ray).

    A ``static`` kind (known while tracing) evaluates that texture's formula only (the same
    values)."""
    f1 = s1 - jnp.floor(s1)
    stripe = (f1 >= 0.5).astype(s1.dtype)
    if static == GRATING:
        return stripe
    if static == SINE:
        return _raised_cosine(f1)
    if static == CHECKER:
        return jnp.abs(stripe - (s2 - jnp.floor(s2) >= 0.5).astype(s1.dtype))
    if static is not None:
        return jnp.zeros_like(s1)
    checker = jnp.abs(stripe - (s2 - jnp.floor(s2) >= 0.5).astype(s1.dtype))
    return jnp.where(
        kind == GRATING,
        stripe,
        jnp.where(kind == SINE, _raised_cosine(f1), jnp.where(kind == CHECKER, checker, 0.0)),
    )


def _tube_roots(px, py, dx, dy, inv_a, radius):
    """Ray parameters (near, far) where ``p + t d`` crosses an infinite vertical tube of
    ``radius`` (``p`` relative to its axis), and whether the ray meets it at all."""
    b = (px * dx + py * dy) * inv_a
    c = (px * px + py * py - radius * radius) * inv_a
    disc = b * b - c
    sq = jnp.sqrt(jnp.maximum(disc, 0.0))
    return -b - sq, -b + sq, disc >= 0.0


def _ground_t(scene: Scene, oz: jax.Array, dz: jax.Array, inv_dz: jax.Array, inf: jax.Array):
    """Ray parameter of the ground plane hit, one-sided (seen from above) like MuJoCo's; inf
    where the ray misses it."""
    t_g = (scene.ground_z_mm - oz) * inv_dz
    ok = scene.ground_on & (oz > scene.ground_z_mm) & (dz < -1e-9) & (t_g > T_MIN_MM)
    return jnp.where(ok, t_g, inf)


def _panorama_t(scene: Scene, o: tuple, d: tuple, inv_a, vertical, inf) -> jax.Array:
    """Ray parameter of the nearest crossing of the panorama (an open vertical tube) inside
    its height; inf where there is none."""
    ox, oy, oz = o
    dx, dy, dz = d
    px = ox - scene.panorama_center_mm[0]
    py = oy - scene.panorama_center_mm[1]
    t1, t2, real = _tube_roots(px, py, dx, dy, inv_a, scene.panorama_radius_mm)
    real = real & ~vertical & scene.panorama_on
    z_lo, z_hi = scene.panorama_z_mm[0], scene.panorama_z_mm[1]
    z1, z2 = oz + t1 * dz, oz + t2 * dz
    ok1 = real & (t1 > T_MIN_MM) & (z1 >= z_lo) & (z1 <= z_hi)
    ok2 = real & (t2 > T_MIN_MM) & (z2 >= z_lo) & (z2 <= z_hi)
    return jnp.where(ok1, t1, jnp.where(ok2, t2, inf))


def _objects(scene: Scene, o: tuple, d: tuple, inv_dz, inv_a, vertical, inf, plan: _Plan):
    """(ray parameter [...], luminance [..., C]) of the nearest sphere or capped vertical
    cylinder (uniform colour); (inf, 0) where the ray hits none. Slots that ``plan`` knows to
    be off are skipped."""
    ox, oy, oz = o
    dx, dy, dz = d
    t_o = inf
    lum_o = jnp.zeros((*inf.shape, scene.sky_lum.shape[-1]), jnp.float32)
    for i in plan.spheres:
        cx, cy, cz = (scene.sphere_center_mm[i, k] for k in range(3))
        qx, qy, qz = ox - cx, oy - cy, oz - cz
        b = qx * dx + qy * dy + qz * dz
        c = qx * qx + qy * qy + qz * qz - scene.sphere_radius_mm[i] ** 2
        disc = b * b - c
        sq = jnp.sqrt(jnp.maximum(disc, 0.0))
        t = jnp.where(-b - sq > T_MIN_MM, -b - sq, -b + sq)
        hit = scene.sphere_on[i] & (disc >= 0.0) & (t > T_MIN_MM) & (t < t_o)
        t_o = jnp.where(hit, t, t_o)
        lum_o = jnp.where(hit[..., None], scene.sphere_lum[i], lum_o)
    for i in plan.cylinders:
        cx, cy, cz = (scene.cylinder_center_mm[i, k] for k in range(3))
        h, r = scene.cylinder_half_height_mm[i], scene.cylinder_radius_mm[i]
        qx, qy, qz = ox - cx, oy - cy, oz - cz
        t1, t2, real = _tube_roots(qx, qy, dx, dy, inv_a, r)
        real = real & ~vertical
        side1 = real & (t1 > T_MIN_MM) & (jnp.abs(qz + t1 * dz) <= h)
        side2 = real & (t2 > T_MIN_MM) & (jnp.abs(qz + t2 * dz) <= h)
        t = jnp.where(side1, t1, jnp.where(side2, t2, inf))
        for z_cap in (h, -h):
            tc = (z_cap - qz) * inv_dz
            cxh, cyh = qx + tc * dx, qy + tc * dy
            cap = (jnp.abs(dz) > 1e-9) & (tc > T_MIN_MM) & (cxh * cxh + cyh * cyh <= r * r)
            t = jnp.where(cap & (tc < t), tc, t)
        hit = scene.cylinder_on[i] & (t < t_o)
        t_o = jnp.where(hit, t, t_o)
        lum_o = jnp.where(hit[..., None], scene.cylinder_lum[i], lum_o)
    return t_o, lum_o


def _surface_weight(scene: Scene, o: tuple, d: tuple, t_s, use_p, plan: _Plan) -> jax.Array:
    """Texture weight [...] at the ray's ground or panorama hit ``t_s`` (``use_p``: the
    panorama's, None if it cannot be hit). Textures that ``plan`` knows to be uniform need no
    hit point; other known kinds evaluate their own formula only."""
    g, p = scene.ground, scene.panorama
    kinds = {plan.ground_kind}
    if use_p is not None:
        kinds.add(plan.panorama_kind)
    if kinds == {UNIFORM}:
        return jnp.zeros_like(t_s)
    ox, oy, oz = o
    dx, dy, dz = d
    ts = jnp.where(jnp.isfinite(t_s), t_s, 0.0)
    hx, hy, hz = ox + ts * dx, oy + ts * dy, oz + ts * dz
    ca, sa = jnp.cos(g.angle_rad), jnp.sin(g.angle_rad)
    s1_g = (hx * ca + hy * sa) / g.period + g.phase
    s2_g = (hy * ca - hx * sa) / g.period
    if use_p is None:
        return _texture_weight(g.kind, s1_g, s2_g, plan.ground_kind)
    z_lo, z_hi = scene.panorama_z_mm[0], scene.panorama_z_mm[1]
    azimuth = _atan2(hy - scene.panorama_center_mm[1], hx - scene.panorama_center_mm[0])
    s1_p = (azimuth - p.angle_rad) / p.period + p.phase
    s2_p = (hz - 0.5 * (z_lo + z_hi)) / (scene.panorama_radius_mm * p.period)
    s1, s2 = jnp.where(use_p, s1_p, s1_g), jnp.where(use_p, s2_p, s2_g)
    if None in kinds:
        return _texture_weight(jnp.where(use_p, p.kind, g.kind), s1, s2)
    if len(kinds) == 1:
        return _texture_weight(g.kind, s1, s2, plan.ground_kind)
    return jnp.where(
        use_p,
        _texture_weight(p.kind, s1, s2, plan.panorama_kind),
        _texture_weight(g.kind, s1, s2, plan.ground_kind),
    )


def _cast(scene: Scene, o: tuple, d: tuple, plan: _Plan | None = None):
    """Nearest hit of rays with origin components ``o`` and direction components ``d``.

    Returns distance (inf on a miss), the texture weight, and the per-ray ``lum_a`` and
    ``lum_b`` [..., C] of the surface hit. ``plan`` (default: :func:`_plan` of ``scene``) says
    what is known while tracing (e.g. a task's constant base scene under ``jit``): surfaces
    and slots that are off are not cast against, and only the textures in use are evaluated;
    the values are the same as the general path's.
    """
    plan = _plan(scene) if plan is None else plan
    ox, oy, oz = o
    dx, dy, dz = d
    shape = jnp.broadcast_shapes(ox.shape, dx.shape)
    inf = jnp.full(shape, jnp.inf, jnp.float32)
    inv_dz = 1.0 / jnp.where(jnp.abs(dz) > 1e-9, dz, 1e-9)
    axy = dx * dx + dy * dy
    vertical = axy < _TINY
    inv_a = 1.0 / jnp.where(vertical, 1.0, axy)

    t_g = _ground_t(scene, oz, dz, inv_dz, inf) if plan.ground else inf
    t_o, lum_o = _objects(scene, o, d, inv_dz, inv_a, vertical, inf, plan)

    # nearest of ground and panorama; one texture evaluation per ray
    g, p = scene.ground, scene.panorama
    if plan.panorama:
        t_p = _panorama_t(scene, o, d, inv_a, vertical, inf)
        use_p = t_p < t_g
        t_s = jnp.where(use_p, t_p, t_g)
        lum_a = jnp.where(use_p[..., None], p.lum_a, g.lum_a)
        lum_b = jnp.where(use_p[..., None], p.lum_b, g.lum_b)
    else:
        use_p, t_s = None, t_g
        lum_a = jnp.broadcast_to(g.lum_a, (*shape, g.lum_a.shape[-1]))
        lum_b = jnp.broadcast_to(g.lum_b, (*shape, g.lum_b.shape[-1]))
    weight = _surface_weight(scene, o, d, t_s, use_p, plan)
    use_o = t_o < t_s
    t = jnp.where(use_o, t_o, t_s)
    weight = jnp.where(use_o, 0.0, weight)
    miss = ~jnp.isfinite(t)
    weight = jnp.where(miss, 0.0, weight)
    use_o, miss = use_o[..., None], miss[..., None]
    lum_a = jnp.where(miss, scene.sky_lum, jnp.where(use_o, lum_o, lum_a))
    lum_b = jnp.where(miss, scene.sky_lum, jnp.where(use_o, lum_o, lum_b))
    return t, weight, lum_a, lum_b


def cast_rays(
    scene: Scene, origins_mm: jax.Array, directions: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Nearest hit of each ray.

    Args:
        scene: the visual primitives (unbatched).
        origins_mm: [..., 3] ray origins, world frame (broadcast against ``directions``).
        directions: [..., 3] ray directions, world frame (normalised here).

    Returns:
        distance_mm: [...] distance to the nearest hit, ``inf`` where the ray hits nothing.
        luminance: [..., C] luminance seen along each ray (``scene.sky_lum`` on a miss).
    """
    o = jnp.asarray(origins_mm, jnp.float32)
    d = jnp.asarray(directions, jnp.float32)
    d = d / jnp.linalg.norm(d, axis=-1, keepdims=True)  # the sphere test assumes unit length
    t, w, lum_a, lum_b = _cast(
        scene, tuple(o[..., k] for k in range(3)), tuple(d[..., k] for k in range(3))
    )
    return t, lum_a + (lum_b - lum_a) * w[..., None]


@functools.lru_cache(maxsize=8)
def _eye_rays(geometry: EyeGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Cached float32 ray directions [2, 721, R, 3] (eye frames) and weights [R]."""
    dirs, weights = ray_directions(geometry)
    return dirs.astype(np.float32), weights.astype(np.float32)


def eye_ray_directions_world(
    eye_xmat: jax.Array, geometry: EyeGeometry = DEFAULT_GEOMETRY
) -> jax.Array:
    """World-frame directions [2, 721, R, 3] of every ray, given the eye frames [2, 3, 3]
    (columns = frame axes in world coordinates, as ``Readout.eye_xmat``)."""
    dirs, _ = _eye_rays(geometry)
    return jnp.einsum("eij,enrj->enri", jnp.asarray(eye_xmat, jnp.float32), dirs)


def _render_single(scene: Scene, eye_pos_mm: jax.Array, eye_xmat: jax.Array, geometry) -> jax.Array:
    """Unbatched two-eye update (see :func:`render_eyes`); returns [2, 721, C].

    The rays are cast one ring position at a time (a loop over the R ray offsets, 2 x 721 rays
    each), accumulating the weighted luminance: the working set stays in the CPU cache, which
    is about twice as fast as casting all 2 x 721 x R rays at once, and under ``vmap`` each
    step covers the whole batch. What of the scene is known while tracing (:func:`_plan`) is
    read once, from the caller's values.
    """
    dirs_eye, weights = _eye_rays(geometry)
    dirs_r = jnp.asarray(np.ascontiguousarray(np.moveaxis(dirs_eye, 2, 0)))  # [R, 2, 721, 3]
    o = tuple(eye_pos_mm[:, k : k + 1] for k in range(3))
    n_ch = scene.sky_lum.shape[-1]
    plan = _plan(scene)

    def one_ring(acc: jax.Array, ring: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, None]:
        dirs, weight = ring
        # world direction = xmat @ eye-frame direction, as component arrays [2, 721]
        d = tuple(jnp.einsum("ej,enj->en", eye_xmat[:, k, :], dirs) for k in range(3))
        _, w, lum_a, lum_b = _cast(scene, o, d, plan)
        return acc + weight * (lum_a + (lum_b - lum_a) * w[..., None]), None

    acc0 = jnp.zeros((2, dirs_eye.shape[1], n_ch), jnp.float32)
    if len(weights) == 1:
        return one_ring(acc0, (dirs_r[0], jnp.float32(weights[0])))[0]
    out, _ = jax.lax.scan(one_ring, acc0, (dirs_r, jnp.asarray(weights)))
    return out


def render_eyes(
    scene: Scene,
    eye_pos_mm: jax.Array,
    eye_xmat: jax.Array,
    geometry: EyeGeometry = DEFAULT_GEOMETRY,
) -> jax.Array:
    """What the two compound eyes see.

    Args:
        scene: the visual primitives (unbatched; ``vmap`` for a batch of environments).
        eye_pos_mm: [2, 3] positions of the left and right eye frames, world frame
            (``Readout.eye_pos_mm``).
        eye_xmat: [2, 3, 3] orientations of the eye frames (``Readout.eye_xmat``).
        geometry: eye geometry (static; hashable).

    Returns:
        Luminance in [0, 1]: [2, 721] if the scene has one channel, else [2, 721, C];
        eye 0 = left, 1 = right; columns in flyvis order.
    """
    validate_geometry(geometry)
    eye_pos_mm = jnp.asarray(eye_pos_mm, jnp.float32)
    eye_xmat = jnp.asarray(eye_xmat, jnp.float32)
    if eye_pos_mm.shape != (2, 3) or eye_xmat.shape != (2, 3, 3):
        raise ValueError(
            f"render_eyes expects eye_pos_mm [2, 3] and eye_xmat [2, 3, 3] (vmap for batches), "
            f"got {eye_pos_mm.shape} and {eye_xmat.shape}"
        )
    out = _render_single(scene, eye_pos_mm, eye_xmat, geometry)
    return out[..., 0] if scene.n_channels == 1 else out
