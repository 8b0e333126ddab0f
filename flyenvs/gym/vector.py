"""Native Gymnasium vector env: ``num_envs`` copies of a task stepped in one call on the batched
C MuJoCo engine.

``gymnasium.make_vec("flyenvs/Walk-v1", num_envs=64, vectorization_mode="vector_entry_point")``
(every registered id has this ``vector_entry_point``) returns a :class:`FlyVectorEnv`. The task's
pure JAX functions (controls, observation, reward, a visual task's eyes) run under
``jax.jit(jax.vmap(...))``; the physics of the whole batch is one host call into
:class:`flyenvs.sim.batch_backend.BatchMujocoBackend` on ``n_threads`` native threads
(:class:`flyenvs.sim.host_callback.HostBackend`, the same path as
``flyenvs.brax.make(task, backend="mujoco")``). The batched engine matches the Gymnasium path
(:class:`flyenvs.gym.env.FlyEnv`) to ~1e-5 in qpos.

Interface (as ``gymnasium.vector.SyncVectorEnv`` over :class:`FlyEnv`):

* spaces: ``single_observation_space`` is FlyEnv's ``Dict``; ``observation_space`` its
  ``batch_space`` (each entry [num_envs, ...] float32); actions [num_envs, n] float32, clipped to
  the space; a wrong shape or NaN/inf raises ``ValueError``.
* seeding: ``reset(seed=s)`` seeds env i with ``s + i`` (a list seeds each env); env i then draws
  its episode keys exactly as ``FlyEnv`` seeded with that seed does, so its episodes (and its
  later automatic resets) are those of ``gym.make(id)`` reset with ``seed=s + i``.
* autoreset (``AutoresetMode.NEXT_STEP``, Gymnasium's default): after env i returns
  terminated or truncated, the next ``step`` ignores its action and resets it, returning the
  reset observation, reward 0 and terminated = truncated = False.
* infos: a dict of arrays [num_envs] with ``_key`` masks (Gymnasium's vector convention): the
  task metrics and ``diverged`` (bool, as ``FlyEnv``'s info; both masked False for envs reset
  in that step) and the task's episode info (Walk's
  ``command`` [num_envs, 2]). ``reset(options={"reset_mask": mask})`` resets only some envs.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from flyenvs.gym.env import action_space, checked_action, observation_space
from flyenvs.sim.host_callback import HostBackend
from flyenvs.tasks import driver, registry


def _where(mask: jax.Array, new: Any, old: Any) -> Any:
    """Per env (leading axis) ``new`` where ``mask`` else ``old``, over pytrees."""

    def pick(a: jax.Array, b: jax.Array) -> jax.Array:
        return jnp.where(jnp.reshape(mask, mask.shape + (1,) * (a.ndim - 1)), a, b)

    return jax.tree.map(pick, new, old)


class FlyVectorEnv(VectorEnv):
    """``num_envs`` copies of a registered task on the batched C MuJoCo engine.

    Args:
        num_envs: batch size (>= 1).
        task_name: a task of :data:`flyenvs.tasks.registry.TASKS` (e.g. ``"Walk"``).
        n_threads: host threads stepping the batch (default: the CPU count); results do not
            depend on it.
        render_mode: only ``None`` (render a single :class:`flyenvs.gym.env.FlyEnv` instead).
        max_episode_steps: not supported (``None``); set the task's ``episode_length``.
        **config: task config overrides (dotted keys, as ``gym.make``); an unknown one raises
            ``KeyError`` listing the valid ones.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self, num_envs: int = 1, task_name: str = "Walk", n_threads: int | None = None,
        render_mode: str | None = None, max_episode_steps: int | None = None, **config: Any,
    ) -> None:  # fmt: skip
        if render_mode is not None:
            raise ValueError(
                f"FlyVectorEnv does not render (render_mode must be None, got {render_mode!r}); "
                "render a single env: gymnasium.make(id, render_mode='rgb_array')"
            )
        if max_episode_steps is not None:
            raise ValueError("max_episode_steps is not supported; pass episode_length=<steps>")
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = int(num_envs)
        self.render_mode = None
        self.task_spec = registry.spec(task_name)
        self.task = registry.make_task(task_name, **config)
        self.config = self.task.config
        self.sim = HostBackend(self.task.model, n_threads, build_mjcf=self.task.build_mjcf)
        self.controller_params = self.task.default_params()
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.config.control_dt_s)}

        self.single_action_space = action_space(self.task)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.single_observation_space = observation_space(self.task)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

        task, sim, params = self.task, self.sim, self.controller_params

        def reset_one(rng: jax.Array):
            physics, obs, info = driver.reset_jax(task, sim, rng, params)
            return physics, info, {"obs": obs, "episode": task.episode_info(info)}

        def step_one(physics: Any, info: dict, action: jax.Array):
            physics, out = driver.step_jax(task, sim, physics, info, action, params)
            info = out.pop("info")
            out["episode"] = task.episode_info(info)
            return physics, info, out

        reset_b, step_b = jax.vmap(reset_one), jax.vmap(step_one)

        def reset_where(physics, info, keys, mask):
            fresh_p, fresh_i, fresh_out = reset_b(keys)
            return _where(mask, fresh_p, physics), _where(mask, fresh_i, info), fresh_out

        def step_reset(physics, info, action, keys, mask):
            # reset envs are stepped from their fresh state (finite whatever the old one), and
            # the fresh state is returned for them: one host call for the whole batch's physics
            fresh_p, fresh_i, fresh_out = reset_b(keys)
            physics, info = _where(mask, fresh_p, physics), _where(mask, fresh_i, info)
            new_p, new_i, out = step_b(physics, info, action)
            out = {**out, "obs": _where(mask, fresh_out["obs"], out["obs"]),
                   "episode": _where(mask, fresh_out["episode"], out["episode"])}  # fmt: skip
            return _where(mask, fresh_p, new_p), _where(mask, fresh_i, new_i), out

        self._reset_fn = jax.jit(reset_b)
        self._reset_where_fn = jax.jit(reset_where)
        self._step_fn = jax.jit(step_b)
        self._step_reset_fn = jax.jit(step_reset)
        self._key_fn = jax.jit(jax.vmap(jax.random.PRNGKey))

        self._rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self._seeds: list[int | None] = [None] * self.num_envs
        self._physics: Any = None
        self._info: Any = None
        self._obs: dict[str, np.ndarray] = {}
        self._autoreset = np.zeros(self.num_envs, dtype=np.bool_)

    # ------------------------------------------------------------------------------ helpers
    def _keys(self, mask: np.ndarray) -> jax.Array:
        """PRNG keys [num_envs, 2]: env i's next episode key where ``mask`` (drawn from its
        generator as ``FlyEnv.reset`` does), zeros elsewhere."""
        ints = np.zeros(self.num_envs, dtype=np.int64)
        for i in np.flatnonzero(mask):
            if self._rngs[i] is None:
                self._rngs[i], self._seeds[i] = seeding.np_random(None)
            ints[i] = int(self._rngs[i].integers(0, 2**31 - 1))
        return self._key_fn(jnp.asarray(ints, dtype=jnp.int32))

    def _numpy_obs(self, obs: dict) -> dict[str, np.ndarray]:
        return {k: np.asarray(obs[k], np.float32) for k in self.task.observation_spec}

    def _infos(self, host: dict, metrics_mask: np.ndarray | None) -> dict[str, Any]:
        infos: dict[str, Any] = {}
        if metrics_mask is not None and metrics_mask.any():  # (as SyncVectorEnv: no key)
            for name, value in host["metrics"].items():
                infos[name] = np.where(metrics_mask, np.asarray(value, np.float64), 0.0)
                infos[f"_{name}"] = metrics_mask.copy()
            infos["diverged"] = np.asarray(host["diverged"], np.bool_) & metrics_mask
            infos["_diverged"] = metrics_mask.copy()
        for name, value in host["episode"].items():
            infos[name] = np.asarray(value, np.float64)
            infos[f"_{name}"] = np.ones(self.num_envs, dtype=np.bool_)
        return infos

    # ---------------------------------------------------------------------------------- API
    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset every env (or those of ``options["reset_mask"]``, bool [num_envs]).

        ``seed``: ``None`` (keep each env's generator; a fresh random one the first time), an
        int ``s`` (env i gets ``s + i``) or a list of ``num_envs`` ints/None.
        Returns (obs dict of [num_envs, ...] float32, infos)."""
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, int | np.integer):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(
                    f"a seed list must have num_envs={self.num_envs} entries, got {len(seeds)}"
                )
        mask = np.ones(self.num_envs, dtype=np.bool_)
        options = dict(options or {})
        if "reset_mask" in options:
            mask = np.asarray(options.pop("reset_mask"))
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_ or not mask.any():
                raise ValueError(
                    f"options['reset_mask'] must be a bool array of shape ({self.num_envs},) "
                    f"with a True entry, got {mask!r}"
                )
            if self._physics is None:
                raise RuntimeError("call reset() without reset_mask first")
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; valid: ['reset_mask']")
        for i in np.flatnonzero(mask):
            if seeds[i] is not None:
                self._rngs[i], self._seeds[i] = seeding.np_random(int(seeds[i]))
        keys = self._keys(mask)
        if mask.all():
            self._physics, self._info, out = self._reset_fn(keys)
        else:
            self._physics, self._info, out = self._reset_where_fn(
                self._physics, self._info, keys, jnp.asarray(mask)
            )
        self._autoreset[mask] = False
        host = jax.device_get(out)
        obs = self._numpy_obs(host["obs"])
        if not mask.all():  # the other envs' observations are those of the last step
            obs = {k: np.where(mask.reshape(-1, *(1,) * (v.ndim - 1)), v, self._obs[k])
                   for k, v in obs.items()}  # fmt: skip
        self._obs = obs
        infos = self._infos(host, None)
        for name in host["episode"]:
            infos[name][~mask] = 0.0
            infos[f"_{name}"] = mask.copy()
        return {k: v.copy() for k, v in obs.items()}, infos

    def step(self, actions: Any):
        """One control step of every env (envs done at the last step are reset instead).

        Args:
            actions: [num_envs, action size] float32 (clipped to the action space).
        Returns:
            (obs dict [num_envs, ...] float32, rewards [num_envs] float64, terminated
            [num_envs] bool, truncated [num_envs] bool, infos)."""
        if self._physics is None:
            raise RuntimeError("call reset() before step()")
        actions = checked_action(actions, self.action_space, "actions", " (num_envs, action size)")
        resetting = self._autoreset.copy()
        if resetting.any():
            keys = self._keys(resetting)
            self._physics, self._info, out = self._step_reset_fn(
                self._physics, self._info, actions, keys, jnp.asarray(resetting)
            )
        else:
            self._physics, self._info, out = self._step_fn(self._physics, self._info, actions)
        host = jax.device_get(out)
        reward = np.where(resetting, 0.0, np.asarray(host["reward"], np.float64))
        terminated = np.asarray(host["terminated"], np.bool_) & ~resetting
        truncated = np.asarray(host["truncated"], np.bool_) & ~resetting
        self._autoreset = terminated | truncated
        self._obs = self._numpy_obs(host["obs"])
        infos = self._infos(host, ~resetting)
        return {k: v.copy() for k, v in self._obs.items()}, reward, terminated, truncated, infos

    @property
    def np_random_seed(self) -> tuple[int | None, ...]:
        """Each env's seed (None before it was reset)."""
        return tuple(self._seeds)

    def close_extras(self, **kwargs: Any) -> None:
        self.sim.engine.close()
