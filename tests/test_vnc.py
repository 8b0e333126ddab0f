"""VNC: core CPG rhythm, motor pools, inter-leg coupling, pure-JAX step, bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flyenvs.connectome.vnc as vnc
from flyenvs.body.constants import LEG_DOFS, LEGS, N_LEG_JOINTS
from flyenvs.connectome.vnc.builder import load_core_cpg

DT_S = 1e-3
ROOT = Path(__file__).resolve().parents[1]


def dominant_frequency_hz(x: np.ndarray, dt_s: float) -> float:
    x = x - x.mean()
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(len(x), dt_s)[1:][np.argmax(spectrum[1:])])


def paper_reference(duration_s: float, dt_s: float, stimulus: float) -> np.ndarray:
    """Independent numpy transcription of the paper's 4-cell rate model (from the asset)."""
    data = load_core_cpg()
    w = data["weight_per_synapse"] * np.asarray(data["synapse_counts_pre_by_post"]).T
    a, theta, r_max = np.asarray(data["a"]), np.asarray(data["theta"]), data["r_max_hz"]
    rates, out = np.zeros(4), []
    for k in range(round(duration_s / dt_s)):
        current = np.array([stimulus if k >= round(0.02 / dt_s) else 0.0, 0, 0, 0])
        target = np.maximum(0, r_max * np.tanh(a / r_max * (current + w @ rates - theta)))
        rates = rates + dt_s / data["tau_s"] * (target - rates)
        out.append(rates)
    return np.array(out)


@pytest.fixture(scope="module")
def core_rates() -> np.ndarray:
    return vnc.simulate_core_cpg(duration_s=2.0, dt_s=DT_S, stimulus=250.0)


@pytest.fixture(scope="module")
def default_net() -> vnc.VNCNetwork:
    return vnc.build()


@pytest.fixture(scope="module")
def default_rollout(default_net) -> np.ndarray:
    """Rates [T, n_neurons] of the default network under constant DNg100 drive 250, 2.5 s."""
    drive = jnp.full((2500, default_net.n_dn), 250.0)
    run = jax.jit(default_net.rollout, static_argnums=3)
    _, rates = run(default_net.init_params(), default_net.init_state(), drive, DT_S)
    return np.asarray(rates)


# ---------------------------------------------------------------- core CPG
def test_core_cpg_oscillates_in_walking_band(core_rates):
    assert core_rates.shape == (2000, 4)
    steady = core_rates[500:]
    for cell in (1, 2, 3):  # E1, E2, I1
        assert steady[:, cell].max() - steady[:, cell].min() > 0.5  # a real rhythm, not noise
        assert 7.0 <= dominant_frequency_hz(steady[:, cell], DT_S) <= 18.0
    assert np.all(core_rates[:20] == 0.0)  # no stimulus before 20 ms


def test_core_cpg_matches_independent_reference(core_rates):
    np.testing.assert_allclose(core_rates, paper_reference(2.0, DT_S, 250.0), atol=2e-3, rtol=1e-3)


@pytest.mark.parametrize("cell", ["E1", "E2"])
def test_silencing_e1_or_e2_stops_the_rhythm(cell):
    rates = vnc.simulate_core_cpg(silenced=(cell,))
    steady = rates[1000:, 1:]
    assert np.all(steady.max(0) - steady.min(0) < 1e-2)


def test_no_stimulus_no_rhythm():
    rates = vnc.simulate_core_cpg(stimulus=0.0)
    assert np.all(rates == 0.0)


def test_core_network_weights_are_the_published_counts():
    net = vnc.build_core_cpg()
    dense = np.asarray(net.dense_weights(net.init_params()))  # post x pre
    counts = np.array([[0, 187, 0, 0], [0, 0, 539, 17], [0, 19, 0, 71], [0, -531, -172, 0]])
    np.testing.assert_allclose(dense, 0.03 * counts.T, rtol=1e-6)


def test_sparse_input_matches_dense_reference(default_net):
    params = default_net.init_params()
    rates = jax.random.uniform(jax.random.PRNGKey(0), (default_net.n_neurons,)) * 50.0
    sparse = default_net.synaptic_input(params, rates)
    dense = default_net.dense_weights(params) @ rates
    np.testing.assert_allclose(np.asarray(sparse), np.asarray(dense), rtol=1e-5, atol=1e-4)


