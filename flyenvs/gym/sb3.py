"""Stable-Baselines3 adapter: a :class:`flyenvs.gym.vector.FlyVectorEnv` as an SB3 ``VecEnv``.

SB3 does not take a ``gymnasium.vector.VectorEnv``; it has its own vector API
(``stable_baselines3.common.vec_env.VecEnv``). ``SB3VecEnv(vector_env)`` gives it the native
batched env (all envs' physics in one host call) without copying it into ``DummyVecEnv``::

    import gymnasium as gym
    import flyenvs
    from flyenvs.gym.sb3 import SB3VecEnv
    from stable_baselines3 import PPO

    venv = gym.make_vec("flyenvs/Walk-v1", num_envs=8, vectorization_mode="vector_entry_point")
    model = PPO("MultiInputPolicy", SB3VecEnv(venv)).learn(2048)

What the adapter changes (the rest is passed through):

* ``reset()`` returns the obs dict only ({name: [num_envs, ...] float32}); seeds set by
  ``seed(s)`` (env i gets ``s + i``, as SB3's ``DummyVecEnv``) apply at the next ``reset()``;
  the reset infos are in ``reset_infos`` (a list of ``num_envs`` dicts).
* ``step(actions)`` returns (obs dict, rewards [num_envs] float32, dones [num_envs] bool,
  infos: a list of ``num_envs`` dicts). Autoreset is SAME-STEP (SB3's convention, where the
  wrapped env's is Gymnasium's NEXT_STEP): an env that ends in this step is reset in the same
  call, so its entry of the returned obs is the first of its next episode; its info carries
  ``terminal_observation`` (the last obs of the ended episode, {name: [...]} for that env) and
  ``TimeLimit.truncated`` (truncated and not terminated: SB3 then bootstraps the value).
  The reset is ``vector_env.reset(options={"reset_mask": dones})``, so it draws the next
  episode from env i's own generator as the NEXT_STEP autoreset would: the episodes are the
  same as those of the wrapped env stepped on its own.
* per-env infos: the wrapped env's masked arrays (``info[k][i]`` where ``info["_k"][i]``) as
  Python/numpy scalars (``command`` as a [2] array).
* ``get_attr``/``set_attr``/``env_method`` act on the one batched env, which every index
  shares: ``get_attr`` and ``env_method`` return its value once per index, ``set_attr`` and
  ``env_method`` on a strict subset of the envs raise (the envs share one config).
  ``env_is_wrapped`` is False everywhere (no per-env Gymnasium wrappers). No rendering.

Stable-Baselines3 is an optional extra (``pip install -e '.[sb3]'``, which brings torch);
importing this module does not import it. :class:`SameStepVecEnv` implements the protocol
without SB3; ``SB3VecEnv`` (built on first access) is the same class deriving from SB3's
``VecEnv``, which is what SB3's algorithms check for. Import it before building the first env
(as above): under ``MUJOCO_GL=egl`` building an env loads Mesa's ``libLLVM``, and torch's
Triton loaded after it segfaults (:func:`_sb3_class` raises a clear error instead).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: How to install the optional dependency (named in the ImportError).
INSTALL_HINT: str = "pip install -e '.[sb3]'"


def _env_info(infos: dict[str, Any], i: int) -> dict[str, Any]:
    """Env ``i``'s entries of a Gymnasium vector ``infos`` dict (those its ``_key`` mask sets)."""
    out: dict[str, Any] = {}
    for key, value in infos.items():
        if key.startswith("_"):
            continue
        mask = infos.get(f"_{key}")
        if mask is not None and not mask[i]:
            continue
        out[key] = value[i].copy() if isinstance(value, np.ndarray) and value.ndim > 1 else (
            value[i].item() if isinstance(value, np.ndarray) else value[i]
        )  # fmt: skip
    return out


