"""The ommatidia lattice: flyvis's hexagonal column order and each ommatidium's viewing direction.

Column order. flyvis (``flyvis.utils.hex_utils.get_hex_coords``, ``connectome._add_hex_nodes``,
``datasets.rendering.eye.BoxEye``) numbers the 721 columns of an extent-15 hexagon by axial
coordinates ``(u, v)`` with ``|u|, |v|, |u + v| <= 15``, ``u`` ascending, then ``v`` ascending.
Column ``i`` here is column ``i`` there, so a readout feeds the optic-lobe model directly.

Lattice orientation. flyvis draws ``(u, v)`` at image position ``x = v`` (to the right),
``y = u + v / 2`` (downwards) (``BoxEye._receptor_centers``, ``hex_to_pixel``), and NeuroMechFly
(``flygym.examples.vision.RetinaMapper``) places that image as the fly's left eye looks out of
it: right = anterior, down = ventral. We use the same convention for the left eye. The right eye
is the mirror image of the left (``y -> -y``), so column ``i`` of both eyes sees mirror-symmetric
directions and a motion detector that prefers front-to-back motion does so in both eyes (flygym
instead uses the unmirrored camera image for the right eye).

Viewing directions. A regular hexagonal lattice with nearest-neighbour angle
``interommatidial_deg`` (Drosophila: about 4.5-5 deg), laid on the sphere by an azimuthal
equidistant map about the eye's optical axis (angular distance from the axis is exact; spacing
along rings shrinks by ``sin(r) / r``, to 0.74 at the lattice corners). See ``docs/vision.md``.

Frames. Directions are unit vectors in the eye frame (x anterior, y left, z dorsal at rest);
``render_eyes`` rotates them with the eye frame's world orientation.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: Hexagon extent (columns from the centre to an edge) and column count of flyvis's lattice.
EXTENT: int = 15
N_OMMATIDIA: int = 1 + 3 * EXTENT * (EXTENT + 1)  # 721

#: The six axial neighbour offsets (du, dv) of a hexagonal lattice.
HEX_NEIGHBOURS: tuple[tuple[int, int], ...] = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1))


class EyeGeometry(NamedTuple):
    """Geometry of the two compound eyes (defaults: see ``docs/vision.md`` for sources).

    Attributes:
        interommatidial_deg: angle between neighbouring ommatidial axes (deg).
        acceptance_deg: full width at half maximum of each ommatidium's Gaussian angular
            sensitivity (deg).
        axis_azimuth_deg: azimuth of the left eye's central column, measured from anterior
            towards the left (deg); the right eye is mirrored.
        axis_elevation_deg: elevation of the central column above the eye frame's x-y plane (deg).
        n_rays: rays per ommatidium: 1 (axis only) or 7 (axis + a hexagonal ring, a degree-5
            Gaussian cubature of the acceptance function).
    """

    interommatidial_deg: float = 5.0
    acceptance_deg: float = 5.0
    axis_azimuth_deg: float = 55.0
    axis_elevation_deg: float = 0.0
    n_rays: int = 7


#: The default eye geometry (immutable).
DEFAULT_GEOMETRY = EyeGeometry()


def validate_geometry(geometry: EyeGeometry) -> None:
    """Raise ValueError naming the bad field of ``geometry``."""
    if not isinstance(geometry, EyeGeometry):
        raise TypeError(f"geometry must be an EyeGeometry, got {type(geometry).__name__}")
    if not 0.5 <= geometry.interommatidial_deg <= 8.0:
        raise ValueError(
            f"interommatidial_deg={geometry.interommatidial_deg} outside [0.5, 8] deg "
            "(the lattice must fit in a hemisphere around the eye's axis)"
        )
    if not 0.0 < geometry.acceptance_deg <= 30.0:
        raise ValueError(f"acceptance_deg={geometry.acceptance_deg} outside (0, 30] deg")
    if not -180.0 <= geometry.axis_azimuth_deg <= 180.0:
        raise ValueError(f"axis_azimuth_deg={geometry.axis_azimuth_deg} outside [-180, 180]")
    if not -90.0 <= geometry.axis_elevation_deg <= 90.0:
        raise ValueError(f"axis_elevation_deg={geometry.axis_elevation_deg} outside [-90, 90]")
    if geometry.n_rays not in (1, 7):
        raise ValueError(f"n_rays={geometry.n_rays} not supported; choose 1 or 7")


def hex_coords(extent: int = EXTENT) -> tuple[np.ndarray, np.ndarray]:
    """Axial coordinates in flyvis's column order.

    Returns:
        u, v: int arrays [N] with N = 1 + 3 * extent * (extent + 1); u ascending, then v.
    """
    if extent < 0:
        raise ValueError(f"extent must be >= 0, got {extent}")
    u, v = [], []
    for q in range(-extent, extent + 1):
        for r in range(max(-extent, -extent - q), min(extent, extent - q) + 1):
            u.append(q)
            v.append(r)
    return np.array(u, dtype=np.int32), np.array(v, dtype=np.int32)


def lattice_xy(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Planar lattice positions in units of the neighbour spacing.

    Returns:
        x: [N] towards the image right (anterior for the left eye).
        y: [N] towards the image top (dorsal). Neighbours are exactly 1 apart.
    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    return np.sqrt(3.0) / 2.0 * v, -(u + v / 2.0)


def neighbour_pairs(extent: int = EXTENT) -> np.ndarray:
    """Index pairs [M, 2] (i < j) of lattice neighbours, in column order."""
    u, v = hex_coords(extent)
    index = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(u, v, strict=True))}
    pairs = []
    for i, (a, b) in enumerate(zip(u, v, strict=True)):
        for du, dv in HEX_NEIGHBOURS:
            j = index.get((int(a) + du, int(b) + dv))
            if j is not None and j > i:
                pairs.append((i, j))
    return np.array(pairs, dtype=np.int32)


def _axis_frame(azimuth_rad: float, elevation_rad: float) -> np.ndarray:
    """Orthonormal columns (axis, image-right, image-up) of the left eye, eye frame [3, 3]."""
    ca, sa, ce, se = (
        np.cos(azimuth_rad),
        np.sin(azimuth_rad),
        np.cos(elevation_rad),
        np.sin(elevation_rad),
    )
    axis = np.array([ce * ca, ce * sa, se])
    right = np.array([sa, -ca, 0.0])  # horizontal, anterior for a laterally looking left eye
    up = np.cross(right, axis)
    return np.stack([axis, right, up], axis=1)


def _plane_to_sphere(x: np.ndarray, y: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Azimuthal-equidistant map of planar angles (rad) about ``frame[:, 0]`` -> unit [..., 3]."""
    r = np.hypot(x, y)
    sinc = np.where(r > 0, np.sin(r) / np.where(r > 0, r, 1.0), 1.0)
    d = (
        np.cos(r)[..., None] * frame[:, 0]
        + (sinc * x)[..., None] * frame[:, 1]
        + (sinc * y)[..., None] * frame[:, 2]
    )
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def mirror_to_right(directions_left: np.ndarray) -> np.ndarray:
    """Mirror left-eye directions [..., 3] through the sagittal plane (y -> -y)."""
    return directions_left * np.array([1.0, -1.0, 1.0])


