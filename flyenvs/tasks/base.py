"""The task contract and the pieces every fly task is built from.

A task is a set of pure JAX functions over the backend seam (:mod:`flyenvs.sim.base`); the
drivers (:mod:`flyenvs.tasks.driver`: Gymnasium on C MuJoCo, Brax on MJX) call them in this
order each control step::

    ctrl [K, 42], adhesion [K, 6], info = task.controls(action, info, params)
    for k in range(K): physics = backend.step(physics, ctrl[k], adhesion[k], task.n_substeps)
    out = task.transition(backend.readout(physics), info, action)

:class:`Task` is that contract. :class:`FlyTask` implements everything a task on the fly body
shares, as small pure pieces that Walk and the visual tasks use as siblings: timing, the action
mode (:mod:`flyenvs.tasks.action_modes`), the initial pose, :meth:`FlyTask.proprioception`,
:meth:`FlyTask.walking_velocity`, :meth:`FlyTask.termination`, :meth:`FlyTask.effort_terms`,
:meth:`FlyTask.locomotion_metrics` and the bookkeeping of :meth:`FlyTask.advance`.

Timing: one control step lasts ``control_dt_s`` (default 20 ms); the action is held for it, and
the controller updates joint targets ``n_inner`` times inside it (every 2 ms by default), each
held for ``n_substeps = control_dt_s / n_inner / timestep`` physics steps.

Observations are dicts of named float32 arrays (insertion order = documented order);
:func:`trace_observation_spec` derives their shapes with ``jax.eval_shape`` and
:func:`flatten_observation` concatenates them in that order (Brax PPO, MLP policies).
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from dm_control import mjcf
from ml_collections import ConfigDict

from flyenvs import body
from flyenvs.body import constants
from flyenvs.sim.base import Readout, readout_spec
from flyenvs.tasks import action_modes, rewards

#: Options every fly task shares (the body, timing, action mode, initial state, termination).
BASE_DEFAULTS: dict[str, Any] = {
    "body_variant": "train",
    "action_mode": "cpg",
    "control_dt_s": 0.02,
    "n_inner": 10,
    "episode_length": 250,
    "init_joint_noise_rad": 0.02,
    "init_drop_mm": 0.05,
    "velocity_filter_s": 0.1,
    "contact_force_threshold": 1.0,
    "termination": {"max_tilt_rad": 1.2, "body_contact": True},
}
#: Reward options every fly task shares: the effort terms' scales and the energy's joint speed.
EFFORT_REWARD_DEFAULTS: dict[str, float] = {
    "energy": 0.05,
    "action_rate": 0.1,
    "energy_scale_rad_s": 50.0,
}
#: Names of the effort terms (:meth:`FlyTask.effort_terms`).
EFFORT_TERMS: tuple[str, ...] = ("energy", "action_rate")


def task_defaults(groups: dict[str, Any], reward: dict[str, Any]) -> dict[str, Any]:
    """A task's default option tree: :data:`BASE_DEFAULTS`, the ``action`` group of every mode,
    the task's own ``groups``, then ``reward``: the task's terms and the effort terms
    (:data:`EFFORT_REWARD_DEFAULTS`)."""
    tree = {**BASE_DEFAULTS, "action": action_modes.defaults(), **groups}
    tree["reward"] = {**reward, **EFFORT_REWARD_DEFAULTS}
    return tree


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


def check_scales(cfg: ConfigDict, terms: tuple[str, ...]) -> None:
    """Raise ValueError if a reward term's scale ``cfg.reward.<term>`` is negative."""
    for term in terms:
        if not cfg.reward[term] >= 0:
            raise ValueError(f"reward.{term} is a scale and must be >= 0, got {cfg.reward[term]}")


def validate_base(cfg: ConfigDict) -> None:
    """Raise ValueError on shared options (:data:`BASE_DEFAULTS`, effort rewards) out of their
    domain."""
    from flyenvs.body import VARIANTS

    if cfg.body_variant not in VARIANTS:
        raise ValueError(f"body_variant must be one of {VARIANTS}, got {cfg.body_variant!r}")
    action_modes.check_mode(cfg.action_mode)
    for name in ("control_dt_s", "contact_force_threshold"):
        if not cfg[name] > 0:
            raise ValueError(f"{name} must be > 0, got {cfg[name]}")
    for name in ("n_inner", "episode_length"):
        if cfg[name] < 1:
            raise ValueError(f"{name} must be >= 1, got {cfg[name]}")
    check_scales(cfg, EFFORT_TERMS)
    if not cfg.reward.energy_scale_rad_s > 0:
        raise ValueError(
            f"reward.energy_scale_rad_s must be > 0, got {cfg.reward.energy_scale_rad_s}"
        )


