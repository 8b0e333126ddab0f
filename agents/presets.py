"""Training presets: named run configurations for ``scripts/train.py`` (``agents.ppo`` resolves
them with overrides; ``agents.ppo`` re-exports these names).

A preset holds ``task``, ``env`` (task config overrides), ``ppo`` (trainer keyword arguments),
``checkpoint_every``, and per policy ``network`` (sizes) or ``connectome`` (the connectome
policy's options); ``policy`` names the trainer's policy (default ``"mlp"``, Brax PPO).
"""

from __future__ import annotations

import copy
from typing import Any

#: Presets: ``env`` = task config overrides, ``network`` = sizes, ``ppo`` = ppo.train kwargs.
#: ``quick`` is sized for a rising learning curve in < 10 min on 2 CPU cores (cpg mode).
PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {
        "task": "Walk",
        "env": {"action_mode": "cpg", "episode_length": 20},
        "network": {"policy_hidden": (16, 16), "value_hidden": (16, 16), "init_noise_std": 0.5},
        "ppo": {
            "num_timesteps": 640,
            "num_envs": 8,
            "batch_size": 8,
            "num_minibatches": 2,
            "unroll_length": 10,
            "num_updates_per_batch": 2,
            "learning_rate": 1e-3,
            "entropy_cost": 1e-3,
            "discounting": 0.95,
            "num_eval_envs": 4,
            "normalize_observations": True,
        },
        "checkpoint_every": 320,
    },
    # ~7.5 min of training on 2 CPU cores with the batched C engine; 100 updates of 1,280 steps,
    # 8 epochs each (4 epochs over 41k steps, the preset before 2026-11-30, did not learn);
    # PPO clip 0.2 and gradient norm 0.5 (with Brax's 0.3 and no clipping the last updates
    # undid the gains: seed 0 fell from 76.8 to 71.4). Evaluation: 64 fixed-policy episodes.
    "quick": {
        "task": "Walk",
        "env": {"action_mode": "cpg", "episode_length": 50},
        "network": {"policy_hidden": (32, 32), "value_hidden": (64, 64), "init_noise_std": 0.5},
        "ppo": {
            "num_timesteps": 128_000,
            "num_envs": 32,
            "batch_size": 32,
            "num_minibatches": 4,
            "unroll_length": 10,
            "num_updates_per_batch": 8,
            "learning_rate": 1e-3,
            "entropy_cost": 1e-3,
            "discounting": 0.95,
            "clipping_epsilon": 0.2,
            "max_grad_norm": 0.5,
            "num_eval_envs": 64,
            "deterministic_eval": True,
            "normalize_observations": True,
        },
        "checkpoint_every": 25_600,
    },
    # ~2 hours on 2 CPU cores with the batched C engine: 390 updates of 5,120 steps, 8 epochs
    # each (quick's recipe with larger updates), 5 s episodes.
    "default": {
        "task": "Walk",
        "env": {"action_mode": "cpg", "episode_length": 250},
        "network": {"policy_hidden": (64, 64), "value_hidden": (128, 128), "init_noise_std": 0.5},
        "ppo": {
            "num_timesteps": 2_000_000,
            "num_envs": 64,
            "batch_size": 64,
            "num_minibatches": 4,
            "unroll_length": 20,
            "num_updates_per_batch": 8,
            "learning_rate": 5e-4,
            "entropy_cost": 1e-3,
            "discounting": 0.97,
            "clipping_epsilon": 0.2,
            "max_grad_norm": 0.5,
            "num_eval_envs": 64,
            "deterministic_eval": True,
            "normalize_observations": True,
        },
        "checkpoint_every": 200_000,
    },
    # The connectome policy (agents.connectome_walk, recurrent PPO): readout -> VNC -> joints.
    "connectome_quick": {
        "task": "Walk",
        "policy": "connectome",
        "env": {"action_mode": "joints", "action.joints.n_chunk": 2, "episode_length": 50},
        "connectome": {"init_log_std": -1.5},
        "ppo": {
            "num_timesteps": 128_000,
            "num_envs": 32,
            "unroll_length": 10,
            "num_minibatches": 4,
            "num_updates_per_batch": 8,
            "learning_rate": 1e-3,
            "entropy_cost": 1e-3,
            "discounting": 0.95,
            "clipping_epsilon": 0.2,
            "max_grad_norm": 0.5,
            "num_eval_envs": 64,
            "normalize_observations": True,
        },
        "checkpoint_every": 25_600,
    },
    "connectome_smoke": {
        "task": "Walk",
        "policy": "connectome",
        "env": {"action_mode": "joints", "action.joints.n_chunk": 2, "episode_length": 20},
        "connectome": {},
        "ppo": {
            "num_timesteps": 640,
            "num_envs": 8,
            "unroll_length": 10,
            "num_minibatches": 2,
            "num_updates_per_batch": 2,
            "learning_rate": 1e-3,
            "entropy_cost": 1e-3,
            "discounting": 0.95,
            "num_eval_envs": 4,
            "normalize_observations": True,
        },
        "checkpoint_every": 320,
    },
}


