"""VisualTaxis: walk to a dark pillar placed at a random bearing and distance.

Arena: a uniform grey ground (``vision.ground_lum``), a white sky, and one black vertical pillar
(radius ``target.radius_mm``, height ``2 * target.half_height_mm``, standing on the ground) at
a distance (mm) drawn uniformly in ``target.distance_mm`` and a bearing (rad, relative to the
fly's initial heading, positive = left) drawn uniformly in ``target.bearing_rad`` from the
thorax start position. The pillar does not collide with the fly (visual only).

Reward (each weighted term logged as ``metrics["reward/<term>"]``):

- ``approach`` in [-1, 1]: the decrease of the thorax-to-pillar-axis distance over the control
  step, divided by ``reward.approach_speed_mm_s * control_dt_s`` and clipped (1 = approaching
  at that speed or faster);
- ``success`` in {0, 1}: 1 on the step the distance falls below ``target.success_radius_mm``
  (the episode then terminates);
- ``energy`` in (-1, 0] and ``action_rate`` in [-1, 0]: as in Walk.

Termination: success, or Walk's (flip, body contact, non-finite physics). Metrics add
``distance_mm``, ``bearing_rad`` (pillar direction relative to the heading, positive = left)
and ``success``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from dm_control import mjcf
from ml_collections import ConfigDict

from flyenvs.sim.base import Readout
from flyenvs.tasks import base, visual
from flyenvs.vision import Pillar, Scene, make_scene, ommatidia_directions, set_pillar

REWARD_TERMS: tuple[str, ...] = ("approach", "success", *base.EFFORT_TERMS)

_TASK_DEFAULTS: dict[str, Any] = {
    "target": {
        "distance_mm": (12.0, 25.0),
        "bearing_rad": (-2.0, 2.0),
        "radius_mm": 1.5,
        "half_height_mm": 6.0,
        "lum": 0.0,
        "success_radius_mm": 4.0,
    },
    "reward": {
        "approach": 1.0,
        "success": 10.0,
        "approach_speed_mm_s": 10.0,
    },
}


def default_config(**overrides: Any) -> ConfigDict:
    """A fresh locked VisualTaxis config, ``overrides`` (dotted keys) applied and validated."""
    cfg = visual.build_config(visual.visual_defaults(_TASK_DEFAULTS), overrides)
    validate(cfg)
    return cfg


def validate(cfg: ConfigDict) -> None:
    """Raise ValueError on task options out of their domain."""
    base.check_scales(cfg, REWARD_TERMS)
    t = cfg.target
    base.check_range(cfg, "target.distance_mm", low_bound=0.0)
    base.check_range(cfg, "target.bearing_rad")
    for name in ("radius_mm", "half_height_mm", "success_radius_mm"):
        if not t[name] > 0:
            raise ValueError(f"target.{name} must be > 0, got {t[name]}")
    if not 0.0 <= t.lum <= 1.0:
        raise ValueError(f"target.lum must be in [0, 1], got {t.lum}")
    if not t.distance_mm[0] > t.success_radius_mm:
        raise ValueError(
            f"target.distance_mm {tuple(t.distance_mm)} must start beyond "
            f"target.success_radius_mm = {t.success_radius_mm}"
        )
    if not cfg.reward.approach_speed_mm_s > 0:
        raise ValueError(
            f"reward.approach_speed_mm_s must be > 0, got {cfg.reward.approach_speed_mm_s}"
        )


class TaxisTask(visual.VisualTask):
    """VisualTaxis on one fly model (see the module docstring)."""

    REWARD_TERMS = REWARD_TERMS
    task_metric_names = ("distance_mm", "bearing_rad", "success")

    def __init__(self, model: Any, config: ConfigDict) -> None:
        validate(config)
        super().__init__(model, config)
        t = config.target
        self._scene = make_scene(
            ground=visual.ground_texture(config),
            pillars=[Pillar((0.0, 0.0, t.half_height_mm), t.radius_mm, t.half_height_mm, t.lum)],
            max_spheres=1,
            max_cylinders=1,
            sky_lum=config.vision.sky_lum,
        )

    def _add_arena(self, root: mjcf.RootElement) -> None:
        t = self.config.target
        rgba = [t.lum, t.lum, t.lum, 1.0]
        geom = {"type": "cylinder", "size": [t.radius_mm, t.half_height_mm], "rgba": rgba}
        visual.add_mocap(root, "target", [geom])

    def _distance_mm(self, xy_mm: jax.Array, target_mm: jax.Array) -> jax.Array:
        return jnp.linalg.norm(target_mm[:2] - xy_mm)

    def _reset_arena(self, rng: jax.Array, qpos: jax.Array) -> dict[str, jax.Array]:
        t = self.config.target
        k_dist, k_bearing = jax.random.split(rng)
        dist = jax.random.uniform(k_dist, (), minval=t.distance_mm[0], maxval=t.distance_mm[1])
        bearing = jax.random.uniform(
            k_bearing, (), minval=t.bearing_rad[0], maxval=t.bearing_rad[1]
        )
        free = self._free_adr
        xy = qpos[free : free + 2]
        heading = base.heading_rad(qpos[free + 3 : free + 7])
        angle = heading + bearing
        target_xy = xy + dist * jnp.stack([jnp.cos(angle), jnp.sin(angle)])
        target = jnp.concatenate([target_xy, jnp.array([t.half_height_mm])]).astype(jnp.float32)
        return {"target_mm": target, "prev_distance_mm": self._distance_mm(xy, target)}

    def scene(self, arena: dict[str, jax.Array]) -> Scene:
        """The JAX scene the eyes see: the base scene with the pillar moved into place."""
        return set_pillar(self._scene, 0, arena["target_mm"])

    def mocap_poses(self, arena: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array]:
        """(pos [1, 3], quat [1, 4]) of the pillar's mocap body."""
        return arena["target_mm"][None], visual.yaw_quat(jnp.zeros(1))

    def _reward_terms(
        self, readout: Readout, info: dict, arena: dict[str, jax.Array], velocity: jax.Array
    ):
        t, r = self.config.target, self.config.reward
        xy = jnp.asarray(readout.body_pos_mm, jnp.float32)[:2]
        dist = jnp.nan_to_num(self._distance_mm(xy, arena["target_mm"]), nan=1e3)
        step_mm = r.approach_speed_mm_s * self.config.control_dt_s
        approach = jnp.clip((arena["prev_distance_mm"] - dist) / step_mm, -1.0, 1.0)
        success = dist < t.success_radius_mm
        delta = arena["target_mm"][:2] - xy
        bearing = base.wrap_angle(jnp.arctan2(delta[1], delta[0]) - self.heading_rad(readout))
        raw = {"approach": approach, "success": success.astype(jnp.float32)}
        metrics = {
            "distance_mm": dist,
            "bearing_rad": jnp.nan_to_num(bearing),
            "success": success.astype(jnp.float32),
        }
        return raw, success, metrics, {**arena, "prev_distance_mm": dist}


