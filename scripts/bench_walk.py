"""Benchmark the Walk environment: Gymnasium (C MuJoCo) and Brax (MJX) control steps per second.

Example::

    MUJOCO_GL=egl python scripts/bench_walk.py --json outputs/bench_walk.json

Each figure is the median of ``--repeats`` timed runs after a warm-up (compilation excluded and
reported separately). One control step = 20 ms of simulated time (20 physics steps of the
``train`` body). Brax PPO throughput is read from a training run's ``metrics.csv`` if
``--run`` is given (its last epoch, training + evaluation).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def _gym_steps_per_s(mode: str, n_steps: int, repeats: int) -> float:
    import gymnasium as gym

    import flyenvs  # noqa: F401

    env = gym.make("flyenvs/Walk-v1", action_mode=mode, episode_length=10**6)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    env.step(np.zeros(env.action_space.shape, np.float32))  # jit warm-up
    rates = []
    for _ in range(repeats):
        actions = rng.uniform(-0.3, 0.3, (n_steps, *env.action_space.shape)).astype(np.float32)
        env.reset(seed=1)
        t0 = time.perf_counter()
        for a in actions:
            if env.step(a)[2]:
                env.reset()
        rates.append(n_steps / (time.perf_counter() - t0))
    env.close()
    return statistics.median(rates)


def _mjx_steps_per_s(n_envs: int, n_steps: int, repeats: int) -> tuple[float, float]:
    import jax
    import jax.numpy as jnp

    import flyenvs.brax

    env = flyenvs.brax.make("Walk")

    def rollout(state, key):
        def body(s, k):
            a = jax.random.uniform(k, (n_envs, env.action_size), minval=-0.3, maxval=0.3)
            return jax.vmap(env.step)(s, a), None

        return jax.lax.scan(body, state, jax.random.split(key, n_steps))[0]

    reset = jax.jit(jax.vmap(env.reset))
    run = jax.jit(rollout)
    t0 = time.perf_counter()
    state = reset(jax.random.split(jax.random.PRNGKey(0), n_envs))
    state = jax.block_until_ready(run(state, jax.random.PRNGKey(1)))
    compile_s = time.perf_counter() - t0
    rates = []
    for i in range(repeats):
        t0 = time.perf_counter()
        state = jax.block_until_ready(run(state, jax.random.PRNGKey(2 + i)))
        rates.append(n_envs * n_steps / (time.perf_counter() - t0))
    assert bool(jnp.all(jnp.isfinite(state.obs)))
    return statistics.median(rates), compile_s


def _ppo_from_run(run: Path) -> dict[str, float]:
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    if len(rows) < 3:
        raise SystemExit(f"{run}/metrics.csv needs >= 3 evaluations to time training")
    # the last epoch only: earlier ones include compilation (the evaluation recompiles once)
    steps = float(rows[-1]["step"]) - float(rows[-2]["step"])
    wall = float(rows[-1]["wall_s"]) - float(rows[-2]["wall_s"])
    return {"ppo_env_steps_per_s_incl_eval": steps / wall, "ppo_run": str(run)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, default=Path("outputs/bench_walk.json"))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mjx-envs", type=int, nargs="*", default=[1, 32])
    parser.add_argument("--run", type=Path, help="a training run directory (PPO throughput)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be >= 1")

    results: dict[str, float | str] = {}
    for mode in ("cpg", "joints", "vnc"):
        results[f"gym_{mode}_steps_per_s"] = _gym_steps_per_s(mode, args.steps, args.repeats)
    for n in args.mjx_envs:
        rate, compile_s = _mjx_steps_per_s(n, max(10, args.steps // 10), args.repeats)
        results[f"mjx_{n}env_steps_per_s"] = rate
        results[f"mjx_{n}env_compile_s"] = compile_s
    if args.run is not None:
        results.update(_ppo_from_run(args.run))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"{'measure':40s} value")
    for key, value in results.items():
        print(f"{key:40s} {value:.1f}" if isinstance(value, float) else f"{key:40s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
