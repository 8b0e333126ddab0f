"""Run a trained policy in the Gymnasium environment (C MuJoCo) and write an MP4.

Example::

    MUJOCO_GL=egl python scripts/evaluate.py runs/walk_quick --out outputs/walk_quick.mp4

CHECKPOINT is a run directory (its latest checkpoint) or a checkpoint directory; the environment
is the checkpoint's task (``flyenvs/<task>-v<version>``) with its training config. The video shows
the tracking camera with the commanded and achieved speed / turn rate drawn on every frame (one
frame per control step). Prints the mean forward speed, distance walked, falls (episodes
ending by termination) and the mean |speed - command| and |turn - command|; ``--baseline``
prints the same for the zero action (the untrained nominal gait) on the same seeds. The figures,
resolved config and git revision are saved beside the video (``.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def _annotate(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    from PIL import Image, ImageDraw

    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width, 12 * len(lines) + 6), fill=(0, 0, 0))
    for i, text in enumerate(lines):
        draw.text((4, 3 + 12 * i), text, fill=(255, 255, 255))
    return np.asarray(image)


def _run_episodes(env, act, episodes: int, seed: int, writer=None) -> dict:
    """Run ``episodes`` seeded episodes (seeds ``seed``, ``seed + 1``, ...) with ``act(obs)``;
    append annotated frames to ``writer`` when given. Returns the summary figures (speeds mm/s,
    turn errors rad/s, distances mm, falls = episodes ending by termination)."""
    speeds, commands, turn_errors, path_mm, net_mm, falls, n_frames = [], [], [], 0.0, [], 0, 0
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        if hasattr(act, "reset"):  # a stateful policy starts each episode afresh
            act.reset(seed=seed + episode)
        start = prev = None
        while True:
            obs, _, terminated, truncated, info = env.step(act(obs))
            xy = np.array([info["x_mm"], info["y_mm"]])
            start = xy if start is None else start
            path_mm += 0.0 if prev is None else float(np.linalg.norm(xy - prev))
            prev = xy
            speeds.append(info["forward_speed_mm_s"])
            # tasks without a speed/turn command (visual tasks) report NaN here
            cmd_speed = info.get("command_speed_mm_s", float("nan"))
            cmd_turn = info.get("command_turn_rad_s", float("nan"))
            commands.append(cmd_speed)
            turn_errors.append(abs(info["turn_rate_rad_s"] - cmd_turn))
            if writer is not None:
                lines = [
                    f"episode {episode}  step {len(speeds)}",
                    f"speed cmd {cmd_speed:5.1f}  got {info['forward_speed_mm_s']:5.1f} mm/s",
                    f"turn  cmd {cmd_turn:5.2f}  got {info['turn_rate_rad_s']:5.2f} rad/s",
                ]
                writer.append_data(_annotate(env.render(), lines))
            n_frames += 1
            if terminated or truncated:
                falls += int(terminated)
                net_mm.append(float(np.linalg.norm(xy - start)))
                break
    return {
        "frames": n_frames,
        "mean_forward_speed_mm_s": float(np.mean(speeds)),
        "mean_command_speed_mm_s": float(np.mean(commands)),
        "mean_abs_speed_error_mm_s": float(np.mean(np.abs(np.subtract(speeds, commands)))),
        "mean_abs_turn_error_rad_s": float(np.mean(turn_errors)),
        "distance_walked_mm": path_mm,
        "net_displacement_mm": net_mm,
        "falls": falls,
    }


def _summary(stats: dict) -> str:
    return (
        f"mean forward speed {stats['mean_forward_speed_mm_s']:.2f} mm/s, distance walked "
        f"{stats['distance_walked_mm']:.1f} mm, falls {stats['falls']}; mean |speed - command| "
        f"{stats['mean_abs_speed_error_mm_s']:.2f} mm/s, |turn - command| "
        f"{stats['mean_abs_turn_error_rad_s']:.2f} rad/s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("checkpoint", type=Path, help="run or checkpoint directory")
    parser.add_argument("--out", type=Path, default=Path("outputs/evaluate.mp4"))
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--steps", type=int, help="control steps per episode (default: config)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed", type=float, help="fixed command speed (mm/s)")
    parser.add_argument("--turn", type=float, help="fixed command turn rate (rad/s)")
    parser.add_argument("--size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"))
    parser.add_argument(
        "--zero-action",
        action="store_true",
        help="baseline: send zero actions (the nominal CPG gait) instead of the policy's",
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also run the zero action (the untrained nominal gait) on the same seeds, without "
        "video, and print both",
    )
    args = parser.parse_args(argv)
    if args.episodes < 1 or (args.steps is not None and args.steps < 1):
        parser.error("--episodes and --steps must be >= 1")
    if args.out.suffix.lower() != ".mp4":
        parser.error(f"--out must end with .mp4, got {args.out}")

    import warnings

    import gymnasium as gym
    import imageio

    # imageio-ffmpeg starts ffmpeg with subprocess (fork immediately followed by exec), which
    # JAX's fork warning does not distinguish from an unsafe fork.
    warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)

    import flyenvs  # noqa: F401  (registers the ids)
    from agents import checkpoints, policies

    try:
        policy = policies.load(args.checkpoint)
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))
    config = dict(policy.env_config)
    if args.steps is not None:
        config["episode_length"] = args.steps
    if args.speed is not None or args.turn is not None:
        command = dict(config.get("command", {}))
        command["fixed"] = True
        if args.speed is not None:
            command["fixed_speed_mm_s"] = args.speed
        if args.turn is not None:
            command["fixed_turn_rad_s"] = args.turn
        config["command"] = command
    env_id = policy.gym_id
    if env_id not in gym.registry:
        parser.error(f"the checkpoint's environment {env_id} is not registered")
    env = gym.make(env_id, render_mode="rgb_array", render_size=tuple(args.size), **config)
    fps = env.metadata["render_fps"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    zero = lambda obs: np.zeros(policy.action_size, np.float32)  # noqa: E731
    with imageio.get_writer(args.out, fps=fps, codec="libx264", macro_block_size=8) as writer:
        stats = _run_episodes(
            env, zero if args.zero_action else policy, args.episodes, args.seed, writer
        )
    baseline = None
    if args.baseline and not args.zero_action:
        baseline = _run_episodes(env, zero, args.episodes, args.seed)
    env.close()
    record = {
        "checkpoint": str(checkpoints.resolve(args.checkpoint)),
        "env_config": config,
        "git_revision": checkpoints.git_revision(),
        "policy": "zero action (nominal CPG)" if args.zero_action else "trained",
        **stats,
        "episodes": args.episodes,
    }
    if baseline is not None:
        record["baseline_zero_action"] = {k: v for k, v in baseline.items() if k != "frames"}
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2, default=list))
    print(f"{record['policy']}: {_summary(stats)}; video {args.out} ({stats['frames']} frames)")
    if baseline is not None:
        print(f"zero action (the untrained nominal gait), same seeds: {_summary(baseline)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
