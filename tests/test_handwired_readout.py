"""Hand-wired visual readouts written as runs (``scripts/handwired_readout.py``,
``agents.connectome_visual.handwired_state``): the start that PPO fine-tunes. The written run
loads as a Gymnasium policy that turns with the grating, ``--init-from`` reads it into the
preset's own (left-right symmetric) parameters, and bad arguments are usage errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agents import checkpoints, connectome_visual, policies, ppo
from agents.recurrent_ppo import driver


def _script():
    """scripts/handwired_readout.py as a module."""
    import importlib
    import sys
    from pathlib import Path

    folder = str(Path(__file__).resolve().parents[1] / "scripts")
    sys.path.insert(0, folder)
    try:
        return importlib.import_module("handwired_readout")
    finally:
        sys.path.remove(folder)


handwired_readout = _script()

PRESET = "connectome_optomotor_steer"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("hw") / "optomotor_handwired"
    assert handwired_readout.main(["--task", "Optomotor", "--gain", "1", "--out", str(out)]) == 0
    return out


def _turn_command(policy, direction: str, steps: int = 40, start: int = 25) -> float:
    """Mean right-minus-left DN input (positive turns the fly left) from ``start``."""
    config = {**policy.env_config, "episode_length": steps}
    config["grating"] = {**config["grating"], "direction": direction, "speed_rad_s": (1.0, 1.0)}
    env = gym.make(policy.gym_id, **config)
    obs, _ = env.reset(seed=0)
    policy.reset()
    command = []
    for t in range(steps):
        obs, *_ = env.step(policy(obs))
        dn = policy.activity["dn_input"]
        if t >= start:
            command.append(dn[3:].mean() - dn[:3].mean())
    env.close()
    return float(np.mean(command))


def test_handwired_run_is_the_readout_and_turns_with_the_grating(run):
    policy = policies.load(run)
    assert policy.meta["handwired"] == {
        "task": "Optomotor",
        "gain": 1.0,
        "back_gain": None,
        "all_regions": False,
    }
    net = policy.network
    assert net.bilateral  # the steer preset's own parameter form
    params = checkpoints.load_run_or_checkpoint(run, driver.template(policy.meta))[0]
    w = np.asarray(net.walk_params(params["network"])["readout"]["w"])
    np.testing.assert_allclose(w, connectome_visual.optomotor_readout(net, gain=1.0), atol=1e-7)
    assert _turn_command(policy, "left") > 0 > _turn_command(policy, "right")


def test_init_from_reads_the_handwired_run(run):
    with pytest.raises(ValueError, match="fine-tunes a run of preset"):
        ppo.resolve_preset("connectome_optomotor_steer_handwired")
    cfg = ppo.resolve_preset("connectome_optomotor_steer_handwired", init_from=str(run))
    import flyenvs.brax

    env = flyenvs.brax.make(cfg["task"], backend="mujoco", **cfg["env"])
    net = driver.make_network(cfg, env.task, env.action_size)
    state, meta = driver.init_from(run, net, net.encoder.encoded_size, cfg)
    assert meta["step"] == 0
    w = np.asarray(net.walk_params(state["network"])["readout"]["w"])
    np.testing.assert_allclose(w, connectome_visual.optomotor_readout(net, gain=1.0), atol=1e-7)


def test_visualtaxis_handwired_run_is_the_ascending_network_with_the_back_gain(tmp_path):
    """VisualTaxis' start is the network its steer_handwired preset fine-tunes (with the
    ascending pathway), its readout the dark-object readout with the back band's own gain."""
    out = tmp_path / "taxis"
    args = ["--task", "VisualTaxis", "--gain", "2", "--back-gain", "8", "--out", str(out)]
    assert handwired_readout.main(args) == 0
    policy = policies.load(out)
    assert policy.meta["train"]["preset"] == "connectome_visualtaxis_steer_ascending"
    assert policy.meta["train"]["connectome"]["ascending_cell"] == "I1"
    net = policy.network
    params = checkpoints.load_run_or_checkpoint(out, driver.template(policy.meta))[0]
    walk = net.walk_params(params["network"])["readout"]
    want = connectome_visual.dark_object_readout(net, gain=2.0, back_gain=8.0)
    np.testing.assert_allclose(np.asarray(walk["w"]), want, atol=1e-7)
    assert np.count_nonzero(np.asarray(walk["w_asc"])) == 6  # the pathway, as initialised


def test_handwired_state_refuses_an_asymmetric_readout_on_a_bilateral_preset():
    def one_sided(net):
        w = connectome_visual.optomotor_readout(net, gain=1.0)
        w[:, :3] = 0.0  # only the right legs' DNs
        return w

    with pytest.raises(ValueError, match="left-right symmetric"):
        connectome_visual.handwired_state(PRESET, one_sided)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--task", "Optomotor", "--gain", "0"], "--gain and --back-gain must be > 0"),
        (["--task", "VisualTaxis", "--gain", "2", "--back-gain", "-1"], "must be > 0"),
        (["--task", "Optomotor", "--gain", "1", "--back-gain", "2"], "for the dark-object"),
        (["--task", "Optomotor", "--gain", "1", "--preset", "connectome_pursuit_steer"],
         "not a visual connectome preset for Optomotor"),
        (["--task", "Optomotor", "--gain", "1", "--preset", "nonsense"], "unknown preset"),
    ],
)  # fmt: skip
def test_handwired_readout_script_refuses_bad_arguments(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        handwired_readout.main([*args, "--out", str(tmp_path / "x")])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_handwired_readout_script_keeps_an_existing_run(run, capsys):
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    with pytest.raises(SystemExit) as exit_:
        handwired_readout.main(["--task", "Optomotor", "--gain", "2", "--out", str(run)])
    assert exit_.value.code == 2 and "already holds checkpoints" in capsys.readouterr().err
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before
