"""House style is checked, not hoped for: ruff lint and format, and the layer order of imports
(static, run-time and by name: ``"module:attr"`` strings count as imports)."""

from __future__ import annotations

import ast
import os
import re
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
    "flyenvs.connectome",
    "flyenvs.tasks",
    "flyenvs.gym",
    "flyenvs.brax",
    "flyenvs.dm_env",
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


#: The root package sits above its adapters: it may import only the Gymnasium adapter (to
#: register the ids once gymnasium is loaded).
ROOT_MAY_IMPORT: tuple[str, ...] = ("flyenvs.gym",)
#: A string naming a module of the project (``"flyenvs.gym.env:FlyEnv"``, ``"flyenvs.tasks.walk"``).
MODULE_STRING = re.compile(r"^((?:flyenvs|agents)(?:\.[A-Za-z_]\w*)+)(?::[A-Za-z_]\w*)?$")


#: Adapters of one level: neither of a pair may import the other.
SIBLINGS: tuple[tuple[str, str], ...] = (
    ("flyenvs.gym", "flyenvs.brax"),
    ("flyenvs.brax", "flyenvs.dm_env"),
)


def _layer(module: str) -> int | None:
    for i, layer in enumerate(LAYERS):
        if module == layer or module.startswith(layer + "."):
            return i
    return None


def _imported_names(tree: ast.AST) -> list[str]:
    """Modules a file imports: import statements anywhere (also inside functions, i.e. at run
    time) and string constants naming a project module (entry points, lazy registries)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = MODULE_STRING.match(node.value)
            if match:
                names.append(match.group(1))
    return names


def test_root_package_imports_only_the_gym_adapter():
    names = _imported_names(ast.parse((ROOT / "flyenvs" / "__init__.py").read_text()))
    project = [n for n in names if n.split(".")[0] in ("flyenvs", "agents")]
    assert project and all(n in ROOT_MAY_IMPORT for n in project), project


def test_no_entry_point_lookups():
    """No module finds code through installed entry points (they exist only after an install
    and can climb the layers); pyproject declares none that flyenvs would read."""
    for path in [*ROOT.glob("flyenvs/**/*.py"), *ROOT.glob("agents/**/*.py")]:
        assert "entry_points(" not in path.read_text(), path
    assert "entry-points" not in (ROOT / "pyproject.toml").read_text()


def test_low_layers_do_not_import_gymnasium_brax_or_agents():
    code = (
        "import sys, flyenvs.body, flyenvs.sim, flyenvs.vision, flyenvs.connectome; "
        "print(sorted(m for m in ('gymnasium', 'brax', 'agents', 'flyenvs.tasks') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize(
    "code",
    [
        "import flyenvs, gymnasium; gymnasium.make('flyenvs/Walk-v1')",  # flyenvs first
        "import gymnasium, flyenvs; gymnasium.make('flyenvs/Walk-v1')",  # gymnasium first
        "import gymnasium; gymnasium.make('flyenvs:flyenvs/Walk-v1')",  # never imported
    ],
)
def test_gymnasium_finds_the_ids(code):
    env = {**os.environ, "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]


def test_layers_import_only_downward():
    bad = []
    for path in [*ROOT.glob("flyenvs/**/*.py"), *ROOT.glob("agents/**/*.py")]:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        own = _layer(module)
        if own is None:
            continue
        for name in _imported_names(ast.parse(path.read_text())):
            other = _layer(name)
            # sibling adapters never import each other (dm_env builds on gym, not on brax)
            sibling = any({own, other} == {LAYERS.index(a) for a in pair} for pair in SIBLINGS)
            if other is not None and (other > own or sibling):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)
