"""Gymnasium front end of the visual tasks (VisualTaxis, Optomotor, Pursuit) and their
registration.

:class:`VisualFlyEnv` is :class:`flyenvs.gym.env.FlyEnv` with a renderer that shows the arena
objects (mocap bodies moved to the task's current arena state) and, beside the tracking camera,
the two eyes' readouts as hexagon maps (:func:`flyenvs.vision.hex_image`).

The tasks are listed in :data:`flyenvs.tasks.driver.TASKS` (so ``flyenvs.brax.make("VisualTaxis")``
works) and their Gymnasium ids in :data:`flyenvs.gym.ENV_IDS`; ``import flyenvs`` registers them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flyenvs.gym.env import RENDER_SIZE, FlyEnv
from flyenvs.tasks import visual

#: The visual tasks (names in ``flyenvs.tasks.driver.TASKS``).
VISUAL_TASKS: tuple[str, ...] = ("VisualTaxis", "Optomotor", "Pursuit")

#: Gymnasium id -> task name (registered by ``flyenvs.gym.register_envs``).
VISUAL_ENV_IDS: dict[str, str] = {f"flyenvs/{name}-v0": name for name in VISUAL_TASKS}


class VisualFlyEnv(FlyEnv):
    """A visual task as a ``gymnasium.Env`` on C MuJoCo.

    Args:
        task_name: one of :data:`VISUAL_TASKS`.
        render_mode: ``None`` or ``"rgb_array"``.
        render_size: (height, width) of the tracking-camera image in pixels.
        render_vision: if True (default), ``render()`` puts the eyes' hexagon maps to the right
            of the camera image (frame height = max of the two, width = sum).
        **config: task config overrides (dotted keys).

    The observation is a flat float32 ``Box`` as in Walk, its last 1442 entries the vision
    (``obs[-1442:].reshape(2, 721)``).
    """

    def __init__(
        self,
        task_name: str = "VisualTaxis",
        render_mode: str | None = None,
        render_size: tuple[int, int] = RENDER_SIZE,
        render_vision: bool = True,
        **config: Any,
    ) -> None:
        if task_name not in VISUAL_TASKS:
            raise KeyError(f"unknown visual task {task_name!r}; valid: {sorted(VISUAL_TASKS)}")
        super().__init__(task_name, render_mode, render_size, **config)
        self.render_vision = bool(render_vision)
        self._vision: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = super().reset(seed=seed, options=options)
        info.pop("command", None)  # Walk's command; the visual tasks have none
        self._vision = obs[-visual.VISION_SIZE :].reshape(2, -1)
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = super().step(action)
        info.pop("command", None)
        self._vision = obs[-visual.VISION_SIZE :].reshape(2, -1)
        return obs, reward, terminated, truncated, info

    @property
    def vision(self) -> np.ndarray | None:
        """The current eyes' readout [2, 721] (None before ``reset``)."""
        return None if self._vision is None else self._vision.copy()

    def render(self) -> np.ndarray | None:
        """RGB frame [H, W, 3] uint8: tracking camera, then (``render_vision``) the eyes."""
        if self.render_mode is None or self._physics is None:
            return super().render()
        import mujoco

        from flyenvs.vision import hex_image

        pos, quat = visual.numpy_mocap(self.task, self._info)
        self._physics.mocap_pos[:] = pos
        self._physics.mocap_quat[:] = quat
        mujoco.mj_kinematics(self.task.model, self._physics)  # positions only; no dynamics
        frame = super().render()
        if not self.render_vision:
            return frame
        eyes = hex_image(self._vision, cell_px=4)
        height = max(frame.shape[0], eyes.shape[0])
        pad = [np.pad(im, ((0, height - im.shape[0]), (0, 0), (0, 0))) for im in (frame, eyes)]
        return np.concatenate(pad, axis=1)
