"""A trained visual connectome policy, committed as a checkpoint (``tests/data/optomotor_steer``,
the ``--task Optomotor --policy connectome --preset steer`` run of docs/visual_connectome.md):
``policies.load`` gives a stateful policy for a plain ``gymnasium.make`` loop whose descending
turn command follows what its eyes see, and whose fly turns with the grating.

The checkpoint also guards saved runs: if a change stops it loading or changes what it does,
this test says so (nothing a user saved may be lost)."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from agents import policies

RUN = Path(__file__).resolve().parent / "data" / "optomotor_steer"
#: Control steps per episode (2 s) and the first one scored (0.5 s: the optic lobe starts from
#: grey and tells the grating's direction from about 0.3 s on).
STEPS, FROM = 100, 25


@pytest.fixture(scope="module")
def policy() -> policies.RecurrentPolicy:
    return policies.load(RUN)


def _episode(policy, direction: str, speed_rad_s: float, seed: int = 0):
    """(mean turn command, mean turn rate) over steps FROM..STEPS: the command is the right
    legs' DN input minus the left legs' (more drive on the right turns the fly left, positive;
    docs/connectome_walk.md); the turn rate is the env's (rad/s, positive = left)."""
    config = {**policy.env_config}
    config["grating"] = {
        **config["grating"], "direction": direction, "speed_rad_s": (speed_rad_s, speed_rad_s)
    }  # fmt: skip
    env = gym.make(policy.gym_id, **config)
    obs, _ = env.reset(seed=seed)
    policy.reset()
    command, turn = [], []
    for t in range(STEPS):
        action = policy(obs)
        dn = policy.activity["dn_input"]
        obs, _, terminated, truncated, info = env.step(action)
        assert not terminated
        if t >= FROM:
            command.append(dn[3:].mean() - dn[:3].mean())
            turn.append(info["turn_rate_rad_s"])
    env.close()
    return float(np.mean(command)), float(np.mean(turn))


def test_trained_policy_turn_command_changes_sign_with_the_grating(policy):
    """Issue 13's check: swap the grating's direction and the trained policy's turn command
    changes sign, each time with the grating; so does the fly's turn."""
    assert isinstance(policy, policies.RecurrentPolicy) and policy.gym_id.startswith("flyenvs/")
    left, right = _episode(policy, "left", 1.5), _episode(policy, "right", 1.5)
    assert left[0] > 0 > right[0], (left, right)
    assert left[1] > 0 > right[1], (left, right)
