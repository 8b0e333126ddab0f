"""How fast does a connectome Walk policy walk at each commanded speed? The fastest it holds.

Runs a connectome Walk run's deterministic policy (its newest valid checkpoint, or one
``step_*`` directory; its own Walk config) on the batched C engine with the command fixed at
each ``--speeds`` value (turn 0), ``--envs`` episodes of ``--steps`` control steps, and reports
the mean forward speed after ``--warmup-steps`` (``agents.walk_envelope.walker``), its error
against the command, and the falls. The fastest speed held is the highest mean speed of a
command at which no episode fell (issue 12 asks for it; real flies walk 10-30 mm/s). Commands
beyond the training range (Walk's 3-9 mm/s) show how the policy extrapolates.

    python scripts/speed_track.py runs/steer_ascending_calibrated --speeds 3 6 9 12
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a connectome Walk run or step_* checkpoint")
    parser.add_argument("--speeds", type=float, nargs="+", default=[3.0, 6.0, 9.0, 12.0])
    parser.add_argument("--envs", type=int, default=4, help="episodes per command")
    parser.add_argument("--steps", type=int, default=250, help="control steps (20 ms)")
    parser.add_argument("--warmup-steps", type=int, default=50, help="steps left out")
    parser.add_argument("--out", type=Path, help="JSON output")
    args = parser.parse_args(argv)
    if args.envs < 1 or not 0 <= args.warmup_steps < args.steps:
        parser.error("need --envs >= 1 and 0 <= --warmup-steps < --steps")
    if min(args.speeds) <= 0:
        parser.error("--speeds must be positive (mm/s)")

    import flyenvs.brax
    from agents import walk_envelope
    from agents.recurrent_ppo import driver

    try:
        state, meta = walk_envelope.load_run(args.run)
    except ValueError as err:
        parser.error(str(err))
    cfg = meta["train"]
    rows, t0, net = [], time.monotonic(), None
    for speed in args.speeds:
        fixed = {"fixed": True, "fixed_speed_mm_s": speed, "fixed_turn_rad_s": 0.0}
        env_cfg = {**cfg["env"], "episode_length": args.steps, "command": fixed}
        env = flyenvs.brax.make("Walk", backend="mujoco", **env_cfg)
        # one network for every command (its VNC warm-up is computed once)
        net = net or driver.make_network(cfg, env.task, env.action_size)
        walk = walk_envelope.walker(
            env, net, state["normalizer"], envs=args.envs, warmup_steps=args.warmup_steps
        )
        row = {"command_mm_s": speed, **walk(state["network"])}
        row["speed_error_mm_s"] = row["speed_mm_s"] - speed
        rows.append(row)
        print(f"command {speed:5.2f} mm/s: walks {row['speed_mm_s']:5.2f} mm/s, turn "
              f"{row['turn_rad_s']:+.3f} rad/s, falls {row['falls']}", flush=True)  # fmt: skip
    held = [r["speed_mm_s"] for r in rows if r["falls"] == 0]
    record = {
        "run": str(args.run),
        "step": meta.get("step"),
        "envs": args.envs,
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "rows": rows,
        "fastest_held_mm_s": max(held) if held else None,
        "wall_s": time.monotonic() - t0,
    }
    print(f"fastest speed held (no fall): {record['fastest_held_mm_s']} mm/s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
