"""The batched C MuJoCo engine called from JAX: ``jax.pure_callback`` with a batched vmap rule.

:class:`HostBackend` gives JAX code (the task driver, the Brax adapter) a backend whose physics
runs on the host, in :class:`flyenvs.sim.batch_backend.BatchMujocoBackend`, so that
``jit(vmap(step))`` of a task steps the whole batch in one host call on native threads.

Design: **the physics state travels in the JAX state, bit-exact; the host keeps none.** A
physics state is a :class:`HostState`: ``bits`` [2 * n_state] uint32, the float64 state
(``batch_backend.STATE_SPEC``: time, qpos, qvel, warm start) viewed as uint32 pairs, so it is never
rounded to float32 (JAX runs without x64), plus the float32 :class:`~flyenvs.sim.base.Readout`
of that state. ``init`` and ``step_schedule`` are ``jax.pure_callback`` calls with
``vmap_method="broadcast_all"``: under ``vmap`` (Brax's ``VmapWrapper``, nested vmaps too) the
host function receives the whole batch [..., 2 * n_state] and steps it at once. Because a host
call is a pure function of its inputs, everything JAX does with pure functions holds: XLA may
drop, repeat or reorder calls; ``FreshAutoResetWrapper`` computes a fresh reset for every env
each step and selects per env with ``jnp.where`` (bits and all); Brax's ``EpisodeWrapper`` and
PPO's separate evaluation env need no bookkeeping; the same seeds give the same results. The
alternative, host-side ``MjData`` slots addressed by an integer handle in the JAX state, makes
the callbacks impure (``pure_callback`` calls may be elided or duplicated), leaks a slot per
discarded fresh reset, and needs the batch-to-slot mapping of every wrapper and env instance;
copying ~1.2 kB of state per env and control step (``mj_setState``/``mj_getState``) costs far
less than one of the control step's 80 physics steps.

Tasks: the task's own state (a visual task's arena, which the eyes see through the task's JAX
scene) lives in the JAX state too; the arena's mocap bodies are scenery the engine never moves
(:func:`flyenvs.sim.batch_backend.check_mocap_inert`), so the host call needs only the
physics state and the controls.

Values: ``ctrl`` is clamped to the actuator ranges by MuJoCo and ``adhesion`` clipped to [0, 1]
(as on MJX); NaN or inf in them makes the host call raise (an ``XlaRuntimeError`` naming
the ``ValueError``), where MJX would carry NaN on. One lock serialises calls into one engine
(XLA may run independent callbacks concurrently).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from dm_control import mjcf

from flyenvs.body import constants as C
from flyenvs.sim.base import READOUT_SHAPES, Readout
from flyenvs.sim.batch_backend import BatchMujocoBackend


class HostState(NamedTuple):
    """Physics state of one env on the host engine (a pytree; leading batch axes allowed).

    Attributes:
        bits: [2 * n_state] uint32, the float64 MuJoCo state bit for bit.
        readout: the :class:`Readout` of that state (float32).
    """

    bits: jax.Array
    readout: Readout


class HostBackend:
    """The JAX face of :class:`BatchMujocoBackend` (see the module docstring).

    Args:
        model: a fly model of the train body: from :func:`flyenvs.body.load`, or a task's model
            (e.g. a visual task's body plus arena) with ``build_mjcf``.
        n_threads: host threads stepping a batch (default: the CPU count); results do not
            depend on it.
        method: ``"rollout"`` or ``"threads"`` (:mod:`flyenvs.sim.batch_backend`).
        build_mjcf: the function returning the MJCF tree ``model`` was compiled from (a task's
            ``build_mjcf``), for the engine's native-adhesion copy of ``model``.
    """

    def __init__(
        self, model: mujoco.MjModel, n_threads: int | None = None, method: str = "rollout",
        build_mjcf: Callable[[], mjcf.RootElement] | None = None,
    ) -> None:  # fmt: skip
        threads = (os.cpu_count() or 1) if n_threads is None else n_threads
        self.engine = BatchMujocoBackend(model, threads, method, build_mjcf)
        self.model = model
        self.layout = self.engine.layout
        self.timestep_s = float(model.opt.timestep)
        self._n_bits = 2 * self.engine.state_size
        self._lock = threading.Lock()

    # --------------------------------------------------------------------------- host functions
    def _to_states(self, bits: np.ndarray) -> np.ndarray:
        return (
            np.ascontiguousarray(bits, dtype=np.uint32).reshape(-1, self._n_bits).view(np.float64)
        )

    def _to_jax(self, lead: tuple[int, ...], states: np.ndarray, readout: Readout):
        bits = states.view(np.uint32).reshape(*lead, self._n_bits)
        fields = (
            np.reshape(np.asarray(x, np.float32), (*lead, *shape))
            for x, shape in zip(readout, READOUT_SHAPES, strict=True)
        )
        return bits, Readout(*fields)

    def _host_init(self, qpos: np.ndarray, qvel: np.ndarray):
        lead = qpos.shape[:-1]
        with self._lock:
            states, readout = self.engine.init(
                np.reshape(qpos, (-1, self.model.nq)), np.reshape(qvel, (-1, self.model.nv))
            )
        return self._to_jax(lead, states, readout)

    def _host_step(self, bits: np.ndarray, ctrl: np.ndarray, adhesion: np.ndarray, n: int):
        lead = bits.shape[:-1]
        k = ctrl.shape[-2]
        with self._lock:
            states, readout = self.engine.step(
                self._to_states(bits),
                np.reshape(ctrl, (-1, k, C.N_LEG_JOINTS)),
                np.reshape(adhesion, (-1, k, C.N_ADHESION)),
                n,
            )
        return self._to_jax(lead, states, readout)

    def _result_spec(self):
        return (
            jax.ShapeDtypeStruct((self._n_bits,), jnp.uint32),
            Readout(*(jax.ShapeDtypeStruct(s, jnp.float32) for s in READOUT_SHAPES)),
        )

    # ------------------------------------------------------------------------------- JAX API
    def init(self, qpos: Any, qvel: Any | None = None) -> HostState:
        """State at ``qpos`` [nq], ``qvel`` [nv] (default 0) after a forward pass, actuators
        holding the initial leg pose. Pure; jit/vmap-able (one host call per batch)."""
        qpos = jnp.asarray(qpos, jnp.float32)
        qvel = jnp.zeros(self.model.nv, jnp.float32) if qvel is None else jnp.asarray(qvel)
        if qpos.shape != (self.model.nq,) or qvel.shape != (self.model.nv,):
            raise ValueError(
                f"qpos/qvel must have shapes ({self.model.nq},)/({self.model.nv},), "
                f"got {qpos.shape}/{qvel.shape}"
            )
        bits, readout = jax.pure_callback(
            self._host_init, self._result_spec(), qpos, qvel.astype(jnp.float32),
            vmap_method="broadcast_all",
        )  # fmt: skip
        return HostState(bits, readout)

    def step_schedule(
        self, state: HostState, ctrl: Any, adhesion: Any, n_substeps: int
    ) -> HostState:
        """One control step: entry k holds ``ctrl[k]`` [K, 42] (rad) and ``adhesion[k]``
        [K, 6] (clipped to [0, 1]) for ``n_substeps`` physics steps. Pure; jit/vmap-able."""
        ctrl = jnp.asarray(ctrl, jnp.float32)
        adhesion = jnp.clip(jnp.asarray(adhesion, jnp.float32), 0.0, 1.0)
        if ctrl.ndim != 2 or ctrl.shape[1] != C.N_LEG_JOINTS:
            raise ValueError(f"ctrl must have shape (K, {C.N_LEG_JOINTS}), got {ctrl.shape}")
        if adhesion.shape != (ctrl.shape[0], C.N_ADHESION):
            raise ValueError(
                f"adhesion must have shape ({ctrl.shape[0]}, {C.N_ADHESION}), got {adhesion.shape}"
            )
        n = int(n_substeps)
        if n < 1:
            raise ValueError(f"n_substeps must be >= 1, got {n_substeps}")
        bits, readout = jax.pure_callback(
            lambda b, c, a: self._host_step(b, c, a, n), self._result_spec(),
            state.bits, ctrl, adhesion, vmap_method="broadcast_all",
        )  # fmt: skip
        return HostState(bits, readout)

    def readout(self, state: HostState) -> Readout:
        """The readout of ``state`` (float32, computed on the host with the state)."""
        return state.readout

    def float64_state(self, state: HostState) -> np.ndarray:
        """The float64 MuJoCo state(s) [..., n_state] of ``state`` (host numpy, for tests)."""
        bits = np.asarray(state.bits)
        return self._to_states(bits).reshape(*bits.shape[:-1], -1)
