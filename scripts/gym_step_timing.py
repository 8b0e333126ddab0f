"""The Gymnasium part of ``scripts/bench_vision.py``: what vision adds to one ``env.step``.

``flyenvs/Walk-v1`` and ``flyenvs/VisualTaxis-v1`` are made in one process with the same action
mode and stepped with the same zero action, one step of each in turn (so a change in machine
load hits both alike); an episode that ends is reset outside the timed region. Times are CPU
time of the process (``time.process_time``: every thread, XLA's included) and wall time
(``time.perf_counter``), in ms per step. A sample is the mean over ``steps`` steps; figures
are medians over the samples, and the vision overhead is the median of the per-sample
differences (VisualTaxis - Walk).

With ``profile``, a third environment steps in the same turns: VisualTaxis whose eyes see a
constant (:func:`make_no_caster_env`), which splits the overhead into the ray casting and the
rest. :func:`profile_pieces` splits one step into the pieces of
:meth:`flyenvs.tasks.driver.NumpyStepper.step` (jitted controls, C MuJoCo physics, readout,
jitted transition, which holds the observation and so the eyes, and the copy of its outputs to
the host), each timed on a fixed state of each environment, round robin (the physics from the
same state and controls for both), and :func:`compile_times` the CPU time that compiling the
jitted task functions takes (start-up).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

import flyenvs  # noqa: F401  (registers the Gymnasium ids)
from flyenvs.vision import N_OMMATIDIA

#: Role -> Gymnasium id of the two environments compared.
ENV_IDS: dict[str, str] = {"walk": "flyenvs/Walk-v1", "visual": "flyenvs/VisualTaxis-v1"}
#: The issue's goal: vision adds at most this much CPU time to a Gymnasium step (ms).
GOAL_OVERHEAD_MS: float = 1.6


def make_envs(action_mode: str) -> tuple[dict[str, Any], dict[str, float]]:
    """Both environments, reset and stepped once (``reset(seed=0)``), and their start-up CPU
    time in s (``gym.make`` + first ``reset`` + first ``step``: model building and the jit
    compilations), keyed ``startup_<role>_cpu_s``. A throw-away Walk is made first, so that
    one-time costs of the process (imports, JAX's first compilation) count for neither."""
    warm_up = gym.make(ENV_IDS["walk"], action_mode=action_mode)
    warm_up.reset(seed=0)
    warm_up.close()
    envs, startup = {}, {}
    for role, env_id in ENV_IDS.items():
        t0 = time.process_time()
        env = gym.make(env_id, action_mode=action_mode)
        env.reset(seed=0)
        env.step(np.zeros(env.action_space.shape, np.float32))
        startup[f"startup_{role}_cpu_s"] = time.process_time() - t0
        envs[role] = env
    return envs, startup


def make_no_caster_env(action_mode: str) -> Any:
    """VisualTaxis-v1 whose eyes see a constant (``task.vision`` returns zeros [2, 721], set
    before the first trace): everything of the visual step but the ray casting, to split the
    vision overhead into the caster and the rest (the arena's reward, the [2, 721] output)."""
    env = gym.make(ENV_IDS["visual"], action_mode=action_mode)
    env.unwrapped.task.vision = lambda readout, info: jnp.zeros((2, N_OMMATIDIA), jnp.float32)
    env.reset(seed=0)
    env.step(np.zeros(env.action_space.shape, np.float32))
    return env


def time_steps(envs: dict[str, Any], steps: int, repeats: int) -> dict[str, list[float]]:
    """Per-step CPU and wall time (ms) of ``env.step(zero action)``, the environments taking
    turns step by step; each sample starts with ``reset(seed=<sample index>)``. Returns
    ``<role>_cpu_ms`` / ``<role>_wall_ms``: one sample (mean over ``steps`` steps) per repeat."""
    zero = {role: np.zeros(env.action_space.shape, np.float32) for role, env in envs.items()}
    samples: dict[str, list[float]] = {}
    for repeat in range(repeats):
        for env in envs.values():  # a new start per sample: physics cost varies with the gait
            env.reset(seed=repeat)
        cpu = dict.fromkeys(envs, 0.0)
        wall = dict.fromkeys(envs, 0.0)
        for _ in range(steps):
            for role, env in envs.items():
                c0, w0 = time.process_time(), time.perf_counter()
                _, _, terminated, truncated, _ = env.step(zero[role])
                cpu[role] += time.process_time() - c0
                wall[role] += time.perf_counter() - w0
                if terminated or truncated:
                    env.reset()
        for role in envs:
            samples.setdefault(f"{role}_cpu_ms", []).append(cpu[role] / steps * 1e3)
            samples.setdefault(f"{role}_wall_ms", []).append(wall[role] / steps * 1e3)
    return samples


def summarize_steps(samples: dict[str, list[float]]) -> dict[str, float]:
    """Medians of :func:`time_steps`' samples and of the per-sample vision overhead."""
    out = {f"gym_{key}": float(np.median(values)) for key, values in samples.items()}
    for clock in ("cpu", "wall"):
        diff = np.subtract(samples[f"visual_{clock}_ms"], samples[f"walk_{clock}_ms"])
        out[f"gym_vision_overhead_{clock}_ms"] = float(np.median(diff))
        if f"no_caster_{clock}_ms" in samples:
            no_caster = samples[f"no_caster_{clock}_ms"]
            diff = np.subtract(samples[f"visual_{clock}_ms"], no_caster)
            out[f"gym_caster_in_step_{clock}_ms"] = float(np.median(diff))
            diff = np.subtract(no_caster, samples[f"walk_{clock}_ms"])
            out[f"gym_vision_rest_{clock}_ms"] = float(np.median(diff))
    return out


def _pieces(env: Any, reference: Any) -> dict[str, tuple[Callable[..., Any], Callable[[], tuple]]]:
    """Each piece of one control step on ``env``'s current state, as (timed function, untimed
    set-up returning its arguments). The physics runs from ``reference``'s state and controls
    (the same pose and contacts for every environment)."""
    fly, ref = env.unwrapped, reference.unwrapped
    stepper, backend, info = fly._stepper, fly.backend, fly._info
    params, n_substeps = fly.controller_params, fly.task.n_substeps
    action = np.zeros(fly.action_space.shape, np.float32)
    ctrl, adhesion, _ = ref._stepper.controls_fn(action, ref._info, ref.controller_params)
    ctrl, adhesion = jax.device_get((ctrl, adhesion))
    readout = backend.readout(fly._physics)
    out = stepper.transition_fn(readout, info, action)
    start = backend.init(ref._physics.qpos, ref._physics.qvel)
    start.ctrl[:] = ref._physics.ctrl

    def physics(state: Any) -> None:
        for k in range(ctrl.shape[0]):
            state = backend.step(state, ctrl[k], adhesion[k], n_substeps)

    def controls() -> Any:
        return jax.device_get(stepper.controls_fn(action, info, params)[:2])

    no_args = tuple
    pieces = {
        "controls": (controls, no_args),
        "physics": (physics, lambda: (backend.copy_state(start),)),
        "readout": (lambda: backend.readout(start), no_args),
        "transition": (
            lambda: jax.block_until_ready(stepper.transition_fn(readout, info, action)),
            no_args,
        ),
        "outputs_to_host": (
            lambda: jax.device_get({k: v for k, v in out.items() if k != "info"}),
            no_args,
        ),
    }
    if hasattr(fly.task, "vision"):
        vision = jax.jit(fly.task.vision)
        pieces["vision_alone"] = (lambda: vision(readout, info).block_until_ready(), no_args)
    return pieces


def profile_pieces(envs: dict[str, Any], iters: int, repeats: int) -> dict[str, float]:
    """Median CPU time (ms) of each piece of a step, ``profile_<role>_<piece>_ms``; a sample
    is the mean of ``iters`` calls (``iters // 10`` for the physics). ``vision_alone`` is
    ``jit(task.vision)``, a part of ``transition``; ``pieces_total`` adds up the others."""
    pieces = {
        (role, name): piece
        for role, env in envs.items()
        for name, piece in _pieces(env, envs["walk"]).items()
    }
    for fn, setup in pieces.values():
        fn(*setup())
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in pieces}
    for _ in range(repeats):
        for (role, name), (fn, setup) in pieces.items():
            n = max(1, iters // 10) if name == "physics" else iters
            total = 0.0
            for _ in range(n):
                args = setup()
                c0 = time.process_time()
                fn(*args)
                total += time.process_time() - c0
            samples[(role, name)].append(total / n * 1e3)
    out = {f"profile_{r}_{n}_ms": float(np.median(v)) for (r, n), v in samples.items()}
    for role in envs:
        parts = ("controls", "physics", "readout", "transition", "outputs_to_host")
        out[f"profile_{role}_pieces_total_ms"] = sum(out[f"profile_{role}_{p}_ms"] for p in parts)
    return out


def compile_times(envs: dict[str, Any]) -> dict[str, float]:
    """CPU time (s) of compiling each environment's ``task.observe`` (used at reset) and
    ``task.transition`` (every step) anew, ``compile_<role>_<function>_s``."""
    out = {}
    for role in ENV_IDS:
        fly = envs[role].unwrapped
        readout = fly.backend.readout(fly._physics)
        action = np.zeros(fly.action_space.shape, np.float32)
        for name, args in (
            ("observe", (readout, fly._info)),
            ("transition", (readout, fly._info, action)),
        ):
            fn = getattr(fly.task, name)
            c0 = time.process_time()
            jax.jit(lambda *a, fn=fn: fn(*a)).lower(*args).compile()  # a new trace
            out[f"compile_{role}_{name}_s"] = time.process_time() - c0
    return out


def run(action_mode: str, steps: int, repeats: int, profile: bool, iters: int) -> dict:
    """The whole Gymnasium part: start-up, side-by-side steps and (``profile``) the pieces.
    Returns ``gym_*``, ``startup_*`` and ``profile_*`` results (ms; start-up in s)."""
    envs, results = make_envs(action_mode)
    results["startup_vision_overhead_cpu_s"] = (
        results["startup_visual_cpu_s"] - results["startup_walk_cpu_s"]
    )
    if profile:
        envs["no_caster"] = make_no_caster_env(action_mode)
    results.update(summarize_steps(time_steps(envs, steps, repeats)))
    results["gym_action_mode"] = action_mode
    results["gym_steps_per_sample"] = steps
    results["gym_vision_overhead_goal_cpu_ms"] = GOAL_OVERHEAD_MS
    if profile:
        results.update(profile_pieces(envs, iters, repeats))
        results.update(compile_times(envs))
    for env in envs.values():
        env.close()
    return results


def report_lines(results: dict) -> list[str]:
    """Tables of :func:`run`'s results, with the caster alone (``jax_b1``) beside them."""
    r = results
    lines = [
        f"Gymnasium step, action mode {r['gym_action_mode']}, zero action, ms per step"
        f" (median of samples of {r['gym_steps_per_sample']} steps)",
        f"{'':44s} {'CPU ms':>10s} {'wall ms':>10s}",
    ]
    rows = [
        ("Walk-v1 step", "gym_walk_cpu_ms", "gym_walk_wall_ms"),
        ("VisualTaxis-v1 step", "gym_visual_cpu_ms", "gym_visual_wall_ms"),
        (
            "vision overhead (VisualTaxis - Walk)",
            "gym_vision_overhead_cpu_ms",
            "gym_vision_overhead_wall_ms",
        ),
        ("caster alone (jit render_eyes, two eyes)", "jax_b1_cpu_ms", "jax_b1_ms"),
    ]
    for label, cpu, wall in rows:
        lines.append(f"{label:44s} {r[cpu]:10.3f} {r[wall]:10.3f}")
    ok = r["gym_vision_overhead_cpu_ms"] <= r["gym_vision_overhead_goal_cpu_ms"]
    lines.append(
        f"{'goal: overhead <= 1.6 ms CPU':44s} {'met' if ok else 'NOT MET':>10s}"
        f"  (overhead / caster alone = {r['gym_vision_overhead_cpu_ms'] / r['jax_b1_cpu_ms']:.2g})"
    )
    lines.append(
        f"{'start-up CPU s (make, reset, first step)':44s} Walk {r['startup_walk_cpu_s']:.2f},"
        f" VisualTaxis {r['startup_visual_cpu_s']:.2f}"
    )
    if "profile_visual_pieces_total_ms" in r:
        head = f"{'Walk':>10s} {'Visual':>10s} {'diff':>10s}"
        lines.append(f"{'piece of a step (CPU ms)':44s} {head}")
        for name, walk, visual in profile_rows(r):
            lines.append(f"{name:44s} {walk:10.3f} {visual:10.3f} {visual - walk:10.3f}")
        lines.append(
            f"{'step, eyes seeing a constant (no casting)':44s} {r['gym_no_caster_cpu_ms']:10.3f}"
            f"  overhead = caster {r['gym_caster_in_step_cpu_ms']:.3f}"
            f" + rest {r['gym_vision_rest_cpu_ms']:.3f} ms CPU"
        )
        for name in ("observe", "transition"):
            walk, visual = r[f"compile_walk_{name}_s"], r[f"compile_visual_{name}_s"]
            label = f"compile {name} (CPU s)"
            lines.append(f"{label:44s} {walk:10.2f} {visual:10.2f} {visual - walk:10.2f}")
    return lines


def profile_rows(results: dict[str, float]) -> list[tuple[str, float, float]]:
    """(piece, Walk ms, VisualTaxis ms) rows of :func:`profile_pieces`' results."""
    names = ("controls", "physics", "readout", "transition", "vision_alone")
    names += ("outputs_to_host", "pieces_total")
    return [
        (
            name,
            results.get(f"profile_walk_{name}_ms", 0.0),
            results[f"profile_visual_{name}_ms"],
        )
        for name in names
    ]
