"""Benchmark one VNC step (jit, CPU): default network, optionally the full MANC network.

Two figures per (network, batch): ``call_us`` is one jitted ``vmap(step)`` call from Python
(includes dispatch), ``scan_us_per_step`` is one step inside a jitted ``lax.scan`` of
``--n-steps`` steps (the cost inside an env step). Medians of ``--repeats`` runs.

    python scripts/bench_vnc.py [--manc-dir ../shared/data/manc_vnc_networks] [--out bench.json]
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

import flyenvs.connectome.vnc as vnc


def bench(net: vnc.VNCNetwork, batch: int, n_steps: int, repeats: int, dt_s: float) -> dict:
    params = net.init_params()
    states = jax.tree.map(lambda x: jnp.broadcast_to(x, (batch, *x.shape)), net.init_state())
    drive = jnp.full((batch, net.n_dn), 250.0)
    step = jax.jit(jax.vmap(net.step, in_axes=(None, 0, 0, None)), static_argnums=3)
    jax.block_until_ready(step(params, states, drive, dt_s))
    calls = []
    for _ in range(repeats):
        s, t0 = states, time.perf_counter()
        for _ in range(100):
            s = step(params, s, drive, dt_s)
        jax.block_until_ready(s)
        calls.append((time.perf_counter() - t0) / 100)

    @jax.jit
    def run(s):
        def body(c, _):
            return jax.vmap(net.step, in_axes=(None, 0, 0, None))(params, c, drive, dt_s), None

        return jax.lax.scan(body, s, None, length=n_steps)[0]

    jax.block_until_ready(run(states))
    scans = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(run(states))
        scans.append((time.perf_counter() - t0) / n_steps)
    return {
        "network": net.name,
        "n_neurons": net.n_neurons,
        "n_edges": net.n_edges,
        "batch": batch,
        "call_us": 1e6 * float(np.median(calls)),
        "scan_us_per_step": 1e6 * float(np.median(scans)),
        "scan_us_per_step_per_env": 1e6 * float(np.median(scans)) / batch,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manc-dir", default=None, help="MANC tables (omit: default only)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--n-steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None, help="write results as JSON here")
    args = parser.parse_args()
    nets = [vnc.build()] + ([vnc.build(manc_dir=args.manc_dir)] if args.manc_dir else [])
    rows = []
    for net in nets:
        n_steps = args.n_steps if net.n_neurons < 1000 else max(args.n_steps // 10, 10)
        for batch in args.batches:
            rows.append(bench(net, batch, n_steps, args.repeats, 1e-3))
    header = f"{'network':<28}{'neurons':>8}{'edges':>8}{'batch':>6}{'call us':>10}"
    print(header + f"{'scan us/step':>14}{'us/step/env':>13}")
    for r in rows:
        print(
            f"{r['network']:<28}{r['n_neurons']:>8}{r['n_edges']:>8}{r['batch']:>6}"
            f"{r['call_us']:>10.1f}{r['scan_us_per_step']:>14.1f}{r['scan_us_per_step_per_env']:>13.2f}"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"backend": jax.default_backend(), "results": rows}, f, indent=1)


if __name__ == "__main__":
    main()
