"""Recurrent PPO (GRU actor-critic, truncated BPTT) for Brax environments; docs/recurrent_ppo.md."""

from agents.recurrent_ppo.networks import GRUActorCritic, RecurrentNetwork
from agents.recurrent_ppo.train import train

__all__ = ["GRUActorCritic", "RecurrentNetwork", "train"]
