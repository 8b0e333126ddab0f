"""Write a visual connectome run whose DN readout is hand-wired, as a start for PPO to fine-tune.

The network of the preset that the task's ``steer_handwired`` preset fine-tunes (Optomotor:
``connectome_optomotor_steer``; VisualTaxis: ``connectome_visualtaxis_steer_ascending``, with
the ascending pathway; Pursuit: ``connectome_pursuit_steer``; ``--preset`` for another), untrained
(pretrained optic lobe 0, the VNC at its connectome values), with its DN readout set by hand
instead of learned:

- Optomotor: ``agents.connectome_visual.optomotor_readout(gain)``, each eye's horizontal motion
  signal (T4a-T4b) + (T5a-T5b), left eye minus right eye onto the DNg100s' left-right
  difference;
- VisualTaxis, Pursuit: ``dark_object_readout(gain)``, each eye's Mi9 + Tm9 (the dorsal band,
  or every band with ``--all-regions``), the same way; ``--back-gain`` for the regions behind
  the front band.

``--out`` is a run directory with one checkpoint (step 0) that ``scripts/train.py --init-from``
fine-tunes and that ``agents.policies.load``, ``scripts/evaluate.py``,
``scripts/optomotor_handwired.py --run`` and ``scripts/visual_eval.py --run`` read
(docs/visual_connectome.md, "PPO from the hand-wired readouts").

    python scripts/handwired_readout.py --task Optomotor --gain 1 --out runs/optomotor_handwired
    python scripts/train.py --task Optomotor --policy connectome --preset steer_handwired \\
        --init-from runs/optomotor_handwired --out runs/optomotor_steer_handwired
    python scripts/handwired_readout.py --task VisualTaxis --gain 2 --back-gain 8 \\
        --out runs/taxis_handwired
"""

from __future__ import annotations

import argparse
from pathlib import Path

TASKS = ("Optomotor", "VisualTaxis", "Pursuit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--gain", type=float, required=True, help="readout gain (> 0)")
    parser.add_argument("--out", type=Path, required=True, help="run directory to write")
    parser.add_argument(
        "--preset", help="a visual connectome preset (default: what the task's steer_handwired "
        "preset fine-tunes, else the task's steer)",
    )  # fmt: skip
    parser.add_argument(
        "--back-gain", type=float,
        help="VisualTaxis / Pursuit: the gain behind the front azimuth band (default --gain)",
    )  # fmt: skip
    parser.add_argument(
        "--all-regions", action="store_true",
        help="VisualTaxis / Pursuit: read every elevation band, not only the dorsal one",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not args.gain > 0 or not (args.back_gain is None or args.back_gain > 0):
        parser.error(f"--gain and --back-gain must be > 0, got {args.gain}, {args.back_gain}")
    if args.task == "Optomotor" and (args.back_gain is not None or args.all_regions):
        parser.error("--back-gain and --all-regions are for the dark-object readout")
    if (args.out / "checkpoints").exists():
        parser.error(f"--out {args.out} already holds checkpoints; name a new directory")
    from agents import checkpoints, connectome_visual, ppo
    from agents.presets import PRESETS

    steer = f"connectome_{args.task.lower()}_steer"
    preset = args.preset or PRESETS.get(f"{steer}_handwired", {}).get("fine_tunes", steer)

    try:
        cfg = ppo.resolve_preset(preset)
    except KeyError as err:
        parser.error(str(err.args[0]) if err.args else str(err))
    if cfg["task"] != args.task or cfg["policy"] != "connectome":
        parser.error(
            f"preset {preset!r} is a {cfg['policy']} preset for {cfg['task']}, not a visual "
            f"connectome preset for {args.task}"
        )
    if args.task == "Optomotor":
        readout = lambda net: connectome_visual.optomotor_readout(net, gain=args.gain)  # noqa: E731
    else:
        readout = lambda net: connectome_visual.dark_object_readout(  # noqa: E731
            net, gain=args.gain, dorsal_only=not args.all_regions, back_gain=args.back_gain
        )
    try:
        state, meta = connectome_visual.handwired_state(preset, readout)
    except ValueError as err:
        parser.error(f"preset {preset!r}: {err}")
    meta["handwired"] = {
        "task": args.task, "gain": args.gain, "back_gain": args.back_gain,
        "all_regions": args.all_regions,
    }  # fmt: skip
    path = checkpoints.save(args.out, 0, state, meta)
    print(f"hand-wired {args.task} readout of preset {preset} -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
