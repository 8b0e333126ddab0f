"""The embedded default VNC: six copies of the 4-cell core CPG, motor pools, inter-leg coupling.

Per leg (``LEGS`` order) the network has

* the core CPG of Pugliese et al. 2025 with its published signed synapse counts, W = 0.03 x counts
  and size-scaled a, theta (``assets/connectome/vnc/core_cpg_pugliese2025.json``):
  ``DNg100_<leg> -> E1_<leg> (IN17A001) -> E2_<leg> (INXXX466) -> I1_<leg> (IN16B036)``;
* one cholinergic swing premotor unit ``PMs_<leg>`` excited by E2 (model element, not a MANC
  cell: a second stage that puts the swing pools in anti-phase with the stance pools);
* one motor-neuron pool per (joint, role) of the muscle table (``muscle_joint_table.csv``):
  swing pools excited by ``PMs``, stance pools excited tonically by DNg100 and inhibited by the
  glutamatergic I1;
* inter-leg coupling ``E2_i -> E1_j`` (excitatory, each leg pair its own learnable strength)
  between the legs that walk in anti-phase in a tripod gait (ipsilateral neighbours and the
  contralateral leg of the same segment), and a tripod initial condition (I1 of the legs
  RF, LM, RH starts active).

Model edges (not MANC synapses) carry a signed count of +/-1 (sign by transmitter), so their
weight equals their strength.
"""

from __future__ import annotations

from flyenvs.body.constants import LEG_DOFS, LEG_JOINTS, LEGS
from flyenvs.connectome.vnc.builder import (
    TRANSMITTER_SIGN,
    Pool,
    compile_network,
    load_core_cpg,
    load_muscle_table,
)
from flyenvs.connectome.vnc.network import VNCNetwork

#: Short names of the four core cells, in the paper's order.
CORE_CELLS: tuple[str, ...] = ("DNg100", "E1", "E2", "I1")
#: The two tripods (legs in phase within one).
TRIPODS: tuple[tuple[str, ...], tuple[str, ...]] = (("LF", "RM", "LH"), ("RF", "LM", "RH"))
#: Anti-phase neighbour pairs of a tripod gait (ipsilateral neighbours, contralateral partners).
ANTIPHASE_PAIRS: tuple[tuple[str, str], ...] = (
    ("LF", "LM"), ("LM", "LH"), ("RF", "RM"), ("RM", "RH"),
    ("LF", "RF"), ("LM", "RM"), ("LH", "RH"),
)  # fmt: skip

#: Initial strengths of the model (non-MANC) connections.
SWING_PREMOTOR_STRENGTH = 3.0  # E2 -> PMs
PREMOTOR_TO_SWING_STRENGTH = 1.0  # PMs -> swing pools
DN_TO_STANCE_STRENGTH = 1.3  # DNg100 -> stance pools
I1_TO_STANCE_STRENGTH = 4.0  # I1 -| stance pools
COUPLING_STRENGTH = 0.3  # E2_i -> E1_j, anti-phase legs
#: Initial rate of I1 in tripod 2 (Hz), which starts the two tripods in anti-phase.
TRIPOD_INIT_I1_HZ = 5.0


def _core_tables(data: dict, suffix: str) -> tuple[list, list]:
    """Neurons and edges of one core CPG; neuron names ``<cell><suffix>``."""
    types, tx = data["manc_type"], data["transmitter"]
    classes = ("descending", "intrinsic", "intrinsic", "intrinsic")
    neurons = [(c + suffix, t, k) for c, t, k in zip(CORE_CELLS, types, classes, strict=True)]
    edges = []
    for i, row in enumerate(data["synapse_counts_pre_by_post"]):
        for j, count in enumerate(row):
            if count:
                if (count > 0) != (TRANSMITTER_SIGN[tx[i]] > 0):
                    raise ValueError(f"core CPG: sign of {CORE_CELLS[i]} edges contradicts {tx[i]}")
                edges.append((CORE_CELLS[i] + suffix, CORE_CELLS[j] + suffix, float(count),
                              f"{types[i]}->{types[j]}"))  # fmt: skip
    return neurons, edges


