"""Gymnasium adapter: a flyenvs task on C MuJoCo, returning numpy. The only stateful class.

The physics runs in C MuJoCo (:class:`flyenvs.sim.mujoco_backend.MujocoBackend`); the task's
pure JAX functions (controls, observation, reward) are jitted once per environment and shared
with the Brax front end, so task logic is never duplicated between backends.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import jax
import numpy as np

from flyenvs.sim.mujoco_backend import MujocoBackend
from flyenvs.tasks import driver

#: Default frame size of ``render()`` (height, width) in pixels.
RENDER_SIZE: tuple[int, int] = (240, 320)


class FlyEnv(gym.Env):
    """A registered flyenvs task as a ``gymnasium.Env``.

    Args:
        task_name: key of :data:`flyenvs.tasks.driver.TASKS` (e.g. ``"Walk"``).
        render_mode: ``None`` or ``"rgb_array"`` (the tracking camera).
        render_size: (height, width) of rendered frames.
        **config: task config overrides (dotted keys, see the task's ``default_config``); an
            unknown one raises ``KeyError`` listing the valid ones.

    Observation and action spaces are ``Box`` (float32); actions outside the box are clipped,
    actions of the wrong shape or holding NaN/inf raise ``ValueError``. ``info`` holds the
    task metrics (``reward/<term>``, speeds, command, position) as floats.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(
        self,
        task_name: str = "Walk",
        render_mode: str | None = None,
        render_size: tuple[int, int] = RENDER_SIZE,
        **config: Any,
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        self.task = driver.make_task(task_name, **config)
        self.config = self.task.config
        self.render_mode = render_mode
        self._render_size = (int(render_size[0]), int(render_size[1]))
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.config.control_dt_s)}
        self.backend = MujocoBackend(self.task.model)
        self._stepper = driver.NumpyStepper(self.task, self.backend)
        ctrl = self.task.controller
        self.action_space = gym.spaces.Box(ctrl.action_low, ctrl.action_high, dtype=np.float32)
        n_obs = self.task.observation_size
        bound = self.task.observation_bound
        self.observation_space = gym.spaces.Box(-bound, bound, (n_obs,), dtype=np.float32)
        self.controller_params = self.task.default_params()
        self._physics: Any = None
        self._info: dict | None = None
        self._renderer: Any = None

    # ------------------------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode; ``seed`` makes it reproducible. Returns (obs, info)."""
        super().reset(seed=seed)
        rng = jax.random.PRNGKey(int(self.np_random.integers(0, 2**31 - 1)))
        self._physics, obs, self._info = self._stepper.reset(rng, self.controller_params)
        info = {"command": np.asarray(self._info["command"], np.float64)}
        return np.asarray(obs, np.float32), info

    def step(self, action: Any):
        """One control step. Returns (obs, reward, terminated, truncated, info)."""
        if self._info is None:
            raise RuntimeError("call reset() before step()")
        action = np.asarray(action, dtype=np.float32)
        if action.shape != self.action_space.shape:
            raise ValueError(
                f"action must have shape {self.action_space.shape}, got {action.shape}"
            )
        if not np.all(np.isfinite(action)):
            raise ValueError("action holds NaN or inf")
        action = np.clip(action, self.action_space.low, self.action_space.high)
        self._physics, out = self._stepper.step(
            self._physics, self._info, action, self.controller_params
        )
        out = jax.device_get({k: v for k, v in out.items() if k != "info"}) | {"info": out["info"]}
        self._info = out["info"]
        info = {k: float(v) for k, v in out["metrics"].items()}
        info["command"] = np.asarray(self._info["command"], np.float64)
        return (
            np.asarray(out["obs"], np.float32),
            float(out["reward"]),
            bool(out["terminated"]),
            bool(out["truncated"]),
            info,
        )

    def render(self) -> np.ndarray | None:
        """RGB frame [H, W, 3] uint8 from the tracking camera (``render_mode="rgb_array"``)."""
        if self.render_mode is None:
            gym.logger.warn("render() called without render_mode; pass render_mode='rgb_array'")
            return None
        if self._physics is None:
            raise RuntimeError("call reset() before render()")
        import mujoco

        from flyenvs.body import constants

        if self._renderer is None:
            height, width = self._render_size
            self._renderer = mujoco.Renderer(self.task.model, height=height, width=width)
        self._renderer.update_scene(self._physics, camera=constants.TRACKING_CAMERA)
        return self._renderer.render().copy()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
