"""Plot learning curves (evaluation reward against environment steps) of one or more runs.

Example::

    python scripts/plot_learning.py runs/walk_quick runs/walk_quick_s1 --out docs/img/walk_quick.png

Reads each run's ``metrics.csv`` (written by ``scripts/train.py``: one row per evaluation) and
draws, per run, the evaluation episode reward and its ``speed`` and ``turn`` terms against the
environment steps trained. The legend gives each run's seed and training wall time (s). A run
started from another with ``--init-from`` (a fine-tuning stage) is drawn from the steps its
source chain had trained (``init_from_step``, summed up the chain), so stages plotted together
make one curve.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

#: Columns drawn, one panel each: (metrics.csv column, panel title).
PANELS: tuple[tuple[str, str], ...] = (
    ("eval/episode_reward", "episode reward"),
    ("eval/episode_reward/speed", "speed term"),
    ("eval/episode_reward/turn", "turn term"),
)


def read_run(run_dir: Path) -> tuple[dict[str, list[float]], dict]:
    """(columns of ``metrics.csv`` as float lists, the run's ``config.json`` train section)."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (not a training run directory?)")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} has no evaluation rows yet")
    # a run resumed before 2026-11-30 evaluated its restored step again: keep the first row
    seen: set[str] = set()
    rows = [r for r in rows if not (r["step"] in seen or seen.add(r["step"]))]
    columns = {k: [float(r[k]) if r.get(k) not in (None, "") else float("nan") for r in rows]
               for k in rows[0]}  # fmt: skip
    config = run_dir / "config.json"
    train = json.loads(config.read_text())["train"] if config.is_file() else {}
    return columns, train


def start_step(train: dict, depth: int = 0) -> int:
    """Env steps trained before this run began: a run started with ``init_from`` (a fine-tuning
    stage) continues its source's curve at the source's steps, and so on up the chain (sources
    that are not readable count from their recorded ``init_from_step`` alone)."""
    if not train.get("init_from") or depth > 32:
        return 0
    source = Path(train["init_from"])
    config = source / "config.json"
    before = 0
    if config.is_file():
        before = start_step(json.loads(config.read_text()).get("train", {}), depth + 1)
    return before + int(train.get("init_from_step", 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("runs", nargs="+", type=Path, help="run directories")
    parser.add_argument("--out", required=True, type=Path, help="PNG file")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)
    if args.out.suffix.lower() != ".png":
        parser.error(f"--out must end with .png, got {args.out}")
    try:
        runs = [(run, *read_run(run)) for run in args.runs]
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    # a panel per column some run has (Optomotor's reward has no speed term)
    panels = [(k, t) for k, t in PANELS if any(k in columns for _, columns, _ in runs)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    axes = axes[0]
    for run, columns, train in runs:
        seed = train.get("ppo", {}).get("seed", "?")
        label = f"{run.name} (seed {seed}, {columns['wall_s'][-1]:.0f} s)"
        offset = start_step(train)  # a fine-tuning stage continues its source's curve
        steps = [offset + x for x in columns["step"]]
        for ax, (key, _) in zip(axes, panels, strict=True):
            if key in columns:
                ax.plot(steps, columns[key], marker="o", ms=3, label=label)
    for ax, (_, title) in zip(axes, panels, strict=True):
        ax.set_title(title)
        ax.set_xlabel("environment steps")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1e3:g}k" if x else "0"))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    task = runs[0][2].get("task", "")
    preset = runs[0][2].get("preset", "")
    fig.suptitle(args.title or f"{task}, preset {preset}: evaluation during PPO")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
