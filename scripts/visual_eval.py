"""VisualTaxis and Pursuit behaviour of a visual connectome policy in the Gymnasium env (C MuJoCo).

Runs seeded episodes of a trained visual run (``--run RUN``, ``agents.policies.load``), of the
hand-wired dark-object readout (``--gain G``: eyes -> optic lobe -> Mi9/Tm9 -> DNg100 asymmetry ->
VNC, nothing trained; ``agents.connectome_visual.dark_object_readout``) or of the untrained,
blind network (``--gain 0``), and reports per task:

- VisualTaxis: the success rate (the pillar reached, within ``--steps`` control steps), the
  steps it took, and the success rate for pillars within and beyond 1 rad of the heading;
- Pursuit: the mean |distance - the set distance| over each episode's steps, the fraction of
  steps within the reward's tolerance, and the episodes in which the target was lost.

    python scripts/visual_eval.py --task VisualTaxis --gain 2 --episodes 16 --steps 500 \\
        --out outputs/taxis_handwired.json
    python scripts/visual_eval.py --run runs/taxis_steer --episodes 16 --steps 500
    python scripts/visual_eval.py --task VisualTaxis --gain 2 --back-gain 8 --ascending-gain -3 \\
        --episodes 32 --steps 500      # the hard turn for a pillar to the side: 27 of 32
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

TASKS = ("VisualTaxis", "Pursuit")


def _episode(env, policy, seed: int, steps: int) -> dict:
    """One seeded episode; the task's metrics at its first and last step."""
    obs, _ = env.reset(seed=seed)
    policy.reset()
    first, distances, terminated, info = None, [], False, {}
    for _ in range(steps):
        obs, _, terminated, truncated, info = env.step(policy(obs))
        first = first or {"bearing_rad": info["bearing_rad"], "distance_mm": info["distance_mm"]}
        distances.append(float(info["distance_mm"]))
        if terminated or truncated:
            break
    return {
        "seed": seed,
        "steps": len(distances),
        "start_bearing_rad": float(first["bearing_rad"]),
        "start_distance_mm": float(first["distance_mm"]),
        "final_distance_mm": distances[-1],
        "terminated": bool(terminated),
        "success": bool(info.get("success", 0.0)),
        "distances_mm": distances,
    }


def summarise(task: str, episodes: list[dict], config) -> dict:
    """The task's figures over ``episodes`` (:func:`_episode` records); ``config`` is the env's
    resolved task config (Pursuit's set distance, tolerance and lost distance come from it)."""
    if task == "VisualTaxis":
        success = np.array([e["success"] for e in episodes])
        near = np.array([abs(e["start_bearing_rad"]) < 1.0 for e in episodes])
        rate = lambda m: float(success[m].mean()) if m.any() else float("nan")  # noqa: E731
        return {
            "success_rate": float(success.mean()),
            "success_rate_bearing_below_1_rad": rate(near),
            "success_rate_bearing_from_1_rad": rate(~near),
            "steps_to_success": [e["steps"] for e in episodes if e["success"]],
            "falls": int(sum(e["terminated"] and not e["success"] for e in episodes)),
        }
    follow = float(config.target.follow_distance_mm)
    tolerance = float(config.reward.follow_tolerance_mm)
    lost = float(config.target.lost_distance_mm)
    errors = [np.abs(np.asarray(e["distances_mm"]) - follow) for e in episodes]
    return {
        "follow_distance_mm": follow,
        "follow_tolerance_mm": tolerance,
        "mean_distance_error_mm": float(np.mean([err.mean() for err in errors])),
        "fraction_within_tolerance": float(np.mean([(err <= tolerance).mean() for err in errors])),
        "lost": int(sum(e["terminated"] and e["final_distance_mm"] > lost for e in episodes)),
        "falls": int(sum(e["terminated"] and e["final_distance_mm"] <= lost for e in episodes)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=TASKS, help="task of the hand-wired readout")
    parser.add_argument("--run", type=Path, help="a trained visual run (instead of hand-wired)")
    parser.add_argument("--gain", type=float, default=2.0, help="hand-wired readout gain")
    parser.add_argument(
        "--all-regions",
        action="store_true",
        help="hand-wired: read every elevation band, not only the dorsal one",
    )
    parser.add_argument(
        "--back-gain",
        type=float,
        help="hand-wired: the gain of the regions behind the front azimuth band (default "
        "--gain): an object far to the side needs a harder turn",
    )
    parser.add_argument(
        "--ascending-gain",
        type=float,
        default=0.0,
        help="hand-wired: also feed I1 of the leg in front back onto each leg's DNs at this "
        "gain (an ascending pathway; 0: none)",
    )
    parser.add_argument("--episodes", type=int, default=16, help="seeded episodes (seeds 0..)")
    parser.add_argument("--steps", type=int, default=250, help="control steps per episode")
    parser.add_argument("--out", type=Path, help="JSON output")
    args = parser.parse_args(argv)  # fmt: skip
    if args.episodes < 1 or args.steps < 1:
        parser.error("need --episodes >= 1 and --steps >= 1")
    if (args.run is None) == (args.task is None):
        parser.error("give either --run RUN or --task TASK (the hand-wired readout)")
    if args.run is not None and (args.ascending_gain or args.back_gain is not None):
        parser.error(
            "--ascending-gain and --back-gain are for the hand-wired readout; a run has its own"
        )

    import gymnasium as gym

    from agents import checkpoints, connectome_visual, policies

    if args.run is not None:
        try:
            policy = policies.load(args.run)
        except (FileNotFoundError, checkpoints.CheckpointError) as err:
            parser.error(str(err))
        task = policy.meta["task"]
        if task not in TASKS:
            parser.error(f"{args.run} is a {task} run; this script measures {list(TASKS)}")
    else:
        task = args.task
        policy = connectome_visual.handwired_policy(
            f"connectome_{task.lower()}_steer",
            lambda net: connectome_visual.dark_object_readout(
                net, gain=args.gain, dorsal_only=not args.all_regions, back_gain=args.back_gain
            ),
            args.steps,
            connectome={"ascending_cell": "I1", "init_ascending_gain": args.ascending_gain}
            if args.ascending_gain
            else None,
        )
    config = {**policy.env_config, "episode_length": args.steps}
    env = gym.make(policy.gym_id, **config)
    t0, episodes = time.monotonic(), []
    for seed in range(args.episodes):
        ep = _episode(env, policy, seed, args.steps)
        episodes.append(ep)
        print(
            f"seed {seed}: start {ep['start_distance_mm']:5.1f} mm at "
            f"{ep['start_bearing_rad']:+.2f} rad -> {ep['final_distance_mm']:5.1f} mm after "
            f"{ep['steps']} steps" + (" (reached)" if ep["success"] else ""),
            flush=True,
        )
    figures = summarise(task, episodes, env.unwrapped.config)
    env.close()
    print(json.dumps(figures))
    record = {
        "task": task,
        "run": str(args.run) if args.run else None,
        "gain": None if args.run else args.gain,
        "back_gain": None if args.run else args.back_gain,
        "ascending_gain": None if args.run else args.ascending_gain,
        "all_regions": args.all_regions,
        "episodes": args.episodes,
        "steps": args.steps,
        "wall_s": time.monotonic() - t0,
        **figures,
        "per_episode": [{k: v for k, v in e.items() if k != "distances_mm"} for e in episodes],
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
