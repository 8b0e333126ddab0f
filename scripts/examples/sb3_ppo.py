"""Shared body of the Stable-Baselines3 examples (``sb3_walk.py``, ``sb3_visual_taxis.py``):
PPO with ``MultiInputPolicy`` (the observation is a dict) on the native vector env
(``gymnasium.make_vec(id, vectorization_mode="vector_entry_point")``, all envs' physics in one
host call) through :class:`flyenvs.gym.sb3.SB3VecEnv`.

The mean episode reward (deterministic policy, one episode per env) is measured before and after
training and printed; the model is saved as an SB3 zip at ``--out``, the resolved settings, git
revision, rewards and wall times as JSON beside it (``<out>.json``). Needs the optional extra:
``pip install -e '.[sb3]'`` (Stable-Baselines3 and torch).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True)  # fmt: skip
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def parse_args(argv: list[str] | None, description: str, out: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--steps", type=int, default=8192, help="PPO training env-steps (all envs)")
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--out", type=Path, default=Path(out), help="SB3 model zip to write")
    p.add_argument(
        "--n-steps",
        type=int,
        default=256,
        help="PPO rollout length per env (a rollout = n_steps * num_envs env-steps)",
    )
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--n-epochs", type=int, default=4)
    p.add_argument("--episode-length", type=int, default=100, help="control steps (20 ms each)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="host threads of the batched physics (and torch)")  # fmt: skip
    return p.parse_args(argv)


def _mean_reward(model: Any, env: Any, n_episodes: int) -> float:
    from stable_baselines3.common.evaluation import evaluate_policy

    mean, _ = evaluate_policy(model, env, n_eval_episodes=n_episodes, deterministic=True)
    return float(mean)


def main(env_id: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train PPO on ``env_id`` as ``args`` says; returns the JSON record."""
    try:
        import torch
        from stable_baselines3 import PPO
        from stable_baselines3.common.vec_env import VecMonitor
    except ImportError:
        sys.exit("Stable-Baselines3 is not installed: pip install -e '.[sb3]'")
    import gymnasium as gym

    import flyenvs  # noqa: F401  (registers the ids)
    from flyenvs.gym.sb3 import SB3VecEnv

    torch.set_num_threads(max(1, args.threads))
    t0 = time.perf_counter()
    config = {"episode_length": args.episode_length}
    venv = gym.make_vec(env_id, args.num_envs, vectorization_mode="vector_entry_point",
                        n_threads=args.threads, **config)  # fmt: skip
    env = VecMonitor(SB3VecEnv(venv))  # episode reward/length in infos for SB3's logger
    env.seed(args.seed)
    model = PPO("MultiInputPolicy", env, n_steps=args.n_steps, batch_size=args.batch_size,
                n_epochs=args.n_epochs, seed=args.seed, device="cpu", verbose=0)  # fmt: skip
    t_build = time.perf_counter() - t0
    before = _mean_reward(model, env, args.num_envs)
    t1 = time.perf_counter()
    model.learn(total_timesteps=args.steps)
    t_train = time.perf_counter() - t1
    after = _mean_reward(model, env, args.num_envs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    env.close()
    record = {
        "env_id": env_id, "env_config": config, "git_revision": _git_revision(),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "trained_steps": int(model.num_timesteps),
        "mean_episode_reward_before": before, "mean_episode_reward_after": after,
        "build_s": round(t_build, 1), "train_s": round(t_train, 1),
        "total_s": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    json_path = args.out.with_name(args.out.name.removesuffix(".zip") + ".json")
    json_path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{env_id}: mean episode reward before {before:.3f}, after {after:.3f} "
          f"({record['trained_steps']} steps, train {t_train:.0f} s, total "
          f"{record['total_s']:.0f} s); model {args.out}")  # fmt: skip
    return record
