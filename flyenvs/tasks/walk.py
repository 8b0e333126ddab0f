"""Walk: follow a commanded forward speed and turn rate. One JAX definition for both backends.

The task is a set of pure functions over the backend seam (:mod:`flyenvs.sim.base`); the drivers
(``flyenvs.gym`` on C MuJoCo, ``flyenvs.brax`` on MJX) call them in this order each control step::

    ctrl [K, 42], adhesion [K, 6], info = task.controls(action, info, params)
    for k in range(K): physics = backend.step(physics, ctrl[k], adhesion[k], task.n_substeps)
    out = task.transition(backend.readout(physics), info, action)

Timing: one control step lasts ``control_dt_s`` (default 20 ms, the vision network's step); the
action is held for it, and the controller updates joint targets ``n_inner`` times inside it
(every 2 ms by default), each held for ``n_substeps = control_dt_s / n_inner / timestep``
physics steps.

Command: target forward speed (mm/s) and turn rate (rad/s, positive = counter-clockwise seen from
above, i.e. left), sampled uniformly per episode in ``command.speed_mm_s`` x
``command.turn_rad_s``, or fixed (``command.fixed=True``, values ``command.fixed_*``).

Observation (float32, concatenated in this order; A = action size, F = controller features;
non-finite entries become 0 and all are clipped to +- ``WalkTask.observation_bound``):

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
command                2      commanded speed (mm/s), turn rate (rad/s)
walking_velocity       2      rewarded speed (mm/s) and turn rate (rad/s): the heading-frame
                              displacement over each step, low-pass filtered (``velocity_filter_s``)
prev_action            A      the previous action (joints: 48, cpg: 8)
controller             F      cpg: sin(phase) [6], cos(phase) [6], magnitude [6]; joints: none
=====================  =====  =========================================================

Reward = sum of ``reward.<term>`` scale x term; each weighted term is logged as
``metrics["reward/<term>"]``:

- ``speed`` in (0, 1]: tolerance of the forward speed (thorax displacement along its heading
  over the control step / ``control_dt_s``, low-pass filtered with ``velocity_filter_s``) to the
  command (+- ``speed_tolerance_mm_s``,
  0.1 at a further ``speed_margin_mm_s``);
- ``turn`` in (0, 1]: tolerance of the heading change rate (filtered likewise) to the command
  (``turn_tolerance_rad_s``, ``turn_margin_rad_s``);
- ``upright`` in [0, 1]: (1 - g_z) / 2;
- ``energy`` in (-1, 0]: -tanh(mean joint speed^2 / ``energy_scale_rad_s``^2) (a joint-power
  proxy: actuator forces are not part of the readout);
- ``action_rate`` in [-1, 0]: -mean((a - a_prev)^2) / 4 (actions in [-1, 1]).

So the reward lies in [-(energy + action_rate), speed + turn + upright] (scales >= 0).
Termination: tilt beyond ``termination.max_tilt_rad`` (flip), a non-leg body geom touching the
ground (``termination.body_contact``), or non-finite physics. Truncation: ``episode_length``
control steps.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from ml_collections import ConfigDict

from flyenvs import body
from flyenvs.body import constants
from flyenvs.sim.base import Readout
from flyenvs.tasks import config as config_lib
from flyenvs.tasks import cpg, rewards
from flyenvs.tasks.controllers import CPGController, JointController

ACTION_MODES: tuple[str, ...] = ("joints", "cpg")
#: Entry-point group of action modes added by other packages (``name = "module:factory"``,
#: ``factory(model, config) -> Controller``), e.g. agents' connectome ``"vnc"``.
ACTION_MODE_GROUP: str = "flyenvs.action_modes"


def plugin_action_modes() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed extra action modes: name -> entry point of group :data:`ACTION_MODE_GROUP`."""
    eps = importlib.metadata.entry_points(group=ACTION_MODE_GROUP)
    return {ep.name: ep for ep in eps if ep.name not in ACTION_MODES}


