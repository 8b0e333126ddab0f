"""Visual tasks' common part: a Walk body and controller, two compound eyes, an arena.

A visual task (:mod:`flyenvs.tasks.visual_tasks`) is a :class:`VisualTask` subclass that says
what is in its arena and how it moves (``_reset_arena``, ``_advance_arena``, ``scene``), and
what is rewarded (``_reward_terms``). Everything else is shared here and reuses the Walk task
(:class:`flyenvs.tasks.walk.WalkTask`) by composition: its body, start pose, action modes
(``"cpg"``, ``"joints"``), controller, velocity filter and termination rules (flip, body
contact, non-finite physics). The driver interface (``reset``, ``controls``, ``observe``,
``transition``, ``zero_metrics``, ...) is the one of :mod:`flyenvs.tasks.driver`, so both
front ends (Gymnasium on C MuJoCo, Brax on MJX) run these tasks unchanged.

Vision: the eyes (:func:`flyenvs.vision.render_eyes`) are cast against the task's JAX
:class:`flyenvs.vision.Scene` from the eye poses in the physics readout, once per control step
(``control_dt_s``, 20 ms by default, i.e. a 50 Hz refresh) and at reset. The arena objects also
exist in the MuJoCo model as visual-only mocap bodies (``contype = conaffinity = 0``: no
contacts, no effect on the physics), so the tracking-camera video shows them;
:meth:`VisualTask.mocap_poses` gives their poses for the renderer.

Observation (float32, concatenated in this order; A = action size, F = controller features):

=====================  =====  =========================================================
entry                  size   meaning (units)
=====================  =====  =========================================================
joint_pos_rad          42     leg joint angles (rad), order ``constants.LEG_JOINTS``
joint_vel_rad_s        42     leg joint velocities (rad/s)
body_linvel_mm_s       3      thorax linear velocity, body frame (mm/s; x forward)
body_angvel_rad_s      3      thorax angular velocity, body frame (rad/s; z up)
gravity_body           3      unit gravity direction in the body frame (upright: 0, 0, -1)
tarsus_contact         6      1 where the tarsus tip force exceeds ``contact_force_threshold``
tarsus_force_log       6      log(1 + tarsus normal force) (model force units)
walking_velocity       2      forward speed (mm/s) and yaw rate (rad/s), filtered as in Walk
prev_action            A      the previous action (joints: 48, cpg: 8)
controller             F      cpg: sin(phase) [6], cos(phase) [6], magnitude [6]; joints: none
vision                 1442   luminance in [0, 1] of the 2 x 721 ommatidia, left eye first,
                              flyvis column order (``vision[i * 721 + j]`` = eye i, column j)
=====================  =====  =========================================================

The task's goal (where the pillar is, how the grating turns) is not observed directly: the fly
has to see it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from dm_control import mjcf
from ml_collections import ConfigDict

from flyenvs import body
from flyenvs.sim.base import Readout
from flyenvs.tasks import config as config_lib
from flyenvs.tasks import rewards, walk
from flyenvs.vision import N_OMMATIDIA, EyeGeometry, Scene, make_texture, render_eyes

#: Size of the ``vision`` observation entry (2 eyes x 721 ommatidia).
VISION_SIZE: int = 2 * N_OMMATIDIA

#: Walk options every visual task shares (same meaning and defaults as in Walk).
SHARED_WALK_KEYS: tuple[str, ...] = (
    "body_variant",
    "action_mode",
    "control_dt_s",
    "n_inner",
    "episode_length",
    "init_joint_noise_rad",
    "init_drop_mm",
    "velocity_filter_s",
    "contact_force_threshold",
    "cpg",
    "termination",
)
#: Walk's reward options that every visual task shares (the energy and action-rate terms).
SHARED_WALK_REWARD_KEYS: tuple[str, ...] = ("energy", "action_rate", "energy_scale_rad_s")

#: Options of the eyes and of the arena's background, shared by every visual task.
VISION_DEFAULTS: dict[str, Any] = {
    "n_rays": 7,
    "interommatidial_deg": 5.0,
    "acceptance_deg": 5.0,
    "ground": "uniform",
    "ground_lum": (0.5, 0.5),
    "ground_period_mm": 4.0,
    "sky_lum": 1.0,
}


def visual_defaults(task_defaults: dict[str, Any]) -> dict[str, Any]:
    """Default option tree of a visual task: the shared Walk options, ``vision``, then the
    task's own groups (``task_defaults``, which must include ``reward``); the task's reward
    group starts from Walk's ``SHARED_WALK_REWARD_KEYS``."""
    base = walk.default_config().to_dict()
    tree = {key: base[key] for key in SHARED_WALK_KEYS}
    tree["vision"] = dict(VISION_DEFAULTS)
    tree.update(task_defaults)
    shared_reward = {key: base["reward"][key] for key in SHARED_WALK_REWARD_KEYS}
    tree["reward"] = {**shared_reward, **task_defaults["reward"]}
    return tree


