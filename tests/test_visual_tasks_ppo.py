"""A short PPO run on VisualTaxis (cpg action mode, Brax PPO on the default backend: the batched
C engine without a GPU) raises its evaluation reward.

Slow: about 5 minutes on 2 CPU cores (283 s on 2026-11-30 beside a CI run).
"""

from __future__ import annotations

import pytest

from agents import ppo


@pytest.mark.slow
def test_short_ppo_run_on_visual_taxis_raises_reward(tmp_path):
    cfg = ppo.resolve_preset("quick", num_timesteps=40_960, checkpoint_every=10_240)
    cfg["task"] = "VisualTaxis"
    cfg["env"] = {"action_mode": "cpg", "episode_length": 50}
    summary = ppo.train(tmp_path / "run", cfg)
    rewards = [row["eval/episode_reward"] for row in summary["evals"]]
    assert len(rewards) >= 3
    assert max(rewards[1:]) > rewards[0] + 0.1 * abs(rewards[0]), rewards
