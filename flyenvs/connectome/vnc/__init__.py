"""Connectome-constrained ventral nerve cord (VNC): descending commands -> leg joint targets.

Public API::

    net = flyenvs.connectome.vnc.build()               # embedded default (6 x core CPG + pools)
    net = flyenvs.connectome.vnc.build(manc_dir=PATH)  # full MANC DN -> IN -> MN graph
    params = net.init_params(); state = net.init_state()
    state = net.step(params, state, dn_input, dt_s)     # dn_input [net.n_dn]
    q_rad = net.motor_output(state, params)             # [42], LEG_JOINTS order
    rates = flyenvs.connectome.vnc.simulate_core_cpg()              # [T, 4]: DNg100, E1, E2, I1

See docs/vnc.md.
"""

from __future__ import annotations

import os
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from flyenvs.connectome.vnc.default import CORE_CELLS, build_core_cpg, build_default
from flyenvs.connectome.vnc.network import Params, VNCNetwork, VNCState

__all__ = [
    "CORE_CELLS",
    "Params",
    "VNCNetwork",
    "VNCState",
    "build",
    "build_core_cpg",
    "build_default",
    "simulate_core_cpg",
]


def build(manc_dir: str | os.PathLike | None = None) -> VNCNetwork:
    """The VNC network: the embedded default, or the full MANC graph from ``manc_dir``.

    Args:
        manc_dir: folder with MANC tables in the format of NeLy-EPFL/vnc_networks
            (``data_set_intrinsic_T{1,2,3}.csv`` and ``data_intrinsic_motor_T{1,2,3}.csv``);
            ``None`` builds the embedded default, which needs no external data.
    Returns:
        a read-only :class:`VNCNetwork` (``n_neurons``, ``n_edges``, ``summary()`` with counts
        per neuromere and class).
    """
    if manc_dir is None:
        return build_default()
    from flyenvs.connectome.vnc.manc import build_manc

    return build_manc(manc_dir)


@partial(jax.jit, static_argnums=(0, 1, 2))
def _run_core(n_steps: int, dt_s: float, silenced: tuple[str, ...], stimulus: jax.Array):
    net = build_core_cpg().silenced(silenced)
    start = round(0.02 / dt_s)
    drive = jnp.where(jnp.arange(n_steps) >= start, stimulus, 0.0)[:, None]
    _, rates = net.rollout(net.init_params(), net.init_state(), drive, dt_s)
    return rates


def simulate_core_cpg(
    duration_s: float = 2.0,
    dt_s: float = 1e-3,
    stimulus: float = 250.0,
    silenced: tuple[str, ...] = (),
) -> np.ndarray:
    """Simulate the 4-cell core CPG with DNg100 stimulated by ``stimulus`` from 20 ms on.

    Args:
        duration_s: simulated time (s), > 0.
        dt_s: Euler step (s), in (0, 0.005].
        stimulus: input current of DNg100 (the paper's value is 250).
        silenced: cells of ``CORE_CELLS`` to silence (rate clamped to 0), e.g. ("E1",).
    Returns:
        rates [T, 4] (Hz), T = round(duration_s / dt_s), columns DNg100, E1, E2, I1.
    """
    if not np.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    if not np.isfinite(dt_s) or not 0 < dt_s <= 0.005:
        raise ValueError(f"dt_s must be in (0, 0.005] s (tau is 0.02 s), got {dt_s}")
    if not np.isfinite(stimulus):
        raise ValueError(f"stimulus must be finite, got {stimulus}")
    bad = [c for c in silenced if c not in CORE_CELLS]
    if bad:
        raise ValueError(f"unknown cells {bad} in silenced; valid: {CORE_CELLS}")
    n_steps = round(duration_s / dt_s)
    if n_steps < 1:
        raise ValueError(f"duration_s {duration_s} is shorter than one step of {dt_s}")
    rates = _run_core(n_steps, float(dt_s), tuple(sorted(silenced)), jnp.float32(stimulus))
    return np.asarray(rates)
