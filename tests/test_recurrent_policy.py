"""Stateful Gymnasium policies from recurrent runs (``agents.policies.load`` ->
``RecurrentPolicy``): the connectome VNC policy runs in a plain ``gymnasium.make`` loop on C
MuJoCo, holds its state between calls, and earns the same return there as in the Brax env on
the same seeds."""

from __future__ import annotations

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils import seeding

import flyenvs.brax
from agents import checkpoints, policies, ppo
from agents.recurrent_ppo import driver
from agents.recurrent_ppo.rollout import policy_step
from agents.recurrent_ppo.train import init_training_state

STEPS, SEEDS = 25, (0, 1, 2, 3)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A connectome run dir with one checkpoint whose readout is random (a policy that
    reacts to its observation; training is covered elsewhere)."""
    cfg = ppo.resolve_preset("connectome_smoke", env={"episode_length": STEPS})
    env = flyenvs.brax.make(cfg["task"], backend="mujoco", **cfg["env"])
    network = driver.make_network(cfg, env.task, env.action_size)
    state = init_training_state(network, env.task.observation_size, 1e-3, 0.5)
    w = state["network"]["readout"]["w"]
    state["network"]["readout"]["w"] = 0.05 * jax.random.normal(jax.random.PRNGKey(3), w.shape)
    path = tmp_path_factory.mktemp("connectome_run")
    checkpoints.save(path, 640, state, driver.run_meta(cfg, env))
    return path, env, network, state


def _gym_returns(policy) -> list[float]:
    env = gym.make(policy.gym_id, **policy.env_config)
    returns = []
    for seed in SEEDS:
        obs, _ = env.reset(seed=seed)
        policy.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def _brax_returns(env, network, state) -> np.ndarray:
    """The same episodes in the Brax env: each seed's key drawn as FlyEnv.reset draws it."""
    ints = [int(seeding.np_random(s)[0].integers(0, 2**31 - 1)) for s in SEEDS]
    keys = jnp.stack([jax.random.PRNGKey(i) for i in ints])
    wrapped = flyenvs.brax.wrap_for_training(env, episode_length=STEPS)

    def body(c, _):
        s, carry, alive, ret = c
        carry, a, _ = policy_step(
            network, state["network"], state["normalizer"], carry, s.obs, s.done > 0, None
        )
        s = wrapped.step(s, a)
        return (s, carry, alive * (1 - s.done), ret + alive * s.reward), None

    n = len(SEEDS)
    start = (wrapped.reset(keys), network.initial_carry(n), jnp.ones(n), jnp.zeros(n))
    (_, _, _, ret), _ = jax.jit(lambda c: jax.lax.scan(body, c, None, length=STEPS))(start)
    return np.asarray(ret)


def test_connectome_policy_runs_in_gymnasium_with_the_brax_return(run):
    path, env, network, state = run
    policy = policies.load(path)
    assert isinstance(policy, policies.RecurrentPolicy)
    gym_returns = np.asarray(_gym_returns(policy))
    brax_returns = _brax_returns(env, network, state)
    np.testing.assert_allclose(gym_returns.mean(), brax_returns.mean(), rtol=0.05)
    np.testing.assert_allclose(gym_returns, brax_returns, rtol=0.05)  # episode by episode


def test_policy_holds_its_state_until_reset(run):
    policy = policies.load(run[0])
    env = gym.make(policy.gym_id, **policy.env_config)
    obs, _ = env.reset(seed=0)
    first = policy(obs)
    assert policy.state is not None
    second = policy(obs)  # same observation, later in the VNC's rhythm: another action
    assert not np.allclose(first, second)
    policy.reset()
    np.testing.assert_array_equal(policy(obs), first)
    flat = policy.flatten(obs)
    policy.reset()
    batch = policy(np.stack([flat, flat]))
    assert batch.shape == (2, policy.action_size)
    np.testing.assert_allclose(batch[0], first, atol=1e-6)
    with pytest.raises(ValueError, match="batch size changed"):
        policy(flat)
    with pytest.raises(ValueError, match="observation must be"):
        policy.reset() or policy(np.zeros(3))
    env.close()


