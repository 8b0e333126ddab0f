"""The shuffled-wiring control (flyenvs.connectome.vnc.shuffle): same neurons, counts, signs
and parameters, same in- and out-degree of every neuron, different wiring."""

from __future__ import annotations

import numpy as np
import pytest

from flyenvs.connectome import vnc
from flyenvs.connectome.vnc.shuffle import shuffled


@pytest.fixture(scope="module")
def net() -> vnc.VNCNetwork:
    return vnc.build()


def _degrees(n: vnc.VNCNetwork) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.bincount(n.edge_pre, minlength=n.n_neurons),
        np.bincount(n.edge_post, minlength=n.n_neurons),
    )


def test_degrees_types_and_parameters_are_kept(net):
    s = shuffled(net, seed=0)
    for a, b in zip(_degrees(net), _degrees(s), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(s.edge_pre, net.edge_pre)
    np.testing.assert_array_equal(s.edge_count, net.edge_count)  # counts and signs per edge
    np.testing.assert_array_equal(s.edge_group, net.edge_group)
    np.testing.assert_array_equal(s.neuron_type, net.neuron_type)
    assert s.neuron_names == net.neuron_names and s.dn_names == net.dn_names
    assert {k: v.shape for k, v in s.init_params().items()} == {
        k: v.shape for k, v in net.init_params().items()
    }
    assert s.name == f"{net.name}+shuffled0"


def test_wiring_changes_without_self_loops_or_duplicates(net):
    s = shuffled(net, seed=0)
    edges = set(zip(s.edge_pre.tolist(), s.edge_post.tolist(), strict=True))
    original = set(zip(net.edge_pre.tolist(), net.edge_post.tolist(), strict=True))
    assert len(edges) == s.n_edges  # no duplicate pair
    assert not any(a == b for a, b in edges)
    assert len(edges - original) > 0.5 * net.n_edges, len(edges - original)


def test_seeded_and_distinct_per_seed(net):
    np.testing.assert_array_equal(shuffled(net, 3).edge_post, shuffled(net, 3).edge_post)
    assert not np.array_equal(shuffled(net, 3).edge_post, shuffled(net, 4).edge_post)
    with pytest.raises(TypeError, match="seed must be an int"):
        shuffled(net, seed="0")