def _variant(base: str, **sections: dict[str, Any]) -> dict[str, Any]:
    """A copy of preset ``base`` with ``sections`` (``policy=...`` or dicts merged into the
    section of that name)."""
    cfg = copy.deepcopy(PRESETS[base])
    for key, value in sections.items():
        if isinstance(value, dict):
            cfg.setdefault(key, {}).update(value)
        else:
            cfg[key] = value
    return cfg


# The connectome policy's controls (docs/connectome_walk.md): the VNC frozen (readout only),
# the VNC rewired preserving degrees, and an MLP with about the policy's parameter count
# (1,702 vs 1,509 scalars; each with its own value MLP).
PRESETS["connectome_quick_frozen"] = _variant("connectome_quick", connectome={"trainable": []})
PRESETS["connectome_quick_shuffled"] = _variant(
    "connectome_quick", connectome={"wiring": "shuffled", "shuffle_seed": 0}
)
PRESETS["feedforward_quick"] = {
    k: v for k, v in _variant("connectome_quick", policy="feedforward").items() if k != "connectome"
}
PRESETS["feedforward_quick"]["network"] = {"policy_hidden": (5,), "value_hidden": (64, 64)}

# connectome_quick with exploration at the descending neurons (VNCWalkPolicy.dn_noise: an AR(1)
# noise on the DN readout, correlation 0.9 per 20 ms step), the motor noise's std fixed
# (learn_action_std) and Adam 3e-4: PPO's clip fraction 0.65 instead of 0.8
# (docs/connectome_walk.md).
PRESETS["connectome_quick_dn"] = _variant(
    "connectome_quick",
    connectome={"dn_noise": True, "dn_noise_corr": 0.9, "learn_action_std": False},
    ppo={"learning_rate": 3e-4},
)

# connectome_quick's recipe at default's scale: 5 s episodes, 64 envs, 20-step unrolls, Adam
# 5e-4, discount 0.97; 1M env steps, about 2 hours on 2 CPU cores with the batched C engine.
PRESETS["connectome_default"] = _variant(
    "connectome_quick",
    env={"episode_length": 250},
    ppo={"num_timesteps": 1_000_000, "num_envs": 64, "unroll_length": 20,
         "learning_rate": 5e-4, "discounting": 0.97},
    checkpoint_every=100_000,
)  # fmt: skip

# Steering by the command (docs/connectome_walk.md, stop 16): the DN readout sees only the
# command; its draw is held for the episode (std 0.61) and clipped apart from the motor noise;
# advantages over whole 5 s episodes (discount 0.99, GAE lambda 1) regressed on the command;
# a reward that pays for steering (0.3 s velocity filter, turn weight 2, tolerance 0.1,
# margin 1); the VNC frozen at its connectome values; Adam 1e-3; 320k env steps (10 x 4
# updates of 32 envs x 250 steps), about 17 minutes on 2 CPU cores with the batched C engine.
PRESETS["connectome_steer"] = _variant(
    "connectome_quick",
    env={"episode_length": 250, "velocity_filter_s": 0.3, "reward.turn": 2.0,
         "reward.turn_tolerance_rad_s": 0.1, "reward.turn_margin_rad_s": 1.0},
    connectome={"dn_noise": True, "dn_noise_corr": 1.0, "init_dn_log_std": -0.5,
                "learn_action_std": False, "readout_obs": ["command"], "trainable": []},
    ppo={"num_timesteps": 320_000, "unroll_length": 250, "discounting": 0.99,
         "gae_lambda": 1.0, "baseline_obs": ["command"], "split_ratio": True,
         "learning_rate": 1e-3, "num_eval_envs": 32},
    checkpoint_every=32_000,
)  # fmt: skip