def heading_rad(quat: jax.Array) -> jax.Array:
    """Yaw [] (rad) of the thorax x axis in the world xy plane, from a (w, x, y, z) quaternion."""
    w, x, y, z = quat[0], quat[1], quat[2], quat[3]
    return jnp.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def wrap_angle(angle: jax.Array) -> jax.Array:
    """Angle wrapped to [-pi, pi)."""
    return jnp.mod(angle + jnp.pi, 2 * jnp.pi) - jnp.pi


def diverged(readout: Readout) -> jax.Array:
    """[] bool: the physics diverged in the step that led to ``readout``: a non-finite field
    (MJX, or C MuJoCo before it resets) or C MuJoCo's ``unstable`` flag (it reset a bad state).
    The one definition every backend's episode end and sanitising use."""
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(jnp.asarray(x))) for x in readout]))
    return (~finite) | (jnp.asarray(readout.unstable) > 0.5)


def observation_range(name: str, bound: float) -> tuple[float, float]:
    """(low, high) of observation entry ``name``: ``vision`` in [0, 1], others in +- ``bound``."""
    return (0.0, 1.0) if name == "vision" else (-bound, bound)


def guard_transition(task: Task, readout: Readout, out: dict) -> dict:
    """``out`` of ``task.transition`` made safe for a learner whatever the physics did:
    ``diverged`` [] bool added (:func:`diverged`), ``terminated`` set where it holds, and the
    observation entries, reward and metrics finite (non-finite values replaced, observations
    clipped to :func:`observation_range`; the reward is 0 on a diverged step). An identity on
    the values of a normal step. The drivers (:mod:`flyenvs.tasks.driver`) apply it."""
    bad = diverged(readout)
    obs = {}
    for name, x in out["obs"].items():
        low, high = observation_range(name, task.observation_bound)
        x = jnp.nan_to_num(x, nan=0.0, posinf=high, neginf=low)
        obs[name] = jnp.clip(x, low, high)
    metrics = {k: jnp.nan_to_num(v) for k, v in out["metrics"].items()}
    reward = jnp.where(bad, jnp.zeros_like(out["reward"]), jnp.nan_to_num(out["reward"]))
    terminated = jnp.asarray(out["terminated"]) | bad
    return {**out, "obs": obs, "reward": reward, "terminated": terminated, "metrics": metrics,
            "diverged": bad}  # fmt: skip


class Task(Protocol):
    """What the drivers and front ends need of a task (see the module docstring)."""

    config: ConfigDict
    model: mujoco.MjModel
    controller: action_modes.Controller
    timestep_s: float
    n_inner: int
    n_substeps: int
    action_size: int
    observation_bound: float
    observation_spec: dict[str, jax.ShapeDtypeStruct]

    def build_mjcf(self) -> mjcf.RootElement: ...

    def default_params(self) -> Any: ...

    def reset(self, rng: jax.Array, params: Any = None) -> tuple[jax.Array, jax.Array, dict]: ...

    def controls(self, action: jax.Array, info: dict, params: Any = None): ...

    def observe(self, readout: Readout, info: dict) -> dict[str, jax.Array]: ...

    def transition(self, readout: Readout, info: dict, action: jax.Array) -> dict: ...

    def zero_metrics(self) -> dict[str, jax.Array]: ...

    def episode_info(self, info: dict) -> dict[str, jax.Array]: ...


def trace_observation_spec(task: Task) -> dict[str, jax.ShapeDtypeStruct]:
    """{name: shape/dtype} of ``task.observe`` in its entry order (``jax.eval_shape``: traced,
    not run; JAX returns dicts with sorted keys, so the order is taken from the trace)."""
    order: list[str] = []

    def observe(readout: Readout, info: dict) -> dict:
        obs = task.observe(readout, info)
        order.extend(obs)
        return obs

    info = jax.eval_shape(task.reset, jax.ShapeDtypeStruct((2,), jnp.uint32))[2]
    shapes = jax.eval_shape(observe, readout_spec(), info)
    return {name: shapes[name] for name in order}


