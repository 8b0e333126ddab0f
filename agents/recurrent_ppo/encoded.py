"""A frozen sensory encoder run as part of the observation: :class:`EncodedObservation`.

A policy whose first stage never trains (the visual connectome policy with its optic lobe
frozen: :mod:`agents.connectome_visual`) names it ``network.observation_encoder``: an object
with ``initial_state(batch)``, ``pretrained_params``, ``encoded_size`` and
``observe(params, state, obs, reset) -> (state, obs')``, ``obs`` the raw flat observation.
The trainer then wraps its batched, auto-resetting env with :class:`EncodedObservation`, so the
encoder runs once per env step (in the rollout and the evaluation) and the stored trajectories
hold its output; the PPO epochs re-run only the part that trains.

Episode starts: the wrapped env's ``step`` returns the next episode's first observation where
``done`` (auto-reset), so the encoder restarts exactly those rows from its initial state, as a
recurrent policy restarts its carry at ``reset = done_{t-1}``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from brax.envs.base import State, Wrapper


class EncodedObservation(Wrapper):
    """Observations ``encoder.encode(obs, features)``; the encoder's state lives in
    ``state.info["encoder_state"]`` and the raw observation in ``state.info["raw_obs"]``.

    Args:
        env: batched, auto-resetting env with flat observations (``wrap_for_training``'s).
        encoder: see the module docstring (its parameters are its ``pretrained_params``).
    """

    def __init__(self, env: Any, encoder: Any) -> None:
        super().__init__(env)
        self.encoder = encoder

    @property
    def observation_size(self) -> int:
        return int(self.encoder.encoded_size)

    def _encode(self, state: State, enc_state: jax.Array, reset: jax.Array) -> State:
        e = self.encoder
        enc_state, obs = e.observe(e.pretrained_params, enc_state, state.obs, reset)
        info = {**state.info, "encoder_state": enc_state, "raw_obs": state.obs}
        return state.replace(obs=obs, info=info)

    def reset(self, rng: jax.Array) -> State:
        state = self.env.reset(rng)
        batch = state.obs.shape[0]
        return self._encode(
            state, self.encoder.initial_state(batch), jnp.ones((batch,), dtype=bool)
        )

    def step(self, state: State, action: jax.Array) -> State:
        info = dict(state.info)
        enc_state, raw = info.pop("encoder_state"), info.pop("raw_obs")
        nstate = self.env.step(state.replace(obs=raw, info=info), action)
        return self._encode(nstate, enc_state, nstate.done > 0)
