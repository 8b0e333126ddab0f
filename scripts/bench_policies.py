"""PPO throughput of the policies on one task, side by side in one process: the MLP (Brax PPO),
the connectome policy (recurrent PPO: readout -> VNC -> joints, on a visual task with the
optic lobe in front) and its feed-forward control, all on the batched C MuJoCo engine.

Example::

    MUJOCO_GL=egl python scripts/bench_policies.py --task Walk \\
        --json outputs/bench_policies_walk.json
    MUJOCO_GL=egl python scripts/bench_policies.py --task Optomotor \\
        --json outputs/bench_policies_optomotor.json

Each variant (``POLICY:PRESET``, resolved per task as ``scripts/train.py --policy POLICY
--preset PRESET --task TASK``) trains ``--segments`` segments of about ``--segment-steps`` env
steps (whole PPO updates) with its preset's own recipe (envs, unroll, epochs, evaluation
episodes), evaluating between segments. The first segment includes compiling; a variant's
figure is the median env-steps/s of its later segments (training + the evaluations between
them), and the variants run in ``--rounds`` alternating rounds (A B C A B C ...: the
machine's load drifts), the figure of a variant the median over its rounds. The ratio column
is against the first variant.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any


def _rate(
    preset: str, task: str, threads: int | None, segment_steps: int, segments: int
) -> dict[str, Any]:
    """Train one variant; return its per-segment env-steps/s and the steady-state median."""
    from agents import ppo

    probe = ppo.resolve_preset(preset, task=task)
    p = probe["ppo"]
    if probe.get("policy", "mlp") == "mlp":
        per_update = p["batch_size"] * p["num_minibatches"] * p["unroll_length"]
    else:
        per_update = p["num_envs"] * p["unroll_length"]
    segment = per_update * max(1, round(segment_steps / per_update))
    cfg = ppo.resolve_preset(
        preset,
        task=task,
        num_timesteps=segment * segments,
        checkpoint_every=segment,
        backend="mujoco",
        threads=threads,
    )
    from bench_ppo import timed_segments  # scripts/bench_ppo.py, beside this file

    return {
        "preset": preset,
        "policy": cfg.get("policy", "mlp"),
        "action_mode": cfg["env"].get("action_mode"),
        "num_envs": p["num_envs"],
        "env_steps_per_segment": segment,
        **timed_segments(cfg),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--task", default="Walk")
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["mlp:quick", "connectome:quick", "feedforward:quick"],
        help="POLICY:PRESET, the first the reference of the ratios",
    )
    parser.add_argument("--segment-steps", type=int, default=10_240, help="env steps")
    parser.add_argument("--segments", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="host threads (default: all)")
    parser.add_argument("--json", type=Path, default=Path("outputs/bench_policies.json"))
    args = parser.parse_args(argv)
    if args.segment_steps < 1 or args.segments < 2 or args.rounds < 1:
        parser.error("--segment-steps >= 1, --segments >= 2 and --rounds >= 1 are required")

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from train import _enable_compilation_cache  # scripts/train.py, beside this file

    from agents import ppo

    variants = []
    for item in args.variants:
        policy, sep, preset = item.partition(":")
        if not sep:
            parser.error(f"a variant is POLICY:PRESET, got {item!r}")
        try:
            variants.append((item, ppo.preset_name(preset, policy, args.task)))
        except KeyError as e:
            parser.error(str(e))
    _enable_compilation_cache()
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in variants}
    for r in range(args.rounds):
        for label, name in variants:
            row = _rate(name, args.task, args.threads, args.segment_steps, args.segments)
            runs[label].append(row)
            print(
                f"round {r} {label:24s} ({name}): {row['env_steps_per_s']:7.1f} env-steps/s "
                f"(segments {[round(x, 1) for x in row['segment_env_steps_per_s']]}, load "
                f"{row['load_average_at_start']:.1f})",
                flush=True,
            )
    ref = statistics.median(x["env_steps_per_s"] for x in runs[variants[0][0]])
    table = []
    print(f"\n| {args.task}: variant | preset | action mode | PPO env-steps/s | vs "
          f"{variants[0][0]} |\n|---|---|---|---|---|")  # fmt: skip
    for label, name in variants:
        rate = statistics.median(x["env_steps_per_s"] for x in runs[label])
        table.append({"variant": label, "preset": name, "env_steps_per_s": rate,
                      "ratio": rate / ref, "rounds": runs[label]})  # fmt: skip
        mode = runs[label][0]["action_mode"]
        print(f"| {label} | {name} | {mode} | {rate:.1f} | {rate / ref:.2f}x |")
    out = {"task": args.task, "segment_steps": args.segment_steps, "segments": args.segments,
           "rounds": args.rounds, "threads": args.threads, "variants": table}  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
