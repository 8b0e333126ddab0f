"""One MJX physics step split where MuJoCo's ``mj_step1`` / ``mj_step2`` split it, so that an
applied force can depend on the contacts of the state the step starts from.

:func:`step_with_applied_force` runs exactly ``mjx.step`` (mujoco-mjx 3.17's ``forward`` then
the integrator) with ``xfrc_applied`` set between the position stage (kinematics, collision,
constraint rows) and the rest, as :class:`flyenvs.sim.mujoco_backend.MujocoBackend` does between
``mj_step1`` and ``mj_step2``. ``tests/test_sim.py`` checks that with a zero force it equals
``mjx.step``, so a change of MJX's pipeline shows up as a failing test, not a silent drift.
Models with sensors are rejected (the fly has none; their stages are left out).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import mujoco

from flyenvs.sim._mjx_import import mjx


def check_splittable(model: mujoco.MjModel) -> None:
    """Raise ValueError if ``model`` uses what the split step leaves out (sensors, RK4)."""
    if model.nsensor:
        raise ValueError(f"the split MJX step supports no sensors; model has {model.nsensor}")
    if model.opt.integrator not in (mujoco.mjtIntegrator.mjINT_EULER,
                                    mujoco.mjtIntegrator.mjINT_IMPLICITFAST):  # fmt: skip
        raise ValueError("the split MJX step supports the Euler and implicitfast integrators")


def step_with_applied_force(
    m: mjx.Model, d: mjx.Data, xfrc_fn: Callable[[mjx.Data], jax.Array], euler: bool
) -> mjx.Data:
    """``mjx.step(m, d)`` with ``xfrc_applied = xfrc_fn(d_pos)``, where ``d_pos`` is ``d`` after
    the position stage (its ``contact``, ``site_xpos``, ``xipos`` are of this state).

    Args:
        xfrc_fn: maps the position-stage data to ``xfrc_applied`` [nbody, 6].
        euler: True for the Euler integrator, False for implicitfast (static).
    """
    d = mjx.fwd_position(m, d)
    d = d.replace(xfrc_applied=xfrc_fn(d))
    d = mjx.fwd_velocity(m, d)
    d = mjx.fwd_actuation(m, d)
    d = mjx.fwd_acceleration(m, d)
    if d._impl.efc_J.size == 0:
        d = d.replace(qacc=d.qacc_smooth)
    else:
        d = mjx.solve(m, d)
    return mjx.euler(m, d) if euler else mjx.implicit(m, d)
