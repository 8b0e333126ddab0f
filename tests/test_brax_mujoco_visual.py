"""Visual tasks on the batched C MuJoCo engine (``backend="mujoco"``): parity with the Gymnasium
path (observations with vision, rewards, float64 physics), every action mode, the training
wrappers, a PPO smoke run.

No MJX: the graphs compile in seconds (the physics is a host callback). Pursuit's target moves
every step, so a moving arena object (a mocap body, scenery only) is covered.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils import seeding

import flyenvs.brax
from flyenvs.gym.env import FlyEnv

SEEDS = (7, 11, 12)
N_STEPS = 10
SHORT = {"episode_length": 50}


def _key(seed: int) -> jax.Array:
    """The reset key ``FlyEnv.reset(seed=seed)`` draws."""
    return jax.random.PRNGKey(int(seeding.np_random(seed)[0].integers(0, 2**31 - 1)))


def _gym_rollout(gym_env: FlyEnv, seed: int, actions: np.ndarray) -> tuple[list, np.ndarray]:
    """([(obs, reward, terminated)] of the reset and each step, the final float64 qpos)."""
    obs, _ = gym_env.reset(seed=seed)
    out = [(obs, 0.0, False)]
    for action in actions:
        obs, reward, terminated, _, _ = gym_env.step(action)
        out.append((obs, reward, terminated))
    return out, gym_env.unwrapped._physics.qpos.copy()


#: Tolerance of each observation entry and the reward, times its scale (1 + max |x|). The float64
#: physics of the two paths (native adhesion actuators / the adhesion rule's xfrc) differ by
#: the solver's tolerance-level noise (jumps of ~1e-8 where its iteration count differs),
#: which grows over the steps, most in the velocities (measured up to 5e-5 in cpg mode); in vnc
#: mode the connectome controller adds float32 noise of its own (batched vs unbatched, 1e-5).
#: Measured worst case (3 seeds, 10 steps): 5e-5 (cpg), 1.2e-4 (vnc), 0 (joints).
RTOL = 1e-3
#: Vision: at most this share of the ommatidia may differ by more than 1e-4 (a ray grazing an
#: object's edge flips with noise in the eye pose: measured none in cpg mode, a few in vnc).
VISION_FLIPS = 0.01


def _compare(state, gym_out, i: int, step: int) -> None:
    obs, reward, terminated = gym_out
    where = f"env {i}, step {step}"
    for name, ref in obs.items():
        got = np.asarray(state.obs[name][i])
        if name == "vision":
            flips = np.mean(np.abs(got - ref) > 1e-4)
            assert flips <= VISION_FLIPS, f"{where}: {flips:.1%} of the ommatidia differ"
        else:
            atol = RTOL * (1.0 + np.abs(ref).max())
            np.testing.assert_allclose(got, ref, rtol=0, atol=atol, err_msg=f"{where}, {name}")
    if step:
        np.testing.assert_allclose(float(state.reward[i]), reward, rtol=0,
                                   atol=RTOL * (1.0 + abs(reward)), err_msg=where)  # fmt: skip
        assert bool(state.done[i]) == terminated, where


@pytest.mark.parametrize(
    ("name", "mode"),
    [("VisualTaxis", "cpg"), ("Optomotor", "cpg"), ("Pursuit", "cpg"),
     pytest.param("VisualTaxis", "joints", marks=pytest.mark.slow), ("Pursuit", "vnc")],
)  # fmt: skip
def test_parity_with_the_gymnasium_path(name, mode):
    """Same seeds and actions, a batch of envs on the engine and ``FlyEnv`` (C MuJoCo, the
    adhesion rule) one seed after the other: the same observations (vision included), rewards,
    terminations and float64 physics, to the noise of the float64 solver (:data:`RTOL`)."""
    env = flyenvs.brax.make(name, backend="mujoco", n_threads=2, action_mode=mode, **SHORT)
    reset, step = jax.jit(jax.vmap(env.reset)), jax.jit(jax.vmap(env.step))
    gym_env = FlyEnv(name, action_mode=mode, **SHORT)
    low, high = gym_env.action_space.low, gym_env.action_space.high
    rng = np.random.default_rng(0)
    actions = rng.uniform(low, high, (N_STEPS, len(SEEDS), env.action_size)).astype(np.float32)
    state = reset(jnp.stack([_key(s) for s in SEEDS]))
    states = [state]
    for action in actions:
        state = step(state, jnp.asarray(action))
        states.append(state)
    qpos = env.sim.float64_state(state.pipeline_state)[:, 1 : 1 + env.task.nq]
    for i, seed in enumerate(SEEDS):
        gym_out, gym_qpos = _gym_rollout(gym_env, seed, actions[:, i])
        for t, (s, g) in enumerate(zip(states, gym_out, strict=True)):
            _compare(s, g, i, t)
        np.testing.assert_allclose(qpos[i], gym_qpos, rtol=0, atol=1e-5)  # mm, rad
    if name == "Pursuit":  # the target moved: the eyes saw it move
        assert float(jnp.abs(state.metrics["target_speed_mm_s"]).min()) > 0
        assert not np.allclose(states[1].obs["vision"], state.obs["vision"])


def test_training_wrappers_start_fresh_arenas_on_the_host():
    """``wrap_for_training`` (vmap, episodes, fresh auto-reset, flat observations) on Pursuit:
    where the episodes end, new arenas and initial states are drawn for every env."""
    env = flyenvs.brax.make("Pursuit", backend="mujoco", n_threads=2, **SHORT)
    wrapped = flyenvs.brax.wrap_for_training(env, episode_length=3)
    reset, step = jax.jit(wrapped.reset), jax.jit(wrapped.step)
    state = reset(jax.random.split(jax.random.PRNGKey(0), 2))
    assert state.obs.shape == (2, env.task.observation_size)
    first = jax.tree.map(np.array, (state.pipeline_state.bits, state.info["task"]["arena"]))
    for _ in range(3):
        state = step(state, jnp.zeros((2, env.action_size)))
    assert np.all(np.asarray(state.info["task"]["step"]) == 0)
    assert not np.array_equal(np.asarray(state.pipeline_state.bits), first[0])
    pos = np.asarray(state.info["task"]["arena"]["pos_mm"])
    assert not np.allclose(pos, first[1]["pos_mm"])  # a new target path
    np.testing.assert_array_equal(np.asarray(state.info["task"]["arena"]["time_s"]), 0.0)
    assert np.all(np.isfinite(state.obs))


@pytest.mark.slow
def test_smoke_training_of_visual_taxis_on_the_batched_c_engine(tmp_path):
    """PPO end to end on VisualTaxis, ``backend="mujoco"``: checkpoints, metrics, a policy that
    acts on the Gymnasium env's observations (vision included). Slow: 64 s on 2 shared cores
    (the Walk smoke run, tests/test_train_walk.py, took 47 s beside it)."""
    from agents import policies, ppo

    cfg = ppo.resolve_preset("smoke", backend="mujoco")
    cfg["task"] = "VisualTaxis"
    summary = ppo.train(tmp_path / "run", cfg)
    assert summary["final_step"] == cfg["ppo"]["num_timesteps"] and len(summary["evals"]) >= 2
    assert all(np.isfinite(row["eval/episode_reward"]) for row in summary["evals"])
    policy = policies.load(tmp_path / "run")
    assert policy.meta["backend"] == "mujoco" and policy.gym_id == "flyenvs/VisualTaxis-v1"
    gym_env = FlyEnv("VisualTaxis", **policy.env_config)
    obs, _ = gym_env.reset(seed=0)
    assert gym_env.action_space.contains(policy(obs))
