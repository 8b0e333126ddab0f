"""VisualTaxis demo: the hand-written "turn toward the darker eye" controller on C MuJoCo, filmed
by the tracking camera with the two eyes' hexagon maps beside it.

    MUJOCO_GL=egl python scripts/taxis_demo.py --out taxis.mp4 [--seed 4] [--max-steps 250]

Writes the MP4 (50 frames/s, one per control step), a PNG of the last frame beside it, and
prints the outcome (steps, success, final distance to the pillar).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import gymnasium as gym  # noqa: E402
import imageio.v2 as imageio  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

import flyenvs  # noqa: E402, F401  (registers the ids)
from flyenvs.tasks.visual_taxis import steer_to_darker_eye  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("taxis.mp4"), help="output MP4")
    parser.add_argument("--seed", type=int, default=4, help="episode seed (pillar placement)")
    parser.add_argument("--max-steps", type=int, default=250, help="control steps (20 ms each)")
    args = parser.parse_args(argv)
    if args.max_steps < 1:
        parser.error("--max-steps must be >= 1")
    env = gym.make("flyenvs/VisualTaxis-v1", render_mode="rgb_array", episode_length=args.max_steps)
    policy = jax.jit(steer_to_darker_eye)
    obs, _ = env.reset(seed=args.seed)
    target = np.asarray(env.unwrapped._info["arena"]["target_mm"])
    print(f"pillar at x = {target[0]:.1f} mm, y = {target[1]:.1f} mm")
    frames = [env.render()]
    info: dict = {}
    n_steps = 0
    for _ in range(args.max_steps):
        action = np.asarray(policy(obs["vision"]))
        obs, _, terminated, truncated, info = env.step(action)
        frames.append(env.render())
        n_steps += 1
        if terminated or truncated:
            break
    env.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fps = round(1.0 / env.unwrapped.config.control_dt_s)
    imageio.mimwrite(args.out, frames, fps=fps, macro_block_size=1)
    imageio.imwrite(args.out.with_suffix(".png"), frames[-1])
    print(
        f"steps {n_steps}, success {bool(info.get('success', 0.0))}, "
        f"distance {info.get('distance_mm', float('nan')):.2f} mm -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