def available_action_modes() -> tuple[str, ...]:
    """Built-in modes, then the installed entry-point modes (sorted)."""
    return ACTION_MODES + tuple(sorted(plugin_action_modes()))


_DEFAULTS: dict[str, Any] = {
    "body_variant": "train",
    "action_mode": "cpg",
    "control_dt_s": 0.02,
    "n_inner": 10,
    "episode_length": 250,
    "init_joint_noise_rad": 0.02,
    "init_drop_mm": 0.05,
    "velocity_filter_s": 0.1,
    "contact_force_threshold": 1.0,
    "command": {
        "fixed": False,
        "speed_mm_s": (3.0, 9.0),  # what the train body's cpg gait reaches (docs/walk.md)
        "turn_rad_s": (-1.5, 1.5),
        "fixed_speed_mm_s": 7.0,
        "fixed_turn_rad_s": 0.0,
    },
    "cpg": {
        "freq_hz": 12.0,
        "amplitude": 1.0,
        "coupling": 10.0,
        "convergence_1_s": 20.0,
        "amplitude_gain": 0.5,
        "frequency_gain": 0.5,
        "turn_gain": 0.8,
        "max_amplitude": 1.5,
        "adhesion": True,
    },
    "reward": {
        "speed": 1.0,
        "turn": 0.5,
        "upright": 0.2,
        "energy": 0.05,
        "action_rate": 0.1,
        "speed_tolerance_mm_s": 0.5,
        "speed_margin_mm_s": 4.0,
        "turn_tolerance_rad_s": 0.5,
        "turn_margin_rad_s": 2.0,
        "energy_scale_rad_s": 50.0,
    },
    "termination": {"max_tilt_rad": 1.2, "body_contact": True},
}

REWARD_TERMS: tuple[str, ...] = ("speed", "turn", "upright", "energy", "action_rate")


def default_config(**overrides: Any) -> ConfigDict:
    """A fresh locked Walk config, with ``overrides`` (dotted keys) applied and validated."""
    cfg = config_lib.build_config(_DEFAULTS, overrides)
    validate(cfg)
    return cfg


def validate(cfg: ConfigDict) -> None:
    """Raise ValueError on option values out of their domain."""
    if cfg.action_mode not in ACTION_MODES and cfg.action_mode not in plugin_action_modes():
        raise ValueError(
            f"action_mode must be one of {available_action_modes()} (extra modes come from "
            f"installed {ACTION_MODE_GROUP!r} entry points), got {cfg.action_mode!r}"
        )
    for name in ("control_dt_s", "contact_force_threshold"):
        if not cfg[name] > 0:
            raise ValueError(f"{name} must be > 0, got {cfg[name]}")
    for name in ("n_inner", "episode_length"):
        if cfg[name] < 1:
            raise ValueError(f"{name} must be >= 1, got {cfg[name]}")
    for name in ("speed_mm_s", "turn_rad_s"):
        low, high = cfg.command[name]
        if not low <= high:
            raise ValueError(f"command.{name} must be (low, high), low <= high; got {(low, high)}")
    for term in REWARD_TERMS:
        if cfg.reward[term] < 0:
            raise ValueError(f"reward.{term} is a scale and must be >= 0, got {cfg.reward[term]}")


def heading_rad(quat: jax.Array) -> jax.Array:
    """Yaw [] (rad) of the thorax x axis in the world xy plane, from a (w, x, y, z) quaternion."""
    w, x, y, z = quat[0], quat[1], quat[2], quat[3]
    return jnp.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def _wrap(angle: jax.Array) -> jax.Array:
    return jnp.mod(angle + jnp.pi, 2 * jnp.pi) - jnp.pi


