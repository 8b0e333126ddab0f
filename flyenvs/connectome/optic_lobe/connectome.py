"""Compile flyvis's average-filter connectome (fib25-fib19 v2.2) into index arrays.

This reproduces ``flyvis.connectome.ConnectomeFromAvgFilters`` (flyvis 1.2.0, extent 15,
n_syn_fill 1) and the parameter sharing of ``flyvis.network.Network`` without depending on flyvis:

- Nodes: for each cell type in JSON order, every hexagonal column ``(u, v)`` with
  ``|u|, |v|, |u + v| <= extent`` (u ascending, then v ascending) whose coordinates are divisible by
  the type's strides (``[1, 1]`` for all but Lawf1/Lawf2, ``[3, 2]`` for those two). The column
  order is the eye's, from its one definition :func:`flyenvs.vision.lattice.hex_coords`: column i
  of the eyes' readout feeds column i here.
- Filters: each JSON edge spec lists column offsets ``(du, dv)`` (from the presynaptic to the
  postsynaptic column) with mean synapse counts; specs with 3 or more offsets get every lattice
  point inside the convex hull of their offsets added with 1 synapse (flyvis's ``fill_hull``).
- Edges: for each spec, each offset (reported, then filled) and each presynaptic node in node
  order, an edge to the node of the target type at ``(u + du, v + dv)`` if it exists.
- Sharing (pandas ``groupby(sort=False)``, so first-appearance order): one resting potential and
  time constant per cell type, one sign and one strength per connected type pair, one synapse
  count per filter row ``(source type, target type, du, dv)`` that has at least one edge.

Source: Lappalainen et al., Nature 2024 (flyvis, MIT); connectome from FlyEM FIB-25 / FIB-19.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flyenvs._paths import asset_path
from flyenvs.vision.lattice import EXTENT, hex_coords

#: The connectome file shipped in ``assets/connectome/`` (copied from the flyvis 1.2.0 wheel).
CONNECTOME_FILE = "fib25-fib19_v2.2.json"
#: flyvis's default synapse count given to hull-filled offsets (the default lattice radius is the
#: eye's ``EXTENT`` = 15 columns).
N_SYN_FILL = 1.0

#: The optic lobe's name for the eye's column order (the same function, not a copy):
#: ``hex_columns(extent)`` -> int32 (u, v) [1 + 3 extent (extent + 1)], ValueError if extent < 0.
hex_columns = hex_coords


@dataclass(frozen=True, eq=False)
class Connectome:
    """The compiled graph: node table, edge table, filter-row table and type-pair table (numpy).

    Shapes: N neurons, E edges, R filter rows, P type pairs, K = 65 cell types, C = 721 columns.
    """

    cell_types: tuple[str, ...]  # [K] in JSON order (= flyvis's parameter order)
    input_types: tuple[str, ...]  # the 8 photoreceptor types R1-R8
    intermediate_types: tuple[str, ...]  # 23 intrinsic types (JSON order)
    output_types: tuple[str, ...]  # 34 output (decoded) types
    extent: int
    column_u: np.ndarray  # [C] int32, u of each column in flyvis order
    column_v: np.ndarray  # [C] int32
    node_type: np.ndarray  # [N] int32 index into cell_types
    node_u: np.ndarray  # [N] int32
    node_v: np.ndarray  # [N] int32
    edge_source: np.ndarray  # [E] int32 presynaptic node (flyvis edge order)
    edge_target: np.ndarray  # [E] int32 postsynaptic node
    edge_row: np.ndarray  # [E] int32 filter row of each edge
    row_pair: np.ndarray  # [R] int32 type pair of each filter row
    row_du: np.ndarray  # [R] int32 column offset u_target - u_source
    row_dv: np.ndarray  # [R] int32
    row_n_syn: np.ndarray  # [R] float32 mean synapse count (flyvis's exp(log(n)) in float32)
    pair_source: np.ndarray  # [P] int32 presynaptic cell type
    pair_target: np.ndarray  # [P] int32 postsynaptic cell type
    pair_sign: np.ndarray  # [P] float32 +1 (excitatory) or -1 (inhibitory)
    input_index: np.ndarray  # [8, C] int32 node of each input type at each column
    #: True while every edge of a filter row joins columns at the row's offset (the compiled
    #: connectome); False for a rewired graph (``shuffle.shuffled``), computed edge by edge.
    convolutional: bool = True

    @property
    def n_neurons(self) -> int:
        return int(self.node_type.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_source.shape[0])

    @property
    def n_rows(self) -> int:
        return int(self.row_pair.shape[0])

    @property
    def n_pairs(self) -> int:
        return int(self.pair_source.shape[0])

    @property
    def n_columns(self) -> int:
        return int(self.column_u.shape[0])

    @property
    def edge_sign(self) -> np.ndarray:
        """[E] float32 sign of each edge."""
        return self.pair_sign[self.row_pair[self.edge_row]]


def fill_hull(offsets: list, n_syn_fill: float) -> list:
    """flyvis's ``fill_hull``: add every lattice offset inside the offsets' convex hull.

    ``offsets`` is a list of ``[[du, dv], n_syn]``; the reported ones come first, then the filled
    ones (grid order: du ascending, then dv) with ``n_syn_fill`` synapses. Same scipy Qhull call and
    matplotlib point-in-polygon test as flyvis, so boundary points are decided identically.
    """
    import matplotlib.path as mp
    import scipy.spatial as ss

    known = np.array([o[0] for o in offsets])
    known_set = set(map(tuple, known.tolist()))
    hull = ss.ConvexHull((1 + 1e-6) * known, False, "QJ")
    vertices = known[hull.vertices]
    grid = np.concatenate(
        np.dstack(
            np.mgrid[
                known[:, 0].min() : known[:, 0].max() + 1,
                known[:, 1].min() : known[:, 1].max() + 1,
            ]
        )
    )
    inside = grid[mp.Path(vertices).contains_points(grid)]
    return offsets + [[[int(u), int(v)], n_syn_fill] for u, v in inside if (u, v) not in known_set]


def _flyvis_n_syn(n_syn: np.ndarray) -> np.ndarray:
    """flyvis stores log(n) in float32 and uses exp of it: reproduce that rounding."""
    log_n = np.log(n_syn.astype(np.float32))  # float32, as flyvis's parameter
    return np.exp(log_n.astype(np.float64)).astype(np.float32)


def compile_connectome(
    path: str | Path | None = None, extent: int = EXTENT, n_syn_fill: float = N_SYN_FILL
) -> Connectome:
    """Compile the JSON connectome (``assets/connectome/fib25-fib19_v2.2.json`` by default).

    Raises:
        FileNotFoundError: the file is missing (the message names it).
        ValueError: it is not JSON, or not a flyvis connectome (a key, a node's ``pattern``, an
            edge's ``src``/``tar``/``alpha``/``offsets`` missing or malformed); the message
            starts ``corrupt optic-lobe connectome <path>:``.
    """
    path = Path(path) if path is not None else asset_path("connectome", CONNECTOME_FILE)
    try:
        spec = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"corrupt optic-lobe connectome {path}: not JSON ({err})") from err
    for key in ("nodes", "edges", "input_units", "output_units"):
        if not isinstance(spec, dict) or key not in spec:
            raise ValueError(f"{path} is not a flyvis connectome: missing key {key!r}")
    try:
        return _compile(spec, extent, n_syn_fill)
    except (KeyError, TypeError, IndexError, ValueError) as err:
        raise ValueError(
            f"corrupt optic-lobe connectome {path}: {type(err).__name__}: {err}"
        ) from err


def _compile(spec: dict, extent: int, n_syn_fill: float) -> Connectome:
    """:func:`compile_connectome` of the parsed JSON ``spec``."""
    cell_types = tuple(n["name"] for n in spec["nodes"])
    type_id = {t: i for i, t in enumerate(cell_types)}
    inputs = tuple(spec["input_units"])
    outputs = tuple(spec["output_units"])
    intermediate = tuple(t for t in cell_types if t not in inputs and t not in outputs)
    col_u, col_v = hex_coords(extent)

    # Nodes, and a lookup [type, u + extent, v + extent] -> node (or -1).
    width = 2 * extent + 1
    lookup = np.full((len(cell_types), width, width), -1, np.int64)
    node_type, node_u, node_v = [], [], []
    for k, n in enumerate(spec["nodes"]):
        pattern, args = n["pattern"]
        if pattern == "stride":
            su, sv = args
        elif pattern == "tile":
            su = sv = args
        elif pattern == "single":
            su = sv = 1
        else:
            raise ValueError(f"unknown node pattern {pattern!r} for {n['name']}")
        if pattern == "single":
            keep = (col_u == 0) & (col_v == 0)
        else:
            keep = (col_u % su == 0) & (col_v % sv == 0)
        u, v = col_u[keep], col_v[keep]
        lookup[k, u + extent, v + extent] = len(node_type) + np.arange(len(u))
        node_type.extend([k] * len(u))
        node_u.extend(u.tolist())
        node_v.extend(v.tolist())
    node_type = np.asarray(node_type, np.int32)
    node_u = np.asarray(node_u, np.int32)
    node_v = np.asarray(node_v, np.int32)
    nodes_of_type = [np.flatnonzero(node_type == k) for k in range(len(cell_types))]

    # Edges, in flyvis's order; rows and pairs in first-appearance order.
    sources, targets, rows = [], [], []
    row_key: dict[tuple[int, int, int, int], int] = {}
    row_n_syn: list[float] = []
    pair_key: dict[tuple[int, int], int] = {}
    pair_sign: list[float] = []
    row_pair, row_du, row_dv = [], [], []
    for e in spec["edges"]:
        offsets = e["offsets"]
        if n_syn_fill > 0 and len(offsets) >= 3:
            offsets = fill_hull(offsets, n_syn_fill)
        s, t = type_id[e["src"]], type_id[e["tar"]]
        src = nodes_of_type[s]
        for (du, dv), n_syn in offsets:
            tu = node_u[src] + du + extent
            tv = node_v[src] + dv + extent
            ok = (tu >= 0) & (tu < width) & (tv >= 0) & (tv < width)
            tgt = np.full(len(src), -1, np.int64)
            tgt[ok] = lookup[t, tu[ok], tv[ok]]
            hit = tgt >= 0
            if not hit.any():
                continue
            if (s, t) not in pair_key:
                pair_key[(s, t)] = len(pair_key)
                pair_sign.append(float(e["alpha"]))
            key = (s, t, int(du), int(dv))
            if key in row_key:  # never happens in v2.2 (offsets are unique per spec)
                raise ValueError(f"duplicate filter row {key}")
            row_key[key] = len(row_key)
            row_pair.append(pair_key[(s, t)])
            row_du.append(int(du))
            row_dv.append(int(dv))
            row_n_syn.append(float(n_syn))
            sources.append(src[hit])
            targets.append(tgt[hit])
            rows.append(np.full(int(hit.sum()), row_key[key], np.int32))

    pairs = np.asarray(list(pair_key), np.int32).reshape(-1, 2)
    input_index = np.stack([nodes_of_type[type_id[t]] for t in inputs]).astype(np.int32)
    if input_index.shape[1] != len(col_u):
        raise ValueError("input cell types must tile every column")
    return Connectome(
        cell_types=cell_types,
        input_types=inputs,
        intermediate_types=intermediate,
        output_types=outputs,
        extent=extent,
        column_u=col_u,
        column_v=col_v,
        node_type=node_type,
        node_u=node_u,
        node_v=node_v,
        edge_source=np.concatenate(sources).astype(np.int32),
        edge_target=np.concatenate(targets).astype(np.int32),
        edge_row=np.concatenate(rows),
        row_pair=np.asarray(row_pair, np.int32),
        row_du=np.asarray(row_du, np.int32),
        row_dv=np.asarray(row_dv, np.int32),
        row_n_syn=_flyvis_n_syn(np.asarray(row_n_syn)),
        pair_source=pairs[:, 0].copy(),
        pair_target=pairs[:, 1].copy(),
        pair_sign=np.asarray(pair_sign, np.float32),
        input_index=input_index,
    )
