"""The ``joints`` action mode's chunks (``action.joints.n_chunk``): C rows of 42 targets per
action, row c held for its share of the control period."""

from __future__ import annotations

import gymnasium as gym
import jax.numpy as jnp
import numpy as np
import pytest

import flyenvs  # noqa: F401  (registers the ids)
from flyenvs.body import constants
from flyenvs.tasks.action_modes.joints import JointController

RANGE = np.stack([-np.ones(42), np.ones(42) * 3.0], axis=1).astype(np.float32)


def test_rows_are_held_in_order_for_their_share_of_the_period():
    c = JointController(RANGE, n_inner=10, n_chunk=5)
    assert c.action_low.shape == (5 * 48,)
    assert c.action_low[42:48].tolist() == [0.0] * 6 and c.action_low[48] == -1.0
    rows = np.linspace(-1, 1, 5, dtype=np.float32)
    adh = np.linspace(0, 1, 5, dtype=np.float32)
    action = np.concatenate(
        [np.r_[np.full(42, r), np.full(6, a)] for r, a in zip(rows, adh, strict=True)]
    )
    ctrl, adhesion, _ = c.schedule(jnp.asarray(action), c.init(None, None), None)
    assert ctrl.shape == (10, 42) and adhesion.shape == (10, 6)
    expected_rad = -1.0 + 0.5 * (np.repeat(rows, 2) + 1.0) * 4.0  # each row for 2 updates
    np.testing.assert_allclose(ctrl[:, 0], expected_rad, atol=1e-6)
    np.testing.assert_allclose(adhesion[:, 3], np.repeat(adh, 2), atol=1e-6)


def test_one_row_is_the_held_target_of_the_default():
    action = np.random.default_rng(0).uniform(-1, 1, 48).astype(np.float32)
    one = JointController(RANGE, n_inner=10)
    ctrl, adhesion, _ = one.schedule(jnp.asarray(action), one.init(None, None), None)
    np.testing.assert_allclose(ctrl, np.tile(ctrl[0], (10, 1)))
    np.testing.assert_allclose(adhesion, np.tile(np.clip(action[42:], 0, 1), (10, 1)))


def test_gym_env_takes_chunked_actions():
    env = gym.make("flyenvs/Walk-v1", action_mode="joints", action__joints__n_chunk=2)
    assert env.action_space.shape == (2 * (constants.N_LEG_JOINTS + constants.N_ADHESION),)
    env.reset(seed=0)
    for _ in range(3):
        obs, reward, *_ = env.step(env.action_space.sample())
    assert np.isfinite(reward)
    env.close()


@pytest.mark.parametrize(
    ("n_chunk", "match"),
    [(3, r"divide n_inner \(10\); valid: \[1, 2, 5, 10\]"), (0, ">= 1"), (1.5, ">= 1")],
)
def test_bad_chunk_count_raises_clearly(n_chunk, match):
    with pytest.raises(ValueError, match=match):
        JointController(RANGE, n_inner=10, n_chunk=n_chunk)
