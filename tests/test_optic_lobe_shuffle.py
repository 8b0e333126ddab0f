"""The optic lobe's shuffled-wiring control: degrees kept, edges rewired, computed edge by edge,
and its T4/T5 no longer direction selective (the slow test)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_optic_lobe import _reference_step

import flyenvs.connectome.optic_lobe as ol
from flyenvs.connectome.optic_lobe import tuning
from flyenvs.connectome.optic_lobe.shuffle import shuffled


@pytest.fixture(scope="module")
def connectome() -> ol.Connectome:
    return ol.compile_connectome()


@pytest.fixture(scope="module")
def rewired(connectome) -> ol.Connectome:
    return shuffled(connectome, 0, rounds=2)


def _pairs(c: ol.Connectome) -> np.ndarray:
    return c.edge_source.astype(np.int64) * c.n_neurons + c.edge_target


def test_shuffle_keeps_degrees_rows_and_sources_and_rewires_targets(connectome, rewired):
    """Every neuron's in- and out-degree, every edge's source and filter row (so its synapse
    count, sign and strength parameter) are kept; most targets move; no pair is doubled and
    no self-loop is added; the same seed gives the same graph, another seed another."""
    c, s = connectome, rewired
    n = c.n_neurons
    for a, b in ((c.edge_source, s.edge_source), (c.edge_target, s.edge_target)):
        np.testing.assert_array_equal(np.bincount(a, minlength=n), np.bincount(b, minlength=n))
    np.testing.assert_array_equal(s.edge_row, c.edge_row)
    assert (s.edge_target != c.edge_target).mean() > 0.8
    assert len(np.unique(_pairs(s))) == s.n_edges
    loops = s.edge_source == s.edge_target
    assert set(_pairs(s)[loops]) <= set(_pairs(c)[c.edge_source == c.edge_target])
    assert c.convolutional and not s.convolutional
    np.testing.assert_array_equal(shuffled(c, 0, rounds=2).edge_target, s.edge_target)
    assert not np.array_equal(shuffled(c, 1, rounds=1).edge_target, s.edge_target)


@pytest.mark.parametrize(
    "seed, rounds, error",
    [(0.5, 1, TypeError), (True, 1, TypeError), (0, 0, ValueError), (0, "2", TypeError)],
)
def test_shuffle_refuses_bad_arguments(connectome, seed, rounds, error):
    with pytest.raises(error, match="seed|rounds"):
        shuffled(connectome, seed, rounds=rounds)


@pytest.mark.parametrize("batch", [2])
def test_rewired_graph_is_computed_edge_by_edge_at_every_batch(rewired, batch):
    """The window form assumes convolutional edges; a rewired graph must give the literal
    edge-by-edge dynamics at the Gymnasium policy's batch of 2 eyes as well."""
    net, params = ol.OpticLobe(rewired), ol.load_pretrained(0)
    rng = np.random.default_rng(0)
    v = rng.normal(0, 1, (batch, net.n_neurons))
    lum = rng.uniform(0, 1, (batch, 2, net.n_columns))
    out = np.asarray(net.simulate(params, lum, 1 / 200, v0=v))
    for b in range(batch):
        ref = v[b]
        for t in range(2):
            ref = _reference_step(net, params, ref, lum[b, t], 1 / 200)
            np.testing.assert_allclose(out[b, t], ref, rtol=1e-4, atol=2e-4)


def test_convolutional_flag_off_gives_the_same_network(connectome):
    """The edge-by-edge form on the real graph equals the window form (so the flag changes
    how, never what, is computed)."""
    params = ol.load_pretrained(0)
    rng = np.random.default_rng(1)
    v = rng.normal(0, 1, (2, connectome.n_neurons))
    lum = rng.uniform(0, 1, (2, 2, connectome.n_columns))
    window = ol.OpticLobe(connectome).simulate(params, lum, 1 / 200, v0=v)
    edges = ol.OpticLobe(replace(connectome, convolutional=False)).simulate(
        params, lum, 1 / 200, v0=v
    )
    np.testing.assert_allclose(np.asarray(edges), np.asarray(window), rtol=1e-4, atol=2e-4)


@pytest.mark.slow
def test_shuffled_optic_lobe_loses_direction_selectivity(connectome):
    """Pretrained ensemble member 0 on the fully rewired graph (the control's network): its
    T4 (ON) and T5 (OFF) cells' direction selectivity (median 0.57 on the real graph) falls to
    under 0.1 (measured 0.00-0.05; flyvis's edges, 6 speeds, 12 directions)."""
    params = ol.load_pretrained(0)
    types = tuning.T4 + tuning.T5
    kw = dict(cell_types=types, t_pre_s=0.25, t_post_s=0.25)
    real = tuning.edge_tuning(ol.OpticLobe(connectome), params, **kw)
    rewired = tuning.edge_tuning(ol.OpticLobe(shuffled(connectome, 0)), params, **kw)
    own = lambda r: np.concatenate([r.dsi[1, :4], r.dsi[0, 4:]])  # noqa: E731
    assert np.median(own(real)) > 0.4
    assert own(rewired).max() < 0.1
