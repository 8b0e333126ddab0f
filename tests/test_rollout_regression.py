"""Rewards and observations of fixed-seed rollouts are unchanged by the v1 restructure.

``data/rollouts_v0.npz`` was recorded on the v0 code (commit 26b9e0a, flat observations) by
``data/record_rollouts_v0.py``: 6 control steps of seeded uniform random actions after
``reset(seed=7)``, for Walk (cpg, joints, vnc) and the visual tasks. The v1 ids return dict
observations whose entries, concatenated in order, are the v0 vector (docs/versions.md), and
the same rewards, terminations and metrics.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import flyenvs  # noqa: F401
from flyenvs.tasks.base import flatten_observation

DATA = np.load(Path(__file__).parent / "data" / "rollouts_v0.npz")
CASES = {
    "Walk_cpg": ("flyenvs/Walk-v1", {"action_mode": "cpg"}),
    "Walk_joints": ("flyenvs/Walk-v1", {"action_mode": "joints"}),
    "Walk_vnc": ("flyenvs/Walk-v1", {"action_mode": "vnc"}),
    "VisualTaxis_cpg": ("flyenvs/VisualTaxis-v1", {}),
    "Optomotor_cpg": ("flyenvs/Optomotor-v1", {}),
    "Pursuit_joints": ("flyenvs/Pursuit-v1", {"action_mode": "joints"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fixed_seed_rollout_unchanged_since_v0(case):
    env_id, cfg = CASES[case]
    env = gym.make(env_id, **cfg).unwrapped
    spec = env.task.observation_spec
    obs, _ = env.reset(seed=7)
    rng = np.random.default_rng(7)
    observations, rewards, terminated = [flatten_observation(obs, spec)], [], []
    metrics: dict[str, list[float]] = {}
    for _ in range(len(DATA[f"{case}/reward"])):
        action = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        obs, reward, term, _, info = env.step(action)
        observations.append(flatten_observation(obs, spec))
        rewards.append(reward)
        terminated.append(term)
        for key, value in info.items():
            if isinstance(value, float):
                metrics.setdefault(key, []).append(value)
    np.testing.assert_allclose(np.stack(observations), DATA[f"{case}/obs"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rewards, DATA[f"{case}/reward"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(terminated, DATA[f"{case}/terminated"])
    recorded = {k.split("/info/")[1] for k in DATA.files if k.startswith(f"{case}/info/")}
    assert recorded == set(metrics), "metric names changed"
    for key in recorded:
        np.testing.assert_allclose(metrics[key], DATA[f"{case}/info/{key}"], rtol=1e-5, atol=1e-5)
