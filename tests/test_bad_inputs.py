"""Bad input a user can give and the error they get (docs/reliability.md, issue 14).

Environment ids, options, actions and reset calls; missing or corrupt assets (optic-lobe ensemble
and connectome, muscle table, kinematics); MANC tables; run directories for ``agents.policies`` and
``scripts/evaluate.py``. Each check is fast (no MJX compile); inputs other files already cover are
cited in docs/reliability.md, not repeated here.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import sys
from pathlib import Path

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flyenvs  # noqa: F401  (registers the ids)
import flyenvs.brax
import flyenvs.connectome.vnc as vnc
from agents import checkpoints, policies
from flyenvs import _paths
from flyenvs import body as fb
from flyenvs.connectome import optic_lobe as ol
from flyenvs.connectome.optic_lobe.pretrained import ENSEMBLE_FILE
from flyenvs.connectome.vnc.manc import DN_IN_COLUMNS, IN_MN_COLUMNS
from flyenvs.gym import ENV_IDS

ROOT = Path(__file__).resolve().parents[1]
SHORT = {"episode_length": 60}


@pytest.fixture(scope="module")
def walk_env():
    env = gym.make("flyenvs/Walk-v1", **SHORT)
    yield env
    env.close()


# ------------------------------------------------------------------------------ environment ids
def test_unknown_env_id_or_version_names_the_registered_one():
    with pytest.raises(gym.error.NameNotFound, match="Did you mean: `Walk`"):
        gym.make("flyenvs/Walkk-v1")
    with pytest.raises(gym.error.VersionNotFound, match=r"versioned environments: \[ `v1` \]"):
        gym.make("flyenvs/Walk-v2")


# ---------------------------------------------------------------------------------- env options
@pytest.mark.parametrize("env_id", sorted(ENV_IDS))
@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"action_mode": "muscles"}, ValueError,
         r"action_mode must be one of \('joints', 'cpg', 'vnc'\), got 'muscles'"),
        ({"episode_length": 0}, ValueError, "episode_length must be >= 1, got 0"),
        ({"episode_length": -5}, ValueError, "episode_length must be >= 1, got -5"),
        ({"episode_length": 1.5}, TypeError, "'episode_length' expects int, got 1.5"),
        ({"body_variant": "robot"}, ValueError, r"body_variant must be one of \('train', "),
        ({"speed": 1.0}, KeyError, "unknown config option 'speed'; valid options: .*action_mode"),
    ],
)  # fmt: skip
def test_bad_env_options_name_the_option_and_valid_values(env_id, options, error, match):
    with pytest.raises(error, match=match):
        gym.make(env_id, **options)


def test_bad_render_mode_and_render_size():
    with (
        pytest.warns(UserWarning, match="not in the possible render_modes"),
        pytest.raises(ValueError, match=r"render_mode must be None or one of \['rgb_array'\]"),
    ):
        gym.make("flyenvs/Walk-v1", render_mode="rgbarray")
    with pytest.warns(UserWarning, match="HumanRendering wrapper is being applied"):
        human = gym.make("flyenvs/Walk-v1", render_mode="human")  # Gymnasium's own wrapper
    assert human.render_mode == "human" and human.unwrapped.render_mode == "rgb_array"
    human.close()
    for size in [(0, 0), (240, 5000), "big", (240.5, 320), (240,)]:
        with pytest.raises(ValueError, match=r"render_size must be .*\[1, 720\] x \[1, 1280\]"):
            gym.make("flyenvs/Walk-v1", render_mode="rgb_array", render_size=size)


def test_manc_dir_option_that_does_not_exist(tmp_path):
    nowhere = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="MANC folder .*nowhere does not exist"):
        gym.make("flyenvs/Walk-v1", action_mode="vnc", action__vnc__manc_dir=nowhere)


# ---------------------------------------------------------------------------------- env actions
def test_actions_that_are_not_8_finite_numbers(walk_env):
    walk_env.reset(seed=0)
    for action in ["left", {"speed": 1.0}, np.array(["a"] * 8)]:
        with pytest.raises(ValueError, match=r"action must be numbers of shape \(8,\), got "):
            walk_env.step(action)
    for action in [None, np.zeros((1, 8)), 0.5]:
        with pytest.raises(ValueError, match=r"action must have shape \(8,\), got "):
            walk_env.step(action)
    for action in [np.full(8, np.inf), np.r_[np.zeros(7), -np.inf]]:
        with pytest.raises(ValueError, match="action holds NaN or inf"):
            walk_env.step(action)
    obs, *_ = walk_env.step([0.0] * 8)  # a list of 8 numbers is an action; the env still runs
    assert walk_env.observation_space.contains(obs)


def test_visual_task_actions_are_checked_alike():
    env = gym.make("flyenvs/Optomotor-v1", episode_length=5)
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        env.unwrapped.step(np.zeros(8, np.float32))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(8,\), got \(3,\)"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="action holds NaN or inf"):
        env.step(np.full(8, np.nan))
    with pytest.raises(ValueError, match=r"action must be numbers of shape \(8,\)"):
        env.step("turn left")
    env.close()


def test_brax_action_of_another_shape_is_refused_when_traced():
    """A [1] or scalar action is not broadcast to all 8 entries (checked at trace time)."""
    env = flyenvs.brax.make("Walk", backend="mujoco", episode_length=5)
    state = jax.eval_shape(env.reset, jax.ShapeDtypeStruct((2,), jnp.uint32))
    out = jax.eval_shape(env.step, state, jax.ShapeDtypeStruct((8,), jnp.float32))
    assert out.obs["joint_pos_rad"].shape == (42,)
    for shape in [(1,), (), (7,), (2, 8)]:
        with pytest.raises(
            ValueError, match=r"action must have shape \(8,\).*got " + re.escape(str(shape))
        ):
            jax.eval_shape(env.step, state, jax.ShapeDtypeStruct(shape, jnp.float32))


# ------------------------------------------------------------------------------- reset and order
def test_calls_out_of_order_and_reset_options(walk_env):
    fresh = gym.make("flyenvs/Walk-v1", render_mode="rgb_array", **SHORT)
    with pytest.raises(gym.error.ResetNeeded, match="before calling env.reset"):
        fresh.step(np.zeros(8, np.float32))
    with pytest.raises(RuntimeError, match=r"call reset\(\) before render\(\)"):
        fresh.unwrapped.render()
    fresh.close()
    with pytest.raises(ValueError, match=r"unknown reset options \['command'\]; FlyEnv.reset"):
        walk_env.reset(seed=0, options={"command": (5.0, 0.0)})
    with pytest.raises(gym.error.Error, match="Seed must be a python integer"):
        walk_env.reset(seed="0")
    with pytest.raises(gym.error.Error, match="Seed must be greater or equal to zero"):
        walk_env.reset(seed=-1)
    with pytest.warns(UserWarning, match="render\\(\\) called without render_mode"):
        assert walk_env.unwrapped.render() is None
    obs, _ = walk_env.reset(seed=0, options={})  # empty options are fine (check_env sends them)
    assert walk_env.observation_space.contains(obs)


def test_vector_env_reset_options_and_actions():
    from flyenvs.gym.vector import FlyVectorEnv

    env = FlyVectorEnv(2, "Walk", n_threads=1, **SHORT)
    with pytest.raises(RuntimeError, match=r"call reset\(\) without reset_mask first"):
        env.reset(options={"reset_mask": np.array([True, False])})
    env.reset(seed=0)
    with pytest.raises(
        ValueError, match=r"unknown reset options \['command'\]; valid: \['reset_mask'\]"
    ):
        env.reset(options={"command": (5.0, 0.0)})
    for mask in [np.array([1, 0]), np.array([True]), np.array([False, False])]:
        with pytest.raises(ValueError, match=r"reset_mask'\] must be a bool array of shape \(2,\)"):
            env.reset(options={"reset_mask": mask})
    with pytest.raises(ValueError, match=r"actions must be numbers of shape \(2, 8\) \(num_envs"):
        env.step("forward")
    with pytest.raises(ValueError, match="actions hold NaN or inf"):
        env.step(np.full((2, 8), np.inf))
    env.close()


def test_steps_past_the_end_of_an_episode_stay_truncated():
    env = gym.make("flyenvs/Walk-v1", episode_length=2)
    env.reset(seed=0)
    flags = [env.step(np.zeros(8, np.float32))[2:4] for _ in range(4)]
    assert flags == [(False, False), (False, True), (False, True), (False, True)]
    env.close()


# ----------------------------------------------------------------------------------------- assets
@pytest.fixture
def assets(tmp_path, monkeypatch) -> Path:
    """A copy of assets/ that the library reads instead of the repository's."""
    dst = tmp_path / "assets"
    shutil.copytree(_paths.ASSETS_DIR, dst)
    monkeypatch.setattr(_paths, "ASSETS_DIR", dst)
    return dst