def build_config(defaults: dict[str, Any], overrides: dict[str, Any]) -> ConfigDict:
    """A fresh locked config from ``defaults`` with ``overrides`` (dotted keys), validated."""
    cfg = config_lib.build_config(defaults, overrides)
    validate_common(cfg)
    return cfg


def check_range(cfg: ConfigDict, dotted: str, low_bound: float | None = None) -> None:
    """Raise ValueError unless option ``dotted`` is a finite (low, high) with low <= high (and
    low >= ``low_bound`` if given)."""
    group, _, name = dotted.rpartition(".")
    value = cfg[group][name] if group else cfg[name]
    low, high = value
    if not (np.isfinite(low) and np.isfinite(high) and low <= high):
        raise ValueError(f"{dotted} must be (low, high) with low <= high, got {tuple(value)}")
    if low_bound is not None and low < low_bound:
        raise ValueError(f"{dotted} must be >= {low_bound}, got {tuple(value)}")


def validate_common(cfg: ConfigDict) -> None:
    """Raise ValueError on shared options out of their domain (Walk's checks plus vision)."""
    walk_config(cfg)  # Walk's own checks on the shared options
    v = cfg.vision
    if v.n_rays not in (1, 7):
        raise ValueError(f"vision.n_rays must be 1 or 7, got {v.n_rays}")
    for name in ("interommatidial_deg", "acceptance_deg", "ground_period_mm"):
        if not v[name] > 0:
            raise ValueError(f"vision.{name} must be > 0, got {v[name]}")
    if v.ground not in ("uniform", "checker", "grating"):
        raise ValueError(
            f"vision.ground must be one of ('uniform', 'checker', 'grating'), got {v.ground!r}"
        )
    for lum in (*v.ground_lum, v.sky_lum):
        if not 0.0 <= lum <= 1.0:
            raise ValueError(f"vision luminances must be in [0, 1], got {lum}")
    if not cfg.reward.energy_scale_rad_s > 0:
        raise ValueError(
            f"reward.energy_scale_rad_s must be > 0, got {cfg.reward.energy_scale_rad_s}"
        )


def check_scales(cfg: ConfigDict, terms: tuple[str, ...]) -> None:
    """Raise ValueError if a reward term's scale ``cfg.reward.<term>`` is negative."""
    for term in terms:
        if not cfg.reward[term] >= 0:
            raise ValueError(f"reward.{term} is a scale and must be >= 0, got {cfg.reward[term]}")


def walk_config(cfg: ConfigDict) -> ConfigDict:
    """The Walk config holding ``cfg``'s shared options (fixed command; Walk's checks run)."""
    shared = {
        key: cfg[key].to_dict() if isinstance(cfg[key], ConfigDict) else cfg[key]
        for key in SHARED_WALK_KEYS
    }
    return walk.default_config(**shared, **{"command.fixed": True})


def ground_texture(cfg: ConfigDict):
    """The ground :class:`flyenvs.vision.Texture` of ``cfg.vision``."""
    v = cfg.vision
    return make_texture(v.ground, v.ground_lum[0], v.ground_lum[1], period=v.ground_period_mm)


def wrap_angle(angle: jax.Array) -> jax.Array:
    """Angle wrapped to [-pi, pi)."""
    return jnp.mod(angle + jnp.pi, 2 * jnp.pi) - jnp.pi


