"""How well can the connectome VNC follow Walk's turn command at all? Hand-written readouts.

Issue 12 asks a trained connectome Walk policy for a mean |turn - command| <= 0.5 rad/s. This
script measures what bounds that figure, on the batched C engine with Walk's commands drawn
from its training range (3-9 mm/s, +-1.5 rad/s), ``--envs`` episodes of ``--steps`` control
steps:

* the turn-rate wander of each gait at a zero command (the zero action of the ``"cpg"`` and
  ``"vnc"`` action modes; mostly the stride's yaw oscillation): the mean |turn rate| and its
  within-episode std;
* hand-written readouts of the untrained connectome policy (``agents.connectome_walk``, the
  VNC at its connectome-derived parameters): the DNg100 drive ``center + gain * tanh(b)`` with
  ``b_left = -k * turn_cmd + kf * turn``, ``b_right = +k * turn_cmd - kf * turn`` (``turn``:
  the observed filtered turn rate, rad/s; more drive on the left legs turns the fly right).
  ``k = kf = 0`` is the untrained network;
* with ``--checkpoint RUN ...``, trained connectome Walk runs (their newest valid checkpoints,
  or ``step_*`` checkpoint directories: ``agents.walk_envelope.load_run``; the deterministic
  policy, each run's own Walk config with ``--steps`` and ``--set`` applied): the same figures
  on the same batched episodes, many more than a Gymnasium evaluation affords.

For each it prints the per-step mean |speed - command| and |turn - command| (issue 12's
figures), the episode-mean turn error (|the episode's mean turn rate - command|), the wander
(the within-episode std of the turn rate: mostly the stride's yaw oscillation) and the
episode's reward with its turn and speed terms: what steering is worth to PPO under the task's
reward. ``--set KEY=VALUE`` overrides Walk's config as in ``scripts/train.py`` (e.g.
``velocity_filter_s=0.3``, ``reward.turn_margin_rad_s=0.5``).

    python scripts/turn_floor.py --out outputs/turn_floor.json
    python scripts/turn_floor.py --readouts 0,0 2,0 4,0 2,1 --drive-gain 25
    python scripts/turn_floor.py --skip-gaits --steps 50 --envs 64 --readouts 0,0 1,0 2,0 \\
        --set velocity_filter_s=0.3 --set reward.turn_margin_rad_s=0.5
    python scripts/turn_floor.py --skip-gaits --readouts 0,0 1,0 --steps 250 --envs 32 \\
        --checkpoint runs/walk_cmd_frozen
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def _figures(
    turn: np.ndarray, cmd: np.ndarray, speed: np.ndarray, cmd_speed: np.ndarray
) -> dict[str, float]:
    """turn, cmd [steps, envs] (rad/s), speed, cmd_speed [steps, envs] (mm/s) -> the three turn
    figures and the speed figures (issue 12's mean |speed - command|, per control step)."""
    return {
        "mean_forward_speed_mm_s": float(np.mean(speed)),
        "mean_abs_speed_error_mm_s": float(np.mean(np.abs(speed - cmd_speed))),
        "mean_abs_turn_error_rad_s": float(np.mean(np.abs(turn - cmd))),
        "mean_abs_episode_turn_error_rad_s": float(np.mean(np.abs(turn.mean(0) - cmd.mean(0)))),
        "turn_wander_rad_s": float(np.mean(np.std(turn, axis=0))),
    }


def _reward_terms(reward: np.ndarray, turn: np.ndarray, speed: np.ndarray) -> dict:
    """Per-step reward and its turn and speed terms [steps, envs] -> their mean episode sums."""
    return {
        "episode_reward": float(reward.sum(0).mean()),
        "episode_reward_turn": float(turn.sum(0).mean()),
        "episode_reward_speed": float(speed.sum(0).mean()),
    }


def _line(name: str, f: dict[str, float]) -> str:
    return (
        f"{name:<28} |speed - cmd| {f['mean_abs_speed_error_mm_s']:.2f} mm/s; "
        f"|turn - cmd| {f['mean_abs_turn_error_rad_s']:.3f}, episode mean "
        f"{f['mean_abs_episode_turn_error_rad_s']:.3f}, wander {f['turn_wander_rad_s']:.3f} rad/s;"
        f" reward {f['episode_reward']:.2f} (turn {f['episode_reward_turn']:.2f}, speed "
        f"{f['episode_reward_speed']:.2f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--readouts", nargs="+", default=["0,0", "1,0", "2,0", "4,0", "2,0.5", "2,2"],
        help="k,kf pairs: command gain and turn-rate feedback gain (b per rad/s)",
    )  # fmt: skip
    parser.add_argument("--drive-gain", type=float, default=25.0, help="DN drive half range")
    parser.add_argument("--envs", type=int, default=16, help="episodes per setting")
    parser.add_argument("--steps", type=int, default=250, help="control steps (20 ms)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--set", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
        help="Walk config override, as scripts/train.py's",
    )  # fmt: skip
    parser.add_argument("--skip-gaits", action="store_true", help="only the readouts")
    parser.add_argument(
        "--checkpoint",
        nargs="+",
        default=[],
        type=Path,
        help="trained connectome Walk runs or step_* checkpoints",
    )
    parser.add_argument("--out", type=Path, help="JSON output")
    args = parser.parse_args(argv)
    from train import _parse_set  # scripts/train.py's --set: values parsed as Python literals

    overrides = _parse_set(args.set)
    try:
        readouts = [tuple(float(x) for x in r.split(",")) for r in args.readouts]
    except ValueError:
        readouts = []
    if not readouts or any(len(r) != 2 for r in readouts):
        parser.error(f"--readouts takes k,kf pairs such as 2,0.5; got {args.readouts}")
    if args.envs < 1 or args.steps < 2:
        parser.error("need --envs >= 1 and --steps >= 2")

    import jax
    import jax.numpy as jnp

    import flyenvs.brax
    from agents import ppo
    from agents.recurrent_ppo import driver
    from agents.recurrent_ppo.rollout import policy_step
    from agents.recurrent_ppo.train import init_training_state
    from flyenvs.tasks.base import observation_columns

    t0, record = time.monotonic(), {"args": {k: str(v) for k, v in vars(args).items()}}
    keys = jax.random.split(jax.random.PRNGKey(args.seed), args.envs)

    def turn_and_command(env, step_fn, carry0):
        """Roll ``step_fn(state, carry) -> (state, carry)`` -> turn, cmd [steps - 1, envs] (the
        last step is left out: the training wrapper resets the episode there)."""
        wrapped = flyenvs.brax.wrap_for_training(env, episode_length=args.steps)
        i_cmd = observation_columns(env.task.observation_spec, ["command"])[1]  # the turn

        @jax.jit
        def roll():
            def body(c, _):
                s, carry = step_fn(wrapped, *c)
                m = s.metrics
                out = (m["turn_rate_rad_s"], s.obs[:, i_cmd], s.reward)
                speeds = (m["forward_speed_mm_s"], m["command_speed_mm_s"])
                return (s, carry), (*out, m["reward/turn"], m["reward/speed"], *speeds)

            return jax.lax.scan(body, (wrapped.reset(keys), carry0), None, length=args.steps)[1]

        turn, cmd, *rewards, speed, cmd_speed = (x[:-1] for x in jax.device_get(roll()))
        return {**_figures(turn, cmd, speed, cmd_speed), **_reward_terms(*rewards)}

    def policy(net, params, normalizer):
        """A ``step_fn`` that runs ``net``'s deterministic policy."""

        def step(wrapped, s, carry):
            carry, a, _ = policy_step(net, params, normalizer, carry, s.obs, s.done > 0, None)
            return wrapped.step(s, a), carry

        return step

    gaits = {}
    for mode in () if args.skip_gaits else ("cpg", "vnc"):
        zero_turn = {"fixed": True, "fixed_turn_rad_s": 0.0}
        env = flyenvs.brax.make(
            "Walk", backend="mujoco", **{**overrides, "episode_length": args.steps,
                                         "action_mode": mode, "command": zero_turn},
        )  # fmt: skip
        zero = jnp.zeros((args.envs, env.action_size))
        gaits[mode] = turn_and_command(env, lambda w, s, c, z=zero: (w.step(s, z), c), 0)
        print(_line(f"{mode} gait, zero command", gaits[mode]), flush=True)
    record["zero_command"] = gaits

    cfg = ppo.resolve_preset("connectome_quick", env={"episode_length": args.steps})
    cfg["env"].update(overrides)
    cfg["connectome"]["drive_gain"] = args.drive_gain
    env = flyenvs.brax.make("Walk", backend="mujoco", **cfg["env"])
    net = driver.make_network(cfg, env.task, env.action_size)
    start = init_training_state(net, env.task.observation_size, 1e-3, 0.5)
    i_cmd = observation_columns(env.task.observation_spec, ["command"])[1]
    i_turn = observation_columns(env.task.observation_spec, ["walking_velocity"])[1]
    sides = jnp.array([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])  # DNg100 of LF LM LH RF RM RH

    rows = []
    for k, kf in readouts:
        w = jnp.zeros_like(start["network"]["readout"]["w"])
        w = w.at[i_cmd].set(-k * sides).at[i_turn].set(kf * sides)
        params = {**start["network"], "readout": {**start["network"]["readout"], "w": w}}
        step = policy(net, params, start["normalizer"])
        rows.append({"k": k, "kf": kf, **turn_and_command(env, step, net.initial_carry(args.envs))})
        print(_line(f"readout k={k:g} kf={kf:g}", rows[-1]), flush=True)
    trained = []
    for run in args.checkpoint:
        from agents import walk_envelope

        try:
            state, meta = walk_envelope.load_run(run)
        except ValueError as err:
            parser.error(str(err))
        run_cfg = meta["train"]
        env_cfg = {**run_cfg["env"], **overrides, "episode_length": args.steps}
        env = flyenvs.brax.make("Walk", backend="mujoco", **env_cfg)
        net = driver.make_network(run_cfg, env.task, env.action_size)
        step = policy(net, state["network"], state["normalizer"])
        figures = turn_and_command(env, step, net.initial_carry(args.envs))
        trained.append({"run": str(run), "step": meta.get("step"), **figures})
        print(_line(f"{run.name} @ {meta.get('step')}", figures), flush=True)
    record.update(
        trained=trained,
        readouts=rows,
        drive_gain=args.drive_gain,
        overrides=overrides,
        wall_s=time.monotonic() - t0,
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
