"""Stable-Baselines3 on the native vector env (:mod:`flyenvs.gym.sb3`, ``scripts/examples/``).

Without SB3 (the optional extra ``.[sb3]``, not in ``dev``): the adapter's protocol
(:class:`SameStepVecEnv`) against the wrapped env stepped on its own, and the ImportError that
names the extra. With SB3: the same checks on ``SB3VecEnv`` (a real SB3 ``VecEnv``), a tiny PPO
run, and (slow) each example script trained for 2,048 steps as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import flyenvs  # noqa: F401  (registers the ids)
from flyenvs.gym.sb3 import INSTALL_HINT, SameStepVecEnv

try:  # at collection, before any test builds an env (see flyenvs.gym.sb3._sb3_class)
    from flyenvs.gym.sb3 import SB3VecEnv
except (ImportError, RuntimeError) as err:
    SB3VecEnv, SB3_MISSING = None, f"{type(err).__name__}: {err}"
else:
    SB3_MISSING = None

ROOT = Path(__file__).resolve().parents[1]
N_ENVS = 2
EPISODE_LENGTH = 5  # truncation at the 5th step of each episode


def _need_sb3() -> None:
    if SB3VecEnv is None:
        pytest.skip(f"Stable-Baselines3 unavailable ({SB3_MISSING}); it is an optional extra")


def _native(env_id: str = "flyenvs/Walk-v1"):
    return gym.make_vec(env_id, num_envs=N_ENVS, vectorization_mode="vector_entry_point",
                        n_threads=2, episode_length=EPISODE_LENGTH)  # fmt: skip


@pytest.fixture(scope="module")
def twins():
    """Two native envs: one for the adapter, one stepped on its own as the reference."""
    a, b = _native(), _native()
    yield a, b
    a.close()
    b.close()


def _adapter(kind: str, venv):
    if kind == "plain":
        return SameStepVecEnv(venv)
    _need_sb3()
    from stable_baselines3.common.vec_env import VecEnv

    env = SB3VecEnv(venv)
    assert isinstance(env, VecEnv) and isinstance(env, SameStepVecEnv)
    return env


def _actions(space, n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(space.low, space.high, (N_ENVS, *space.shape)).astype(np.float32)
            for _ in range(n)]  # fmt: skip


@pytest.mark.parametrize("kind", ["plain", "sb3"])
def test_same_step_autoreset_and_seeding(twins, kind):
    """Episodes as the wrapped env's own (seeded s + i); when one ends the returned obs is the
    next episode's first, ``terminal_observation`` the ended one's last, ``TimeLimit.truncated``
    set on truncation; the next step continues the new episode."""
    venv, ref = twins
    env = _adapter(kind, venv)
    assert env.num_envs == N_ENVS
    assert env.observation_space == venv.single_observation_space
    assert env.action_space == venv.single_action_space
    assert env.seed(7) == [7, 8]
    obs = env.reset()
    ref_obs, ref_info = ref.reset(seed=7)
    assert venv.unwrapped.np_random_seed == (7, 8)
    assert env._seeds == [None, None]  # used once, as SB3's VecEnv
    for k in ref_obs:
        np.testing.assert_array_equal(obs[k], ref_obs[k], err_msg=k)
    np.testing.assert_array_equal(env.reset_infos[1]["command"], ref_info["command"][1])

    n_done = 0
    actions = _actions(env.action_space, 2 * EPISODE_LENGTH + 2)
    for t, action in enumerate(actions):
        obs, rewards, dones, infos = env.step(action)
        ref_obs, ref_rew, term, trunc, _ = ref.step(action)
        assert rewards.dtype == np.float32 and rewards.shape == (N_ENVS,)
        assert dones.dtype == np.bool_ and isinstance(infos, list) and len(infos) == N_ENVS
        np.testing.assert_allclose(rewards, ref_rew, rtol=1e-6, err_msg=f"step {t}")
        np.testing.assert_array_equal(dones, term | trunc, err_msg=f"step {t}")
        if dones.any():
            n_done += int(dones.sum())
            ended = ref_obs
            ref_obs, _, t2, tr2, _ = ref.step(action)  # NEXT_STEP: this step resets them
            assert not (t2[dones] | tr2[dones]).any()
            for i in range(N_ENVS):
                if not dones[i]:
                    continue
                terminal = infos[i]["terminal_observation"]
                assert infos[i]["TimeLimit.truncated"] == bool(trunc[i] and not term[i])
                for k in ended:
                    np.testing.assert_array_equal(terminal[k], ended[k][i], err_msg=k)
                    np.testing.assert_array_equal(obs[k][i], ref_obs[k][i], err_msg=k)
                    assert not np.array_equal(obs[k][i], terminal[k]) or k == "command"
                assert "command" in env.reset_infos[i]
            # the envs not done step on in both (the reference stepped them once more)
            if not dones.all():
                break
        else:
            for k in ref_obs:
                np.testing.assert_array_equal(obs[k], ref_obs[k], err_msg=f"{k} step {t}")
            assert all("terminal_observation" not in info for info in infos)
    assert n_done == 2 * N_ENVS  # both envs truncated twice in 12 steps
    assert all(info["TimeLimit.truncated"] for info in infos if "terminal_observation" in info)


@pytest.mark.parametrize("kind", ["plain", "sb3"])
def test_attributes_and_methods(twins, kind):
    venv, _ = twins
    env = _adapter(kind, venv)
    assert env.get_attr("num_envs") == [N_ENVS, N_ENVS]
    assert env.get_attr("render_mode", indices=[1]) == [None]
    assert env.env_is_wrapped(gym.Wrapper) == [False, False]
    assert env.env_method("__repr__") == [repr(venv)] * N_ENVS
    with pytest.raises(NotImplementedError, match="subset"):
        env.set_attr("render_mode", None, indices=[0])
    with pytest.raises(NotImplementedError, match="subset"):
        env.env_method("__repr__", indices=0)
    env.set_attr("render_mode", None)
    with pytest.raises(ValueError, match="per-env reset options differ"):
        env.set_options([{"a": 1}, {}])
        env.reset()
    env.set_options(None)


def test_import_does_not_need_sb3():
    """``flyenvs.gym.sb3`` imports without SB3/torch; building ``SB3VecEnv`` without SB3 raises
    an ImportError naming the extra."""
    code = (
        "import sys; sys.modules['stable_baselines3'] = None\n"
        "import flyenvs.gym, flyenvs.gym.sb3 as m\n"
        "assert 'torch' not in sys.modules\n"
        "try:\n    m.SB3VecEnv\nexcept ImportError as e:\n    print(e)\n"
    )
    env = {**os.environ, "MUJOCO_GL": "egl"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert INSTALL_HINT in out.stdout and "Stable-Baselines3" in out.stdout, out.stdout


def test_sb3_after_an_egl_env_raises_not_segfaults():
    """Under MUJOCO_GL=egl an env loads Mesa's libLLVM; torch's Triton loaded after it would
    segfault at the first optimizer, so building ``SB3VecEnv`` then raises a clear error."""
    _need_sb3()
    code = (
        "import gymnasium as gym, flyenvs\n"
        "gym.make_vec('flyenvs/Walk-v1', 1, vectorization_mode='vector_entry_point')\n"
        "import flyenvs.gym.sb3 as m\n"
        "try:\n    m.SB3VecEnv\nexcept RuntimeError as e:\n    print(e)\n"
    )
    env = {**os.environ, "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    if "libLLVM" not in out.stdout:
        pytest.skip("this machine's EGL does not load Mesa's libLLVM")
    assert "before building the first env" in out.stdout


def test_rejects_a_same_step_vector_env():
    class Fake:
        metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}
        num_envs = 1

    with pytest.raises(ValueError, match="NEXT_STEP"):
        SameStepVecEnv(Fake())


def test_ppo_learns_a_few_steps(twins):
    """SB3's PPO takes the adapter (``MultiInputPolicy`` on the dict observation) and its
    timeout bootstrapping reads ``terminal_observation``."""
    _need_sb3()
    from stable_baselines3 import PPO

    venv, _ = twins
    env = SB3VecEnv(venv)
    env.seed(0)
    model = PPO("MultiInputPolicy", env, n_steps=8, batch_size=8, n_epochs=1, device="cpu",
                seed=0)  # fmt: skip
    model.learn(total_timesteps=2 * 8 * N_ENVS)
    assert model.num_timesteps == 2 * 8 * N_ENVS


@pytest.mark.slow
@pytest.mark.parametrize("script", ["sb3_walk.py", "sb3_visual_taxis.py"])
def test_example_trains_and_saves(script, tmp_path):
    """Each example trains 2,048 steps (8 envs x 256) as a subprocess and saves the SB3 zip."""
    _need_sb3()
    out = tmp_path / "model.zip"
    cmd = [sys.executable, f"scripts/examples/{script}", "--steps", "2048", "--num-envs", "8",
           "--out", str(out), "--episode-length", "50", "--threads", "2"]  # fmt: skip
    env = {**os.environ, "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "mean episode reward before" in proc.stdout
    assert out.is_file() and out.stat().st_size > 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["trained_steps"] >= 2048
    assert np.isfinite(
        [record["mean_episode_reward_before"], record["mean_episode_reward_after"]]
    ).all()

    from stable_baselines3 import PPO

    model = PPO.load(out, device="cpu")
    assert isinstance(model.observation_space, gym.spaces.Dict)
    assert ("vision" in model.observation_space.spaces) == ("visual" in script)
