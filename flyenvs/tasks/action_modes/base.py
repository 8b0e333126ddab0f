"""The action-mode contract: how one action becomes joint targets and adhesion.

A controller turns one action (held for a control period) into a schedule of ``K`` joint-target
and adhesion vectors, each held for ``n_substeps`` physics steps, so that fast patterns (the CPG's
12 Hz stepping, the VNC's rhythm) are resolved finer than the control period. Controllers are
pure: their state lives in the task info pytree (``info["controller"]``) and their parameters
are an explicit input (``params``), so a learned controller can be trained without touching the
task.

A mode is one module of this package with a ``DEFAULTS`` dict (its options, which become the
config group ``action.<mode>``) and a ``make(model, config) -> Controller`` factory; it is
listed once in :data:`flyenvs.tasks.action_modes.ACTION_MODES`. docs/walk.md shows an example.
"""

from __future__ import annotations

from typing import Any, Protocol

import jax
import mujoco
import numpy as np
from ml_collections import ConfigDict

from flyenvs import body


class Controller(Protocol):
    """Maps actions [A] to joint targets [K, 42] (rad) and adhesion [K, 6] (in [0, 1])."""

    action_low: np.ndarray  # [A]
    action_high: np.ndarray  # [A]
    n_features: int  # F, size of obs["controller"] (0: the entry is absent)

    def default_params(self) -> Any:
        """Parameters (a pytree; None if the mode has none) used when the caller passes none."""

    def init(self, rng: jax.Array, params: Any) -> Any:
        """Controller state (a pytree) at the start of an episode."""

    def schedule(self, action: jax.Array, state: Any, params: Any) -> tuple[Any, Any, Any]:
        """(ctrl [K, 42] rad, adhesion [K, 6] in [0, 1], new state) for one control period."""

    def features(self, state: Any) -> jax.Array:
        """Observation entries [F] describing the controller state."""


class ModeFactory(Protocol):
    def __call__(self, model: mujoco.MjModel, config: ConfigDict) -> Controller: ...


def joint_range_rad(model: mujoco.MjModel) -> np.ndarray:
    """[42, 2] float32 (low, high) of the leg actuators' control ranges (the recorded walking
    range), order ``constants.LEG_JOINTS``."""
    lay = body.layout(model)
    return np.asarray(model.actuator_ctrlrange[lay.leg_actuator_ids], np.float32)


def inner_dt_s(config: ConfigDict) -> float:
    """Duration (s) of one joint-target update: ``control_dt_s / n_inner``."""
    return float(config.control_dt_s) / int(config.n_inner)
