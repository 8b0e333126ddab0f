"""The native vector env (``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``):
spaces, autoreset and seeding as ``SyncVectorEnv`` over ``FlyEnv``, determinism, errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, VectorEnv

import flyenvs  # noqa: F401  (registers the ids)
from flyenvs.gym import ENV_IDS, VECTOR_ENTRY_POINT
from flyenvs.gym.vector import FlyVectorEnv

N_ENVS = 3
SHORT = {"episode_length": 3}  # autoreset every 4th step
#: The batched engine matches the Gymnasium path to ~1e-5 in qpos.
RTOL, ATOL = 1e-3, 1e-3


def _native(**kw):
    return gym.make_vec("flyenvs/Walk-v1", num_envs=N_ENVS, vectorization_mode="vector_entry_point",
                        n_threads=2, **{**SHORT, **kw})  # fmt: skip


@pytest.fixture(scope="module")
def native():
    env = _native()
    yield env
    env.close()


@pytest.fixture(scope="module")
def sync():
    env = gym.make_vec("flyenvs/Walk-v1", num_envs=N_ENVS, vectorization_mode="sync", **SHORT)
    yield env
    env.close()


def _actions(env, n_steps: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    space = env.single_action_space
    shape = (env.num_envs, *space.shape)
    return [rng.uniform(space.low, space.high, shape).astype(np.float32) for _ in range(n_steps)]


def test_every_id_has_the_vector_entry_point():
    for env_id in ENV_IDS:
        assert gym.spec(env_id).vector_entry_point == VECTOR_ENTRY_POINT


def test_spaces_match_sync_vector_env(native, sync):
    assert isinstance(native.unwrapped, FlyVectorEnv) and isinstance(native, VectorEnv)
    assert native.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert native.num_envs == N_ENVS
    assert native.single_observation_space == sync.single_observation_space
    assert native.single_action_space == sync.single_action_space
    assert native.observation_space == sync.observation_space
    assert native.action_space == sync.action_space
    obs, _ = native.reset(seed=0)
    assert native.observation_space.contains(obs)


def test_autoreset_and_seeding_match_sync_vector_env(native, sync):
    """Env i of the native env is ``FlyEnv`` reset with seed + i: same first observations,
    rewards, done flags and automatic resets (reward 0, flags False) over two episodes."""
    obs_n, info_n = native.reset(seed=11)
    obs_s, info_s = sync.reset(seed=11)
    assert native.unwrapped.np_random_seed == tuple(11 + i for i in range(N_ENVS))
    for k in obs_s:
        np.testing.assert_allclose(obs_n[k], obs_s[k], rtol=RTOL, atol=ATOL, err_msg=k)
    np.testing.assert_allclose(info_n["command"], info_s["command"], rtol=1e-6)
    n_resets = 0
    for t, action in enumerate(_actions(native, 9)):
        obs_n, rew_n, term_n, trunc_n, info_n = native.step(action)
        obs_s, rew_s, term_s, trunc_s, info_s = sync.step(action)
        np.testing.assert_array_equal(term_n, term_s, err_msg=f"step {t}")
        np.testing.assert_array_equal(trunc_n, trunc_s, err_msg=f"step {t}")
        np.testing.assert_allclose(rew_n, rew_s, rtol=RTOL, atol=1e-5, err_msg=f"step {t}")
        for k in obs_s:
            np.testing.assert_allclose(obs_n[k], obs_s[k], rtol=RTOL, atol=ATOL,
                                       err_msg=f"step {t} {k}")  # fmt: skip
        assert sorted(info_n) == sorted(info_s), t
        for k in info_s:
            if k.startswith("_"):
                np.testing.assert_array_equal(info_n[k], info_s[k], err_msg=f"step {t} {k}")
        if t % 4 == 3:  # the step after truncation: every env reset
            n_resets += 1
            assert np.all(rew_n == 0.0) and not term_n.any() and not trunc_n.any()
            np.testing.assert_allclose(info_n["command"], info_s["command"], rtol=1e-6)
        else:
            assert np.all(rew_n != 0.0)
        assert trunc_n.all() == (t % 4 == 2), t
    assert n_resets == 2


def test_env_i_is_gym_make_seeded_seed_plus_i(native):
    """Env 2 of the batch reset with seed 20 is ``gym.make(id)`` reset with seed 22."""
    single = gym.make("flyenvs/Walk-v1", **SHORT)
    obs_n, _ = native.reset(seed=20)
    obs_1, _ = single.reset(seed=22)
    actions = _actions(native, 2, seed=5)
    for t, action in enumerate([None, *actions]):
        if action is not None:
            obs_n, rew_n, *_ = native.step(action)
            obs_1, rew_1, *_ = single.step(action[2])
            np.testing.assert_allclose(rew_n[2], rew_1, rtol=RTOL, atol=1e-5)
        for k in obs_1:
            np.testing.assert_allclose(obs_n[k][2], obs_1[k], rtol=RTOL, atol=ATOL,
                                       err_msg=f"step {t} {k}")  # fmt: skip
    single.close()


def test_partial_reset_mask(native):
    obs0, _ = native.reset(seed=3)
    obs1, *_ = native.step(_actions(native, 1)[0])
    mask = np.array([False, True, False])
    obs2, info = native.reset(seed=3, options={"reset_mask": mask})
    np.testing.assert_array_equal(info["_command"], mask)
    np.testing.assert_array_equal(obs2["joint_pos_rad"][1], obs0["joint_pos_rad"][1])
    np.testing.assert_array_equal(obs2["joint_pos_rad"][0], obs1["joint_pos_rad"][0])


def test_seeded_runs_are_deterministic(native):
    def run(seed):
        out = [native.reset(seed=seed)[0]]
        for action in _actions(native, 5, seed=1):
            out.append(native.step(action))
        return out

    a, b, c = run(7), run(7), run(8)
    for x, y in zip(a[1:], b[1:], strict=True):
        for k in x[0]:
            np.testing.assert_array_equal(x[0][k], y[0][k])
        np.testing.assert_array_equal(x[1], y[1])
    assert not np.allclose(a[0]["joint_pos_rad"], c[0]["joint_pos_rad"])
    # envs of one batch start differently
    assert not np.allclose(a[0]["joint_pos_rad"][0], a[0]["joint_pos_rad"][1])


def test_bad_inputs_raise_clear_errors(native):
    native.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must have shape \(3, 8\)"):
        native.step(np.zeros((3, 7), np.float32))
    with pytest.raises(ValueError, match=r"actions must have shape \(3, 8\)"):
        native.step(np.zeros(8, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        native.step(np.full((3, 8), np.nan, np.float32))
    with pytest.raises(ValueError, match="seed list"):
        native.reset(seed=[1, 2])


def test_bad_config_render_and_fresh_step():
    with pytest.raises(KeyError, match="valid options: .*action_mode"):
        _native(no_such_option=1)
    with pytest.raises(ValueError, match="render_mode must be None"):
        _native(render_mode="rgb_array")
    env = FlyVectorEnv(2, "Walk", n_threads=1, **SHORT)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros((2, 8), np.float32))
    env.close()


@pytest.mark.parametrize("task", ["Optomotor"])
def test_visual_task_matches_sync_vector_env(task):
    """A visual task (eyes in JAX, arena scenery) on the native path: env i as FlyEnv."""
    env_id = f"flyenvs/{task}-v1"
    native = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point",
                          n_threads=2, episode_length=2)  # fmt: skip
    sync = gym.make_vec(env_id, num_envs=2, vectorization_mode="sync", episode_length=2)
    assert native.observation_space == sync.observation_space
    obs_n, _ = native.reset(seed=4)
    obs_s, _ = sync.reset(seed=4)
    for t, action in enumerate([None, *_actions(native, 3)]):
        if action is not None:
            obs_n, rew_n, term_n, trunc_n, _ = native.step(action)
            obs_s, rew_s, term_s, trunc_s, _ = sync.step(action)
            np.testing.assert_array_equal(trunc_n, trunc_s)
            np.testing.assert_allclose(rew_n, rew_s, rtol=RTOL, atol=1e-5, err_msg=f"step {t}")
        for k in obs_s:
            np.testing.assert_allclose(obs_n[k], obs_s[k], rtol=RTOL, atol=ATOL,
                                       err_msg=f"step {t} {k}")  # fmt: skip
    native.close()
    sync.close()


@pytest.mark.slow
def test_bench_script_runs(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "bench_vector.py"
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(script), "--num-envs", "2", "--steps", "2", "--repeats", "1",
         "--no-async", "--json", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert {r["variant"] for r in rows} == {"native", "sync"}
    assert all(r["median"] > 0 for r in rows)
