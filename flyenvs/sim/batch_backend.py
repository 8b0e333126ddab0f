"""The batched C MuJoCo engine: a batch of fly envs stepped by C MuJoCo on native threads.

:class:`BatchMujocoBackend` steps ``B`` envs through one control step (``K`` schedule entries of
joint targets [B, K, 42] and adhesion [B, K, 6], each held ``n_substeps`` physics steps) without
Python per physics step: adhesion is MuJoCo's native ``<adhesion>`` actuator
(:mod:`flyenvs.sim.native_adhesion`; on the train body it equals the adhesion rule of
:class:`flyenvs.sim.MujocoBackend` to float64 noise), so one ``mj_step(m, d, nstep=n_substeps)``
per entry and env runs in C with the GIL released (measured: a 237 ms ``mj_step`` call left the
main thread's longest wait at 7 ms).

State: the envs' physics state is a float64 array [B, n_state] (MuJoCo's
``mjSTATE_FULLPHYSICS | mjSTATE_WARMSTART``: time, qpos, qvel and the solver's warm start), not
an ``MjData`` per env. Each call loads a state into a thread's scratch ``MjData``
(``mj_setState``), steps it, runs ``mj_forward`` for the readout and stores the new state
(``mj_getState``). That state is all an ``mj_step`` depends on (the scratch data's other inputs:
``ctrl`` is set from the schedule, applied forces stay 0), so a step is a pure function of
(state, controls): the same whatever the thread count or the order the threads take the envs,
and bit-identical to stepping one ``MjData`` per env (it keeps the warm start). The JAX side
(:mod:`flyenvs.sim.host_callback`) keeps these float64 states bit-exactly as uint32 pairs.

Models: the plain train body, or a task's model built from its own MJCF (``build_mjcf``: a
visual task's body plus arena). Mocap poses are not part of the state: a visual task's arena
objects are mocap bodies that only the renderer poses (the eyes see the task's JAX scene), so
the engine requires them to be physics-inert (:func:`check_mocap_inert`) and, as the
Gymnasium and MJX paths, never moves them.

Methods (``method``): ``"rollout"`` (default, 7-13 % faster in two side-by-side runs at batch 32,
docs/performance.md) runs the control step but its last physics step with ``mujoco.rollout``
(controls repeated per physics step); it carries the warm start in, but ``rollout`` does not
return the final one, so the next step starts from the final state's forward-pass ``qacc``
instead (readouts 7e-13 apart from ``"threads"`` after 1 s). ``"threads"`` splits the batch into
``n_threads`` contiguous chunks, one thread each, ``mj_step`` per schedule entry (bit-identical
to one ``MjData`` per env). Either way the last physics step and the readout's forward pass run
per env in :meth:`BatchMujocoBackend._last_substep`.

Divergence: when MuJoCo flags a bad state (``flyenvs.sim.base.UNSTABLE_WARNINGS``) it resets
that env's data; the readout's ``unstable`` is then 1.0 for the control step (warning counters
cleared per env and step; in ``"rollout"``, also when the rolled-out time falls short of the
steps taken), and the task layer ends the episode (docs/reliability.md).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import mujoco
import numpy as np
from dm_control import mjcf

from flyenvs.body import constants as C
from flyenvs.body.layout import layout
from flyenvs.sim import common
from flyenvs.sim.base import READOUT_SHAPES, Readout
from flyenvs.sim.mujoco_backend import clear_unstable_warnings, data_readout
from flyenvs.sim.native_adhesion import check_equivalent_to_rule, native_adhesion_model

#: The state kept per env: what ``mj_step`` depends on besides ``ctrl``.
STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS | mujoco.mjtState.mjSTATE_WARMSTART
METHODS: tuple[str, ...] = ("threads", "rollout")


def check_mocap_inert(model: mujoco.MjModel) -> None:
    """Raise ValueError unless ``model``'s mocap bodies cannot act on the physics.

    The engine keeps no mocap poses: a state is ``STATE_SPEC`` (no ``mocap_pos``/``mocap_quat``)
    and the scratch data hold the model's default poses. That is exact when the mocap bodies
    are scenery (a visual task's arena, posed by the task for the renderer only): nothing is
    attached to them (child bodies, equality constraints), their geoms collide with nothing
    (``contype = conaffinity = 0``, in no ``<pair>``) and no tendon or actuator uses their
    sites. Then moving them leaves every physics step bit-identical (tests/test_batch_backend.py).
    """
    is_mocap = np.asarray(model.body_mocapid) >= 0  # [nbody]
    if not is_mocap.any():
        return
    problems = []
    if np.any(is_mocap[model.body_parentid[1:]]):
        problems.append("a body is attached to a mocap body")
    mocap_geom = is_mocap[model.geom_bodyid]
    paired = np.zeros(model.ngeom, bool)
    paired[np.concatenate([model.pair_geom1, model.pair_geom2])] = True
    colliding = ((model.geom_contype | model.geom_conaffinity) != 0) | paired
    if np.any(mocap_geom & colliding):
        problems.append("a geom of a mocap body can collide")
    mocap_site = is_mocap[model.site_bodyid]
    eq_ids = np.stack([model.eq_obj1id, model.eq_obj2id], axis=1)  # [neq, 2]
    ids, eq_type = np.maximum(eq_ids, 0), model.eq_objtype[:, None]
    held = ((eq_type == mujoco.mjtObj.mjOBJ_BODY) & is_mocap[ids]) | (
        (eq_type == mujoco.mjtObj.mjOBJ_SITE) & mocap_site[ids]
    )
    if np.any(held & (eq_ids >= 0)):
        problems.append("an equality constraint holds a mocap body")
    wrap_site = model.wrap_type == mujoco.mjtWrap.mjWRAP_SITE
    trn_site = np.isin(model.actuator_trntype,
                       [mujoco.mjtTrn.mjTRN_SITE, mujoco.mjtTrn.mjTRN_SLIDERCRANK])  # fmt: skip
    sites = np.concatenate([model.wrap_objid[wrap_site], model.actuator_trnid[trn_site].ravel()])
    if np.any(mocap_site[sites[sites >= 0]]):
        problems.append("a tendon or actuator uses a site of a mocap body")
    if problems:
        raise ValueError(
            "the batched engine keeps no mocap poses, so mocap bodies must be scenery only: "
            + "; ".join(problems)
        )


def _check_batch(name: str, x: Any, shape: tuple[int, ...]) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} (shape {shape}) holds NaN or inf")
    return x


class BatchMujocoBackend:
    """A batch of fly envs on C MuJoCo, stepped on ``n_threads`` native threads.

    Args:
        model: a fly model of the train body (the native adhesion actuators equal the adhesion
            rule there, :func:`flyenvs.sim.native_adhesion.check_equivalent_to_rule`): from
            :func:`flyenvs.body.load`, or a task's model (e.g. with a visual arena) given with
            ``build_mjcf``. Its mocap bodies must not act on the physics
            (:func:`check_mocap_inert`).
        n_threads: worker threads (>= 1); results do not depend on it.
        method: ``"rollout"`` or ``"threads"`` (see the module docstring).
        build_mjcf: the function returning the MJCF tree ``model`` was compiled from (a task's
            ``build_mjcf``); needed when ``model`` is not a plain body
            (:func:`flyenvs.sim.native_adhesion.native_adhesion_model`).
    """

    def __init__(
        self, model: mujoco.MjModel, n_threads: int = 1, method: str = "rollout",
        build_mjcf: Callable[[], mjcf.RootElement] | None = None,
    ) -> None:  # fmt: skip
        common.check_model(model)
        if int(n_threads) < 1:
            raise ValueError(f"n_threads must be >= 1, got {n_threads}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.model = model
        self.native = native_adhesion_model(model, build_mjcf)
        check_equivalent_to_rule(self.native)
        check_mocap_inert(self.native)
        self.layout = layout(model)
        self.n_threads = int(n_threads)
        self.method = method
        self.state_size = int(mujoco.mj_stateSize(self.native, STATE_SPEC))
        self._scratch = [mujoco.MjData(self.native) for _ in range(self.n_threads)]
        self._pool = ThreadPoolExecutor(self.n_threads) if self.n_threads > 1 else None
        self._rollout: Any = None
        if method == "rollout":
            from mujoco import rollout

            self._rollout = rollout.Rollout(nthread=self.n_threads if self.n_threads > 1 else 0)

    def close(self) -> None:
        """Stop the worker threads (the object stays usable single-threaded)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._rollout is not None:
            self._rollout.close()
            self._rollout = None
            self.method = "threads"

    # ------------------------------------------------------------------------------ batch API
    def init(self, qpos: Any, qvel: Any) -> tuple[np.ndarray, Readout]:
        """States [B, state_size] and readouts (fields [B, ...], float64) at ``qpos`` [B, nq],
        ``qvel`` [B, nv], actuators holding the initial leg pose (as ``MujocoBackend.init``)."""
        qpos = np.asarray(qpos, dtype=np.float64)
        b = qpos.shape[0] if qpos.ndim == 2 else -1
        qpos = _check_batch("qpos", qpos, (b, self.model.nq))
        qvel = _check_batch("qvel", qvel, (b, self.model.nv))
        states, out = self._empty(b)

        def work(idx: np.ndarray, d: mujoco.MjData) -> None:
            for i in idx:
                mujoco.mj_resetData(self.native, d)
                d.qpos[:], d.qvel[:] = qpos[i], qvel[i]
                d.ctrl[: C.N_LEG_JOINTS] = qpos[i, self.layout.leg_qpos_adr]
                d.ctrl[C.N_LEG_JOINTS :] = 0.0
                mujoco.mj_forward(self.native, d)
                self._store(d, i, states, out)

        self._map(work, b)
        return states, Readout(*out)

    def step(
        self, states: Any, ctrl: Any, adhesion: Any, n_substeps: int
    ) -> tuple[np.ndarray, Readout]:
        """One control step of the batch: entry k holds ``ctrl[:, k]`` [B, 42] (joint targets,
        rad; clamped to the ctrlrange as MuJoCo does) and ``adhesion[:, k]`` [B, 6] (in [0, 1])
        for ``n_substeps`` physics steps. Returns new states [B, state_size] and readouts of the
        final states (fields [B, ...], float64). Inputs are validated (ValueError) first."""
        states = np.asarray(states, dtype=np.float64)
        b = states.shape[0] if states.ndim == 2 else -1
        states = _check_batch("states", states, (b, self.state_size))
        ctrl = np.asarray(ctrl)
        k = ctrl.shape[1] if ctrl.ndim == 3 else -1
        ctrl = _check_batch("ctrl", ctrl, (b, k, C.N_LEG_JOINTS))
        adhesion = _check_batch("adhesion", adhesion, (b, k, C.N_ADHESION))
        if np.any(adhesion < 0) or np.any(adhesion > 1):
            raise ValueError("adhesion must lie in [0, 1]")
        n = int(n_substeps)
        if n < 1:
            raise ValueError(f"n_substeps must be >= 1, got {n_substeps}")
        controls = np.concatenate([ctrl, adhesion], axis=2)  # [B, K, 48]
        new_states, out = self._empty(b)
        if self.method == "rollout" and b > 0:
            return self._step_rollout(states, controls, n, new_states, out)

        def work(idx: np.ndarray, d: mujoco.MjData) -> None:
            for i in idx:
                mujoco.mj_setState(self.native, d, states[i], STATE_SPEC)
                clear_unstable_warnings(d)
                for u in controls[i, :-1]:
                    d.ctrl[:] = u
                    mujoco.mj_step(self.native, d, nstep=n)
                d.ctrl[:] = controls[i, -1]
                if n > 1:
                    mujoco.mj_step(self.native, d, nstep=n - 1)
                self._last_substep(d, i, new_states, out)

        self._map(work, b)
        return new_states, Readout(*out)

    # ------------------------------------------------------------------------------ internals
    def _empty(self, b: int) -> tuple[np.ndarray, list[np.ndarray]]:
        out = [np.empty((b, *shape)) for shape in READOUT_SHAPES]
        return np.empty((b, self.state_size)), out

    def _map(self, work: Any, b: int) -> None:
        """Run ``work(env indices, scratch data)`` on contiguous chunks, one per thread."""
        chunks = [c for c in np.array_split(np.arange(b), self.n_threads) if c.size]
        if self._pool is None or len(chunks) < 2:
            for c in chunks:
                work(c, self._scratch[0])
            return
        scratch = self._scratch[: len(chunks)]
        for f in [self._pool.submit(work, c, d) for c, d in zip(chunks, scratch, strict=True)]:
            f.result()  # re-raises a worker's exception

    def _last_substep(
        self, d: mujoco.MjData, i: int, states: np.ndarray, out: list[np.ndarray]
    ) -> None:
        """The control step's last physics step (``d.ctrl`` set), then the readout's forward
        pass as :class:`flyenvs.sim.MujocoBackend` runs it: with the adhesion of the last step's
        start state applied as the rule's ``xfrc_applied`` (the force that step applied; the
        native actuators would apply the final state's own, which moves ``tarsus_force`` by
        ~0.01 uN). One numpy rule evaluation per env and control step, not per physics step."""
        m = self.native
        mujoco.mj_step1(m, d)
        adhesion = d.ctrl[C.N_LEG_JOINTS :].copy()
        if adhesion.any():
            k, con = d.ncon, d.contact
            xfrc = common.adhesion_xfrc(np, self.layout, adhesion, con.geom[:k], con.dist[:k],
                                        con.pos[:k], d.xipos, m.nbody)  # fmt: skip
        mujoco.mj_step2(m, d)  # the native actuators apply that same force
        if adhesion.any():
            d.ctrl[C.N_LEG_JOINTS :] = 0.0
            d.xfrc_applied[:] = xfrc
        mujoco.mj_forward(m, d)
        self._store(d, i, states, out)
        d.xfrc_applied[:] = 0.0  # scratch data: no force leaks into the next env

    def _store(self, d: mujoco.MjData, i: int, states: np.ndarray, out: list[np.ndarray]) -> None:
        """Write ``d``'s state and readout (after a forward pass) into row ``i``."""
        mujoco.mj_getState(self.native, d, states[i], STATE_SPEC)
        for field, value in zip(out, data_readout(self.layout, d), strict=True):
            field[i] = value

    def _step_rollout(self, states, controls, n, new_states, out):
        b, m = states.shape[0], self.native
        phys_spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        initial = np.empty((b, mujoco.mj_stateSize(m, phys_spec)))
        warmstart = np.empty((b, m.nv))
        d = self._scratch[0]
        for i in range(b):  # split each state into rollout's two inputs
            mujoco.mj_setState(m, d, states[i], STATE_SPEC)
            mujoco.mj_getState(m, d, initial[i], phys_spec)
            warmstart[i] = d.qacc_warmstart
        control = np.repeat(controls, n, axis=1)[:, :-1]  # [B, K * n - 1, 48]
        traj, _ = self._rollout.rollout(m, self._scratch, initial, control,
                                        initial_warmstart=warmstart)  # fmt: skip
        last = np.ascontiguousarray(traj[:, -1])
        # MuJoCo resets a diverged env's data (time restarts) and rollout stops recording it:
        # the last state's time then falls short of the start's + the steps taken
        n_steps = control.shape[1]
        expected_s = initial[:, 0] + n_steps * m.opt.timestep
        reset = ~(np.abs(last[:, 0] - expected_s) < 0.5 * m.opt.timestep)
        unstable = Readout._fields.index("unstable")

        def work(idx: np.ndarray, d: mujoco.MjData) -> None:
            for i in idx:
                mujoco.mj_setState(m, d, states[i], STATE_SPEC)  # warm start for the forward
                mujoco.mj_setState(m, d, last[i], phys_spec)
                d.ctrl[:] = controls[i, -1]
                mujoco.mj_forward(m, d)
                d.qacc_warmstart[:] = d.qacc  # rollout does not return its final warm start
                clear_unstable_warnings(d)
                self._last_substep(d, i, new_states, out)
                if reset[i]:
                    out[unstable][i] = 1.0

        self._map(work, b)
        return new_states, Readout(*out)