def ommatidia_directions(geometry: EyeGeometry | None = None) -> np.ndarray:
    """Unit viewing direction of each ommatidium's axis, eye frame.

    Returns:
        float64 [2, 721, 3]: eye 0 = left, eye 1 = right; columns in flyvis order.
    """
    geometry = EyeGeometry() if geometry is None else geometry
    validate_geometry(geometry)
    u, v = hex_coords()
    x, y = lattice_xy(u, v)
    step = np.deg2rad(geometry.interommatidial_deg)
    frame = _axis_frame(
        np.deg2rad(geometry.axis_azimuth_deg), np.deg2rad(geometry.axis_elevation_deg)
    )
    left = _plane_to_sphere(step * x, step * y, frame)
    return np.stack([left, mirror_to_right(left)])


def ray_offsets(geometry: EyeGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Planar angular offsets (rad) and weights of the rays sampling one ommatidium.

    For 7 rays: the axis with weight 1/2 and six rays at radius 2 sigma (sigma = FWHM / 2.3548)
    along the lattice's neighbour directions with weight 1/12 each: this rule integrates every
    polynomial up to degree 5 exactly against the 2-D Gaussian.

    Returns:
        offsets [R, 2] (image-right, image-up) in rad, weights [R] summing to 1.
    """
    if geometry.n_rays == 1:
        return np.zeros((1, 2)), np.ones(1)
    sigma = np.deg2rad(geometry.acceptance_deg) / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    angles = np.pi / 2 + np.arange(6) * np.pi / 3  # includes straight up: a lattice direction
    ring = 2.0 * sigma * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    offsets = np.concatenate([np.zeros((1, 2)), ring])
    weights = np.concatenate([[0.5], np.full(6, 1.0 / 12.0)])
    return offsets, weights


def ray_directions(geometry: EyeGeometry | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Directions of every ray of every ommatidium, eye frame, and the per-ray weights.

    Each ommatidium's rays are its lattice position plus the offsets of :func:`ray_offsets`,
    mapped through the same azimuthal-equidistant projection (so rays stay near-isotropic).

    Returns:
        directions: float64 [2, 721, R, 3] unit vectors (left eye, mirrored right eye).
        weights: float64 [R] summing to 1.
    """
    geometry = EyeGeometry() if geometry is None else geometry
    validate_geometry(geometry)
    u, v = hex_coords()
    x, y = lattice_xy(u, v)
    step = np.deg2rad(geometry.interommatidial_deg)
    offsets, weights = ray_offsets(geometry)
    frame = _axis_frame(
        np.deg2rad(geometry.axis_azimuth_deg), np.deg2rad(geometry.axis_elevation_deg)
    )
    px = step * x[:, None] + offsets[None, :, 0]
    py = step * y[:, None] + offsets[None, :, 1]
    left = _plane_to_sphere(px, py, frame)
    return np.stack([left, mirror_to_right(left)]), weights
