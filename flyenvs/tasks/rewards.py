"""Bounded, smooth reward shapes (after dm_control's ``rewards.tolerance``), in JAX.

Every function returns values in a documented closed interval, so a weighted sum of terms has a
known range (see ``flyenvs.tasks.walk`` for the Walk terms and their scales).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

#: The value the gaussian shape takes at distance ``margin`` outside the bounds.
_VALUE_AT_MARGIN = 0.1


def tolerance(x: jax.Array, lower: jax.Array, upper: jax.Array, margin: jax.Array) -> jax.Array:
    """1 inside ``[lower, upper]``, a gaussian fall-off outside; in (0, 1].

    At distance ``margin`` (> 0) outside the bounds the value is 0.1 (dm_control's default
    ``value_at_margin`` with the ``"gaussian"`` sigmoid). Shapes broadcast.
    """
    distance = jnp.where(x < lower, lower - x, jnp.where(x > upper, x - upper, 0.0))
    scale = jnp.sqrt(-2.0 * jnp.log(_VALUE_AT_MARGIN))
    return jnp.exp(-0.5 * (distance / margin * scale) ** 2)


def squashed_penalty(x: jax.Array, scale: jax.Array) -> jax.Array:
    """``-tanh(x / scale)`` for ``x >= 0``: a penalty in (-1, 0], ~linear for small ``x``."""
    return -jnp.tanh(jnp.maximum(x, 0.0) / scale)


def upright(gravity_body: jax.Array) -> jax.Array:
    """(1 - g_z) / 2 for the unit gravity direction in the body frame: 1 upright, 0 upside down."""
    return 0.5 * (1.0 - gravity_body[..., 2])
