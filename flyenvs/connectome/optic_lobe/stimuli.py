"""flyvis's moving-edge stimulus (``flyvis.datasets.MovingEdge``), rendered without flyvis.

flyvis draws a wide bright (ON, intensity 1) or dark (OFF, intensity 0) bar on a grey (0.5)
775 x 775 px monitor, rotates it by the motion angle (PIL, bilinear, through uint8), and averages
the pixels inside each of the 721 hexagons (``HexEye(721, 25)``; hexagon membership computed in
float16 as flyvis does). The edge steps through 21 offsets of 2.25 deg (one LED) from -22.5 deg to
+22.5 deg; the offset frames are resampled to the integration step and padded with grey before
and with the last frame after. Speeds are in columns (5.8 deg) per second; angle 0 moves toward +v
(rightward on flyvis's hex plots), angles counter-clockwise.

Output: float32 [T, 721] luminance per column in flyvis column order. ``sample_and_hold`` shows
such a movie as an eye refreshed every N integration steps would (frames held in between).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from flyenvs.vision.lattice import EXTENT, N_OMMATIDIA, hex_coords

#: flyvis's MovingEdge defaults.
ANGLES_DEG = (0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 330)
SPEEDS_COL_S = (2.4, 4.8, 9.7, 13, 19, 25)
OFFSETS = (-10, 11)  # LED units, half-open
INTENSITIES = (0, 1)  # OFF, ON
LED_WIDTH_RAD = float(np.radians(2.25))
OMM_WIDTH_RAD = float(np.radians(5.8))
BG = 0.5
_PPO = 25


def _f16(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float16)


@lru_cache(maxsize=1)
def _hex_membership() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pixel index, hexagon index, pixels per hexagon) of flyvis's ``HexEye(721, 25)``."""
    size = _PPO * 31  # 775 px
    u, v = hex_coords(EXTENT)  # the eye's column order (flyvis's)
    dist = size / (2 * EXTENT + 1)
    x_c = _f16(dist * v + size // 2)  # hexagon centres (px), compared against the pixel column
    y_c = _f16(dist * (u + v / 2) + size // 2)  # compared against the pixel row
    dist_to_edge = _f16((dist + dist) / 4)
    pi = _f16(np.pi)
    ang = _f16(pi / _f16(3))
    c60, s60 = _f16(np.cos(np.float32(ang))), _f16(np.sin(np.float32(ang)))
    r60 = np.array([[c60, -s60], [s60, c60]], np.float32)
    dist_to_vertex = _f16(2 / np.sqrt(3) * np.float32(dist_to_edge))
    vert = [np.array([dist_to_vertex, 0.0], np.float16)]
    for _ in range(6):
        vert.append(_f16(r60 @ vert[-1].astype(np.float32)))
    half = 16
    pix, hexes = [], []
    offs = np.arange(-half, half + 1)
    for h in range(len(x_c)):
        cx, cy = int(round(float(x_c[h]))), int(round(float(y_c[h])))
        rows, cols = np.meshgrid(cy + offs, cx + offs, indexing="ij")
        ok = (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
        rows, cols = rows[ok], cols[ok]
        px, py = _f16(cols), _f16(rows)
        inside = np.ones(len(rows), bool)
        for i in range(6):
            x1, y1 = _f16(vert[i][0] + x_c[h]), _f16(vert[i][1] + y_c[h])
            x2, y2 = _f16(vert[i + 1][0] + x_c[h]), _f16(vert[i + 1][1] + y_c[h])
            slope = _f16(_f16(y2 - y1) / _f16(x2 - x1))
            f_center = _f16(_f16(y1 + _f16(slope * _f16(x_c[h] - x1))) - y_c[h])
            f_points = _f16(_f16(y1 + _f16(slope * _f16(px - x1))) - py)
            inside &= np.sign(f_center) == np.sign(f_points)
        pix.append(rows[inside] * size + cols[inside])
        hexes.append(np.full(int(inside.sum()), h))
    pix, hexes = np.concatenate(pix), np.concatenate(hexes)
    return pix, hexes, np.bincount(hexes, minlength=len(x_c))


def _rotate(img: np.ndarray, angle: float) -> np.ndarray:
    """flyvis ``rotate_image``: edge-pad to the diagonal, uint8, PIL bilinear rotation, crop."""
    from PIL import Image

    h, w = img.shape
    diagonal = int(np.sqrt(h**2 + w**2))
    ph, pw = (diagonal - h) // 2, (diagonal - w) // 2
    img = np.pad(img, ((ph, ph), (pw, pw)), mode="edge")
    img = Image.fromarray((255 * img).astype("uint8")).rotate(angle, Image.BILINEAR, False, None)
    img = np.array(img, dtype=float) / 255.0
    hh, ww = img.shape
    return img[ph : hh - ph, pw : ww - pw]


def _render_edge(offset: int, angle: float, intensity: float) -> np.ndarray:
    """[721] float64 column luminance of one edge position (flyvis ``HexEye.render_bar``)."""
    size = _PPO * 31
    width = 80  # MovingEdge renders an edge as an 80-LED-wide bar ...
    height = 80  # ... and moving_edge_responses makes it 80 LEDs high
    bar_width_px = int(width * LED_WIDTH_RAD / OMM_WIDTH_RAD * _PPO)
    bar_height_px = int(LED_WIDTH_RAD * height / OMM_WIDTH_RAD * _PPO)
    theta = np.radians(0) + offset * LED_WIDTH_RAD
    loc_h = int(size * theta / np.radians(180))
    loc_v = int(size * np.radians(90) / np.radians(180))
    img = np.ones([size, size]) * BG
    rows = slice(int(loc_v - bar_height_px / 2), int(loc_v + bar_height_px / 2) + 1)
    loc_w = int(loc_h - bar_width_px / 2)
    img[rows, slice(max(loc_w, 0), loc_w + bar_width_px + 1)] = intensity
    if angle % 360 != 0:
        img = _rotate(img, angle)
    pix, hexes, counts = _hex_membership()
    return np.bincount(hexes, weights=img.ravel()[pix], minlength=N_OMMATIDIA) / counts


@lru_cache(maxsize=64)
def edge_offsets(angle: float, intensity: float) -> np.ndarray:
    """[21, 721] float64 rendered edge positions for one angle (deg) and intensity."""
    return np.stack([_render_edge(o, angle, intensity) for o in range(*OFFSETS)])


def _torch_linspace_f32(start: float, end: float, steps: int) -> np.ndarray:
    """torch.linspace in float32 (first half from start, second half from end)."""
    if steps == 1:
        return np.array([start], np.float32)
    step = np.float32(end - start) / np.float32(steps - 1)
    i = np.arange(steps)
    half = steps // 2
    lo = np.float32(start) + step * i.astype(np.float32)
    hi = np.float32(end) - step * (steps - i - 1).astype(np.float32)
    return np.where(i < half, lo, hi).astype(np.float32)


def t_stim_s(speed_col_s: float) -> float:
    """Duration (s) for the edge to cross the 21 offsets at ``speed_col_s`` columns per second."""
    n = OFFSETS[1] - OFFSETS[0]
    return (n * LED_WIDTH_RAD) / (speed_col_s * OMM_WIDTH_RAD)


def moving_edge(
    angle_deg: float,
    intensity: float,
    speed_col_s: float,
    dt_s: float = 1 / 200,
    t_pre_s: float = 1.0,
    t_post_s: float = 1.0,
) -> np.ndarray:
    """float32 [T, 721] movie of one moving edge: grey for ``t_pre_s``, the sweep, then the last
    frame held for ``t_post_s`` (flyvis ``MovingEdge`` with ``post_pad_mode="continue"``)."""
    if intensity not in (0, 1):
        raise ValueError(f"intensity must be 0 (OFF edge) or 1 (ON edge), got {intensity!r}")
    if not speed_col_s > 0:
        raise ValueError(f"speed_col_s must be > 0, got {speed_col_s!r}")
    if not dt_s > 0 or t_pre_s < 0 or t_post_s < 0:
        raise ValueError("dt_s must be > 0 and t_pre_s, t_post_s >= 0")
    frames = edge_offsets(float(angle_deg), float(intensity))
    t = t_stim_s(speed_col_s)
    idx = _torch_linspace_f32(0, len(frames) - 1, int(t / dt_s)).astype(np.int64)
    seq = frames[idx]
    n_pre = max(int((t + t_pre_s) / dt_s) - len(seq), 0)
    seq = np.concatenate([np.full((n_pre, N_OMMATIDIA), BG), seq])
    n_post = max(int((t + t_pre_s + t_post_s) / dt_s) - len(seq), 0)
    seq = np.concatenate([seq, np.repeat(seq[-1:], n_post, axis=0)])
    return seq.astype(np.float32)


def check_hold_steps(hold_steps: int) -> int:
    """``hold_steps`` as an int, or ValueError unless it is an integer >= 1."""
    ok = isinstance(hold_steps, (int, np.integer)) and not isinstance(hold_steps, bool)
    if not ok or hold_steps < 1:
        raise ValueError(f"hold_steps must be an integer >= 1 (1, 2, 4, ...), got {hold_steps!r}")
    return int(hold_steps)


def sample_and_hold(movie: np.ndarray, hold_steps: int) -> np.ndarray:
    """A movie as an eye refreshed every ``hold_steps`` integration steps shows it.

    movie: [T, ...] frames at the integration step (e.g. [T, 721] column luminance at dt = 5 ms).
    Returns an array of the same shape and dtype in which frame ``t`` is replaced by frame
    ``(t // hold_steps) * hold_steps``: each rendered frame is held until the next refresh. At
    dt = 5 ms, ``hold_steps`` 1, 2, 4 are eye refreshes of 200, 100, 50 Hz; 1 returns the movie
    unchanged (a copy).
    """
    hold_steps = check_hold_steps(hold_steps)
    movie = np.asarray(movie)
    if movie.ndim < 1:
        raise ValueError(f"movie must have a leading time axis [T, ...], got shape {movie.shape}")
    idx = (np.arange(movie.shape[0]) // hold_steps) * hold_steps
    return movie[idx]
