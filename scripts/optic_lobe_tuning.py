"""Direction selectivity of the pretrained optic lobe: moving ON/OFF edges in 12 directions.

Runs flyvis's moving-edge protocol on the central column of one or more ensemble models, prints a
table of DSIs and preferred directions for T4a-d, T5a-d and their inputs, and writes
``tuning.json``, ``tuning.md`` and a polar plot ``tuning_polar.png`` (peak responses vs direction,
T4 to ON edges, T5 to OFF edges) into ``--out``.

    python scripts/optic_lobe_tuning.py --models 0 --out outputs/optic_lobe_tuning
    python scripts/optic_lobe_tuning.py --models all --t-pre-s 0.25 --t-post-s 0
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


def table(rows: list[dict], models: list[int]) -> str:
    head = "| cell type | edge | median DSI | preferred dir (deg, DSI-weighted mean) |"
    lines = [f"Models: {models}", "", head, "|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['cell_type']} | {r['polarity']} | {r['dsi_median']:.2f} | "
            f"{r['pd_deg_mean']:.0f} |"
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
    p.add_argument("--out", type=Path, default=Path("outputs/optic_lobe_tuning"))
    args = p.parse_args()
    models = parse_models(args.models)
    args.out.mkdir(parents=True, exist_ok=True)

    net = ol.build()
    results: dict[int, tuning.EdgeTuning] = {}
    for m in models:
        t0 = time.perf_counter()
        results[m] = tuning.edge_tuning(
            net,
            ol.load_pretrained(m),
            TYPES,
            tuple(args.speeds),
            stimuli.ANGLES_DEG,
            args.dt_s,
            args.t_pre_s,
            args.t_post_s,
        )
        r = results[m]
        t4 = " ".join(
            f"{t}:{r.row(t)['dsi_on']:.2f}@{r.row(t)['pd_on_deg']:.0f}" for t in tuning.T4
        )
        t5 = " ".join(
            f"{t}:{r.row(t)['dsi_off']:.2f}@{r.row(t)['pd_off_deg']:.0f}" for t in tuning.T5
        )
        print(f"model {m:2d} ({time.perf_counter() - t0:.1f} s)  {t4}  {t5}", flush=True)

    rows = summarize(results)
    text = table(rows, models)
    print(text)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    (args.out / "tuning.json").write_text(
        json.dumps({"config": config, "models": models, "cell_types": rows}, indent=2)
    )
    (args.out / "tuning.md").write_text(text + "\n")
    first = results[models[0]]
    polar_plot(
        first, args.out / "tuning_polar.png", f"flyvis network {models[0]:03d} (ensemble flow/0000)"
    )
    print(f"wrote {args.out}/tuning.json, tuning.md, tuning_polar.png")


if __name__ == "__main__":
    main()
