"""MJX backend (``mjx.put_model(model, impl="jax")``): pure, jit/vmap-able ``init``/``step``/
``readout``.

The state is an ``mjx.Data`` pytree. ``step`` runs ``n_substeps`` physics steps with
``lax.fori_loop`` (``n_substeps`` must be a Python int: it is static under ``jit``), then one
forward pass so that every readout refers to the final state, exactly as the C MuJoCo backend.
Shapes are checked at trace time; values are not (NaN cannot raise inside ``jit``): ``adhesion``
is clipped to [0, 1] and ``ctrl`` to the actuator ranges, as MuJoCo does for ``ctrl``.

Compile times on CPU: see docs/performance.md. If XLA's fusion pass is slow on a larger model,
``XLA_FLAGS=--xla_disable_hlo_passes=fusion`` is the known workaround (not needed for ``"train"``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from flyenvs.body import constants as C
from flyenvs.body.layout import layout
from flyenvs.sim import common, mjx_split
from flyenvs.sim._mjx_import import mjx
from flyenvs.sim.base import Readout


def _check_shape(name: str, x: Any, shape: tuple[int, ...]) -> None:
    if tuple(jnp.shape(x)) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(jnp.shape(x))}")


class MjxBackend:
    """The :class:`~flyenvs.sim.base.Backend` on MJX (JAX implementation).

    Args:
        model: a fly model from :func:`flyenvs.body.load` (kept by reference; do not modify).

    Attributes:
        model: the ``mujoco.MjModel``.
        mjx_model: the ``mjx.Model`` on the default JAX device.
        layout: index arrays (:class:`flyenvs.body.Layout`).
    """

    def __init__(self, model: mujoco.MjModel) -> None:
        common.check_model(model)
        mjx_split.check_splittable(model)
        self.model = model
        self._euler = model.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
        self.mjx_model = mjx.put_model(model, impl="jax")
        self.layout = layout(model)
        self.timestep_s = float(model.opt.timestep)

    def init(self, qpos: Any, qvel: Any | None = None) -> mjx.Data:
        """``mjx.Data`` at ``qpos`` [nq], ``qvel`` [nv] (default 0) after a forward pass; the
        actuators hold the initial leg pose. Pure; jit/vmap-able."""
        m = self.model
        _check_shape("qpos", qpos, (m.nq,))
        qvel = jnp.zeros(m.nv) if qvel is None else qvel
        _check_shape("qvel", qvel, (m.nv,))
        data = mjx.make_data(self.mjx_model)
        qpos = jnp.asarray(qpos, dtype=data.qpos.dtype)
        data = data.replace(
            qpos=qpos,
            qvel=jnp.asarray(qvel, dtype=data.qvel.dtype),
            ctrl=qpos[self.layout.leg_qpos_adr],
        )
        return mjx.forward(self.mjx_model, data)

    def _contacts(self, data: mjx.Data) -> tuple[jax.Array, jax.Array]:
        """Geom pairs [ncon, 2] and touching normal forces [ncon] (uN) of the contacts."""
        con = data._impl.contact
        force = common.touching_normal_force(jnp, data._impl.efc_force, con.efc_address, con.dist)
        return con.geom, force

    def _tarsus_and_body(self, data: mjx.Data) -> tuple[jax.Array, jax.Array]:
        return common.tarsus_and_body_contact(jnp, self.layout, *self._contacts(data))

    def step(self, state: mjx.Data, ctrl: Any, adhesion: Any, n_substeps: int) -> mjx.Data:
        """Advance ``n_substeps`` steps holding ``ctrl`` [42] (joint targets, rad) and
        ``adhesion`` [6] (clipped to [0, 1]). Pure; jit/vmap-able (``n_substeps`` static)."""
        _check_shape("ctrl", ctrl, (C.N_LEG_JOINTS,))
        _check_shape("adhesion", adhesion, (C.N_ADHESION,))
        n = int(n_substeps)
        if n < 1:
            raise ValueError(f"n_substeps must be >= 1, got {n_substeps}")
        m, lay, nbody = self.mjx_model, self.layout, self.model.nbody
        dtype = state.qpos.dtype
        adhesion = jnp.clip(jnp.asarray(adhesion, dtype=dtype), 0.0, 1.0)
        data = state.replace(ctrl=jnp.asarray(ctrl, dtype=dtype))

        def xfrc(d: mjx.Data) -> jax.Array:  # the rule, from the step's own contacts
            con = d._impl.contact
            return common.adhesion_xfrc(
                jnp, lay, adhesion, con.geom, con.dist, con.pos, d.xipos, nbody
            )

        def substep(_: Any, d: mjx.Data) -> mjx.Data:
            return mjx_split.step_with_applied_force(m, d, xfrc, self._euler)

        data = jax.lax.fori_loop(0, n, substep, data)
        return mjx.forward(m, data)  # derived quantities at the final state, for the readout

    def readout(self, state: mjx.Data) -> Readout:
        """Observables of ``state`` as ``jax.Array`` (see :class:`Readout`). Pure."""
        tarsus_force, body_contact = self._tarsus_and_body(state)
        readout = common.make_readout(
            jnp,
            self.layout,
            time=state.time,
            qpos=state.qpos,
            qvel=state.qvel,
            xmat=state.xmat.reshape(-1, 9),
            site_xpos=state.site_xpos,
            site_xmat=state.site_xmat.reshape(-1, 9),
            tarsus_force=tarsus_force,
            body_contact=body_contact,
        )
        # MJX never resets a bad state: divergence shows as non-finite fields
        return readout._replace(unstable=jnp.zeros((), state.qpos.dtype))


def to_numpy(readout: Readout) -> Readout:
    """A readout with every field as a float64 numpy array (for comparisons and logging)."""
    return Readout(*(np.asarray(x, dtype=np.float64) for x in readout))
