"""The versions pyproject.toml allows are the ones CI tests and the README states."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _dependencies() -> list[Requirement]:
    text = (ROOT / "pyproject.toml").read_text()
    block = text[text.index("dependencies = [") : text.index("]", text.index("dependencies = ["))]
    return [Requirement(line) for line in re.findall(r'^\s*"([^"]+)",', block, re.M)]


def _floor(requirement: Requirement) -> Version:
    (floor,) = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    return Version(floor)


def _pins() -> dict[str, Version]:
    lines = (ROOT / ".ci" / "floors.txt").read_text().splitlines()
    pairs = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {name.lower(): Version(version) for name, version in pairs}


def test_every_dependency_has_a_floor_ci_pins_and_a_ceiling():
    dependencies = _dependencies()
    assert {r.name.lower(): _floor(r) for r in dependencies} == _pins()
    for requirement in dependencies:
        assert any(spec.operator == "<" for spec in requirement.specifier), requirement


def test_the_readme_states_the_tested_floors_once():
    readme = (ROOT / "README.md").read_text()
    assert readme.count("## Supported versions") == 1
    section = readme.split("## Supported versions", 1)[1].split("\n## ", 1)[0]
    pins = _pins()
    for name in ("tensorflow", "keras", "wandb"):
        assert f"{name} {pins[name]}" in section.lower(), name
    assert "3.10" in section and "3.12" in section
