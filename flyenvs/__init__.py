"""flyenvs: reinforcement-learning environments with an embodied Drosophila.

Importing ``flyenvs`` (or any of its subpackages) does not import gymnasium: the Gymnasium ids
(``flyenvs/Walk-v1``, ...) are registered by :mod:`flyenvs.gym`, which runs as soon as
gymnasium is imported, before or after flyenvs (a one-shot import hook; see
:func:`_register_with_gymnasium`). In a process that never imports flyenvs,
``gymnasium.make("flyenvs:flyenvs/Walk-v1")`` imports it first. The Brax environments register
on ``import flyenvs.brax``.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from typing import Any

__version__ = "0.1.0"


def _register_gym_ids() -> None:
    import flyenvs.gym  # noqa: F401  (registers the ids on import)


class _RegisterWhenGymnasiumLoads(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when ``gymnasium`` is first imported, it lets the other finders
    load it, then registers flyenvs's ids, and removes itself."""

    def find_spec(self, fullname: str, path: Any, target: Any = None):
        if fullname != "gymnasium":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_register(module: Any) -> None:
            exec_module(module)
            _register_gym_ids()

        spec.loader.exec_module = exec_and_register
        return spec


def _register_with_gymnasium() -> None:
    """Register the Gymnasium ids now if gymnasium is loaded, else when it is."""
    if "gymnasium" in sys.modules:
        _register_gym_ids()
    elif not any(isinstance(f, _RegisterWhenGymnasiumLoads) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterWhenGymnasiumLoads())


_register_with_gymnasium()
