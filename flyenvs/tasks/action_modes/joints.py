"""``"joints"``: 42 joint targets in [-1, 1] over the joint ranges, then 6 adhesion in [0, 1].

With ``action.joints.n_chunk = C`` (default 1) one action carries C successive commands for
the control period: action [C * 48] = C rows (time-major) of 42 targets then 6 adhesion; row c
is held for ``n_inner / C`` joint-target updates (C must divide ``n_inner``). A controller that
runs faster than the control step (the connectome VNC policy, whose rhythm is ~15 Hz) sends its
trajectory this way instead of one held command. C = 1 is the plain [42 + 6] action.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from ml_collections import ConfigDict

from flyenvs.body import constants
from flyenvs.tasks.action_modes.base import joint_range_rad

#: Options of ``action.joints``: ``n_chunk``, target vectors per action (divides ``n_inner``).
DEFAULTS: dict[str, Any] = {"n_chunk": 1}


class JointController:
    """Action [C * 48]: C rows of 42 targets in [-1, 1] (mapped linearly onto each joint's
    range, rad) and 6 adhesion in [0, 1]; row c is held for updates ``c * K / C`` to
    ``(c + 1) * K / C - 1`` of the control period. No features."""

    def __init__(self, joint_range: np.ndarray, n_inner: int, n_chunk: int = 1) -> None:
        """joint_range: [42, 2] (low, high) rad; n_inner: K; n_chunk: C (divides K)."""
        if isinstance(n_chunk, bool) or int(n_chunk) != n_chunk or n_chunk < 1:
            raise ValueError(f"action.joints.n_chunk must be an int >= 1, got {n_chunk!r}")
        if int(n_inner) % int(n_chunk):
            divisors = [c for c in range(1, int(n_inner) + 1) if int(n_inner) % c == 0]
            raise ValueError(
                f"action.joints.n_chunk ({n_chunk}) must divide n_inner ({n_inner}); "
                f"valid: {divisors}"
            )
        self._low = jnp.asarray(joint_range[:, 0], jnp.float32)
        self._high = jnp.asarray(joint_range[:, 1], jnp.float32)
        self._n_inner = int(n_inner)
        self.n_chunk = int(n_chunk)
        row_low = np.concatenate([-np.ones(constants.N_LEG_JOINTS), np.zeros(constants.N_ADHESION)])
        self.action_low = np.tile(row_low, self.n_chunk).astype(np.float32)
        self.action_high = np.ones_like(self.action_low)
        self.n_features = 0

    def default_params(self) -> None:
        return None

    def init(self, rng: jax.Array, params: None) -> jax.Array:
        return jnp.zeros(())

    def schedule(self, action: jax.Array, state: jax.Array, params: None):
        rows = action.reshape(self.n_chunk, constants.N_LEG_JOINTS + constants.N_ADHESION)
        unit = jnp.clip(rows[:, : constants.N_LEG_JOINTS], -1.0, 1.0)
        ctrl = self._low + 0.5 * (unit + 1.0) * (self._high - self._low)  # [C, 42]
        adhesion = jnp.clip(rows[:, constants.N_LEG_JOINTS :], 0.0, 1.0)  # [C, 6]
        hold = self._n_inner // self.n_chunk
        return jnp.repeat(ctrl, hold, axis=0), jnp.repeat(adhesion, hold, axis=0), state

    def features(self, state: jax.Array) -> jax.Array:
        return jnp.zeros((0,), jnp.float32)


def make(model: mujoco.MjModel, config: ConfigDict) -> JointController:
    """The ``"joints"`` mode for a task config (``action.joints``, ``n_inner``)."""
    n_chunk = config.action.joints.n_chunk
    return JointController(joint_range_rad(model), int(config.n_inner), n_chunk)
