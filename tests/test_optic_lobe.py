"""The flyvis optic lobe in JAX: published counts, exact dynamics, pretrained ensemble, bad inputs.

Direction-selectivity tests live in tests/test_optic_lobe_tuning.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flyenvs.connectome.optic_lobe as ol
from flyenvs.connectome.optic_lobe import stimuli
from flyenvs.connectome.optic_lobe.connectome import fill_hull
from flyenvs.connectome.optic_lobe.sparse import WINDOW_MAX_BATCH
from flyenvs.connectome.optic_lobe.tuning import T4, T5
from flyenvs.vision.lattice import EXTENT, N_OMMATIDIA, hex_coords


@pytest.fixture(scope="module")
def net() -> ol.OpticLobe:
    return ol.build()


@pytest.fixture(scope="module")
def params() -> ol.OpticLobeParams:
    return ol.load_pretrained(0)


# -- counts against the published figures ---------------------------------------------------------
def test_published_counts(net):
    c = net.connectome
    assert net.n_cell_types == 65
    assert (len(c.input_types), len(c.intermediate_types), len(c.output_types)) == (8, 23, 34)
    assert c.input_types == ("R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8")
    assert net.n_columns == 721 and c.extent == 15
    assert net.n_neurons == 45_669
    assert c.n_rows == 2_355
    assert net.n_pairs == 604
    assert net.n_edges == 1_513_231
    assert int((c.edge_sign > 0).sum()) == 983_980
    assert net.n_params == 734


def test_node_order_and_lawf_sublattice(net):
    c = net.connectome
    # type-major in JSON order, then u ascending, then v ascending
    key = c.node_type.astype(np.int64) * 10_000 + (c.node_u + 50) * 100 + (c.node_v + 50)
    assert np.all(np.diff(key) > 0)
    assert np.array_equal(c.node_type[:721], np.zeros(721))
    assert np.array_equal(c.node_u[:721], c.column_u) and np.array_equal(c.node_v[:721], c.column_v)
    for lawf in ("Lawf1", "Lawf2"):
        m = c.node_type == net.type_index(lawf)
        assert m.sum() == 123
        assert np.all(c.node_u[m] % 3 == 0) and np.all(c.node_v[m] % 2 == 0)
    assert np.all(np.abs(c.column_u + c.column_v) <= 15)
    i = net.neuron_index("T4a", 2, -3)
    assert (c.cell_types[c.node_type[i]], c.node_u[i], c.node_v[i]) == ("T4a", 2, -3)
    assert net.neuron_index("Lawf1", 3, -2) >= 0


def test_columns_are_the_eyes_lattice(net):
    """The eye-to-optic-lobe contract: column i of the eyes' readout (the lattice of
    ``flyenvs.vision``) is column i of the network, index for index: the column table, every
    photoreceptor input, the default readout (T4/T5) and the moving-edge stimulus."""
    u, v = hex_coords()
    c = net.connectome
    assert ol.hex_columns is hex_coords  # one definition, not a copy
    assert net.n_columns == N_OMMATIDIA and c.extent == EXTENT
    np.testing.assert_array_equal(c.column_u, u)
    np.testing.assert_array_equal(c.column_v, v)
    for nodes in (c.input_index, ol.type_columns(net, T4 + T5).reshape(8, -1)):
        np.testing.assert_array_equal(c.node_u[nodes], np.broadcast_to(u, nodes.shape))
        np.testing.assert_array_equal(c.node_v[nodes], np.broadcast_to(v, nodes.shape))
    # the stimulus renderer's hexagon i is centred at column (u_i, v_i): x = v, y = u + v / 2
    pix, hexes, _ = stimuli._hex_membership()
    size = 775
    centre_x = np.bincount(hexes, weights=pix % size) / np.bincount(hexes) - size // 2
    centre_y = np.bincount(hexes, weights=pix // size) / np.bincount(hexes) - size // 2
    np.testing.assert_allclose(centre_x / 25, v, atol=0.1)
    np.testing.assert_allclose(centre_y / 25, u + v / 2, atol=0.1)


def test_edges_follow_filters(net):
    c = net.connectome
    du = c.node_u[c.edge_target] - c.node_u[c.edge_source]
    dv = c.node_v[c.edge_target] - c.node_v[c.edge_source]
    assert np.array_equal(du, c.row_du[c.edge_row]) and np.array_equal(dv, c.row_dv[c.edge_row])
    pair = c.row_pair[c.edge_row]
    assert np.array_equal(c.node_type[c.edge_source], c.pair_source[pair])
    assert np.array_equal(c.node_type[c.edge_target], c.pair_target[pair])
    assert np.all(c.row_n_syn > 0) and set(np.unique(c.pair_sign)) == {-1.0, 1.0}


def test_fill_hull_fills_interior_points_only():
    tri = [[[0, 0], 5.0], [[4, 0], 3.0], [[0, 4], 2.0]]
    filled = fill_hull(tri, 1.0)
    assert filled[:3] == tri
    added = {tuple(o[0]) for o in filled[3:]}
    inside = {(u, v) for u in range(5) for v in range(5) if u + v <= 4} - {(0, 0), (4, 0), (0, 4)}
    # boundary points of the hull are decided by matplotlib exactly as in flyvis; interior ones
    # must all be present, and nothing outside the triangle
    assert {(1, 1), (1, 2), (2, 1)} <= added <= inside
    assert all(o[1] == 1.0 for o in filled[3:])


# -- pretrained ensemble --------------------------------------------------------------------------
def test_pretrained_ensemble(net):
    params, types = ol.load_ensemble()
    assert params.shape == (50, 734) and params.dtype == np.float32
    assert types == net.cell_types
    p = ol.load_pretrained(49)
    assert p.bias.shape == (65,) and p.time_const_s.shape == (65,) and p.strength.shape == (604,)
    assert float(p.strength.min()) >= 0 and float(p.time_const_s.min()) > 0
    assert np.allclose(ol.params_to_vector(p), params[49])
    # models differ
    assert not np.allclose(params[0], params[1])


@pytest.mark.parametrize("bad", [50, -1])
def test_load_pretrained_rejects_bad_index(bad):
    with pytest.raises(ValueError, match="model index"):
        ol.load_pretrained(bad)


@pytest.mark.parametrize("bad", [1.5, "0", True])
def test_load_pretrained_rejects_non_int(bad):
    with pytest.raises(TypeError, match="model index"):
        ol.load_pretrained(bad)


# -- dynamics against a float64 reference in flyvis's own edge order -------------------------------
def _reference_step(net, params, v, lum, dt_s):
    """flyvis PPNeuronIGRSynapses, literally: weights per edge, scatter-add by target (float64)."""
    c = net.connectome
    pair = c.row_pair[c.edge_row]
    strength = np.maximum(np.asarray(params.strength, np.float64), 0)
    w = c.pair_sign[pair] * c.row_n_syn[c.edge_row].astype(np.float64) * strength[pair]
    syn = np.bincount(c.edge_target, w * np.maximum(v[c.edge_source], 0), minlength=c.n_neurons)
    x = np.zeros(c.n_neurons)
    x[c.input_index] = lum[None, :]
    tau = np.maximum(np.asarray(params.time_const_s, np.float64), dt_s)[c.node_type]
    bias = np.asarray(params.bias, np.float64)[c.node_type]
    return v + (1 / tau) * (-v + bias + syn + x) * dt_s


@pytest.mark.parametrize("batch", [1, 2, WINDOW_MAX_BATCH + 4])
def test_sparse_step_matches_reference(net, params, batch):
    rng = np.random.default_rng(batch)
    v = rng.normal(0, 1, (batch, net.n_neurons))
    lum = rng.uniform(0, 1, (batch, 3, net.n_columns))
    dt_s = 1 / 200
    out = np.asarray(net.simulate(params, lum, dt_s, v0=v))  # [B, 3, N]
    for b in range(batch):
        ref = v[b]
        for t in range(3):
            ref = _reference_step(net, params, ref, lum[b, t], dt_s)
            np.testing.assert_allclose(out[b, t], ref, rtol=1e-4, atol=2e-4)


def test_step_api_single_and_batched(net, params):
    rng = np.random.default_rng(0)
    v = jnp.asarray(rng.normal(0, 1, (2, net.n_neurons)), jnp.float32)
    x = jnp.asarray(rng.uniform(0, 1, (2, net.n_columns)), jnp.float32)
    both = net.step(params, v, x, 1 / 200)
    one = net.step(params, v[1], x[1], 1 / 200)
    np.testing.assert_allclose(both[1], one, rtol=1e-5, atol=1e-5)
    ref = _reference_step(net, params, np.asarray(v[0], np.float64), np.asarray(x[0]), 1 / 200)
    np.testing.assert_allclose(both[0], ref, rtol=1e-4, atol=2e-4)
    vm = jax.vmap(lambda a, b: net.step(params, a, b, 1 / 200))(v, x)
    np.testing.assert_allclose(vm, both, rtol=1e-5, atol=1e-5)


def test_time_constant_floor_is_dt(net, params):
    """flyvis integrates with max(tau, dt): a tau below dt behaves exactly like tau = dt."""
    dt_s = 1 / 50
    fast = params._replace(time_const_s=jnp.full((65,), 1e-4))
    at_dt = params._replace(time_const_s=jnp.full((65,), dt_s))
    lum = jnp.full((2, net.n_columns), 0.7)
    v0 = net.steady_state(params)
    a = net.simulate(fast, lum, dt_s, v0=v0, record=np.arange(0, net.n_neurons, 97))
    b = net.simulate(at_dt, lum, dt_s, v0=v0, record=np.arange(0, net.n_neurons, 97))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_steady_state_is_steady(net, params):
    v = net.steady_state(params, t_pre_s=1.0)
    assert bool(jnp.all(jnp.isfinite(v)))
    more = net.simulate(params, jnp.full((20, net.n_columns), 0.5), v0=v)
    assert float(jnp.abs(more[-1] - v).max()) < 1e-2


def test_two_eyes_are_a_batch_of_two(net, params):
    rng = np.random.default_rng(3)
    stim = jnp.asarray(rng.uniform(0, 1, (2, 4, net.n_columns)), jnp.float32)
    rec = np.array([net.neuron_index(t) for t in ("T4a", "T5c", "Mi1", "L1")])
    both = net.simulate(params, stim, record=rec)
    assert both.shape == (2, 4, 4)
    left = net.simulate(params, stim[0], record=rec)
    right = net.simulate(params, stim[1], record=rec)
    np.testing.assert_allclose(both[0], left, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(both[1], right, rtol=1e-5, atol=1e-5)
    assert not np.allclose(both[0], both[1])


def test_grad_through_time_and_projection(net, params):
    stim = jnp.asarray(stimuli.moving_edge(0, 1, 25, t_pre_s=0.0, t_post_s=0.0)[:12])
    rec = np.array([net.neuron_index("T4a"), net.neuron_index("Mi1")])
    v0 = net.steady_state(params)

    def loss(p):
        return jnp.sum(net.simulate(p, stim, v0=v0, record=rec) ** 2)

    g = jax.jit(jax.grad(loss))(params)
    for leaf in g:
        assert bool(jnp.all(jnp.isfinite(leaf)))
    assert float(jnp.abs(g.strength).sum()) > 0 and float(jnp.abs(g.bias).sum()) > 0
    # directional derivative along the bias gradient agrees with a finite difference
    eps = 1e-3
    d = g.bias / jnp.linalg.norm(g.bias)
    up = loss(params._replace(bias=params.bias + eps * d))
    dn = loss(params._replace(bias=params.bias - eps * d))
    np.testing.assert_allclose((up - dn) / (2 * eps), jnp.vdot(g.bias, d), rtol=0.05)
    stepped = ol.project(params._replace(strength=params.strength - 10.0 * g.strength))
    assert float(stepped.strength.min()) >= 0


def test_init_params_flyvis_scale(net):
    p = net.init_params(jax.random.PRNGKey(0))
    net.check_params(p)
    assert np.allclose(p.time_const_s, 0.05)
    assert abs(float(p.bias.mean()) - 0.5) < 0.05
    assert float(p.strength.min()) > 0


# -- bad inputs -----------------------------------------------------------------------------------
def test_bad_inputs_raise(net, params):
    with pytest.raises(ValueError, match="stimulus must be"):
        net.simulate(params, jnp.zeros((5, 720)))
    with pytest.raises(ValueError, match="stimulus must be"):
        net.simulate(params, jnp.zeros((721,)))
    with pytest.raises(ValueError, match="dt_s"):
        net.simulate(params, jnp.zeros((5, 721)), dt_s=0.0)
    with pytest.raises(ValueError, match="dt_s"):
        net.simulate(params, jnp.zeros((5, 721)), dt_s="0.005")
    with pytest.raises(ValueError, match="v0 must be"):
        net.simulate(params, jnp.zeros((5, 721)), v0=jnp.zeros(10))
    with pytest.raises(ValueError, match="record indices"):
        net.simulate(params, jnp.zeros((5, 721)), record=[net.n_neurons])
    with pytest.raises(ValueError, match="step expects"):
        net.step(params, jnp.zeros(net.n_neurons), jnp.zeros(720))
    with pytest.raises(KeyError, match="unknown cell type 'T4e'"):
        net.neuron_index("T4e")
    with pytest.raises(ValueError, match="outside the lattice"):
        net.neuron_index("T4a", 10, 10)
    with pytest.raises(ValueError, match="sub-lattice"):
        net.neuron_index("Lawf1", 1, 0)
    with pytest.raises(ValueError, match="strength has shape"):
        net.check_params(params._replace(strength=jnp.zeros(603)))
    with pytest.raises(TypeError, match="OpticLobeParams"):
        net.check_params({"bias": params.bias})
    with pytest.raises(ValueError, match="extent"):
        ol.hex_columns(-1)


# -- stimulus -------------------------------------------------------------------------------------
def test_moving_edge_stimulus():
    movie = stimuli.moving_edge(0, 1, 25, dt_s=1 / 200, t_pre_s=0.1, t_post_s=0.05)
    n_sweep = int(stimuli.t_stim_s(25) / (1 / 200))
    assert movie.shape == (int((stimuli.t_stim_s(25) + 0.15) / (1 / 200)), 721)
    assert n_sweep == 65
    assert np.all(movie[:20] == 0.5)  # grey before the sweep (angle 0 is not rotated)
    c = 360  # central column (u = v = 0) in flyvis order
    centre = movie[:, c]
    assert np.all(np.diff(centre) >= 0) and centre[-1] == 1.0  # the ON edge passes the centre
    assert np.all(movie[-1] == movie[-5])  # held after the sweep
    off = stimuli.moving_edge(90, 0, 25, t_pre_s=0.0, t_post_s=0.0)
    assert off.min() == 0.0 and abs(off.max() - 127 / 255) < 1e-6  # rotated frames go via uint8
    with pytest.raises(ValueError, match="intensity"):
        stimuli.moving_edge(0, 0.5, 25)
    with pytest.raises(ValueError, match="speed"):
        stimuli.moving_edge(0, 1, 0)


# -- Brax-style seam ------------------------------------------------------------------------------
def test_network_factory_two_eyes(net, params):
    init, apply = ol.network_factory(net, substeps=2)
    v = init(params, batch=2)
    assert v.shape == (2, net.n_neurons)
    lum = jnp.stack([jnp.full(721, 0.2), jnp.full(721, 0.8)])
    v2, readout = jax.jit(apply)(params, v, lum)
    assert readout.shape == (2, 8 * 721)
    ref = net.simulate(params, jnp.repeat(lum[:, None], 2, axis=1), v0=v)[:, -1]
    np.testing.assert_allclose(v2, ref, rtol=1e-5, atol=1e-5)
    cols = ol.type_columns(net, ("T4a",))
    np.testing.assert_allclose(readout[:, :721], v2[:, cols], rtol=0, atol=0)
    with pytest.raises(ValueError, match="apply expects"):
        apply(params, v, lum[:, :700])
    with pytest.raises(ValueError, match="not one per column"):
        ol.type_columns(net, ("Lawf1",))
    with pytest.raises(ValueError, match="substeps"):
        ol.network_factory(net, substeps=0)


def test_window_form_vjp_is_the_transpose(net, params):
    """The custom backward pass equals W^T g and the per-row sums of g[target] * a[source]."""
    from flyenvs.connectome.optic_lobe import sparse

    c, t = net.connectome, net._tab.syn
    rng = np.random.default_rng(7)
    a = np.maximum(rng.normal(0, 1, net.n_neurons), 0).astype(np.float32)
    g = rng.normal(0, 1, net.n_neurons).astype(np.float32)
    w_win = sparse.edge_weights(t, params.strength, 1).win

    def f(w, x):
        return jnp.vdot(sparse.window_input(t, w, x), g)

    g_w, g_a = jax.jit(jax.grad(f, argnums=(0, 1)))(w_win, jnp.asarray(a))
    w_row = np.asarray(sparse.row_weights(t, params.strength), np.float64)[c.edge_row]
    ref_a = np.bincount(c.edge_source, w_row * g[c.edge_target], minlength=net.n_neurons)
    np.testing.assert_allclose(g_a, ref_a, rtol=1e-4, atol=1e-4)
    prod = g[c.edge_target].astype(np.float64) * a[c.edge_source]
    ref_w = np.bincount(c.edge_row, prod, minlength=c.n_rows)[np.asarray(t.win_row)]
    np.testing.assert_allclose(g_w, ref_w, rtol=1e-4, atol=1e-3)


# -- scripts --------------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]
from reference_wheels import UNZIPPED as WHEELS  # noqa: E402


def test_bench_script_smoke(tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "scripts/bench_optic_lobe.py", "--batches", "1", "--forms", "auto"]
    cmd += ["--repeats", "1", "--steps", "5", "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads(out.read_text())["results"][0]
    assert row["batch"] == 1 and row["auto_ms"] > 0 and row["scipy_csr_ms"] > 0


@pytest.mark.skipif(
    not (WHEELS / "flyvis-1.2.0-py3-none-any").is_dir()
    or not (WHEELS / "flycns-0.7.0-py3-none-any").is_dir(),
    reason="unzipped flyvis/flycns wheels are not on this machine",
)
def test_import_script_reproduces_committed_assets(tmp_path):
    cmd = [sys.executable, "scripts/import_connectome.py", "--out", str(tmp_path)]
    cmd += ["--flyvis", str(WHEELS / "flyvis-1.2.0-py3-none-any")]
    cmd += ["--flycns", str(WHEELS / "flycns-0.7.0-py3-none-any")]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    committed = ROOT / "assets" / "connectome"
    name = "fib25-fib19_v2.2.json"
    assert (tmp_path / name).read_bytes() == (committed / name).read_bytes()
    with (
        np.load(tmp_path / "flyvis_ensemble_1.2.0.npz") as new,
        np.load(committed / "flyvis_ensemble_1.2.0.npz") as old,
    ):
        assert np.array_equal(new["params"], old["params"])
