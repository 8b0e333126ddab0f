"""Direction selectivity of the pretrained optic lobe: moving ON/OFF edges in 12 directions.

Runs flyvis's moving-edge protocol on the central column of one or more ensemble models, prints a
table of DSIs and preferred directions for T4a-d, T5a-d and their inputs, and writes
``tuning.json``, ``tuning.md`` and a polar plot ``tuning_polar.png`` (peak responses vs direction,
T4 to ON edges, T5 to OFF edges) into ``--out``.

``--hold-steps 1 2 4`` repeats the measurement with each movie shown sample-and-hold, a frame
every ``hold_steps`` integration steps (at dt = 5 ms: 200, 100, 50 Hz eye refresh; 1 is flyvis's
protocol), and the table puts the holds side by side, with, per hold, the median DSI of T4a-d and
T5a-d relative to hold 1 and the largest shift of a preferred direction (``polar_plot`` per hold:
``tuning_polar_hold<N>.png``).

    python scripts/optic_lobe_tuning.py --models 0 --out outputs/optic_lobe_tuning
    python scripts/optic_lobe_tuning.py --models all --t-pre-s 0.25 --t-post-s 0
    python scripts/optic_lobe_tuning.py --models 0 1 2 3 4 --hold-steps 1 2 4
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import flyenvs.connectome.optic_lobe as ol
from flyenvs.connectome.optic_lobe import stimuli, tuning

TYPES = tuning.T4 + tuning.T5 + tuning.T4_INPUTS + tuning.T5_INPUTS


def parse_models(text: list[str]) -> list[int]:
    if text == ["all"]:
        return list(range(ol.N_MODELS))
    models = [int(t) for t in text]
    bad = [m for m in models if not 0 <= m < ol.N_MODELS]
    if bad:
        raise SystemExit(f"model indices must be in [0, {ol.N_MODELS}), got {bad}")
    return models


def own_polarity(cell_type: str) -> int:
    """1 (ON) for T4 and its inputs, 0 (OFF) for T5 and its inputs."""
    return 1 if cell_type in tuning.T4 + tuning.T4_INPUTS else 0


def summarize(results: dict[int, tuning.EdgeTuning]) -> list[dict]:
    """Per cell type: median DSI over models (own polarity), and the circular mean preferred
    direction of the models, weighted by DSI."""
    rows = []
    for t in TYPES:
        pol = own_polarity(t)
        k = TYPES.index(t)
        dsi = np.array([r.dsi[pol, k] for r in results.values()])
        pd = np.array([r.preferred_deg[pol, k] for r in results.values()])
        mean_pd = np.degrees(np.angle(np.sum(dsi * np.exp(1j * np.radians(pd))))) % 360
        rows.append(
            {
                "cell_type": t,
                "polarity": "ON" if pol else "OFF",
                "dsi_median": float(np.median(dsi)),
                "dsi_per_model": dsi.round(4).tolist(),
                "pd_deg_per_model": pd.round(2).tolist(),
                "pd_deg_mean": float(mean_pd),
            }
        )
    return rows


def angle_gap_deg(a: float, b: float) -> float:
    """Absolute difference of two directions (deg), in [0, 180]."""
    return float(abs((a - b + 180.0) % 360.0 - 180.0))


def hold_comparison(rows_by_hold: dict[int, list[dict]]) -> dict[int, dict]:
    """Per hold: median over T4a-d and T5a-d of the per-type median DSI, its ratio to the first
    hold's (the reference, normally 1 = open loop), and per type and model the shift of the
    preferred direction from the reference (deg) and its largest value."""
    ref_hold = next(iter(rows_by_hold))
    motion = tuning.T4 + tuning.T5

    def by_type(rows):
        return {r["cell_type"]: r for r in rows if r["cell_type"] in motion}

    ref = by_type(rows_by_hold[ref_hold])
    ref_median = float(np.median([ref[t]["dsi_median"] for t in motion]))
    out = {}
    for hold, rows in rows_by_hold.items():
        cur = by_type(rows)
        median = float(np.median([cur[t]["dsi_median"] for t in motion]))
        gaps = {
            t: [
                angle_gap_deg(a, b)
                for a, b in zip(cur[t]["pd_deg_per_model"], ref[t]["pd_deg_per_model"], strict=True)
            ]
            for t in motion
        }
        out[hold] = {
            "t4_t5_dsi_median": median,
            "ratio_to_reference": median / ref_median if ref_median > 0 else float("nan"),
            "pd_shift_deg_per_model": gaps,
            "pd_shift_deg_max": max(max(g) for g in gaps.values()),
        }
    return out


def table(rows_by_hold: dict[int, list[dict]], models: list[int], dt_s: float) -> str:
    """Markdown table: per cell type, the median DSI over models and the DSI-weighted mean
    preferred direction, one pair of columns per hold (one hold: the plain protocol's table)."""
    holds = list(rows_by_hold)
    lines = [f"Models: {models}", ""]
    if holds == [1]:
        head = "| cell type | edge | median DSI | preferred dir (deg, DSI-weighted mean) |"
        lines += [head, "|---|---|---|---|"]
    else:
        cols = " | ".join(
            f"DSI hold {h} ({1 / (h * dt_s):.0f} Hz) | PD hold {h} (deg)" for h in holds
        )
        lines += [f"| cell type | edge | {cols} |", "|---|---|" + "---|---|" * len(holds)]
    digits = 2 if len(holds) == 1 else 3
    for k, r in enumerate(rows_by_hold[holds[0]]):
        cells = " | ".join(
            f"{rows_by_hold[h][k]['dsi_median']:.{digits}f} | "
            f"{rows_by_hold[h][k]['pd_deg_mean']:.0f}"
            for h in holds
        )
        lines.append(f"| {r['cell_type']} | {r['polarity']} | {cells} |")
    if len(holds) > 1:
        lines += [
            "",
            f"| hold | refresh (Hz) | T4/T5 median DSI | vs hold {holds[0]} | max PD shift (deg) |",
        ]
        lines.append("|---|---|---|---|---|")
        for h, c in hold_comparison(rows_by_hold).items():
            lines.append(
                f"| {h} | {1 / (h * dt_s):.0f} | {c['t4_t5_dsi_median']:.3f} | "
                f"{c['ratio_to_reference']:.3f} | {c['pd_shift_deg_max']:.1f} |"
            )
    return "\n".join(lines)


def polar_plot(result: tuning.EdgeTuning, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, subplot_kw={"projection": "polar"}, figsize=(9, 4.5))
    theta = np.radians(np.append(result.angles_deg, result.angles_deg[0]))
    for ax, group, pol, name in (
        (axes[0], tuning.T4, 1, "T4, ON edges"),
        (axes[1], tuning.T5, 0, "T5, OFF edges"),
    ):
        for t in group:
            k = result.cell_types.index(t)
            r = result.peaks[:, :, pol, k].mean(axis=0)
            r = r / max(r.max(), 1e-9)
            ax.plot(theta, np.append(r, r[0]), label=f"{t} (DSI {result.dsi[pol, k]:.2f})")
        ax.set_title(name)
        ax.set_rticks([0.5, 1.0])
        ax.legend(loc="lower left", bbox_to_anchor=(-0.15, -0.32), fontsize=7, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=["0"], help="ensemble indices, or 'all'")
    p.add_argument(
        "--speeds",
        type=float,
        nargs="+",
        default=list(stimuli.SPEEDS_COL_S),
        help="edge speeds in columns/s (flyvis: 2.4 4.8 9.7 13 19 25)",
    )
    p.add_argument("--dt-s", type=float, default=1 / 200)
    p.add_argument("--t-pre-s", type=float, default=1.0, help="grey before each edge (flyvis: 1)")
    p.add_argument("--t-post-s", type=float, default=1.0, help="hold after each edge (flyvis: 1)")
    p.add_argument(
        "--hold-steps",
        type=int,
        nargs="+",
        default=[1],
        help="sample-and-hold: a new frame every N integration steps (1 = flyvis; 1 2 4 at "
        "dt 5 ms = 200, 100, 50 Hz eye refresh); several values are compared side by side",
    )
    p.add_argument("--out", type=Path, default=Path("outputs/optic_lobe_tuning"))
    args = p.parse_args()
    models = parse_models(args.models)
    holds = list(dict.fromkeys(args.hold_steps))
    try:
        holds = [stimuli.check_hold_steps(h) for h in holds]
    except ValueError as err:
        raise SystemExit(str(err)) from None
    args.out.mkdir(parents=True, exist_ok=True)

    net = ol.build()
    results: dict[int, dict[int, tuning.EdgeTuning]] = {h: {} for h in holds}
    for m in models:
        params = ol.load_pretrained(m)
        for h in holds:
            t0 = time.perf_counter()
            results[h][m] = r = tuning.edge_tuning(
                net,
                params,
                TYPES,
                tuple(args.speeds),
                stimuli.ANGLES_DEG,
                args.dt_s,
                args.t_pre_s,
                args.t_post_s,
                hold_steps=h,
            )
            t4 = " ".join(
                f"{t}:{r.row(t)['dsi_on']:.2f}@{r.row(t)['pd_on_deg']:.0f}" for t in tuning.T4
            )
            t5 = " ".join(
                f"{t}:{r.row(t)['dsi_off']:.2f}@{r.row(t)['pd_off_deg']:.0f}" for t in tuning.T5
            )
            dt = time.perf_counter() - t0
            print(f"model {m:2d} hold {h} ({dt:.1f} s)  {t4}  {t5}", flush=True)

    rows_by_hold = {h: summarize(results[h]) for h in holds}
    text = table(rows_by_hold, models, args.dt_s)
    print(text)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    record = {"config": config, "models": models, "cell_types": rows_by_hold[holds[0]]}
    if holds != [1]:
        record["hold_steps"] = {
            str(h): {"refresh_hz": 1 / (h * args.dt_s), "cell_types": rows_by_hold[h]}
            for h in holds
        }
        record["hold_comparison"] = {str(h): c for h, c in hold_comparison(rows_by_hold).items()}
    (args.out / "tuning.json").write_text(json.dumps(record, indent=2))
    (args.out / "tuning.md").write_text(text + "\n")
    plots = ["tuning_polar.png"]
    first = results[holds[0]][models[0]]
    title = f"flyvis network {models[0]:03d} (ensemble flow/0000)"
    polar_plot(first, args.out / plots[0], title)
    if len(holds) > 1:
        for h in holds:
            plots.append(f"tuning_polar_hold{h}.png")
            polar_plot(results[h][models[0]], args.out / plots[-1], f"{title}, hold {h}")
    print(f"wrote {args.out}/tuning.json, tuning.md, {', '.join(plots)}")


if __name__ == "__main__":
    main()
