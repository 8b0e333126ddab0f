"""The connectome Walk policy's drive envelope, and a DN readout speed row set from it.

:func:`envelope` runs a connectome Walk policy (:mod:`agents.connectome_walk`; :func:`walker`)
on the batched C engine with its readout's observation weights at 0 and its bias moved by a
common offset ``forward`` (faster or slower stepping on every leg) plus ``+turn`` on the left
legs' DNs and ``-turn`` on the right ones: what the VNC does with each constant drive, with the
policy's own VNC parameters and ascending pathway (``VNCWalkPolicy.ascending_cell``), which feed
the legs' state back whatever the drive. :func:`fit_speed` fits the forward speed's line in the
offset, and :func:`speed_row` sets the readout's weights on the speed command so that the
command's offset is the one the line says walks at that speed: an inverse model of the envelope,
the starting point ``scripts/calibrate_speed.py`` writes for a fine-tuning run
(docs/connectome_walk.md, "A speed row from the envelope").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def dn_sides(dn_names: tuple[str, ...]) -> np.ndarray:
    """[n_dn]: +1 for a descending neuron of the left side (``<type>_L<leg>``), -1 for the right.
    Raises ValueError for a name without a side."""
    sides = []
    for name in dn_names:
        side = name.rpartition("_")[2][:1]
        if side not in ("L", "R"):
            raise ValueError(f"descending neuron {name!r} is not named <type>_<L|R><leg>")
        sides.append(1.0 if side == "L" else -1.0)
    return np.asarray(sides, np.float32)


def walker(
    env: Any, net: Any, normalizer: Any, *, envs: int = 4, warmup_steps: int = 25, seed: int = 0
) -> Any:
    """A compiled walk of ``net``'s mean policy (no noise) over ``envs`` episodes of ``env``'s
    length (a ``flyenvs.brax.make`` Walk env, joints mode) from ``seed``: ``walk(params)`` ->
    ``{"speed_mm_s", "turn_rad_s", "falls"}``, the forward speed and turn rate averaged over
    the steps after ``warmup_steps`` control steps and before a fall, and the episodes that
    fell."""
    import flyenvs.brax
    from agents.recurrent_ppo.rollout import policy_step

    steps = int(env.task.config.episode_length)
    if envs < 1 or not 0 <= warmup_steps < steps:
        raise ValueError(f"need envs >= 1 and 0 <= warmup_steps < {steps}, got {envs}, "
                         f"{warmup_steps}")  # fmt: skip
    wrapped = flyenvs.brax.wrap_for_training(env, episode_length=steps)

    @jax.jit
    def rollout(params):
        def body(c, _):
            s, carry, alive = c
            carry, a, _ = policy_step(net, params, normalizer, carry, s.obs, s.done > 0, None)
            s = wrapped.step(s, a)
            fell = (s.done > 0) & (s.info["truncation"] == 0)
            out = (s.metrics["forward_speed_mm_s"], s.metrics["turn_rate_rad_s"], alive)
            return (s, carry, alive * (1 - fell)), out

        s0 = wrapped.reset(jax.random.split(jax.random.PRNGKey(seed), envs))
        init = (s0, net.initial_carry(envs), jnp.ones(envs))
        (_, _, alive), out = jax.lax.scan(body, init, None, length=steps)
        return out, alive

    def walk(params: dict[str, Any]) -> dict[str, float]:
        (speed, turn, alive_t), alive = jax.device_get(rollout(params))
        w = alive_t[warmup_steps:]
        n = max(float(w.sum()), 1.0)
        return {
            "speed_mm_s": float((speed[warmup_steps:] * w).sum() / n),
            "turn_rad_s": float((turn[warmup_steps:] * w).sum() / n),
            "falls": int(envs - alive.sum()),
        }

    return walk


def envelope(
    env: Any,
    net: Any,
    params: dict[str, Any],
    normalizer: Any,
    settings: list[tuple[float, float]],
    keep_columns: tuple[int, ...] = (),
    walk: Any = None,
    **walk_options: Any,
) -> list[dict[str, float]]:
    """For each ``(forward, turn)`` of ``settings``: :func:`walker`'s figures (``walk``: one
    already compiled; else one built with ``walk_options``: its ``envs``, ``warmup_steps``,
    ``seed``) with the readout's bias ``b + forward + turn * side`` (side +1 left, -1 right)
    and its observation weights ``w`` 0 but on the rows ``keep_columns`` (e.g. the turn
    command's: the policy then steers as trained while the offset sets its pace), as one dict
    with ``forward`` and ``turn``."""
    walk = walk or walker(env, net, normalizer, **walk_options)
    sides = jnp.asarray(dn_sides(net.circuit.network.dn_names))
    readout = params["readout"]
    keep = np.zeros((readout["w"].shape[0], 1), np.float32)
    keep[list(keep_columns)] = 1.0
    rows = []
    for forward, turn in settings:
        r = {**readout, "w": readout["w"] * keep,
             "b": readout["b"] + forward + turn * sides}  # fmt: skip
        rows.append({"forward": float(forward), "turn": float(turn),
                     **walk({**params, "readout": r})})  # fmt: skip
    return rows


def fit_speed(rows: list[dict[str, float]]) -> tuple[float, float]:
    """``(speed_at_0_mm_s, mm_s_per_unit)``: the least-squares line of the forward speed (mm/s) in
    the common offset over ``rows`` of :func:`envelope` at zero turn. Raises ValueError with
    fewer than two offsets, a fall, or a line that does not rise (the drive then does not set
    the speed)."""
    rows = [r for r in rows if r["turn"] == 0.0]
    if len({r["forward"] for r in rows}) < 2:
        raise ValueError("fit_speed needs at least two forward offsets at zero turn")
    falls = [r["forward"] for r in rows if r["falls"]]
    if falls:
        raise ValueError(f"the fly fell at forward offsets {falls}; fit a narrower range")
    x = np.array([r["forward"] for r in rows])
    y = np.array([r["speed_mm_s"] for r in rows])
    slope, intercept = np.polyfit(x, y, 1)
    if slope <= 0:
        raise ValueError(f"speed does not rise with the drive (slope {slope:.3g} mm/s per unit)")
    return float(intercept), float(slope)


def speed_row(
    readout: dict[str, Any],
    speed_column: int,
    command_mean_mm_s: float,
    command_std_mm_s: float,
    fit: tuple[float, float],
) -> dict[str, Any]:
    """The readout with its speed row set from :func:`fit_speed`'s ``fit``: the normalised speed
    command ``x = (cmd - mean) / std`` (the run's observation normaliser) gives every DN the
    offset ``(cmd - speed_at_0) / slope``, i.e. weights ``std / slope`` on row ``speed_column``
    and the bias's mean moved to ``(mean - speed_at_0) / slope``; the bias's differences between
    DNs (a learned left-right trim), the other rows and the ascending weights are kept."""
    speed_at_0, slope = fit
    w = np.asarray(readout["w"], np.float32).copy()
    b = np.asarray(readout["b"], np.float32)
    w[speed_column, :] = command_std_mm_s / slope
    b = b - b.mean() + (command_mean_mm_s - speed_at_0) / slope
    return {**readout, "w": jnp.asarray(w), "b": jnp.asarray(b, jnp.float32)}


def load_run(source: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(training state, meta)`` of a connectome Walk run: a run directory (its newest valid
    checkpoint) or one ``step_*`` checkpoint directory. Raises ValueError for anything else: no
    such directory, no checkpoint in it, a damaged one (``CheckpointError``), or a run of
    another task or policy."""
    from agents import checkpoints
    from agents.recurrent_ppo import driver

    source = Path(source)
    if not source.is_dir():
        raise ValueError(f"{source}: not a run directory or a checkpoint")
    try:
        state, meta = checkpoints.load_run_or_checkpoint(source, driver.template)
    except FileNotFoundError as err:  # a run without checkpoints, a checkpoint missing files
        raise ValueError(str(err)) from err
    if (meta.get("task"), meta.get("policy")) != ("Walk", "connectome"):
        raise ValueError(
            f"{source}: not a connectome Walk run ({meta.get('task')}, {meta.get('policy')})"
        )
    return state, meta
