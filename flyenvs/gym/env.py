"""Gymnasium adapter: a flyenvs task on C MuJoCo, returning numpy. The only stateful class.

The physics runs in C MuJoCo (:class:`flyenvs.sim.mujoco_backend.MujocoBackend`); the task's
pure JAX functions (controls, observation, reward) are jitted once per environment and shared
with the Brax front end, so task logic is never duplicated between backends.
"""

from __future__ import annotations

import operator
from typing import Any

import gymnasium as gym
import jax
import numpy as np

from flyenvs.sim.mujoco_backend import MujocoBackend
from flyenvs.tasks import driver, registry
from flyenvs.tasks.base import observation_range

#: Default frame size of ``render()`` (height, width) in pixels.
RENDER_SIZE: tuple[int, int] = (240, 320)


def observation_space(task: Any) -> gym.spaces.Dict:
    """``Dict`` of float32 ``Box``es in the task's observation order: ``vision`` in [0, 1],
    the rest in +- ``task.observation_bound``."""
    spaces = {}
    for name, leaf in task.observation_spec.items():
        low, high = observation_range(name, task.observation_bound)
        spaces[name] = gym.spaces.Box(low, high, leaf.shape, dtype=np.float32)
    return gym.spaces.Dict(spaces, sort_keys=False)


def action_space(task: Any) -> gym.spaces.Box:
    """float32 ``Box`` of the task's action mode (its controller's bounds)."""
    ctrl = task.controller
    return gym.spaces.Box(ctrl.action_low, ctrl.action_high, dtype=np.float32)


def checked_action(
    action: Any, space: gym.spaces.Box, name: str = "action", shape_note: str = ""
) -> np.ndarray:
    """``action`` as float32, clipped to ``space`` (one env's action or a batch's actions).

    Raises:
        ValueError: it is not numeric (e.g. a string or a dict), its shape is not
            ``space.shape`` (the message names ``name`` and adds ``shape_note``), or it holds
            NaN or inf.
    """
    try:
        action = np.asarray(action, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name} must be numbers of shape {space.shape}{shape_note}, got {action!r} ({err})"
        ) from None
    if action.shape != space.shape:
        raise ValueError(f"{name} must have shape {space.shape}{shape_note}, got {action.shape}")
    if not np.all(np.isfinite(action)):
        verb = "hold" if name.endswith("s") else "holds"
        raise ValueError(f"{name} {verb} NaN or inf")
    return np.clip(action, space.low, space.high)


def _checked_render_size(size: Any, model: Any) -> tuple[int, int]:
    """``(height, width)`` as ints in [1, the model's offscreen framebuffer] pixels.

    Raises:
        ValueError: ``size`` is not two whole numbers in that range (the message names
            ``render_size`` and the limits).
    """
    limit = (int(model.vis.global_.offheight), int(model.vis.global_.offwidth))
    try:
        height, width = (operator.index(v) for v in size)
    except (TypeError, ValueError):
        height = width = 0
    if not (1 <= height <= limit[0] and 1 <= width <= limit[1]):
        raise ValueError(
            f"render_size must be (height, width), whole numbers in [1, {limit[0]}] x "
            f"[1, {limit[1]}] pixels (the model's offscreen framebuffer), got {size!r}"
        )
    return height, width


