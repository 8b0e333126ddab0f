"""dm_env adapter for dm-control users: :func:`load` returns a ``dm_env.Environment``.

    from flyenvs import dm_env as fly_dm_env
    env = fly_dm_env.load("Walk", seed=0, episode_length=500)
    timestep = env.reset()

It wraps the Gymnasium adapter (:class:`flyenvs.gym.env.FlyEnv`, C MuJoCo); see
:mod:`flyenvs.dm_env.env`.
"""

from flyenvs.dm_env.env import FlyDmEnv, load

__all__ = ["FlyDmEnv", "load"]