# Speed on top of steering (docs/connectome_walk.md, stop 17): a fine-tuning stage started from
# a ``steer`` run (``init_from``; resolve_preset refuses it without): the DN readout sees the
# whole observation (proprioception drives the rhythm harder: the command-only readout of
# ``steer`` keeps the frozen VNC near 4.2 mm/s), the VNC still frozen, Adam 1e-3; 192k env steps
# (about 10 minutes on 2 CPU cores). Training the VNC as well after it did not help.
PRESETS["connectome_steer_proprio"] = _variant(
    "connectome_steer", ppo={"num_timesteps": 192_000}, fine_tunes="connectome_steer"
)
del PRESETS["connectome_steer_proprio"]["connectome"]["readout_obs"]

# steer with an ascending pathway (docs/connectome_walk.md, "Ascending feedback"): the DN readout
# also reads the I1 interneuron of the leg in front on the same side (the front leg: the hind
# leg), at -3 to start; the same held DN offsets then walk the frozen VNC at 2.2-11 mm/s
# instead of 1.1-3.1, straight when symmetric. Otherwise steer's recipe and steps.
PRESETS["connectome_steer_ascending"] = _variant(
    "connectome_steer",
    connectome={"ascending_cell": "I1", "ascending_coupling": "anterior",
                "init_ascending_gain": -3.0},
)  # fmt: skip
# ... fine-tuned for speed (a ``steer_ascending`` run via ``init_from``): steer's reward pays
# for turning (weight 2, margin 1 rad/s) and barely for speed (weight 1, margin 4 mm/s, so
# 1 mm/s off costs little), and the readout's speed row stayed small; here the speed term's
# margin is 2 mm/s; 160k env steps.
PRESETS["connectome_steer_ascending_speed"] = _variant(
    "connectome_steer_ascending",
    env={"reward.speed_margin_mm_s": 2.0},
    ppo={"num_timesteps": 160_000},
    fine_tunes="connectome_steer_ascending",
)
# ... fine-tuned from a speed row set from the envelope (scripts/calibrate_speed.py writes the
# start from a steer_ascending checkpoint: the speed command mapped onto the drive offset the
# policy's own envelope says walks at that speed; docs/connectome_walk.md, "A speed row from
# the envelope"): steer's recipe at Adam 3e-4, so that PPO tunes the readout around that start
# rather than relearning it; 128k env steps (about 16 minutes on 2 CPU cores).
PRESETS["connectome_steer_ascending_calibrated"] = _variant(
    "connectome_steer_ascending",
    ppo={"num_timesteps": 128_000, "learning_rate": 3e-4},
    fine_tunes="connectome_steer_ascending",
)

# The visual connectome policy (agents.connectome_visual): eyes -> optic lobe (pretrained
# ensemble member 0, frozen: run once per env step as the observation) -> DN readout from vision
# alone, left-right symmetric (no constant turn), with correlated DN exploration noise -> VNC
# (frozen: trained, its changes move all 96 action means and most PPO ratios leave the clip
# range) -> joints, on each visual task; 1 s episodes, the motor noise's std fixed, Adam 3e-4:
# clip fraction 0.2, approx-KL 0.02 (docs/visual_connectome.md).
for _task, _steps in (("Optomotor", 128_000), ("VisualTaxis", 128_000), ("Pursuit", 128_000)):
    PRESETS[f"connectome_{_task.lower()}_quick"] = _variant(
        "connectome_quick",
        task=_task,
        ppo={"num_timesteps": _steps, "learning_rate": 3e-4},
        connectome={
            "optic_lobe": {"feature_scale": 20.0},
            "trainable": [],
            "bilateral": True,
            "proprio_readout": False,
            "dn_noise": True,
            "dn_noise_corr": 0.9,
            "learn_action_std": False,
        },
    )
    PRESETS[f"connectome_{_task.lower()}_quick_trained"] = _variant(
        f"connectome_{_task.lower()}_quick",
        connectome={
            "optic_lobe": {
                "feature_scale": 20.0,
                "trainable": ["bias", "time_const_s", "strength"],
            }
        },
    )

