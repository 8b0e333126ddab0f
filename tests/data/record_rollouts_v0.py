"""Recorded tests/data/rollouts_v0.npz on the v0 code (commit 26b9e0a; not runnable on v1)."""

import numpy as np, gymnasium as gym, flyenvs  # noqa

CASES = {
    "Walk_cpg": ("flyenvs/Walk-v0", {"action_mode": "cpg"}),
    "Walk_joints": ("flyenvs/Walk-v0", {"action_mode": "joints"}),
    "Walk_vnc": ("flyenvs/Walk-v0", {"action_mode": "vnc"}),
    "VisualTaxis_cpg": ("flyenvs/VisualTaxis-v0", {}),
    "Optomotor_cpg": ("flyenvs/Optomotor-v0", {}),
    "Pursuit_joints": ("flyenvs/Pursuit-v0", {"action_mode": "joints"}),
}
out = {}
for name, (env_id, cfg) in CASES.items():
    env = gym.make(env_id, **cfg).unwrapped
    obs, _ = env.reset(seed=7)
    rng = np.random.default_rng(7)
    obs_l, rew_l, term_l = [obs], [], []
    mets = {}
    for _ in range(6):
        a = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        obs, r, term, trunc, info = env.step(a)
        obs_l.append(obs)
        rew_l.append(r)
        term_l.append(term)
        for k, v in info.items():
            if isinstance(v, float):
                mets.setdefault(k, []).append(v)
    out[f"{name}/obs"] = np.stack(obs_l)
    out[f"{name}/reward"] = np.array(rew_l)
    out[f"{name}/terminated"] = np.array(term_l)
    for k, v in mets.items():
        out[f"{name}/info/{k}"] = np.array(v)
    print(name, out[f"{name}/obs"].shape, rew_l)
np.savez_compressed(__file__.replace("record_rollouts_v0.py", "rollouts_v0.npz"), **out)
