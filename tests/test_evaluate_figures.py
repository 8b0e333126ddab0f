"""scripts/evaluate.py's figures: the per-step turn error, the episode-mean turn error and the
heading wander, computed from what the environment reports (a scripted env, no physics)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import evaluate  # noqa: E402


class _ScriptedWalk:
    """Reports a turn rate that alternates cmd + w, cmd - w (a fly that turns at the commanded
    rate on average, with a wander of w) for ``steps`` steps at 5 mm/s."""

    def __init__(self, cmd_turn: float, wander: float, steps: int = 4):
        self.cmd_turn, self.wander, self.steps = cmd_turn, wander, steps

    def reset(self, seed=None):
        self.t = 0
        return np.zeros(3), {}

    def step(self, action):
        self.t += 1
        sign = 1.0 if self.t % 2 else -1.0
        info = {
            "x_mm": 0.1 * self.t,
            "y_mm": 0.0,
            "forward_speed_mm_s": 5.0,
            "turn_rate_rad_s": self.cmd_turn + sign * self.wander,
            "command_speed_mm_s": 6.0,
            "command_turn_rad_s": self.cmd_turn,
        }
        return np.zeros(3), 0.0, False, self.t >= self.steps, info


def test_turn_figures_separate_the_mean_turn_from_the_wander():
    stats = evaluate._run_episodes(_ScriptedWalk(1.0, 0.3), lambda obs: 0, episodes=2, seed=0)
    assert stats["mean_abs_turn_error_rad_s"] == pytest.approx(0.3)  # per step: the wander
    assert stats["mean_abs_episode_turn_error_rad_s"] == pytest.approx(0.0, abs=1e-9)
    assert stats["turn_wander_rad_s"] == pytest.approx(0.3)
    assert stats["mean_abs_speed_error_mm_s"] == pytest.approx(1.0)
    assert "episode mean turn: 0.00 rad/s; wander 0.30 rad/s" in evaluate._summary(stats)
    first, second = stats["per_episode"]  # each episode's seed, command and figures
    assert (first["seed"], second["seed"]) == (0, 1) and not first["fell"]
    assert first["command_speed_mm_s"] == 6.0 and first["mean_forward_speed_mm_s"] == 5.0
    assert first["mean_abs_speed_error_mm_s"] == pytest.approx(1.0)
    assert first["mean_turn_rate_rad_s"] == pytest.approx(1.0)
    assert first["mean_abs_turn_error_rad_s"] == pytest.approx(0.3)


def test_visual_tasks_draw_what_the_fly_sees_and_report_no_command():
    """A task without a command (the visual tasks): the frame shows the fly's speed and turn
    with the grating or the target, and the summary leaves out the command errors (NaN)."""
    walk = {"forward_speed_mm_s": 5.0, "turn_rate_rad_s": 0.2}
    lines = evaluate._frame_lines({**walk, "grating_speed_rad_s": -1.2}, 0, 7)
    assert lines == ["episode 0  step 7", "speed   5.0 mm/s  turn +0.20 rad/s (+ left)",
                     "grating -1.20 rad/s (+ left)"]  # fmt: skip
    lines = evaluate._frame_lines({**walk, "distance_mm": 12.5, "bearing_rad": 0.4}, 1, 2)
    assert lines[-1] == "target  12.5 mm at +0.40 rad"
    cmd = {**walk, "command_speed_mm_s": 6.0, "command_turn_rad_s": 0.5}
    assert "cmd" in evaluate._frame_lines(cmd, 0, 1)[1]
    stats = {"mean_forward_speed_mm_s": 5.0, "distance_walked_mm": 3.0, "falls": 0,
             "mean_command_speed_mm_s": float("nan")}  # fmt: skip
    assert evaluate._summary(stats) == (
        "mean forward speed 5.00 mm/s, distance walked 3.0 mm, falls 0"
    )


def test_turn_floor_figures_and_bad_readouts(capsys):
    """scripts/turn_floor.py: the same three turn figures and the speed figures from
    [steps, envs] arrays, and a clear usage error for a readout that is not a k,kf pair."""
    import turn_floor

    turn = np.array([[1.3, 0.0], [0.7, 0.0]])  # env 0: mean 1.0 (its command), wander 0.3
    cmd = np.array([[1.0, 0.5], [1.0, 0.5]])  # env 1: never turns, command 0.5
    speed = np.array([[4.0, 6.0], [6.0, 6.0]])  # env 0 commanded 5 mm/s, env 1 8 mm/s
    f = turn_floor._figures(turn, cmd, speed, np.array([[5.0, 8.0], [5.0, 8.0]]))
    assert f["mean_forward_speed_mm_s"] == pytest.approx(5.5)
    assert f["mean_abs_speed_error_mm_s"] == pytest.approx((1 + 1 + 2 + 2) / 4)
    assert f["mean_abs_turn_error_rad_s"] == pytest.approx((0.3 + 0.5) / 2)
    assert f["mean_abs_episode_turn_error_rad_s"] == pytest.approx(0.25)
    assert f["turn_wander_rad_s"] == pytest.approx(0.15)
    for bad in ("2", "a,b", "1,2,3"):
        with pytest.raises(SystemExit) as exc:
            turn_floor.main(["--readouts", bad])
        assert exc.value.code == 2
        assert "k,kf pairs" in capsys.readouterr().err


def test_turn_floor_reward_terms_and_overrides(capsys):
    """The episode sums of the reward terms; --set parsed as scripts/train.py's, and a
    malformed one refused with its message."""
    import turn_floor
    from train import _parse_set

    ones = np.ones((3, 2))
    terms = turn_floor._reward_terms(2 * ones, ones, 0.5 * ones)
    assert terms == {"episode_reward": 6.0, "episode_reward_turn": 3.0, "episode_reward_speed": 1.5}
    assert _parse_set(["velocity_filter_s=0.3", "reward.turn_margin_rad_s=0.5"]) == {
        "velocity_filter_s": 0.3,
        "reward.turn_margin_rad_s": 0.5,
    }
    with pytest.raises(SystemExit, match="--set expects KEY=VALUE"):
        turn_floor.main(["--set", "velocity_filter_s"])