class FlyEnv(gym.Env):
    """A registered flyenvs task as a ``gymnasium.Env``.

    Args:
        task_name: a task of :data:`flyenvs.tasks.registry.TASKS` (e.g. ``"Walk"``).
        render_mode: ``None`` or ``"rgb_array"`` (the tracking camera).
        render_size: (height, width) of the tracking-camera image in pixels, at most the
            model's offscreen framebuffer (720 x 1280); other values raise ``ValueError``.
        render_vision: visual tasks only: if True (default), ``render()`` puts the eyes'
            hexagon maps to the right of the camera image (frame height = max of the two,
            width = sum).
        **config: task config overrides (dotted keys, see the task's ``default_config``); an
            unknown one raises ``KeyError`` listing the valid ones.

    The observation space is a ``Dict`` of named float32 ``Box``es (see docs/walk.md and
    docs/visual_tasks.md), e.g. ``obs["joint_pos_rad"]`` [42] and, on the visual tasks,
    ``obs["vision"]`` [2, 721]; ``gymnasium.wrappers.FlattenObservation`` makes it one vector.
    The action space is a ``Box``; actions outside it are clipped, actions of the wrong shape
    or holding NaN/inf raise ``ValueError``. ``info`` holds the task metrics
    (``reward/<term>``, speeds, position, ...) as floats, Walk's ``command``, and
    ``diverged`` (bool): True when the physics went non-finite or MuJoCo flagged and reset a bad
    state during the step; the step then has ``terminated=True``, reward 0 and a finite
    observation, and the episode must be reset (docs/reliability.md).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(
        self,
        task_name: str = "Walk",
        render_mode: str | None = None,
        render_size: tuple[int, int] = RENDER_SIZE,
        render_vision: bool = True,
        **config: Any,
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        self.task_spec = registry.spec(task_name)
        self.task = registry.make_task(task_name, **config)
        self.config = self.task.config
        self.render_mode = render_mode
        self.render_vision = bool(render_vision)
        self._render_size = _checked_render_size(render_size, self.task.model)
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.config.control_dt_s)}
        self.backend = MujocoBackend(self.task.model)
        self._stepper = driver.NumpyStepper(self.task, self.backend)
        self.action_space = action_space(self.task)
        self.observation_space = observation_space(self.task)
        self.controller_params = self.task.default_params()
        self._physics: Any = None
        self._info: dict | None = None
        self._obs: dict[str, np.ndarray] | None = None
        self._renderer: Any = None

    # ------------------------------------------------------------------------------------ API
    def _numpy_obs(self, obs: dict) -> dict[str, np.ndarray]:
        host = jax.device_get(obs)  # (JAX returns dicts in sorted key order: reorder)
        self._obs = {k: np.asarray(host[k], np.float32) for k in self.task.observation_spec}
        return {k: v.copy() for k, v in self._obs.items()}

    def _episode_info(self) -> dict[str, Any]:
        extra = jax.device_get(self.task.episode_info(self._info))
        return {k: np.asarray(v, np.float64) for k, v in extra.items()}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode; ``seed`` makes it reproducible. Returns (obs, info).

        ``options`` must be None or empty: there are no reset options (the task's options are
        keyword arguments of ``gymnasium.make``); any other raises ``ValueError``.
        """
        if options:
            raise ValueError(
                f"unknown reset options {sorted(options)}; FlyEnv.reset takes none (pass task "
                "options to gymnasium.make)"
            )
        super().reset(seed=seed)
        rng = jax.random.PRNGKey(int(self.np_random.integers(0, 2**31 - 1)))
        self._physics, obs, self._info = self._stepper.reset(rng, self.controller_params)
        return self._numpy_obs(obs), self._episode_info()

    def step(self, action: Any):
        """One control step. Returns (obs, reward, terminated, truncated, info)."""
        if self._info is None:
            raise RuntimeError("call reset() before step()")
        action = checked_action(action, self.action_space)
        self._physics, out = self._stepper.step(
            self._physics, self._info, action, self.controller_params
        )
        host = jax.device_get({k: v for k, v in out.items() if k != "info"})
        self._info = out["info"]
        info = {k: float(v) for k, v in host["metrics"].items()}
        info.update(self._episode_info())
        info["diverged"] = bool(host["diverged"])
        return (
            self._numpy_obs(host["obs"]),
            float(host["reward"]),
            bool(host["terminated"]),
            bool(host["truncated"]),
            info,
        )

    @property
    def vision(self) -> np.ndarray | None:
        """Visual tasks: the current eyes' readout [2, 721] (None before ``reset``)."""
        if self._obs is None or "vision" not in self._obs:
            return None
        return self._obs["vision"].copy()

    def render(self) -> np.ndarray | None:
        """RGB frame [H, W, 3] uint8 from the tracking camera (``render_mode="rgb_array"``);
        on visual tasks the arena objects are shown and (``render_vision``) the eyes beside."""
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
        if self.task_spec.visual:
            pos, quat = self.task.mocap_poses(self._info["arena"])
            self._physics.mocap_pos[:] = np.asarray(pos, np.float64)
            self._physics.mocap_quat[:] = np.asarray(quat, np.float64)
            mujoco.mj_kinematics(self.task.model, self._physics)  # positions only; no dynamics
        self._renderer.update_scene(self._physics, camera=constants.TRACKING_CAMERA)
        frame = self._renderer.render().copy()
        if not (self.task_spec.visual and self.render_vision):
            return frame
        from flyenvs.vision import hex_image

        eyes = hex_image(self._obs["vision"], cell_px=4)
        height = max(frame.shape[0], eyes.shape[0])
        pad = [np.pad(im, ((0, height - im.shape[0]), (0, 0), (0, 0))) for im in (frame, eyes)]
        return np.concatenate(pad, axis=1)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
