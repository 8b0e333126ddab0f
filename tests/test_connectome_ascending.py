"""The ascending pathway of the connectome Walk policy (``VNCWalkPolicy.ascending_cell``): the
DN readout also reads a VNC cell's rate in every leg, wired at the start from the leg the
coupling names; with I1 of the leg in front at gain -3 the same DN offsets walk the frozen VNC
several times faster than a constant drive (docs/connectome_walk.md, "Ascending feedback")."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flyenvs.brax
from agents import connectome_walk
from flyenvs.body import constants


@pytest.fixture(scope="module")
def task():
    env = flyenvs.brax.make(
        "Walk", backend="mujoco", action_mode="joints", action__joints__n_chunk=2,
        episode_length=20,
    )  # fmt: skip
    return env.task


def test_anterior_coupling_reads_the_leg_in_front():
    """Each leg's DNg100 reads I1 of the leg in front on its side; the front legs read the
    hind legs; nothing crosses the midline."""
    from flyenvs.connectome import vnc

    net = vnc.build(None)
    index, init = connectome_walk.ascending_init(net, "I1", "anterior", -3.0)
    assert [net.neuron_names[i] for i in index] == [f"I1_{leg}" for leg in constants.LEGS]
    pairs = {(constants.LEGS[i], net.dn_names[j]) for i, j in zip(*np.nonzero(init), strict=True)}
    assert pairs == {("LH", "DNg100_LF"), ("LF", "DNg100_LM"), ("LM", "DNg100_LH"),
                     ("RH", "DNg100_RF"), ("RF", "DNg100_RM"), ("RM", "DNg100_RH")}  # fmt: skip
    assert np.all(init[init != 0] == -3.0)
    _, same = connectome_walk.ascending_init(net, "E1", "same", 2.0)
    np.testing.assert_array_equal(same, 2.0 * np.eye(6))


def test_bad_ascending_options_are_refused(task):
    """An unknown cell lists the cell types every leg has; an unknown coupling lists the
    valid ones; a readout with an ascending cell needs the VNC's rates."""
    with pytest.raises(ValueError, match=r"no \['X9_LF'.*found in every leg.*'I1'"):
        connectome_walk.make(task, ascending_cell="X9")
    with pytest.raises(ValueError, match="unknown ascending_coupling 'lateral'; valid"):
        connectome_walk.make(task, ascending_cell="I1", ascending_coupling="lateral")
    pol = connectome_walk.make(task, ascending_cell="I1")
    params = pol.init(jax.random.PRNGKey(0), task.observation_size)
    with pytest.raises(ValueError, match="needs the VNC's rates_hz"):
        pol.dn_readout(params, jnp.zeros((1, task.observation_size)))


def test_readout_follows_the_ascending_rates(task):
    """The readout adds ``tanh(rate / 50 Hz) @ w_asc`` of the cell's rates: at the start only
    the coupled DN moves when one leg's I1 fires, by the gain; without an ascending cell the
    parameters have no ``w_asc`` and the rates change nothing."""
    pol = connectome_walk.make(task, ascending_cell="I1", init_ascending_gain=-3.0)
    obs_size, names = task.observation_size, pol.circuit.network.neuron_names
    params = pol.init(jax.random.PRNGKey(0), obs_size)
    obs = jnp.zeros((1, obs_size))
    rates = jnp.zeros((1, len(names)))
    fired = rates.at[0, names.index("I1_LF")].set(1e4)  # tanh -> 1
    delta = np.asarray(pol.dn_readout(params, obs, fired) - pol.dn_readout(params, obs, rates))[0]
    expected = np.zeros(6)
    expected[pol.circuit.network.dn_names.index("DNg100_LM")] = -3.0
    np.testing.assert_allclose(delta, expected, atol=1e-5)
    plain = connectome_walk.make(task)
    p0 = plain.init(jax.random.PRNGKey(0), obs_size)
    assert "w_asc" not in p0["readout"]
    np.testing.assert_allclose(plain.dn_readout(p0, obs, fired), plain.dn_readout(p0, obs))


