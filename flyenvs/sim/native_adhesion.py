"""A C-only copy of the fly model whose adhesion is MuJoCo's native ``<adhesion>`` actuator.

The adhesion rule (:func:`flyenvs.sim.common.adhesion_xfrc`, docs/body.md "Adhesion") emulates
MuJoCo's adhesion actuator with an applied force because MJX rejects the actuator
(``mjx.put_model`` raises on ``mjTRN_BODY``). C MuJoCo runs the actuator natively, without
Python per physics step, which is what a GIL-free batched engine needs
(:mod:`flyenvs.sim.batch_backend`). This module builds that model: a fly model (the plain body of
:func:`flyenvs.body.load`, or a task's model such as a visual task's body plus arena, from the
MJCF it was compiled from) plus six adhesion actuators, one per leg (order ``constants.LEGS``),
after the 42 leg actuators (``nu`` = 48), each on the body owning the leg's tarsus geoms
(``Layout.tarsus_body_ids``), gain ``constants.ADHESION_FORCE_MAX``, ctrlrange [0, 1].
Everything else is identical to the base model (checked on construction).

What MuJoCo's actuator does (``mj_transmission``, case ``mjTRN_BODY``, mujoco 3.x): its moment
arm is minus the average, over every contact of the body's geoms (excluded ones in the margin
gap included), of the contact normal Jacobian at the contact point (with pyramidal cones: the
mean of the pyramid edges' rows, which is the normal row). So the force ``gain * ctrl`` is
shared equally among the body's contacts and pulls along the contact normal at each contact
point, from the contacts of the step's own position stage: the rule's "when", "where" and
"how much". The two coincide when (a) a leg's tarsus geoms all belong to one body and no other
geom of that body collides (train: the tip sphere on ``*Tarsus1``; not the reference body,
whose tarsus 1-5 meshes sit on five bodies), (b) every contact of those geoms is touching
(the rule's ``dist <= 0``: contacts within a positive margin would count natively; the fly's
pairs have margin 0) and (c) the normal is the floor's +z. :func:`check_equivalent_to_rule`
checks (a)-(c) on a model.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import mujoco
import numpy as np
from dm_control import mjcf

from flyenvs.body import constants as C
from flyenvs.body import model as body_model
from flyenvs.body.layout import layout

#: Actuator names of the six adhesion actuators (order ``constants.LEGS``).
ADHESION_ACTUATORS: tuple[str, ...] = tuple(f"adhesion_{leg}" for leg in C.LEGS)
#: Model arrays allowed to differ from the base model (the added actuators and their names).
_ACTUATOR_FIELDS = ("actuator_", "name_actuatoradr", "names", "names_map", "nu", "nna", "nnames",
                    "nactuator", "nout", "nJmom", "nbuffer", "signature", "key_ctrl")  # fmt: skip


def _variant_of(model: mujoco.MjModel) -> str:
    """The body variant a model was built from (its MJCF ``model`` name)."""
    name = model.names[: model.names.index(b"\0")].decode()
    variant = name.removeprefix("neuromechfly_")
    if variant not in body_model.VARIANTS:
        raise ValueError(f"not a flyenvs fly model (model name {name!r})")
    return variant


def _differences(base: mujoco.MjModel, other: mujoco.MjModel) -> list[str]:
    """Names of the model fields (besides the actuators') in which ``other`` differs."""
    out = []
    for name in dir(base):
        if name.startswith("_") or name.startswith(_ACTUATOR_FIELDS) or name in _ACTUATOR_FIELDS:
            continue
        a = getattr(base, name)
        if isinstance(a, np.ndarray) or isinstance(a, int | float):
            b = getattr(other, name)
            if np.shape(a) != np.shape(b) or not np.array_equal(a, b, equal_nan=True):
                out.append(name)
    for name in ("timestep", "integrator", "cone", "solver", "iterations", "ls_iterations",
                 "tolerance", "gravity", "disableflags", "enableflags"):  # fmt: skip
        if not np.array_equal(getattr(base.opt, name), getattr(other.opt, name)):
            out.append(f"opt.{name}")
    if not np.array_equal(base.key_ctrl, other.key_ctrl[:, : base.nu]):
        out.append("key_ctrl")
    return out


def _add_actuators(root: mjcf.RootElement, model: mujoco.MjModel) -> None:
    """Add the six adhesion actuators to ``root`` (an MJCF tree that compiles to ``model``)."""
    lay = layout(model)
    for act_name, body_id in zip(ADHESION_ACTUATORS, lay.tarsus_body_ids, strict=True):
        body_name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, int(body_id))
        root.actuator.add("adhesion", name=act_name, body=body_name,
                          gain=C.ADHESION_FORCE_MAX, ctrlrange=[0.0, 1.0])  # fmt: skip


