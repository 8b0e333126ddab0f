"""The optomotor response of a hand-wired connectome controller: eyes -> optic lobe -> T4/T5 yaw
signal -> DNg100 asymmetry -> VNC -> joints, in the Gymnasium Optomotor env (C MuJoCo).

The visual connectome policy (``agents.connectome_visual``: pretrained optic lobe 0, the
untrained VNC policy) with its DN readout set by ``optomotor_readout(gain)`` instead of
learned. For each grating speed and direction it runs seeded episodes and reports the fly's
mean turn rate after a warm-up: the reference a trained visual policy is compared with.

    python scripts/optomotor_handwired.py --out outputs/optomotor_handwired.json

``--run RUN`` measures a trained visual run's policy (``agents.policies.load(RUN)``) the same
way instead of the hand-wired readout.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gain", type=float, default=1.0, help="readout gain")
    parser.add_argument("--speeds", type=float, nargs="+", default=[0.5, 1.0, 1.5], help="rad/s")
    parser.add_argument("--episodes", type=int, default=2, help="seeded episodes per setting")
    parser.add_argument("--steps", type=int, default=100, help="control steps per episode")
    parser.add_argument("--warmup-steps", type=int, default=25, help="steps left out")
    parser.add_argument("--out", type=Path, help="JSON output")
    parser.add_argument("--run", type=Path, help="a trained visual run (instead of hand-wired)")
    args = parser.parse_args(argv)
    if args.episodes < 1 or not 0 <= args.warmup_steps < args.steps:
        parser.error("need --episodes >= 1 and 0 <= --warmup-steps < --steps")
    if any(not v > 0 for v in args.speeds):
        parser.error(f"--speeds must be > 0 rad/s, got {args.speeds}")

    import gymnasium as gym

    from agents import checkpoints, connectome_visual, policies

    if args.run is not None:
        try:
            policy = policies.load(args.run)
        except (FileNotFoundError, checkpoints.CheckpointError) as err:
            parser.error(str(err))
        policy.env_config["episode_length"] = args.steps
    else:
        policy = connectome_visual.handwired_policy(
            "connectome_optomotor_quick",
            lambda net: connectome_visual.optomotor_readout(net, gain=args.gain),
            args.steps,
        )
    rows, t0 = [], time.monotonic()
    for speed in args.speeds:
        for direction in ("left", "right"):
            config = dict(policy.env_config)
            config["grating"] = {
                **config["grating"], "direction": direction, "speed_rad_s": (speed, speed),
            }  # fmt: skip
            genv = gym.make(policy.gym_id, **config)
            per_episode, falls = [], 0
            for seed in range(args.episodes):
                obs, _ = genv.reset(seed=seed)
                policy.reset()
                turns = []
                for t in range(args.steps):
                    obs, _, terminated, truncated, info = genv.step(policy(obs))
                    if t >= args.warmup_steps:
                        turns.append(info["turn_rate_rad_s"])
                    if terminated or truncated:
                        falls += int(terminated)
                        break
                per_episode.append(float(np.mean(turns)) if turns else float("nan"))
            genv.close()
            sign = 1.0 if direction == "left" else -1.0  # positive turn rate = left
            rows.append(
                {
                    "grating_speed_rad_s": speed,
                    "direction": direction,
                    "turn_rate_rad_s": float(np.mean(per_episode)),
                    "episode_turn_rates_rad_s": per_episode,
                    "fraction_with_grating": float(np.mean(sign * np.asarray(per_episode) > 0)),
                    "falls": falls,
                }
            )
            r = rows[-1]
            print(
                f"grating {direction:5s} {speed:.2f} rad/s: fly turns {r['turn_rate_rad_s']:+.3f}"
                f" rad/s, with the grating in {r['fraction_with_grating']:.0%} of episodes,"
                f" falls {falls}",
                flush=True,
            )
    record = {
        "gain": args.gain,
        "episodes": args.episodes,
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "wall_s": time.monotonic() - t0,
        "rows": rows,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
