"""Benchmark the Walk environment (or another task, ``--task``): Gymnasium (C MuJoCo) and Brax
control steps per second, the latter on both backends (``backend="mjx"`` and
``backend="mujoco"``, the batched C engine with ``--threads`` host threads, also with its
``"threads"`` method and with one thread) side by side in one process, timed round robin.

Example::

    MUJOCO_GL=egl python scripts/bench_walk.py --json outputs/bench_walk.json
    MUJOCO_GL=egl python scripts/bench_walk.py --task VisualTaxis --skip-gym --mjx-envs 32

Each figure is the median of ``--repeats`` timed runs after a warm-up (compilation excluded and
reported separately). One control step = 20 ms of simulated time (80 physics steps of the
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


def _gym_steps_per_s(task: str, mode: str, n_steps: int, repeats: int) -> float:
    import gymnasium as gym

    import flyenvs  # noqa: F401
    from flyenvs.tasks import registry

    env = gym.make(registry.spec(task).gym_id, action_mode=mode, episode_length=10**6)
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


def _brax_env(task: str, backend: str, n_threads: int, method: str):
    import flyenvs.brax

    if backend == "mjx":
        return flyenvs.brax.make(task)
    from flyenvs.sim.host_callback import HostBackend

    env = flyenvs.brax.make(task, backend="mujoco", n_threads=n_threads)
    env.sim = HostBackend(env.task.model, n_threads, method, env.task.build_mjcf)  # bench only
    return env


def random_action_rollout(env, n_envs: int, n_steps: int):
    """``rollout(state, key) -> state``: ``n_steps`` control steps of ``vmap(env.step)`` over a
    batch of ``n_envs`` (a ``lax.scan``, to be jitted), actions uniform in [-0.3, 0.3]. The
    workload of the Brax timings here and in ``scripts/gpu_check.py``."""
    import jax

    def rollout(state, key):
        def body(s, k):
            a = jax.random.uniform(k, (n_envs, env.action_size), minval=-0.3, maxval=0.3)
            return jax.vmap(env.step)(s, a), None

        return jax.lax.scan(body, state, jax.random.split(key, n_steps))[0]

    return rollout


def _brax_runner(env, n_envs: int, n_steps: int):
    """(compiled rollout of ``n_steps`` jit(vmap(step)) calls, its first state, compile s)."""
    import jax

    reset = jax.jit(jax.vmap(env.reset))
    run = jax.jit(random_action_rollout(env, n_envs, n_steps))
    t0 = time.perf_counter()
    state = reset(jax.random.split(jax.random.PRNGKey(0), n_envs))
    state = jax.block_until_ready(run(state, jax.random.PRNGKey(1)))
    return run, state, time.perf_counter() - t0


def _brax_steps_per_s(
    task: str, variants: dict[str, tuple[str, int, str]], n_envs: int, n_steps: int, repeats: int
) -> dict[str, float]:
    """env-steps/s of each variant ``name: (backend, n_threads, method)`` under
    ``jit(vmap(step))`` (a ``lax.scan`` of ``n_steps`` steps), timed round robin in this process
    (medians), plus each variant's compile + first run time."""
    import jax
    import jax.numpy as jnp

    runners = {}
    out: dict[str, float] = {}
    for name, (backend, n_threads, method) in variants.items():
        env = _brax_env(task, backend, n_threads, method)
        run, state, compile_s = _brax_runner(env, n_envs, n_steps)
        runners[name] = [run, state]
        out[f"{name}_{n_envs}env_compile_s"] = compile_s
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(repeats):
        for name, runner in runners.items():  # round robin: load changes hit all alike
            t0 = time.perf_counter()
            runner[1] = jax.block_until_ready(runner[0](runner[1], jax.random.PRNGKey(2 + i)))
            rates[name].append(n_envs * n_steps / (time.perf_counter() - t0))
    for name, (_run, state) in runners.items():
        assert bool(jnp.all(jnp.isfinite(state.obs["joint_pos_rad"]))), name
        out[f"{name}_{n_envs}env_steps_per_s"] = statistics.median(rates[name])
    return out


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
    parser.add_argument("--task", default="Walk", help="a registered task (default Walk)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mjx-envs", type=int, nargs="*", default=[1, 32])
    parser.add_argument("--threads", type=int, default=2, help="host threads of backend=mujoco")
    parser.add_argument("--skip-gym", action="store_true", help="only the Brax backends")
    parser.add_argument("--run", type=Path, help="a training run directory (PPO throughput)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be >= 1")

    results: dict[str, float | str] = {"task": args.task}
    if not args.skip_gym:
        for mode in ("cpg", "joints", "vnc"):
            rate = _gym_steps_per_s(args.task, mode, args.steps, args.repeats)
            results[f"gym_{mode}_steps_per_s"] = rate
    variants = {
        "mjx": ("mjx", 0, ""),
        "mujoco": ("mujoco", args.threads, "rollout"),
        "mujoco_threads": ("mujoco", args.threads, "threads"),
        "mujoco_1thread": ("mujoco", 1, "rollout"),
    }
    for n in args.mjx_envs:
        steps = max(10, args.steps // 10)
        results.update(_brax_steps_per_s(args.task, variants, n, steps, args.repeats))
        mjx = results[f"mjx_{n}env_steps_per_s"]
        results[f"mujoco_over_mjx_{n}env"] = results[f"mujoco_{n}env_steps_per_s"] / mjx
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
