"""The full MANC network: DN -> IN -> MN graph of the leg neuromeres T1, T2, T3 from tables.

Input: a folder with the tables of NeLy-EPFL/vnc_networks (MANC v1.0, edges >= 5 synapses),
``data_set_intrinsic_T{1,2,3}.csv`` (DN -> IN) and ``data_intrinsic_motor_T{1,2,3}.csv``
(IN -> MN, with ``target_muscle``). Nothing of these tables is shipped with flyenvs.

Compilation:

* neurons: every body id of the six tables (name ``<MANC type>#<bodyId>``), cell type = MANC type,
  class from the tables (descending / intrinsic / motor);
* edges: every table row, signed synapse count ``eff_weight`` (checked against the transmitter),
  strength shared per (pre type, post type); plus the core CPG's recurrent IN -> IN edges
  (E1 IN17A001, E2 INXXX466, I1 IN16B036; counts of Pugliese et al. 2025, T1 left) inside each
  hemineuromere, which the tables do not contain;
* cell-type parameters: tau 20 ms; a, theta of the four core types from the embedded figures,
  a = 1, theta = 7.5 (a median-sized neuron) for all others (the tables carry no sizes);
* motor pools: leg MNs (types ``MNfl*`` front, ``MNml*`` middle, ``MNhl*`` hind) grouped by
  (leg, muscle -> joint and role of ``muscle_joint_table.csv``). The tables do not give sides:
  each leg's MNs are split in two by the Fiedler vector of their IN co-input graph (the left and
  right premotor networks are nearly disjoint), and the half that receives the E1 cell driven by
  DNg100 body 10093 (the published T1-left core) is called left.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from flyenvs.body.constants import LEG_JOINTS
from flyenvs.connectome.vnc.builder import TRANSMITTER_SIGN, Pool, compile_network, load_core_cpg
from flyenvs.connectome.vnc.default import core_type_params, pool_groups
from flyenvs.connectome.vnc.network import VNCNetwork

NEUROMERES: tuple[str, ...] = ("T1", "T2", "T3")
#: MANC motor-neuron type prefix -> leg segment letter.
LEG_MN_PREFIX: dict[str, str] = {"MNfl": "F", "MNml": "M", "MNhl": "H"}
DN_IN_COLUMNS = ("source_bid", "source_name", "source_class", "target_bid", "target_name",
                 "target_class", "nt_type", "syn_count", "eff_weight")  # fmt: skip
IN_MN_COLUMNS = ("source_bid", "source_name", "source_class", "source_type", "target_bid",
                 "target_name", "target_class", "target_muscle",
                 "syn_count", "eff_weight")  # fmt: skip
CLASS_NAMES = {"descending": "descending", "intrinsic": "intrinsic", "motor": "motor"}


def read_table(path: Path, columns: tuple[str, ...], transmitter_column: str) -> list[dict]:
    """Rows of one MANC edge table, validated (columns, integer counts, signs)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"MANC table {path} not found; a MANC folder needs data_set_intrinsic_T{{1,2,3}}.csv "
            "and data_intrinsic_motor_T{1,2,3}.csv (format of NeLy-EPFL/vnc_networks)"
        )
    try:
        with path.open(newline="") as f:
            return _read_rows(path, csv.DictReader(f), columns, transmitter_column)
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"MANC table {path} is not a UTF-8 CSV file ({err})") from None


def _read_rows(
    path: Path, reader: csv.DictReader, columns: tuple[str, ...], transmitter_column: str
) -> list[dict]:
    """The rows of :func:`read_table`, checked."""
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"MANC table {path} lacks columns {missing} (has {reader.fieldnames})")
    rows = []
    for line, row in enumerate(reader, start=2):
        try:
            count, weight = int(row["syn_count"]), int(row["eff_weight"])
            sign = TRANSMITTER_SIGN[row[transmitter_column]]
            for column in ("source_bid", "target_bid"):  # body ids: integers (sorted as such)
                if not row[column].isdigit():
                    raise ValueError(f"{column} {row[column]!r} is not a body id (an integer)")
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise ValueError(f"MANC table {path}, line {line}: bad row ({err})") from None
        if count <= 0 or weight != sign * count:
            raise ValueError(
                f"MANC table {path}, line {line}: eff_weight {weight} is not "
                f"{row[transmitter_column]} sign x syn_count {count}"
            )
        rows.append(row)
    if not rows:
        raise ValueError(f"MANC table {path} has no rows")
    return rows


