"""Fetch the PyPI wheels that flyenvs' committed data was imported from, for the tests that
check the import is reproducible (``tests/reference_wheels.py``).

    python scripts/fetch_reference_wheels.py [--dir ~/.cache/flyenvs/wheels]

Downloads (``pip download --no-deps``, PyPI only) flygym 1.2.1 and 2.1.1 (Apache-2.0), flyvis 1.2.0
and flycns 0.7.0 (MIT) into DIR and unzips each into ``DIR/x/<wheel name>/``. Idempotent: wheels
already present are not fetched again. The library never needs these at run time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

#: (requirement, extra pip arguments): flygym 2.x wheels declare Python >= 3.12, but hold only
#: data and pure Python, so their files are fetched for that tag without being installed.
WHEELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("flygym==1.2.1", ()),
    ("flygym==2.1.1", ("--python-version", "3.12", "--only-binary=:all:")),
    ("flyvis==1.2.0", ()),
    ("flycns==0.7.0", ()),
)

DEFAULT_DIR = Path.home() / ".cache" / "flyenvs" / "wheels"


def fetch(directory: Path) -> list[Path]:
    """Download the missing wheels into ``directory`` and unzip all of them; returns the wheels."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for requirement, extra in WHEELS:
        name, version = requirement.split("==")
        path = directory / f"{name}-{version}-py3-none-any.whl"
        if not path.is_file():
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", requirement]
            subprocess.run([*cmd, *extra, "-d", str(directory)], check=True)
        if not path.is_file():
            raise FileNotFoundError(f"pip did not produce {path}")
        target = directory / "x" / path.name.removesuffix(".whl")
        if not target.is_dir():
            with zipfile.ZipFile(path) as archive:
                archive.extractall(target)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"default {DEFAULT_DIR}")
    args = parser.parse_args(argv)
    for path in fetch(args.dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
