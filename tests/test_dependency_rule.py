"""Dependencies point one way (docs/architecture.md, "Layout"), checked on every import.

- The core (``moviemetric``, less the composition root) imports no part.
- A part imports the core, itself, and other parts only through their public entry
  points: a package ``__init__`` (``from ingest import run_load``), never a module
  inside another part (``ingest.pipeline``).
- Nothing imports the composition root (``moviemetric.cli``, ``moviemetric.up``,
  ``moviemetric.terminal``), which itself uses the parts' entry points only.

Every ``import`` statement counts, including those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CORE = "moviemetric"
PARTS = ("ingest", "transform", "search", "api", "scheduler")
COMPOSITION_ROOT = ("moviemetric.cli", "moviemetric.up", "moviemetric.terminal")
OWN_PACKAGES = (CORE, *PARTS)


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(module: str) -> bool:
    return (REPO_ROOT.joinpath(*module.split(".")) / "__init__.py").is_file()


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of our own packages in ``path``."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this file's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
            # `from ingest import sandbox` names the subpackage ingest.sandbox
            names = [
                f"{names[0]}.{alias.name}" if _is_package(f"{names[0]}.{alias.name}") else names[0]
                for alias in node.names
            ]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] in OWN_PACKAGES]
    return found


def _owner(module: str) -> str:
    if module.startswith(COMPOSITION_ROOT):
        return "root"
    top = module.split(".")[0]
    return "core" if top == CORE else top


def _breaches() -> list[str]:
    breaches = []
    for top in OWN_PACKAGES:
        for path in sorted((REPO_ROOT / top).rglob("*.py")):
            source = _module_name(path)
            source_owner = _owner(source)
            for line, target in _imports(path):
                target_owner = _owner(target)
                where = f"{path.relative_to(REPO_ROOT)}:{line} imports {target}"
                if target_owner == "root" and source_owner != "root":
                    breaches.append(f"{where}: nothing imports the composition root")
                elif source_owner == "core" and target_owner not in ("core",):
                    breaches.append(f"{where}: the core imports no part")
                elif (
                    target_owner in PARTS
                    and target_owner != source_owner
                    and not _is_package(target)
                ):
                    breaches.append(f"{where}: use {target_owner}'s public entry point")
    return breaches


def test_dependencies_point_one_way():
    assert _breaches() == []


@pytest.mark.parametrize(
    ("source", "line", "expected"),
    [
        ("moviemetric/warehouse.py", "from api.main import create_app", "the core imports no part"),
        ("api/routes/movies.py", "from ingest.pipeline import run_load", "public entry point"),
        ("scheduler/chain.py", "from moviemetric.cli import app", "composition root"),
    ],
)
def test_the_check_catches_each_kind_of_breach(tmp_path, monkeypatch, source, line, expected):
    """The rule is not vacuous: a planted import of each forbidden kind is reported."""
    planted = REPO_ROOT / source
    original = planted.read_text()
    monkeypatch.setattr(
        Path,
        "read_text",
        lambda self, *args, **kwargs: (
            original + f"\n{line}\n" if self == planted else Path.read_bytes(self).decode()
        ),
    )
    assert any(expected in breach for breach in _breaches())
