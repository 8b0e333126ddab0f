"""Brax PPO throughput on Walk, side by side in one process: the batched C MuJoCo engine
(``backend="mujoco"``, with 1 and N host threads) against MJX on the same CPU; and where an
engine PPO step's time goes (physics, task code + transfers, policy + update).

Example::

    MUJOCO_GL=egl python scripts/bench_ppo.py --json outputs/bench_ppo.json

Each variant trains ``--segments`` segments of ``--updates`` PPO updates with the ``--preset``
sizes (quick: 32 envs, 1,280 env steps per update), evaluating between segments (Brax's
``num_evals``). The first segment includes compiling the training step; the figure is the
median env-steps/s of the later ones (training + the evaluations between them, 16 x 50 steps
each). Variants run one after the other (PPO runs cannot be interleaved); the load average at
each start is recorded: compare within one run of this script.

The breakdown times, in the same process, for the first engine variant and batch (``num_envs``):
the physics alone (``BatchMujocoBackend.step`` of 80 substeps with the nominal gait's controls),
the whole env step (``jit(vmap(env.step))``, task code in JAX + the host call), and takes the rest
of a PPO env step as policy, update and evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _ppo_rate(
    preset: str, backend: str, threads: int | None, updates: int, segments: int
) -> dict[str, Any]:
    """Train one variant; return its per-segment env-steps/s and the steady-state median."""
    from agents import ppo

    probe = ppo.resolve_preset(preset)
    p = probe["ppo"]
    per_update = p["batch_size"] * p["num_minibatches"] * p["unroll_length"]
    segment = per_update * updates
    over: dict[str, Any] = {"backend": backend}
    if threads is not None:
        over["threads"] = threads
    cfg = ppo.resolve_preset(
        preset, num_timesteps=segment * segments, checkpoint_every=segment, **over
    )
    return {
        "backend": backend,
        "threads": threads,
        "num_envs": p["num_envs"],
        "env_steps_per_segment": segment,
        **timed_segments(cfg),
    }


def timed_segments(cfg: dict[str, Any]) -> dict[str, Any]:
    """Train the resolved config ``cfg`` (any policy) in a temporary run directory, timing its
    evaluations: ``first_eval_s``, ``segment_env_steps_per_s`` (between evaluations),
    ``env_steps_per_s`` (their median after the first, which compiles) and
    ``load_average_at_start``."""
    from agents import ppo

    times: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        ppo.train(
            Path(tmp) / "run",
            cfg,
            on_eval=lambda step, row: times.append((step, time.perf_counter() - t0)),
        )
    rates = [
        (s1 - s0) / (t1 - t0_) for (s0, t0_), (s1, t1) in zip(times[:-1], times[1:], strict=True)
    ]
    return {
        "first_eval_s": times[0][1],
        "segment_env_steps_per_s": rates,
        "env_steps_per_s": statistics.median(rates[1:]) if len(rates) > 1 else rates[0],
        "load_average_at_start": load,
    }


def _breakdown(n_envs: int, threads: int, repeats: int, n_steps: int = 10) -> dict[str, float]:
    """Per env step (us): the physics alone and the whole env step under jit(vmap(step)) (a
    scan of ``n_steps`` zero-action steps), timed alternately, medians of ``repeats``."""
    import jax
    import jax.numpy as jnp

    import flyenvs.brax

    env = flyenvs.brax.make("Walk", backend="mujoco", n_threads=threads)
    engine = env.sim.engine
    reset = jax.jit(jax.vmap(env.reset))
    state = reset(jax.random.split(jax.random.PRNGKey(0), n_envs))

    def rollout(s):
        def body(s, _):
            return jax.vmap(env.step)(s, jnp.zeros((n_envs, env.action_size))), None

        return jax.lax.scan(body, s, None, length=n_steps)[0]

    run = jax.jit(rollout)
    jax.block_until_ready(run(state))
    # the physics alone: the same batch and schedule (n_inner entries of n_substeps physics
    # steps), joint targets holding the start pose, adhesion on
    states = env.sim.float64_state(state.pipeline_state)
    qpos = np.asarray(env.task.reset(jax.random.PRNGKey(0))[0], np.float64)
    k = int(env.config.n_inner)
    ctrl = np.broadcast_to(qpos[engine.layout.leg_qpos_adr], (n_envs, k, 42)).copy()
    adhesion = np.ones((n_envs, k, 6))
    env_us, phys_us = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(run(state))
        env_us.append((time.perf_counter() - t) / (n_steps * n_envs) * 1e6)
        t = time.perf_counter()
        for _ in range(n_steps):
            engine.step(states, ctrl, adhesion, env.task.n_substeps)
        phys_us.append((time.perf_counter() - t) / (n_steps * n_envs) * 1e6)
    return {
        "physics_us_per_env_step": statistics.median(phys_us),
        "env_step_us_per_env_step": statistics.median(env_us),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--json", type=Path, default=Path("outputs/bench_ppo.json"))
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--updates", type=int, default=4, help="PPO updates per segment")
    parser.add_argument("--segments", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--skip-mjx", action="store_true")
    parser.add_argument("--repeats", type=int, default=5, help="breakdown repeats")
    args = parser.parse_args(argv)
    if args.updates < 1 or args.segments < 2 or min(args.threads) < 1:
        parser.error("--updates >= 1, --segments >= 2 and --threads >= 1 are required")

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from train import _enable_compilation_cache  # scripts/train.py, beside this file

    _enable_compilation_cache()
    variants = [("mujoco", t) for t in args.threads]
    if not args.skip_mjx:
        variants.append(("mjx", None))
    results = []
    for backend, threads in variants:
        row = _ppo_rate(args.preset, backend, threads, args.updates, args.segments)
        results.append(row)
        print(
            f"PPO {backend:6s} threads={threads}: {row['env_steps_per_s']:7.1f} env-steps/s "
            f"(segments {[round(r, 1) for r in row['segment_env_steps_per_s']]}, first eval at "
            f"{row['first_eval_s']:.0f} s, load {row['load_average_at_start']:.1f})",
            flush=True,
        )
    n_envs = results[0]["num_envs"]
    split = _breakdown(n_envs, args.threads[0], args.repeats)
    ppo_us = 1e6 / results[0]["env_steps_per_s"]
    split["ppo_us_per_env_step"] = ppo_us
    split["task_and_transfer_us_per_env_step"] = (
        split["env_step_us_per_env_step"] - split["physics_us_per_env_step"]
    )
    split["policy_update_eval_us_per_env_step"] = ppo_us - split["env_step_us_per_env_step"]
    out: dict[str, Any] = {"variants": results, "breakdown": split}
    mjx = [r for r in results if r["backend"] == "mjx"]
    print("\n| variant | PPO env-steps/s | vs MJX |\n|---|---|---|")
    for r in results:
        ratio = r["env_steps_per_s"] / mjx[0]["env_steps_per_s"] if mjx else None
        name = r["backend"] + (f", threads={r['threads']}" if r["threads"] else "")
        shown = f"{ratio:.2f}x" if ratio is not None else "-"
        print(f"| {name} | {r['env_steps_per_s']:.1f} | {shown} |")
        r["vs_mjx"] = ratio
    print(f"\nwhere a PPO env step's time goes ({n_envs} envs, {args.threads[0]} threads), us:")
    for key in ("physics", "task_and_transfer", "policy_update_eval"):
        value = split[f"{key}_us_per_env_step"]
        print(f"  {key:20s} {value:8.0f}  ({value / ppo_us:5.1%})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