def test_bilateral_readout_mirrors_the_ascending_input(task):
    """With ``readout_symmetry="bilateral"`` the mirrored legs' rates drive the mirrored DNs,
    whatever the ascending weights."""
    pol = connectome_walk.make(
        task, readout_obs=["command"], readout_symmetry="bilateral", ascending_cell="I1"
    )
    names = pol.circuit.network.neuron_names
    params = pol.init(jax.random.PRNGKey(0), task.observation_size)
    params["readout"]["w_asc"] = jax.random.normal(jax.random.PRNGKey(1), (6, 6))
    rates = 50.0 * jax.random.uniform(jax.random.PRNGKey(2), (3, len(names)))
    mirror = [names.index(n.replace("_L", "_X").replace("_R", "_L").replace("_X", "_R"))
              for n in names]  # fmt: skip
    obs = jnp.zeros((3, task.observation_size))
    swap = connectome_walk.dn_mirror(pol.circuit.network.dn_names)
    np.testing.assert_allclose(
        pol.dn_readout(params, obs, rates[:, mirror]),
        pol.dn_readout(params, obs, rates)[:, swap],
        atol=1e-5,
    )


def test_ascending_preset_builds_and_starts_coupled():
    """``--policy connectome --preset steer_ascending`` resolves to steer's recipe with the
    anterior I1 coupling at -3, and its network starts with those weights."""
    from agents import ppo
    from agents.recurrent_ppo import driver

    cfg = ppo.resolve_preset("connectome_steer_ascending", env={"episode_length": 20})
    steer = ppo.resolve_preset("connectome_steer")
    assert cfg["ppo"] == {**steer["ppo"]} and cfg["connectome"]["ascending_cell"] == "I1"
    env = flyenvs.brax.make("Walk", backend="mujoco", **cfg["env"])
    net = driver.make_network(cfg, env.task, env.action_size)
    params = net.init(jax.random.PRNGKey(0), env.task.observation_size)
    w = np.asarray(params["readout"]["w_asc"])
    assert np.count_nonzero(w) == 6 and np.all(w[w != 0] == -3.0)
    with pytest.raises(ValueError, match="fine-tunes a run of preset 'connectome_steer_ascending'"):
        ppo.resolve_preset("connectome_steer_ascending_speed")


def test_ascending_feedback_walks_the_frozen_vnc_faster():
    """The behaviour the option exists for: at the same DN offset (b = 0.2 on every leg) and
    frozen VNC, I1 of the leg in front at -3 walks the fly well over twice as fast as the same
    readout with the ascending weights at 0 (a constant drive), without a fall (measured: 9.8
    against 2.9 mm/s over 3 s, scripts/vnc_envelope.py)."""
    from agents import ppo, walk_envelope
    from agents.recurrent_ppo import driver
    from agents.recurrent_ppo.train import init_training_state

    steps, n_envs = 75, 2
    cfg = ppo.resolve_preset("connectome_quick", env={"episode_length": steps})
    cfg["connectome"].update(ascending_cell="I1", init_ascending_gain=-3.0)
    env = flyenvs.brax.make("Walk", backend="mujoco", **cfg["env"])
    net = driver.make_network(cfg, env.task, env.action_size)
    start = init_training_state(net, env.task.observation_size, 1e-3, 0.5)
    walk = walk_envelope.walker(env, net, start["normalizer"], envs=n_envs, warmup_steps=25)

    def speed(w_asc):
        readout = {**start["network"]["readout"], "w_asc": w_asc, "b": jnp.full((6,), 0.2)}
        row = walk({**start["network"], "readout": readout})
        return row["speed_mm_s"], row["falls"]

    w = start["network"]["readout"]["w_asc"]
    fast, falls_fast = speed(w)
    slow, falls_slow = speed(jnp.zeros_like(w))
    assert falls_fast == 0 and falls_slow == 0
    assert fast > 2.0 * slow and fast > 6.0, (fast, slow)
