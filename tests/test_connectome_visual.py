"""The visual connectome policy (eyes -> optic lobe -> DNs -> VNC -> joints): the optic lobe's
readout, the same function whether the optic lobe is frozen (run as the observation) or
trained (run in the policy), gradients into the optic lobe, and a stateful Gymnasium policy
whose descending drive turns with a rotating grating's direction."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flyenvs.brax
from agents import checkpoints, connectome_visual, policies, ppo
from agents.recurrent_ppo import driver
from agents.recurrent_ppo.encoded import EncodedObservation
from agents.recurrent_ppo.rollout import normalize
from agents.recurrent_ppo.train import init_training_state
from flyenvs.vision.lattice import N_OMMATIDIA

STEPS = 8


def _cfg(**optic_lobe):
    cfg = ppo.resolve_preset("connectome_smoke", task="Optomotor", env={"episode_length": STEPS})
    if optic_lobe:
        cfg["connectome"]["optic_lobe"] = optic_lobe
    return cfg


@pytest.fixture(scope="module")
def env():
    cfg = _cfg()
    return flyenvs.brax.make(cfg["task"], backend="mujoco", **cfg["env"])


@pytest.fixture(scope="module")
def frozen(env):
    return driver.make_network(_cfg(), env.task, env.action_size)


def test_pooling_regions_partition_the_lattice():
    pool = connectome_visual.pooling_matrix(4, 2)
    assert pool.shape == (N_OMMATIDIA, 8)
    np.testing.assert_allclose(pool.sum(axis=0), 1.0, rtol=1e-5)
    assert np.all((pool > 0).sum(axis=1) == 1)  # every column in exactly one region
    sizes = (pool > 0).sum(axis=0)
    assert sizes.min() > 40, sizes
    with pytest.raises(ValueError, match="n_azimuth and n_elevation must be >= 1"):
        connectome_visual.pooling_matrix(0, 2)


def test_frozen_policy_sizes_and_grey_gives_no_features(env, frozen):
    e = frozen.observation_encoder
    assert e is frozen.encoder and not frozen.train_optic_lobe
    assert e.feature_size == 2 * 12 * 8
    assert e.encoded_size == env.task.observation_size - 2 * N_OMMATIDIA + e.feature_size
    assert frozen.raw_observation == (e.vision_start, e.encoded_size)
    grey = jnp.full((3, 2 * N_OMMATIDIA), 0.5)
    state, f = jax.jit(e.step)(e.pretrained_params, e.initial_state(3), grey, jnp.zeros(3, bool))
    assert f.shape == (3, e.feature_size) and state.shape == (3, 2, e.circuit.network.n_neurons)
    f = f / e.feature_scale  # in voltage units
    assert float(jnp.abs(f).max()) < 1e-3  # grey after grey adaptation: nothing to report
    light = grey.at[:, :N_OMMATIDIA].set(1.0)  # the left eye sees a flash
    _, f = jax.jit(e.step)(e.pretrained_params, state, light, jnp.zeros(3, bool))
    left, right = np.abs(np.asarray(f).reshape(3, 2, -1) / e.feature_scale).max(axis=-1).T
    assert np.all(left > 0.05) and np.all(right < 1e-3)


def test_bilateral_readout_mirrors_the_drive_and_cannot_turn_by_itself(env):
    """With the fly's left-right symmetry imposed, swapping what the two eyes see swaps the two
    sides' DN drives, and equal eyes give equal drives whatever the (shared) bias."""
    net = driver.make_network(_cfg(), env.task, env.action_size)
    sym = dataclasses.replace(net, bilateral=True)
    e = sym.encoder
    params = sym.init(jax.random.PRNGKey(0), e.encoded_size)
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    params["bilateral"] = {
        "same": jax.random.normal(keys[0], params["bilateral"]["same"].shape),
        "other": jax.random.normal(keys[1], params["bilateral"]["other"].shape),
        "bias": jnp.array([0.3, -0.2, 0.5]),
    }
    walk = sym.walk_params(jax.tree.map(np.asarray, params))  # as loaded from a checkpoint
    feats = 0.3 * jax.random.normal(keys[2], (2, e.n_types * e.n_regions))
    x = jnp.zeros((2, e.encoded_size))
    x = x.at[0, e.vision_start :].set(feats.reshape(-1))
    x = x.at[1, e.vision_start :].set(feats[::-1].reshape(-1))  # the mirror image
    dn = np.asarray(sym.walk.dn_input(walk, x))
    np.testing.assert_allclose(dn[0, :3], dn[1, 3:], rtol=1e-5)
    np.testing.assert_allclose(dn[0, 3:], dn[1, :3], rtol=1e-5)
    assert np.abs(dn[0, :3] - dn[0, 3:]).max() > 1.0  # the scene is asymmetric: a turn
    blank = np.asarray(sym.walk.dn_input(walk, jnp.zeros((1, e.encoded_size))))
    np.testing.assert_allclose(blank[0, :3], blank[0, 3:])  # the bias alone cannot turn
    assert ppo.resolve_preset("connectome_optomotor_quick")["connectome"]["bilateral"] is True


