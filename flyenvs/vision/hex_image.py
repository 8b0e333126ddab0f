"""Pictures of the two eyes' readouts as hexagon maps (for videos and inspection).

Layout: as the fly would see a panorama unrolled, left eye on the left, right eye on the right,
anterior towards the middle, dorsal up. Each ommatidium is a flat-topped hexagon (the Voronoi
cell of its lattice position) separated from its neighbours by a thin dark border.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from flyenvs.vision.lattice import EXTENT, N_OMMATIDIA, hex_coords

#: Neighbour directions (unit vectors, planar lattice coordinates) of the hexagonal lattice.
_NORMALS = np.array([[0.0, 1.0], [np.sqrt(3) / 2, 0.5], [np.sqrt(3) / 2, -0.5]])
_BACKGROUND = np.array([40, 40, 48], np.uint8)


@functools.lru_cache(maxsize=4)
def _index_map(cell_px: int) -> np.ndarray:
    """Column index [H, W] (-1 = background or border) of one eye drawn with anterior right."""
    half_w = (np.sqrt(3) / 2 * EXTENT + 0.6) * cell_px
    half_h = (EXTENT + 0.6) * cell_px
    w, h = int(np.ceil(2 * half_w)), int(np.ceil(2 * half_h))
    px, py = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    x = (px - w / 2) / cell_px
    y = -(py - h / 2) / cell_px
    # planar (x, y) -> fractional axial (u, v): x = sqrt(3)/2 v, y = -(u + v/2)
    vf = x * 2 / np.sqrt(3)
    uf = -y - vf / 2
    # cube rounding (q = u, r = v, s = -u - v)
    sf = -uf - vf
    u, v, s = np.round(uf), np.round(vf), np.round(sf)
    du, dv, ds = np.abs(u - uf), np.abs(v - vf), np.abs(s - sf)
    fix_u = (du > dv) & (du > ds)
    fix_v = ~fix_u & (dv > ds)
    u = np.where(fix_u, -v - s, u)
    v = np.where(fix_v, -u - s, v)
    inside = (np.abs(u) <= EXTENT) & (np.abs(v) <= EXTENT) & (np.abs(u + v) <= EXTENT)
    cu, cv = hex_coords()
    table = -np.ones((2 * EXTENT + 1, 2 * EXTENT + 1), np.int32)
    table[cu + EXTENT, cv + EXTENT] = np.arange(N_OMMATIDIA)
    ui = np.clip(u.astype(int) + EXTENT, 0, 2 * EXTENT)
    vi = np.clip(v.astype(int) + EXTENT, 0, 2 * EXTENT)
    index = np.where(inside, table[ui, vi], -1)
    # thin border: hexagonal norm of the offset from the cell centre
    cx, cy = np.sqrt(3) / 2 * v, -(u + v / 2)
    off = np.stack([x - cx, y - cy], axis=-1)
    hex_norm = np.abs(off @ _NORMALS.T).max(axis=-1)
    border = hex_norm > 0.5 - max(0.6 / cell_px, 0.04)
    return np.where(border, -1, index).astype(np.int32)


def _to_rgb(values: np.ndarray) -> np.ndarray:
    """[N] or [N, C] values in [0, 1] -> uint8 [N, 3] (C = 2: red = ch 0, green = ch 1)."""
    v = np.clip(values, 0.0, 1.0)
    if v.ndim == 1:
        rgb = np.repeat(v[:, None], 3, axis=1)
    else:
        rgb = np.stack([v[:, 0], v[:, 1], 0.5 * (v[:, 0] + v[:, 1])], axis=1)
    return np.round(rgb * 255).astype(np.uint8)


def hex_image(readout: np.ndarray, cell_px: int = 8, gap_px: int | None = None) -> np.ndarray:
    """Draw both eyes' readouts as hexagon maps.

    Args:
        readout: [2, 721] or [2, 721, C] (C in {1, 2}) luminance in [0, 1] (values outside are
            clipped); numpy or JAX array, e.g. from :func:`flyenvs.vision.render_eyes`.
        cell_px: hexagon spacing in pixels (>= 3).
        gap_px: gap between the eyes (default ``2 * cell_px``).

    Returns:
        uint8 RGB image [H, W, 3] (H = 250, W = 452 at ``cell_px=8``).
    """
    arr = np.asarray(readout, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if (
        arr.shape[:2] != (2, N_OMMATIDIA)
        or arr.ndim not in (2, 3)
        or (arr.ndim == 3 and arr.shape[2] != 2)
    ):
        raise ValueError(
            f"readout must be [2, {N_OMMATIDIA}] or [2, {N_OMMATIDIA}, C<=2], got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError("readout contains NaN or inf")
    if int(cell_px) < 3:
        raise ValueError(f"cell_px must be >= 3, got {cell_px}")
    gap = 2 * int(cell_px) if gap_px is None else int(gap_px)
    if gap < 0:
        raise ValueError(f"gap_px must be >= 0, got {gap_px}")
    index = _index_map(int(cell_px))
    panels = []
    for eye, idx in ((0, index), (1, index[:, ::-1])):  # right eye: anterior to the left
        colours = np.concatenate([_to_rgb(arr[eye]), _BACKGROUND[None]], axis=0)
        panels.append(colours[idx])  # idx -1 picks the background row
    h = index.shape[0]
    spacer = np.broadcast_to(_BACKGROUND, (h, gap, 3))
    return np.ascontiguousarray(np.concatenate([panels[0], spacer, panels[1]], axis=1))


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write a uint8 RGB image [H, W, 3] (e.g. from :func:`hex_image`) as PNG; returns the path."""
    import imageio.v3 as iio

    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 [H, W, 3], got {image.dtype} {image.shape}")
    path = Path(path)
    iio.imwrite(path, image, extension=".png")
    return path
