"""flyenvs.sim: the backend seam (:mod:`.base`) and its two implementations.

``MujocoBackend`` (C MuJoCo, numpy) and ``MjxBackend`` (MJX, JAX; imported lazily so that the C
side does not pay for importing JAX).
"""

from flyenvs.sim.base import Backend, Readout
from flyenvs.sim.mujoco_backend import MujocoBackend

__all__ = ["Backend", "MjxBackend", "MujocoBackend", "Readout"]


def __getattr__(name: str):
    if name == "MjxBackend":
        from flyenvs.sim.mjx_backend import MjxBackend

        return MjxBackend
    raise AttributeError(name)
