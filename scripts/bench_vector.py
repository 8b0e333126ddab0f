"""Gymnasium vector-env throughput: the native vector env on the batched C engine
(``gymnasium.make_vec(id, vectorization_mode="vector_entry_point")``) against ``SyncVectorEnv``
and ``AsyncVectorEnv`` over ``FlyEnv`` (``vectorization_mode="sync"`` / ``"async"``), in one
process.

Example::

    MUJOCO_GL=egl python scripts/bench_vector.py --num-envs 16 --json outputs/bench_vector.json

All variants are built and warmed up (compiled) first, then timed round robin: in each of
``--repeats`` rounds every variant runs ``--steps`` vector steps with the same uniformly random
actions (autoresets included); the figure is the median env-steps/s (``num_envs * steps /
seconds``) over the rounds. ``AsyncVectorEnv`` runs ``num_envs`` spawned worker processes (one
``FlyEnv`` each); ``--no-async`` skips it. The native env uses ``--threads`` host threads
(default: the CPU count). The load average at the start is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np


def _make(env_id: str, mode: str, num_envs: int, threads: int, config: dict[str, Any]):
    import gymnasium as gym

    if mode == "native":
        return gym.make_vec(env_id, num_envs, vectorization_mode="vector_entry_point",
                            n_threads=threads, **config)  # fmt: skip
    kwargs = {"context": "spawn"} if mode == "async" else {}  # no fork after JAX started
    return gym.make_vec(env_id, num_envs, vectorization_mode=mode, vector_kwargs=kwargs, **config)


def _run(env: Any, actions: list[np.ndarray]) -> float:
    """Seconds for ``len(actions)`` vector steps."""
    t0 = time.perf_counter()
    for a in actions:
        env.step(a)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="flyenvs/Walk-v1")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[16])
    parser.add_argument("--steps", type=int, default=50, help="vector steps per timed round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-async", action="store_true", help="skip AsyncVectorEnv")
    parser.add_argument("--async-max-envs", type=int, default=16,
                        help="run AsyncVectorEnv up to this num_envs only")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    import flyenvs  # noqa: F401  (registers the ids)

    result: dict[str, Any] = {
        "env_id": args.env_id, "steps": args.steps, "repeats": args.repeats,
        "threads": args.threads, "cpu_count": os.cpu_count(),
        "loadavg_start": os.getloadavg(), "rows": [],
    }  # fmt: skip
    for n in args.num_envs:
        modes = ["native", "sync"]
        if not args.no_async and n <= args.async_max_envs:
            modes.append("async")
        envs, build_s = {}, {}
        for mode in modes:
            t0 = time.perf_counter()
            envs[mode] = _make(args.env_id, mode, n, args.threads, {})
            envs[mode].reset(seed=0)
            space = envs[mode].action_space
            envs[mode].step(np.zeros(space.shape, space.dtype))  # compile / warm up
            build_s[mode] = time.perf_counter() - t0
        space = envs["native"].single_action_space
        rng = np.random.default_rng(0)
        actions = [
            rng.uniform(space.low, space.high, (n, *space.shape)).astype(np.float32)
            for _ in range(args.steps)
        ]
        rates: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(args.repeats):
            for mode in modes:
                rates[mode].append(n * args.steps / _run(envs[mode], actions))
        for mode in modes:
            envs[mode].close()
            row = {
                "num_envs": n, "variant": mode, "build_and_warmup_s": build_s[mode],
                "env_steps_per_s": rates[mode], "median": statistics.median(rates[mode]),
            }  # fmt: skip
            result["rows"].append(row)
    result["loadavg_end"] = os.getloadavg()

    base = {r["num_envs"]: r["median"] for r in result["rows"] if r["variant"] == "sync"}
    print(f"{args.env_id}, {args.steps} steps x {args.repeats} rounds, threads={args.threads}, "
          f"load average at start {result['loadavg_start'][0]:.2f}")  # fmt: skip
    print(f"{'num_envs':>8} {'variant':>8} {'env-steps/s (median)':>21} {'vs sync':>8}")
    for r in result["rows"]:
        ratio = r["median"] / base[r["num_envs"]]
        print(f"{r['num_envs']:>8} {r['variant']:>8} {r['median']:>21.1f} {ratio:>7.2f}x")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