def test_vision_only_readout_ignores_proprioception(env):
    """``proprio_readout = False``: the DNs see only the eyes; proprioception changes no
    drive and its readout rows get no gradient."""
    net = driver.make_network(_cfg(), env.task, env.action_size)
    blind = dataclasses.replace(net, bilateral=True, proprio_readout=False)
    e = blind.encoder
    params = blind.init(jax.random.PRNGKey(0), e.encoded_size)
    params["walk"]["readout"]["w"] = jnp.ones_like(params["walk"]["readout"]["w"])
    x = jax.random.normal(jax.random.PRNGKey(1), (2, e.encoded_size))
    x = x.at[1, e.vision_start :].set(x[0, e.vision_start :])  # same eyes, other body
    dn = lambda p: blind.walk.dn_input(blind.walk_params(p), x)  # noqa: E731
    np.testing.assert_allclose(np.asarray(dn(params))[0], np.asarray(dn(params))[1], rtol=1e-6)
    grad = jax.grad(lambda p: dn(p)[0, 0] - dn(p)[0, 4])(params)
    assert not np.any(np.asarray(grad["walk"]["readout"]["w"][: e.vision_start]))
    assert np.any(np.asarray(grad["bilateral"]["same"]))
    preset = ppo.resolve_preset("connectome_optomotor_quick")
    assert preset["connectome"]["proprio_readout"] is False


def test_feature_scale_is_the_presets_and_old_runs_keep_theirs(frozen):
    """The visual presets scale the features by 20 (both optic-lobe modes); a run configured
    without ``feature_scale`` (saved before it existed) is rebuilt with 1, as it was trained."""
    for name in ("connectome_optomotor_quick", "connectome_pursuit_quick_trained"):
        assert ppo.resolve_preset(name)["connectome"]["optic_lobe"]["feature_scale"] == 20.0
    assert "feature_scale" not in _cfg()["connectome"].get("optic_lobe", {})
    assert frozen.encoder.feature_scale == 1.0


def test_optomotor_steer_preset_reads_opponent_motion_and_draws_once_it_is_seen(env):
    """``--preset steer`` on Optomotor: 24 symmetric weights from the lobula plate's four
    opponent pairs (T4a-T4b, ...) pooled per eye, the DN offset held for the 5 s episode and
    drawn at its 26th step (0.5 s), the grating's velocity as a training-only baseline, the
    VNC frozen."""
    cfg = ppo.resolve_preset(ppo.preset_name("steer", "connectome", "Optomotor"))
    assert cfg["env"]["episode_length"] == 250 and cfg["ppo"]["split_ratio"]
    assert cfg["ppo"]["baseline_metrics"] == ["grating_speed_rad_s"]
    net = driver.make_network(cfg, env.task, env.action_size)
    assert net.encoder.channels == ("T4a-T4b", "T4c-T4d", "T5a-T5b", "T5c-T5d")
    assert net.encoder.n_regions == 1 and net.encoder.feature_size == 8
    params = net.init(jax.random.PRNGKey(0), net.encoder.encoded_size)
    assert sum(params["bilateral"][k].size for k in ("same", "other")) == 24
    assert net.walk.dn_noise_held and net.walk.draw_step == 25
    assert net.walk.circuit.trainable == () and not net.train_optic_lobe


