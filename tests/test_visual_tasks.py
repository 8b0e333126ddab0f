"""Visual tasks on the Gymnasium / C MuJoCo side: registration, check_env, determinism, what
the eyes see, the hand-written taxis controller, bad input.

MJX (Brax) tests are in ``test_visual_tasks_mjx.py``; the PPO run in ``test_visual_tasks_ppo.py``.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import jax
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import flyenvs  # noqa: F401
from flyenvs.gym import ENV_IDS
from flyenvs.sim.mujoco_backend import MujocoBackend
from flyenvs.tasks import driver, registry, visual_optomotor, visual_pursuit, visual_taxis
from flyenvs.tasks.visual_optomotor import optomotor_signal
from flyenvs.tasks.visual_taxis import steer_to_darker_eye
from flyenvs.vision import ommatidia_directions

IDS = sorted(i for i, name in ENV_IDS.items() if registry.TASKS[name].visual)
SHORT = {"episode_length": 40}


@pytest.fixture(scope="module")
def taxis_env():
    env = gym.make("flyenvs/VisualTaxis-v1", render_mode="rgb_array", episode_length=250)
    yield env
    env.close()


def test_ids_and_tasks_registered():
    assert set(IDS) <= set(gym.registry)
    assert {"VisualTaxis", "Optomotor", "Pursuit"} <= set(registry.TASKS)
    assert IDS == ["flyenvs/Optomotor-v1", "flyenvs/Pursuit-v1", "flyenvs/VisualTaxis-v1"]


@pytest.mark.parametrize("env_id", IDS)
def test_check_env_passes_and_vision_is_a_2_by_721_entry(env_id):
    env = gym.make(env_id, **SHORT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert "command" not in info
    assert env.observation_space["vision"].shape == (2, 721)
    assert list(obs) == list(env.observation_space.spaces) and "command" not in obs
    vision = obs["vision"]
    assert vision.shape == (2, 721) and vision.dtype == np.float32
    assert vision.min() >= 0.0 and vision.max() <= 1.0 and vision.std() > 0.05
    np.testing.assert_array_equal(env.unwrapped.vision, vision)
    flat = gym.wrappers.FlattenObservation(env)
    assert flat.reset(seed=3)[0].shape == (env.unwrapped.task.observation_size,)
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_rollout_and_seeds_differ(env_id):
    envs = [gym.make(env_id, **SHORT) for _ in range(3)]
    obs = [e.reset(seed=s)[0] for e, s in zip(envs, (5, 5, 6), strict=True)]
    for key in obs[0]:
        np.testing.assert_array_equal(obs[0][key], obs[1][key])
    # the arena differs across seeds, so the vision does
    assert not np.allclose(obs[0]["vision"], obs[2]["vision"])
    rng = np.random.default_rng(0)
    for _ in range(8):
        action = rng.uniform(-1, 1, 8).astype(np.float32)
        out_a, out_b = envs[0].step(action), envs[1].step(action)
        for key in out_a[0]:
            np.testing.assert_array_equal(out_a[0][key], out_b[0][key])
        assert out_a[1:4] == out_b[1:4]
        assert out_a[4] == out_b[4]
    for e in envs:
        e.close()


def _upper_darkness(vision: np.ndarray) -> np.ndarray:
    upper = ommatidia_directions()[..., 2] > 0.05
    return np.array([(1.0 - vision[i][upper[i]]).mean() for i in range(2)])


@pytest.mark.parametrize("bearing, darker_eye, turn", [(1.0, 0, -0.5), (-1.0, 1, 0.5)])
def test_pillar_darkens_the_eye_on_its_side(bearing, darker_eye, turn):
    env = gym.make("flyenvs/VisualTaxis-v1", **{"target.bearing_rad": (bearing, bearing)})
    obs, _ = env.reset(seed=0)
    vision = env.unwrapped.vision
    dark = _upper_darkness(vision)
    assert dark[darker_eye] > dark[1 - darker_eye] + 0.01
    assert float(steer_to_darker_eye(vision)[7]) == turn
    info = env.unwrapped._info["arena"]
    target = np.asarray(info["target_mm"])
    assert np.isclose(np.arctan2(target[1], target[0]), bearing, atol=0.02)
    env.close()


def test_darker_eye_controller_reaches_the_pillar(taxis_env):
    """The hand-written controller reaches the pillar from bearings up to ~110 deg."""
    policy = jax.jit(steer_to_darker_eye)
    for seed in (2, 3, 4):
        obs, _ = taxis_env.reset(seed=seed)
        start = float(
            np.linalg.norm(np.asarray(taxis_env.unwrapped._info["arena"]["target_mm"])[:2])
        )
        total = 0.0
        for _ in range(250):
            action = np.asarray(policy(obs["vision"]))
            obs, reward, terminated, truncated, info = taxis_env.step(action)
            total += reward
            if terminated or truncated:
                break
        assert terminated and info["success"] == 1.0, (seed, info)
        assert info["distance_mm"] < taxis_env.unwrapped.config.target.success_radius_mm
        assert info["reward/success"] == taxis_env.unwrapped.config.reward.success
        # approach rewards add up to about the distance closed (scale 1 per 0.2 mm)
        assert total > 0.5 * (start - 4.0) / 0.2


def test_walking_straight_does_not_reach_a_pillar_behind(taxis_env):
    """The controller's success is not free: ignoring vision the fly misses the pillar."""
    obs, _ = taxis_env.reset(seed=4)  # pillar about 80 deg to the left
    for _ in range(150):
        obs, _, terminated, _, info = taxis_env.step(np.zeros(8, np.float32))
        assert not terminated
    assert info["distance_mm"] > 15.0


