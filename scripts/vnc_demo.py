"""Plot the VNC: core CPG rates, antagonist pools, the tripod, and the joint targets.

python scripts/vnc_demo.py --out vnc_demo.png [--drive 250] [--duration-s 1.0]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import flyenvs.connectome.vnc as vnc  # noqa: E402
from flyenvs.body.constants import LEG_DOFS, LEGS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="vnc_demo.png")
    parser.add_argument("--drive", type=float, default=250.0, help="DNg100 input on every leg")
    parser.add_argument("--duration-s", type=float, default=1.0)
    args = parser.parse_args()
    if args.duration_s <= 0.3:
        parser.error("--duration-s must exceed 0.3 s (the plot skips the first 0.3 s)")
    dt_s = 1e-3
    core = vnc.simulate_core_cpg(duration_s=args.duration_s, dt_s=dt_s, stimulus=args.drive)
    net = vnc.build()
    params = net.init_params()
    n_steps = round(args.duration_s / dt_s)
    drive = jnp.full((n_steps, net.n_dn), args.drive)
    _, rates = jax.jit(net.rollout, static_argnums=3)(params, net.init_state(), drive, dt_s)
    q = jax.vmap(lambda r: net.motor_output(vnc.VNCState(r), params))(rates)
    rates, q = np.asarray(rates), np.asarray(q)
    t_ms = np.arange(n_steps) * dt_s * 1e3
    keep = t_ms >= 300.0

    fig, axes = plt.subplots(4, 1, figsize=(9, 11), sharex=True)
    for k, cell in enumerate(vnc.CORE_CELLS):
        axes[0].plot(t_ms[keep], core[keep, k], label=cell)
    axes[0].set(ylabel="rate (Hz)", title=f"core CPG alone, DNg100 input {args.drive:g}")
    for dof in ("Tibia", "Femur"):
        for role, style in (("swing", "-"), ("stance", "--")):
            r = rates[keep, net.index(f"MN_LF_{dof}_{role}")]
            axes[1].plot(t_ms[keep], r, style, label=f"LF {dof} {role}")
    axes[1].set(ylabel="pool rate (Hz)", title="antagonist motor pools, LF")
    for k, leg in enumerate(LEGS):
        axes[2].plot(t_ms[keep], rates[keep, net.index(f"E1_{leg}")] + 4 * k, label=leg)
    axes[2].set(ylabel="E1 rate + offset", title="E1 of the six legs (tripod)")
    for j, dof in enumerate(LEG_DOFS):
        axes[3].plot(t_ms[keep], q[keep, j], label=dof)
    axes[3].set(xlabel="time (ms)", ylabel="target (rad)", title="LF joint targets")
    for ax in axes:
        ax.legend(fontsize=7, ncol=4, loc="upper right")
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