def test_evaluate_draws_the_neurons_beside_the_camera(run, tmp_path):
    """scripts/evaluate.py on a connectome run: the frames carry the neural panel (DN drives,
    motor pools) beside the camera, and --baseline runs the untrained network."""
    import json
    import sys
    from pathlib import Path

    import imageio.v3 as iio

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import evaluate

    out = tmp_path / "v.mp4"
    argv = [str(run[0]), "--out", str(out), "--episodes", "1", "--steps", "5", "--baseline"]
    assert evaluate.main([*argv, "--size", "120", "160"]) == 0
    frames = iio.imread(out)
    assert frames.shape[:3] == (5, 120, 160 + 240)
    panel = frames[-1][:, 160:].astype(float)
    assert panel[50:].mean() > 5  # the motor-pool heat map is not blank
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["baseline_untrained"]["falls"] >= 0 and "baseline_zero_action" not in record
    with pytest.raises(SystemExit):  # a recurrent run has no zero-action baseline
        evaluate.main([*argv[:3], "--zero-action"])


def test_turn_floor_scores_a_trained_run(run, tmp_path):
    """scripts/turn_floor.py --checkpoint: a connectome run's turn figures on the batched
    engine (written to the JSON beside the hand-written readouts)."""
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import turn_floor

    path, *_ = run
    out = tmp_path / "floor.json"
    args = ["--skip-gaits", "--readouts", "0,0", "--envs", "2", "--steps", "6"]
    assert turn_floor.main([*args, "--checkpoint", str(path), "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["trained"]
    assert row["step"] == 640 and row["run"] == str(path)
    assert np.isfinite(row["mean_abs_episode_turn_error_rad_s"])
    assert np.isfinite(row["mean_abs_speed_error_mm_s"]) and row["mean_forward_speed_mm_s"] > -5


def test_init_from_starts_a_run_from_another_runs_parameters(run, tmp_path):
    """``init_from``: a new run (here with the VNC frozen) starts from another run's newest
    checkpoint, and records which; with Adam at learning rate 0 its saved network is exactly
    the source's."""
    import json

    path, _, _, state = run
    cfg = ppo.resolve_preset(
        "connectome_smoke",
        env={"episode_length": STEPS},
        num_timesteps=80,
        checkpoint_every=80,
        learning_rate=0.0,
        init_from=path,
    )
    cfg["connectome"]["trainable"] = []
    ppo.train(tmp_path / "tuned", cfg)
    saved = json.loads((tmp_path / "tuned" / "config.json").read_text())["train"]
    assert saved["init_from"] == str(path) and saved["init_from_step"] == 640
    tuned, meta, _ = checkpoints.load_latest_valid(tmp_path / "tuned", driver.template)
    assert meta["step"] == 80
    same = jax.tree.map(np.array_equal, tuned["network"], state["network"])
    assert all(jax.tree.leaves(same))


def test_init_from_refuses_what_does_not_fit(run, tmp_path):
    """A source that is missing, of another policy's structure, or of another task is refused
    with a clear error before training; Brax PPO's MLP presets take no ``init_from``."""
    path, env, network, state = run
    obs_size = env.task.observation_size
    cfg = ppo.resolve_preset("connectome_smoke", init_from=path)
    with pytest.raises(FileNotFoundError):
        driver.init_from(tmp_path / "nothing", network, obs_size, cfg)
    other = driver.make_network(ppo.resolve_preset("feedforward_quick"), env.task, env.action_size)
    with pytest.raises(checkpoints.CheckpointError):
        driver.init_from(path, other, obs_size, cfg)
    meta = {**driver.run_meta(cfg, env), "task": "Optomotor"}
    checkpoints.save(tmp_path / "optomotor", 64, state, meta)
    with pytest.raises(checkpoints.CheckpointError, match="not a connectome policy for Walk"):
        driver.init_from(tmp_path / "optomotor", network, obs_size, cfg)
    with pytest.raises(ValueError, match="init_from applies to the recurrent"):
        ppo.resolve_preset("quick", init_from=path)
