"""PPO glue, checkpoints, policies and the train/evaluate scripts.

Fast tests cover checkpoints, presets and every bad input of the scripts (no MJX compile). The
end-to-end runs (train -> checkpoint -> evaluate -> MP4, --resume, a rising learning curve)
compile MJX training graphs for minutes on CPU and are slow-marked.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from agents import checkpoints, policies, ppo

ROOT = Path(__file__).resolve().parents[1]
NETWORK = {
    "policy_hidden": [8],
    "value_hidden": [8],
    "init_noise_std": 0.5,
    "observation_size": 5,
    "action_size": 2,
    "normalize_observations": True,
}


def _run(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def _params(seed: int = 0):
    template = checkpoints._template(NETWORK)
    leaves, tree = jax.tree.flatten(template)
    rng = np.random.default_rng(seed)
    return jax.tree.unflatten(tree, [rng.normal(size=np.shape(x)).astype(np.float32) * 0.1
                                     if np.issubdtype(np.asarray(x).dtype, np.floating) else x
                                     for x in leaves])  # fmt: skip


# ----------------------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_and_atomic_layout(tmp_path):
    params = _params()
    meta = {"network": NETWORK, "env_config": {"episode_length": 5}, "task": "Walk"}
    first = checkpoints.save(tmp_path, 100, params, meta)
    checkpoints.save(tmp_path, 200, _params(1), meta)
    assert first.name == "step_000000000100"
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step_000000000100", "step_000000000200"]  # no temporary leftovers
    loaded, loaded_meta = checkpoints.load(first)
    assert loaded_meta["step"] == 100
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(loaded), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert checkpoints.resolve(tmp_path).name == "step_000000000200"


def test_incomplete_checkpoints_are_ignored(tmp_path):
    (tmp_path / "checkpoints" / ".tmp-abc").mkdir(parents=True)
    (tmp_path / "checkpoints" / "step_000000000300").mkdir()  # no files: not a checkpoint
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoints.resolve(tmp_path / "checkpoints" / "step_000000000300")
    assert checkpoints.list_checkpoints(tmp_path)[-1].name == "step_000000000300"


def test_corrupt_checkpoint_raises(tmp_path):
    ckpt = checkpoints.save(tmp_path, 1, _params(), {"network": NETWORK, "env_config": {}})
    (ckpt / checkpoints.PARAMS_FILE).write_bytes(b"not msgpack")
    with pytest.raises(ValueError, match="corrupt checkpoint"):
        checkpoints.load(ckpt)


def test_policy_load_and_call(tmp_path):
    checkpoints.save(tmp_path, 1, _params(), {"network": NETWORK, "env_config": {"a": 1}})
    policy = policies.load(tmp_path)
    action = policy(np.ones(5, np.float32))
    assert action.shape == (2,) and action.dtype == np.float32
    assert np.all(np.abs(action) <= 1.0)
    np.testing.assert_array_equal(action, policy(np.ones(5)))  # deterministic
    assert policy.env_config == {"a": 1}
    with pytest.raises(ValueError, match="dimension 5"):
        policy(np.ones(4))
    with pytest.raises(FileNotFoundError):
        policies.load(tmp_path / "missing")


def test_policy_flattens_observation_dicts_in_the_trained_order(tmp_path):
    entries = [["b", [2]], ["a", [3]]]
    meta = {"network": {**NETWORK, "observation_entries": entries}, "env_config": {}}
    checkpoints.save(tmp_path, 1, _params(), meta)
    policy = policies.load(tmp_path)
    obs = {"a": np.array([3.0, 4.0, 5.0]), "b": np.array([1.0, 2.0]), "extra": np.zeros(7)}
    np.testing.assert_array_equal(policy.flatten(obs), [1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(policy(obs), policy(np.array([1.0, 2, 3, 4, 5], np.float32)))
    with pytest.raises(ValueError, match="lacks \\['a'\\]"):
        policy({"b": np.zeros(2)})


def test_v0_checkpoint_config_is_migrated():
    v0 = {"action_mode": "cpg", "cpg": {"freq_hz": 11.0}, "episode_length": 50}
    v1 = policies.migrate_v0_config(v0)
    assert v1 == {"action_mode": "cpg", "action": {"cpg": {"freq_hz": 11.0}}, "episode_length": 50}
    from flyenvs.tasks import walk

    assert walk.default_config(**v1).action.cpg.freq_hz == 11.0


# --------------------------------------------------------------------------------------- presets
def test_metrics_csv_keeps_columns_that_appear_later(tmp_path):
    """The evaluation before training has no training metrics; the later rows' are kept (the
    header grows, earlier rows stay empty there), also after reopening the file (resume)."""
    import csv

    from agents.ppo import _MetricsCSV

    path = tmp_path / "metrics.csv"
    _MetricsCSV(path).write({"step": 0, "eval/episode_reward": 1.0})
    log = _MetricsCSV(path)
    log.write({"step": 10, "eval/episode_reward": 2.0, "training/approx_kl": 0.01})
    log.write({"step": 20, "eval/episode_reward": 3.0, "training/approx_kl": 0.02})
    rows = list(csv.DictReader(path.open()))
    assert [r["training/approx_kl"] for r in rows] == ["", "0.01", "0.02"]
    assert [r["eval/episode_reward"] for r in rows] == ["1.0", "2.0", "3.0"]


def test_presets_resolve_and_reject_unknown_options():
    cfg = ppo.resolve_preset("quick", num_timesteps=1000, env={"episode_length": 7})
    assert cfg["ppo"]["num_timesteps"] == 1000 and cfg["env"]["episode_length"] == 7
    assert ppo.PRESETS["quick"]["env"]["episode_length"] == 50  # presets are not mutated
    assert cfg["env"]["action_mode"] == "cpg"
    with pytest.raises(KeyError, match="valid: .*quick"):
        ppo.resolve_preset("fast")
    with pytest.raises(KeyError, match="unknown training option"):
        ppo.resolve_preset("quick", learning_rat=1.0)
    with pytest.raises(ValueError):
        ppo.resolve_preset("quick", num_timesteps=0)
    with pytest.raises(ValueError, match="cfg"):
        ppo.train("unused", None)


def test_presets_per_task_and_policy():
    """``--task T --policy P --preset X`` picks ``P_t_X`` where the task has its own preset."""
    assert ppo.preset_name("quick", "connectome", "Optomotor") == "connectome_optomotor_quick"
    assert ppo.preset_name("quick", "connectome", "Walk") == "connectome_quick"
    assert ppo.preset_name("quick", "connectome") == "connectome_quick"
    assert ppo.preset_name("quick", "mlp", "Optomotor") == "quick"
    name = ppo.preset_name("quick_trained", "connectome", "VisualTaxis")
    cfg = ppo.resolve_preset(name, task="VisualTaxis")
    assert cfg["task"] == "VisualTaxis" and cfg["env"]["action_mode"] == "joints"
    assert cfg["connectome"]["optic_lobe"]["trainable"] == ["bias", "time_const_s", "strength"]
    with pytest.raises(KeyError, match="no preset 'quick_trained' for policy 'feedforward'"):
        ppo.preset_name("quick_trained", "feedforward", "Optomotor")


# ------------------------------------------------------------------------------ script bad input
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "huge", "--out", "x"], "no preset 'huge' for policy 'mlp'; valid:"),
        (
            ["--preset", "huge", "--policy", "connectome", "--out", "x"],
            "'quick', 'quick_dn', 'quick_frozen'",
        ),
        (["--policy", "lstm", "--out", "x"], "invalid choice"),
        (["--task", "Swim", "--out", "x"], "Swim"),
        (["--out", "{tmp}/r", "--resume", "--policy", "connectome"], "--resume"),
        (["--out", "{tmp}/r", "--set", "speeed=3"], "valid options"),
        (["--out", "{tmp}/r", "--set", "action_mode=legs"], "action_mode"),
        (["--out", "{tmp}/r", "--set", "noequals"], "KEY=VALUE"),
        (["--out", "{tmp}/r", "--steps", "0"], "must be >= 1"),
        (["--out", "{tmp}/r", "--resume"], "cannot resume"),
        (["--out", "{tmp}/r", "--resume", "--steps", "5"], "--resume"),
        (["--out", "{tmp}/r", "--backend", "gpu"], "invalid choice"),
        (["--out", "{tmp}/r", "--resume", "--init-from", "{tmp}/a"], "--resume"),
        (["--out", "{tmp}/r", "--init-from", "{tmp}/a"], "init_from applies to the recurrent"),
        (["--out", "{tmp}/r", "--policy", "connectome", "--init-from", "{tmp}/a"], "no checkpoint"),
    ],
)
def test_train_script_bad_inputs(tmp_path, args, message):
    result = _run("train.py", *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.returncode != 0
    assert message in result.stderr


def test_train_script_refuses_to_overwrite_a_run(tmp_path):
    checkpoints.save(tmp_path, 1, _params(), {"network": NETWORK, "env_config": {}})
    result = _run("train.py", "--out", str(tmp_path))
    assert result.returncode != 0 and "--resume" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/nothing"], "no checkpoint"),
        (["{tmp}", "--out", "video.gif"], ".mp4"),
        (["{tmp}", "--episodes", "0"], ">= 1"),
    ],
)
def test_evaluate_script_bad_inputs(tmp_path, args, message):
    result = _run("evaluate.py", *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.returncode != 0
    assert message in result.stderr


# ----------------------------------------------------------------------------------- end to end
def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_train_checkpoint_evaluate_video_and_resume(tmp_path):
    run = tmp_path / "run"
    result = _run("train.py", "--preset", "smoke", "--out", str(run), timeout=1800)
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.loads((run / "config.json").read_text())
    assert config["git_revision"] and config["train"]["preset"] == "smoke"
    assert config["env_config"]["episode_length"] == 20
    ckpts = [p.name for p in checkpoints.list_checkpoints(run)]
    assert ckpts == ["step_000000000320", "step_000000000640"]
    rows = _read_csv(run / "metrics.csv")
    assert [float(r["step"]) for r in rows] == [0.0, 320.0, 640.0]

    video = tmp_path / "eval.mp4"
    result = _run("evaluate.py", str(run), "--out", str(video), "--episodes", "2", "--steps", "15")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mean forward speed" in result.stdout and "falls" in result.stdout
    import imageio.v3 as iio

    frames = iio.imread(video)
    record = json.loads(video.with_suffix(".json").read_text())
    assert frames.shape[0] == record["frames"] and frames.shape[1:] == (240, 320, 3)
    # one frame per control step: 2 episodes x 15 steps unless an episode ended in a fall
    assert frames.shape[0] == 30 if record["falls"] == 0 else frames.shape[0] < 30

    # --resume continues from the last saved step: drop the final checkpoint and resume
    import shutil

    shutil.rmtree(run / "checkpoints" / "step_000000000640")
    result = _run("train.py", "--resume", "--out", str(run), timeout=1800)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "steps 320 -> 640" in result.stdout
    assert checkpoints.resolve(run).name == "step_000000000640"
    rows = _read_csv(run / "metrics.csv")
    # the restored step is not evaluated again (its row was written when it was saved)
    assert [float(r["step"]) for r in rows] == [0.0, 320.0, 640.0, 640.0]


@pytest.mark.slow
def test_quick_preset_learns_to_track_the_command(tmp_path):
    """The README's main job: the quick preset (about 8 minutes on 2 cores) raises the eval
    reward by at least 10 % and, in the Gymnasium evaluation, tracks the commanded speed better
    than the untrained nominal gait (zero action) on the same seeds, without falls."""
    run = tmp_path / "run"
    summary = ppo.train(run, ppo.resolve_preset("quick"))
    rewards = [row["eval/episode_reward"] for row in summary["evals"]]
    assert len(rewards) >= 3
    assert rewards[-1] >= 1.10 * rewards[0], rewards
    video = tmp_path / "eval.mp4"
    args = ("--out", str(video), "--episodes", "4", "--baseline", "--size", "48", "64")
    result = _run("evaluate.py", str(run), *args, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(video.with_suffix(".json").read_text())
    untrained = record["baseline_zero_action"]
    assert record["falls"] == 0
    assert record["mean_abs_speed_error_mm_s"] < untrained["mean_abs_speed_error_mm_s"], record


def test_backend_choice():
    cfg = ppo.resolve_preset("smoke")
    assert cfg["backend"] == ppo.default_backend() == "mujoco"  # no accelerator here
    assert ppo.resolve_preset("smoke", backend="mjx")["backend"] == "mjx"
    with pytest.raises(ValueError, match="backend must be one of"):
        ppo.resolve_preset("smoke", backend="gpu")
    assert ppo.resolve_preset("smoke", threads=1)["threads"] == 1
    assert "threads" not in ppo.resolve_preset("smoke")  # the engine's default: the CPU count
    with pytest.raises(ValueError, match="threads must be >= 1"):
        ppo.resolve_preset("smoke", threads=0)
    with pytest.raises(ValueError, match="threads applies to backend='mujoco' only"):
        ppo.resolve_preset("smoke", threads=2, backend="mjx")


def test_smoke_training_on_the_batched_c_engine(tmp_path):
    """PPO end to end on ``backend="mujoco"`` (no MJX compile): checkpoints, metrics, policy."""
    cfg = ppo.resolve_preset("smoke", backend="mujoco")
    summary = ppo.train(tmp_path / "run", cfg)
    assert summary["final_step"] == cfg["ppo"]["num_timesteps"] and len(summary["evals"]) >= 2
    assert all(np.isfinite(row["eval/episode_reward"]) for row in summary["evals"])
    policy = policies.load(tmp_path / "run")
    assert policy.meta["backend"] == "mujoco" and policy.gym_id == "flyenvs/Walk-v1"
    import gymnasium as gym

    env = gym.make(policy.gym_id, **policy.env_config)
    obs, _ = env.reset(seed=0)
    assert env.action_space.contains(policy(obs))