def flatten_observation(obs: dict[str, Any], spec: dict[str, Any]) -> Any:
    """Concatenate ``obs``'s entries in ``spec``'s order into [..., n] (leading batch axes kept;
    numpy in, numpy out; JAX in, JAX out). ``spec``: ``task.observation_spec``."""
    parts = []
    for name, leaf in spec.items():
        x = obs[name]
        batch = x.shape[: x.ndim - len(leaf.shape)]
        parts.append(x.reshape(*batch, -1))
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts, axis=-1)
    return jnp.concatenate(parts, axis=-1)


def observation_columns(spec: dict[str, Any], names: Any) -> tuple[int, ...]:
    """Columns of the entries ``names`` (in their order) in the observation
    :func:`flatten_observation` makes from ``spec`` (``task.observation_spec``), e.g.
    ``("command",)`` -> Walk's speed and turn columns. Raises ValueError for a name not in
    ``spec``, listing those that are."""
    spans, offset = {}, 0
    for key, leaf in spec.items():
        size = int(np.prod(leaf.shape, dtype=int))
        spans[key] = tuple(range(offset, offset + size))
        offset += size
    names = (names,) if isinstance(names, str) else tuple(names)
    unknown = [n for n in names if n not in spans]
    if unknown:
        raise ValueError(f"observation entries {unknown} not observed; valid: {sorted(spans)}")
    return tuple(i for n in names for i in spans[n])


def flat_size(spec: dict[str, Any]) -> int:
    """Number of entries of the flattened observation."""
    return int(sum(np.prod(leaf.shape, dtype=int) for leaf in spec.values()))


