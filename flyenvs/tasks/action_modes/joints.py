"""``"joints"``: 42 joint targets in [-1, 1] over the joint ranges, then 6 adhesion in [0, 1]."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from ml_collections import ConfigDict

from flyenvs.body import constants
from flyenvs.tasks.action_modes.base import joint_range_rad

#: Options of ``action.joints`` (none).
DEFAULTS: dict[str, Any] = {}


class JointController:
    """Action [48]: ``a[:42]`` in [-1, 1] maps linearly onto each joint's range (rad), held for
    the whole control period; ``a[42:]`` is the adhesion of each leg in [0, 1]. No features."""

    def __init__(self, joint_range: np.ndarray, n_inner: int) -> None:
        """joint_range: [42, 2] (low, high) rad; n_inner: K."""
        self._low = jnp.asarray(joint_range[:, 0], jnp.float32)
        self._high = jnp.asarray(joint_range[:, 1], jnp.float32)
        self._n_inner = int(n_inner)
        self.action_low = np.concatenate(
            [-np.ones(constants.N_LEG_JOINTS), np.zeros(constants.N_ADHESION)]
        ).astype(np.float32)
        self.action_high = np.ones(constants.N_LEG_JOINTS + constants.N_ADHESION, np.float32)
        self.n_features = 0

    def default_params(self) -> None:
        return None

    def init(self, rng: jax.Array, params: None) -> jax.Array:
        return jnp.zeros(())

    def schedule(self, action: jax.Array, state: jax.Array, params: None):
        unit = jnp.clip(action[: constants.N_LEG_JOINTS], -1.0, 1.0)
        ctrl = self._low + 0.5 * (unit + 1.0) * (self._high - self._low)
        adhesion = jnp.clip(action[constants.N_LEG_JOINTS :], 0.0, 1.0)
        k = self._n_inner
        return jnp.tile(ctrl, (k, 1)), jnp.tile(adhesion, (k, 1)), state

    def features(self, state: jax.Array) -> jax.Array:
        return jnp.zeros((0,), jnp.float32)


def make(model: mujoco.MjModel, config: ConfigDict) -> JointController:
    """The ``"joints"`` mode for a task config (``n_inner``)."""
    return JointController(joint_range_rad(model), int(config.n_inner))