def test_missing_assets_folder_or_kinematics_file(assets, monkeypatch, tmp_path):
    (assets / "neuromechfly" / "single_steps_untethered.npz").unlink()
    with pytest.raises(FileNotFoundError, match="asset not found: .*single_steps_untethered.npz"):
        fb.single_steps()
    monkeypatch.setattr(_paths, "ASSETS_DIR", tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="asset not found: .*neuromechfly.xml"):
        fb.load()


def test_missing_or_corrupt_optic_lobe_ensemble(assets):
    path = assets / "connectome" / ENSEMBLE_FILE
    good = dict(np.load(path))
    path.unlink()
    with pytest.raises(FileNotFoundError, match=f"asset not found: .*{ENSEMBLE_FILE}"):
        ol.load_pretrained(0)
    path.write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="corrupt optic-lobe ensemble .*not an npz archive"):
        ol.load_pretrained(0)
    np.savez(path, params=good["params"])  # no cell_types
    with pytest.raises(ValueError, match="corrupt optic-lobe ensemble .*cell_types"):
        ol.load_ensemble()
    np.savez(path, params=good["params"][:, :700], cell_types=good["cell_types"])
    with pytest.raises(ValueError, match=r"params \(50, 700\) .*expected float \[50, 734\]"):
        ol.load_pretrained(0)
    params = good["params"].copy()
    params[3, 7] = np.nan
    np.savez(path, params=params, cell_types=good["cell_types"])
    with pytest.raises(ValueError, match="params hold NaN or inf"):
        ol.load_pretrained(0)


