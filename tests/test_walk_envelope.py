"""The connectome Walk policy's drive envelope and the DN readout speed row set from it
(``agents.walk_envelope``, ``scripts/calibrate_speed.py``): the fit refuses what it cannot
invert, the row maps each command onto the offset the line gives, and a readout set this way
walks the frozen VNC at the commanded speed (docs/connectome_walk.md, "A speed row from the
envelope")."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest

import flyenvs.brax
from agents import walk_envelope


def _script(name: str = "calibrate_speed"):
    """scripts/<name>.py as a module."""
    import importlib
    import sys
    from pathlib import Path

    folder = str(Path(__file__).resolve().parents[1] / "scripts")
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(folder)


def _row(forward, speed, falls=0, turn=0.0):
    return {"forward": forward, "turn": turn, "speed_mm_s": speed, "turn_rad_s": 0.0,
            "falls": falls}  # fmt: skip


def test_fit_and_row_invert_the_envelope():
    """The line through the envelope, inverted: a command of s mm/s gives every DN the offset
    (s - speed_at_0) / slope, for normalised commands; the bias's left-right trim and the other
    rows stay."""
    fit = walk_envelope.fit_speed([_row(-0.5, 3.0), _row(0.0, 7.0), _row(0.25, 9.0),
                                   _row(0.0, 1.0, turn=0.5)])  # fmt: skip
    np.testing.assert_allclose(fit, (7.0, 8.0), rtol=1e-6)
    w = jnp.full((4, 6), 0.3)
    b = jnp.array([0.1, 0.1, 0.1, -0.1, -0.1, -0.1])
    readout = walk_envelope.speed_row({"w": w, "b": b, "w_asc": 1.0}, 2, 6.0, 2.0, fit)
    assert readout["w_asc"] == 1.0
    for cmd in (3.0, 6.0, 9.0):
        x = jnp.zeros(4).at[2].set((cmd - 6.0) / 2.0).at[0].set(1.0)
        dn = x @ readout["w"] + readout["b"]
        want = (cmd - 7.0) / 8.0 + 0.3 + np.asarray(b)
        np.testing.assert_allclose(dn, want, atol=1e-6)


def test_fit_refuses_what_it_cannot_invert():
    with pytest.raises(ValueError, match="at least two forward offsets"):
        walk_envelope.fit_speed([_row(0.0, 5.0), _row(0.0, 5.5), _row(0.5, 9.0, turn=0.2)])
    with pytest.raises(ValueError, match=r"fell at forward offsets \[0.5\]"):
        walk_envelope.fit_speed([_row(0.0, 5.0), _row(0.5, 9.0, falls=1)])
    with pytest.raises(ValueError, match="does not rise"):
        walk_envelope.fit_speed([_row(0.0, 5.0), _row(0.5, 4.0)])
    with pytest.raises(ValueError, match="not named <type>_<L|R><leg>"):
        walk_envelope.dn_sides(("DNg100_LF", "DNa02"))
    np.testing.assert_array_equal(walk_envelope.dn_sides(("A_LF", "A_RH")), [1.0, -1.0])


def test_calibrate_speed_refuses_bad_arguments(tmp_path, capsys):
    """Refused before anything is built: calibrate_speed.py's single offset and a source
    that is neither a run nor a checkpoint; speed_track.py's command of 0 mm/s, a missing
    run and a run without checkpoints."""
    script = _script()
    track = _script("speed_track")
    with pytest.raises(SystemExit):
        script.main([str(tmp_path), "--out", str(tmp_path / "o"), "--forward", "0", "0"])
    assert "at least two different offsets" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.main([str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert "not a run directory or a checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        track.main([str(tmp_path), "--speeds", "0"])
    assert "--speeds must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        track.main([str(tmp_path / "none")])
    assert "not a run directory or a checkpoint" in capsys.readouterr().err
    (tmp_path / "empty" / "checkpoints").mkdir(parents=True)
    with pytest.raises(SystemExit):
        track.main([str(tmp_path / "empty")])
    assert "no checkpoint in" in capsys.readouterr().err


def test_calibrated_speed_row_walks_at_the_command(tmp_path):
    """The behaviour the calibration exists for, through ``scripts/calibrate_speed.py``: from a
    steer_ascending checkpoint (here its untrained start: the ascending pathway I1 anterior at
    -3, the VNC frozen, the readout 0, which walks about 7 mm/s whatever the command), the
    script writes a run whose speed row is set from the policy's own envelope; that policy
    walks slower at a 4 mm/s command than at 8, each within 2 mm/s of it, without a fall; the
    run loads as a Gymnasium policy and the preset that fine-tunes it needs ``init_from``."""
    from agents import checkpoints, policies, ppo
    from agents.recurrent_ppo import driver
    from agents.recurrent_ppo.train import init_training_state
    from flyenvs.tasks.base import observation_columns

    steps = 100
    cfg = ppo.resolve_preset("connectome_steer_ascending", env={"episode_length": steps})
    env = flyenvs.brax.make("Walk", backend="mujoco", **cfg["env"])
    net = driver.make_network(cfg, env.task, env.action_size)
    start = init_training_state(net, env.task.observation_size, 1e-3, 0.5)
    checkpoints.save(tmp_path / "run", 640, start, driver.run_meta(cfg, env))
    out = tmp_path / "calibrated"
    args = ["--out", str(out), "--envs", "2", "--steps", str(steps), "--forward", "-0.5", "0.25"]
    assert _script().main([str(tmp_path / "run"), *args]) == 0
    state, meta, _ = checkpoints.load_latest_valid(out, driver.template)
    cal = meta["calibration"]
    assert meta["step"] == 640 and cal["command_std_mm_s"] == 1.0  # the untrained normaliser
    assert cal["steering"]  # by the run's turn row (0 here), through Walk's turn commands
    assert 4.0 < cal["mm_s_per_unit"] < 20.0, cal  # the pathway's wide envelope
    column = observation_columns(env.task.observation_spec, ["command"])[0]
    w = np.asarray(state["network"]["readout"]["w"])
    np.testing.assert_allclose(w[column], 1.0 / cal["mm_s_per_unit"], rtol=1e-6)
    assert not np.any(np.delete(w, column, axis=0))  # the other rows kept (0 here)
    record = tmp_path / "track.json"
    args = ["--speeds", "4", "8", "--envs", "2", "--steps", str(steps), "--warmup-steps", "25"]
    assert _script("speed_track").main([str(out), *args, "--out", str(record)]) == 0
    rows = json.loads(record.read_text())["rows"]
    speeds = [r["speed_mm_s"] for r in rows]
    assert [r["falls"] for r in rows] == [0, 0]
    assert speeds[0] + 1.5 < speeds[1], speeds
    assert abs(speeds[0] - 4.0) < 2.0 and abs(speeds[1] - 8.0) < 2.0, speeds
    assert policies.load(out) is not None
    with pytest.raises(ValueError, match="fine-tunes a run of preset 'connectome_steer_asc"):
        ppo.resolve_preset("connectome_steer_ascending_calibrated")
    cfg = ppo.resolve_preset("connectome_steer_ascending_calibrated", init_from=str(out))
    assert cfg["ppo"]["learning_rate"] == 3e-4 and cfg["init_from"] == str(out)
