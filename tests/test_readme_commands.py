"""The README's quickstart commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    quickstart = (ROOT / "README.md").read_text().split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", quickstart, re.S)


def test_ci_installs_what_the_readme_test_command_installs():
    (test_command,) = [c for c in _readme_commands() if "pytest" in c]
    (readme_extras,) = re.findall(r"pip install '(\.\[[^\]]+\])'", test_command)
    (ci_extras,) = re.findall(r"^EXTRAS='([^']+)'", (ROOT / ".ci" / "run").read_text(), re.M)
    assert readme_extras == ci_extras
    # the first line installs and runs the whole suite; CI runs it with the same arguments
    (readme_args,) = re.findall(r"python -m pytest(.*)$", test_command.splitlines()[0])
    ci_run = (ROOT / ".ci" / "run").read_text()
    ci_args = re.findall(r'python"? -m pytest -q(.*)$', ci_run, re.M)
    assert ci_args == [readme_args, readme_args]  # on the newest versions, then the floors


def test_the_dev_extra_brings_every_optional_part_the_tests_use():
    pyproject = (ROOT / "pyproject.toml").read_text()
    block = pyproject.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    extras = re.findall(r"^(\w+) = \[", block, re.M)
    dev = pyproject.split("\ndev = [", 1)[1].split("\n]", 1)[0]
    (self_reference,) = re.findall(r'"kerasweep\[([^\]]+)\]"', dev)
    assert sorted(self_reference.split(",")) == sorted(e for e in extras if e != "dev")
