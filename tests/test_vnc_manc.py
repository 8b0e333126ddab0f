"""The full MANC VNC network built from ../shared/data (test-only reference tables)."""

from __future__ import annotations

import csv
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import flyenvs.connectome.vnc as vnc
from flyenvs.body.constants import N_LEG_JOINTS
from flyenvs.connectome.vnc.manc import DN_IN_COLUMNS, read_table


@pytest.fixture(scope="module")
def manc_dir(shared_data) -> Path:
    path = shared_data / "manc_vnc_networks"
    if not path.is_dir():
        pytest.skip(f"MANC tables {path} are absent")
    return path


@pytest.fixture(scope="module")
def manc_net(manc_dir) -> vnc.VNCNetwork:
    return vnc.build(manc_dir=manc_dir)


def table_counts(path: Path) -> tuple[int, int, int]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return len({r["source_bid"] for r in rows}), len({r["target_bid"] for r in rows}), len(rows)


def test_t1_counts_match_the_published_figures(manc_net):
    t1 = manc_net.summary()["per_neuromere"]["T1"]
    assert t1["dn_to_in"] == {"n_dn": 1298, "n_in": 3083, "n_edges": 35795}
    assert t1["in_to_mn"] == {"n_in": 2144, "n_mn": 578, "n_edges": 14878}


@pytest.mark.parametrize("neuromere", ["T1", "T2", "T3"])
def test_counts_per_neuromere_match_the_tables(manc_net, manc_dir, neuromere):
    counts = manc_net.summary()["per_neuromere"][neuromere]
    n_dn, n_in, n_e = table_counts(manc_dir / f"data_set_intrinsic_{neuromere}.csv")
    assert counts["dn_to_in"] == {"n_dn": n_dn, "n_in": n_in, "n_edges": n_e}
    n_in, n_mn, n_e = table_counts(manc_dir / f"data_intrinsic_motor_{neuromere}.csv")
    assert counts["in_to_mn"] == {"n_in": n_in, "n_mn": n_mn, "n_edges": n_e}


def test_graph_totals_and_classes(manc_net):
    s = manc_net.summary()
    table_edges = sum(
        c["dn_to_in"]["n_edges"] + c["in_to_mn"]["n_edges"] for c in s["per_neuromere"].values()
    )
    assert manc_net.n_edges == table_edges + s["n_core_cpg_edges"]
    assert sum(s["n_per_class"].values()) == manc_net.n_neurons
    assert manc_net.n_dn == s["n_per_class"]["descending"]
    # every hemineuromere but T3 left (its I1 makes no leg-MN synapse) gets the 6 core IN edges
    assert s["core_cpg_incomplete"] == ["T3LH"] and s["n_core_cpg_edges"] == 5 * 6
    assert set(s["side_orientation"].values()) == {"DNg100 10093 -> E1"}
    signs = np.sign(manc_net.edge_count)
    assert np.all(signs != 0)


def test_core_cpg_edges_of_t1_left(manc_net):
    params = manc_net.init_params()
    w = jnp.abs(params["strength"])[manc_net.edge_group] * manc_net.edge_count
    pairs = {
        (manc_net.neuron_names[p], manc_net.neuron_names[q]): float(x)
        for p, q, x in zip(manc_net.edge_pre, manc_net.edge_post, np.asarray(w), strict=True)
    }
    assert pairs[("DNxl058#10093", "IN17A001#10707")] == pytest.approx(0.03 * 187)
    assert pairs[("IN17A001#10707", "INXXX466#11751")] == pytest.approx(0.03 * 539)
    assert pairs[("IN16B036#13905", "IN17A001#10707")] == pytest.approx(-0.03 * 531)
    assert pairs[("INXXX466#11751", "IN16B036#13905")] == pytest.approx(0.03 * 71)


def test_inferred_sides_match_t1_soma_sides(manc_net, shared_data):
    """The Fiedler split of the leg MNs against the soma sides of Pugliese et al.'s T1 table."""
    path = shared_data / "manc_pugliese2025" / "manc_t1_neurons_wTable_20250813.csv"
    with path.open(newline="") as f:
        side = {r["bodyId"]: r["somaSide"] for r in csv.DictReader(f)}
    agree = total = 0
    for name, members in zip(manc_net.pool_names, _pool_members(manc_net), strict=True):
        leg = name.split()[0]
        if leg[1] != "F":
            continue
        for neuron in members:
            bid = neuron.split("#")[1]
            if side.get(bid) in ("LHS", "RHS"):
                total += 1
                agree += side[bid][0] == leg[0]
    assert total > 100 and agree / total >= 0.95


def _pool_members(net: vnc.VNCNetwork) -> list[list[str]]:
    members: list[list[str]] = [[] for _ in range(net.n_pools)]
    for neuron, pool in zip(net.pool_neurons, net.pool_id, strict=True):
        members[pool].append(net.neuron_names[neuron])
    return members


def test_manc_step_and_motor_output(manc_net):
    params, state = manc_net.init_params(), manc_net.init_state()
    drive = jnp.zeros(manc_net.n_dn)
    for name in ("DNxl058#10093", "DNxl058#10339"):
        drive = drive.at[manc_net.dn_names.index(name)].set(250.0)
    step = jax.jit(manc_net.step, static_argnums=3)
    for _ in range(50):
        state = step(params, state, drive, 1e-3)
    rates = np.asarray(state.rates_hz)
    assert np.isfinite(rates).all() and rates.max() > 0
    assert rates[manc_net.index("IN17A001#10707")] > 0
    q = np.asarray(manc_net.motor_output(state, params))
    assert q.shape == (N_LEG_JOINTS,) and np.isfinite(q).all()
    with pytest.raises(ValueError, match="dn_input must have shape"):
        manc_net.step(params, state, jnp.zeros(6), 1e-3)


# --------------------------------------------------------------- bad tables
def _copy_head(src: Path, dst: Path, n_lines: int = 300) -> None:
    with src.open() as f:
        dst.write_text("".join(line for _, line in zip(range(n_lines), f, strict=False)))


def test_missing_folder_or_table_is_a_clear_error(manc_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        vnc.build(manc_dir=tmp_path / "nowhere")
    for name in ("data_set_intrinsic_T1.csv", "data_intrinsic_motor_T1.csv"):
        _copy_head(manc_dir / name, tmp_path / name)
    with pytest.raises(FileNotFoundError, match="data_set_intrinsic_T2.csv not found"):
        vnc.build(manc_dir=tmp_path)


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (lambda r: {**r, "syn_count": "many"}, "line 4: bad row"),
        (lambda r: {**r, "eff_weight": str(-int(r["eff_weight"]))}, "line 4: eff_weight"),
        (lambda r: {**r, "nt_type": "dopamine"}, "line 4: bad row"),
        (lambda r: {k: v for k, v in r.items() if k != "target_bid"}, "lacks columns"),
    ],
)
def test_corrupt_table_is_a_clear_error(manc_dir, tmp_path, corrupt, match):
    with (manc_dir / "data_set_intrinsic_T1.csv").open(newline="") as f:
        rows = [r for _, r in zip(range(5), csv.DictReader(f), strict=False)]
    rows[2] = corrupt(rows[2])
    fields = [k for k in rows[0] if k in rows[2]]
    path = tmp_path / "data_set_intrinsic_T1.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(ValueError, match=match):
        read_table(path, DN_IN_COLUMNS, "nt_type")
