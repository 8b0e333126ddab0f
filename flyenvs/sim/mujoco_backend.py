"""C MuJoCo backend (numpy, ``mujoco.mj_step``).

Ownership: :meth:`MujocoBackend.step` consumes its input state: it advances that ``MjData`` in
place and returns it (``state = backend.step(state, ...)``, as on MJX). Copying an ``MjData``
through the Python bindings costs ~0.7 ms, 15x a physics step, so a snapshot is explicit:
:meth:`MujocoBackend.copy_state`. Readouts are fresh numpy arrays, never views into the state.
"""

from __future__ import annotations

import copy
from typing import Any

import mujoco
import numpy as np

from flyenvs.body import constants as C
from flyenvs.body.layout import Layout, layout
from flyenvs.sim import common
from flyenvs.sim.base import UNSTABLE_WARNINGS, Readout


def check_controls(ctrl: Any, adhesion: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 copies of ``ctrl`` [42] and ``adhesion`` [6] (ValueError otherwise)."""
    ctrl = np.asarray(ctrl, dtype=np.float64)
    adhesion = np.asarray(adhesion, dtype=np.float64)
    if ctrl.shape != (C.N_LEG_JOINTS,):
        raise ValueError(f"ctrl must have shape ({C.N_LEG_JOINTS},), got {ctrl.shape}")
    if adhesion.shape != (C.N_ADHESION,):
        raise ValueError(f"adhesion must have shape ({C.N_ADHESION},), got {adhesion.shape}")
    if not np.all(np.isfinite(ctrl)):
        raise ValueError(f"ctrl (shape ({C.N_LEG_JOINTS},)) holds NaN or inf")
    if not np.all(np.isfinite(adhesion)):
        raise ValueError(f"adhesion (shape ({C.N_ADHESION},)) holds NaN or inf")
    if np.any(adhesion < 0) or np.any(adhesion > 1):
        raise ValueError(f"adhesion (shape ({C.N_ADHESION},)) must lie in [0, 1]")
    return ctrl, adhesion


class MujocoBackend:
    """The :class:`~flyenvs.sim.base.Backend` on C MuJoCo.

    Args:
        model: a fly model from :func:`flyenvs.body.load` (kept by reference; do not modify).
    """

    def __init__(self, model: mujoco.MjModel) -> None:
        common.check_model(model)
        self.model = model
        self.layout = layout(model)
        self.timestep_s = float(model.opt.timestep)

    def init(self, qpos: Any, qvel: Any | None = None) -> mujoco.MjData:
        """New ``MjData`` at ``qpos`` [nq], ``qvel`` [nv] (default 0), forward dynamics applied."""
        qpos = np.asarray(qpos, dtype=np.float64)
        qvel = np.zeros(self.model.nv) if qvel is None else np.asarray(qvel, dtype=np.float64)
        if qpos.shape != (self.model.nq,) or qvel.shape != (self.model.nv,):
            raise ValueError(
                f"qpos/qvel must have shapes ({self.model.nq},)/({self.model.nv},), "
                f"got {qpos.shape}/{qvel.shape}"
            )
        if not (np.all(np.isfinite(qpos)) and np.all(np.isfinite(qvel))):
            raise ValueError("qpos/qvel hold NaN or inf")
        data = mujoco.MjData(self.model)
        data.qpos[:] = qpos
        data.qvel[:] = qvel
        data.ctrl[:] = qpos[self.layout.leg_qpos_adr]  # hold the initial pose
        mujoco.mj_forward(self.model, data)
        return data

    def copy_state(self, state: mujoco.MjData) -> mujoco.MjData:
        """An independent copy of ``state`` (a snapshot that later steps do not touch)."""
        return copy.copy(state)

    def step(self, state: mujoco.MjData, ctrl: Any, adhesion: Any, n_substeps: int) -> Any:
        """Advance ``state`` in place by ``n_substeps`` steps holding ``ctrl`` [42] (joint
        targets, rad; clamped to the actuator ctrlrange) and ``adhesion`` [6] (in [0, 1]);
        returns ``state``. Inputs are validated before ``state`` is touched. The readout's
        ``unstable`` is 1.0 once MuJoCo has flagged (and reset) a bad state since :meth:`init`
        made ``state`` (its warning counters start at 0 and only a new state clears them)."""
        ctrl, adhesion = check_controls(ctrl, adhesion)
        if int(n_substeps) < 1:
            raise ValueError(f"n_substeps must be >= 1, got {n_substeps}")
        m, data = self.model, state
        data.ctrl[:] = ctrl
        data.xfrc_applied[:] = 0.0
        if not adhesion.any():  # the rule's wrench is zero: plain steps
            for _ in range(int(n_substeps)):
                mujoco.mj_step(m, data)
        else:
            for _ in range(int(n_substeps)):
                mujoco.mj_step1(m, data)  # positions, contacts, velocities of this state
                data.xfrc_applied[:] = self._adhesion_xfrc(data, adhesion)
                mujoco.mj_step2(m, data)  # actuation, constraints, integration
        # Derived quantities (contacts, forces, sites) at the final state, for the readout. The
        # next step recomputes all of them, so how steps are grouped into calls never matters.
        mujoco.mj_forward(m, data)
        return data

    def _adhesion_xfrc(self, data: mujoco.MjData, adhesion: np.ndarray) -> np.ndarray:
        """:func:`common.adhesion_xfrc` [nbody, 6] from ``data``'s current contacts."""
        n, con = data.ncon, data.contact
        return common.adhesion_xfrc(
            np, self.layout, adhesion, con.geom[:n], con.dist[:n], con.pos[:n], data.xipos,
            self.model.nbody,
        )  # fmt: skip

    def readout(self, state: mujoco.MjData) -> Readout:
        """Observables of ``state`` as fresh numpy arrays (see :class:`Readout`).

        All fields refer to the same instant: ``step`` ends with a forward pass at the final
        state (identically on MJX).
        """
        return data_readout(self.layout, state)


def clear_unstable_warnings(data: mujoco.MjData) -> None:
    """Zero the counters of :data:`~flyenvs.sim.base.UNSTABLE_WARNINGS` (diagnostics only:
    the physics does not read them)."""
    for w in UNSTABLE_WARNINGS:
        data.warning[w].number = 0


def unstable_flag(data: mujoco.MjData) -> float:
    """1.0 if a warning of :data:`~flyenvs.sim.base.UNSTABLE_WARNINGS` was counted since the
    counters were last cleared (a new ``MjData``, :func:`clear_unstable_warnings`), else 0.0."""
    return float(any(data.warning[w].number > 0 for w in UNSTABLE_WARNINGS))


def data_readout(lay: Layout, data: mujoco.MjData) -> Readout:
    """The :class:`Readout` of an ``MjData`` after a forward pass, as fresh float64 numpy arrays
    (also for the batched engine's data, whose model adds only actuators)."""
    n, con = data.ncon, data.contact
    force = common.touching_normal_force(np, data.efc_force, con.efc_address[:n], con.dist[:n])
    tarsus_force, body_contact = common.tarsus_and_body_contact(np, lay, con.geom[:n], force)
    r = common.make_readout(
        np,
        lay,
        time=np.float64(data.time),
        qpos=data.qpos,
        qvel=data.qvel,
        xmat=data.xmat,
        site_xpos=data.site_xpos,
        site_xmat=data.site_xmat,
        tarsus_force=tarsus_force,
        body_contact=body_contact,
    )
    r = r._replace(unstable=unstable_flag(data))
    return Readout(*(np.array(x, dtype=np.float64, copy=True) for x in r))
