"""Where flyenvs finds its data files (the repository's ``assets/`` folder)."""

from __future__ import annotations

import os
from pathlib import Path

#: Root of the committed assets. ``FLYENVS_ASSETS`` overrides it (e.g. for a relocated install).
ASSETS_DIR: Path = Path(
    os.environ.get("FLYENVS_ASSETS", Path(__file__).resolve().parents[1] / "assets")
)


def asset_path(*parts: str) -> Path:
    """Path of an asset file below ``assets/``; raises FileNotFoundError naming it if missing."""
    path = ASSETS_DIR.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"flyenvs asset not found: {path}. The repository's assets/ folder is incomplete; "
            "re-clone or run scripts/import_assets.py."
        )
    return path
