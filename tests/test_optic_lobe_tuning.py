"""Direction selectivity of the pretrained flyvis networks (moving ON/OFF edges, flyvis's measure).

Fast tests: networks 000 and 001 at flyvis's three fastest edge speeds (13, 19, 25 columns/s) with
a shortened grey lead-in; network 000 again with each frame held for 4 integration steps (a 50 Hz
eye refresh at dt = 5 ms, as the visual tasks render the eyes). Slow test: all 50 networks,
compared with flyvis's own lattice figures as reported by flycns (docs/models/04_optic_lobe.md of
CAOS_FlyCNS, measured with flyvis's ``direction_selectivity_index`` and held to flyvis to 1e-7).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import flyenvs.connectome.optic_lobe as ol
from flyenvs.connectome.optic_lobe import stimuli, tuning

#: Known preferred directions (Maisak et al. 2013: a front-to-back, b back-to-front, c upward,
#: d downward) in flyvis's stimulus frame, as flyvis's ``angular_distance_to_known`` codes them.
KNOWN_PD_DEG = {"a": 180.0, "b": 0.0, "c": 90.0, "d": 270.0}
SPEEDS = (13.0, 19.0, 25.0)
INPUTS = tuning.T4_INPUTS + tuning.T5_INPUTS
TYPES = tuning.T4 + tuning.T5 + INPUTS


def angle_gap(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@pytest.fixture(scope="module")
def net() -> ol.OpticLobe:
    return ol.build()


@pytest.fixture(scope="module")
def tuned(net) -> dict[int, tuning.EdgeTuning]:
    return {
        k: tuning.edge_tuning(net, ol.load_pretrained(k), TYPES, SPEEDS, t_pre_s=0.25, t_post_s=0.0)
        for k in (0, 1)
    }


def own(result: tuning.EdgeTuning, cell_type: str) -> tuple[float, float]:
    """(DSI, preferred direction) for the cell's own polarity (ON for T4 and its inputs)."""
    pol = 1 if cell_type in tuning.T4 + tuning.T4_INPUTS else 0
    k = result.cell_types.index(cell_type)
    return float(result.dsi[pol, k]), float(result.preferred_deg[pol, k])


def assert_four_directions(result: tuning.EdgeTuning, group: tuple[str, ...], min_dsi: float):
    pds = {}
    for cell_type in group:
        dsi, pd = own(result, cell_type)
        assert dsi > min_dsi, f"{cell_type} DSI {dsi:.2f}"
        assert angle_gap(pd, KNOWN_PD_DEG[cell_type[-1]]) < 45, f"{cell_type} PD {pd:.0f}"
        pds[cell_type[-1]] = pd
    # four directions roughly 90 degrees apart: a/b and c/d opposed, a/c orthogonal
    assert angle_gap(pds["a"], pds["b"]) > 135 and angle_gap(pds["c"], pds["d"]) > 135
    assert 45 < angle_gap(pds["a"], pds["c"]) < 135 and 45 < angle_gap(pds["b"], pds["d"]) < 135


def test_network_000_t5_direction_selective(tuned):
    assert_four_directions(tuned[0], tuning.T5, min_dsi=0.5)
    # T4a-c too; T4d has the known direction but is weakly selective in this network
    for cell_type in ("T4a", "T4b", "T4c"):
        dsi, pd = own(tuned[0], cell_type)
        assert dsi > 0.4 and angle_gap(pd, KNOWN_PD_DEG[cell_type[-1]]) < 45
    dsi, pd = own(tuned[0], "T4d")
    assert dsi > 0.05 and angle_gap(pd, KNOWN_PD_DEG["d"]) < 45


def test_network_001_t4_direction_selective(tuned):
    assert_four_directions(tuned[1], tuning.T4, min_dsi=0.5)


def test_t4_t5_inputs_not_direction_selective(tuned):
    for k, result in tuned.items():
        for cell_type in INPUTS:
            dsi, _ = own(result, cell_type)
            if (k, cell_type) == (0, "Tm4"):
                # network 000's Tm4 is weakly OFF-selective (0.34), below every T5 subtype
                assert dsi < min(own(result, t)[0] for t in tuning.T5)
            else:
                assert dsi < 0.12, f"network {k:03d} {cell_type} DSI {dsi:.2f}"
        # the ON inputs of T4 are not selective to OFF edges either
        for cell_type in tuning.T4_INPUTS:
            assert result.dsi[0, result.cell_types.index(cell_type)] < 0.12


def test_sample_and_hold_holds_each_refresh():
    movie = np.arange(7 * 3, dtype=np.float32).reshape(7, 3)
    held = stimuli.sample_and_hold(movie, 3)
    assert held.shape == movie.shape and held.dtype == movie.dtype
    np.testing.assert_array_equal(held[:, 0], [0, 0, 0, 9, 9, 9, 18])
    np.testing.assert_array_equal(held[4], movie[3])
    np.testing.assert_array_equal(stimuli.sample_and_hold(movie, 1), movie)
    np.testing.assert_array_equal(stimuli.sample_and_hold(movie, np.int64(10)), movie[[0] * 7])


@pytest.mark.parametrize("bad", [0, -2, 1.5, 2.0, True, "2", None])
def test_sample_and_hold_rejects_bad_hold_steps(bad):
    with pytest.raises(ValueError, match="hold_steps must be an integer >= 1"):
        stimuli.sample_and_hold(np.zeros((4, 721)), bad)


