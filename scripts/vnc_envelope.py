"""What the connectome VNC can do with its descending drive: the speed and turn-rate envelope.

Runs the untrained connectome Walk policy (``agents.connectome_walk``: readout weights 0, the
VNC at its connectome-derived parameters) on Walk in the joints mode on the batched C engine,
with the DNg100 drive set by the readout's bias alone: ``dn = center + gain * tanh(b)``, with
``b = forward`` on every leg (faster / slower stepping) plus ``+turn`` on the left legs and
``-turn`` on the right ones (asymmetry). For each (forward, turn) pair it reports the mean
forward speed and turn rate after a warm-up, and the falls. This is the open-loop envelope: a
trained readout also feeds proprioception back, which can move the gait beyond it. With
``--ascending-cell`` the readout also reads that VNC cell's rate in every leg (an ascending
pathway, ``VNCWalkPolicy.ascending_cell``) at ``--ascending-gain`` from the leg
``--ascending-coupling`` names: the closed-loop envelope of that feedback.

    python scripts/vnc_envelope.py --out outputs/vnc_envelope.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forward", type=float, nargs="+", default=[-1.0, 0.0, 0.5, 1.0])
    parser.add_argument("--turn", type=float, nargs="+", default=[-1.0, -0.5, 0.0, 0.5, 1.0])
    parser.add_argument("--drive-gain", type=float, default=25.0, help="DN drive half range")
    parser.add_argument("--envs", type=int, default=4, help="episodes per setting")
    parser.add_argument("--steps", type=int, default=150, help="control steps (20 ms)")
    parser.add_argument("--warmup-steps", type=int, default=25, help="steps left out")
    parser.add_argument(
        "--ascending-cell", default="", help="VNC cell the DN readout also reads (e.g. I1)"
    )
    parser.add_argument("--ascending-coupling", default="anterior", help="anterior|posterior|same")
    parser.add_argument("--ascending-gain", type=float, default=0.0, help="its readout weight")
    parser.add_argument("--out", type=Path, help="JSON output")
    args = parser.parse_args(argv)
    if args.envs < 1 or not 0 <= args.warmup_steps < args.steps:
        parser.error("need --envs >= 1 and 0 <= --warmup-steps < --steps")

    import flyenvs.brax
    from agents import ppo, walk_envelope
    from agents.recurrent_ppo import driver
    from agents.recurrent_ppo.train import init_training_state

    cfg = ppo.resolve_preset("connectome_quick", env={"episode_length": args.steps})
    cfg["connectome"]["drive_gain"] = args.drive_gain
    if args.ascending_cell:
        cfg["connectome"].update(
            ascending_cell=args.ascending_cell,
            ascending_coupling=args.ascending_coupling,
            init_ascending_gain=args.ascending_gain,
        )
    env = flyenvs.brax.make("Walk", backend="mujoco", **cfg["env"])
    net = driver.make_network(cfg, env.task, env.action_size)
    start = init_training_state(net, env.task.observation_size, 1e-3, 0.5)
    walk = walk_envelope.walker(
        env, net, start["normalizer"], envs=args.envs, warmup_steps=args.warmup_steps
    )
    rows, t0 = [], time.monotonic()
    for f in args.forward:
        for t in args.turn:
            # the readout's bias alone: b = forward + turn * side (its weights are 0)
            (r,) = walk_envelope.envelope(env, net, start["network"], start["normalizer"],
                                          [(f, t)], walk=walk)  # fmt: skip
            r["dn_left"] = args.drive_gain * float(np.tanh(f + t))
            r["dn_right"] = args.drive_gain * float(np.tanh(f - t))
            rows.append(r)
            print(
                f"b = {f:+.1f} {t:+.1f} (DN L {r['dn_left']:+.0f}, R {r['dn_right']:+.0f}):"
                f" speed {r['speed_mm_s']:5.2f} mm/s, turn {r['turn_rad_s']:+.3f} rad/s,"
                f" falls {r['falls']}",
                flush=True,
            )
    record = {
        "drive_gain": args.drive_gain,
        "ascending": [args.ascending_cell, args.ascending_coupling, args.ascending_gain],
        "envs": args.envs,
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "wall_s": time.monotonic() - t0,
        "rows": rows,
        "speed_range_mm_s": [
            min(r["speed_mm_s"] for r in rows),
            max(r["speed_mm_s"] for r in rows),
        ],
        "turn_range_rad_s": [
            min(r["turn_rad_s"] for r in rows),
            max(r["turn_rad_s"] for r in rows),
        ],
    }
    print(
        f"speed {record['speed_range_mm_s'][0]:.2f} to {record['speed_range_mm_s'][1]:.2f} mm/s, "
        f"turn {record['turn_range_rad_s'][0]:+.3f} to {record['turn_range_rad_s'][1]:+.3f} rad/s"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