class WalkTask:
    """The Walk task for one fly model. Read-only after construction; all methods are pure.

    Args:
        model: a fly model from :func:`flyenvs.body.load` (its ``opt.timestep`` sets the physics
            step).
        config: a config from :func:`default_config`.
    """

    #: Observations are finite and clipped to +- this bound (non-finite entries become 0).
    observation_bound: float = 1e6

    def __init__(self, model: mujoco.MjModel, config: ConfigDict) -> None:
        validate(config)
        from flyenvs.body import VARIANTS

        if config.body_variant not in VARIANTS:
            raise ValueError(f"body_variant must be one of {VARIANTS}, got {config.body_variant!r}")
        self.config = config
        self.model = model
        self.timestep_s = float(model.opt.timestep)
        inner_dt_s = config.control_dt_s / config.n_inner
        n_substeps = inner_dt_s / self.timestep_s
        if abs(n_substeps - round(n_substeps)) > 1e-6 or round(n_substeps) < 1:
            raise ValueError(
                f"control_dt_s / n_inner = {inner_dt_s} s must be a whole number of physics "
                f"steps of {self.timestep_s} s"
            )
        self.n_substeps = int(round(n_substeps))
        self.n_inner = int(config.n_inner)
        lay = body.layout(model)
        # joint targets span the actuators' control ranges (the recorded walking range)
        joint_range = model.actuator_ctrlrange[lay.leg_actuator_ids].astype(np.float32)
        self._qpos_adr = jnp.asarray(lay.leg_qpos_adr)
        self._free_adr = int(lay.free_qpos_adr)
        self.nq, self.nv = int(model.nq), int(model.nv)
        # start slightly above the floor so joint noise cannot push a tarsus into it
        qpos0 = body.neutral_qpos(model)
        qpos0[lay.free_qpos_adr + 2] += config.init_drop_mm
        self._init_qpos = jnp.asarray(qpos0, jnp.float32)
        self._joint_low = jnp.asarray(joint_range[:, 0])
        self._joint_high = jnp.asarray(joint_range[:, 1])
        if config.action_mode == "cpg":
            table = cpg.body_step_table()
            self.controller = CPGController(table, config.cpg, self.n_inner, inner_dt_s)
        elif config.action_mode == "joints":
            self.controller = JointController(joint_range, self.n_inner)
        else:
            self.controller = plugin_action_modes()[config.action_mode].load()(model, config)
        self.action_size = int(self.controller.action_low.shape[0])
        self.observation_size = 2 * 42 + 3 * 3 + 2 * 6 + 2 + 2 + self.action_size
        self.observation_size += self.controller.n_features

    # ----------------------------------------------------------------------------- episode start
    def default_params(self) -> Any:
        """The controller parameters used when none are passed (a pytree; None for joints)."""
        return self.controller.default_params()

    def reset(self, rng: jax.Array, params: Any = None) -> tuple[jax.Array, jax.Array, dict]:
        """(qpos [nq], qvel [nv], info) at the start of an episode drawn from ``rng``."""
        params = self.default_params() if params is None else params
        rng, k_joint, k_speed, k_turn, k_ctrl = jax.random.split(rng, 5)
        cmd = self.config.command
        noise = self.config.init_joint_noise_rad
        joints = self._init_qpos[self._qpos_adr] + jax.random.uniform(
            k_joint, (constants.N_LEG_JOINTS,), minval=-noise, maxval=noise
        )
        joints = jnp.clip(joints, self._joint_low, self._joint_high)
        qpos = self._init_qpos.at[self._qpos_adr].set(joints)
        if cmd.fixed:
            command = jnp.array([cmd.fixed_speed_mm_s, cmd.fixed_turn_rad_s], jnp.float32)
        else:
            (lo_v, hi_v), (lo_w, hi_w) = cmd.speed_mm_s, cmd.turn_rad_s
            speed = jax.random.uniform(k_speed, (), minval=lo_v, maxval=hi_v)
            turn = jax.random.uniform(k_turn, (), minval=lo_w, maxval=hi_w)
            command = jnp.stack([speed, turn]).astype(jnp.float32)
        free = self._free_adr
        info = {
            "rng": rng,
            "command": command,
            "prev_xy_mm": qpos[free : free + 2],
            "prev_heading_rad": heading_rad(qpos[free + 3 : free + 7]),
            "filtered_velocity": jnp.zeros(2, jnp.float32),
            "prev_action": jnp.zeros(self.action_size, jnp.float32),
            "step": jnp.zeros((), jnp.int32),
            "controller": self.controller.init(k_ctrl, params),
        }
        return qpos, jnp.zeros(self.nv, jnp.float32), info

    # ------------------------------------------------------------------------------ control step
    def controls(self, action: jax.Array, info: dict, params: Any = None):
        """(ctrl [K, 42] rad, adhesion [K, 6] in [0, 1], info) for one control period."""
        params = self.default_params() if params is None else params
        action = jnp.asarray(action, jnp.float32)
        ctrl, adhesion, ctrl_state = self.controller.schedule(action, info["controller"], params)
        return ctrl, adhesion, {**info, "controller": ctrl_state}

    def observe(self, readout: Readout, info: dict) -> jax.Array:
        """Observation [observation_size] (see the module table)."""
        return self.proprioception(readout, info, with_command=True)

    def proprioception(self, readout: Readout, info: dict, with_command: bool) -> jax.Array:
        """The module table's entries in order (``command`` only if ``with_command``), float32,
        NaN-free and clipped to +- ``observation_bound``; other tasks reuse it."""
        force = jnp.asarray(readout.tarsus_force, jnp.float32)
        parts = [
            readout.joint_pos_rad,
            readout.joint_vel_rad_s,
            readout.body_linvel_mm_s,
            readout.body_angvel_rad_s,
            readout.gravity_body,
            (force > self.config.contact_force_threshold).astype(jnp.float32),
            jnp.log1p(jnp.maximum(force, 0.0)),
            *([info["command"]] if with_command else []),
            info["filtered_velocity"],
            info["prev_action"],
            self.controller.features(info["controller"]),
        ]
        obs = jnp.concatenate([jnp.asarray(p, jnp.float32).reshape(-1) for p in parts])
        bound = self.observation_bound
        return jnp.clip(jnp.nan_to_num(obs, nan=0.0, posinf=bound, neginf=-bound), -bound, bound)

    def reward(self, readout: Readout, info: dict, action: jax.Array):
        """(reward [], weighted terms {name: []}, terminated [] bool) after a control step."""
        r = self.config.reward
        speed, yaw_rate = self.filtered_velocity(readout, info)
        gravity = jnp.asarray(readout.gravity_body, jnp.float32)
        joint_vel = jnp.asarray(readout.joint_vel_rad_s, jnp.float32)
        cmd_speed, cmd_turn = info["command"][0], info["command"][1]
        raw = {
            "speed": rewards.tolerance(
                speed,
                cmd_speed - r.speed_tolerance_mm_s,
                cmd_speed + r.speed_tolerance_mm_s,
                r.speed_margin_mm_s,
            ),
            "turn": rewards.tolerance(
                yaw_rate,
                cmd_turn - r.turn_tolerance_rad_s,
                cmd_turn + r.turn_tolerance_rad_s,
                r.turn_margin_rad_s,
            ),
            "upright": rewards.upright(gravity),
            "energy": rewards.squashed_penalty(jnp.mean(joint_vel**2), r.energy_scale_rad_s**2),
            "action_rate": -jnp.mean((action - info["prev_action"]) ** 2) / 4.0,
        }
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(jnp.asarray(x))) for x in readout]))
        terms = {k: jnp.where(finite, r[k] * v, 0.0) for k, v in raw.items()}
        total = sum(terms.values())
        tilt = jnp.arccos(jnp.clip(-gravity[2], -1.0, 1.0))
        terminated = (~finite) | (tilt > self.config.termination.max_tilt_rad)
        if self.config.termination.body_contact:
            terminated = terminated | (jnp.asarray(readout.body_contact) > 0.5)
        return total, terms, terminated

    def mean_velocity(self, readout: Readout, info: dict) -> tuple[jax.Array, jax.Array]:
        """(forward speed mm/s, yaw rate rad/s) averaged over the last control step.

        Forward speed is the thorax displacement along its heading divided by ``control_dt_s``;
        averaging over the step removes most of the within-stride oscillation of the
        instantaneous velocities.
        """
        xy = jnp.asarray(readout.body_pos_mm, jnp.float32)[:2]
        heading = heading_rad(jnp.asarray(readout.body_quat, jnp.float32))
        prev = info["prev_heading_rad"]
        forward = jnp.stack([jnp.cos(prev), jnp.sin(prev)])
        dt = self.config.control_dt_s
        speed = jnp.dot(xy - info["prev_xy_mm"], forward) / dt
        return speed, _wrap(heading - prev) / dt

    def filtered_velocity(self, readout: Readout, info: dict) -> jax.Array:
        """[2] (forward speed mm/s, yaw rate rad/s): :meth:`mean_velocity` low-pass filtered
        with time constant ``velocity_filter_s`` (about one stride), the quantities rewarded."""
        alpha = 1.0 - np.exp(-self.config.control_dt_s / max(self.config.velocity_filter_s, 1e-9))
        current = jnp.stack(self.mean_velocity(readout, info))
        return info["filtered_velocity"] + alpha * (current - info["filtered_velocity"])

    def transition(self, readout: Readout, info: dict, action: jax.Array) -> dict:
        """Everything after the physics of one control step.

        Returns a dict: ``obs`` [observation_size], ``reward`` [], ``terminated`` [] bool,
        ``truncated`` [] bool (episode_length reached), ``metrics`` {name: []}, ``info``.
        """
        action = jnp.clip(jnp.asarray(action, jnp.float32), -1.0, 1.0)
        total, terms, terminated = self.reward(readout, info, action)
        rng, _ = jax.random.split(info["rng"])
        metrics = {f"reward/{k}": v for k, v in terms.items()}
        metrics.update(self.kinematic_metrics(readout, info))
        info = {
            **info,
            "filtered_velocity": jnp.nan_to_num(self.filtered_velocity(readout, info)),
            "rng": rng,
            "prev_action": action,
            "step": info["step"] + 1,
            "prev_xy_mm": jnp.nan_to_num(jnp.asarray(readout.body_pos_mm, jnp.float32)[:2]),
            "prev_heading_rad": jnp.nan_to_num(
                heading_rad(jnp.asarray(readout.body_quat, jnp.float32))
            ),
        }
        return {
            "obs": self.observe(readout, info),
            "reward": total,
            "terminated": terminated,
            "truncated": info["step"] >= self.config.episode_length,
            "metrics": metrics,
            "info": info,
        }

    def kinematic_metrics(self, readout: Readout, info: dict) -> dict[str, jax.Array]:
        """Logged quantities (not rewarded): speeds, command, position."""
        pos = jnp.nan_to_num(jnp.asarray(readout.body_pos_mm, jnp.float32))
        speed, yaw_rate = self.filtered_velocity(readout, info)
        return {
            "forward_speed_mm_s": jnp.nan_to_num(speed),
            "turn_rate_rad_s": jnp.nan_to_num(yaw_rate),
            "command_speed_mm_s": info["command"][0],
            "command_turn_rad_s": info["command"][1],
            "x_mm": pos[0],
            "y_mm": pos[1],
        }

    def zero_metrics(self) -> dict[str, jax.Array]:
        """Metrics dict of zeros with the same keys as :meth:`transition` (for reset states)."""
        names = [f"reward/{k}" for k in REWARD_TERMS] + [
            "forward_speed_mm_s",
            "turn_rate_rad_s",
            "command_speed_mm_s",
            "command_turn_rad_s",
            "x_mm",
            "y_mm",
        ]
        return {name: jnp.zeros((), jnp.float32) for name in names}