def test_render_shows_pillar_and_eyes(taxis_env):
    taxis_env.reset(seed=2)
    frame = taxis_env.render()
    height, width = visual_height_width(taxis_env)
    assert frame.shape == (height, width, 3) and frame.dtype == np.uint8
    physics = taxis_env.unwrapped._physics
    target = np.asarray(taxis_env.unwrapped._info["arena"]["target_mm"])
    np.testing.assert_allclose(physics.mocap_pos[0], target, atol=1e-5)
    # the eyes' panel is drawn (not blank) right of the 320 px camera image
    assert frame[:, 320:].std() > 10


def visual_height_width(env) -> tuple[int, int]:
    from flyenvs.vision import hex_image

    eyes = hex_image(env.unwrapped.vision, cell_px=4)
    return max(240, eyes.shape[0]), 320 + eyes.shape[1]


def test_render_does_not_change_the_rollout():
    envs = [gym.make("flyenvs/VisualTaxis-v1", render_mode="rgb_array", **SHORT) for _ in range(2)]
    for e in envs:
        e.reset(seed=1)
    for _ in range(3):
        envs[0].render()
        out = [e.step(np.zeros(8, np.float32))[0] for e in envs]
        for key in out[0]:
            np.testing.assert_array_equal(out[0][key], out[1][key])
    for e in envs:
        e.close()


@pytest.fixture(scope="module")
def optomotor_pose():
    """(task, info, readout) of a standing fly at the start of an Optomotor episode."""

    def make(direction: str):
        task = registry.make_task("Optomotor", **{"grating.direction": direction})
        stepper = driver.NumpyStepper(task, MujocoBackend(task.model))
        physics, _, info = stepper.reset(jax.random.PRNGKey(0))
        return task, info, stepper.backend.readout(physics)

    return make


@pytest.mark.parametrize("direction, sign", [("left", 1.0), ("right", -1.0)])
def test_rotating_grating_gives_consistent_motion_signal(optomotor_pose, direction, sign):
    task, info, readout = optomotor_pose(direction)
    arena = info["arena"]
    assert np.sign(float(arena["omega_rad_s"])) == sign
    vision = jax.jit(task.vision)
    prev = vision(readout, info)
    for _ in range(10):
        arena = task._advance_arena(arena, task.config.control_dt_s)
        now = vision(readout, {**info, "arena": arena})
        assert not np.allclose(now, prev)
        assert sign * float(optomotor_signal(now, prev)) > 0.02
        prev = now


def test_grating_shifted_by_one_period_looks_the_same(optomotor_pose):
    task, info, readout = optomotor_pose("left")
    arena = info["arena"]
    shifted = {**arena, "angle_rad": arena["angle_rad"] + arena["period_rad"]}
    half = {**arena, "angle_rad": arena["angle_rad"] + 0.5 * arena["period_rad"]}
    base = np.asarray(task.vision(readout, info))
    np.testing.assert_allclose(task.vision(readout, {**info, "arena": shifted}), base, atol=1e-3)
    assert np.abs(np.asarray(task.vision(readout, {**info, "arena": half})) - base).max() > 0.5


def test_optomotor_reward_follows_the_grating_direction():
    overrides = {"grating.direction": "left", "grating.speed_rad_s": (1.5, 1.5)}
    env = gym.make("flyenvs/Optomotor-v1", **overrides, **SHORT)
    turns = {}
    for name, a7 in (("left", -0.3), ("right", 0.3)):
        env.reset(seed=0)
        action = np.zeros(8, np.float32)
        action[7] = a7  # a moderate turn (a[7] < 0 turns left)
        out = [env.step(action)[4] for _ in range(40)]
        turns[name] = np.mean([o["reward/turn"] for o in out[15:]])
        assert np.all([o["grating_speed_rad_s"] == 1.5 for o in out])
    assert turns["left"] > turns["right"] + 0.2
    env.close()


