"""Visual tasks' common part: two compound eyes and an arena on the shared fly task.

A visual task (VisualTaxis, Optomotor, Pursuit) is a :class:`VisualTask` subclass that says
what is in its arena and how it moves (``_reset_arena``, ``_advance_arena``, ``scene``), and
what is rewarded (``_reward_terms``). Body, start pose, action modes, velocity filter,
termination (flip, body contact, non-finite physics) and effort terms are the pieces of
:class:`flyenvs.tasks.base.FlyTask`, shared with Walk as a sibling.

Vision: the eyes (:func:`flyenvs.vision.render_eyes`) are cast against the task's JAX
:class:`flyenvs.vision.Scene` from the eye poses in the physics readout, once per control step
(``control_dt_s``, 20 ms by default, i.e. a 50 Hz refresh) and at reset. The arena objects also
exist in the MuJoCo model as visual-only mocap bodies (``contype = conaffinity = 0``: no
contacts, no effect on the physics), so the tracking-camera video shows them;
:meth:`VisualTask.mocap_poses` gives their poses for the renderer. No physics path moves them
(the batched C engine checks that they are inert: ``flyenvs.sim.batch_backend``). The model is
built by :meth:`VisualTask.build_mjcf` (body plus arena), which the batched C engine reuses to
add its native adhesion actuators.

Observation: the dict of :meth:`FlyTask.proprioception` (no command), then ``vision`` [2, 721]:
luminance in [0, 1] of each eye's ommatidia, left eye first, in the lattice's column order
(:func:`flyenvs.vision.lattice.hex_coords`, the order of the optic lobe's columns).

The task's goal (where the pillar is, how the grating turns) is not observed directly: the fly
has to see it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import mujoco
from dm_control import mjcf
from ml_collections import ConfigDict

from flyenvs import body
from flyenvs.sim.base import Readout
from flyenvs.tasks import base
from flyenvs.tasks import config as config_lib
from flyenvs.vision import N_OMMATIDIA, EyeGeometry, Scene, make_texture, render_eyes

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
    """Default option tree of a visual task: the shared fly-task options
    (:func:`flyenvs.tasks.base.task_defaults`), ``vision``, then the task's own groups
    (``task_defaults``, which must include ``reward``: the task's terms)."""
    groups = {k: v for k, v in task_defaults.items() if k != "reward"}
    return base.task_defaults({"vision": dict(VISION_DEFAULTS), **groups}, task_defaults["reward"])


def build_config(defaults: dict[str, Any], overrides: dict[str, Any]) -> ConfigDict:
    """A fresh locked config from ``defaults`` with ``overrides`` (dotted keys), validated."""
    cfg = config_lib.build_config(defaults, overrides)
    validate_common(cfg)
    return cfg


def validate_common(cfg: ConfigDict) -> None:
    """Raise ValueError on shared options out of their domain (the fly task's plus vision)."""
    base.validate_base(cfg)
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


def ground_texture(cfg: ConfigDict):
    """The ground :class:`flyenvs.vision.Texture` of ``cfg.vision``."""
    v = cfg.vision
    return make_texture(v.ground, v.ground_lum[0], v.ground_lum[1], period=v.ground_period_mm)


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


class VisualTask(base.FlyTask):
    """Common machinery of the visual tasks. Read-only after construction; methods are pure.

    Subclasses set ``REWARD_TERMS`` (their own terms, then ``base.EFFORT_TERMS``) and implement
    ``_add_arena(root)``, ``_reset_arena(rng, qpos)`` -> dict, ``_advance_arena(arena, dt_s)`` ->
    dict, ``scene(arena)`` -> Scene, ``_reward_terms(readout, info, new_arena, velocity)`` ->
    ({term: value}, extra terminated [] bool, {metric: value}, arena), ``mocap_poses(arena)``
    -> (pos [M, 3], quat [M, 4]) and ``task_metric_names``.

    Args:
        model: ignored beyond its variant (the arena's model is rebuilt from
            ``config.body_variant`` with the arena objects added); accepted for the registry's
            ``task_cls(model, config)`` signature.
        config: the task's ``default_config()``.
    """

    task_metric_names: tuple[str, ...] = ()

    def __init__(self, model: mujoco.MjModel | None, config: ConfigDict) -> None:
        del model
        self.config = config
        super().__init__(body.compile_mjcf(self.build_mjcf()), config)
        v = config.vision
        self.geometry = EyeGeometry(
            interommatidial_deg=float(v.interommatidial_deg),
            acceptance_deg=float(v.acceptance_deg),
            n_rays=int(v.n_rays),
        )

    def build_mjcf(self) -> mjcf.RootElement:
        """A fresh MJCF tree of the task's model: the body with the arena objects added."""
        root = super().build_mjcf()
        self._add_arena(root)
        return root

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

    def _reward_terms(
        self, readout: Readout, info: dict, arena: dict[str, jax.Array], velocity: jax.Array
    ):
        raise NotImplementedError

    # ----------------------------------------------------------------------------- task API
    def reset(self, rng: jax.Array, params: Any = None) -> tuple[jax.Array, jax.Array, dict]:
        """(qpos [nq], qvel [nv], info) at the start of an episode drawn from ``rng``."""
        rng, k_body, k_arena = jax.random.split(rng, 3)
        qpos, qvel, info, _ = self.reset_body(k_body, params)
        info = {**info, "rng": rng, "arena": self._reset_arena(k_arena, qpos)}
        return qpos, qvel, info

    def vision(self, readout: Readout, info: dict) -> jax.Array:
        """Luminance [2, 721] in [0, 1] seen from the readout's eye poses."""
        pos = jnp.asarray(readout.eye_pos_mm, jnp.float32)
        xmat = jnp.asarray(readout.eye_xmat, jnp.float32)
        lum = render_eyes(self.scene(info["arena"]), pos, xmat, self.geometry)
        return jnp.clip(jnp.nan_to_num(lum.reshape(2, N_OMMATIDIA), nan=0.0), 0.0, 1.0)

    def observe(self, readout: Readout, info: dict) -> dict[str, jax.Array]:
        """Observation dict: proprioception (no command), then ``vision`` [2, 721]."""
        return {**self.proprioception(readout, info), "vision": self.vision(readout, info)}

    def transition(self, readout: Readout, info: dict, action: jax.Array) -> dict:
        """Everything after the physics of one control step (same keys as Walk's)."""
        action = jnp.clip(jnp.asarray(action, jnp.float32), -1.0, 1.0)
        velocity = self.walking_velocity(readout, info)
        terminated, finite = self.termination(readout)
        arena = self._advance_arena(info["arena"], self.config.control_dt_s)
        raw, done, task_metrics, arena = self._reward_terms(readout, info, arena, velocity)
        terms = self.weigh({**raw, **self.effort_terms(readout, info, action)}, finite)
        metrics = {f"reward/{k}": v for k, v in terms.items()}
        metrics.update(self.locomotion_metrics(readout, velocity))
        metrics.update({k: jnp.asarray(v, jnp.float32) for k, v in task_metrics.items()})
        new_info = {**self.advance(readout, info, action, velocity), "arena": arena}
        return {
            "obs": self.observe(readout, new_info),
            "reward": sum(terms.values()),
            "terminated": terminated | done,
            "truncated": self.truncated(new_info),
            "metrics": metrics,
            "info": new_info,
        }

    def metric_names(self) -> tuple[str, ...]:
        return super().metric_names() + tuple(self.task_metric_names)

    # ----------------------------------------------------------------------------- helpers
    @staticmethod
    def heading_rad(readout: Readout) -> jax.Array:
        """Yaw [] of the thorax (rad, counter-clockwise from +x)."""
        return base.heading_rad(jnp.asarray(readout.body_quat, jnp.float32))
