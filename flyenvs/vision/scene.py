"""What the eyes can see: a fixed-size JAX pytree of visual primitives with procedural textures.

A :class:`Scene` holds one ground plane, one panorama cylinder, up to ``max_spheres`` spheres and
up to ``max_cylinders`` vertical finite cylinders ("pillars"). Counts are fixed when the scene is
built so that array shapes are static under ``jit``; unused slots are switched off by masks.
Every field is an array, so a task can change a scene per environment (``scene._replace(...)``)
inside ``jit``/``vmap``: move a sphere, rotate a grating (``panorama.angle_rad``), and so on.

Luminance is in [0, 1] with ``C`` channels (``C = 1``: luminance; ``C = 2``: e.g. the pale and
yellow ommatidia channels of NeuroMechFly). Lengths in mm, angles in rad, world frame z up.

Textures (:class:`Texture`, ``kind``):
    ``UNIFORM`` (0): ``lum_a`` everywhere.
    ``GRATING`` (1): square-wave stripes, ``lum_a`` for the first half of each period, ``lum_b``
        for the second.
    ``SINE`` (2): ``lum_a + (lum_b - lum_a) * (1 - cos(2 pi s)) / 2``.
    ``CHECKER`` (3): checkerboard whose squares have side ``period / 2``.
The texture coordinate ``s`` on the ground is the distance (mm) along the direction
``angle_rad`` divided by ``period``, plus ``phase`` (in periods); the stripes run perpendicular
to that direction. On the panorama ``s = (azimuth - angle_rad) / period + phase`` with ``period``
in rad of azimuth about the panorama axis, so vertical stripes rotate with ``angle_rad`` (use
an integer number of periods per turn for a seamless pattern); the checkerboard's second
coordinate is height / (radius * period).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

UNIFORM, GRATING, SINE, CHECKER = 0, 1, 2, 3
TEXTURE_KINDS: dict[str, int] = {
    "uniform": UNIFORM,
    "grating": GRATING,
    "sine": SINE,
    "checker": CHECKER,
}


class Texture(NamedTuple):
    """A procedural texture (all fields arrays; see the module docstring).

    Attributes:
        kind: int32 [] one of UNIFORM, GRATING, SINE, CHECKER.
        lum_a: [C] luminance of the first phase / uniform luminance, in [0, 1].
        lum_b: [C] luminance of the second phase, in [0, 1].
        period: [] spatial period: mm on the ground, rad of azimuth on the panorama.
        phase: [] shift of the pattern, in periods.
        angle_rad: [] ground: direction across the stripes; panorama: rotation about the axis.
    """

    kind: jnp.ndarray
    lum_a: jnp.ndarray
    lum_b: jnp.ndarray
    period: jnp.ndarray
    phase: jnp.ndarray
    angle_rad: jnp.ndarray


class Scene(NamedTuple):
    """Visual primitives of one arena (unbatched shapes; ``C`` channels).

    Attributes:
        ground_on: bool [] whether the ground plane exists.
        ground_z_mm: [] height of the ground plane.
        ground: Texture of the ground (period in mm).
        panorama_on: bool [] whether the panorama cylinder exists.
        panorama_center_mm: [2] x, y of the panorama axis.
        panorama_radius_mm: [] radius.
        panorama_z_mm: [2] bottom and top of the (open) panorama wall.
        panorama: Texture of the wall (period in rad of azimuth).
        sphere_on: bool [S] which sphere slots are used.
        sphere_center_mm: [S, 3].
        sphere_radius_mm: [S].
        sphere_lum: [S, C] uniform luminance.
        cylinder_on: bool [K] which cylinder slots are used.
        cylinder_center_mm: [K, 3] centre of each vertical cylinder (middle of its axis).
        cylinder_radius_mm: [K].
        cylinder_half_height_mm: [K].
        cylinder_lum: [K, C] uniform luminance (wall and caps).
        sky_lum: [C] luminance where a ray hits nothing.
    """

    ground_on: jnp.ndarray
    ground_z_mm: jnp.ndarray
    ground: Texture
    panorama_on: jnp.ndarray
    panorama_center_mm: jnp.ndarray
    panorama_radius_mm: jnp.ndarray
    panorama_z_mm: jnp.ndarray
    panorama: Texture
    sphere_on: jnp.ndarray
    sphere_center_mm: jnp.ndarray
    sphere_radius_mm: jnp.ndarray
    sphere_lum: jnp.ndarray
    cylinder_on: jnp.ndarray
    cylinder_center_mm: jnp.ndarray
    cylinder_radius_mm: jnp.ndarray
    cylinder_half_height_mm: jnp.ndarray
    cylinder_lum: jnp.ndarray
    sky_lum: jnp.ndarray

    @property
    def n_channels(self) -> int:
        """Number of luminance channels ``C``."""
        return int(self.sky_lum.shape[-1])


def _lum(value: float | Sequence[float], n_channels: int, what: str) -> np.ndarray:
    """Luminance as float32 [C]; a scalar is repeated over channels. Raises on bad values."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n_channels, float(arr))
    if arr.shape != (n_channels,):
        raise ValueError(
            f"{what}: expected a scalar or {n_channels} channel values, got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or arr.min() < 0.0 or arr.max() > 1.0:
        raise ValueError(f"{what}: luminance must be in [0, 1], got {arr.tolist()}")
    return arr.astype(np.float32)


def make_texture(
    kind: str = "uniform",
    lum_a: float | Sequence[float] = 0.5,
    lum_b: float | Sequence[float] = 0.5,
    period: float = 1.0,
    phase: float = 0.0,
    angle_rad: float = 0.0,
    n_channels: int = 1,
) -> Texture:
    """Build a :class:`Texture`; ``kind`` is one of ``TEXTURE_KINDS``'s names.

    ``period`` is in mm for the ground and in rad of azimuth for the panorama.
    """
    if kind not in TEXTURE_KINDS:
        raise ValueError(f"unknown texture kind {kind!r}; valid kinds: {sorted(TEXTURE_KINDS)}")
    if not (np.isfinite(period) and period > 0):
        raise ValueError(f"texture period must be a positive number, got {period}")
    if not (np.isfinite(phase) and np.isfinite(angle_rad)):
        raise ValueError(f"texture phase and angle must be finite, got {phase}, {angle_rad}")
    return Texture(
        kind=jnp.asarray(TEXTURE_KINDS[kind], dtype=jnp.int32),
        lum_a=jnp.asarray(_lum(lum_a, n_channels, "lum_a")),
        lum_b=jnp.asarray(_lum(lum_b, n_channels, "lum_b")),
        period=jnp.asarray(period, dtype=jnp.float32),
        phase=jnp.asarray(phase, dtype=jnp.float32),
        angle_rad=jnp.asarray(angle_rad, dtype=jnp.float32),
    )


class Sphere(NamedTuple):
    """A uniformly coloured sphere (input to :func:`make_scene`)."""

    center_mm: Sequence[float]
    radius_mm: float
    lum: float | Sequence[float] = 0.0


class Pillar(NamedTuple):
    """A uniformly coloured vertical finite cylinder (input to :func:`make_scene`)."""

    center_mm: Sequence[float]
    radius_mm: float
    half_height_mm: float
    lum: float | Sequence[float] = 0.0


def make_scene(
    *,
    ground: Texture | None = None,
    ground_z_mm: float = 0.0,
    panorama: Texture | None = None,
    panorama_center_mm: Sequence[float] = (0.0, 0.0),
    panorama_radius_mm: float = 100.0,
    panorama_z_mm: Sequence[float] = (-50.0, 50.0),
    spheres: Sequence[Sphere] = (),
    pillars: Sequence[Pillar] = (),
    max_spheres: int = 2,
    max_cylinders: int = 2,
    sky_lum: float | Sequence[float] = 1.0,
    n_channels: int = 1,
) -> Scene:
    """Build a :class:`Scene` (host side; validates every input).

    ``ground`` / ``panorama`` of ``None`` leave that surface out. ``spheres`` / ``pillars`` fill
    the first slots; the remaining slots up to ``max_spheres`` / ``max_cylinders`` are unused
    (masked) so a task can switch them on later without changing shapes.
    """
    if n_channels not in (1, 2):
        raise ValueError(f"n_channels must be 1 or 2, got {n_channels}")
    for name, tex in (("ground", ground), ("panorama", panorama)):
        if tex is not None and (not isinstance(tex, Texture) or tex.lum_a.shape != (n_channels,)):
            raise ValueError(f"{name} must be a Texture with {n_channels} channel(s)")
    if len(spheres) > max_spheres:
        raise ValueError(f"{len(spheres)} spheres exceed max_spheres={max_spheres}")
    if len(pillars) > max_cylinders:
        raise ValueError(f"{len(pillars)} pillars exceed max_cylinders={max_cylinders}")
    if not (np.isfinite(panorama_radius_mm) and panorama_radius_mm > 0):
        raise ValueError(f"panorama_radius_mm must be positive, got {panorama_radius_mm}")
    pz = np.asarray(panorama_z_mm, dtype=np.float32)
    if pz.shape != (2,) or not pz[0] < pz[1]:
        raise ValueError(
            f"panorama_z_mm must be (bottom, top) with bottom < top, got {panorama_z_mm}"
        )
    pc = np.asarray(panorama_center_mm, dtype=np.float32)
    if pc.shape != (2,):
        raise ValueError(f"panorama_center_mm must be (x, y), got {panorama_center_mm}")

    s_on = np.zeros(max_spheres, bool)
    s_c = np.zeros((max_spheres, 3), np.float32)
    s_r = np.ones(max_spheres, np.float32)
    s_l = np.zeros((max_spheres, n_channels), np.float32)
    for i, s in enumerate(spheres):
        c = np.asarray(s.center_mm, dtype=np.float32)
        if c.shape != (3,) or not np.all(np.isfinite(c)) or not s.radius_mm > 0:
            raise ValueError(
                f"sphere {i}: need a finite centre (3,) and a positive radius, got {s}"
            )
        s_on[i], s_c[i], s_r[i], s_l[i] = (
            True,
            c,
            s.radius_mm,
            _lum(s.lum, n_channels, f"sphere {i}"),
        )
    k_on = np.zeros(max_cylinders, bool)
    k_c = np.zeros((max_cylinders, 3), np.float32)
    k_r = np.ones(max_cylinders, np.float32)
    k_h = np.ones(max_cylinders, np.float32)
    k_l = np.zeros((max_cylinders, n_channels), np.float32)
    for i, p in enumerate(pillars):
        c = np.asarray(p.center_mm, dtype=np.float32)
        if (
            c.shape != (3,)
            or not np.all(np.isfinite(c))
            or not (p.radius_mm > 0 and p.half_height_mm > 0)
        ):
            raise ValueError(
                f"pillar {i}: need a finite centre (3,), positive radius and half height, got {p}"
            )
        k_on[i], k_c[i], k_r[i], k_h[i] = True, c, p.radius_mm, p.half_height_mm
        k_l[i] = _lum(p.lum, n_channels, f"pillar {i}")

    off = make_texture(n_channels=n_channels)
    return Scene(
        ground_on=jnp.asarray(ground is not None),
        ground_z_mm=jnp.asarray(ground_z_mm, jnp.float32),
        ground=ground if ground is not None else off,
        panorama_on=jnp.asarray(panorama is not None),
        panorama_center_mm=jnp.asarray(pc),
        panorama_radius_mm=jnp.asarray(panorama_radius_mm, jnp.float32),
        panorama_z_mm=jnp.asarray(pz),
        panorama=panorama if panorama is not None else off,
        sphere_on=jnp.asarray(s_on),
        sphere_center_mm=jnp.asarray(s_c),
        sphere_radius_mm=jnp.asarray(s_r),
        sphere_lum=jnp.asarray(s_l),
        cylinder_on=jnp.asarray(k_on),
        cylinder_center_mm=jnp.asarray(k_c),
        cylinder_radius_mm=jnp.asarray(k_r),
        cylinder_half_height_mm=jnp.asarray(k_h),
        cylinder_lum=jnp.asarray(k_l),
        sky_lum=jnp.asarray(_lum(sky_lum, n_channels, "sky_lum")),
    )


def set_sphere(
    scene: Scene, index: int, center_mm: jnp.ndarray, on: bool | jnp.ndarray = True
) -> Scene:
    """A copy of ``scene`` with sphere slot ``index`` (static int) moved to ``center_mm`` [3]
    and switched on or off. Pure; jit/vmap-able (``center_mm`` and ``on`` may be traced)."""
    if not 0 <= index < scene.sphere_on.shape[-1]:
        raise ValueError(f"sphere index {index} outside [0, {scene.sphere_on.shape[-1]})")
    return scene._replace(
        sphere_center_mm=scene.sphere_center_mm.at[index].set(jnp.asarray(center_mm, jnp.float32)),
        sphere_on=scene.sphere_on.at[index].set(jnp.asarray(on, bool)),
    )


def set_pillar(
    scene: Scene, index: int, center_mm: jnp.ndarray, on: bool | jnp.ndarray = True
) -> Scene:
    """A copy of ``scene`` with cylinder slot ``index`` (static int) moved to ``center_mm`` [3]
    (middle of its axis) and switched on or off. Pure; jit/vmap-able."""
    if not 0 <= index < scene.cylinder_on.shape[-1]:
        raise ValueError(f"pillar index {index} outside [0, {scene.cylinder_on.shape[-1]})")
    return scene._replace(
        cylinder_center_mm=scene.cylinder_center_mm.at[index].set(
            jnp.asarray(center_mm, jnp.float32)
        ),
        cylinder_on=scene.cylinder_on.at[index].set(jnp.asarray(on, bool)),
    )


def rotate_panorama(scene: Scene, angle_rad: jnp.ndarray) -> Scene:
    """A copy of ``scene`` whose panorama pattern is rotated to ``angle_rad`` about its axis
    (counter-clockwise seen from above). Pure; jit/vmap-able."""
    tex = scene.panorama._replace(angle_rad=jnp.asarray(angle_rad, jnp.float32))
    return scene._replace(panorama=tex)
