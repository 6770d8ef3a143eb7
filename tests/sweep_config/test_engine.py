"""Tests for kerasweep.sweep_config.engine: the one door to W&B's engine."""

from __future__ import annotations

import ast
from pathlib import Path

import kerasweep

PACKAGE = Path(kerasweep.__file__).resolve().parent


def _imports_sweeps(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "sweeps" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sweeps":
            return True
    return False


def test_only_the_engine_module_imports_sweeps():
    importers = sorted(
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if _imports_sweeps(p)
    )
    assert importers == ["sweep_config/engine.py"]
