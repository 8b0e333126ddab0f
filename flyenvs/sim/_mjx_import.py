"""``mujoco.mjx``, imported without the greeting of its optional-backend probe.

Importing ``mujoco.mjx`` probes for NVIDIA Warp (``mujoco/mjx/warp/__init__.py``) and, where warp
is not installed (every CPU machine), prints ``Failed to import warp: ...`` and ``Failed to import
mujoco_warp: ...`` to stdout. flyenvs runs MJX's JAX implementation (``impl="jax"``), which never
uses warp, so those two lines say nothing to a flyenvs user: this module drops them and passes
every other line the import prints through unchanged.

Import ``mjx`` from here, and import this module before ``brax`` (which imports ``mujoco.mjx``
itself; once imported, the probe does not run again)::

    from flyenvs.sim._mjx_import import mjx
"""

from __future__ import annotations

import contextlib
import io
import sys

#: Line prefixes of MJX's warp probe (mujoco 3.3-3.5).
WARP_PROBE_PREFIXES = ("Failed to import warp:", "Failed to import mujoco_warp:")


def without_warp_probe(text: str) -> str:
    """``text`` without the lines that start with one of :data:`WARP_PROBE_PREFIXES`."""
    lines = text.splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith(WARP_PROBE_PREFIXES))


def _import_mjx():
    """Import ``mujoco.mjx`` with stdout captured, then print what was captured, less the probe."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            from mujoco import mjx
    finally:
        kept = without_warp_probe(captured.getvalue())
        if kept and sys.stdout is not None:
            sys.stdout.write(kept)
    return mjx


mjx = _import_mjx()

__all__ = ["WARP_PROBE_PREFIXES", "mjx", "without_warp_probe"]
