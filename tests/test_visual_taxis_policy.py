"""The visual connectome policy on VisualTaxis and Pursuit: where the readout's retinal regions
look, the steer presets' readout of the sustained OFF cells, the hand-wired dark-object readout
turning the fly towards a pillar, and ``scripts/visual_eval.py``."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ml_collections import ConfigDict

import flyenvs.brax
from agents import connectome_visual, ppo
from agents.recurrent_ppo import driver

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "visual_eval.py"


def _pillar_view(bearing_rad: float, distance_mm: float = 10.0) -> np.ndarray:
    """[2, 721] luminance at reset with the pillar at ``bearing_rad`` (+ = left)."""
    config = {"target.bearing_rad": (bearing_rad, bearing_rad + 1e-3),
              "target.distance_mm": (distance_mm, distance_mm + 1e-3)}  # fmt: skip
    env = gym.make("flyenvs/VisualTaxis-v1", **config)
    obs, _ = env.reset(seed=0)
    env.close()
    return np.asarray(obs["vision"])


@pytest.fixture(scope="module")
def taxis_net():
    cfg = ppo.resolve_preset(ppo.preset_name("steer", "connectome", "VisualTaxis"))
    cfg["env"]["episode_length"] = 8
    env = flyenvs.brax.make(cfg["task"], backend="mujoco", **cfg["env"])
    return env, driver.make_network(cfg, env.task, env.action_size)


def test_pooling_regions_look_ahead_and_up():
    """Region ``a * n_elevation + e``: the last azimuth band looks ahead, the first behind; the
    last elevation band sees the sky (docs/visual_connectome.md)."""
    pool = connectome_visual.pooling_matrix(4, 2)
    sky = _pillar_view(3.1)[0] @ pool  # the pillar behind the fly, out of sight
    np.testing.assert_allclose(sky[1::2], 0.99, atol=0.01)  # dorsal bands: the white sky
    np.testing.assert_allclose(sky[0::2], 0.5, atol=0.01)  # ventral bands: the grey ground
    ahead = sky - _pillar_view(0.2)[0] @ pool
    assert np.argmax(ahead) == 2 * 3 + 1, ahead  # the front band, dorsal
    side = sky - _pillar_view(1.5)[0] @ pool
    assert np.argmax(side) in (1, 3) and np.all(side[4:] < 0.01), side  # the back half


@pytest.mark.parametrize(("task", "bands"), [("VisualTaxis", (1,)), ("Pursuit", (0, 1))])
def test_taxis_and_pursuit_steer_presets_read_the_sustained_off_cells(task, bands):
    """``--preset steer`` on VisualTaxis and Pursuit: Optomotor steer's recipe with a readout of
    Mi9 and Tm9 in front / back regions per eye (VisualTaxis: the dorsal half only, 24
    symmetric weights; Pursuit: both halves, 48), the draw at 0.5 s, and the target's distance
    and bearing (metrics of the env) as the training-only baseline."""
    cfg = ppo.resolve_preset(ppo.preset_name("steer", "connectome", task))
    opto = ppo.resolve_preset("connectome_optomotor_steer")
    shared = ("unroll_length", "num_minibatches", "gae_lambda", "split_ratio", "learning_rate")
    assert all(cfg["ppo"][k] == opto["ppo"][k] for k in shared)
    env = flyenvs.brax.make(task, backend="mujoco", **{**cfg["env"], "episode_length": 8})
    assert set(cfg["ppo"]["baseline_metrics"]) <= set(env.task.metric_names())
    assert {"distance_mm", "bearing_rad"} <= set(cfg["ppo"]["baseline_metrics"])
    net = driver.make_network(cfg, env.task, env.action_size)
    assert net.encoder.channels == connectome_visual.DARK_TYPES == ("Mi9", "Tm9")
    params = net.init(jax.random.PRNGKey(0), net.encoder.encoded_size)
    assert net.encoder.region_elevations == bands * 2
    n_weights = sum(params["bilateral"][k].size for k in ("same", "other"))
    assert n_weights == 2 * 2 * 2 * len(bands) * 3  # same/other x types x regions x legs
    assert net.walk.dn_noise_held and net.walk.draw_step == 25 and not net.train_optic_lobe


def test_bilateral_visual_readout_keeps_the_ascending_weights():
    """A visual policy with an ascending pathway (``VNCWalkPolicy.ascending_cell``) and the
    bilateral readout passes its ascending weights on to the Walk policy unchanged."""
    cfg = ppo.resolve_preset(ppo.preset_name("steer", "connectome", "VisualTaxis"))
    cfg["env"]["episode_length"] = 8
    cfg["connectome"].update(ascending_cell="I1", init_ascending_gain=-3.0)
    assert cfg["connectome"]["bilateral"]
    env = flyenvs.brax.make(cfg["task"], backend="mujoco", **cfg["env"])
    net = driver.make_network(cfg, env.task, env.action_size)
    params = net.init(jax.random.PRNGKey(0), net.encoder.encoded_size)
    walk = net.walk_params(params)["readout"]
    np.testing.assert_array_equal(walk["w_asc"], params["walk"]["readout"]["w_asc"])
    assert np.count_nonzero(walk["w_asc"]) == 6


def test_elevation_bands_select_regions_of_the_full_grid(taxis_net):
    """``optic_lobe.elevation_bands`` keeps those bands' columns of the full grid's features,
    in order; bands outside the grid, repeated or none are refused."""
    _, net = taxis_net
    dorsal = net.encoder
    full = dataclasses.replace(dorsal, elevation_bands=None)
    assert full.region_elevations == (0, 1, 0, 1) and full.n_regions == 4
    v = full.initial_state(3) + jax.random.normal(jax.random.PRNGKey(0), (3, 2, 45669))
    f_full = np.asarray(full.features(v)).reshape(3, 2, 2, 4)  # batch, eye, channel, region
    f_dorsal = np.asarray(dorsal.features(v)).reshape(3, 2, 2, 2)
    np.testing.assert_allclose(f_dorsal, f_full[..., 1::2], rtol=1e-5, atol=1e-5)
    for bad in ((2,), (), (1, 1)):
        with pytest.raises(ValueError, match="elevation_bands must be distinct bands"):
            dataclasses.replace(dorsal, elevation_bands=bad)


def test_dark_object_readout_turns_towards_the_pillar(taxis_net):
    """Eyes -> optic lobe -> Mi9/Tm9 -> the hand-wired readout: a pillar on the left drives the
    right legs' DNs harder than the left legs' (the VNC turns towards less drive: left), a
    pillar on the right the reverse; the dorsal-only readout ignores the ground band."""
    _, net = taxis_net
    e = net.encoder
    w = connectome_visual.dark_object_readout(net, gain=2.0)[e.vision_start :]
    assert e.region_elevations == (1, 1) and np.all(w != 0)  # the preset reads the sky only
    full = dataclasses.replace(e, elevation_bands=None)
    rows = connectome_visual.dark_object_readout(dataclasses.replace(net, encoder=full))
    rows = rows[e.vision_start :].reshape(2, full.n_channels, full.n_regions, 6)
    assert np.all(rows[:, :, 0::2] == 0) and np.all(rows[:, :, 1::2] != 0)
    step = jax.jit(e.step)
    turn = {}
    for bearing in (0.8, -0.8):
        frame = jnp.asarray(_pillar_view(bearing))[None]
        state = e.initial_state(1)
        for t in range(10):  # 0.2 s of the same frame
            state, f = step(e.pretrained_params, state, frame, jnp.array([t == 0]))
        drive = np.asarray(f[0]) @ w  # [6]: DNg100 L F/M/H, R F/M/H
        turn[bearing] = drive[3:].sum() - drive[:3].sum()  # right legs - left legs
    assert turn[0.8] > 0.05 and turn[-0.8] < -0.05, turn
    np.testing.assert_allclose(turn[0.8], -turn[-0.8], rtol=0.3)  # mirror-image scenes
    optomotor = ppo.resolve_preset("connectome_optomotor_steer")
    env = flyenvs.brax.make("Optomotor", backend="mujoco", **optomotor["env"])
    with pytest.raises(ValueError, match="needs channels"):
        connectome_visual.dark_object_readout(
            driver.make_network(optomotor, env.task, env.action_size)
        )


def test_back_gain_turns_harder_for_a_pillar_far_to_the_side(taxis_net):
    """``dark_object_readout(back_gain=...)`` scales the regions behind the front band only, so
    a pillar far to the side (1.5 rad, 20 mm: a few columns of the back band) turns the fly
    harder, the right way, while one ahead drives it as before."""
    _, net = taxis_net
    e = net.encoder
    uniform = connectome_visual.dark_object_readout(net, gain=2.0)[e.vision_start :]
    back = connectome_visual.dark_object_readout(net, gain=2.0, back_gain=8.0)[e.vision_start :]
    rows_u, rows_b = (w.reshape(2, e.n_channels, e.n_regions, 6) for w in (uniform, back))
    np.testing.assert_array_equal(rows_b[:, :, 1], rows_u[:, :, 1])  # region 1: the front band
    np.testing.assert_allclose(rows_b[:, :, 0], 4.0 * rows_u[:, :, 0])  # region 0: behind it
    step = jax.jit(e.step)
    for bearing in (1.5, -1.5):
        frame = jnp.asarray(_pillar_view(bearing, distance_mm=20.0))[None]
        state = e.initial_state(1)
        for t in range(10):  # 0.2 s of the same frame
            state, f = step(e.pretrained_params, state, frame, jnp.array([t == 0]))
        turn = {}
        for name, w in (("uniform", uniform), ("back", back)):
            drive = np.asarray(f[0]) @ w
            turn[name] = np.sign(bearing) * (drive[3:].sum() - drive[:3].sum())  # towards it
        assert turn["back"] > 2.0 * turn["uniform"] > 0, (bearing, turn)


def test_visual_eval_script_smoke_and_bad_arguments(tmp_path):
    """scripts/visual_eval.py on the hand-wired readout (one short VisualTaxis episode), and its
    refusals."""
    out = tmp_path / "taxis.json"
    args = ["--task", "VisualTaxis", "--episodes", "1", "--steps", "5", "--out", str(out),
            "--ascending-gain", "-3", "--back-gain", "8"]  # fmt: skip
    result = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(out.read_text())
    assert record["task"] == "VisualTaxis" and record["success_rate"] == 0.0
    assert record["ascending_gain"] == -3.0 and record["back_gain"] == 8.0
    assert record["per_episode"][0]["steps"] == 5 and record["falls"] == 0
    for args, message in (
        ([], "give either --run RUN or --task TASK"),
        (["--task", "Pursuit", "--episodes", "0"], "need --episodes >= 1"),
        (["--run", str(tmp_path / "nowhere")], "nowhere"),
        (["--run", str(tmp_path), "--ascending-gain", "-3"], "are for the hand-wired readout"),
        (["--run", str(tmp_path), "--back-gain", "8"], "are for the hand-wired readout"),
    ):
        bad = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr[-500:]


def test_visual_eval_pursuit_figures():
    """Pursuit's figures: the distance error against the set distance over every step, the
    steps within the reward's tolerance, a lost target apart from a fall."""
    spec = importlib.util.spec_from_file_location("visual_eval", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    episodes = [
        {"distances_mm": [6.0, 7.0, 9.0], "terminated": False, "final_distance_mm": 9.0},
        {"distances_mm": [6.0, 20.0, 31.0], "terminated": True, "final_distance_mm": 31.0},
        {"distances_mm": [5.0], "terminated": True, "final_distance_mm": 5.0},
    ]
    config = ConfigDict({"target": {"follow_distance_mm": 6.0, "lost_distance_mm": 30.0},
                         "reward": {"follow_tolerance_mm": 1.5}})  # fmt: skip
    figures = module.summarise("Pursuit", episodes, config)
    np.testing.assert_allclose(figures["mean_distance_error_mm"], (4 / 3 + 39 / 3 + 1) / 3)
    np.testing.assert_allclose(figures["fraction_within_tolerance"], (2 / 3 + 1 / 3 + 1) / 3)
    assert figures["lost"] == 1 and figures["falls"] == 1