class FlyTask:
    """What every task on the fly body shares. Read-only after construction; methods are pure.

    A task subclasses it, sets ``REWARD_TERMS`` (its own terms, then :data:`EFFORT_TERMS`) and
    implements ``reset``, ``observe`` and ``transition`` from the pieces below.

    Args:
        model: a fly model from :func:`flyenvs.body.load` (its ``opt.timestep`` sets the physics
            step).
        config: the task's config (built from :func:`task_defaults`).
    """

    #: The task's reward terms, in summation order.
    REWARD_TERMS: tuple[str, ...] = ()
    #: Observations are finite and clipped to +- this bound (non-finite entries become 0).
    observation_bound: float = 1e6

    def __init__(self, model: mujoco.MjModel, config: ConfigDict) -> None:
        validate_base(config)
        check_scales(config, self.REWARD_TERMS)
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
        joint_range = action_modes.base.joint_range_rad(model)
        self._qpos_adr = jnp.asarray(lay.leg_qpos_adr)
        self._free_adr = int(lay.free_qpos_adr)
        self.nq, self.nv = int(model.nq), int(model.nv)
        # start slightly above the floor so joint noise cannot push a tarsus into it
        qpos0 = body.neutral_qpos(model)
        qpos0[lay.free_qpos_adr + 2] += config.init_drop_mm
        self._init_qpos = jnp.asarray(qpos0, jnp.float32)
        self._joint_low = jnp.asarray(joint_range[:, 0])
        self._joint_high = jnp.asarray(joint_range[:, 1])
        self.controller = action_modes.make_controller(model, config)
        self.action_size = int(self.controller.action_low.shape[0])

    def build_mjcf(self) -> mjcf.RootElement:
        """A fresh MJCF tree that compiles to this task's model, for engines that extend the
        model (the batched C engine adds native adhesion actuators): here the plain body of
        ``config.body_variant``; tasks that add to the body override it."""
        return body.build_mjcf(self.config.body_variant)

    @functools.cached_property
    def observation_spec(self) -> dict[str, jax.ShapeDtypeStruct]:
        """{entry: shape/dtype} of the observation dict, in order (traced once, not run)."""
        return trace_observation_spec(self)

    @property
    def observation_size(self) -> int:
        """Number of entries of the flattened observation (:func:`flatten_observation`)."""
        return flat_size(self.observation_spec)

    # ----------------------------------------------------------------------------- episode start
    def default_params(self) -> Any:
        """The controller parameters used when none are passed (a pytree; None for joints)."""
        return self.controller.default_params()

    def reset_body(self, rng: jax.Array, params: Any) -> tuple[jax.Array, jax.Array, dict, Any]:
        """(qpos [nq], qvel [nv], info, task_keys) at the start of an episode.

        The pose is the neutral pose with U(+- ``init_joint_noise_rad``) on every leg joint;
        ``info`` holds the shared state (``rng``, ``prev_xy_mm``, ``prev_heading_rad``,
        ``filtered_velocity``, ``prev_action``, ``step``, ``controller``); ``task_keys`` are two
        keys left for the task's own draws.
        """
        params = self.default_params() if params is None else params
        rng, k_joint, k_task1, k_task2, k_ctrl = jax.random.split(rng, 5)
        noise = self.config.init_joint_noise_rad
        joints = self._init_qpos[self._qpos_adr] + jax.random.uniform(
            k_joint, (constants.N_LEG_JOINTS,), minval=-noise, maxval=noise
        )
        joints = jnp.clip(joints, self._joint_low, self._joint_high)
        qpos = self._init_qpos.at[self._qpos_adr].set(joints)
        free = self._free_adr
        info = {
            "rng": rng,
            "prev_xy_mm": qpos[free : free + 2],
            "prev_heading_rad": heading_rad(qpos[free + 3 : free + 7]),
            "filtered_velocity": jnp.zeros(2, jnp.float32),
            "prev_action": jnp.zeros(self.action_size, jnp.float32),
            "step": jnp.zeros((), jnp.int32),
            "controller": self.controller.init(k_ctrl, params),
        }
        return qpos, jnp.zeros(self.nv, jnp.float32), info, (k_task1, k_task2)

    # ------------------------------------------------------------------------------ control step
    def controls(self, action: jax.Array, info: dict, params: Any = None):
        """(ctrl [K, 42] rad, adhesion [K, 6] in [0, 1], info) for one control period."""
        params = self.default_params() if params is None else params
        action = jnp.asarray(action, jnp.float32)
        ctrl, adhesion, ctrl_state = self.controller.schedule(action, info["controller"], params)
        return ctrl, adhesion, {**info, "controller": ctrl_state}

    def proprioception(self, readout: Readout, info: dict, command: Any = None) -> dict:
        """Named proprioceptive entries (float32, NaN-free, clipped to +- ``observation_bound``):

        =====================  =====  ====================================================
        entry                  shape  meaning (units)
        =====================  =====  ====================================================
        joint_pos_rad          42     leg joint angles (rad), order ``constants.LEG_JOINTS``
        joint_vel_rad_s        42     leg joint velocities (rad/s)
        body_linvel_mm_s       3      thorax linear velocity, body frame (mm/s; x forward)
        body_angvel_rad_s      3      thorax angular velocity, body frame (rad/s; z up)
        gravity_body           3      unit gravity direction, body frame (upright: 0, 0, -1)
        tarsus_contact         6      1 where the tarsus force exceeds ``contact_force_threshold``
        tarsus_force_log       6      log(1 + tarsus normal force) (model force units)
        command                2      (only if ``command`` is given) the task's command
        walking_velocity       2      forward speed (mm/s), yaw rate (rad/s), filtered
                                      (:meth:`walking_velocity`)
        prev_action            A      the previous action
        controller             F      the action mode's features (absent if F = 0)
        =====================  =====  ====================================================
        """
        force = jnp.asarray(readout.tarsus_force, jnp.float32)
        parts = {
            "joint_pos_rad": readout.joint_pos_rad,
            "joint_vel_rad_s": readout.joint_vel_rad_s,
            "body_linvel_mm_s": readout.body_linvel_mm_s,
            "body_angvel_rad_s": readout.body_angvel_rad_s,
            "gravity_body": readout.gravity_body,
            "tarsus_contact": (force > self.config.contact_force_threshold).astype(jnp.float32),
            "tarsus_force_log": jnp.log1p(jnp.maximum(force, 0.0)),
        }
        if command is not None:
            parts["command"] = command
        parts["walking_velocity"] = info["filtered_velocity"]
        parts["prev_action"] = info["prev_action"]
        if self.controller.n_features:
            parts["controller"] = self.controller.features(info["controller"])
        bound = self.observation_bound
        return {
            name: jnp.clip(
                jnp.nan_to_num(jnp.asarray(x, jnp.float32), nan=0.0, posinf=bound, neginf=-bound),
                -bound,
                bound,
            )
            for name, x in parts.items()
        }

    def walking_velocity(self, readout: Readout, info: dict) -> jax.Array:
        """[2] (forward speed mm/s, yaw rate rad/s) over the last control step, low-pass
        filtered with time constant ``velocity_filter_s`` (about one stride).

        Forward speed is the thorax displacement along its previous heading / ``control_dt_s``
        (averaging over the step removes most of the within-stride oscillation); yaw rate is
        the heading change / ``control_dt_s``.
        """
        xy = jnp.asarray(readout.body_pos_mm, jnp.float32)[:2]
        heading = heading_rad(jnp.asarray(readout.body_quat, jnp.float32))
        prev = info["prev_heading_rad"]
        forward = jnp.stack([jnp.cos(prev), jnp.sin(prev)])
        dt = self.config.control_dt_s
        speed = jnp.dot(xy - info["prev_xy_mm"], forward) / dt
        current = jnp.stack([speed, wrap_angle(heading - prev) / dt])
        alpha = 1.0 - np.exp(-dt / max(self.config.velocity_filter_s, 1e-9))
        return info["filtered_velocity"] + alpha * (current - info["filtered_velocity"])

    def termination(self, readout: Readout) -> tuple[jax.Array, jax.Array]:
        """(terminated [] bool, finite [] bool): tilt beyond ``termination.max_tilt_rad``, a
        non-leg body geom on the ground (``termination.body_contact``), or diverged physics
        (:func:`diverged`; ``finite`` is False then and :meth:`weigh` zeroes the reward)."""
        finite = ~diverged(readout)
        gravity = jnp.asarray(readout.gravity_body, jnp.float32)
        tilt = jnp.arccos(jnp.clip(-gravity[2], -1.0, 1.0))
        terminated = (~finite) | (tilt > self.config.termination.max_tilt_rad)
        if self.config.termination.body_contact:
            terminated = terminated | (jnp.asarray(readout.body_contact) > 0.5)
        return terminated, finite

    def effort_terms(self, readout: Readout, info: dict, action: jax.Array) -> dict:
        """Unweighted effort terms: ``energy`` in (-1, 0] = -tanh(mean joint speed^2 /
        ``energy_scale_rad_s``^2) (a joint-power proxy) and ``action_rate`` in [-1, 0] =
        -mean((a - a_prev)^2) / 4 (actions in [-1, 1])."""
        joint_vel = jnp.asarray(readout.joint_vel_rad_s, jnp.float32)
        scale = self.config.reward.energy_scale_rad_s
        return {
            "energy": rewards.squashed_penalty(jnp.mean(joint_vel**2), scale**2),
            "action_rate": -jnp.mean((action - info["prev_action"]) ** 2) / 4.0,
        }

    def weigh(self, raw: dict, finite: jax.Array) -> dict:
        """{term: scale x raw term} in ``REWARD_TERMS`` order (0 when the physics is not
        finite)."""
        r = self.config.reward
        return {k: jnp.where(finite, r[k] * raw[k], 0.0) for k in self.REWARD_TERMS}

    def locomotion_metrics(self, readout: Readout, velocity: jax.Array) -> dict:
        """Logged, not rewarded: filtered forward speed and turn rate, thorax x, y (mm)."""
        pos = jnp.nan_to_num(jnp.asarray(readout.body_pos_mm, jnp.float32))
        return {
            "forward_speed_mm_s": jnp.nan_to_num(velocity[0]),
            "turn_rate_rad_s": jnp.nan_to_num(velocity[1]),
            "x_mm": pos[0],
            "y_mm": pos[1],
        }

    def advance(self, readout: Readout, info: dict, action: jax.Array, velocity: jax.Array):
        """``info`` after a control step: filtered velocity, RNG, previous action, step count,
        previous position and heading updated."""
        rng, _ = jax.random.split(info["rng"])
        return {
            **info,
            "filtered_velocity": jnp.nan_to_num(velocity),
            "rng": rng,
            "prev_action": action,
            "step": info["step"] + 1,
            "prev_xy_mm": jnp.nan_to_num(jnp.asarray(readout.body_pos_mm, jnp.float32)[:2]),
            "prev_heading_rad": jnp.nan_to_num(
                heading_rad(jnp.asarray(readout.body_quat, jnp.float32))
            ),
        }

    def truncated(self, info: dict) -> jax.Array:
        """[] bool: ``episode_length`` control steps done (``info`` after the step)."""
        return info["step"] >= self.config.episode_length

    def episode_info(self, info: dict) -> dict[str, jax.Array]:
        """Task quantities a front end reports in its ``info`` (none by default)."""
        return {}

    def metric_names(self) -> tuple[str, ...]:
        """Names of :meth:`transition`'s metrics (rewards, locomotion, then task's own)."""
        names = tuple(f"reward/{k}" for k in self.REWARD_TERMS)
        return names + ("forward_speed_mm_s", "turn_rate_rad_s", "x_mm", "y_mm")

    def zero_metrics(self) -> dict[str, jax.Array]:
        """Metrics of zeros with the same keys as :meth:`transition` (for reset states)."""
        return {name: jnp.zeros((), jnp.float32) for name in self.metric_names()}
