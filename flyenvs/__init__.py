"""flyenvs: reinforcement-learning environments with an embodied Drosophila.

Importing ``flyenvs`` registers every Gymnasium id (``flyenvs/Walk-v0``, ...); the Brax
environments register on ``import flyenvs.brax`` (which imports Brax).
"""

from flyenvs.gym import register_envs as _register_envs

__version__ = "0.1.0"

_register_envs()