def test_optomotor_controls_differ_from_the_steer_preset_in_one_thing_each():
    """The controls of ``steer`` on Optomotor (docs/visual_connectome.md): the optic lobe
    rewired, degrees preserved (everything else the same), and the MLP on raw luminance with
    the same env, episodes, advantages and baseline."""
    steer = ppo.resolve_preset(ppo.preset_name("steer", "connectome", "Optomotor"))
    shuffled = ppo.resolve_preset(ppo.preset_name("steer_shuffled", "connectome", "Optomotor"))
    assert shuffled["connectome"]["optic_lobe"] == {
        **steer["connectome"]["optic_lobe"],
        "wiring": "shuffled",
        "shuffle_seed": 0,
    }
    assert {k: v for k, v in shuffled.items() if k not in ("connectome", "preset")} == {
        k: v for k, v in steer.items() if k not in ("connectome", "preset")
    }
    mlp = ppo.resolve_preset(ppo.preset_name("steer", "feedforward", "Optomotor"))
    assert mlp["policy"] == "feedforward" and mlp["task"] == "Optomotor"
    assert mlp["env"] == steer["env"]
    same = ("num_timesteps", "unroll_length", "discounting", "gae_lambda", "baseline_metrics")
    assert {k: mlp["ppo"][k] for k in same} == {k: steer["ppo"][k] for k in same}


def test_opponent_channels_are_the_layer_differences(env):
    """``optic_lobe.opponent``: each channel is the difference of its pair's type features
    (same voltages, same pooling), so the hand-wired optomotor readout drives the DNs
    identically through either; without all eight T4/T5 types it is refused."""
    types = [f"T{k}{d}" for k in (4, 5) for d in "abcd"]
    nets = {
        opp: driver.make_network(
            _cfg(readout_types=types, n_azimuth=2, n_elevation=1, opponent=opp),
            env.task, env.action_size,
        )
        for opp in (False, True)
    }  # fmt: skip
    e0, e1 = nets[False].encoder, nets[True].encoder
    v = e0.initial_state(3) + 0.5 * jax.random.normal(jax.random.PRNGKey(0), (3, 2, 45669))
    f0 = np.asarray(e0.features(v)).reshape(3, 2, 8, 2)
    f1 = np.asarray(e1.features(v)).reshape(3, 2, 4, 2)
    for i, (a, b) in enumerate(connectome_visual.OPPONENT_PAIRS):
        np.testing.assert_allclose(f1[:, :, i], f0[:, :, types.index(a)] - f0[:, :, types.index(b)],
                                   atol=1e-5)  # fmt: skip
    drive = {
        opp: np.asarray(e.features(v)) @ connectome_visual.optomotor_readout(n)[e.vision_start :]
        for opp, n, e in ((False, nets[False], e0), (True, nets[True], e1))
    }
    np.testing.assert_allclose(drive[True], drive[False], atol=1e-5)
    assert np.abs(drive[True]).max() > 1e-3
    with pytest.raises(ValueError, match=r"opponent channels need readout types \['T5c', 'T5d'\]"):
        driver.make_network(_cfg(readout_types=types[:6], opponent=True), env.task,
                            env.action_size)  # fmt: skip


def test_named_opponent_channels_are_a_subset_of_all_four(env):
    """``optic_lobe.opponent`` as names (the ``steer_horizontal`` preset's horizontal pairs):
    those channels of the four, from the readout types they need; bad names are refused with
    the valid ones, a missing type with its name."""
    full = driver.make_network(
        _cfg(readout_types=[f"T{k}{d}" for k in (4, 5) for d in "abcd"], n_azimuth=1,
             n_elevation=1, opponent=True), env.task, env.action_size,
    ).encoder  # fmt: skip
    hs = driver.make_network(
        _cfg(readout_types=["T4a", "T4b", "T5a", "T5b"], n_azimuth=1, n_elevation=1,
             opponent=["T4a-T4b", "T5a-T5b"]), env.task, env.action_size,
    ).encoder  # fmt: skip
    assert hs.channels == ("T4a-T4b", "T5a-T5b") and hs.feature_size == 4
    v = full.initial_state(2) + 0.5 * jax.random.normal(jax.random.PRNGKey(1), (2, 2, 45669))
    f_full = np.asarray(full.features(v)).reshape(2, 2, 4)
    np.testing.assert_allclose(np.asarray(hs.features(v)).reshape(2, 2, 2), f_full[:, :, [0, 2]],
                               atol=1e-5)  # fmt: skip
    with pytest.raises(ValueError, match=r"distinct channel names of \['T4a-T4b'"):
        driver.make_network(_cfg(readout_types=["T4a", "T4b"], opponent=["T4a-T4c"]),
                            env.task, env.action_size)  # fmt: skip
    with pytest.raises(ValueError, match=r"need readout types \['T5a', 'T5b'\]"):
        driver.make_network(_cfg(readout_types=["T4a", "T4b"], opponent=["T5a-T5b"]),
                            env.task, env.action_size)  # fmt: skip


