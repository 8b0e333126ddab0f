"""Smoke test: scripts/bench_vision.py runs as a subprocess and writes its JSON (no timing is
asserted: throughput belongs in the benchmark)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_vision.py"


def test_bench_vision_smoke(tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(SCRIPT), "--no-render", "--iters", "1", "--repeats", "1"]
    cmd += ["--batch", "2", "--gym-steps", "2", "--profile", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "mj_multiRay" in proc.stdout
    res = json.loads(out.read_text())
    assert res["rays_per_update"] == 2 * 721 * 7
    for key in ("jax_b1_ms", "jax_batch_ms", "mj_multiray_ms", "speedup_vs_flygym_quoted"):
        assert res[key] > 0
    assert "vision overhead (VisualTaxis - Walk)" in proc.stdout
    for key in ("gym_walk_cpu_ms", "gym_visual_cpu_ms", "jax_b1_cpu_ms", "startup_visual_cpu_s"):
        assert res[key] > 0
    for key in ("gym_vision_overhead_cpu_ms", "profile_visual_vision_alone_ms"):
        assert key in res
