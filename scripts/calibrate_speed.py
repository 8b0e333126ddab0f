"""Set a connectome Walk run's DN readout speed row from the policy's own drive envelope.

Loads a connectome Walk checkpoint (a run directory: its newest valid checkpoint; or one
``step_*`` directory), measures the forward speed of its policy with the readout's weights on
the speed command at 0 and its bias centred and moved by each ``--forward`` offset (the run's
VNC, ascending pathway and Walk config; ``agents.walk_envelope.envelope``), while it steers by
its trained turn row through Walk's turn commands (a turn speeds the gait up; ``--straight``:
the turn row at 0 too), averaged over ``--envs`` episodes, fits the speed's line in the
offset, and writes a copy of the checkpoint to ``--out`` whose readout maps the speed
command onto the offset the line says walks at that speed (``agents.walk_envelope.speed_row``;
the turn row, the bias's left-right trim and the ascending weights kept). ``--out`` is a run
directory that ``scripts/evaluate.py``, ``scripts/turn_floor.py --checkpoint`` and
``agents.policies.load`` read, and that ``scripts/train.py --init-from`` fine-tunes
(docs/connectome_walk.md, "A speed row from the envelope").

    python scripts/calibrate_speed.py runs/steer_ascending/checkpoints/step_000000192000 \\
        --out runs/steer_ascending_192k_speedrow
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a connectome Walk run or step_* checkpoint")
    parser.add_argument("--out", type=Path, required=True, help="run directory to write")
    parser.add_argument(
        "--forward", type=float, nargs="+", default=[-0.5, -0.25, 0.0, 0.25],
        help="common readout offsets whose speeds the line is fitted to",
    )  # fmt: skip
    parser.add_argument(
        "--envs", type=int, default=16,
        help="episodes per offset (the same seeds, so the same turn commands, at each)",
    )  # fmt: skip
    parser.add_argument(
        "--straight", action="store_true",
        help="walk straight (the turn row at 0) rather than steering by the run's turn row "
        "through Walk's turn commands",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, default=150, help="control steps (20 ms)")
    parser.add_argument("--warmup-steps", type=int, default=25, help="steps left out")
    args = parser.parse_args(argv)
    if args.envs < 1 or not 0 <= args.warmup_steps < args.steps:
        parser.error("need --envs >= 1 and 0 <= --warmup-steps < --steps")
    if len(set(args.forward)) < 2:
        parser.error("--forward needs at least two different offsets")
    if args.out.resolve() == args.source.resolve() or (args.out / "checkpoints").exists():
        parser.error(f"--out {args.out} already holds checkpoints; name a new directory")

    import jax.numpy as jnp

    import flyenvs.brax
    from agents import checkpoints, walk_envelope
    from agents.recurrent_ppo import driver
    from flyenvs.tasks.base import observation_columns

    try:
        state, meta = walk_envelope.load_run(args.source)
    except ValueError as err:
        parser.error(str(err))
    cfg = meta["train"]
    env = flyenvs.brax.make(
        "Walk", backend="mujoco", **{**cfg["env"], "episode_length": args.steps}
    )
    net = driver.make_network(cfg, env.task, env.action_size)
    params, normalizer = state["network"], state["normalizer"]
    b = params["readout"]["b"]
    centred = {**params, "readout": {**params["readout"], "b": b - jnp.mean(b)}}
    speed_col, turn_col = observation_columns(env.task.observation_spec, ["command"])
    t0 = time.monotonic()
    rows = walk_envelope.envelope(
        env, net, centred, normalizer, [(f, 0.0) for f in args.forward],
        keep_columns=() if args.straight else (turn_col,),
        envs=args.envs, warmup_steps=args.warmup_steps,
    )  # fmt: skip
    for r in rows:
        print(f"offset {r['forward']:+.2f}: {r['speed_mm_s']:5.2f} mm/s, turn "
              f"{r['turn_rad_s']:+.3f} rad/s, falls {r['falls']}", flush=True)  # fmt: skip
    try:
        fit = walk_envelope.fit_speed(rows)
    except ValueError as err:
        parser.error(str(err))
    mean, std = float(normalizer.mean[speed_col]), float(normalizer.std[speed_col])
    readout = walk_envelope.speed_row(params["readout"], speed_col, mean, std, fit)
    state = {**state, "network": {**params, "readout": readout}}
    drop = ("params_sha256", "optimizer_sha256", "step")
    calibration = {
        "source": str(args.source),
        "source_step": int(meta["step"]),
        "steering": not args.straight,
        "rows": rows,
        "speed_at_0_mm_s": fit[0],
        "mm_s_per_unit": fit[1],
        "command_mean_mm_s": mean,
        "command_std_mm_s": std,
        "speed_weight": std / fit[1],
        "offset_mean": (mean - fit[0]) / fit[1],
        "wall_s": time.monotonic() - t0,
    }
    out_meta = {**{k: v for k, v in meta.items() if k not in drop}, "calibration": calibration}
    path = checkpoints.save(args.out, int(meta["step"]), state, out_meta)
    (args.out / "calibration.json").write_text(json.dumps(calibration, indent=2))
    print(
        f"speed = {fit[0]:.2f} + {fit[1]:.2f} x offset (mm/s); speed row {std / fit[1]:.4f} per "
        f"command std ({std:.2f} mm/s), offset {(mean - fit[0]) / fit[1]:+.3f} at "
        f"{mean:.2f} mm/s -> {path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
