"""Compile neuron / edge / pool tables into a :class:`VNCNetwork`, and read the embedded tables.

The builder is shared by the embedded default (``flyenvs.connectome.vnc.default``) and the full
MANC network (``flyenvs.connectome.vnc.manc``): both describe their graph as plain tables and
call :func:`compile_network`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flyenvs._paths import asset_path
from flyenvs.body.constants import LEG_DOFS, N_DOFS_PER_LEG
from flyenvs.body.kinematics import single_steps
from flyenvs.connectome.vnc.network import VNCNetwork

#: Sign of a synapse by presynaptic transmitter (the convention of all MANC sources).
TRANSMITTER_SIGN: dict[str, int] = {"acetylcholine": 1, "gaba": -1, "glutamate": -1}

#: Defaults of a cell type without published parameters: a network-median-sized neuron in the
#: size-scaled form of Pugliese et al. 2025 (a = a0 / 1, theta = theta0 * 1), tau 20 ms.
DEFAULT_TAU_S, DEFAULT_GAIN, DEFAULT_THRESHOLD = 0.02, 1.0, 7.5
#: W = 0.03 x signed synapse count (Pugliese et al. 2025).
DEFAULT_STRENGTH = 0.03


@dataclass(frozen=True)
class Pool:
    """A motor-neuron pool: ``members`` pull joint ``LEG_JOINTS[joint]`` with sign +1 (swing) or
    -1 (stance)."""

    name: str
    joint: int
    sign: float
    members: tuple[str, ...]


def compile_network(
    name: str,
    neurons: Sequence[tuple[str, str, str]],
    edges: Sequence[tuple[str, str, float, str]],
    dn_names: Sequence[str],
    pools: Sequence[Pool],
    type_params: dict[str, tuple[float, float, float]] | None = None,
    group_strength: dict[str, float] | None = None,
    counts: dict | None = None,
    init_rates_hz: dict[str, float] | None = None,
) -> VNCNetwork:
    """Compile tables into index arrays.

    Args:
        neurons: (name, cell type, class) per neuron; names unique.
        edges: (pre name, post name, signed synapse count, strength group key) per edge.
        dn_names: neurons that receive the descending command, in ``dn_input`` order.
        pools: motor-neuron pools (see :class:`Pool`).
        type_params: cell type -> (tau_s, gain a, threshold theta); others get the defaults.
        group_strength: strength group -> initial strength (>= 0); others get 0.03.
        counts: count tables to report in ``VNCNetwork.summary()``.
        init_rates_hz: neuron name -> initial rate (others 0).
    """
    names = [n for n, _, _ in neurons]
    index = {n: i for i, n in enumerate(names)}
    if len(index) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[:5]
        raise ValueError(f"network {name!r}: duplicate neuron names {dup}")
    type_names = sorted({t for _, t, _ in neurons})
    type_index = {t: i for i, t in enumerate(type_names)}
    group_names = sorted({g for _, _, _, g in edges})
    group_index = {g: i for i, g in enumerate(group_names)}

    def lookup(neuron: str, where: str) -> int:
        try:
            return index[neuron]
        except KeyError:
            raise ValueError(f"network {name!r}: {where} names unknown neuron {neuron!r}") from None

    pre = np.array([lookup(p, "edge") for p, _, _, _ in edges], np.int32)
    post = np.array([lookup(q, "edge") for _, q, _, _ in edges], np.int32)
    tp = type_params or {}
    gs = group_strength or {}
    for g, v in gs.items():
        if v < 0:
            raise ValueError(f"network {name!r}: strength of group {g!r} must be >= 0, got {v}")
    tau = np.array([tp.get(t, (DEFAULT_TAU_S,))[0] for t in type_names], np.float32)
    gain = np.array([tp.get(t, (0, DEFAULT_GAIN))[1] for t in type_names], np.float32)
    theta = np.array([tp.get(t, (0, 0, DEFAULT_THRESHOLD))[2] for t in type_names], np.float32)
    rates0 = np.zeros(len(names), np.float32)
    for n, r in (init_rates_hz or {}).items():
        rates0[lookup(n, "init_rates_hz")] = r
    members = [(lookup(m, f"pool {p.name!r}"), k) for k, p in enumerate(pools) for m in p.members]
    center, amplitude = load_joint_posture()
    return VNCNetwork(
        name=name,
        neuron_names=tuple(names),
        neuron_type=np.array([type_index[t] for _, t, _ in neurons], np.int32),
        neuron_class=tuple(c for _, _, c in neurons),
        type_names=tuple(type_names),
        edge_pre=pre,
        edge_post=post,
        edge_count=np.array([c for _, _, c, _ in edges], np.float32),
        edge_group=np.array([group_index[g] for _, _, _, g in edges], np.int32),
        group_names=tuple(group_names),
        dn_index=np.array([lookup(d, "dn_names") for d in dn_names], np.int32),
        pool_neurons=np.array([m for m, _ in members], np.int32).reshape(-1),
        pool_id=np.array([k for _, k in members], np.int32).reshape(-1),
        pool_names=tuple(p.name for p in pools),
        pool_joint=np.array([p.joint for p in pools], np.int32).reshape(-1),
        pool_sign=np.array([p.sign for p in pools], np.float32).reshape(-1),
        init_tau_s=tau,
        init_gain=gain,
        init_threshold=theta,
        init_strength=np.array([gs.get(g, DEFAULT_STRENGTH) for g in group_names], np.float32),
        init_joint_center_rad=center,
        init_joint_amplitude_rad=amplitude,
        counts=dict(counts or {}),
        init_rates_hz=rates0,
    )


# ------------------------------------------------------------------ embedded tables
def load_core_cpg() -> dict:
    """The embedded 4-cell core CPG figures (``connectome/vnc/core_cpg_pugliese2025.json``)."""
    path = asset_path("connectome", "vnc", "core_cpg_pugliese2025.json")
    try:
        data = json.loads(path.read_text())
        counts = np.asarray(data["synapse_counts_pre_by_post"], np.float32)
        if counts.shape != (4, 4) or len(data["a"]) != 4 or len(data["theta"]) != 4:
            raise ValueError("expected 4 cells")
    except (json.JSONDecodeError, KeyError, ValueError, TypeError) as err:
        raise ValueError(f"corrupt core CPG table {path}: {err}") from err
    return data


def load_muscle_table() -> list[dict[str, str]]:
    """Rows of ``assets/connectome/vnc/muscle_joint_table.csv``: muscle, dof, module, role."""
    path = asset_path("connectome", "vnc", "muscle_joint_table.csv")
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"corrupt muscle table {path}: not a UTF-8 CSV file ({err})") from err
    if not rows:
        raise ValueError(f"corrupt muscle table {path}: no rows (columns muscle, dof, role)")
    for row in rows:
        if (
            not row.get("muscle")
            or row.get("dof") not in LEG_DOFS
            or row.get("role") not in ("swing", "stance")
        ):
            raise ValueError(
                f"corrupt muscle table {path}: bad row {row} (muscle: a name, dof: one of "
                f"{list(LEG_DOFS)}, role: swing or stance)"
            )
    return rows


def load_joint_posture() -> tuple[np.ndarray, np.ndarray]:
    """Per-joint centre and signed half-range (rad), [42] each, ``LEG_JOINTS`` order.

    From NeuroMechFly's recorded single step (``flyenvs.body.kinematics.single_steps``, flygym's
    ``single_steps_untethered``): centre = (max + min) / 2, amplitude = (max - min) / 2, signed +
    where the joint's mean during swing (t < stance_start_s of its leg) is at least its mean
    during stance. So u = +1 / -1 (swing / stance pools dominant) reaches the recorded extremes.
    """
    steps = single_steps()
    angles = steps.joint_angles_rad  # [n_frames, 42]
    t_s = np.arange(angles.shape[0]) * steps.timestep_s
    swing = t_s[:, None] < np.repeat(steps.stance_start_s, N_DOFS_PER_LEG)[None, :]
    mean_swing = (angles * swing).sum(0) / swing.sum(0).clip(1)
    mean_stance = (angles * ~swing).sum(0) / (~swing).sum(0).clip(1)
    sign = np.where(mean_swing >= mean_stance, 1.0, -1.0)
    center = (angles.max(0) + angles.min(0)) / 2
    amplitude = sign * (angles.max(0) - angles.min(0)) / 2
    return center.astype(np.float32), amplitude.astype(np.float32)