def steer_to_darker_eye(
    vision: jax.Array, gain: float = 25.0, max_turn: float = 0.5, dead_band: float = 0.002
) -> jax.Array:
    """A hand-written taxis policy for ``action_mode="cpg"``: turn toward the darker eye.

    Darkness is the mean of (1 - luminance) over each eye's ommatidia that look above the eye's
    horizontal plane (there the background is sky, so only the pillar darkens them). The turning
    action is proportional to the left-minus-right darkness difference ``d``:
    ``a[7] = -clip(gain * d, -max_turn, max_turn)`` (``a[7] < 0`` turns left), 0 within the
    ``dead_band``; the other actions are 0 (nominal tripod gait).

    Args:
        vision: [2, 721] luminance (left eye first), e.g. ``obs[-1442:].reshape(2, 721)``.
        gain: turning action per unit darkness difference.
        max_turn: largest |a[7]|.
        dead_band: |d| below which the fly walks straight.

    Returns:
        action [8] float32 for the CPG controller.
    """
    upper = jnp.asarray(ommatidia_directions()[..., 2] > 0.05, jnp.float32)  # [2, 721]
    dark = jnp.sum((1.0 - jnp.asarray(vision, jnp.float32)) * upper, axis=1) / upper.sum(axis=1)
    diff = dark[0] - dark[1]
    turn = jnp.where(jnp.abs(diff) > dead_band, -jnp.clip(gain * diff, -max_turn, max_turn), 0.0)
    return jnp.zeros(8, jnp.float32).at[7].set(turn)
