"""docs/extending.md is true: its example task and action mode run as written, each added with
one file and one registry line."""

from __future__ import annotations

import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from flyenvs.gym.env import FlyEnv
from flyenvs.tasks import action_modes, registry

DOC = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.S)


def _module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, code: str):
    (tmp_path / f"{name}.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    return importlib.import_module(name)


def test_example_task_runs_on_the_gymnasium_front_end(tmp_path, monkeypatch):
    _module(tmp_path, monkeypatch, "doc_stand", BLOCKS[0])
    line = BLOCKS[1].strip().rstrip(",")
    spec = eval(line.replace('"flyenvs.tasks.stand"', '"doc_stand"'), vars(registry))
    monkeypatch.setitem(registry.TASKS, spec.name, spec)
    env = FlyEnv("Stand", episode_length=5)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert "vision" not in obs and "command" not in obs and obs["controller"].shape == (18,)
    _, reward, _, _, info = env.step(np.zeros(8, np.float32))
    assert np.isfinite(reward) and {"reward/still", "reward/upright"} <= set(info)
    assert spec.gym_id == "flyenvs/Stand-v1" and spec.brax_name == "flyenvs_stand"


def test_example_action_mode_runs(tmp_path, monkeypatch):
    hold = _module(tmp_path, monkeypatch, "doc_hold", BLOCKS[2])
    monkeypatch.setitem(action_modes.ACTION_MODES, "hold", hold)
    env = gym.make("flyenvs/Walk-v1", action_mode="hold", action__hold__adhesion_gain=0.5)
    assert env.action_space.shape == (6,) and "controller" not in env.observation_space.spaces
    env.reset(seed=0)
    for _ in range(3):
        _, reward, terminated, _, _ = env.step(np.ones(6, np.float32))
        assert np.isfinite(reward) and not terminated
    env.close()
