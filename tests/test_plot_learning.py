"""scripts/plot_learning.py: learning-curve PNGs from run directories, clear errors otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _plot(*args: str) -> subprocess.CompletedProcess:
    script = ROOT / "scripts" / "plot_learning.py"
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)


def _fake_run(path: Path, seed: int) -> Path:
    path.mkdir()
    header = "step,wall_s,eval/episode_reward,eval/episode_reward/speed,eval/episode_reward/turn"
    rows = ["0,10,60,30,20", "1000,40,65,33,21", "2000,70,70,36,22"]
    (path / "metrics.csv").write_text("\n".join([header, *rows]) + "\n")
    train = {"task": "Walk", "preset": "quick", "ppo": {"seed": seed}}
    (path / "config.json").write_text(json.dumps({"train": train}))
    return path


def test_plot_writes_a_png_for_several_runs(tmp_path):
    runs = [str(_fake_run(tmp_path / f"s{seed}", seed)) for seed in (0, 1)]
    out = tmp_path / "curve.png"
    result = _plot(*runs, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_rejects_a_directory_without_metrics_and_a_non_png_name(tmp_path):
    result = _plot(str(tmp_path), "--out", str(tmp_path / "c.png"))
    assert result.returncode == 2 and "metrics.csv does not exist" in result.stderr
    run = _fake_run(tmp_path / "run", 0)
    result = _plot(str(run), "--out", str(tmp_path / "c.svg"))
    assert result.returncode == 2 and "must end with .png" in result.stderr


def test_a_repeated_step_keeps_its_first_row(tmp_path):
    """Runs resumed before 2026-11-30 evaluated their restored step twice."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import plot_learning

    run = _fake_run(tmp_path / "run", 0)
    csv_path = run / "metrics.csv"
    csv_path.write_text(csv_path.read_text() + "1000,5,64,32,21\n3000,90,75,38,23\n")
    columns, _ = plot_learning.read_run(run)
    assert columns["step"] == [0.0, 1000.0, 2000.0, 3000.0]
    assert columns["eval/episode_reward"] == [60.0, 65.0, 70.0, 75.0]


def test_a_fine_tuning_stage_continues_its_sources_curve(tmp_path):
    """A run started with --init-from is drawn from the steps its source chain had trained."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import plot_learning

    first = _fake_run(tmp_path / "steer", 0)
    second, third = _fake_run(tmp_path / "proprio", 0), _fake_run(tmp_path / "speed", 0)
    for run, source, step in ((second, first, 2000), (third, second, 1000)):
        train = {"task": "Walk", "init_from": str(source), "init_from_step": step}
        (run / "config.json").write_text(json.dumps({"train": train}))
    starts = [
        plot_learning.start_step(plot_learning.read_run(r)[1]) for r in (first, second, third)
    ]
    assert starts == [0, 2000, 3000]
    out = tmp_path / "chain.png"
    assert _plot(str(first), str(second), str(third), "--out", str(out)).returncode == 0