# ------------------------------------------------------------ default net
def test_default_network_structure(default_net):
    s = default_net.summary()
    assert default_net.n_dn == 6 and default_net.dn_names[0] == "DNg100_LF"
    assert s["n_per_class"]["descending"] == 6
    assert s["n_per_class"]["intrinsic"] == 6 * 4  # E1, E2, I1, swing premotor per leg
    assert default_net.n_pools == s["n_per_class"]["motor"] == 72
    joints_driven = set(default_net.pool_joint.tolist())
    assert joints_driven == set(range(N_LEG_JOINTS))  # every joint has at least one pool
    assert np.all(default_net.init_strength >= 0)


def test_flexor_and_extensor_pools_alternate(default_net, default_rollout):
    steady = default_rollout[1000:]
    for leg in LEGS:
        for dof in ("Tibia", "Femur", "Coxa"):
            swing = steady[:, default_net.index(f"MN_{leg}_{dof}_swing")]
            stance = steady[:, default_net.index(f"MN_{leg}_{dof}_stance")]
            assert swing.std() > 0.1 and stance.std() > 0.1
            assert np.corrcoef(swing, stance)[0, 1] < -0.5, (leg, dof)


def test_legs_walk_in_a_tripod(default_net, default_rollout):
    steady = default_rollout[1000:]
    e1 = {leg: steady[:, default_net.index(f"E1_{leg}")] for leg in LEGS}
    for leg in ("RM", "LH"):
        assert np.corrcoef(e1["LF"], e1[leg])[0, 1] > 0.5
    for leg in ("RF", "LM", "RH"):
        assert np.corrcoef(e1["LF"], e1[leg])[0, 1] < -0.5
    assert 7.0 <= dominant_frequency_hz(e1["LF"], DT_S) <= 18.0


def test_motor_output_is_42_joint_targets(default_net, default_rollout):
    params = default_net.init_params()
    states = vnc.VNCState(jnp.asarray(default_rollout[1000:]))
    q = np.asarray(jax.vmap(lambda s: default_net.motor_output(s, params))(states))
    assert q.shape == (1500, N_LEG_JOINTS) and np.isfinite(q).all()
    center, amp = default_net.init_joint_center_rad, np.abs(default_net.init_joint_amplitude_rad)
    assert np.all(q >= center - amp - 1e-6) and np.all(q <= center + amp + 1e-6)
    swing_joints = [LEG_DOFS.index(d) for d in ("Coxa", "Femur", "Tibia")]
    for k in range(len(LEGS)):
        assert np.all(np.ptp(q[:, [k * 7 + j for j in swing_joints]], axis=0) > 0.05)
    u = np.asarray(default_net.motor_output_normalised(vnc.VNCState(states.rates_hz[0])))
    assert u.shape == (N_LEG_JOINTS,) and np.all(np.abs(u) <= 1.0)


# ---------------------------------------------------------------- pure JAX
def test_step_jit_vmap_matches_single_steps(default_net):
    params, state = default_net.init_params(), default_net.init_state()
    inputs = jnp.linspace(0.0, 300.0, 4)[:, None] * jnp.ones((4, default_net.n_dn))
    states = jax.tree.map(lambda x: jnp.broadcast_to(x, (4, *x.shape)), state)
    step = jax.jit(jax.vmap(default_net.step, in_axes=(None, 0, 0, None)), static_argnums=3)
    for _ in range(30):
        states = step(params, states, inputs, DT_S)
    for b in range(4):
        single = state
        for _ in range(30):
            single = default_net.step(params, single, inputs[b], DT_S)
        np.testing.assert_allclose(states.rates_hz[b], single.rates_hz, rtol=1e-5, atol=1e-5)
    assert not np.allclose(states.rates_hz[0], states.rates_hz[3])


def test_gradients_through_time_are_finite(default_net):
    state = default_net.init_state()
    drive = jnp.full((300, default_net.n_dn), 250.0)

    def loss(params):
        _, rates = default_net.rollout(params, state, drive, DT_S)
        q = jax.vmap(lambda r: default_net.motor_output(vnc.VNCState(r), params))(rates)
        return jnp.mean(jnp.square(jnp.diff(q, axis=0)))

    grads = jax.jit(jax.grad(loss))(default_net.init_params())
    for name, g in grads.items():
        assert np.isfinite(np.asarray(g)).all(), name
    assert np.abs(np.asarray(grads["strength"])).max() > 0
    assert np.abs(np.asarray(grads["gain"])).max() > 0


