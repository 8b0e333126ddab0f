"""Pursuit: follow a dark sphere moving on a smooth random path, at a set distance.

Arena: a uniform grey ground, a white sky, and one dark sphere (radius ``target.radius_mm``,
resting on the ground) that starts ``target.start_distance_mm`` from the thorax at a bearing
drawn uniformly in ``target.start_bearing_rad`` (relative to the fly's heading, positive = left)
and moves away from the fly at a constant speed drawn uniformly in ``target.speed_mm_s``. Its
heading turns at the rate (rad/s)::

    omega(t) = a_1 sin(2 pi f_1 t + p_1) + a_2 sin(2 pi f_2 t + p_2)

with amplitudes ``a_i`` uniform in [0, ``target.turn_amplitude_rad_s``], frequencies ``f_i``
uniform in ``target.turn_freq_hz`` and phases uniform in [0, 2 pi): a smooth path (its
curvature is continuous). The sphere does not collide with the fly (visual only).

Reward (each weighted term logged as ``metrics["reward/<term>"]``):

- ``follow`` in (0, 1]: tolerance of the thorax-to-sphere-centre distance (in the ground plane)
  to ``target.follow_distance_mm`` +- ``reward.follow_tolerance_mm``, 0.1 at a further
  ``reward.follow_margin_mm``;
- ``energy`` in (-1, 0] and ``action_rate`` in [-1, 0]: as in Walk.

Termination: the sphere is farther than ``target.lost_distance_mm`` (lost), or Walk's.
Metrics add ``distance_mm``, ``bearing_rad`` and ``target_speed_mm_s``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from dm_control import mjcf
from ml_collections import ConfigDict

from flyenvs.sim.base import Readout
from flyenvs.tasks import base, rewards, visual
from flyenvs.vision import Scene, Sphere, make_scene, set_sphere

REWARD_TERMS: tuple[str, ...] = ("follow", *base.EFFORT_TERMS)

_TASK_DEFAULTS: dict[str, Any] = {
    "target": {
        "radius_mm": 1.0,
        "lum": 0.0,
        "speed_mm_s": (3.0, 8.0),
        "turn_amplitude_rad_s": 1.0,
        "turn_freq_hz": (0.1, 0.5),
        "start_distance_mm": 6.0,
        "start_bearing_rad": (-0.5, 0.5),
        "follow_distance_mm": 6.0,
        "lost_distance_mm": 30.0,
    },
    "reward": {
        "follow": 1.0,
        "follow_tolerance_mm": 1.5,
        "follow_margin_mm": 6.0,
    },
}


def default_config(**overrides: Any) -> ConfigDict:
    """A fresh locked Pursuit config, ``overrides`` (dotted keys) applied and validated."""
    cfg = visual.build_config(visual.visual_defaults(_TASK_DEFAULTS), overrides)
    validate(cfg)
    return cfg


def validate(cfg: ConfigDict) -> None:
    """Raise ValueError on task options out of their domain."""
    base.check_scales(cfg, REWARD_TERMS)
    t, r = cfg.target, cfg.reward
    base.check_range(cfg, "target.speed_mm_s", low_bound=0.0)
    base.check_range(cfg, "target.turn_freq_hz", low_bound=0.0)
    base.check_range(cfg, "target.start_bearing_rad")
    for name in ("radius_mm", "start_distance_mm", "follow_distance_mm", "lost_distance_mm"):
        if not t[name] > 0:
            raise ValueError(f"target.{name} must be > 0, got {t[name]}")
    if not t.turn_amplitude_rad_s >= 0:
        raise ValueError(f"target.turn_amplitude_rad_s must be >= 0, got {t.turn_amplitude_rad_s}")
    if not 0.0 <= t.lum <= 1.0:
        raise ValueError(f"target.lum must be in [0, 1], got {t.lum}")
    if not t.lost_distance_mm > max(t.start_distance_mm, t.follow_distance_mm):
        raise ValueError(
            f"target.lost_distance_mm = {t.lost_distance_mm} must exceed the start and follow "
            "distances"
        )
    for name in ("follow_tolerance_mm", "follow_margin_mm"):
        if not r[name] > 0:
            raise ValueError(f"reward.{name} must be > 0, got {r[name]}")


class PursuitTask(visual.VisualTask):
    """Pursuit on one fly model (see the module docstring)."""

    REWARD_TERMS = REWARD_TERMS
    task_metric_names = ("distance_mm", "bearing_rad", "target_speed_mm_s")

    def __init__(self, model: Any, config: ConfigDict) -> None:
        validate(config)
        super().__init__(model, config)
        t = config.target
        self._scene = make_scene(
            ground=visual.ground_texture(config),
            spheres=[Sphere((0.0, 0.0, t.radius_mm), t.radius_mm, t.lum)],
            max_spheres=1,
            max_cylinders=1,
            sky_lum=config.vision.sky_lum,
        )

    def _add_arena(self, root: mjcf.RootElement) -> None:
        t = self.config.target
        geom = {"type": "sphere", "size": [t.radius_mm], "rgba": [t.lum, t.lum, t.lum, 1.0]}
        visual.add_mocap(root, "target", [geom])

    def _reset_arena(self, rng: jax.Array, qpos: jax.Array) -> dict[str, jax.Array]:
        t = self.config.target
        k_b, k_v, k_a, k_f, k_p = jax.random.split(rng, 5)
        lo_b, hi_b = t.start_bearing_rad
        bearing = jax.random.uniform(k_b, (), minval=lo_b, maxval=hi_b)
        free = self._free_adr
        xy = qpos[free : free + 2]
        angle = base.heading_rad(qpos[free + 3 : free + 7]) + bearing
        pos = xy + t.start_distance_mm * jnp.stack([jnp.cos(angle), jnp.sin(angle)])
        lo_f, hi_f = t.turn_freq_hz
        arena = {
            "pos_mm": pos.astype(jnp.float32),
            "heading_rad": angle.astype(jnp.float32),
            "time_s": jnp.zeros((), jnp.float32),
            "speed_mm_s": jax.random.uniform(
                k_v, (), minval=t.speed_mm_s[0], maxval=t.speed_mm_s[1]
            ),
            "turn_amp_rad_s": jax.random.uniform(k_a, (2,), maxval=t.turn_amplitude_rad_s),
            "turn_freq_hz": jax.random.uniform(k_f, (2,), minval=lo_f, maxval=hi_f),
            "turn_phase_rad": jax.random.uniform(k_p, (2,), maxval=2 * jnp.pi),
        }
        return arena

    def turn_rate_rad_s(self, arena: dict[str, jax.Array]) -> jax.Array:
        """The sphere's heading change rate [] (rad/s) at ``arena["time_s"]``."""
        arg = 2 * jnp.pi * arena["turn_freq_hz"] * arena["time_s"] + arena["turn_phase_rad"]
        return jnp.sum(arena["turn_amp_rad_s"] * jnp.sin(arg))

    def _advance_arena(self, arena: dict[str, jax.Array], dt_s: float) -> dict[str, jax.Array]:
        """Midpoint step of the path over ``dt_s``."""
        omega = self.turn_rate_rad_s({**arena, "time_s": arena["time_s"] + 0.5 * dt_s})
        mid = arena["heading_rad"] + 0.5 * dt_s * omega
        step = dt_s * arena["speed_mm_s"] * jnp.stack([jnp.cos(mid), jnp.sin(mid)])
        return {
            **arena,
            "pos_mm": arena["pos_mm"] + step,
            "heading_rad": base.wrap_angle(arena["heading_rad"] + dt_s * omega),
            "time_s": arena["time_s"] + dt_s,
        }

    def _center(self, arena: dict[str, jax.Array]) -> jax.Array:
        z = jnp.full((1,), self.config.target.radius_mm, jnp.float32)
        return jnp.concatenate([arena["pos_mm"], z])

    def scene(self, arena: dict[str, jax.Array]) -> Scene:
        """The JAX scene: the base scene with the sphere at its current position."""
        return set_sphere(self._scene, 0, self._center(arena))

    def mocap_poses(self, arena: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array]:
        """(pos [1, 3], quat [1, 4]) of the sphere's mocap body."""
        return self._center(arena)[None], visual.yaw_quat(arena["heading_rad"][None])

    def _reward_terms(
        self, readout: Readout, info: dict, arena: dict[str, jax.Array], velocity: jax.Array
    ):
        t, r = self.config.target, self.config.reward
        xy = jnp.asarray(readout.body_pos_mm, jnp.float32)[:2]
        delta = arena["pos_mm"] - xy
        dist = jnp.nan_to_num(jnp.linalg.norm(delta), nan=1e3)
        follow = rewards.tolerance(
            dist,
            t.follow_distance_mm - r.follow_tolerance_mm,
            t.follow_distance_mm + r.follow_tolerance_mm,
            r.follow_margin_mm,
        )
        bearing = base.wrap_angle(jnp.arctan2(delta[1], delta[0]) - self.heading_rad(readout))
        metrics = {
            "distance_mm": dist,
            "bearing_rad": jnp.nan_to_num(bearing),
            "target_speed_mm_s": arena["speed_mm_s"],
        }
        return {"follow": follow}, dist > t.lost_distance_mm, metrics, arena
