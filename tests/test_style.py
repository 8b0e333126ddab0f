"""House style is checked, not hoped for: ruff lint and format, and the layer order of imports."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Layers, lowest first; a module may import only from its own layer or layers before it.
LAYERS: tuple[str, ...] = (
    "flyenvs.body",
    "flyenvs.sim",
    "flyenvs.vision",
    "flyenvs.tasks",
    "flyenvs.gym",
    "flyenvs.brax",
    "agents",
)


def _ruff() -> list[str]:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.fail("ruff is not installed (it is in the project's [dev] extra)")
    return [exe]


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]])
def test_ruff_clean(args):
    proc = subprocess.run(_ruff() + args, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _layer(module: str) -> int | None:
    for i, layer in enumerate(LAYERS):
        if module == layer or module.startswith(layer + "."):
            return i
    return None


def test_layers_import_only_downward():
    bad = []
    for path in [*ROOT.glob("flyenvs/**/*.py"), *ROOT.glob("agents/**/*.py")]:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        own = _layer(module)
        if own is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                other = _layer(name)
                # gym and brax are sibling adapters: neither may import the other.
                sibling = {own, other} == {
                    LAYERS.index("flyenvs.gym"),
                    LAYERS.index("flyenvs.brax"),
                }
                if other is not None and (other > own or sibling):
                    bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)