class SameStepVecEnv:
    """SB3's ``VecEnv`` protocol over a NEXT_STEP Gymnasium vector env, without importing SB3.

    Args:
        vector_env: a :class:`flyenvs.gym.vector.FlyVectorEnv` (as returned by
            ``gymnasium.make_vec(id, n, vectorization_mode="vector_entry_point")``); any vector
            env with NEXT_STEP autoreset whose ``reset`` takes ``options={"reset_mask": mask}``.
    """

    def __init__(self, vector_env: Any) -> None:
        from gymnasium.vector import AutoresetMode

        mode = vector_env.metadata.get("autoreset_mode")
        if mode != AutoresetMode.NEXT_STEP:
            raise ValueError(
                f"the vector env must use AutoresetMode.NEXT_STEP (FlyVectorEnv does), got {mode}"
            )
        self.venv = vector_env
        self.num_envs: int = int(vector_env.num_envs)
        self.observation_space = vector_env.single_observation_space
        self.action_space = vector_env.single_action_space
        self.render_mode = None
        self.metadata: dict[str, Any] = {"render_modes": []}
        self.reset_infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        self._seeds: list[int | None] = [None] * self.num_envs
        self._options: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        self._actions: np.ndarray | None = None

    # ----------------------------------------------------------------------- seeds, options
    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Seeds for the next ``reset()``: env i gets ``seed + i`` (a random ``seed`` if None,
        as SB3's ``VecEnv.seed``). Returns the ``num_envs`` seeds."""
        if seed is None:
            seed = int(np.random.randint(0, np.iinfo(np.uint32).max, dtype=np.uint32))
        self._seeds = [int(seed) + i for i in range(self.num_envs)]
        return self._seeds

    def set_options(self, options: list[dict] | dict | None = None) -> None:
        """Reset options for the next ``reset()`` (one dict for all envs, or a list of equal
        dicts: the envs are reset in one call)."""
        if options is None:
            options = {}
        self._options = [dict(o) for o in options] if isinstance(options, list) else [
            dict(options) for _ in range(self.num_envs)
        ]  # fmt: skip

    # ----------------------------------------------------------------------------- stepping
    def reset(self) -> dict[str, np.ndarray]:
        """Reset every env with the seeds of ``seed()`` (then forgotten, as in SB3).

        Returns:
            obs {name: [num_envs, ...] float32}; the infos are in ``reset_infos``."""
        options = self._options[0]
        if any(o != options for o in self._options):
            raise ValueError("per-env reset options differ; the envs are reset in one call")
        seed = None if all(s is None for s in self._seeds) else list(self._seeds)
        obs, infos = self.venv.reset(seed=seed, options=options or None)
        self.reset_infos = [_env_info(infos, i) for i in range(self.num_envs)]
        self._seeds = [None] * self.num_envs
        self._options = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Store actions [num_envs, action size] for ``step_wait``."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, list[dict]]:
        """One control step of every env, with SAME-STEP autoreset (module docstring).

        Returns:
            (obs {name: [num_envs, ...] float32}, rewards [num_envs] float32, dones
            [num_envs] bool, infos: list of ``num_envs`` dicts)."""
        if self._actions is None:
            raise RuntimeError("call step_async(actions) before step_wait()")
        actions, self._actions = self._actions, None
        obs, reward, terminated, truncated, infos = self.venv.step(actions)
        dones = np.asarray(terminated, np.bool_) | np.asarray(truncated, np.bool_)
        env_infos = [_env_info(infos, i) for i in range(self.num_envs)]
        if dones.any():
            for i in np.flatnonzero(dones):
                env_infos[i]["terminal_observation"] = {k: v[i].copy() for k, v in obs.items()}
                env_infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            fresh, fresh_infos = self.venv.reset(options={"reset_mask": dones.copy()})
            obs = fresh  # the other envs' entries are those of this step
            for i in np.flatnonzero(dones):
                self.reset_infos[i] = _env_info(fresh_infos, i)
        return obs, np.asarray(reward, np.float32), dones, env_infos

    def step(self, actions: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray, list[dict]]:
        """``step_async`` then ``step_wait``."""
        self.step_async(actions)
        return self.step_wait()

    def close(self) -> None:
        """Close the wrapped env (its native engine)."""
        self.venv.close()

    # --------------------------------------------------------------- attributes and methods
    def _indices(self, indices: None | int | Sequence[int]) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int | np.integer):
            return [int(indices)]
        return [int(i) for i in indices]

    def _all(self, indices: None | int | Sequence[int], what: str) -> None:
        if sorted(set(self._indices(indices))) != list(range(self.num_envs)):
            raise NotImplementedError(
                f"{what} on a subset of the envs: the {self.num_envs} envs share one batched "
                "env and config; apply it to all (indices=None)"
            )

    def get_attr(self, attr_name: str, indices: None | int | Sequence[int] = None) -> list[Any]:
        """The batched env's attribute, once per index (the envs share it)."""
        value = getattr(self.venv, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(
        self, attr_name: str, value: Any, indices: None | int | Sequence[int] = None
    ) -> None:
        """Set an attribute of the batched env (all envs only)."""
        self._all(indices, "set_attr")
        setattr(self.venv, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: None | int | Sequence[int] = None,
        **method_kwargs: Any,
    ) -> list[Any]:  # fmt: skip
        """Call a method of the batched env once (all envs only); its result once per env."""
        self._all(indices, "env_method")
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in range(self.num_envs)]

    def env_is_wrapped(self, wrapper_class: type, indices: None | int | Sequence[int] = None):
        """False for every index: the envs have no per-env Gymnasium wrappers."""
        return [False for _ in self._indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """No rendering (render a single ``gymnasium.make(id, render_mode="rgb_array")``)."""
        return [None for _ in range(self.num_envs)]

    def render(self, mode: str | None = None) -> None:
        """No rendering (see :meth:`get_images`)."""
        return None

    @property
    def unwrapped(self) -> SameStepVecEnv:
        return self


def _llvm_loaded() -> bool:
    """Whether a shared LLVM library (Mesa's ``libLLVM``, loaded with EGL/OSMesa) is mapped."""
    maps = Path("/proc/self/maps")
    return maps.is_file() and "libLLVM" in maps.read_text()


@functools.cache
def _sb3_class() -> type:
    """``SB3VecEnv``: :class:`SameStepVecEnv` deriving from SB3's ``VecEnv``.

    Imports SB3 and ``torch._dynamo`` (which every torch optimizer imports): torch's Triton
    carries its own LLVM and segfaults when loaded after Mesa's ``libLLVM`` (which building an
    env loads under ``MUJOCO_GL=egl`` where EGL is Mesa's, as on this CPU-only machine);
    loaded first, both work. So
    ``from flyenvs.gym.sb3 import SB3VecEnv`` goes before the first env is built, and this
    raises (instead of a segfault later) where the order was the other way round."""
    try:
        from stable_baselines3.common.vec_env import VecEnv
    except ImportError as err:
        raise ImportError(
            "flyenvs.gym.sb3.SB3VecEnv needs Stable-Baselines3, an optional extra: "
            f"{INSTALL_HINT} (it brings torch)"
        ) from err
    if "torch._dynamo" not in sys.modules and _llvm_loaded():
        raise RuntimeError(
            "import flyenvs.gym.sb3.SB3VecEnv (or torch._dynamo) before building the first env: "
            "Mesa's libLLVM is already loaded (MUJOCO_GL=egl on Mesa), and torch's Triton, "
            "loaded after it, segfaults; or run with MUJOCO_GL=disable when nothing renders"
        )
    import torch._dynamo  # noqa: F401  (before any env loads libLLVM: see the docstring)

    class SB3VecEnv(SameStepVecEnv, VecEnv):
        __doc__ = SameStepVecEnv.__doc__
        __module__ = __name__

        def __init__(self, vector_env: Any) -> None:
            SameStepVecEnv.__init__(self, vector_env)
            VecEnv.__init__(
                self, self.num_envs, vector_env.single_observation_space,
                vector_env.single_action_space,
            )  # fmt: skip

    return SB3VecEnv


def __getattr__(name: str) -> Any:
    """``SB3VecEnv`` is built on first access (so that this module never needs SB3)."""
    if name == "SB3VecEnv":
        return _sb3_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
