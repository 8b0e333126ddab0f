"""Direction selectivity from moving edges, as flyvis computes it.

flyvis 1.2.0 ``analysis.moving_bar_responses`` (``peak_responses``, ``direction_selectivity_index``,
``preferred_direction``), written out in numpy.

For each speed, angle and intensity (ON = 1, OFF = 0) the network runs from its grey steady state;
the response of a cell is its voltage, set to 0 outside the time the edge sweeps across the
offsets, rectified, and its peak over time taken. Per intensity and speed::

    DSI = |sum_angles peak(angle) exp(i angle)| / max_intensity sum_angles peak(angle)

averaged over speeds; the preferred direction is the angle of the vector sum over speeds and angles.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from . import stimuli
from .network import OpticLobe, OpticLobeParams

#: T4 (ON) and T5 (OFF) motion detectors and their main columnar inputs.
T4 = ("T4a", "T4b", "T4c", "T4d")
T5 = ("T5a", "T5b", "T5c", "T5d")
T4_INPUTS = ("Mi1", "Tm3", "Mi4", "Mi9")
T5_INPUTS = ("Tm1", "Tm2", "Tm4", "Tm9")


@dataclass(frozen=True)
class EdgeTuning:
    """Peak responses and their direction tuning for a set of cells.

    peaks: [n_speeds, n_angles, 2, n_cells] (intensity axis: 0 = OFF, 1 = ON).
    dsi: [2, n_cells] direction selectivity index per intensity, averaged over speeds.
    preferred_deg: [2, n_cells] preferred direction per intensity, degrees in [0, 360).
    """

    cell_types: tuple[str, ...]
    angles_deg: np.ndarray
    speeds_col_s: np.ndarray
    peaks: np.ndarray
    dsi: np.ndarray
    preferred_deg: np.ndarray

    def row(self, cell_type: str) -> dict[str, float]:
        k = self.cell_types.index(cell_type)
        return {
            "dsi_on": float(self.dsi[1, k]),
            "dsi_off": float(self.dsi[0, k]),
            "pd_on_deg": float(self.preferred_deg[1, k]),
            "pd_off_deg": float(self.preferred_deg[0, k]),
        }


def time_window_s(speed_col_s: float) -> tuple[float, float]:
    """flyvis ``time_window``: when the edge passes from the first to one past the last offset."""
    start, end = stimuli.OFFSETS
    deg = np.degrees(stimuli.LED_WIDTH_RAD)
    col = np.degrees(stimuli.OMM_WIDTH_RAD)
    from_column = start * deg / col
    to_column = (end - 1) * deg / col + deg / col
    t_start = (abs(start * deg / col) - abs(from_column)) / speed_col_s
    return t_start, t_start + (to_column - from_column) / speed_col_s


def peak_responses(responses: np.ndarray, dt_s: float, t_pre_s: float, speed_col_s: float):
    """[..., T, n] voltages -> [..., n] rectified peaks inside the sweep window."""
    time = np.arange(responses.shape[-2]) * dt_s - t_pre_s
    t0, t1 = time_window_s(speed_col_s)
    mask = (time >= t0) & (time <= t1)
    masked = np.where(mask[:, None], responses, 0.0)
    return np.clip(masked, 0.0, None).max(axis=-2)


def direction_selectivity(peaks: np.ndarray, angles_deg: np.ndarray):
    """peaks [S, A, 2, n] -> (dsi [2, n] averaged over speeds, preferred direction [2, n] deg)."""
    phase = np.exp(1j * np.radians(np.asarray(angles_deg)))[None, :, None, None]
    vec = (peaks * phase).sum(axis=1)  # [S, 2, n]
    norm = np.abs(peaks).sum(axis=1).max(axis=1, keepdims=True)  # [S, 1, n]
    dsi = (np.abs(vec) / (norm + 1e-15)).mean(axis=0)
    pd = np.degrees(np.angle(vec.sum(axis=0))) % 360.0
    return dsi, pd


def edge_tuning(
    net: OpticLobe,
    params: OpticLobeParams,
    cell_types: tuple[str, ...] | None = None,
    speeds_col_s: tuple[float, ...] = stimuli.SPEEDS_COL_S,
    angles_deg: tuple[float, ...] = stimuli.ANGLES_DEG,
    dt_s: float = 1 / 200,
    t_pre_s: float = 1.0,
    t_post_s: float = 1.0,
    t_steady_s: float = 1.0,
    hold_steps: int = 1,
) -> EdgeTuning:
    """Moving-edge tuning of the central-column cells (all 65 types unless ``cell_types``).

    flyvis's protocol is the default (6 speeds, 12 angles, t_pre = t_post = 1 s, dt = 5 ms, after
    1 s of grey from the resting potentials); shorter ``t_pre_s``/``t_post_s`` leave the peaks
    inside the sweep window nearly unchanged and are used by the fast tests.

    ``hold_steps`` > 1 shows each movie as a sample-and-hold eye would
    (:func:`stimuli.sample_and_hold`): a frame rendered every ``hold_steps * dt_s`` seconds and
    held in between (at dt = 5 ms, 2 and 4 are 100 and 50 Hz eye refreshes); the network still
    integrates at ``dt_s`` and the peaks are read in the same sweep window. 1 (default) is flyvis's
    protocol; anything but an integer >= 1 raises ValueError.
    """
    hold_steps = stimuli.check_hold_steps(hold_steps)
    cell_types = tuple(cell_types or net.cell_types)
    record = np.array([net.neuron_index(t, 0, 0) for t in cell_types])
    v0 = net.steady_state(params, dt_s, t_steady_s)
    peaks = []
    for speed in speeds_col_s:
        movies = np.stack(
            [
                stimuli.sample_and_hold(
                    stimuli.moving_edge(a, i, speed, dt_s, t_pre_s, t_post_s), hold_steps
                )
                for a in angles_deg
                for i in (0, 1)
            ]
        )
        out = net.simulate(params, jnp.asarray(movies), dt_s, v0=v0, record=record)
        resp = np.asarray(out).reshape(len(angles_deg), 2, *out.shape[1:])
        peaks.append(peak_responses(resp, dt_s, t_pre_s, speed))
    peaks = np.stack(peaks)
    dsi, pd = direction_selectivity(peaks, np.asarray(angles_deg))
    return EdgeTuning(
        cell_types=cell_types,
        angles_deg=np.asarray(angles_deg, float),
        speeds_col_s=np.asarray(speeds_col_s, float),
        peaks=peaks,
        dsi=dsi,
        preferred_deg=pd,
    )
