"""Run a trained policy in the Gymnasium environment (C MuJoCo) and write an MP4.

Example::

    MUJOCO_GL=egl python scripts/evaluate.py runs/walk_quick --out outputs/walk_quick.mp4

CHECKPOINT is a run directory (its latest checkpoint) or a checkpoint directory; the environment
is the checkpoint's task (``flyenvs/<task>-v<version>``) with its training config. The video shows
the tracking camera with the commanded and achieved speed / turn rate drawn on every frame (one
frame per control step); for a connectome policy a panel beside it shows its neurons (the
descending neurons' input currents over time, the VNC motor-pool rates as a heat map), and
for a visual connectome policy a third panel shows both eyes and the optic lobe's T4/T5 cells
on the hexagonal lattice. Prints the mean forward speed, distance walked, falls (episodes
ending by termination) and the mean |speed - command| and |turn - command| (per control step,
of the filtered turn rate), the episode-mean turn error (|the episode's mean turn rate -
command|: whether the fly turns at the commanded rate on average, without the stride's yaw
oscillation) and the wander (the within-episode std of the turn rate, averaged over episodes:
mostly that oscillation, docs/connectome_walk.md); ``--baseline`` prints the same for the
untrained baseline on the same seeds: the zero action (the nominal CPG gait) for Brax PPO
runs, the untrained network for recurrent runs. The figures (also per episode: ``per_episode``, each
episode's seed, command and figures), resolved config and git revision are saved beside the
video (``.json``).
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


#: Control steps of neural activity the panel shows (the newest at the right).
PANEL_STEPS = 100
_DN_COLOURS = [(230, 90, 90), (240, 170, 60), (230, 230, 80), (90, 200, 230), (80, 130, 240),
               (190, 110, 240)]  # fmt: skip


def _neural_panel(history: list[dict], height: int, width: int = 240) -> np.ndarray:
    """An RGB panel [height, width, 3] of what a connectome policy's neurons did over the last
    :data:`PANEL_STEPS` control steps: the descending neurons' input currents (top, one trace
    per DN, 150-300) and the VNC motor-pool rates (bottom, a black-red-yellow heat map, pools x
    time, one column per chunk row, from 0 to the largest rate shown, at least 5 Hz)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    top = height // 3
    recent = history[-PANEL_STEPS:]
    dn = np.array([h["dn_input"] for h in recent])  # [T, n_dn]
    draw.text((4, 2), "DN input current", fill=(255, 255, 255))
    if len(dn) > 1:
        xs = np.linspace(0, width - 1, PANEL_STEPS)[-len(dn) :]
        ys = top - 4 - (np.clip(dn, 150, 300) - 150) / 150 * (top - 18)
        for k in range(dn.shape[1]):
            colour = _DN_COLOURS[k % len(_DN_COLOURS)]
            draw.line(list(zip(xs.tolist(), ys[:, k].tolist(), strict=True)), fill=colour)
    rates = np.concatenate([h["pool_rates_hz"] for h in recent], axis=0)  # [T * C, n_pools]
    top_hz = max(5.0, float(rates.max()))
    level = np.clip(rates.T / top_hz, 0, 1)  # [n_pools, T * C]
    cols = PANEL_STEPS * recent[-1]["pool_rates_hz"].shape[0]
    level = np.pad(level, ((0, 0), (cols - level.shape[1], 0)))
    rgb = np.stack([np.clip(2 * level, 0, 1), np.clip(2 * level - 1, 0, 1), 0 * level], -1)
    heat_img = Image.fromarray((rgb * 255).astype(np.uint8))
    image.paste(heat_img.resize((width, height - top - 14), Image.NEAREST), (0, top + 14))
    label = f"VNC motor pools (0-{top_hz:.0f} Hz)"
    draw.text((4, top + 1), label, fill=(255, 255, 255))
    return np.asarray(image)


#: Optic-lobe readout types drawn in the vision panel (the motion detectors).
VISION_PANEL_TYPES = ("T4a", "T4b", "T4c", "T4d", "T5a", "T5b", "T5c", "T5d")


