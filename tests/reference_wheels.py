"""Where the tests find the unzipped PyPI wheels that the committed data came from.

``FLYENVS_WHEELS`` (default ``~/.cache/flyenvs/wheels``), filled by
``scripts/fetch_reference_wheels.py`` (``.ci/run`` calls it). Tests that compare against these
wheels skip with a reason where they are absent.
"""

from __future__ import annotations

import os
from pathlib import Path

WHEELS: Path = Path(os.environ.get("FLYENVS_WHEELS", Path.home() / ".cache" / "flyenvs" / "wheels"))
#: Unzipped wheels: ``UNZIPPED / "flyvis-1.2.0-py3-none-any" / "flyvis" / ...``.
UNZIPPED: Path = WHEELS / "x"