def core_type_params(data: dict) -> dict[str, tuple[float, float, float]]:
    """MANC type -> (tau_s, a, theta) of the four core cells."""
    return {
        t: (float(data["tau_s"]), float(a), float(th))
        for t, a, th in zip(data["manc_type"], data["a"], data["theta"], strict=True)
    }


def build_core_cpg() -> VNCNetwork:
    """The 4-cell core CPG alone (neurons DNg100, E1, E2, I1; input: DNg100; no motor pools)."""
    data = load_core_cpg()
    neurons, edges = _core_tables(data, "")
    return compile_network(
        "core_cpg_pugliese2025",
        neurons,
        edges,
        dn_names=["DNg100"],
        pools=[],
        type_params=core_type_params(data),
        group_strength={g: float(data["weight_per_synapse"]) for *_, g in edges},
        counts={"n_per_class": {"descending": 1, "intrinsic": 3}},
    )


def pool_groups() -> dict[tuple[str, str], list[str]]:
    """(dof, role) -> muscles, from the muscle table, in LEG_DOFS order."""
    groups: dict[tuple[str, str], list[str]] = {}
    for row in load_muscle_table():
        groups.setdefault((row["dof"], row["role"]), []).append(row["muscle"])
    return {k: groups[k] for k in sorted(groups, key=lambda k: (LEG_DOFS.index(k[0]), k[1]))}


def build_default() -> VNCNetwork:
    """The embedded default network (6 legs; ``dn_input`` [6]: DNg100 drive per leg, LEGS order)."""
    data = load_core_cpg()
    neurons, edges, pools = [], [], []
    strength = {}
    for leg in LEGS:
        n, e = _core_tables(data, f"_{leg}")
        neurons += n
        edges += e
        neurons.append((f"PMs_{leg}", "swing_premotor", "intrinsic"))
        edges.append((f"E2_{leg}", f"PMs_{leg}", 1.0, "INXXX466->swing_premotor"))
        for (dof, role), muscles in pool_groups().items():
            mn_type = f"MN_{dof}_{role}"
            mn = f"MN_{leg}_{dof}_{role}"
            neurons.append((mn, mn_type, "motor"))
            if role == "swing":
                edges.append((f"PMs_{leg}", mn, 1.0, f"swing_premotor->{mn_type}"))
                strength[f"swing_premotor->{mn_type}"] = PREMOTOR_TO_SWING_STRENGTH
            else:
                edges.append((f"DNg100_{leg}", mn, 1.0, f"DNg100->{mn_type}"))
                edges.append((f"I1_{leg}", mn, -1.0, f"IN16B036->{mn_type}"))
                strength[f"DNg100->{mn_type}"] = DN_TO_STANCE_STRENGTH
                strength[f"IN16B036->{mn_type}"] = I1_TO_STANCE_STRENGTH
            joint = LEG_JOINTS.index(f"joint_{leg}{dof}")
            sign = 1.0 if role == "swing" else -1.0
            pools.append(Pool(f"{leg} {dof} {role} ({', '.join(muscles)})", joint, sign, (mn,)))
    for a, b in ANTIPHASE_PAIRS:
        for i, j in ((a, b), (b, a)):
            group = f"coupling E2_{i}->E1_{j}"
            edges.append((f"E2_{i}", f"E1_{j}", 1.0, group))
            strength[group] = COUPLING_STRENGTH
    for *_, g in edges:
        if "->" in g and not g.startswith("coupling") and g not in strength:
            strength[g] = float(data["weight_per_synapse"])
    strength["INXXX466->swing_premotor"] = SWING_PREMOTOR_STRENGTH
    classes = [c for *_, c in neurons]
    return compile_network(
        "default_core_cpg_x6",
        neurons,
        edges,
        dn_names=[f"DNg100_{leg}" for leg in LEGS],
        pools=pools,
        type_params=core_type_params(data),
        group_strength=strength,
        counts={"n_per_class": {c: classes.count(c) for c in sorted(set(classes))}},
        init_rates_hz={f"I1_{leg}": TRIPOD_INIT_I1_HZ for leg in TRIPODS[1]},
    )
