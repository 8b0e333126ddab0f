"""Optomotor: turn with a rotating vertical grating on a panorama cylinder.

Arena: a panorama cylinder (radius ``grating.radius_mm``, wall from ``grating.z_mm[0]`` to
``grating.z_mm[1]``) centred on the fly's start position, carrying a square-wave vertical
grating (luminances ``grating.lum``) with an integer number of periods per turn drawn uniformly
in ``grating.n_periods`` (so the spatial period is 360 deg / n), rotating about the vertical
axis at a speed (rad/s) drawn uniformly in ``grating.speed_rad_s``, counter-clockwise seen from
above (to the fly's left) or clockwise with equal probability (``grating.direction =
"random"``), or always one way (``"left"`` / ``"right"``). The ground is uniform
(``vision.ground``), so the grating is the only moving pattern.

Reward (each weighted term logged as ``metrics["reward/<term>"]``):

- ``turn`` in (0, 1]: tolerance of the fly's yaw rate (heading change over the control step,
  filtered as in Walk) to ``reward.gain`` x the grating's angular velocity, within
  ``reward.turn_tolerance_rad_s`` (1) and falling to 0.1 at a further
  ``reward.turn_margin_rad_s``: the optomotor response, turning with the grating;
- ``energy`` in (-1, 0] and ``action_rate`` in [-1, 0]: as in Walk.

Termination as in Walk. Metrics add ``grating_speed_rad_s`` (signed, positive = left) and
``slip_rad_s`` (grating angular velocity minus the fly's yaw rate: the retinal slip).

In the MuJoCo scene (tracking-camera video) the grating is drawn by 72 dark slats of 5 deg on
the panorama circle, each shown where the grating is dark at its azimuth; the eyes see the
exact JAX grating.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from dm_control import mjcf
from ml_collections import ConfigDict

from flyenvs.sim.base import Readout
from flyenvs.tasks import base, rewards, visual
from flyenvs.vision import Scene, make_scene, make_texture, rotate_panorama

REWARD_TERMS: tuple[str, ...] = ("turn", *base.EFFORT_TERMS)
DIRECTIONS: tuple[str, ...] = ("random", "left", "right")
#: Slats drawing the grating in the MuJoCo scene (video only).
N_SLATS: int = 72

_TASK_DEFAULTS: dict[str, Any] = {
    "grating": {
        "n_periods": (8, 24),
        "speed_rad_s": (0.5, 1.5),
        "direction": "random",
        "lum": (0.0, 1.0),
        "radius_mm": 40.0,
        "z_mm": (0.0, 60.0),
    },
    "reward": {
        "turn": 1.0,
        "gain": 1.0,
        "turn_tolerance_rad_s": 0.3,
        "turn_margin_rad_s": 1.0,
    },
}


def default_config(**overrides: Any) -> ConfigDict:
    """A fresh locked Optomotor config, ``overrides`` (dotted keys) applied and validated."""
    cfg = visual.build_config(visual.visual_defaults(_TASK_DEFAULTS), overrides)
    validate(cfg)
    return cfg


def validate(cfg: ConfigDict) -> None:
    """Raise ValueError on task options out of their domain."""
    base.check_scales(cfg, REWARD_TERMS)
    g, r = cfg.grating, cfg.reward
    base.check_range(cfg, "grating.speed_rad_s", low_bound=0.0)
    base.check_range(cfg, "grating.z_mm")
    lo, hi = g.n_periods
    if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
        raise ValueError(f"grating.n_periods must be integers (low, high), 1 <= low <= high; "
                         f"got {tuple(g.n_periods)}")  # fmt: skip
    if g.direction not in DIRECTIONS:
        raise ValueError(f"grating.direction must be one of {DIRECTIONS}, got {g.direction!r}")
    if not all(0.0 <= x <= 1.0 for x in g.lum):
        raise ValueError(f"grating.lum must be in [0, 1], got {tuple(g.lum)}")
    if not g.radius_mm > 0:
        raise ValueError(f"grating.radius_mm must be > 0, got {g.radius_mm}")
    for name in ("turn_tolerance_rad_s", "turn_margin_rad_s"):
        if not r[name] > 0:
            raise ValueError(f"reward.{name} must be > 0, got {r[name]}")


class OptomotorTask(visual.VisualTask):
    """Optomotor on one fly model (see the module docstring)."""

    REWARD_TERMS = REWARD_TERMS
    task_metric_names = ("grating_speed_rad_s", "slip_rad_s")

    def __init__(self, model: Any, config: ConfigDict) -> None:
        validate(config)
        super().__init__(model, config)
        g = config.grating
        self._scene = make_scene(
            ground=visual.ground_texture(config),
            panorama=make_texture("grating", g.lum[0], g.lum[1], period=2 * np.pi / 8),
            panorama_radius_mm=g.radius_mm,
            panorama_z_mm=g.z_mm,
            max_spheres=1,
            max_cylinders=1,
            sky_lum=config.vision.sky_lum,
        )
        self._slat_az = jnp.asarray((np.arange(N_SLATS) + 0.5) * 2 * np.pi / N_SLATS, jnp.float32)

    def _add_arena(self, root: mjcf.RootElement) -> None:
        g = self.config.grating
        half_width = g.radius_mm * np.tan(np.pi / N_SLATS)
        half_height = 0.5 * (g.z_mm[1] - g.z_mm[0])
        rgba = [g.lum[0], g.lum[0], g.lum[0], 1.0]
        geom = {"type": "box", "size": [0.2, half_width, half_height], "rgba": rgba}
        for i in range(N_SLATS):
            visual.add_mocap(root, f"slat{i}", [geom])

    def _reset_arena(self, rng: jax.Array, qpos: jax.Array) -> dict[str, jax.Array]:
        g = self.config.grating
        k_n, k_speed, k_dir, k_angle = jax.random.split(rng, 4)
        n = jax.random.randint(k_n, (), g.n_periods[0], g.n_periods[1] + 1)
        speed = jax.random.uniform(k_speed, (), minval=g.speed_rad_s[0], maxval=g.speed_rad_s[1])
        if g.direction == "random":
            sign = jnp.where(jax.random.bernoulli(k_dir), 1.0, -1.0)
        else:
            sign = jnp.asarray(1.0 if g.direction == "left" else -1.0)
        free = self._free_adr
        return {
            "angle_rad": jax.random.uniform(k_angle, (), maxval=2 * jnp.pi),
            "omega_rad_s": (sign * speed).astype(jnp.float32),
            "period_rad": (2 * jnp.pi / n).astype(jnp.float32),
            "center_mm": qpos[free : free + 2].astype(jnp.float32),
        }

    def _advance_arena(self, arena: dict[str, jax.Array], dt_s: float) -> dict[str, jax.Array]:
        angle = jnp.mod(arena["angle_rad"] + arena["omega_rad_s"] * dt_s, 2 * jnp.pi)
        return {**arena, "angle_rad": angle}

    def scene(self, arena: dict[str, jax.Array]) -> Scene:
        """The JAX scene: the grating with this episode's period, centre and rotation."""
        scene = self._scene._replace(
            panorama=self._scene.panorama._replace(period=arena["period_rad"]),
            panorama_center_mm=arena["center_mm"],
        )
        return rotate_panorama(scene, arena["angle_rad"])

    def mocap_poses(self, arena: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array]:
        """(pos [72, 3], quat [72, 4]) of the slats; slats on light stripes hidden below."""
        g = self.config.grating
        phase = (self._slat_az - arena["angle_rad"]) / arena["period_rad"]
        dark = jnp.mod(phase, 1.0) < 0.5
        center = arena["center_mm"]
        x = center[0] + g.radius_mm * jnp.cos(self._slat_az)
        y = center[1] + g.radius_mm * jnp.sin(self._slat_az)
        z = jnp.where(dark, 0.5 * (g.z_mm[0] + g.z_mm[1]), -1000.0)
        return jnp.stack([x, y, z], axis=-1), visual.yaw_quat(self._slat_az)

    def _reward_terms(
        self, readout: Readout, info: dict, arena: dict[str, jax.Array], velocity: jax.Array
    ):
        r = self.config.reward
        yaw_rate = jnp.nan_to_num(velocity[1])
        target = r.gain * arena["omega_rad_s"]
        turn = rewards.tolerance(
            yaw_rate,
            target - r.turn_tolerance_rad_s,
            target + r.turn_tolerance_rad_s,
            r.turn_margin_rad_s,
        )
        metrics = {
            "grating_speed_rad_s": arena["omega_rad_s"],
            "slip_rad_s": arena["omega_rad_s"] - yaw_rate,
        }
        return {"turn": turn}, jnp.zeros((), bool), metrics, arena


