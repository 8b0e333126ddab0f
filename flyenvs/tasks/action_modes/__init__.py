"""Action modes: how a policy's action drives the fly's legs. One module per mode, one registry.

=========  ======  ===========================================================================
mode       action  what it drives
=========  ======  ===========================================================================
joints     48      42 joint targets over the joint ranges + 6 adhesion (:mod:`.joints`)
cpg        8       a tripod CPG's per-leg amplitude, frequency and turning (:mod:`.cpg`)
vnc        6       descending drive of the connectome VNC (default network; :mod:`.vnc`)
=========  ======  ===========================================================================

Each mode's options form the config group ``action.<mode>`` of every task
(``action.cpg.freq_hz``, ``action.vnc.drive_gain``, ...); ``action_mode`` picks the mode. Adding a
mode is one module here (``DEFAULTS`` and ``make(model, config) -> Controller``, see
:mod:`.base`) and one line in :data:`ACTION_MODES`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import mujoco
from ml_collections import ConfigDict

from flyenvs.tasks.action_modes import cpg, joints, vnc
from flyenvs.tasks.action_modes.base import Controller

#: Mode name -> its module (``DEFAULTS``, ``make``).
ACTION_MODES: dict[str, ModuleType] = {"joints": joints, "cpg": cpg, "vnc": vnc}


def defaults() -> dict[str, Any]:
    """The ``action`` config group: every mode's ``DEFAULTS`` under its name (fresh copies)."""
    return {name: dict(module.DEFAULTS) for name, module in ACTION_MODES.items()}


def check_mode(name: str) -> None:
    """Raise ValueError unless ``name`` is a registered action mode (lists the valid ones)."""
    if name not in ACTION_MODES:
        raise ValueError(f"action_mode must be one of {tuple(ACTION_MODES)}, got {name!r}")


def make_controller(model: mujoco.MjModel, config: ConfigDict) -> Controller:
    """The controller of ``config.action_mode`` for ``model``, configured by ``config.action``."""
    check_mode(config.action_mode)
    return ACTION_MODES[config.action_mode].make(model, config)


__all__ = ["ACTION_MODES", "Controller", "check_mode", "defaults", "make_controller"]
