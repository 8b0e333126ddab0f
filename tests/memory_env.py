"""A cue-recall Brax env for testing recurrent policies (tests only).

An episode lasts ``1 + hidden_steps`` steps. The first observation is ``[cue, 1]`` with the cue
drawn from {-1, +1}; every later one is ``[0, 0]``. The action at the cue step earns nothing;
each of the ``hidden_steps`` later actions earns ``cue * clip(action[0], -1, 1)``, so the episode
return lies in [-hidden_steps, hidden_steps]. A policy without memory cannot beat 0 in
expectation; one that remembers the cue earns ``hidden_steps``. The env terminates itself
(``done = 1`` at its last step) and keeps its RNG in ``info["task"]["rng"]`` for
:class:`flyenvs.brax.FreshAutoResetWrapper`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from brax.envs import training as brax_training
from brax.envs.base import Env, State

from flyenvs.brax import FreshAutoResetWrapper


class CueMemoryEnv(Env):
    def __init__(self, hidden_steps: int = 3) -> None:
        self.hidden_steps = hidden_steps

    @property
    def observation_size(self) -> int:
        return 2

    @property
    def action_size(self) -> int:
        return 1

    @property
    def backend(self) -> str:
        return "jax"

    @property
    def episode_length(self) -> int:
        return 1 + self.hidden_steps

    def reset(self, rng: jax.Array) -> State:
        rng, k = jax.random.split(rng)
        cue = jnp.where(jax.random.bernoulli(k), 1.0, -1.0)
        info = {"task": {"rng": rng, "cue": cue, "t": jnp.zeros((), jnp.int32)}}
        obs = jnp.stack([cue, jnp.ones(())])
        zero = jnp.zeros(())
        return State(None, obs, zero, zero, {"recall": zero}, info)

    def step(self, state: State, action: jax.Array) -> State:
        task = state.info["task"]
        t = task["t"] + 1  # the step just taken ends at t
        correct = task["cue"] * jnp.clip(action[0], -1.0, 1.0)
        reward = jnp.where(t > 1, correct, 0.0)
        done = (t >= self.episode_length).astype(jnp.float32)
        rng, _ = jax.random.split(task["rng"])
        info = {**state.info, "task": {**task, "rng": rng, "t": t}}
        return state.replace(
            obs=jnp.zeros(2), reward=reward, done=done, metrics={"recall": reward}, info=info
        )


def wrap(env: Env, episode_length: int = 1000, action_repeat: int = 1) -> Env:
    """Vmap -> Episode -> FreshAutoReset (the flyenvs stack without the dict flattening)."""
    env = brax_training.VmapWrapper(env)
    env = brax_training.EpisodeWrapper(env, episode_length, action_repeat)
    return FreshAutoResetWrapper(env)
