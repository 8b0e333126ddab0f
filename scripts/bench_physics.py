"""Benchmark the fly's physics: steps/s and real-time factor per variant and backend.

Measured in one run, on this machine, from the neutral standing pose holding the neutral
targets with adhesion on:
  * ``c_mj_step``: bare ``mujoco.mj_step`` loop, one thread (no adhesion; the C floor).
  * ``c_backend``: ``MujocoBackend.step`` (adhesion in Python/numpy), 10 substeps per call.
  * ``c_rollout_2thr``: ``mujoco.rollout`` with 2 threads over 8 open-loop trajectories
    (no adhesion), aggregate steps/s.
  * ``mjx_b{1,64,256}`` (``"train"`` only): ``jit(step)`` / ``jit(vmap(step))`` of
    ``MjxBackend`` with 10 substeps per call, aggregate steps/s over the batch; compile time
    (first call, persistent cache disabled) reported separately.
Real-time factor = simulated seconds per wall-clock second = steps/s x timestep (aggregate over
the batch for batched rows). Times are medians over ``--repeats`` samples. MJX on the
``"reference"`` variant is not run: its 1,147 mesh contact pairs (flygym's leg self-collisions)
are far beyond what MJX compiles on CPU.

    python scripts/bench_physics.py --json bench_physics.json
    python scripts/bench_physics.py --stability 2e-4 5e-4 1e-3 2e-3 --json stability.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import rollout

import flyenvs.body as fb
from flyenvs.sim import MjxBackend, MujocoBackend

#: flygym 2.1.1 here (issue 2): 207 us of physics per 1e-4 s step.
FLYGYM_US_PER_STEP = 207.0
FLYGYM_DT_S = 1e-4
SUBSTEPS = 10


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return float(np.median(samples))


def bench_c(model: mujoco.MjModel, n_steps: int, repeats: int) -> dict[str, float]:
    """Steps/s of the three C MuJoCo methods."""
    out = {}
    q0, a0 = fb.neutral_qpos(model), fb.neutral_joint_angles()
    data = mujoco.MjData(model)

    def mj_loop():
        data.qpos[:], data.qvel[:], data.time = q0, 0.0, 0.0
        data.ctrl[:] = a0
        for _ in range(n_steps):
            mujoco.mj_step(model, data)

    out["c_mj_step"] = n_steps / _median_time(mj_loop, repeats)

    backend = MujocoBackend(model)
    ones = np.ones(6)

    def backend_loop():
        s = backend.init(q0)
        for _ in range(n_steps // SUBSTEPS):
            s = backend.step(s, a0, ones, SUBSTEPS)

    out["c_backend"] = (n_steps // SUBSTEPS) * SUBSTEPS / _median_time(backend_loop, repeats)

    nbatch, datas = 8, [mujoco.MjData(model) for _ in range(2)]
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    data.qpos[:], data.qvel[:], data.time = q0, 0.0, 0.0
    state0 = np.empty(mujoco.mj_stateSize(model, spec))
    mujoco.mj_getState(model, data, state0, spec)
    init = np.tile(state0, (nbatch, 1))
    ctrl = np.tile(a0, (nbatch, n_steps, 1))

    def roll():
        rollout.rollout(model, datas, init, ctrl)

    out["c_rollout_2thr"] = nbatch * n_steps / _median_time(roll, repeats)
    return out


def bench_mjx(model: mujoco.MjModel, batches: list[int], repeats: int) -> dict[str, dict]:
    """Compile time (s) and aggregate steps/s of the MJX backend per batch size."""
    backend = MjxBackend(model)
    q0, a0 = jnp.asarray(fb.neutral_qpos(model)), jnp.asarray(fb.neutral_joint_angles())
    ones = jnp.ones(6)
    out = {}
    for b in batches:
        state = jax.jit(jax.vmap(backend.init, in_axes=(0,)))(jnp.tile(q0, (b, 1)))
        ctrl, adh = jnp.tile(a0, (b, 1)), jnp.tile(ones, (b, 1))
        if b == 1:
            state = jax.tree.map(lambda x: x[0], state)
            ctrl, adh = a0, ones
            fn = jax.jit(lambda s, c, a: backend.step(s, c, a, SUBSTEPS))
        else:
            fn = jax.jit(jax.vmap(lambda s, c, a: backend.step(s, c, a, SUBSTEPS)))
        t0 = time.perf_counter()
        compiled = fn.lower(state, ctrl, adh).compile()
        compile_s = time.perf_counter() - t0
        holder = {"s": state}

        def call(compiled=compiled, holder=holder, ctrl=ctrl, adh=adh):
            holder["s"] = compiled(holder["s"], ctrl, adh)
            jax.block_until_ready(holder["s"])

        t = _median_time(call, repeats)
        finite = bool(jnp.all(jnp.isfinite(holder["s"].qpos)))
        out[f"mjx_b{b}"] = {"steps_per_s": b * SUBSTEPS / t, "compile_s": compile_s,
                            "finite": finite}  # fmt: skip
    return out


def _deepest(data: mujoco.MjData) -> float:
    return float(data.contact.dist[: data.ncon].min()) if data.ncon else 0.0


def stability_sweep(timesteps: list[float], seeds: int, duration_s: float) -> list[dict]:
    """The issue's stability protocol per timestep on the ``"train"`` body (contact timeconst
    kept at 2 x timestep, as in ``"train"``): random targets within ctrlrange and random
    adhesion resampled every 20 ms for ``duration_s`` x ``seeds``; neutral standing with
    adhesion for 1 s; 1 s of tripod gait. Penetration = deepest contact distance (mm), checked
    at every physics step."""
    from flyenvs.body.kinematics import tripod_gait

    rows = []
    for dt in timesteps:
        model = fb.load("train")
        model.opt.timestep = dt
        model.pair_solref[:, 0] = 2 * dt
        b = MujocoBackend(model)
        lo, hi = model.actuator_ctrlrange.T
        hold = max(1, int(round(0.02 / dt)))
        worst_random, n_nan = [], 0
        t0 = time.perf_counter()
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            s, worst = b.init(fb.neutral_qpos(model)), 0.0
            for _ in range(int(round(duration_s / (hold * dt)))):
                ctrl, adh = rng.uniform(lo, hi), rng.uniform(0, 1, 6)
                for _ in range(hold):
                    s = b.step(s, ctrl, adh, 1)
                    worst = min(worst, _deepest(s))
                unstable = s.warning[mujoco.mjtWarning.mjWARN_BADQACC].number > 0
                if unstable or not np.all(np.isfinite(s.qpos)):  # MuJoCo resets after bad qacc
                    n_nan += 1
                    break
            worst_random.append(worst)
        random_wall = time.perf_counter() - t0
        s, stand = b.init(fb.neutral_qpos(model)), 0.0
        for _ in range(int(round(1.0 / dt))):
            s = b.step(s, fb.neutral_joint_angles(), np.ones(6), 1)
            stand = min(stand, _deepest(s))
        stand_z = float(b.readout(s).body_pos_mm[2])
        n = max(1, int(round(2e-3 / dt)))
        s = b.step(s, fb.neutral_joint_angles(), np.ones(6), 1)
        x0, walk = b.readout(s).body_pos_mm.copy(), 0.0
        ctrls, adhs = tripod_gait(np.arange(int(round(1.0 / (n * dt)))) * n * dt)
        for ctrl, adh in zip(ctrls, adhs, strict=True):
            for _ in range(n):
                s = b.step(s, ctrl, adh, 1)
                walk = min(walk, _deepest(s))
        r = b.readout(s)
        rows.append({
            "timestep_s": dt, "seeds": seeds, "duration_s": duration_s, "unstable_runs": n_nan,
            "random_pen_mm_median": -float(np.median(worst_random)),
            "random_pen_mm_max": -float(np.min(worst_random)),
            "stand_pen_mm": -stand, "stand_height_mm": stand_z, "walk_pen_mm": -walk,
            "walk_forward_mm": float(r.body_pos_mm[0] - x0[0]),
            "walk_upright": bool(r.gravity_body[2] < -0.9), "random_wall_s": random_wall,
        })  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=str, default=None, help="write results here")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64, 256])
    parser.add_argument("--skip-mjx", action="store_true")
    parser.add_argument(
        "--stability",
        type=float,
        nargs="*",
        default=None,
        metavar="DT_S",
        help="instead: run the stability protocol at these timesteps (s)",
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--duration-s", type=float, default=10.0)
    args = parser.parse_args()
    if args.stability is not None:
        rows = stability_sweep(args.stability or [2e-4, 5e-4, 1e-3, 2e-3], args.seeds,
                               args.duration_s)  # fmt: skip
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"stability": rows}, f, indent=2)
        return
    jax.config.update("jax_enable_compilation_cache", False)  # honest compile times

    rows = []
    for variant in ("train", "reference"):
        model = fb.load(variant)
        dt = float(model.opt.timestep)
        n_steps = 2000 if variant == "train" else 1000
        res = {k: {"steps_per_s": v} for k, v in bench_c(model, n_steps, args.repeats).items()}
        if variant == "train" and not args.skip_mjx:
            res.update(bench_mjx(model, args.batches, args.repeats))
        for method, r in res.items():
            sps = r["steps_per_s"]
            r.update(variant=variant, method=method, timestep_s=dt)
            r.update(us_per_step=1e6 / sps, realtime_factor=sps * dt)
            rows.append(r)

    flygym = {"variant": "flygym 2.1.1 (quoted)", "method": "c", "timestep_s": FLYGYM_DT_S,
              "us_per_step": FLYGYM_US_PER_STEP, "steps_per_s": 1e6 / FLYGYM_US_PER_STEP,
              "realtime_factor": FLYGYM_DT_S * 1e6 / FLYGYM_US_PER_STEP}  # fmt: skip
    header = f"{'variant':22s} {'method':15s} {'dt (s)':>7s} {'steps/s':>10s} {'us/step':>9s} "
    header += f"{'x realtime':>10s} {'compile s':>9s}"
    print(header)
    for r in [*rows, flygym]:
        comp = f"{r['compile_s']:9.1f}" if "compile_s" in r else " " * 9
        print(f"{r['variant']:22s} {r['method']:15s} {r['timestep_s']:7.1e} "
              f"{r['steps_per_s']:10.0f} {r['us_per_step']:9.1f} {r['realtime_factor']:10.2f} "
              f"{comp}")  # fmt: skip
    if args.json:
        meta = {
            "machine": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "mujoco": mujoco.__version__,
            "jax": jax.__version__,
            "substeps_per_call": SUBSTEPS,
            "repeats": args.repeats,
        }
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows, "flygym_quoted": flygym}, f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