def test_edge_tuning_hold_1_is_the_default(net):
    params = ol.load_pretrained(0)
    kw = dict(cell_types=tuning.T4, speeds_col_s=(25.0,), angles_deg=(0, 90, 180, 270))
    kw.update(t_pre_s=0.1, t_post_s=0.0)
    default = tuning.edge_tuning(net, params, **kw)
    held_1 = tuning.edge_tuning(net, params, hold_steps=1, **kw)
    np.testing.assert_array_equal(held_1.peaks, default.peaks)
    np.testing.assert_array_equal(held_1.dsi, default.dsi)
    with pytest.raises(ValueError, match="hold_steps must be an integer >= 1"):
        tuning.edge_tuning(net, params, hold_steps=0, **kw)


def test_network_000_direction_selective_with_50hz_frames(net, tuned):
    """Frames held for 4 steps (50 Hz eye refresh): T4/T5 keep their DSI (median over the eight
    within 20% of the open-loop figure) and preferred directions (within 45 deg)."""
    held = tuning.edge_tuning(
        net,
        ol.load_pretrained(0),
        tuning.T4 + tuning.T5,
        SPEEDS,
        t_pre_s=0.25,
        t_post_s=0.0,
        hold_steps=4,
    )
    assert_four_directions(held, tuning.T5, min_dsi=0.5)
    motion = tuning.T4 + tuning.T5
    open_loop = [own(tuned[0], t) for t in motion]
    in_loop = [own(held, t) for t in motion]
    ratio = np.median([d for d, _ in in_loop]) / np.median([d for d, _ in open_loop])
    assert 0.8 < ratio < 1.2, ratio
    for t, (_, pd0), (_, pd4) in zip(motion, open_loop, in_loop, strict=True):
        assert angle_gap(pd4, pd0) < 45, f"{t} PD {pd0:.0f} -> {pd4:.0f}"


def test_time_window_is_the_sweep():
    t0, t1 = tuning.time_window_s(19.0)
    assert t0 == 0.0
    assert t1 == pytest.approx(21 * 2.25 / 5.8 / 19.0)


def test_dsi_of_synthetic_tuning_curves():
    angles = np.arange(0, 360, 30.0)
    peaks = np.zeros((1, 12, 2, 2))
    peaks[0, 3, 1, 0] = 1.0  # cell 0 answers only ON edges moving at 90 deg
    peaks[0, :, 0, 1] = 1.0  # cell 1 answers OFF edges in every direction equally
    dsi, pd = tuning.direction_selectivity(peaks, angles)
    assert dsi[1, 0] == pytest.approx(1.0) and pd[1, 0] == pytest.approx(90.0)
    assert dsi[0, 1] == pytest.approx(0.0, abs=1e-12)


#: flyvis's own lattice, all 50 networks, speeds 13/19/25 (as published by flycns 0.7.0's docs):
#: (networks with DSI > 0.1 and the known direction within 45 deg, median DSI).
FLYVIS_LATTICE = {
    "T4a": (24, 0.400),
    "T4b": (13, 0.171),
    "T4c": (31, 0.585),
    "T4d": (23, 0.504),
    "T5a": (14, 0.044),
    "T5b": (4, 0.097),
    "T5c": (7, 0.044),
    "T5d": (14, 0.084),
}


@pytest.mark.slow
def test_ensemble_matches_flyvis_lattice_figures(net):
    results = [
        tuning.edge_tuning(net, ol.load_pretrained(k), TYPES, SPEEDS, t_post_s=0.0)
        for k in range(ol.N_MODELS)
    ]
    for cell_type, (n_known, median) in FLYVIS_LATTICE.items():
        dsi = np.array([own(r, cell_type)[0] for r in results])
        pd = np.array([own(r, cell_type)[1] for r in results])
        gap = np.array([angle_gap(p, KNOWN_PD_DEG[cell_type[-1]]) for p in pd])
        assert abs(int(((dsi > 0.1) & (gap < 45)).sum()) - n_known) <= 1, cell_type
        assert np.median(dsi) == pytest.approx(median, abs=0.01), cell_type
    for cell_type in INPUTS:
        assert np.median([own(r, cell_type)[0] for r in results]) < 0.06, cell_type


def test_tuning_script_smoke(tmp_path: Path):
    out = tmp_path / "tuning"
    cmd = [
        sys.executable,
        "scripts/optic_lobe_tuning.py",
        "--models",
        "0",
        "--speeds",
        "25",
        "--t-pre-s",
        "0.1",
        "--t-post-s",
        "0",
        "--hold-steps",
        "1",
        "4",
        "--out",
        str(out),
    ]
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| T4a | ON |" in done.stdout and "DSI hold 4 (50 Hz)" in done.stdout
    record = json.loads((out / "tuning.json").read_text())
    assert record["hold_comparison"]["1"]["ratio_to_reference"] == 1.0
    assert set(record["hold_steps"]) == {"1", "4"}
    for name in ("tuning.json", "tuning.md", "tuning_polar.png", "tuning_polar_hold4.png"):
        assert (out / name).stat().st_size > 0
    bad = subprocess.run(
        [sys.executable, "scripts/optic_lobe_tuning.py", "--models", "50", "--out", str(out)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and "model indices must be in [0, 50)" in bad.stderr
