"""scripts/gpu_check.py: without a GPU it stops at once with status 2 and says why; with
``--allow-cpu`` it runs the GPU path (MJX Walk, Brax PPO on MJX) tiny on CPU.

The machine these tests run on has no GPU. The ``--allow-cpu`` run compiles the MJX step and the
PPO graphs (about 6 min on 2 shared cores with an empty compile cache, 2 min with a warm one), so
it is slow-marked.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.py"

no_gpu = pytest.mark.skipif(jax.default_backend() != "cpu", reason="JAX sees an accelerator")


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@no_gpu
def test_without_a_gpu_it_exits_2_before_compiling(tmp_path):
    out = tmp_path / "figures.json"
    t0 = time.monotonic()
    result = _run("--json", str(out))
    elapsed_s = time.monotonic() - t0
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]
    assert "no GPU found" in result.stderr and "--allow-cpu" in result.stderr
    assert "device: cpu" in result.stdout
    assert "MJX Walk" not in result.stdout and not out.exists()  # nothing built or compiled
    assert elapsed_s < 30, elapsed_s  # one MJX compile alone takes tens of seconds on CPU


def test_no_gpu_message_names_the_fix():
    gpu_check = _module()
    device = {"backend": "cpu", "device_kind": "cpu", "jax": "0.9.2"}
    assert "pip install -e '.[cuda12]'" in gpu_check._no_gpu_message(
        {**device, "cuda_plugin": None}
    )
    plugin = "jax-cuda13-plugin 0.9.2"
    message = gpu_check._no_gpu_message({**device, "cuda_plugin": plugin})
    assert "nvidia-smi" in message and plugin in message


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--envs", "0"], "--envs must be >= 1"), (["--ppo-envs", "-1"], "--ppo-envs must be >= 1")],
)
def test_bad_sizes_are_refused(args, message):
    result = _run("--allow-cpu", *args)
    assert result.returncode != 0 and message in result.stderr


@no_gpu
@pytest.mark.slow
def test_allow_cpu_runs_the_gpu_path_tiny(tmp_path):
    out = tmp_path / "figures.json"
    result = _run("--allow-cpu", "--json", str(out), timeout=1800)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "device: cpu" in result.stdout and "env-steps/s" in result.stdout
    figures = json.loads(out.read_text())
    assert figures["allow_cpu_run"] is True and figures["backend"] == "cpu"
    assert figures["mjx_envs"] == 4 and figures["mjx_env_steps_per_s"] > 0
    assert figures["mjx_x_real_time"] == pytest.approx(figures["mjx_env_steps_per_s"] * 0.02)
    assert figures["ppo_env_steps"] == 320 and figures["ppo_train_env_steps_per_s"] > 0