def _fiedler_sides(mns: list[str], edges: list[dict]) -> dict[str, int]:
    """Split MNs into two halves (0/1) by the Fiedler vector of their IN co-input graph."""
    mi = {b: i for i, b in enumerate(mns)}
    ins = sorted({r["source_bid"] for r in edges})
    ii = {b: i for i, b in enumerate(ins)}
    a = np.zeros((len(ins), len(mns)))
    for r in edges:
        a[ii[r["source_bid"]], mi[r["target_bid"]]] += int(r["syn_count"])
    a = np.log1p(a)
    s = a.T @ a
    np.fill_diagonal(s, 0.0)
    d = s.sum(1).clip(1e-12)
    lap = np.eye(len(mns)) - s / np.sqrt(np.outer(d, d))
    _, vec = np.linalg.eigh(lap)
    return {b: int(vec[mi[b], 1] > 0) for b in mns}


def build_manc(manc_dir: str | os.PathLike) -> VNCNetwork:
    """Compile the MANC DN -> IN -> MN network of T1-T3 from ``manc_dir`` (see module docstring).

    ``dn_input`` has one entry per descending neuron (``net.dn_names``, sorted by body id).
    """
    root = Path(manc_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"MANC folder {root} does not exist (or is not a folder)")
    core = load_core_cpg()
    neurons: dict[str, tuple[str, str]] = {}  # bid -> (type, class)

    def add(bid: str, typ: str, cls: str, where: str) -> None:
        if cls not in CLASS_NAMES:
            raise ValueError(f"{where}: unknown neuron class {cls!r} of body {bid}")
        if neurons.setdefault(bid, (typ, cls)) != (typ, cls):
            raise ValueError(f"{where}: body {bid} is {(typ, cls)} here, {neurons[bid]} elsewhere")

    edges: list[tuple[str, str, float, str]] = []
    per_neuromere, motor_rows = {}, []
    for nm in NEUROMERES:
        dn_path = root / f"data_set_intrinsic_{nm}.csv"
        mn_path = root / f"data_intrinsic_motor_{nm}.csv"
        dn_rows = read_table(dn_path, DN_IN_COLUMNS, "nt_type")
        mn_rows = read_table(mn_path, IN_MN_COLUMNS, "source_type")
        for rows, path in ((dn_rows, dn_path), (mn_rows, mn_path)):
            for r in rows:
                add(r["source_bid"], r["source_name"], r["source_class"], str(path))
                add(r["target_bid"], r["target_name"], r["target_class"], str(path))
                edges.append((r["source_bid"], r["target_bid"], float(r["eff_weight"]),
                              f"{r['source_name']}->{r['target_name']}"))  # fmt: skip
        motor_rows += mn_rows
        per_neuromere[nm] = {
            "dn_to_in": {
                "n_dn": len({r["source_bid"] for r in dn_rows}),
                "n_in": len({r["target_bid"] for r in dn_rows}),
                "n_edges": len(dn_rows),
            },
            "in_to_mn": {
                "n_in": len({r["source_bid"] for r in mn_rows}),
                "n_mn": len({r["target_bid"] for r in mn_rows}),
                "n_edges": len(mn_rows),
            },
        }

    # sides of the leg MNs, per leg segment
    muscle_of = {r["target_bid"]: r["target_muscle"] for r in motor_rows}
    side_of: dict[str, str] = {}
    core_types = dict(zip(("DNg100", "E1", "E2", "I1"), core["manc_type"], strict=True))
    core_types["DNg100"] = core["manc_type_alias"].get("DNg100", "DNg100")
    dn_left = str(core["manc_body_id_t1_left"][0])
    core_side: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)  # (seg, side) -> cell->bid
    orientation = {}
    for prefix, seg in LEG_MN_PREFIX.items():
        rows = [r for r in motor_rows if r["target_name"].startswith(prefix)]
        if not rows:
            continue
        mns = sorted({r["target_bid"] for r in rows})
        if len(mns) < 2:
            raise ValueError(
                f"MANC folder {root}: one {prefix}* motor neuron (body {mns[0]}); splitting a "
                "leg's motor neurons into left and right needs at least 2"
            )
        half = _fiedler_sides(mns, rows)
        # core INs: the half that receives most of their MN synapses
        in_half: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(2))
        for r in rows:
            if r["source_name"] in (core_types["E1"], core_types["E2"], core_types["I1"]):
                in_half[r["source_bid"]][half[r["target_bid"]]] += int(r["syn_count"])
        # the E1 that DNg100 body 10093 drives in this segment's neuromere is on the left
        nm = NEUROMERES["FMH".index(seg)]
        e1_left = [e for e in edges if e[0] == dn_left and neurons[e[1]][0] == core_types["E1"]
                   and e[1] in in_half]  # fmt: skip
        if e1_left:
            e1 = max(e1_left, key=lambda e: e[2])[1]
            left_half, orientation[nm] = int(np.argmax(in_half[e1])), "DNg100 10093 -> E1"
        else:
            left_half, orientation[nm] = 0, "arbitrary (no E1 driven by DNg100 10093)"
        for b, h in half.items():
            side_of[b] = ("L" if h == left_half else "R") + seg
        for b, syn in in_half.items():
            side = ("L" if int(np.argmax(syn)) == left_half else "R") + seg
            cell = [c for c, t in core_types.items() if t == neurons[b][0]][0]
            core_side[(nm, side)][cell] = b

    # core CPG recurrent IN -> IN edges inside each hemineuromere
    counts = np.asarray(core["synapse_counts_pre_by_post"])
    cells = ("DNg100", "E1", "E2", "I1")
    n_core, incomplete = 0, []
    for (nm, side), found in sorted(core_side.items()):
        if not all(c in found for c in ("E1", "E2", "I1")):
            incomplete.append(f"{nm}{side}")
            continue
        for i in range(1, 4):
            for j in range(1, 4):
                if counts[i, j]:
                    pre, post = found[cells[i]], found[cells[j]]
                    group = f"{neurons[pre][0]}->{neurons[post][0]}"
                    edges.append((pre, post, float(counts[i, j]), group))
                    n_core += 1

    # motor pools per (leg, joint, role)
    groups = pool_groups()
    role_of = {m: k for k, muscles in groups.items() for m in muscles}
    members: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for b, leg in side_of.items():
        if muscle_of[b] in role_of:
            members[(leg, *role_of[muscle_of[b]])].append(b)
    pools = []
    for (leg, dof, role), bids in sorted(members.items()):
        joint = LEG_JOINTS.index(f"joint_{leg}{dof}")
        names = tuple(f"{neurons[b][0]}#{b}" for b in sorted(bids, key=int))
        pools.append(Pool(f"{leg} {dof} {role}", joint, 1.0 if role == "swing" else -1.0, names))

    if not pools:
        prefixes = ", ".join(f"{p}*" for p in LEG_MN_PREFIX)
        raise ValueError(
            f"MANC folder {root}: no leg motor neuron ({prefixes}) innervates a muscle of "
            "muscle_joint_table.csv; the network would drive no joint"
        )
    bids = sorted(neurons, key=int)
    classes = [neurons[b][1] for b in bids]
    type_params = core_type_params(core)
    type_params[core_types["DNg100"]] = type_params.pop(core["manc_type"][0])
    strength = {g: float(core["weight_per_synapse"]) for *_, g in edges}
    name = {b: f"{neurons[b][0]}#{b}" for b in bids}
    return compile_network(
        f"manc_v1.0:{root.name}",
        [(name[b], neurons[b][0], neurons[b][1]) for b in bids],
        [(name[p], name[q], c, g) for p, q, c, g in edges],
        dn_names=[name[b] for b in bids if neurons[b][1] == "descending"],
        pools=pools,
        type_params=type_params,
        group_strength=strength,
        counts={
            "per_neuromere": per_neuromere,
            "n_per_class": {c: classes.count(c) for c in sorted(set(classes))},
            "n_core_cpg_edges": n_core,
            "core_cpg_incomplete": incomplete,
            "n_leg_mn_sided": len(side_of),
            "n_pooled_mn": sum(len(p.members) for p in pools),
            "side_orientation": orientation,
        },
    )
