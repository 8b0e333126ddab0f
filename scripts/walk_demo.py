"""Walk demo: NeuroMechFly's recorded step replayed as an open-loop tripod gait on the ``"train"``
body (C MuJoCo), filmed by the tracking camera into an MP4.

    MUJOCO_GL=egl python scripts/walk_demo.py --out walk.mp4 [--duration-s 2]

Prints the distance walked. Headless rendering uses EGL (set by default).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import imageio.v2 as imageio  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402

import flyenvs.body as fb  # noqa: E402
from flyenvs.body import constants as C  # noqa: E402
from flyenvs.body.kinematics import TRIPOD_FREQUENCY_HZ, tripod_gait  # noqa: E402
from flyenvs.sim import MujocoBackend  # noqa: E402

CONTROL_SUBSTEPS = 2  # control every 2 physics steps (1 ms)
SETTLE_S = 0.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output .mp4 path")
    parser.add_argument("--duration-s", type=float, default=2.0, help="walking time (s)")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--frequency-hz", type=float, default=TRIPOD_FREQUENCY_HZ)
    args = parser.parse_args()
    if args.out.suffix.lower() != ".mp4":
        parser.error(f"--out must end in .mp4, got {args.out}")
    if not args.duration_s > 0:
        parser.error(f"--duration-s must be > 0, got {args.duration_s}")
    if args.fps <= 0 or args.width <= 0 or args.height <= 0:
        parser.error("--fps, --width and --height must be > 0")
    args.out.parent.mkdir(parents=True, exist_ok=True)

    t_wall = time.perf_counter()
    model = fb.load("train")
    backend = MujocoBackend(model)
    dt = CONTROL_SUBSTEPS * model.opt.timestep
    state = backend.init(fb.neutral_qpos(model))
    n_settle = int(round(SETTLE_S / model.opt.timestep))
    state = backend.step(state, fb.neutral_joint_angles(), np.ones(6), n_settle)
    start = backend.readout(state).body_pos_mm.copy()

    n_ctrl = int(round(args.duration_s / dt))
    frame_every = max(1, int(round(1.0 / (args.fps * dt))))
    ctrls, adhs = tripod_gait(np.arange(n_ctrl) * dt, args.frequency_hz)
    with (
        mujoco.Renderer(model, height=args.height, width=args.width) as renderer,
        imageio.get_writer(args.out, fps=round(1.0 / (frame_every * dt)), macro_block_size=1) as w,
    ):
        for k in range(n_ctrl):
            state = backend.step(state, ctrls[k], adhs[k], CONTROL_SUBSTEPS)
            if k % frame_every == 0:
                renderer.update_scene(state, camera=C.TRACKING_CAMERA)
                w.append_data(renderer.render())
    r = backend.readout(state)
    disp = r.body_pos_mm - start
    print(
        f"walked {disp[0]:.2f} mm forward, {disp[1]:+.2f} mm sideways in {args.duration_s:g} s "
        f"({disp[0] / args.duration_s:.1f} mm/s); upright: {r.gravity_body[2] < -0.9}; "
        f"video: {args.out} ({time.perf_counter() - t_wall:.1f} s wall)"
    )


if __name__ == "__main__":
    main()