# --------------------------------------------------------------- bad inputs
def test_wrong_dn_input_shape_is_rejected(default_net):
    params, state = default_net.init_params(), default_net.init_state()
    with pytest.raises(ValueError, match=r"dn_input must have shape \(6,\)"):
        default_net.step(params, state, jnp.zeros(4), DT_S)
    with pytest.raises(ValueError, match="dn_input must have shape"):
        default_net.step(params, state, jnp.zeros((2, 6)), DT_S)
    with pytest.raises(ValueError, match="state.rates_hz"):
        default_net.step(params, vnc.VNCState(jnp.zeros(3)), jnp.zeros(6), DT_S)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"duration_s": 0.0}, "duration_s"),
        ({"dt_s": 0.0}, "dt_s"),
        ({"dt_s": 0.05}, "dt_s"),
        ({"stimulus": float("nan")}, "stimulus"),
        ({"silenced": ("E3",)}, "unknown cells"),
    ],
)
def test_simulate_core_cpg_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vnc.simulate_core_cpg(**kwargs)


def test_unknown_neuron_name_is_a_clear_error(default_net):
    with pytest.raises(KeyError, match="no neuron 'E9_LF'"):
        default_net.silenced(["E9_LF"])


def test_corrupt_embedded_table_is_a_clear_error(tmp_path, monkeypatch):
    folder = tmp_path / "connectome" / "vnc"
    folder.mkdir(parents=True)
    data = json.loads(
        (vnc.builder.asset_path("connectome", "vnc", "core_cpg_pugliese2025.json")).read_text()
    )
    data["synapse_counts_pre_by_post"] = data["synapse_counts_pre_by_post"][:3]
    (folder / "core_cpg_pugliese2025.json").write_text(json.dumps(data))
    monkeypatch.setattr("flyenvs._paths.ASSETS_DIR", tmp_path)
    with pytest.raises(ValueError, match="corrupt core CPG table"):
        vnc.build_core_cpg()
    (folder / "core_cpg_pugliese2025.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt core CPG table"):
        vnc.build()
    (folder / "core_cpg_pugliese2025.json").unlink()
    with pytest.raises(FileNotFoundError, match="core_cpg_pugliese2025.json"):
        vnc.build()


def test_multi_step_equals_repeated_steps(default_net):
    params, state = default_net.init_params(), default_net.init_state()
    drive = jnp.full(default_net.n_dn, 250.0)
    many = jax.jit(default_net.multi_step, static_argnums=(3, 4))(params, state, drive, DT_S, 5)
    single = state
    for _ in range(5):
        single = default_net.step(params, single, drive, DT_S)
    np.testing.assert_allclose(many.rates_hz, single.rates_hz, rtol=1e-6, atol=1e-6)


def test_bench_script_runs(tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(ROOT / "scripts" / "bench_vnc.py"), "--batches", "1",
           "--n-steps", "20", "--repeats", "1", "--out", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=300, cwd=ROOT)
    rows = json.loads(out.read_text())["results"]
    assert rows[0]["n_neurons"] == 102 and rows[0]["scan_us_per_step"] > 0


def test_demo_script_runs(tmp_path):
    out = tmp_path / "demo.png"
    cmd = [sys.executable, str(ROOT / "scripts" / "vnc_demo.py"), "--out", str(out),
           "--duration-s", "0.4"]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=300, cwd=ROOT)
    assert out.stat().st_size > 10_000
    bad = subprocess.run(cmd[:-1] + ["0.1"], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "--duration-s must exceed" in bad.stderr


def test_left_right_drive_difference_makes_asymmetric_steps(default_net):
    """Weaker DNg100 drive on the left legs -> smaller left steps (the handle for turning)."""
    drive = jnp.array([200.0 if leg[0] == "L" else 250.0 for leg in LEGS])
    params = default_net.init_params()
    run = jax.jit(default_net.rollout, static_argnums=3)
    _, rates = run(params, default_net.init_state(), jnp.tile(drive, (2000, 1)), DT_S)
    u = jax.vmap(lambda r: default_net.motor_output_normalised(vnc.VNCState(r), params))(rates)
    ptp = np.ptp(np.asarray(u)[1000:], axis=0).reshape(len(LEGS), -1)
    tibia = LEG_DOFS.index("Tibia")
    left, right = ptp[:3, tibia], ptp[3:, tibia]
    assert np.all(left > 0.3) and np.all(right > left + 0.2)