def optomotor_signal(vision_now: jax.Array, vision_prev: jax.Array) -> jax.Array:
    """Scalar [] > 0 when the panorama seen by both eyes moves to the left (counter-clockwise
    seen from above), < 0 to the right. Correlates each ommatidium's previous value with its
    front/back lattice neighbours' current values (a Reichardt detector's opponent output)."""
    from flyenvs.vision import hex_coords

    u, v = hex_coords()
    index = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(u, v, strict=True))}
    # v grows anteriorly in both eyes (mirror-symmetric lattice): neighbour (u, v + 1) is in front
    pairs = np.array([(i, index[(a, b + 1)]) for (a, b), i in index.items() if (a, b + 1) in index])
    back, front = pairs[:, 0], pairs[:, 1]
    now = jnp.asarray(vision_now, jnp.float32)
    prev = jnp.asarray(vision_prev, jnp.float32)
    # back-to-front motion in an eye: prev[back] * now[front] - prev[front] * now[back]
    b2f = jnp.mean(prev[:, back] * now[:, front] - prev[:, front] * now[:, back], axis=1)
    # leftward (counter-clockwise) panorama motion is front-to-back in the left eye (its
    # points move from azimuth 90 deg towards 180 deg) and back-to-front in the right eye
    return b2f[1] - b2f[0]