def _vision_panel(vision: np.ndarray, maps: np.ndarray, types: tuple[str, ...], height: int):
    """An RGB panel of what the eyes and the optic lobe see at this step: both eyes' luminance
    and, for each of :data:`VISION_PANEL_TYPES` among ``types``, its cells' rectified voltage on
    the hexagonal lattice (0 -> black, >= 0.5 -> white), in a 3 x 3 grid scaled to ``height``.
    vision: [2, 721]; maps: [2, n_types, 721] (the policy's ``readout_maps``)."""
    from PIL import Image, ImageDraw

    from flyenvs.vision.hex_image import hex_image

    tiles = [("eyes", np.asarray(vision))]
    tiles += [
        (t, np.clip(maps[:, types.index(t)] / 0.5, 0, 1)) for t in VISION_PANEL_TYPES if t in types
    ]
    images = [hex_image(v, cell_px=3) for _, v in tiles]
    h, w = images[0].shape[:2]
    grid = Image.new("RGB", (3 * w, 3 * (h + 12)), (0, 0, 0))
    draw = ImageDraw.Draw(grid)
    for k, ((name, _), image) in enumerate(zip(tiles, images, strict=True)):
        x, y = (k % 3) * w, (k // 3) * (h + 12)
        grid.paste(Image.fromarray(image), (x, y + 12))
        draw.text((x + 2, y), name, fill=(255, 255, 255))
    width = 8 * max(1, round(grid.width * height / grid.height / 8))  # video macro blocks
    return np.asarray(grid.resize((width, height), Image.BILINEAR))


def _frame_lines(info: dict, episode: int, step: int) -> list[str]:
    """The text drawn on a frame: the command and what the fly did (Walk), or what the fly did
    and what it sees (visual tasks: the grating's speed, the target's distance and bearing)."""
    speed, turn = info["forward_speed_mm_s"], info["turn_rate_rad_s"]
    lines = [f"episode {episode}  step {step}"]
    if "command_speed_mm_s" in info:
        return lines + [
            f"speed cmd {info['command_speed_mm_s']:5.1f}  got {speed:5.1f} mm/s",
            f"turn  cmd {info['command_turn_rad_s']:5.2f}  got {turn:5.2f} rad/s",
        ]
    lines.append(f"speed {speed:5.1f} mm/s  turn {turn:+5.2f} rad/s (+ left)")
    if "grating_speed_rad_s" in info:
        lines.append(f"grating {info['grating_speed_rad_s']:+5.2f} rad/s (+ left)")
    if "distance_mm" in info:
        lines.append(f"target {info['distance_mm']:5.1f} mm at {info['bearing_rad']:+5.2f} rad")
    return lines


def _run_episodes(env, act, episodes: int, seed: int, writer=None) -> dict:
    """Run ``episodes`` seeded episodes (seeds ``seed``, ``seed + 1``, ...) with ``act(obs)``;
    append annotated frames to ``writer`` when given. Returns the summary figures (speeds mm/s,
    turn errors rad/s, distances mm, falls = episodes ending by termination)."""
    speeds, commands, turn_errors, path_mm, net_mm, falls, n_frames = [], [], [], 0.0, [], 0, 0
    episode_turn_errors, wander = [], []  # per episode: |mean turn - command|, std of the turn
    per_episode: list[dict] = []  # each episode's command and its figures
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        if hasattr(act, "reset"):  # a stateful policy starts each episode afresh
            act.reset(seed=seed + episode)
        start = prev = None
        history: list[dict] = []
        turns: list[float] = []
        first = len(speeds)
        while True:
            seen = obs.get("vision") if isinstance(obs, dict) else None
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
            turns.append(info["turn_rate_rad_s"])
            if writer is not None:
                frame = _annotate(env.render(), _frame_lines(info, episode, len(speeds)))
                if getattr(act, "activity", None):  # a connectome policy: its neurons too
                    history.append(act.activity)
                    frame = np.concatenate([frame, _neural_panel(history, frame.shape[0])], 1)
                    maps = act.activity.get("readout_maps")
                    if maps is not None and seen is not None:  # eyes -> optic lobe
                        types = tuple(act.network.encoder.circuit.readout_types)
                        panel = _vision_panel(seen, maps, types, frame.shape[0])
                        frame = np.concatenate([frame, panel], 1)
                writer.append_data(frame)
            n_frames += 1
            if terminated or truncated:
                falls += int(terminated)
                net_mm.append(float(np.linalg.norm(xy - start)))
                episode_turn_errors.append(abs(float(np.mean(turns)) - cmd_turn))
                wander.append(float(np.std(turns)))
                ep_speed, ep_cmd = np.asarray(speeds[first:]), np.asarray(commands[first:])
                per_episode.append({
                    "seed": seed + episode,
                    "command_speed_mm_s": float(cmd_speed),
                    "command_turn_rad_s": float(cmd_turn),
                    "mean_forward_speed_mm_s": float(np.mean(ep_speed)),
                    "mean_abs_speed_error_mm_s": float(np.mean(np.abs(ep_speed - ep_cmd))),
                    "mean_turn_rate_rad_s": float(np.mean(turns)),
                    "mean_abs_turn_error_rad_s": float(np.mean(turn_errors[first:])),
                    "fell": bool(terminated),
                })  # fmt: skip
                break
    return {
        "frames": n_frames,
        "mean_forward_speed_mm_s": float(np.mean(speeds)),
        "mean_command_speed_mm_s": float(np.mean(commands)),
        "mean_abs_speed_error_mm_s": float(np.mean(np.abs(np.subtract(speeds, commands)))),
        "mean_abs_turn_error_rad_s": float(np.mean(turn_errors)),
        "mean_abs_episode_turn_error_rad_s": float(np.mean(episode_turn_errors)),
        "turn_wander_rad_s": float(np.mean(wander)),
        "distance_walked_mm": path_mm,
        "net_displacement_mm": net_mm,
        "falls": falls,
        "per_episode": per_episode,
    }


def _summary(stats: dict) -> str:
    walked = (
        f"mean forward speed {stats['mean_forward_speed_mm_s']:.2f} mm/s, distance walked "
        f"{stats['distance_walked_mm']:.1f} mm, falls {stats['falls']}"
    )
    if np.isnan(stats["mean_command_speed_mm_s"]):  # a task without a command
        return walked
    return (
        f"{walked}; mean |speed - command| "
        f"{stats['mean_abs_speed_error_mm_s']:.2f} mm/s, |turn - command| "
        f"{stats['mean_abs_turn_error_rad_s']:.2f} rad/s (episode mean turn: "
        f"{stats['mean_abs_episode_turn_error_rad_s']:.2f} rad/s; wander "
        f"{stats['turn_wander_rad_s']:.2f} rad/s)"
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
    except KeyError as err:  # the checkpoint names a task or task option this flyenvs lacks
        parser.error(f"{args.checkpoint}: {err.args[0]}")
    config = dict(policy.env_config)
    if args.steps is not None:
        config["episode_length"] = args.steps
    if args.speed is not None or args.turn is not None:
        from flyenvs.tasks import registry

        task = policy.meta.get("task")
        if task and "command" not in registry.spec(task).default_config():
            parser.error(
                f"--speed and --turn set Walk's command; the checkpoint's task {task} has none"
            )
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
    try:
        env = gym.make(env_id, render_mode="rgb_array", render_size=tuple(args.size), **config)
    except KeyError as err:  # a task option of the checkpoint's config this flyenvs lacks
        parser.error(f"{args.checkpoint}: {err.args[0]}")
    except (TypeError, ValueError) as err:  # --size, --steps or a config value out of range
        parser.error(str(err))
    fps = env.metadata["render_fps"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    zero = lambda obs: np.zeros(policy.action_size, np.float32)  # noqa: E731
    recurrent = isinstance(policy, policies.RecurrentPolicy)
    if args.zero_action and recurrent:
        parser.error("--zero-action is for Brax PPO runs; a recurrent run's baseline: --baseline")
    with imageio.get_writer(args.out, fps=fps, codec="libx264", macro_block_size=8) as writer:
        stats = _run_episodes(
            env, zero if args.zero_action else policy, args.episodes, args.seed, writer
        )
    baseline = None
    if args.baseline and not args.zero_action:
        # the untrained network for recurrent runs (connectome: nominal DN drive), else zero
        base = policies.load(args.checkpoint, untrained=True) if recurrent else zero
        baseline = _run_episodes(env, base, args.episodes, args.seed)
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
        key = "baseline_untrained" if recurrent else "baseline_zero_action"
        record[key] = {k: v for k, v in baseline.items() if k != "frames"}
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2, default=list))
    print(f"{record['policy']}: {_summary(stats)}; video {args.out} ({stats['frames']} frames)")
    if baseline is not None:
        what = "untrained network" if recurrent else "zero action (the untrained nominal gait)"
        print(f"{what}, same seeds: {_summary(baseline)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