def test_bad_visual_configurations_raise_clearly(env):
    with pytest.raises(KeyError, match="unknown optic_lobe options"):
        driver.make_network(_cfg(tiers=3), env.task, env.action_size)
    with pytest.raises(ValueError, match="unknown"):
        driver.make_network(_cfg(trainable=["weights"]), env.task, env.action_size)
    with pytest.raises(ValueError, match="feature_scale must be > 0"):
        driver.make_network(_cfg(feature_scale=0.0), env.task, env.action_size)
    with pytest.raises(ValueError, match="Lawf1 has 123 neurons"):
        driver.make_network(_cfg(readout_types=["Lawf1"]), env.task, env.action_size)
    with pytest.raises(ValueError, match="wiring must be 'connectome' or 'shuffled'"):
        driver.make_network(_cfg(wiring="random"), env.task, env.action_size)
    walk = flyenvs.brax.make("Walk", backend="mujoco", action_mode="joints")
    with pytest.raises(ValueError, match="needs a visual task"):
        connectome_visual.make(walk.task)


def test_frozen_and_trained_optic_lobe_compute_the_same_policy(env, frozen):
    """Frozen, the trainer runs the optic lobe as the observation (EncodedObservation);
    trained, the policy runs it. With the same (pretrained) parameters: the same actions."""
    trained = driver.make_network(
        _cfg(trainable=["bias", "time_const_s", "strength"]), env.task, env.action_size
    )
    assert trained.observation_encoder is None and trained.train_optic_lobe
    e = frozen.encoder
    st = init_training_state(frozen, e.encoded_size, 1e-3, 0.5)
    w = st["network"]["walk"]["readout"]["w"]
    st["network"]["walk"]["readout"]["w"] = 0.3 * jax.random.normal(jax.random.PRNGKey(0), w.shape)
    p_frozen, norm = st["network"], st["normalizer"]
    st_t = init_training_state(trained, e.obs_size, 1e-3, 0.5)  # fresh statistics: identity
    p_trained, norm_t = (
        {**p_frozen, "optic_lobe": st_t["network"]["optic_lobe"]},
        st_t["normalizer"],
    )

    wrapped = EncodedObservation(flyenvs.brax.wrap_for_training(env, STEPS), e)
    s = jax.jit(wrapped.reset)(jax.random.split(jax.random.PRNGKey(2), 2))
    raw = jnp.stack([s.info["raw_obs"], jnp.roll(s.info["raw_obs"], 1, axis=0)])
    reset = jnp.array([[True, True], [False, False]])

    @jax.jit
    def both(raw, reset):
        def body(c, x):
            enc, cf, ct = c
            o, r = x
            enc, f = e.step(e.pretrained_params, enc, o[:, e.vision_start :], r)
            cf, (mf, _), vf = frozen.apply(p_frozen, cf, normalize(frozen, norm, e.encode(o, f)), r)
            ct, (mt, _), vt = trained.apply(p_trained, ct, normalize(trained, norm_t, o), r)
            return (enc, cf, ct), (mf, mt, vf, vt)

        init = (e.initial_state(2), frozen.initial_carry(2), trained.initial_carry(2))
        return jax.lax.scan(body, init, (raw, reset))[1]

    mf, mt, vf, vt = both(raw, reset)
    np.testing.assert_allclose(np.asarray(mf), np.asarray(mt), atol=1e-5)
    np.testing.assert_allclose(np.asarray(vf), np.asarray(vt), atol=1e-4)
    assert float(jnp.abs(mf[1] - mf[0]).max()) > 1e-3  # the frames differ, so do the actions