# The optomotor response learned (docs/visual_connectome.md, "Steering by what the eyes see"):
# Walk's steer recipe on vision. A readout of the lobula plate's opponent channels (T4a-T4b,
# ...) pooled per eye (24 symmetric weights); the DN offset held for the 5 s episode and drawn
# 0.5 s in, once T4/T5 tell the grating's direction (the optic lobe starts from grey);
# whole-episode advantages (discount 0.99, GAE lambda 1) with the grating's speed regressed out
# (privileged, training only), the DN draw clipped apart; a turn reward as steer's (0.3 s
# filter, weight 2, tolerance 0.1, margin 1); Adam 3e-3 on whole batches (one minibatch of 32
# episodes: the readout's gradient from 8 episodes is mostly noise); 192k env steps (24
# updates of 32 envs x 250 steps), about 25 minutes on 2 CPU cores.
PRESETS["connectome_optomotor_steer"] = _variant(
    "connectome_optomotor_quick",
    env={"episode_length": 250, "velocity_filter_s": 0.3, "reward.turn": 2.0,
         "reward.turn_tolerance_rad_s": 0.1, "reward.turn_margin_rad_s": 1.0},
    ppo={"num_timesteps": 192_000, "unroll_length": 250, "num_minibatches": 1,
         "discounting": 0.99, "gae_lambda": 1.0, "split_ratio": True, "learning_rate": 3e-3,
         "num_eval_envs": 32, "baseline_metrics": ["grating_speed_rad_s"]},
    checkpoint_every=32_000,
)  # fmt: skip
PRESETS["connectome_optomotor_steer"]["connectome"].update(
    optic_lobe={"feature_scale": 20.0, "opponent": True, "n_azimuth": 1, "n_elevation": 1,
                "readout_types": [f"T{k}{d}" for k in (4, 5) for d in "abcd"]},
    dn_noise_corr=1.0, init_dn_log_std=-0.5, dn_noise_draw_s=0.5,
)  # fmt: skip

# steer fine-tuning a hand-wired readout (scripts/handwired_readout.py writes the start:
# optomotor_readout, the lobula plate's horizontal opponent signal at gain 1, with the grating
# in 96 of 96 episodes) rather than learning it from 0: Adam 1e-3 (the hand-wired weights are
# 0.05; steer's 3e-3 moves them by more than that in a few updates), 128k env steps.
PRESETS["connectome_optomotor_steer_handwired"] = _variant(
    "connectome_optomotor_steer",
    ppo={"num_timesteps": 128_000, "learning_rate": 1e-3},
    fine_tunes="connectome_optomotor_steer",
)

# steer reading only the horizontal opponent pairs T4a-T4b and T5a-T5b (what the lobula plate's
# horizontal-system cells pool; 12 symmetric weights): the vertical pairs see only the fly's
# own pitch and bob under a rotating vertical grating, and the steer run's readout had learned
# weights on them as large as on the horizontal ones. It did not beat steer (seed 0: eval
# reward 193 -> 170 from 32k to 128k, steer 198 -> 234; docs/visual_connectome.md).
PRESETS["connectome_optomotor_steer_horizontal"] = _variant("connectome_optomotor_steer")
PRESETS["connectome_optomotor_steer_horizontal"]["connectome"]["optic_lobe"].update(
    opponent=["T4a-T4b", "T5a-T5b"], readout_types=["T4a", "T4b", "T5a", "T5b"]
)

# The optomotor controls (docs/visual_connectome.md, "Controls"): the MLP on raw luminance
# (the whole observation, eyes and proprioception, one frame) -> joints, with steer's episodes,
# reward, whole-episode advantages and baseline; feedforward_quick's sizes and Adam 1e-3.
PRESETS["feedforward_optomotor_steer"] = _variant(
    "feedforward_quick",
    task="Optomotor",
    env=dict(PRESETS["connectome_optomotor_steer"]["env"]),
    ppo={k: PRESETS["connectome_optomotor_steer"]["ppo"][k]
         for k in ("num_timesteps", "unroll_length", "discounting", "gae_lambda", "num_eval_envs",
                   "baseline_metrics")},
    checkpoint_every=PRESETS["connectome_optomotor_steer"]["checkpoint_every"],
)  # fmt: skip

# ... and the optic lobe rewired, degrees preserved (its T4/T5 lose their direction
# selectivity: DSI 0.00-0.05 against a median of 0.57), the same readout and recipe.
PRESETS["connectome_optomotor_steer_shuffled"] = _variant("connectome_optomotor_steer")
PRESETS["connectome_optomotor_steer_shuffled"]["connectome"]["optic_lobe"].update(
    wiring="shuffled", shuffle_seed=0
)

