"""The dm_env adapter (``flyenvs.dm_env.load``) passes dm_env's own conformance mixin on Walk
and a visual task, mirrors the Gymnasium spaces, keeps dm_env's TimeStep contract (discount 0
on termination, 1 on truncation, FIRST after LAST) and rejects bad names and options clearly."""

from __future__ import annotations

import functools
import unittest

import dm_env
import numpy as np
import pytest
from dm_env import specs, test_utils

from flyenvs import dm_env as fly_dm_env
from flyenvs.gym.env import FlyEnv
from flyenvs.tasks import registry

#: Short episodes: the mixin's 20-action sequence crosses a truncation (LAST -> FIRST).
EPISODE_LENGTH = 5


@functools.cache
def _gym_env(task: str) -> FlyEnv:
    """One Gymnasium env per task for the whole module (its jitted functions compile once);
    each test wraps it anew (closing only drops a renderer, none is made here)."""
    return FlyEnv(task, episode_length=EPISODE_LENGTH)


class WalkConformanceTest(test_utils.EnvironmentTestMixin, unittest.TestCase):
    def make_object_under_test(self):
        return fly_dm_env.FlyDmEnv(_gym_env("Walk"), seed=0)


class VisualTaxisConformanceTest(test_utils.EnvironmentTestMixin, unittest.TestCase):
    def make_object_under_test(self):
        return fly_dm_env.FlyDmEnv(_gym_env("VisualTaxis"), seed=0)


def test_specs_mirror_the_gymnasium_spaces():
    env = fly_dm_env.FlyDmEnv(_gym_env("VisualTaxis"), seed=0)
    gym_env = env.gym_env
    obs_spec = env.observation_spec()
    assert list(obs_spec) == list(gym_env.observation_space.spaces)
    for name, box in gym_env.observation_space.spaces.items():
        spec = obs_spec[name]
        assert isinstance(spec, specs.BoundedArray) and spec.name == name
        assert spec.shape == box.shape and spec.dtype == box.dtype == np.float32
        np.testing.assert_array_equal(np.broadcast_to(spec.minimum, box.shape), box.low)
        np.testing.assert_array_equal(np.broadcast_to(spec.maximum, box.shape), box.high)
    act = env.action_spec()
    assert act.shape == gym_env.action_space.shape and act.dtype == np.float32
    np.testing.assert_array_equal(act.minimum, gym_env.action_space.low)
    np.testing.assert_array_equal(act.maximum, gym_env.action_space.high)
    assert env.reward_spec().shape == () and env.discount_spec().shape == ()


def test_truncation_has_discount_one_then_auto_reset():
    env = fly_dm_env.FlyDmEnv(_gym_env("Walk"), seed=3)
    ts = env.reset()
    assert ts.first() and ts.reward is None and ts.discount is None
    action = np.zeros(env.action_spec().shape, np.float32)
    steps = [env.step(action) for _ in range(EPISODE_LENGTH)]
    assert all(s.mid() and s.discount == 1.0 for s in steps[:-1])
    assert steps[-1].last() and steps[-1].discount == 1.0  # truncated: bootstrap
    assert env.step(action).first()


def test_termination_has_discount_zero():
    env = fly_dm_env.FlyDmEnv(_gym_env("Walk"), seed=3)
    env.reset()
    env.gym_env._physics.qvel[:] = 1e11  # diverged physics terminates (docs/reliability.md)
    ts = env.step(np.zeros(env.action_spec().shape, np.float32))
    assert ts.last() and ts.discount == 0.0 and ts.reward == 0.0
    assert all(np.all(np.isfinite(v)) for v in ts.observation.values())
    assert env.step(None).first()  # the action after LAST is ignored


def test_seed_makes_episodes_reproducible():
    def first_obs(seed):
        env = fly_dm_env.FlyDmEnv(_gym_env("Walk"), seed=seed)
        return [env.reset().observation["joint_pos_rad"] for _ in range(2)]

    a, b, c = first_obs(1), first_obs(1), first_obs(2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[0], a[1])


def test_bad_task_name_lists_valid_names():
    with pytest.raises(KeyError, match="Walk") as err:
        fly_dm_env.load("Walkk")
    assert all(name in str(err.value) for name in registry.TASKS)


def test_bad_option_lists_valid_options():
    with pytest.raises(KeyError, match="episode_length"):
        fly_dm_env.load("Walk", episode_lenght=5)


def test_bad_option_value_and_seed_raise():
    with pytest.raises(ValueError, match="episode_length"):
        fly_dm_env.load("Walk", episode_length=0)
    with pytest.raises(TypeError, match="seed"):
        fly_dm_env.FlyDmEnv(_gym_env("Walk"), seed="0")


def test_load_returns_a_dm_env_environment():
    env = fly_dm_env.load("Walk", seed=0, episode_length=EPISODE_LENGTH)
    assert isinstance(env, dm_env.Environment)
    assert env.reset().first()
    env.close()