def test_policy_gradient_reaches_the_trained_optic_lobe(env):
    trained = driver.make_network(_cfg(trainable=["strength"]), env.task, env.action_size)
    e = trained.encoder
    params = trained.init(jax.random.PRNGKey(0), e.obs_size)
    w = params["walk"]["readout"]["w"]
    params["walk"]["readout"]["w"] = jax.random.normal(jax.random.PRNGKey(1), w.shape)
    obs = jax.random.uniform(jax.random.PRNGKey(2), (1, e.obs_size))

    def mean_action(p):
        carry = trained.initial_carry(1)
        carry, (m, _), _ = trained.apply(p, carry, obs, jnp.ones(1, bool))
        _, (m, _), _ = trained.apply(p, carry, obs, jnp.zeros(1, bool))
        return jnp.sum(m**2)

    g = jax.jit(jax.grad(mean_action))(params)["optic_lobe"]
    assert float(jnp.abs(g["strength"]).max()) > 0
    assert float(jnp.abs(g["bias"]).max()) == 0 and float(jnp.abs(g["time_const_s"]).max()) == 0


def _grating_frames(direction: str, seed: int, n: int) -> np.ndarray:
    """[n, 1442] eye frames of a still fly (the reset pose of ``seed``) watching the Optomotor
    grating turn ``direction``, one per 20 ms control step (the tasks' 50 Hz refresh)."""
    genv = gym.make("flyenvs/Optomotor-v1", action_mode="joints", grating={"direction": direction})
    genv.reset(seed=seed)
    u = genv.unwrapped
    readout, info = u._stepper.backend.readout(u._physics), dict(u._info)
    frames = []
    for _ in range(n):
        frames.append(np.asarray(u.task.vision(readout, info)).reshape(-1))
        info["arena"] = u.task._advance_arena(info["arena"], u.task.config.control_dt_s)
    genv.close()
    return np.stack(frames)


def test_optic_lobe_in_the_loop_sees_the_grating_direction(frozen):
    """The eyes at 50 Hz -> optic lobe (4 steps of 5 ms per frame) -> features: the horizontal
    motion signal (T4a + T5a - T4b - T5b, mean over the eye) of each eye reverses with the
    grating's direction, oppositely in the two eyes (a yaw rotation), on every seed."""
    e = frozen.encoder
    types = list(e.circuit.readout_types)
    step = jax.jit(e.step)
    idx = {t: types.index(t) for t in ("T4a", "T5a", "T4b", "T5b")}
    for seed in (0, 1):
        yaw = {}
        for direction in ("left", "right"):
            state, motion = e.initial_state(1), []
            for t, frame in enumerate(_grating_frames(direction, seed, 15)):
                state, f = step(e.pretrained_params, state, frame[None], jnp.array([t == 0]))
                f = np.asarray(f).reshape(2, e.n_types, e.n_regions).mean(axis=-1)
                f = f / e.feature_scale
                a = f[:, idx["T4a"]] + f[:, idx["T5a"]] - f[:, idx["T4b"]] - f[:, idx["T5b"]]
                motion.append(a)
            left_eye, right_eye = np.mean(motion[5:], axis=0)  # after the onset transient
            assert left_eye * right_eye < 0, (seed, direction, left_eye, right_eye)
            yaw[direction] = left_eye - right_eye
        assert yaw["left"] > 0.1 and yaw["right"] < -0.1, (seed, yaw)