@functools.cache
def _build_cached(variant: str) -> mujoco.MjModel:
    root = body_model.build_mjcf(variant)
    _add_actuators(root, body_model.load(variant))
    return body_model.compile_mjcf(root)


def native_adhesion_model(
    model: mujoco.MjModel, build_mjcf: Callable[[], mjcf.RootElement] | None = None
) -> mujoco.MjModel:
    """The copy of ``model`` with the six native adhesion actuators at ``ctrl[42:48]`` (a fresh
    copy).

    Args:
        model: a fly model (42 actuators).
        build_mjcf: a function returning a fresh MJCF tree that compiles to ``model``, e.g. a
            task's ``build_mjcf`` (a visual task's: the body plus its arena); the actuators are
            added to that tree. Default: the plain body of ``model``'s variant
            (:func:`flyenvs.body.build_mjcf`; built once per variant and process).

    Raises:
        ValueError: the copy differs from ``model`` in anything besides the actuators (e.g.
            ``model`` is a visual task's arena model and ``build_mjcf`` is not given, or a
            modified copy): the message names the differing fields.
    """
    if build_mjcf is None:
        native = copy.deepcopy(_build_cached(_variant_of(model)))
        source = "a plain flyenvs.body.load model (or pass the build_mjcf it was compiled from)"
    else:
        root = build_mjcf()
        _add_actuators(root, model)
        native = body_model.compile_mjcf(root)
        source = "build_mjcf() to compile to this model"
    diff = _differences(model, native)
    if model.nu != C.N_LEG_JOINTS or native.nu != C.N_LEG_JOINTS + C.N_ADHESION:
        diff.append("nu")
    if diff:
        raise ValueError(
            f"native adhesion needs {source}; this one differs from the rebuilt copy in {diff}"
        )
    return native


def check_equivalent_to_rule(model: mujoco.MjModel) -> None:
    """Raise ValueError unless the native actuators of ``model`` (a native-adhesion model)
    select exactly the contacts the adhesion rule selects (conditions (a)-(c) of the module
    docstring, checked on the model; (c) holds for the floor plane of every fly model)."""
    lay = layout(model)
    tarsus_geoms = np.flatnonzero(lay.geom_leg >= 0)
    for leg in range(C.N_LEGS):
        bodies = set(lay.geom_body[lay.geom_leg == leg].tolist())
        if bodies != {int(lay.tarsus_body_ids[leg])}:
            raise ValueError(f"leg {C.LEGS[leg]}: tarsus geoms on bodies {sorted(bodies)}")
    colliding = set(model.pair_geom1.tolist()) | set(model.pair_geom2.tolist())
    colliding |= set(np.flatnonzero((model.geom_contype | model.geom_conaffinity) != 0).tolist())
    for g in colliding - set(tarsus_geoms.tolist()):
        if lay.geom_body[g] in lay.tarsus_body_ids:
            raise ValueError(f"geom {g} collides on a tarsus body without being a tarsus geom")
    if np.any(model.pair_margin != 0) or np.any(model.geom_margin[tarsus_geoms] != 0):
        raise ValueError("contacts with a positive margin would pull natively, not by the rule")
