"""The shuffled-wiring control: the same VNC with its edges rewired, degrees preserved.

:func:`shuffled` keeps every neuron (types, classes, pools, DN inputs), every edge's synapse
count, sign and strength parameter, and every neuron's in- and out-degree; it rewires which
neuron each edge reaches by random double-edge swaps (a -> b, c -> d becomes a -> d, c -> b),
refusing swaps that would make a self-loop or a second edge between the same pair (the
connectome has neither). The parameter count is unchanged, so a policy on the shuffled network
has exactly the trainable parameters of the real one: the control asks whether the wiring, not
the parameter budget, carries the behaviour (FlyGM 2026 and others found shuffled wiring doing
as well; docs/connectome_walk.md reports what happens here).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from flyenvs.connectome.vnc.network import VNCNetwork

#: Swaps attempted per edge.
SWAPS_PER_EDGE = 20


def shuffled(network: VNCNetwork, seed: int = 0) -> VNCNetwork:
    """``network`` with its edges rewired by degree-preserving double-edge swaps (see the module
    docstring); deterministic in ``seed``. Its name gains ``"+shuffled<seed>"``.

    Raises:
        ValueError: a network with fewer than 2 edges (nothing to rewire).
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, got {seed!r}")
    pre = network.edge_pre.astype(np.int64)
    post = network.edge_post.astype(np.int64).copy()
    n_edges = len(pre)
    if n_edges < 2:
        raise ValueError(f"network {network.name!r} has {n_edges} edges; nothing to rewire")
    rng = np.random.default_rng(seed)
    pairs = set(zip(pre.tolist(), post.tolist(), strict=True))
    picks = rng.integers(0, n_edges, size=(SWAPS_PER_EDGE * n_edges, 2))
    for i, j in picks:
        a, b, c, d = pre[i], post[i], pre[j], post[j]
        if i == j or a == d or c == b or (a, d) in pairs or (c, b) in pairs:
            continue
        pairs -= {(a, b), (c, d)}
        pairs |= {(a, d), (c, b)}
        post[i], post[j] = d, b
    return replace(
        network, name=f"{network.name}+shuffled{int(seed)}", edge_post=post.astype(np.int32)
    )