def test_missing_or_corrupt_optic_lobe_connectome(assets):
    path = assets / "connectome" / "fib25-fib19_v2.2.json"
    text = path.read_text()
    spec = json.loads(text)
    path.unlink()
    with pytest.raises(FileNotFoundError, match="asset not found: .*fib25-fib19_v2.2.json"):
        ol.build()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="corrupt optic-lobe connectome .*: not JSON"):
        ol.build()
    path.write_text(json.dumps({"nodes": spec["nodes"]}))
    with pytest.raises(ValueError, match="is not a flyvis connectome: missing key 'edges'"):
        ol.build()
    first = dict(spec["edges"][0])
    del first["alpha"]  # an edge without its sign
    path.write_text(json.dumps({**spec, "edges": [first, *spec["edges"][1:]]}))
    with pytest.raises(ValueError, match="corrupt optic-lobe connectome .*KeyError: 'alpha'"):
        ol.build()
    first = {**spec["edges"][0], "src": "XX"}  # an edge from a cell type that does not exist
    path.write_text(json.dumps({**spec, "edges": [first, *spec["edges"][1:]]}))
    with pytest.raises(ValueError, match="corrupt optic-lobe connectome .*KeyError: 'XX'"):
        ol.build()


def test_missing_or_corrupt_muscle_table(assets):
    path = assets / "connectome" / "vnc" / "muscle_joint_table.csv"
    lines = path.read_text().splitlines()
    path.unlink()
    with pytest.raises(FileNotFoundError, match="asset not found: .*muscle_joint_table.csv"):
        vnc.build()
    path.write_text(lines[0] + "\n")
    with pytest.raises(ValueError, match="corrupt muscle table .*: no rows"):
        vnc.build()
    path.write_text("\n".join([lines[0], lines[1].replace("Coxa", "Knee", 1), *lines[2:]]))
    with pytest.raises(ValueError, match=r"corrupt muscle table .*bad row .*dof: one of \['Coxa'"):
        vnc.build()


# -------------------------------------------------------------------------------- MANC tables
DN_ROW = dict(source_bid="10093", source_name="DNxl058", source_class="descending",
              target_bid="20001", target_name="IN17A001", target_class="intrinsic",
              nt_type="acetylcholine", syn_count="9", eff_weight="9")  # fmt: skip
MN_ROWS = [
    dict(source_bid="20001", source_name="IN17A001", source_class="intrinsic",
         source_type="acetylcholine", target_bid=bid, target_name=name, target_class="motor",
         target_muscle=muscle, syn_count="13", eff_weight="13")
    for bid, name, muscle in [("13163", "MNfl40", "Ti flexor"), ("13164", "MNfl41", "Ti extensor")]
]  # fmt: skip


