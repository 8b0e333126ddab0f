"""The one controller interface (``flyenvs.connectome.circuit``): the VNC and the optic lobe
implement it alike, reproduce their networks' own dynamics through it, and train only the
parameters named trainable."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flyenvs.connectome import circuit, optic_lobe, vnc
from flyenvs.connectome.optic_lobe.circuit import OpticLobeCircuit
from flyenvs.connectome.vnc.circuit import VNCCircuit

DT_VNC_S = 1e-3


@pytest.fixture(scope="module")
def vnc_net() -> vnc.VNCNetwork:
    return vnc.build()


@pytest.fixture(scope="module")
def ol_net() -> optic_lobe.OpticLobe:
    return optic_lobe.build()


def test_both_networks_implement_the_interface(vnc_net, ol_net):
    for c in (VNCCircuit(vnc_net), OpticLobeCircuit(ol_net)):
        assert isinstance(c, circuit.Circuit)
        assert c.trainable == c.param_names
        params = c.init_params(jax.random.PRNGKey(0))
        assert tuple(params) == c.param_names
        assert all(isinstance(v, jax.Array) for v in params.values())


def test_vnc_circuit_reproduces_the_network_step(vnc_net):
    c = VNCCircuit(vnc_net)
    params = c.init_params(jax.random.PRNGKey(0))
    state = c.init_state(params, batch=3)
    assert state.rates_hz.shape == (3, vnc_net.n_neurons)
    drive = jnp.asarray([[250.0] * vnc_net.n_dn, [225.0] * vnc_net.n_dn, [0.0] * vnc_net.n_dn])
    state, out = circuit.run(c, params, state, drive, DT_VNC_S, n_steps=200)
    assert {k: v.shape for k, v in out.items()} == {k: (3, n) for k, n in c.output_sizes.items()}
    for i in range(3):
        ref = vnc_net.multi_step(params, vnc_net.init_state(), drive[i], DT_VNC_S, 200)
        np.testing.assert_allclose(state.rates_hz[i], ref.rates_hz, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(
            out["joint_target_rad"][i], vnc_net.motor_output(ref, params), atol=1e-5
        )
    assert float(jnp.abs(out["motor_u"][0]).max()) > 0.1  # the stimulated network moves joints


def test_frozen_parameters_get_no_gradient(vnc_net):
    """Readout-only training: frozen VNC parameters get exactly zero gradient, the others not."""
    drive = jnp.full((1, vnc_net.n_dn), 250.0)

    def loss(params, c):
        p = c.freeze(params)
        state = c.init_state(p, 1)
        _, out = circuit.run(c, p, state, drive, DT_VNC_S, n_steps=50)
        return jnp.sum(out["motor_u"] ** 2)

    partial = VNCCircuit(vnc_net, trainable=("joint_amplitude_rad", "strength"))
    assert partial.trainable == ("strength", "joint_amplitude_rad")  # param order
    params = partial.init_params(None)
    grads = jax.grad(loss)(params, partial)
    for name, g in grads.items():
        nonzero = bool(jnp.any(g != 0))
        assert nonzero == (name == "strength"), name  # amplitude does not enter motor_u
    grads_all = jax.grad(loss)(params, VNCCircuit(vnc_net))
    assert all(bool(jnp.any(grads_all[k] != 0)) for k in ("tau_s", "gain", "strength"))


def test_vnc_time_constant_trained_below_the_step_stays_stable(vnc_net):
    c = VNCCircuit(vnc_net)
    params = {**c.init_params(None), "tau_s": jnp.full_like(c.init_params(None)["tau_s"], -1.0)}
    state = c.init_state(params, 1)
    state, _ = circuit.run(c, params, state, jnp.full((1, vnc_net.n_dn), 250.0), 1e-3, 100)
    assert bool(jnp.all(jnp.isfinite(state.rates_hz)))
    assert float(state.rates_hz.max()) <= vnc_net.r_max_hz


def test_optic_lobe_circuit_reproduces_the_network(ol_net):
    c = OpticLobeCircuit(ol_net, pretrained=3)
    params = c.init_params(jax.random.PRNGKey(0))
    ref_params = optic_lobe.load_pretrained(3)
    np.testing.assert_array_equal(params["strength"], ref_params.strength)
    state = c.init_state(params, batch=2)
    np.testing.assert_allclose(state[0], ol_net.steady_state(ref_params), atol=1e-6)
    lum = jnp.stack([jnp.full((721,), 0.9), jnp.full((721,), 0.1)])
    state, out = circuit.run(c, params, state, lum, optic_lobe.DEFAULT_DT_S, n_steps=4)
    ref = ol_net.simulate(ref_params, jnp.broadcast_to(lum[:, None], (2, 4, 721)))[:, -1]
    np.testing.assert_allclose(state, ref, atol=1e-5)
    cols = optic_lobe.type_columns(ol_net, c.readout_types)
    np.testing.assert_allclose(out["readout"], ref[:, cols], atol=1e-5)
    assert out["readout"].shape == (2, 8 * 721)
    assert not np.allclose(out["readout"][0], out["readout"][1])  # bright vs dark differ


def test_optic_lobe_random_init_comes_from_the_key(ol_net):
    c = OpticLobeCircuit(ol_net, pretrained=None)
    a, b = c.init_params(jax.random.PRNGKey(0)), c.init_params(jax.random.PRNGKey(1))
    assert not np.array_equal(a["bias"], b["bias"])


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda v, o: VNCCircuit(v, trainable=("strenght",)), r"unknown parameters.*valid"),
        (lambda v, o: VNCCircuit(v, trainable="strength"), "not the string"),
        (lambda v, o: VNCCircuit(o), "must be a VNCNetwork"),
        (lambda v, o: OpticLobeCircuit(o, trainable=("tau",)), r"valid: \['bias'"),
        (lambda v, o: OpticLobeCircuit(o, pretrained=50), r"\[0, 50\)"),
        (lambda v, o: OpticLobeCircuit(o, readout_types=("Lawf1",)), "not one per column"),
        (lambda v, o: OpticLobeCircuit(o, readout_types=("T9",)), "unknown cell type"),
    ],
)
def test_bad_construction_raises_clearly(vnc_net, ol_net, make, match):
    with pytest.raises((ValueError, TypeError, KeyError), match=match):
        make(vnc_net, ol_net)


def test_bad_step_inputs_raise_clearly(vnc_net):
    c = VNCCircuit(vnc_net)
    params = c.init_params(None)
    state = c.init_state(params, 2)
    with pytest.raises(ValueError, match=r"shape \(batch=2, 6\)"):
        c.step(params, state, jnp.zeros((2, 5)), DT_VNC_S)
    with pytest.raises(ValueError, match="entries"):
        c.step({k: v for k, v in params.items() if k != "gain"}, state, jnp.zeros((2, 6)), 1e-3)
    with pytest.raises(ValueError, match=r"params\['gain'\] has shape"):
        c.step({**params, "gain": jnp.zeros(3)}, state, jnp.zeros((2, 6)), DT_VNC_S)
    with pytest.raises(ValueError, match="n_steps must be >= 1"):
        circuit.run(c, params, state, jnp.zeros((2, 6)), DT_VNC_S, 0)
    with pytest.raises(ValueError, match="batch must be >= 1"):
        c.init_state(params, 0)
