"""Gymnasium front end of Walk: registration, check_env, determinism, vector envs, bad input."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import flyenvs  # noqa: F401  (registers the ids)
from flyenvs.gym import ENV_IDS

SHORT = {"episode_length": 60}


@pytest.fixture(scope="module")
def env():
    e = gym.make("flyenvs/Walk-v1", render_mode="rgb_array", **SHORT)
    yield e
    e.close()


def test_ids_registered_on_import():
    assert set(ENV_IDS) <= set(gym.registry)
    assert sorted(ENV_IDS) == [
        "flyenvs/Optomotor-v1", "flyenvs/Pursuit-v1", "flyenvs/VisualTaxis-v1", "flyenvs/Walk-v1"
    ]  # fmt: skip


def test_replaced_v0_id_points_to_v1():
    with pytest.raises(gym.error.DeprecatedEnv, match="Walk-v1"):
        gym.make("flyenvs/Walk-v0")


def test_observation_is_a_dict_of_named_entries(env):
    obs, info = env.reset(seed=0)
    assert list(obs) == [
        "joint_pos_rad", "joint_vel_rad_s", "body_linvel_mm_s", "body_angvel_rad_s",
        "gravity_body", "tarsus_contact", "tarsus_force_log", "command", "walking_velocity",
        "prev_action", "controller",
    ]  # fmt: skip
    assert obs["joint_pos_rad"].shape == (42,) and obs["controller"].shape == (18,)
    np.testing.assert_array_equal(obs["command"], info["command"])
    flat = gym.wrappers.FlattenObservation(gym.make("flyenvs/Walk-v1", **SHORT))
    vector, _ = flat.reset(seed=0)
    assert vector.shape == (135,) and flat.observation_space.contains(vector)


@pytest.mark.parametrize("mode", ["cpg", "joints", "vnc"])
def test_check_env_passes_without_warnings(mode):
    e = gym.make("flyenvs/Walk-v1", action_mode=mode, **SHORT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(e.unwrapped, skip_render_check=True)
    e.close()


def test_same_seed_same_rollout_and_seeds_differ():
    envs = [gym.make("flyenvs/Walk-v1", **SHORT) for _ in range(3)]
    obs = [e.reset(seed=s)[0] for e, s in zip(envs, (7, 7, 8), strict=True)]
    for key in obs[0]:
        np.testing.assert_array_equal(obs[0][key], obs[1][key])
    assert not np.allclose(obs[0]["joint_pos_rad"], obs[2]["joint_pos_rad"])
    rng = np.random.default_rng(0)
    for _ in range(50):
        action = rng.uniform(-1, 1, 8).astype(np.float32)
        out_a, out_b = envs[0].step(action), envs[1].step(action)
        for key in out_a[0]:
            np.testing.assert_array_equal(out_a[0][key], out_b[0][key])
        assert out_a[1:4] == out_b[1:4]
    for e in envs:
        e.close()


def test_nominal_gait_walks_forward_and_logs_reward_terms(env):
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert all(x.dtype == np.float32 for x in obs.values())
    xs, speeds = [], []
    for _ in range(50):
        obs, reward, terminated, truncated, info = env.step(np.zeros(8, np.float32))
        assert not terminated and np.isfinite(reward)
        xs.append(info["x_mm"])
        speeds.append(info["forward_speed_mm_s"])
    assert xs[-1] > 5.0  # the zero action is the nominal tripod gait: ~7 mm/s for 1 s
    assert 5.0 < np.mean(speeds[10:]) < 25.0
    terms = {k for k in info if k.startswith("reward/")}
    assert terms == {"reward/speed", "reward/turn", "reward/upright", "reward/energy",
                     "reward/action_rate"}  # fmt: skip
    np.testing.assert_allclose(sum(info[k] for k in terms), reward, rtol=1e-5, atol=1e-6)


def test_truncation_at_episode_length():
    e = gym.make("flyenvs/Walk-v1", episode_length=3)
    e.reset(seed=0)
    flags = [e.step(np.zeros(8, np.float32))[3] for _ in range(3)]
    assert flags == [False, False, True]
    e.close()


def test_render_tracking_camera(env):
    env.reset(seed=1)
    env.step(env.action_space.sample())
    frame = env.render()
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
    assert frame.std() > 5.0  # not a blank image


def test_make_vec_four_envs():
    vec = gym.make_vec("flyenvs/Walk-v1", num_envs=4, **SHORT)
    obs, _ = vec.reset(seed=0)
    assert obs["joint_pos_rad"].shape == (4, 42)
    assert not np.allclose(obs["joint_pos_rad"][0], obs["joint_pos_rad"][1])
    obs, reward, terminated, truncated, _ = vec.step(vec.action_space.sample())
    assert reward.shape == (4,) and all(np.all(np.isfinite(x)) for x in obs.values())
    vec.close()


def test_bad_actions_raise_clear_errors(env):
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(8,\)"):
        env.step(np.zeros(7, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(8, np.nan, np.float32))


def test_unknown_kwarg_lists_valid_options():
    with pytest.raises(KeyError, match="valid options: .*action_mode"):
        gym.make("flyenvs/Walk-v1", max_speed=3)


def test_bad_render_mode():
    from flyenvs.gym.env import FlyEnv

    with pytest.raises(ValueError, match="render_mode"):
        FlyEnv(render_mode="human")


def test_step_before_reset():
    e = gym.make("flyenvs/Walk-v1", disable_env_checker=True)
    with pytest.raises(RuntimeError, match="reset"):
        e.unwrapped.step(np.zeros(8, np.float32))