def _manc_folder(folder: Path, dn_rows: list[dict], mn_rows: list[dict]) -> Path:
    """Six MANC tables (T1-T3 alike) of the given rows."""
    folder.mkdir(exist_ok=True)
    for nm in ("T1", "T2", "T3"):
        tables = [
            (f"data_set_intrinsic_{nm}.csv", DN_IN_COLUMNS, dn_rows),
            (f"data_intrinsic_motor_{nm}.csv", IN_MN_COLUMNS, mn_rows),
        ]
        for name, columns, rows in tables:
            with (folder / name).open("w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
    return folder


def test_small_manc_tables_build(tmp_path):
    """The synthetic tables the next test corrupts are valid as they are."""
    net = vnc.build(manc_dir=_manc_folder(tmp_path / "manc", [DN_ROW], MN_ROWS))
    assert net.n_dn == 1 and net.summary()["n_pooled_mn"] == 2


@pytest.mark.parametrize(
    ("dn_rows", "mn_rows", "match"),
    [
        ([{**DN_ROW, "source_class": "sensory"}], MN_ROWS,
         "data_set_intrinsic_T1.csv: unknown neuron class 'sensory' of body 10093"),
        ([DN_ROW, {**DN_ROW, "source_name": "DNg100", "target_bid": "20002"}], MN_ROWS,
         r"data_set_intrinsic_T1.csv: body 10093 is \('DNg100', 'descending'\) here"),
        ([{**DN_ROW, "source_bid": "DN-7"}], MN_ROWS,
         "data_set_intrinsic_T1.csv, line 2: bad row .*source_bid 'DN-7' is not a body id"),
        ([{**DN_ROW, "eff_weight": "-9"}], MN_ROWS,
         "data_set_intrinsic_T1.csv, line 2: eff_weight -9 is not acetylcholine sign"),
        ([DN_ROW], MN_ROWS[:1],
         r"one MNfl\* motor neuron \(body 13163\); splitting .* needs at least 2"),
        ([DN_ROW], [{**r, "target_muscle": "wing depressor"} for r in MN_ROWS],
         r"no leg motor neuron \(MNfl\*, MNml\*, MNhl\*\) innervates a muscle"),
        ([], MN_ROWS, "MANC table .*data_set_intrinsic_T1.csv has no rows"),
    ],
)  # fmt: skip
def test_bad_manc_tables_name_the_table_and_the_defect(tmp_path, dn_rows, mn_rows, match):
    with pytest.raises(ValueError, match=match):
        vnc.build(manc_dir=_manc_folder(tmp_path / "manc", dn_rows, mn_rows))


def test_manc_dir_that_is_a_file_or_holds_a_binary_table(tmp_path):
    folder = _manc_folder(tmp_path / "manc", [DN_ROW], MN_ROWS)
    table = folder / "data_set_intrinsic_T2.csv"
    with pytest.raises(FileNotFoundError, match="does not exist .*or is not a folder"):
        vnc.build(manc_dir=table)
    table.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="data_set_intrinsic_T2.csv is not a UTF-8 CSV file"):
        vnc.build(manc_dir=folder)


# ---------------------------------------------------------------- run directories and evaluate
NETWORK = {"policy_hidden": [8], "value_hidden": [8], "init_noise_std": 0.5,
           "observation_size": 5, "action_size": 2, "normalize_observations": True,
           "observation_entries": [["command", [2]], ["prev_action", [3]]]}  # fmt: skip


def _save_run(run: Path, task: str, env_config: dict) -> Path:
    params = jax.tree.map(np.asarray, checkpoints._template(NETWORK))
    checkpoints.save(run, 1, params, {"network": NETWORK, "env_config": env_config, "task": task})
    return run


def test_run_directory_without_checkpoints(tmp_path):
    (tmp_path / "empty_run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "a_file").write_text("x")
    for path in ["nowhere", "empty_run", "a_file"]:
        with pytest.raises(FileNotFoundError, match="no checkpoint at .*expected a run directory"):
            policies.load(tmp_path / path)


def test_checkpoint_of_an_unknown_task_or_an_untrained_mlp(tmp_path):
    with pytest.raises(KeyError, match=r"unknown task 'Swim'; valid: \['Optomotor'"):
        policies.load(_save_run(tmp_path / "swim", "Swim", {}))
    with pytest.raises(ValueError, match="is a Brax PPO .MLP. run: its untrained baseline is"):
        policies.load(_save_run(tmp_path / "walk", "Walk", {}), untrained=True)


def _evaluate(capsys, *argv: str) -> str:
    """stderr of ``scripts/evaluate.py argv``, which must exit with a usage error (2)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import evaluate
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    with pytest.raises(SystemExit) as exit_:
        evaluate.main(list(argv))
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_evaluate_reports_bad_checkpoints_and_options_as_usage_errors(tmp_path, capsys):
    out = str(tmp_path / "v.mp4")
    swim = _save_run(tmp_path / "swim", "Swim", {})
    assert "swim: unknown task 'Swim'; valid:" in _evaluate(capsys, str(swim), "--out", out)
    newer = _save_run(tmp_path / "newer", "Walk", {"wind_speed": 1.0})
    err = _evaluate(capsys, str(newer), "--out", out)
    assert "newer: unknown config option 'wind_speed'; valid options:" in err
    walk = _save_run(tmp_path / "walk", "Walk", {})
    assert "render_size must be" in _evaluate(capsys, str(walk), "--out", out, "--size", "0", "0")
    taxis = _save_run(tmp_path / "taxis", "VisualTaxis", {})
    err = _evaluate(capsys, str(taxis), "--out", out, "--speed", "5")
    assert "--speed and --turn set Walk's command; the checkpoint's task VisualTaxis" in err