def yaw_quat(yaw_rad: jax.Array) -> jax.Array:
    """(w, x, y, z) quaternion [..., 4] of a rotation by ``yaw_rad`` [...] about world z."""
    half = 0.5 * jnp.asarray(yaw_rad, jnp.float32)
    zero = jnp.zeros_like(half)
    return jnp.stack([jnp.cos(half), zero, zero, jnp.sin(half)], axis=-1)


def add_mocap(root: mjcf.RootElement, name: str, geoms: list[dict[str, Any]]) -> None:
    """Add a mocap body ``name`` at the origin holding visual-only ``geoms`` (kwargs of
    ``<geom>``; contype = conaffinity = 0, so they never touch the fly)."""
    mocap = root.worldbody.add("body", name=name, mocap=True, pos=[0, 0, -1000])
    for i, kw in enumerate(geoms):
        mocap.add("geom", name=f"{name}_geom{i}", contype=0, conaffinity=0, mass=0, **kw)


class VisualTask:
    """Common machinery of the visual tasks. Read-only after construction; methods are pure.

    Subclasses set ``REWARD_TERMS`` and implement ``_add_arena(root)``, ``_reset_arena(rng,
    qpos)`` -> dict, ``_advance_arena(arena, dt_s)`` -> dict, ``scene(arena)`` -> Scene,
    ``_reward_terms(readout, info, new_arena)`` -> ({term: value}, extra terminated [] bool,
    {metric: value}, arena), ``mocap_poses(arena)`` -> (pos [M, 3], quat [M, 4]) and
    ``task_metric_names``.

    Args:
        model: ignored beyond its variant (the arena's model is rebuilt from
            ``config.body_variant`` with the arena objects added); accepted for the driver's
            ``task_cls(model, config)`` signature.
        config: the task's ``default_config()``.
    """

    REWARD_TERMS: tuple[str, ...] = ()
    task_metric_names: tuple[str, ...] = ()
    observation_bound: float = walk.WalkTask.observation_bound

    def __init__(self, model: mujoco.MjModel | None, config: ConfigDict) -> None:
        del model
        self.config = config
        walk_cfg = walk_config(config)
        root = body.build_mjcf(config.body_variant)
        self._add_arena(root)
        self.model = body.compile_mjcf(root)
        self._free_adr = int(body.layout(self.model).free_qpos_adr)
        self.walk = walk.WalkTask(self.model, walk_cfg)
        self.controller = self.walk.controller
        self.n_inner = self.walk.n_inner
        self.n_substeps = self.walk.n_substeps
        self.timestep_s = self.walk.timestep_s
        self.action_size = self.walk.action_size
        v = config.vision
        self.geometry = EyeGeometry(
            interommatidial_deg=float(v.interommatidial_deg),
            acceptance_deg=float(v.acceptance_deg),
            n_rays=int(v.n_rays),
        )
        self.observation_size = (
            2 * 42 + 3 * 3 + 2 * 6 + 2 + self.action_size + self.controller.n_features
        ) + VISION_SIZE
        check_scales(config, self.REWARD_TERMS)

    # --------------------------------------------------------------------------- subclass API
    def _add_arena(self, root: mjcf.RootElement) -> None:
        raise NotImplementedError

    def _reset_arena(self, rng: jax.Array, qpos: jax.Array) -> dict[str, jax.Array]:
        raise NotImplementedError

    def _advance_arena(self, arena: dict[str, jax.Array], dt_s: float) -> dict[str, jax.Array]:
        return arena

    def scene(self, arena: dict[str, jax.Array]) -> Scene:
        raise NotImplementedError

    def mocap_poses(self, arena: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array]:
        raise NotImplementedError

    def _reward_terms(self, readout: Readout, info: dict, arena: dict[str, jax.Array]):
        raise NotImplementedError

    # ----------------------------------------------------------------------------- driver API
    def default_params(self) -> Any:
        """Controller parameters used when none are passed."""
        return self.walk.default_params()

    def reset(self, rng: jax.Array, params: Any = None) -> tuple[jax.Array, jax.Array, dict]:
        """(qpos [nq], qvel [nv], info) at the start of an episode drawn from ``rng``."""
        rng, k_walk, k_arena = jax.random.split(rng, 3)
        qpos, qvel, info = self.walk.reset(k_walk, params)
        info = {**info, "rng": rng, "arena": self._reset_arena(k_arena, qpos)}
        return qpos, qvel, info

    def controls(self, action: jax.Array, info: dict, params: Any = None):
        """(ctrl [K, 42] rad, adhesion [K, 6], info) for one control period."""
        return self.walk.controls(action, info, params)

    def vision(self, readout: Readout, info: dict) -> jax.Array:
        """Luminance [2, 721] in [0, 1] seen from the readout's eye poses."""
        pos = jnp.asarray(readout.eye_pos_mm, jnp.float32)
        xmat = jnp.asarray(readout.eye_xmat, jnp.float32)
        lum = render_eyes(self.scene(info["arena"]), pos, xmat, self.geometry)
        return jnp.clip(jnp.nan_to_num(lum.reshape(2, N_OMMATIDIA), nan=0.0), 0.0, 1.0)

    def observe(self, readout: Readout, info: dict) -> jax.Array:
        """Observation [observation_size] (see the module table)."""
        obs = self.walk.proprioception(readout, info, with_command=False)
        return jnp.concatenate([obs, self.vision(readout, info).reshape(-1)])

    def transition(self, readout: Readout, info: dict, action: jax.Array) -> dict:
        """Everything after the physics of one control step (same keys as Walk's)."""
        action = jnp.clip(jnp.asarray(action, jnp.float32), -1.0, 1.0)
        # Walk's termination (flip, body contact, non-finite physics); its reward is unused
        _, _, terminated = self.walk.reward(readout, info, action)
        arena = self._advance_arena(info["arena"], self.config.control_dt_s)
        raw, done, task_metrics, arena = self._reward_terms(readout, info, arena)
        joint_vel = jnp.asarray(readout.joint_vel_rad_s, jnp.float32)
        r = self.config.reward
        raw["energy"] = rewards.squashed_penalty(jnp.mean(joint_vel**2), r.energy_scale_rad_s**2)
        raw["action_rate"] = -jnp.mean((action - info["prev_action"]) ** 2) / 4.0
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(jnp.asarray(x))) for x in readout]))
        terms = {k: jnp.where(finite, r[k] * raw[k], 0.0) for k in self.REWARD_TERMS}
        walk_out = self.walk.transition(readout, info, action)
        new_info = {**walk_out["info"], "arena": arena}
        metrics = {f"reward/{k}": v for k, v in terms.items()}
        wm = walk_out["metrics"]
        for name in ("forward_speed_mm_s", "turn_rate_rad_s", "x_mm", "y_mm"):
            metrics[name] = wm[name]
        metrics.update({k: jnp.asarray(v, jnp.float32) for k, v in task_metrics.items()})
        return {
            "obs": self.observe(readout, new_info),
            "reward": sum(terms.values()),
            "terminated": terminated | done,
            "truncated": new_info["step"] >= self.config.episode_length,
            "metrics": metrics,
            "info": new_info,
        }

    def zero_metrics(self) -> dict[str, jax.Array]:
        """Metrics of zeros with the same keys as :meth:`transition` (for reset states)."""
        names = [f"reward/{k}" for k in self.REWARD_TERMS]
        names += ["forward_speed_mm_s", "turn_rate_rad_s", "x_mm", "y_mm"]
        names += list(self.task_metric_names)
        return {name: jnp.zeros((), jnp.float32) for name in names}

    # ----------------------------------------------------------------------------- helpers
    @staticmethod
    def heading_rad(readout: Readout) -> jax.Array:
        """Yaw [] of the thorax (rad, counter-clockwise from +x)."""
        return walk.heading_rad(jnp.asarray(readout.body_quat, jnp.float32))


def numpy_mocap(task: VisualTask, info: dict) -> tuple[np.ndarray, np.ndarray]:
    """(mocap_pos [M, 3], mocap_quat [M, 4]) as float64 numpy for ``MjData`` (renderer)."""
    pos, quat = task.mocap_poses(info["arena"])
    return np.asarray(pos, np.float64), np.asarray(quat, np.float64)
