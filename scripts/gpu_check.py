"""Check the GPU path: which device JAX sees, MJX Walk throughput and a short Brax PPO run on it.

Examples::

    pip install -e '.[cuda12]'                        # the CUDA 12 plugin for the pinned jax
    python scripts/gpu_check.py --json outputs/gpu_check.json
    python scripts/gpu_check.py --allow-cpu           # no GPU: a tiny run of the same path on CPU

Without a GPU (JAX's default backend is ``cpu``) it says so and exits with status 2 before
compiling anything, unless ``--allow-cpu`` is given: then it runs a tiny version (4 envs, 2
control steps, PPO with the ``smoke`` preset sizes) on CPU, to check the code path, not the speed.

1. MJX Walk (``flyenvs.brax.make("Walk", backend="mjx")``, default config): ``--envs``
   environments, a ``lax.scan`` of ``--steps`` ``vmap(step)`` calls with random actions in
   [-0.3, 0.3], in one ``jit`` (as ``scripts/bench_walk.py``). Compilation is timed on its own
   (ahead of time: ``jit(...).lower(...).compile()``); env-steps/s is the median of ``--repeats``
   timed runs after a first run. x real time = env-steps/s x control period (``env.dt``, 20 ms).
2. Brax PPO (``agents.ppo.train`` on ``backend="mjx"``): ``--ppo-preset`` with ``num_envs`` and
   ``batch_size`` set to ``--ppo-envs``, for two training epochs of one update each (three
   evaluations); the first epoch includes the compilation, the second is the steady state
   (Brax's ``training/sps``, evaluation excluded). Checkpoints go to a temporary folder.

The persistent compilation cache of ``scripts/train.py`` is on unless ``--no-cache``; with a warm
cache the compile times are cache loads. Prints the figures; ``--json OUT`` also writes them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Sizes with a GPU and, with ``--allow-cpu``, without one.
SIZES: dict[str, dict[str, Any]] = {
    "gpu": {"envs": 4096, "steps": 20, "repeats": 3, "ppo_preset": "default", "ppo_envs": 1024},
    "cpu": {"envs": 4, "steps": 2, "repeats": 1, "ppo_preset": "smoke", "ppo_envs": 8},
}

#: Exit status when no GPU is found (and ``--allow-cpu`` is not given).
NO_GPU = 2


def _cuda_plugin() -> str | None:
    """The installed JAX CUDA plugin and its version (``"jax-cuda12-plugin 0.9.2"``; the
    ``cuda12`` extra's, else the CUDA 13 one used where only CUDA 13 libraries exist,
    docs/stack.md), or None."""
    from importlib import metadata

    for name in ("jax-cuda12-plugin", "jax-cuda13-plugin"):
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return None


def _device() -> dict[str, Any]:
    """JAX's default backend and devices (initialises JAX's backends, compiles nothing)."""
    import jax

    devices = jax.devices()
    return {
        "backend": jax.default_backend(),
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "jax": jax.__version__,
        "cuda_plugin": _cuda_plugin(),
    }


def _no_gpu_message(device: dict[str, Any]) -> str:
    if device["cuda_plugin"] is None:
        hint = (
            "the CUDA plugin is not installed: pip install -e '.[cuda12]' (README, docs/stack.md)"
        )
    else:
        hint = (
            f"{device['cuda_plugin']} is installed but JAX found no usable "
            "GPU (check nvidia-smi and the NVIDIA driver; JAX's warning above says more)"
        )
    return (
        f"no GPU found: JAX {device['jax']} runs on '{device['backend']}' "
        f"({device['device_kind']}); {hint}. --allow-cpu runs a tiny version on CPU."
    )


def mjx_walk(n_envs: int, n_steps: int, repeats: int) -> dict[str, float]:
    """MJX Walk under ``jit(scan(vmap(step)))``: compile s, first run s, env-steps/s, x real time.

    Raises:
        FloatingPointError: non-finite observations after the runs.
    """
    import jax
    import jax.numpy as jnp
    from bench_walk import random_action_rollout  # scripts/bench_walk.py, beside this file

    import flyenvs.brax

    env = flyenvs.brax.make("Walk", backend="mjx")
    rollout = random_action_rollout(env, n_envs, n_steps)

    t0 = time.perf_counter()
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), n_envs))
    state = jax.block_until_ready(state)
    reset_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run = jax.jit(rollout).lower(state, jax.random.PRNGKey(1)).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    state = jax.block_until_ready(run(state, jax.random.PRNGKey(1)))
    first_run_s = time.perf_counter() - t0
    rates = []
    for i in range(repeats):
        t0 = time.perf_counter()
        state = jax.block_until_ready(run(state, jax.random.PRNGKey(2 + i)))
        rates.append(n_envs * n_steps / (time.perf_counter() - t0))
    finite = jnp.all(jnp.isfinite(state.obs["joint_pos_rad"]), axis=-1)
    if not bool(jnp.all(finite)):
        raise FloatingPointError(
            f"MJX Walk: non-finite observations in {int(jnp.sum(~finite))} of {n_envs} envs"
        )
    steps_per_s = statistics.median(rates)
    return {
        "mjx_envs": n_envs,
        "mjx_steps_per_run": n_steps,
        "mjx_reset_compile_and_run_s": reset_s,
        "mjx_compile_s": compile_s,
        "mjx_first_run_s": first_run_s,
        "mjx_env_steps_per_s": steps_per_s,
        "control_dt_s": env.dt,
        "mjx_x_real_time": steps_per_s * env.dt,
    }


def _control_dt_s(cfg: dict[str, Any]) -> float:
    """Control period (s) of the task of a PPO config (``agents.ppo.resolve_preset``)."""
    from flyenvs.tasks import registry

    return float(registry.spec(cfg["task"]).default_config(**cfg["env"]).control_dt_s)


def ppo_run(preset: str, n_envs: int) -> dict[str, Any]:
    """Two epochs of Brax PPO on MJX (``agents.ppo.train``): first epoch (with compilation) and
    steady-state training env-steps/s, in a temporary run folder."""
    from agents import ppo

    base = ppo.resolve_preset(preset)
    per_update = n_envs * base["ppo"]["num_minibatches"] * base["ppo"]["unroll_length"]
    cfg = ppo.resolve_preset(
        preset,
        backend="mjx",
        num_envs=n_envs,
        batch_size=n_envs,
        num_timesteps=2 * per_update,
        checkpoint_every=per_update,
    )
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as run_dir:
        t0 = time.perf_counter()
        summary = ppo.train(run_dir, cfg)
        wall_s = time.perf_counter() - t0
    rows = summary["evals"]
    trained = [r for r in rows if "training/sps" in r]
    if len(trained) < 2:
        raise RuntimeError(f"PPO ran {len(trained)} training epochs, expected 2: {rows}")
    return {
        "ppo_preset": preset,
        "ppo_envs": n_envs,
        "ppo_env_steps": int(summary["final_step"]),
        "ppo_first_epoch_s": trained[0]["training/walltime"],
        "ppo_train_env_steps_per_s": trained[-1]["training/sps"],
        "ppo_x_real_time": trained[-1]["training/sps"] * _control_dt_s(cfg),
        "ppo_wall_s": wall_s,
        "ppo_eval_reward": rows[-1].get("eval/episode_reward", float("nan")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--allow-cpu", action="store_true", help="no GPU: a tiny run on CPU")
    parser.add_argument("--envs", type=int, help="MJX batch (default 4096; 4 on CPU)")
    parser.add_argument("--steps", type=int, help="control steps per timed run (20; 2 on CPU)")
    parser.add_argument("--repeats", type=int, help="timed runs, median (3; 1 on CPU)")
    parser.add_argument("--ppo-envs", type=int, help="PPO num_envs = batch_size (1024; 8 on CPU)")
    parser.add_argument("--ppo-preset", help="agents.ppo preset (default; smoke on CPU)")
    parser.add_argument("--skip-ppo", action="store_true", help="only the MJX step timing")
    parser.add_argument("--no-cache", action="store_true", help="no persistent compile cache")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures here")
    args = parser.parse_args(argv)
    for name in ("envs", "steps", "repeats", "ppo_envs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")

    device = _device()  # before importing flyenvs or compiling anything
    on_gpu = device["backend"] != "cpu"
    print(
        f"device: {device['backend']} ({device['device_kind']}) x{device['device_count']}, "
        f"jax {device['jax']}, {device['cuda_plugin'] or 'no JAX CUDA plugin installed'}",
        flush=True,
    )
    if not on_gpu and not args.allow_cpu:
        print(_no_gpu_message(device), file=sys.stderr)
        return NO_GPU
    sizes = SIZES["gpu" if on_gpu else "cpu"]
    opts = {k: getattr(args, k) if getattr(args, k) is not None else v for k, v in sizes.items()}
    if not on_gpu:
        print("no GPU: --allow-cpu, tiny run on CPU (checks the code path; not a speed figure)")

    from agents import ppo

    if opts["ppo_preset"] not in ppo.PRESETS:
        parser.error(f"--ppo-preset must be one of {sorted(ppo.PRESETS)}")
    if not args.no_cache:
        from train import _enable_compilation_cache  # scripts/train.py, beside this file

        _enable_compilation_cache()

    results: dict[str, Any] = {**device, "allow_cpu_run": not on_gpu}
    results["compile_cache"] = not args.no_cache
    print(f"MJX Walk: {opts['envs']} envs x {opts['steps']} control steps ...", flush=True)
    try:
        results.update(mjx_walk(opts["envs"], opts["steps"], opts["repeats"]))
    except FloatingPointError as err:
        print(str(err), file=sys.stderr)
        return 1
    if not args.skip_ppo:
        print(f"Brax PPO on MJX: preset {opts['ppo_preset']}, {opts['ppo_envs']} envs ...")
        results.update(ppo_run(opts["ppo_preset"], opts["ppo_envs"]))

    for key, value in results.items():
        print(f"{key:32s} {value:.4g}" if isinstance(value, float) else f"{key:32s} {value}")
    print(
        f"MJX Walk on {device['backend']}: {results['mjx_env_steps_per_s']:.4g} env-steps/s "
        f"= {results['mjx_x_real_time']:.4g} x real time at {opts['envs']} envs "
        f"(compile {results['mjx_compile_s']:.1f} s)"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
