"""How the connectome Walk policy's DN readout (:mod:`agents.connectome_walk`) is wired to its
inputs: which observation columns it reads and their mirror image (``readout_obs``,
``readout_symmetry``), the left-right swap of descending neurons and legs, and the ascending
pathway's starting weights (``ascending_cell``, ``ascending_coupling``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from flyenvs.body import constants

#: Observation entries whose mirror image (the fly reflected left-right) is known: the signs
#: of their columns. Walk's command: the speed is kept, the turn rate (left positive) negated.
MIRROR_SIGNS: dict[str, tuple[float, ...]] = {"command": (1.0, -1.0)}


def dn_mirror(names: tuple[str, ...]) -> np.ndarray:
    """The left-right swap of descending neurons named ``<type>_<L|R><leg>`` (e.g.
    ``DNg100_LF`` <-> ``DNg100_RF``): index array [n_dn]. Raises ValueError for a name whose
    mirror partner is missing."""
    index = {n: i for i, n in enumerate(names)}
    swap = []
    for n in names:
        head, _, side = n.rpartition("_")
        partner = f"{head}_{dict(L='R', R='L').get(side[:1], '?')}{side[1:]}"
        if partner not in index:
            raise ValueError(f"descending neuron {n!r} has no mirror partner {partner!r}")
        swap.append(index[partner])
    return np.asarray(swap)


#: ``ascending_coupling`` of :class:`agents.connectome_walk.VNCWalkPolicy`: for each leg, the
#: leg whose ascending cell its descending neurons read at the start (same side).
ASCENDING_COUPLINGS: dict[str, dict[str, str]] = {
    "anterior": {"F": "H", "M": "F", "H": "M"},
    "posterior": {"F": "M", "M": "H", "H": "F"},
    "same": {"F": "F", "M": "M", "H": "H"},
}


#: :data:`constants.LEGS`' left-right swap (LF <-> RF, ...).
LEG_MIRROR = np.array([constants.LEGS.index(("R" if g[0] == "L" else "L") + g[1])
                        for g in constants.LEGS])  # fmt: skip


def ascending_init(
    network: Any, cell: str, coupling: str, gain: float
) -> tuple[np.ndarray, np.ndarray]:
    """The ascending input of the DN readout: the indices [6] of ``<cell>_<leg>`` among the
    network's neurons (``constants.LEGS`` order) and the initial weights [6, n_dn]: ``gain`` from
    the leg :data:`ASCENDING_COUPLINGS` names onto each descending neuron ``<type>_<leg>``,
    0 elsewhere. Raises ValueError for a cell the network lacks in some leg, an unknown
    coupling, or a descending neuron not named by its leg."""
    if coupling not in ASCENDING_COUPLINGS:
        raise ValueError(
            f"unknown ascending_coupling {coupling!r}; valid: {sorted(ASCENDING_COUPLINGS)}"
        )
    names = list(network.neuron_names)
    missing = [f"{cell}_{leg}" for leg in constants.LEGS if f"{cell}_{leg}" not in names]
    if missing:
        legs = set(constants.LEGS)
        cells = sorted({n.rpartition("_")[0] for n in names if n.rpartition("_")[2] in legs})
        raise ValueError(
            f"ascending_cell {cell!r}: the network has no {missing}; cell types found in every "
            f"leg's neuromere: {cells}"
        )
    index = np.array([names.index(f"{cell}_{leg}") for leg in constants.LEGS], np.int32)
    init = np.zeros((len(constants.LEGS), len(network.dn_names)), np.float32)
    for j, dn in enumerate(network.dn_names):
        leg = dn.rpartition("_")[2]
        if leg not in constants.LEGS:
            raise ValueError(
                f"ascending coupling needs descending neurons named <type>_<leg>; got {dn!r}"
            )
        source = leg[0] + ASCENDING_COUPLINGS[coupling][leg[1]]
        init[constants.LEGS.index(source), j] = gain
    return index, init


def readout_columns(
    task: Any, readout_obs: list[str] | None, symmetry: str | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(readout_mask, readout_mirror)`` [observation_size] for
    :class:`agents.connectome_walk.VNCWalkPolicy` on ``task``: the mask is 1 on the columns of
    the entries named in ``readout_obs`` (None: no mask, every column); with ``symmetry``
    ``"bilateral"`` the mirror holds each column's sign in the fly's mirror image
    (:data:`MIRROR_SIGNS`; None: no symmetry). Raises ValueError for a name not observed, an
    entry read under symmetry whose mirror image is unknown, or another ``symmetry``."""
    from flyenvs.tasks.base import observation_columns

    mask = mirror = None
    if readout_obs is not None:  # the names of the observation entries the readout sees
        mask = np.zeros(task.observation_size, np.float32)
        mask[list(observation_columns(task.observation_spec, readout_obs))] = 1.0
    if symmetry == "bilateral":
        unknown = sorted(set(readout_obs or task.observation_spec) - set(MIRROR_SIGNS))
        if unknown:
            raise ValueError(
                f"readout_symmetry='bilateral' needs the mirror image of every entry the "
                f"readout sees; unknown for {unknown} (known: {sorted(MIRROR_SIGNS)}); limit "
                "the readout with readout_obs"
            )
        mirror = np.ones(task.observation_size, np.float32)
        for name, signs in MIRROR_SIGNS.items():
            if name in task.observation_spec:
                mirror[list(observation_columns(task.observation_spec, [name]))] = signs
    elif symmetry is not None:
        raise ValueError(f"readout_symmetry must be None or 'bilateral', got {symmetry!r}")
    return mask, mirror
