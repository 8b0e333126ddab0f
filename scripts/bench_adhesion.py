"""Native ``<adhesion>`` actuators against the adhesion rule (xfrc) on C MuJoCo: forces, trajectory
and cost per physics step.

Example::

    MUJOCO_GL=egl python scripts/bench_adhesion.py --json outputs/bench_adhesion.json

Workload: the open-loop tripod gait (``flyenvs.body.kinematics.tripod_gait``), new targets every
2 ms, for ``--duration`` s from the neutral pose, on the train body.

1. Per physics step, along the rule's trajectory: the generalized force of the rule's
   ``xfrc_applied`` (``mj_xfrcAccumulate``) against the native actuators' share of
   ``qfrc_actuator`` at the same start state (``mj_step1``, then ``mj_fwdActuation`` with and
   without the adhesion controls).
2. Trajectory: the native model stepped with ``mj_step`` (adhesion as ``ctrl[42:48]``) against
   :class:`flyenvs.sim.MujocoBackend` (the rule), from the same start.
3. Cost per physics step, both paths and a plain ``mj_step`` without adhesion, timed round robin
   (median of ``--repeats``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import mujoco
import numpy as np

import flyenvs.body as fb
from flyenvs.body import constants as C
from flyenvs.body.kinematics import tripod_gait
from flyenvs.sim import MujocoBackend, common, native_adhesion


def _schedule(model: mujoco.MjModel, duration_s: float) -> tuple[np.ndarray, np.ndarray, int]:
    hold = int(round(0.002 / model.opt.timestep))
    n = int(round(duration_s / 0.002))
    ctrl, adhesion = tripod_gait(np.arange(n) * 0.002)
    return ctrl, adhesion, hold


def _rule_path(backend: MujocoBackend, ctrl, adhesion, hold):
    data = backend.init(fb.neutral_qpos(backend.model))
    qpos = [data.qpos.copy()]
    for c, a in zip(ctrl, adhesion, strict=True):
        data = backend.step(data, c, a, hold)
        qpos.append(data.qpos.copy())
    return np.array(qpos)


def _native_path(native: mujoco.MjModel, ctrl, adhesion, hold):
    data = mujoco.MjData(native)
    q0 = fb.neutral_qpos(native)
    lay = fb.layout(native)
    data.qpos[:] = q0
    data.ctrl[: C.N_LEG_JOINTS] = q0[lay.leg_qpos_adr]
    mujoco.mj_forward(native, data)
    qpos = [data.qpos.copy()]
    for c, a in zip(ctrl, adhesion, strict=True):
        data.ctrl[: C.N_LEG_JOINTS] = c
        data.ctrl[C.N_LEG_JOINTS :] = a
        for _ in range(hold):
            mujoco.mj_step(native, data)
        qpos.append(data.qpos.copy())
    return np.array(qpos)


def _force_equivalence(backend: MujocoBackend, native: mujoco.MjModel, ctrl, adhesion, hold):
    """Per physics step of the rule's trajectory: max |qfrc_native - qfrc_rule| and max
    |qfrc_rule| (uN, uN mm), and the number of steps with adhesion acting."""
    m, lay = backend.model, backend.layout
    data = backend.init(fb.neutral_qpos(m))
    probe = mujoco.MjData(native)
    qfrc_rule = np.zeros(m.nv)
    worst_abs, worst_rel, scale, n_acting = 0.0, 0.0, 0.0, 0
    for c, a in zip(ctrl, adhesion, strict=True):
        for _ in range(hold):
            # the native actuators at this start state
            probe.qpos[:], probe.qvel[:], probe.time = data.qpos, data.qvel, data.time
            probe.ctrl[: C.N_LEG_JOINTS] = c
            probe.ctrl[C.N_LEG_JOINTS :] = 0.0
            mujoco.mj_step1(native, probe)
            mujoco.mj_fwdActuation(native, probe)
            legs_only = probe.qfrc_actuator.copy()
            probe.ctrl[C.N_LEG_JOINTS :] = a
            mujoco.mj_fwdActuation(native, probe)
            qfrc_native = probe.qfrc_actuator - legs_only
            # the rule at the same start state (what MujocoBackend.step applies)
            data.ctrl[:] = c
            mujoco.mj_step1(m, data)
            n, con = data.ncon, data.contact
            xfrc = common.adhesion_xfrc(np, lay, a, con.geom[:n], con.dist[:n], con.pos[:n],
                                        data.xipos, m.nbody)  # fmt: skip
            qfrc_rule[:] = 0.0
            for b in np.flatnonzero(np.any(xfrc != 0, axis=1)):
                mujoco.mj_applyFT(m, data, xfrc[b, :3], xfrc[b, 3:], data.xipos[b], b, qfrc_rule)
            data.xfrc_applied[:] = xfrc
            mujoco.mj_step2(m, data)
            err = float(np.abs(qfrc_native - qfrc_rule).max())
            size = float(np.abs(qfrc_rule).max())
            worst_abs = max(worst_abs, err)
            if size > 0:
                worst_rel = max(worst_rel, err / size)
                n_acting += 1
            scale = max(scale, size)
    return {"max_abs_qfrc_diff": worst_abs, "max_rel_qfrc_diff": worst_rel,
            "max_abs_qfrc": scale, "steps_with_adhesion": n_acting}  # fmt: skip


def _timings(backend, native, ctrl, adhesion, hold, repeats: int) -> dict[str, float]:
    n_steps = len(ctrl) * hold
    base = backend.model

    def plain():
        d = backend.init(fb.neutral_qpos(base))
        t0 = time.perf_counter()
        for c in ctrl:
            d.ctrl[:] = c
            for _ in range(hold):
                mujoco.mj_step(base, d)
        return time.perf_counter() - t0

    def rule():
        d = backend.init(fb.neutral_qpos(base))
        t0 = time.perf_counter()
        for c, a in zip(ctrl, adhesion, strict=True):
            d = backend.step(d, c, a, hold)
        return time.perf_counter() - t0

    def nat():
        d = mujoco.MjData(native)
        d.qpos[:] = fb.neutral_qpos(native)
        mujoco.mj_forward(native, d)
        t0 = time.perf_counter()
        for c, a in zip(ctrl, adhesion, strict=True):
            d.ctrl[: C.N_LEG_JOINTS], d.ctrl[C.N_LEG_JOINTS :] = c, a
            for _ in range(hold):
                mujoco.mj_step(native, d)
        return time.perf_counter() - t0

    samples: dict[str, list[float]] = {"plain_mj_step": [], "rule_xfrc": [], "native": []}
    for _ in range(repeats):  # round robin: load changes hit all three alike
        for name, fn in (("plain_mj_step", plain), ("rule_xfrc", rule), ("native", nat)):
            samples[name].append(fn() / n_steps * 1e6)
    out = {f"us_per_step_{k}": statistics.median(v) for k, v in samples.items()}
    out["ratio_rule_over_native"] = out["us_per_step_rule_xfrc"] / out["us_per_step_native"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, default=Path("outputs/bench_adhesion.json"))
    parser.add_argument("--duration", type=float, default=1.0, help="simulated seconds")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    backend = MujocoBackend(fb.load("train"))
    native = native_adhesion.native_adhesion_model(backend.model)
    native_adhesion.check_equivalent_to_rule(native)
    ctrl, adhesion, hold = _schedule(backend.model, args.duration)

    results: dict[str, float | int | str] = {"physics_steps": len(ctrl) * hold}
    results.update(_force_equivalence(backend, native, ctrl, adhesion, hold))
    q_rule = _rule_path(backend, ctrl, adhesion, hold)
    q_nat = _native_path(native, ctrl, adhesion, hold)
    a = fb.layout(native).free_qpos_adr
    results["rule_end_xyz_mm"] = str(np.round(q_rule[-1, a : a + 3], 6).tolist())
    results["native_end_xyz_mm"] = str(np.round(q_nat[-1, a : a + 3], 6).tolist())
    results["max_thorax_pos_diff_mm"] = float(
        np.abs(q_nat[:, a : a + 3] - q_rule[:, a : a + 3]).max()
    )
    results["max_qpos_diff"] = float(np.abs(q_nat - q_rule).max())
    results.update(_timings(backend, native, ctrl, adhesion, hold, args.repeats))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    for key, value in results.items():
        print(f"{key:32s} {value:.4g}" if isinstance(value, float) else f"{key:32s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