def test_gymnasium_policy_holds_the_optic_lobe_state_and_sees(tmp_path, env, frozen):
    """``policies.load`` on a visual run: a stateful policy in a plain gymnasium.make loop,
    reporting its optic lobe's readout maps and DN drives; with a readout of the T4/T5
    yaw signal its actions differ when the grating turns the other way."""
    cfg = _cfg()
    st = init_training_state(frozen, frozen.encoder.encoded_size, 1e-3, 0.5)
    w = st["network"]["walk"]["readout"]["w"]
    st["network"]["walk"]["readout"]["w"] = jnp.asarray(
        connectome_visual.optomotor_readout(frozen, gain=0.3)
    )
    assert w.shape == st["network"]["walk"]["readout"]["w"].shape
    checkpoints.save(tmp_path, 640, st, driver.run_meta(cfg, env))
    policy = policies.load(tmp_path)
    assert isinstance(policy, policies.RecurrentPolicy)

    actions = {}
    for direction in ("left", "right"):
        config = {**policy.env_config}
        config["grating"] = {**config["grating"], "direction": direction}
        genv = gym.make(policy.gym_id, **config)
        obs, _ = genv.reset(seed=3)
        policy.reset()
        acts = []
        for _ in range(4):
            acts.append(policy(obs))
            assert policy.activity["readout_maps"].shape == (2, 12, N_OMMATIDIA)
            assert policy.activity["dn_input"].shape == (6,)
            obs, *_ = genv.step(acts[-1])
        genv.close()
        actions[direction] = np.stack(acts)
    assert policy.state is not None
    np.testing.assert_array_equal(actions["left"][0], actions["right"][0])  # same first frame
    assert np.abs(actions["left"][-1] - actions["right"][-1]).max() > 1e-3

    # scripts/evaluate.py: camera | DN drives and motor pools | eyes and T4/T5 maps
    import sys
    from pathlib import Path

    import imageio.v3 as iio

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import evaluate

    out = tmp_path / "v.mp4"
    argv = [str(tmp_path), "--out", str(out), "--episodes", "1", "--steps", "4"]
    assert evaluate.main([*argv, "--size", "120", "160"]) == 0
    frames = iio.imread(out)  # the visual env's own render is camera + eyes
    assert frames.shape[0] == 4 and frames.shape[2] > 160 + 240 + 150, frames.shape
    vision = frames[-1][:, -150:].astype(float)
    assert vision.std() > 5  # eyes and T4/T5 maps drawn


def test_encoded_observation_restarts_the_optic_lobe_where_an_episode_starts(env, frozen):
    """The frozen optic lobe runs as the observation: its voltages carry over within an
    episode and restart from grey on the next episode's first frame (auto-reset)."""
    e = frozen.encoder
    wrapped = EncodedObservation(flyenvs.brax.wrap_for_training(env, episode_length=3), e)
    assert wrapped.observation_size == e.encoded_size
    step = jax.jit(wrapped.step)
    s = jax.jit(wrapped.reset)(jax.random.split(jax.random.PRNGKey(0), 2))
    zero = jnp.zeros((2, env.action_size))
    fresh = jax.jit(e.step)
    grey = e.initial_state(2)
    for t in range(3):
        s = step(s, zero)
        frame = s.info["raw_obs"][:, e.vision_start :]
        restarted, f = fresh(e.pretrained_params, grey, frame, jnp.ones(2, bool))
        gap = float(jnp.abs(s.info["encoder_state"] - restarted).max())
        if t < 2:  # mid-episode: the state carries over (differs from a restart)
            assert not bool(s.done.any()) and gap > 1e-3
        else:  # the time limit ended both episodes: restarted on the new first frame
            assert bool(s.done.all()) and gap < 1e-5
            np.testing.assert_allclose(s.obs[:, e.vision_start :], f, atol=1e-6)
            assert s.obs.shape == (2, e.encoded_size)


def test_optomotor_handwired_script_smoke(tmp_path):
    """scripts/optomotor_handwired.py: the hand-wired optomotor reference (one speed)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "optomotor_handwired.py"
    out = tmp_path / "o.json"
    args = ["--speeds", "1.0", "--episodes", "1", "--steps", "6", "--warmup-steps", "2"]
    result = subprocess.run(
        [sys.executable, str(script), *args, "--out", str(out)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["direction"] for r in rows] == ["left", "right"]
    assert all(np.isfinite(r["turn_rate_rad_s"]) and r["falls"] == 0 for r in rows)
    assert all(len(r["episode_turn_rates_rad_s"]) == 1 for r in rows)
    bad = subprocess.run(
        [sys.executable, str(script), "--speeds", "0"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--speeds must be > 0" in bad.stderr
    missing = subprocess.run(
        [sys.executable, str(script), "--run", str(tmp_path / "nowhere")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert missing.returncode == 2 and "nowhere" in missing.stderr, missing.stderr[-500:]