# Taxis and pursuit by the same recipe (docs/visual_connectome.md, "VisualTaxis and Pursuit"):
# a readout of the sustained OFF columnar cells Mi9 and Tm9 (a dark object, moving or not; T4/T5
# see only its edges), pooled per eye in front / back regions; the DN offset held for the
# episode and drawn at 0.5 s; whole-episode advantages with the target's distance and bearing
# (and Pursuit's target speed) regressed out (privileged, training only); Optomotor steer's PPO
# settings. VisualTaxis reads only the dorsal half of each eye (24 symmetric weights), where the
# pillar stands against the sky: reading the ground too (48 weights), the first run learned
# leg-specific weights on the ground's features and no taxis (1 of 16 pillars reached). The
# dorsal readout turns the right way but weakly, and does no better yet (1 of 16; hand-wired:
# 10 of 16). Pursuit at 96k keeps the sphere closer than the hand-wired readout.
_STEER_PPO = ("num_timesteps", "unroll_length", "num_minibatches", "discounting", "gae_lambda",
              "split_ratio", "learning_rate", "num_eval_envs")  # fmt: skip
for _task, _baseline, _bands in (
    ("VisualTaxis", ["distance_mm", "bearing_rad"], [1]),
    ("Pursuit", ["distance_mm", "bearing_rad", "target_speed_mm_s"], [0, 1]),
):
    _name = f"connectome_{_task.lower()}_steer"
    PRESETS[_name] = _variant(
        f"connectome_{_task.lower()}_quick",
        env={"episode_length": 250},
        ppo={**{k: PRESETS["connectome_optomotor_steer"]["ppo"][k] for k in _STEER_PPO},
             "baseline_metrics": _baseline},
        checkpoint_every=PRESETS["connectome_optomotor_steer"]["checkpoint_every"],
    )  # fmt: skip
    PRESETS[_name]["connectome"].update(
        optic_lobe={"feature_scale": 20.0, "n_azimuth": 2, "n_elevation": 2,
                    "elevation_bands": _bands, "readout_types": ["Mi9", "Tm9"]},
        dn_noise_corr=1.0, init_dn_log_std=-0.5, dn_noise_draw_s=0.5,
    )  # fmt: skip

# VisualTaxis from a hand-wired readout (docs/visual_connectome.md, "PPO from the hand-wired
# readouts"). The body sets the limit: the VNC alone walks about 3 mm/s and turns at most about
# 0.4 rad/s, a turning circle of about 7 mm, so the fly orbits a pillar that starts far to its
# side instead of reaching it. steer with the ascending pathway of connectome_steer_ascending
# (I1 of the leg in front onto each leg's DNg100, -3: about 7 mm/s and up to 1 rad/s) ...
PRESETS["connectome_visualtaxis_steer_ascending"] = _variant("connectome_visualtaxis_steer")
PRESETS["connectome_visualtaxis_steer_ascending"]["connectome"].update(
    ascending_cell="I1", ascending_coupling="anterior", init_ascending_gain=-3.0
)
# ... fine-tuning scripts/handwired_readout.py's dark-object readout (gain 2 on the front band,
# 8 on the back one: a pillar far to the side fills few columns, and needs a hard turn) at
# Adam 1e-3 for 128k env steps, as connectome_optomotor_steer_handwired.
PRESETS["connectome_visualtaxis_steer_handwired"] = _variant(
    "connectome_visualtaxis_steer_ascending",
    ppo={"num_timesteps": 128_000, "learning_rate": 1e-3},
    fine_tunes="connectome_visualtaxis_steer_ascending",
)

#: Policies: ``"mlp"`` (Brax PPO's feed-forward MLP) or a policy of the recurrent trainer
#: (:mod:`agents.recurrent_ppo.driver`): ``"connectome"`` (readout -> VNC -> joints) and
#: ``"feedforward"`` (its MLP control on the same action mode).
POLICY_KINDS: tuple[str, ...] = ("mlp", "connectome", "feedforward")


def preset_name(preset: str, policy: str = "mlp", task: str | None = None) -> str:
    """The preset for ``policy``: ``preset`` itself for ``"mlp"``, else
    ``"<policy>_<task>_<preset>"`` (task in lower case) where there is one for ``task``, else
    ``"<policy>_<preset>"`` (a full name such as ``"connectome_smoke"`` is accepted as it is).

    Raises:
        KeyError: no such preset for the policy (the message lists the valid ones).
    """
    if policy not in POLICY_KINDS:
        raise KeyError(f"unknown policy {policy!r}; valid: {list(POLICY_KINDS)}")
    kind = lambda name: PRESETS[name].get("policy", "mlp")  # noqa: E731
    task_name = f"{policy}_{task.lower()}_{preset}" if task else None
    for name in (preset, task_name, f"{policy}_{preset}"):
        if name in PRESETS and kind(name) == policy:
            return name
    valid = sorted(n.removeprefix(f"{policy}_") for n in PRESETS if kind(n) == policy)
    raise KeyError(f"no preset {preset!r} for policy {policy!r}; valid: {valid}")