def test_pursuit_target_moves_smoothly_and_is_seen():
    task = registry.make_task("Pursuit")
    _, _, info = task.reset(jax.random.PRNGKey(0))
    arena, heading, pos = info["arena"], [], []
    for _ in range(200):
        arena = task._advance_arena(arena, task.config.control_dt_s)
        heading.append(float(arena["heading_rad"]))
        pos.append(np.asarray(arena["pos_mm"]))
    step = np.linalg.norm(np.diff(pos, axis=0), axis=1)
    np.testing.assert_allclose(step, float(arena["speed_mm_s"]) * 0.02, rtol=1e-3)
    turn = np.diff(np.unwrap(heading))
    assert np.abs(np.diff(turn)).max() < 0.01  # smooth: the turn rate changes little per step
    assert np.abs(turn).max() <= 2 * task.config.target.turn_amplitude_rad_s * 0.02 + 1e-6
    env = gym.make("flyenvs/Pursuit-v1", **SHORT)
    obs, _ = env.reset(seed=0)
    # the dark sphere 6 mm ahead darkens a patch of ommatidia; moved away, they brighten
    env_task, info = env.unwrapped.task, env.unwrapped._info
    readout = env.unwrapped.backend.readout(env.unwrapped._physics)
    far = {**info, "arena": {**info["arena"], "pos_mm": np.array([1e4, 1e4], np.float32)}}
    darkened = np.asarray(env_task.vision(readout, far)) - env.unwrapped.vision
    assert (darkened > 0.3).sum() >= 5
    _, reward, _, _, info = env.step(np.zeros(8, np.float32))
    assert 0.0 < info["reward/follow"] <= 1.0 and info["distance_mm"] > 0
    env.close()


def test_pursuit_terminates_when_the_target_is_lost():
    env = gym.make("flyenvs/Pursuit-v1", **{"target.lost_distance_mm": 7.0, **SHORT})
    env.reset(seed=0)
    action = np.zeros(8, np.float32)
    action[7] = 1.0  # turn away to the right
    for _ in range(SHORT["episode_length"]):
        _, _, terminated, _, info = env.step(action)
        if terminated:
            break
    assert terminated and info["distance_mm"] > 7.0
    env.close()


@pytest.mark.parametrize(
    "module, overrides, match",
    [
        (visual_taxis, {"target.distance_mm": (5.0, 2.0)}, "low <= high"),
        (visual_taxis, {"target.distance_mm": (2.0, 5.0)}, "success_radius"),
        (visual_taxis, {"target.radius_mm": -1.0}, "radius_mm"),
        (visual_taxis, {"reward.approach": -1.0}, "scale"),
        (visual_taxis, {"vision.n_rays": 3}, "n_rays"),
        (visual_taxis, {"vision.ground": "stripes"}, "vision.ground"),
        (visual_taxis, {"vision.sky_lum": 2.0}, "luminances"),
        (visual_taxis, {"action_mode": "torque"}, "action_mode"),
        (visual_optomotor, {"grating.direction": "up"}, "direction"),
        (visual_optomotor, {"grating.n_periods": (0, 4)}, "n_periods"),
        (visual_optomotor, {"grating.speed_rad_s": (-1.0, 1.0)}, ">= 0"),
        (visual_pursuit, {"target.lost_distance_mm": 3.0}, "lost_distance"),
        (visual_pursuit, {"reward.follow_margin_mm": 0.0}, "follow_margin"),
    ],
)
def test_bad_options_raise_clear_errors(module, overrides, match):
    with pytest.raises(ValueError, match=match):
        module.default_config(**overrides)


def test_unknown_option_and_task_raise():
    with pytest.raises(KeyError, match="valid options"):
        visual_taxis.default_config(command={"fixed": True})
    with pytest.raises(KeyError, match="valid"):
        gym.make("flyenvs/VisualTaxis-v1", task_name="Fly")


def test_default_config_is_fresh_and_locked():
    a = visual_taxis.default_config()
    a.target.radius_mm = 3.0
    assert visual_taxis.default_config().target.radius_mm == 1.5
    with pytest.raises(AttributeError):
        a.target.new_option = 1.0


def test_taxis_demo_script_writes_video(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "taxis_demo.py"
    out = tmp_path / "demo.mp4"
    result = subprocess.run(
        [sys.executable, str(script), "--out", str(out), "--max-steps", "3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "steps 3" in result.stdout
    assert out.stat().st_size > 1000 and out.with_suffix(".png").is_file()
    bad = subprocess.run(
        [sys.executable, str(script), "--max-steps", "0"], capture_output=True, text=True
    )
    assert bad.returncode != 0 and "--max-steps" in bad.stderr


@pytest.mark.slow
def test_stable_baselines3_multi_input_policy_accepts_the_visual_envs():
    """SB3's ``MultiInputPolicy`` builds on the ``Dict`` space and runs a short PPO update."""
    sb3 = pytest.importorskip(
        "stable_baselines3", reason="Stable-Baselines3 (and torch) are not in the dev extra"
    )
    env = gym.make("flyenvs/VisualTaxis-v1", **SHORT)
    model = sb3.PPO("MultiInputPolicy", env, n_steps=16, batch_size=16, n_epochs=1, seed=0)
    model.learn(total_timesteps=16)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action.astype(np.float32))
    env.close()
