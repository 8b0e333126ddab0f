"""The shuffled-wiring control of the optic lobe: the same network with its edges rewired,
every neuron's degrees preserved.

:func:`shuffled` keeps every neuron (type, column, the photoreceptor inputs), every edge's
source neuron, filter row (so its synapse count, sign and trainable strength) and every
neuron's in- and out-degree; it rewires which neuron each edge reaches by random double-edge
swaps (a -> b, c -> d becomes a -> d, c -> b), refusing swaps that would add a self-loop or a
second edge between the same pair (the connectome has no such pair; its 12,380 self-loops
may be swapped away, never added). The type-level parameters are the same 734, so the
pretrained ensemble's values load unchanged: the control asks whether the wiring, not the
parameters, carries the network's motion vision (as :mod:`flyenvs.connectome.vnc.shuffle`
does for the VNC).

The rewired graph is no longer convolutional (an edge's filter row no longer fixes its column
offset), so its synaptic input is computed edge by edge (BCSR) at every batch size
(``Connectome.convolutional`` is False). The swaps run as vectorised rounds: each round pairs
every edge with a random other one and applies, at once, the swaps that break no rule
(checked against the graph before the round and against each other).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .connectome import Connectome

#: Rounds of swaps; each round proposes one swap per pair of edges (every edge in one pair).
SWAP_ROUNDS = 10


def shuffled(connectome: Connectome, seed: int = 0, rounds: int = SWAP_ROUNDS) -> Connectome:
    """``connectome`` with its edges' targets rewired by degree-preserving double-edge swaps
    (see the module docstring); deterministic in ``seed``.

    Raises:
        TypeError: ``seed`` or ``rounds`` not an int.
        ValueError: ``rounds`` < 1.
    """
    for name, value in (("seed", seed), ("rounds", rounds)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an int, got {value!r}")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    n = np.int64(connectome.n_neurons)
    src = connectome.edge_source.astype(np.int64)
    tgt = connectome.edge_target.astype(np.int64).copy()
    n_pairs = len(src) // 2
    rng = np.random.default_rng(seed)
    for _ in range(int(rounds)):
        perm = rng.permutation(len(src))
        i, j = perm[:n_pairs], perm[n_pairs : 2 * n_pairs]
        a, b, c, d = src[i], tgt[i], src[j], tgt[j]
        new_ij, new_ji = a * n + d, c * n + b
        current = np.sort(src * n + tgt)
        ok = (a != d) & (c != b) & (b != d)
        ok &= ~_member(new_ij, current) & ~_member(new_ji, current)
        keys, counts = np.unique(np.concatenate([new_ij[ok], new_ji[ok]]), return_counts=True)
        twice = keys[counts > 1]
        ok &= ~_member(new_ij, twice) & ~_member(new_ji, twice)
        tgt[i[ok]], tgt[j[ok]] = d[ok], b[ok]
    return replace(connectome, edge_target=tgt.astype(np.int32), convolutional=False)


def _member(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """``keys`` in ``sorted_keys`` (ascending), elementwise."""
    if len(sorted_keys) == 0:
        return np.zeros(keys.shape, bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys
