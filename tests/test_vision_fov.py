"""Field of view compared with NeuroMechFly's (flygym 1.2.1) eye model, from its wheel.

flygym renders each eye with a 157 deg (vertical) pinhole camera, 512 x 450 px, applies a fisheye
remap (coefficient 3.8, zoom 2.72) and averages the pixels of each ommatidium's region in
``ommatidia_id_map.npy``. Inverting those steps for each region's centre gives its viewing
direction in the camera frame; the left camera looks 27 deg anterior of lateral (its
``euler = [1.57, 0, -0.47]``, eulerseq XYZ). Skipped where the wheel is not unpacked.
"""

from __future__ import annotations

import numpy as np
import pytest
from reference_wheels import UNZIPPED

from flyenvs.vision import ommatidia_directions

FLYGYM = UNZIPPED / "flygym-1.2.1-py3-none-any" / "flygym"


def flygym_left_directions() -> np.ndarray:
    """Viewing directions [721, 3] of flygym's left eye (x anterior, y left, z dorsal)."""
    path = FLYGYM / "data" / "vision" / "ommatidia_id_map.npy"
    if not path.exists():
        pytest.skip(f"flygym wheel not unpacked at {path}")
    ids = np.load(path).astype(np.int64)
    h, w = ids.shape
    rows, cols = np.indices(ids.shape)
    count = np.bincount(ids.ravel(), minlength=722)[1:]
    row = np.bincount(ids.ravel(), weights=rows.ravel(), minlength=722)[1:] / count
    col = np.bincount(ids.ravel(), weights=cols.ravel(), minlength=722)[1:] / count
    zoom, k = 2.72, 3.8
    rn, cn = ((2 * row - h) / h) / zoom, ((2 * col - w) / w) / zoom
    denom = 1 - k * (rn**2 + cn**2)
    src_row, src_col = (rn / denom + 1) * h / 2, (cn / denom + 1) * w / 2
    f = (h / 2) / np.tan(np.deg2rad(157) / 2)
    cam = np.stack([(src_col - w / 2) / f, -(src_row - h / 2) / f, -np.ones_like(row)], axis=1)
    cam /= np.linalg.norm(cam, axis=1, keepdims=True)
    yaw = 0.47  # camera: x = image right, y = image up, z = backwards (MuJoCo)
    right = np.array([np.cos(yaw), -np.sin(yaw), 0.0])
    look = np.array([np.sin(yaw), np.cos(yaw), 0.0])
    up = np.array([0.0, 0.0, 1.0])
    return cam[:, :1] * right + cam[:, 1:2] * up - cam[:, 2:] * look


def sphere_points(n: int = 20000) -> np.ndarray:
    i = np.arange(n) + 0.5
    polar, azim = np.arccos(1 - 2 * i / n), np.pi * (1 + 5**0.5) * i
    return np.stack([np.cos(azim) * np.sin(polar), np.sin(azim) * np.sin(polar), np.cos(polar)], 1)


def covered(directions: np.ndarray, points: np.ndarray, within_deg: float = 3.0) -> np.ndarray:
    return (points @ directions.T).max(axis=1) > np.cos(np.deg2rad(within_deg))


def test_field_of_view_close_to_flygym():
    fg = flygym_left_directions()
    ours = ommatidia_directions()[0]
    pts = sphere_points()
    cov_fg, cov_ours = covered(fg, pts), covered(ours, pts)
    # both eyes of each model cover about a third of the sphere each, mostly the same part
    assert 0.3 < cov_fg.mean() < 0.4 and 0.3 < cov_ours.mean() < 0.4
    assert abs(cov_fg.mean() - cov_ours.mean()) < 0.03
    assert (cov_fg & cov_ours).sum() > 0.85 * cov_ours.sum()
    for d in (fg, ours):
        el = np.degrees(np.arcsin(d[:, 2]))
        az = np.degrees(np.arctan2(d[:, 1], d[:, 0]))
        equator = np.abs(el) < 3
        assert az[equator].min() < -5  # a frontal binocular strip
        assert az[equator].max() > 115
        assert el.max() > 70 and el.min() < -70
