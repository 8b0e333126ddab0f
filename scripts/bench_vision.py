"""Benchmark the compound eyes: JAX ray caster vs mj_multiRay vs camera rendering (flygym's way),
and what vision adds to a Gymnasium step.

All in one run, on the same scene (checkerboard ground, grating panorama, a pillar, a sphere) and
the same eye pose:
  * ``jax_b1``: ``jit(render_eyes)``, one two-eye update (2 x 721 ommatidia x R rays): the
    caster alone.
  * ``jax_b64``: ``jit(vmap(render_eyes))`` over 64 environments (per batch and per env).
  * ``mj_multiray``: ``mujoco.mj_multiRay`` (C, one thread) for the same rays, distances only.
  * ``mj_render``: flygym's approach, two 512 x 450 images from ``mujoco.Renderer`` (EGL),
    rendering and pixel read-back only (flygym also applies a fisheye remap and hexagon pooling
    in numba on top, so this is a lower bound of its cost).
  * ``--physics``: one MJX physics step and one control step (``--substeps`` physics steps) of
    the fly (``flyenvs.body.load()``) for the same batch, ``jit(vmap(step))``, to compare the
    per-env cost of vision with physics (compiling the fly on CPU takes about a minute).
Methods are timed in turn within each repeat (round robin, so changes in machine load hit them
alike); times are medians over ``--repeats`` samples (a sample: the mean of ``--iters`` calls, or
of one call for the slow methods), wall time and (``*_cpu_ms``) process CPU time.

Gymnasium step (unless ``--no-gym``; ``scripts/gym_step_timing.py``): ``flyenvs/Walk-v1`` and
``flyenvs/VisualTaxis-v1`` side by side in this process, same action mode (``--action-mode``)
and zero action, one step of each in turn; ``--repeats`` samples of ``--gym-steps`` steps. It
reports both steps, their difference (the vision overhead, goal <= 1.6 ms of CPU) and the
start-up CPU time of each (make, first reset and step: the jit compilations); ``--profile``
also times the pieces of a step (controls, physics, readout, transition with the eyes, copy
to host). Prints tables and writes JSON (``--out``).

    MUJOCO_GL=egl python scripts/bench_vision.py --profile --out bench_vision.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from flyenvs.vision import (  # noqa: E402
    EyeGeometry,
    Pillar,
    Sphere,
    eye_ray_directions_world,
    make_scene,
    make_texture,
    render_eyes,
)
from flyenvs.vision.mujoco_scene import multiray, scene_to_spec  # noqa: E402

#: flygym's two-eye update as quoted in issue 4 (render 2 x 512x450, fisheye, pool), ms.
FLYGYM_QUOTED_MS = 160.0


def round_robin(methods: dict, repeats: int) -> dict[str, list[float]]:
    """Time every method once per repeat, in turn (so load changes hit all alike).

    ``methods`` maps a name to ``(fn, iters)``; a sample is the mean wall time (ms) of ``iters``
    calls, and ``<name>_cpu`` the mean process CPU time (ms, all threads). Returns the samples
    per name (after one warm-up call each)."""
    for fn, _ in methods.values():
        fn()
    samples: dict[str, list[float]] = {}
    for _ in range(repeats):
        for name, (fn, iters) in methods.items():
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(iters):
                fn()
            samples.setdefault(name, []).append((time.perf_counter() - t0) / iters * 1e3)
            samples.setdefault(f"{name}_cpu", []).append((time.process_time() - c0) / iters * 1e3)
    return samples


def bench_scene():
    return make_scene(
        ground=make_texture("checker", 0.2, 0.8, period=2.0),
        panorama=make_texture("grating", 0.0, 1.0, period=np.deg2rad(30.0)),
        panorama_radius_mm=60.0,
        panorama_z_mm=(-20.0, 30.0),
        pillars=[Pillar((15.0, 3.0, 5.0), 1.5, 5.0, lum=0.0)],
        spheres=[Sphere((5.0, 8.0, 1.0), 1.0, lum=0.1)],
    )


def eye_pose() -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(0.3), np.sin(0.3)
    r = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return np.array([[0.3, 0.2, 1.0], [0.3, -0.2, 1.0]]), np.stack([r, r])


def physics_methods(batch: int, substeps: int) -> dict:
    """MJX physics of the fly, batched: one step and one control step (``substeps`` steps)."""
    from flyenvs.body import load, neutral_qpos
    from flyenvs.sim.mjx_backend import MjxBackend

    model = load()
    backend = MjxBackend(model)
    state = jax.jit(backend.init)(jnp.asarray(neutral_qpos(model)))
    states = jax.tree.map(lambda x: jnp.broadcast_to(x, (batch, *x.shape)), state)
    ctrl = jnp.broadcast_to(state.ctrl, (batch, state.ctrl.shape[-1]))
    adhesion = jnp.zeros((batch, 6))
    methods = {}
    for key, n in (("mjx_step_batch", 1), ("mjx_control_step_batch", substeps)):
        step = jax.jit(jax.vmap(lambda s, c, a, n=n: backend.step(s, c, a, n)))
        jax.block_until_ready(step(states, ctrl, adhesion))  # compile
        methods[key] = (lambda step=step: jax.block_until_ready(step(states, ctrl, adhesion)), 1)
    return methods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--n-rays", type=int, default=7, choices=(1, 7))
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--no-render", action="store_true", help="skip the mujoco.Renderer part")
    parser.add_argument("--physics", action="store_true", help="also time MJX fly physics")
    parser.add_argument("--substeps", type=int, default=20, help="physics steps per control step")
    parser.add_argument("--no-gym", action="store_true", help="skip the Gymnasium step part")
    parser.add_argument("--gym-steps", type=int, default=200, help="steps per Gymnasium sample")
    parser.add_argument("--action-mode", default="cpg", help="action mode of both environments")
    parser.add_argument("--profile", action="store_true", help="time the pieces of a step")
    parser.add_argument("--out", default="bench_vision.json")
    args = parser.parse_args()

    geometry = EyeGeometry(n_rays=args.n_rays)
    scene = bench_scene()
    pos, xmat = eye_pose()
    n_rays_total = 2 * 721 * args.n_rays
    results: dict[str, float | int | str] = {
        "rays_per_update": n_rays_total,
        "batch": args.batch,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
        "jax_backend": jax.default_backend(),
    }

    methods: dict = {}
    # JAX, batch 1
    f1 = jax.jit(lambda s, p, x: render_eyes(s, p, x, geometry))
    p_j, x_j = jnp.asarray(pos, jnp.float32), jnp.asarray(xmat, jnp.float32)
    methods["jax_b1"] = (lambda: f1(scene, p_j, x_j).block_until_ready(), args.iters)

    # JAX, vmapped batch (each env its own scene and pose)
    b = args.batch
    rng = np.random.default_rng(0)
    scenes = jax.tree.map(lambda a: jnp.broadcast_to(a, (b, *a.shape)), scene)
    scenes = scenes._replace(
        sphere_center_mm=scenes.sphere_center_mm.at[:, 0, 0].set(jnp.linspace(-5, 5, b))
    )
    pos_b = jnp.asarray(pos[None] + rng.normal(0, 1.0, (b, 1, 3)) * [1, 1, 0], jnp.float32)
    xmat_b = jnp.broadcast_to(x_j, (b, 2, 3, 3))
    fb = jax.jit(jax.vmap(lambda s, p, x: render_eyes(s, p, x, geometry)))
    methods["jax_batch"] = (
        lambda: fb(scenes, pos_b, xmat_b).block_until_ready(),
        max(1, args.iters // 4),
    )

    # mj_multiRay on the same rays
    model = scene_to_spec(scene).compile()
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    dirs = np.asarray(eye_ray_directions_world(xmat, geometry), np.float64).reshape(2, -1, 3)

    def cast_mj():
        for eye in range(2):
            multiray(model, data, pos[eye], dirs[eye])

    methods["mj_multiray"] = (cast_mj, args.iters)

    # flygym's approach: render two 512x450 camera images (fovy 157 deg) and read them back
    renderer = None
    if not args.no_render:
        spec = scene_to_spec(scene)
        for name, eye, yaw_deg in (("l_eye", 0, 63.0), ("r_eye", 1, -63.0)):
            yaw = np.deg2rad(yaw_deg)
            look = np.array([np.cos(yaw), np.sin(yaw), 0.0])
            right = np.cross(look, [0.0, 0.0, 1.0])
            spec.worldbody.add_camera(
                name=name,
                pos=pos[eye].tolist(),
                xyaxes=[*right.tolist(), 0.0, 0.0, 1.0],
                fovy=157.0,
            )
        spec.visual.global_.offwidth = 512
        spec.visual.global_.offheight = 512
        rmodel = spec.compile()
        rdata = mujoco.MjData(rmodel)
        mujoco.mj_forward(rmodel, rdata)
        renderer = mujoco.Renderer(rmodel, height=512, width=450)

        def render_two():
            for name in ("l_eye", "r_eye"):
                renderer.update_scene(rdata, camera=name)
                renderer.render()

        methods["mj_render"] = (render_two, 1)

    if args.physics:
        methods.update(physics_methods(b, args.substeps))
        results["physics_substeps"] = args.substeps

    samples = round_robin(methods, args.repeats)
    if renderer is not None:
        renderer.close()
    for name, values in samples.items():
        results[f"{name}_ms"] = float(np.median(values))
        results[f"{name}_ms_min"] = float(np.min(values))
    results["jax_batch_per_env_ms"] = results["jax_batch_ms"] / b
    if args.physics:
        results["vision_over_physics_control_step"] = (
            results["jax_batch_ms"] / results["mjx_control_step_batch_ms"]
        )
    results["load_average_1min"] = os.getloadavg()[0]

    results["flygym_quoted_ms"] = FLYGYM_QUOTED_MS
    results["speedup_vs_flygym_quoted"] = FLYGYM_QUOTED_MS / results["jax_b1_ms"]
    results["speedup_batch_per_env_vs_flygym_quoted"] = (
        FLYGYM_QUOTED_MS / results["jax_batch_per_env_ms"]
    )
    if "mj_render_ms" in results:
        results["speedup_vs_mj_render"] = results["mj_render_ms"] / results["jax_b1_ms"]
    results["jax_b1_vs_mj_multiray"] = results["mj_multiray_ms"] / results["jax_b1_ms"]
    if not args.no_gym:
        import gym_step_timing

        results.update(
            gym_step_timing.run(
                args.action_mode, args.gym_steps, args.repeats, args.profile, args.iters
            )
        )
        results["gym_vision_overhead_over_caster"] = (
            results["gym_vision_overhead_cpu_ms"] / results["jax_b1_cpu_ms"]
        )

    rows = [
        ("JAX jit, batch 1 (two eyes)", results["jax_b1_ms"]),
        (f"JAX jit+vmap, batch {b} (whole batch)", results["jax_batch_ms"]),
        (f"JAX jit+vmap, batch {b} (per env)", results["jax_batch_per_env_ms"]),
        ("mj_multiRay, same rays (C, 1 thread)", results["mj_multiray_ms"]),
    ]
    if "mj_render_ms" in results:
        rows.append(("mujoco.Renderer 2 x 512x450 (EGL)", results["mj_render_ms"]))
    if args.physics:
        rows.append((f"MJX fly physics, 1 step, batch {b}", results["mjx_step_batch_ms"]))
        rows.append(
            (
                f"MJX fly physics, {args.substeps} steps, batch {b}",
                results["mjx_control_step_batch_ms"],
            )
        )
    rows.append(("flygym two-eye update (issue 4 quote)", FLYGYM_QUOTED_MS))
    print(f"{n_rays_total} rays per two-eye update ({args.n_rays} per ommatidium)")
    print(f"{'method':44s} {'ms':>10s}")
    for name, ms in rows:
        print(f"{name:44s} {ms:10.3f}")
    for key in (
        "speedup_vs_flygym_quoted",
        "speedup_batch_per_env_vs_flygym_quoted",
        "speedup_vs_mj_render",
        "jax_b1_vs_mj_multiray",
        "vision_over_physics_control_step",
    ):
        if key in results:
            print(f"{key:44s} {results[key]:10.3g}x")
    if not args.no_gym:
        print("\n".join(gym_step_timing.report_lines(results)))
    with open(args.out, "w") as fh:
        json.dump(results, fh, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
