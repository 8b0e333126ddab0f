"""Rewards, observations and metrics of fixed-seed rollouts stay as recorded.

``data/rollouts_v1.npz`` holds 6 control steps of seeded uniform random actions after
``reset(seed=7)`` for Walk (cpg, joints, vnc) and the three visual tasks, recorded on the v1 ids
by ``data/record_rollouts.py``. A change that alters them must come with a new id version and
a line in docs/versions.md, and a new recording.

(The v0 -> v1 restructure into dict observations was checked the same way against a recording of
the v0 code, entry for entry, before v1 changed the adhesion rule: docs/versions.md.)
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import flyenvs  # noqa: F401
from flyenvs.tasks.base import flatten_observation

RECORDING = Path(__file__).parent / "data" / "rollouts_v1.npz"
N_STEPS = 6
CASES = {
    "Walk_cpg": ("flyenvs/Walk-v1", {"action_mode": "cpg"}),
    "Walk_joints": ("flyenvs/Walk-v1", {"action_mode": "joints"}),
    "Walk_vnc": ("flyenvs/Walk-v1", {"action_mode": "vnc"}),
    "VisualTaxis_cpg": ("flyenvs/VisualTaxis-v1", {}),
    "Optomotor_cpg": ("flyenvs/Optomotor-v1", {}),
    "Pursuit_joints": ("flyenvs/Pursuit-v1", {"action_mode": "joints"}),
}


def rollout(case: str) -> dict[str, np.ndarray]:
    """obs [N + 1, n] (flattened), reward [N], terminated [N], info/<metric> [N] of ``case``."""
    env_id, cfg = CASES[case]
    env = gym.make(env_id, **cfg).unwrapped
    spec = env.task.observation_spec
    obs, _ = env.reset(seed=7)
    rng = np.random.default_rng(7)
    observations, rewards, terminated = [flatten_observation(obs, spec)], [], []
    metrics: dict[str, list[float]] = {}
    for _ in range(N_STEPS):
        action = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        obs, reward, term, _, info = env.step(action)
        observations.append(flatten_observation(obs, spec))
        rewards.append(reward)
        terminated.append(term)
        for key, value in info.items():
            if isinstance(value, float):
                metrics.setdefault(key, []).append(value)
    env.close()
    out = {"obs": np.stack(observations), "reward": np.array(rewards)}
    out["terminated"] = np.array(terminated)
    out.update({f"info/{k}": np.array(v) for k, v in metrics.items()})
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_fixed_seed_rollout_is_unchanged(case):
    data = np.load(RECORDING)
    got = rollout(case)
    recorded = {k.removeprefix(f"{case}/") for k in data.files if k.startswith(f"{case}/")}
    assert recorded == set(got), "entries or metric names changed"
    np.testing.assert_allclose(got["obs"], data[f"{case}/obs"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["reward"], data[f"{case}/reward"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got["terminated"], data[f"{case}/terminated"])
    for key in recorded - {"obs", "reward", "terminated"}:
        np.testing.assert_allclose(got[key], data[f"{case}/{key}"], rtol=1e-5, atol=1e-5)
