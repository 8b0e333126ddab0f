"""Benchmark one Euler step of the optic lobe (45,669 neurons, 1,513,231 edges) on this machine.

Side by side in one run, medians of ``--repeats``:
- ``scipy_csr``: a plain scipy CSR mat-vec ``W @ relu(v)`` over the same edges (the reference; the
  mat-vec alone, no Euler update);
- the full JAX step (mat-vec + Euler update) inside ``lax.scan``, per step, with four sparse forms:
  ``window`` (one window gather per filter row on the column grid + segment_sum over rows),
  ``ell`` (per-edge gather + row sums in in-degree buckets), ``bcsr`` (jax.experimental.sparse)
  and ``segment_sum`` (per-edge gather + ``jax.ops.segment_sum`` over target-sorted edges);
  ``auto`` is what ``OpticLobe.simulate`` uses (window up to batch 4, BCSR above);
- ``step_call``: one ``OpticLobe.step`` call from Python (dispatch included).

    python scripts/bench_optic_lobe.py --batches 1 64 --out outputs/bench_optic_lobe.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jax.experimental import sparse as jsparse

import flyenvs.connectome.optic_lobe as ol
from flyenvs.connectome.optic_lobe import network as olnet
from flyenvs.connectome.optic_lobe import sparse as olsparse

#: flyvis (PyTorch, CPU) per-step time at batch 1 on this machine, from the issue.
FLYVIS_MS = (65.0, 93.0)


def median_ms(fn, repeats: int) -> float:
    fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def make_runner(net: ol.OpticLobe, params, form: str, batch: int, n_steps: int):
    """A jitted scan of ``n_steps`` full Euler steps with the given sparse form."""
    tab = net._tab
    t = tab.syn
    dt_s = 1 / 200
    n = net.n_neurons
    target = jnp.asarray(np.repeat(np.arange(n), np.diff(np.asarray(t.csr_indptr))), jnp.int32)
    ell = olsparse.make_ell(net.connectome) if form == "ell" else None

    def syn_fn(w_row, v):
        a = jax.nn.relu(v)
        if form == "segment_sum":
            return jax.ops.segment_sum(
                w_row[t.csr_row][:, None] * a[t.csr_indices], target, n, indices_are_sorted=True
            )
        if form == "bcsr":
            m = jsparse.BCSR((w_row[t.csr_row], t.csr_indices, t.csr_indptr), shape=(n, n))
            return m @ a
        if form == "ell":
            return jnp.stack([olsparse.ell_input(ell, w_row, a[:, b]) for b in range(batch)], 1)
        if form == "window":
            w_win = w_row[t.win_row]
            return jnp.stack([olsparse.window_input(t, w_win, a[:, b]) for b in range(batch)], 1)
        raise ValueError(form)

    @jax.jit
    def run(params, v0, lum):
        bias_n, rate_n = olnet._node_params(tab, params, dt_s)
        if form == "auto":
            w = olsparse.edge_weights(t, params.strength, batch)
        else:
            w_row = olsparse.row_weights(t, params.strength)

        def body(v, frame):
            x = olnet._input_current(tab, frame)
            if form == "auto":
                s = olsparse.synaptic_input(t, w, v)
            else:
                s = syn_fn(w_row, v)
            return olnet._euler(v, s, x, bias_n, rate_n, dt_s), None

        v, _ = jax.lax.scan(body, v0, lum)
        return v

    rng = np.random.default_rng(0)
    v0 = jnp.asarray(rng.normal(0, 0.5, (n, batch)), jnp.float32)
    lum = jnp.asarray(rng.uniform(0, 1, (n_steps, net.n_columns, batch)), jnp.float32)
    return lambda: run(params, v0, lum).block_until_ready()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    p.add_argument("--forms", nargs="+", default=["auto", "window", "ell", "bcsr", "segment_sum"])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--steps", type=int, default=50, help="scan length per timing (batch 1)")
    p.add_argument("--out", type=Path, default=Path("outputs/bench_optic_lobe.json"))
    args = p.parse_args()

    net = ol.build()
    params = ol.load_pretrained(0)
    c = net.connectome
    w_row = np.asarray(olsparse.row_weights(net._tab.syn, params.strength))
    csr = sp.csr_matrix(
        (w_row[c.edge_row], (c.edge_target, c.edge_source)), shape=(net.n_neurons,) * 2
    )
    rng = np.random.default_rng(1)
    results = []
    for batch in args.batches:
        shape = (net.n_neurons,) if batch == 1 else (net.n_neurons, batch)
        v = rng.normal(0, 0.5, shape).astype(np.float32)
        ref_ms = median_ms(lambda v=v: csr @ np.maximum(v, 0), max(args.repeats * 5, 20))
        row = {"batch": batch, "scipy_csr_ms": ref_ms}
        n_steps = max(args.steps // max(batch // 8, 1), 5)
        for form in args.forms:
            if form in ("ell", "window") and batch > 8:
                continue  # unrolled per column: not meant for large batches
            run = make_runner(net, params, form, batch, n_steps)
            row[f"{form}_ms"] = median_ms(run, args.repeats) / n_steps
        vb = jnp.asarray(rng.normal(0, 0.5, (batch, net.n_neurons)), jnp.float32)
        xb = jnp.full((batch, net.n_columns), 0.5, jnp.float32)
        row["step_call_ms"] = median_ms(
            lambda vb=vb, xb=xb: net.step(params, vb, xb).block_until_ready(), args.repeats
        )
        row["auto_vs_csr"] = row["auto_ms"] / ref_ms
        row["auto_per_sample_ms"] = row["auto_ms"] / batch
        if batch == 1:  # flyvis's figure is per step at batch 1
            row["speedup_vs_flyvis"] = [
                FLYVIS_MS[0] / row["auto_ms"],
                FLYVIS_MS[1] / row["auto_ms"],
            ]
        results.append(row)
        print(json.dumps(row), flush=True)

    meta = {
        "command": "python scripts/bench_optic_lobe.py "
        + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items()
        ),
        "jax": jax.__version__,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "load_avg": os.getloadavg(),
        "n_neurons": net.n_neurons,
        "n_edges": net.n_edges,
        "flyvis_ms_batch1": FLYVIS_MS,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    cols = ["batch", "scipy_csr_ms", *[f"{f}_ms" for f in args.forms], "step_call_ms"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in results:
        print("| " + " | ".join(f"{r[k]:.3g}" if k in r else "-" for k in cols) + " |")
    print(f"load average {meta['load_avg']}; wrote {args.out}")


if __name__ == "__main__":
    main()
