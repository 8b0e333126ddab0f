"""Train a PPO policy on a flyenvs task with Brax PPO, on the batched C MuJoCo engine (default
without an accelerator) or on MJX (default with one); ``--backend`` chooses.

Examples::

    python scripts/train.py --preset quick --out runs/walk_quick      # < 10 min on 2 CPU cores
    python scripts/train.py --resume --out runs/walk_quick            # continue the same run
    python scripts/train.py --preset quick --out runs/x --set episode_length=100 --steps 100000

Writes ``OUT/config.json`` (resolved config + git revision), ``OUT/metrics.csv`` and atomic
checkpoints ``OUT/checkpoints/step_*`` (evaluate with ``scripts/evaluate.py OUT``).
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import Any


def _parse_set(items: list[str]) -> dict[str, Any]:
    """``["a.b=1", "c=cpg"]`` -> ``{"a.b": 1, "c": "cpg"}`` (values parsed as Python literals)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key] = raw
    return out


def _enable_compilation_cache() -> None:
    """Persist XLA compilations (MJX graphs take minutes to compile on CPU) across runs, in
    ``$FLYENVS_JAX_CACHE`` (default ``~/.cache/flyenvs/jax``, shared with the tests)."""
    import os

    import jax

    cache = Path(os.environ.get("FLYENVS_JAX_CACHE", Path.home() / ".cache" / "flyenvs" / "jax"))
    cache.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def main(argv: list[str] | None = None) -> int:
    from agents import ppo

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    presets = sorted({n.split("_", 1)[-1] if "_" in n else n for n in ppo.PRESETS})
    parser.add_argument(
        "--preset", default="quick", help=f"size of the run (per policy): {', '.join(presets)}"
    )
    parser.add_argument(
        "--policy",
        default="mlp",
        choices=ppo.POLICY_KINDS,
        help="mlp: Brax PPO's MLP; connectome: readout -> VNC -> joints (recurrent PPO; "
        "presets quick, quick_dn, quick_frozen, quick_shuffled, steer, steer_ascending, then "
        "with --init-from steer_proprio (a steer run), steer_ascending_speed (a "
        "steer_ascending run) or steer_ascending_calibrated (scripts/calibrate_speed.py's "
        "output); on a visual task the eyes drive it "
        "through the optic lobe: quick, quick_trained, steer, Optomotor's steer_horizontal, "
        "steer_shuffled, VisualTaxis' steer_ascending, then with --init-from "
        "steer_handwired (Optomotor, VisualTaxis: scripts/handwired_readout.py's output)); "
        "feedforward: its MLP control (quick; Optomotor's steer)",
    )
    parser.add_argument("--task", help="a registered task (default: the preset's, Walk)")
    parser.add_argument("--out", required=True, type=Path, help="run directory")
    parser.add_argument(
        "--resume", action="store_true", help="continue from OUT's newest valid checkpoint"
    )
    parser.add_argument("--steps", type=int, help="total environment steps (overrides preset)")
    parser.add_argument(
        "--checkpoint-every", type=int, help="environment steps between checkpoints"
    )
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--init-from",
        type=Path,
        metavar="RUN",
        help="start from RUN's newest valid checkpoint (a connectome or feedforward run of the "
        "same task and network; the optimiser starts afresh)",
    )
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="task config")
    parser.add_argument(
        "--backend",
        choices=ppo.BACKENDS,
        help="physics: batched C MuJoCo on CPU threads or MJX (default: the faster here)",
    )
    parser.add_argument(
        "--threads", type=int, help="host threads of --backend mujoco (default: the CPU count)"
    )
    args = parser.parse_args(argv)

    if args.resume:
        chosen = (args.steps, args.set, args.checkpoint_every, args.backend, args.threads,
                  args.init_from)  # fmt: skip
        if any(chosen) or args.seed is not None or args.task or args.policy != "mlp":
            parser.error("--resume reuses OUT/config.json; do not combine it with other options")
        cfg = None
    else:
        if (args.out / "checkpoints").is_dir() and any((args.out / "checkpoints").iterdir()):
            parser.error(f"{args.out} already holds checkpoints; use --resume or a new --out")
        try:
            cfg = ppo.resolve_preset(
                ppo.preset_name(args.preset, args.policy, args.task),
                task=args.task,
                num_timesteps=args.steps,
                checkpoint_every=args.checkpoint_every,
                seed=args.seed,
                env=_parse_set(args.set),
                backend=args.backend,
                threads=args.threads,
                init_from=args.init_from,
            )
            # validate the task options before compiling anything
            from flyenvs.tasks import registry

            registry.spec(cfg["task"]).default_config(**cfg["env"])
        except (KeyError, ValueError, TypeError) as err:
            parser.error(str(err))

    from tqdm import tqdm

    _enable_compilation_cache()

    if cfg is None:  # resume: the run's own choice (runs saved before the choice used MJX)
        import json

        saved = args.out / "config.json"
        train_cfg = json.loads(saved.read_text())["train"] if saved.is_file() else {}
    else:
        train_cfg = cfg
    cfg_backend = train_cfg.get("backend")
    total = train_cfg.get("ppo", {}).get("num_timesteps")
    engine = {"mujoco": "C MuJoCo (batched, host threads)", "mjx": "MJX"}.get(cfg_backend, "MJX")
    print(f"physics: {engine}; {total} env steps in all")
    # total env steps, env-steps/s and ETA; the bar moves at each evaluation (Brax reports then)
    bar = tqdm(
        total=total,
        unit=" env-step",
        unit_scale=True,
        desc=f"PPO on {engine} (compiling)",
        dynamic_ncols=True,
    )
    first_step: list[int] = []

    def on_eval(step: int, row: dict[str, float]) -> None:
        if not first_step:  # the first evaluation: compiled; rate and ETA count from here
            first_step.append(step)
            bar.reset(total=total)
            bar.n = bar.last_print_n = step
        bar.set_description(f"PPO on {engine}")
        bar.update(step - bar.n)
        bar.set_postfix(
            eval_reward=f"{row.get('eval/episode_reward', float('nan')):.2f}",
            speed_mm_s=f"{row.get('eval/mean_forward_speed_mm_s', float('nan')):.1f}",
        )

    try:
        summary = ppo.train(args.out, cfg, resume=args.resume, on_eval=on_eval)
    except (FileNotFoundError, ppo.checkpoints.CheckpointError) as err:
        parser.error(str(err))
    bar.close()
    evals = summary["evals"]
    if evals:
        first, last = evals[0], evals[-1]
        print(
            f"done: steps {summary['start_step']} -> {summary.get('final_step')}, "
            f"eval reward {first.get('eval/episode_reward', float('nan')):.2f} -> "
            f"{last.get('eval/episode_reward', float('nan')):.2f}, "
            f"wall {summary.get('wall_s', 0):.0f} s; checkpoints in {args.out / 'checkpoints'}"
        )
    else:
        print(f"nothing to do: {args.out} already trained to {summary['total_steps']} steps")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
