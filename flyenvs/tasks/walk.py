"""Walk: follow a commanded forward speed and turn rate. One JAX definition for both backends.

Built from the shared pieces of :class:`flyenvs.tasks.base.FlyTask` (timing, action modes,
proprioception, termination, effort terms).

Command: target forward speed (mm/s) and turn rate (rad/s, positive = counter-clockwise seen from
above, i.e. left), sampled uniformly per episode in ``command.speed_mm_s`` x
``command.turn_rad_s``, or fixed (``command.fixed=True``, values ``command.fixed_*``).

Observation: the dict of :meth:`FlyTask.proprioception` with ``command`` [2] (speed mm/s, turn
rate rad/s); for the default ``cpg`` mode 11 entries, 135 numbers (docs/walk.md).

Reward = sum of ``reward.<term>`` scale x term; each weighted term is logged as
``metrics["reward/<term>"]``:

- ``speed`` in (0, 1]: tolerance of the filtered forward speed (``walking_velocity``) to the
  command (+- ``speed_tolerance_mm_s``, 0.1 at a further ``speed_margin_mm_s``);
- ``turn`` in (0, 1]: tolerance of the filtered yaw rate to the command
  (``turn_tolerance_rad_s``, ``turn_margin_rad_s``);
- ``upright`` in [0, 1]: (1 - g_z) / 2;
- ``energy`` in (-1, 0] and ``action_rate`` in [-1, 0]: the effort terms of every task
  (:meth:`FlyTask.effort_terms`).

So the reward lies in [-(energy + action_rate), speed + turn + upright] (scales >= 0).
Termination: :meth:`FlyTask.termination`. Truncation: ``episode_length`` control steps.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from ml_collections import ConfigDict

from flyenvs.sim.base import Readout
from flyenvs.tasks import base, rewards
from flyenvs.tasks import config as config_lib

#: Walk's own option groups (beside the shared ones of :func:`flyenvs.tasks.base.task_defaults`).
_TASK_GROUPS: dict[str, Any] = {
    "command": {
        "fixed": False,
        "speed_mm_s": (3.0, 9.0),  # what the train body's cpg gait reaches (docs/walk.md)
        "turn_rad_s": (-1.5, 1.5),
        "fixed_speed_mm_s": 7.0,
        "fixed_turn_rad_s": 0.0,
    },
}
#: Walk's reward terms' scales and shapes (the effort terms are added by ``task_defaults``).
_REWARD: dict[str, float] = {
    "speed": 1.0,
    "turn": 0.5,
    "upright": 0.2,
    "speed_tolerance_mm_s": 0.5,
    "speed_margin_mm_s": 4.0,
    "turn_tolerance_rad_s": 0.5,
    "turn_margin_rad_s": 2.0,
}

REWARD_TERMS: tuple[str, ...] = ("speed", "turn", "upright", *base.EFFORT_TERMS)


def default_config(**overrides: Any) -> ConfigDict:
    """A fresh locked Walk config, with ``overrides`` (dotted keys) applied and validated."""
    cfg = config_lib.build_config(base.task_defaults(_TASK_GROUPS, _REWARD), overrides)
    validate(cfg)
    return cfg


def validate(cfg: ConfigDict) -> None:
    """Raise ValueError on option values out of their domain."""
    base.validate_base(cfg)
    for name in ("speed_mm_s", "turn_rad_s"):
        base.check_range(cfg, f"command.{name}")
    base.check_scales(cfg, REWARD_TERMS)


class WalkTask(base.FlyTask):
    """The Walk task for one fly model. Read-only after construction; all methods are pure.

    Args:
        model: a fly model from :func:`flyenvs.body.load`.
        config: a config from :func:`default_config`.
    """

    REWARD_TERMS = REWARD_TERMS

    def __init__(self, model: Any, config: ConfigDict) -> None:
        validate(config)
        super().__init__(model, config)

    def reset(self, rng: jax.Array, params: Any = None) -> tuple[jax.Array, jax.Array, dict]:
        """(qpos [nq], qvel [nv], info) at the start of an episode drawn from ``rng``."""
        qpos, qvel, info, (k_speed, k_turn) = self.reset_body(rng, params)
        cmd = self.config.command
        if cmd.fixed:
            command = jnp.array([cmd.fixed_speed_mm_s, cmd.fixed_turn_rad_s], jnp.float32)
        else:
            (lo_v, hi_v), (lo_w, hi_w) = cmd.speed_mm_s, cmd.turn_rad_s
            speed = jax.random.uniform(k_speed, (), minval=lo_v, maxval=hi_v)
            turn = jax.random.uniform(k_turn, (), minval=lo_w, maxval=hi_w)
            command = jnp.stack([speed, turn]).astype(jnp.float32)
        return qpos, qvel, {**info, "command": command}

    def observe(self, readout: Readout, info: dict) -> dict[str, jax.Array]:
        """Observation dict (:meth:`FlyTask.proprioception` with ``command``)."""
        return self.proprioception(readout, info, command=info["command"])

    def transition(self, readout: Readout, info: dict, action: jax.Array) -> dict:
        """Everything after the physics of one control step.

        Returns a dict: ``obs`` (dict), ``reward`` [], ``terminated`` [] bool, ``truncated`` []
        bool (episode_length reached), ``metrics`` {name: []}, ``info``.
        """
        action = jnp.clip(jnp.asarray(action, jnp.float32), -1.0, 1.0)
        r = self.config.reward
        velocity = self.walking_velocity(readout, info)
        terminated, finite = self.termination(readout)
        cmd_speed, cmd_turn = info["command"][0], info["command"][1]
        raw = {
            "speed": rewards.tolerance(
                velocity[0],
                cmd_speed - r.speed_tolerance_mm_s,
                cmd_speed + r.speed_tolerance_mm_s,
                r.speed_margin_mm_s,
            ),
            "turn": rewards.tolerance(
                velocity[1],
                cmd_turn - r.turn_tolerance_rad_s,
                cmd_turn + r.turn_tolerance_rad_s,
                r.turn_margin_rad_s,
            ),
            "upright": rewards.upright(jnp.asarray(readout.gravity_body, jnp.float32)),
            **self.effort_terms(readout, info, action),
        }
        terms = self.weigh(raw, finite)
        metrics = {f"reward/{k}": v for k, v in terms.items()}
        metrics.update(self.locomotion_metrics(readout, velocity))
        metrics.update(command_speed_mm_s=cmd_speed, command_turn_rad_s=cmd_turn)
        info = self.advance(readout, info, action, velocity)
        return {
            "obs": self.observe(readout, info),
            "reward": sum(terms.values()),
            "terminated": terminated,
            "truncated": self.truncated(info),
            "metrics": metrics,
            "info": info,
        }

    def episode_info(self, info: dict) -> dict[str, jax.Array]:
        """``command`` [2]: the episode's commanded speed (mm/s) and turn rate (rad/s)."""
        return {"command": info["command"]}

    def metric_names(self) -> tuple[str, ...]:
        return super().metric_names() + ("command_speed_mm_s", "command_turn_rad_s")
