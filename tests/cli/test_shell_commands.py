"""kerasweep.cli._shell_commands: the commands kerasweep suggests, as this shell runs them."""

from __future__ import annotations

import os
import sys

import pytest

from kerasweep.cli._shell_commands import kerasweep_command, wandb_command


def _executable(path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder, the current one, with ``.venv/bin/{python,kerasweep,wandb}``; the
    shell's PATH holds only a folder of other programs."""
    monkeypatch.chdir(tmp_path)
    bin_dir = tmp_path / ".venv" / "bin"
    for name in ("python", "kerasweep", "wandb"):
        _executable(bin_dir / name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("PATH", str(elsewhere))
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    monkeypatch.setattr(sys, "argv", [str(bin_dir / "kerasweep"), "run", "sweep.yaml"])
    return tmp_path


def test_a_script_of_an_inactive_venv_is_named_by_its_path(project):
    assert kerasweep_command() == ".venv/bin/kerasweep"
    assert wandb_command() == ".venv/bin/wandb"


def test_the_path_as_typed_is_relative_only_inside_the_current_folder(project, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["./.venv/bin/kerasweep"])
    assert kerasweep_command() == ".venv/bin/kerasweep"
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    assert kerasweep_command() == str(project / ".venv" / "bin" / "kerasweep")
    assert wandb_command() == str(project / ".venv" / "bin" / "wandb")


def test_a_script_in_the_current_folder_itself_starts_with_dot_slash(project, monkeypatch):
    script = _executable(project / "kerasweep")
    monkeypatch.setattr(sys, "argv", [script])
    assert kerasweep_command() == "./kerasweep"


def test_an_active_venv_gives_the_plain_names(project, monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join([str(project / ".venv" / "bin"), "/usr/bin"]))
    assert kerasweep_command() == "kerasweep"
    assert wandb_command() == "wandb"


def test_another_kerasweep_first_on_path_is_not_this_one(project, monkeypatch):
    for name in ("kerasweep", "wandb"):
        _executable(project / "elsewhere" / name)
    assert kerasweep_command() == ".venv/bin/kerasweep"
    assert wandb_command() == ".venv/bin/wandb"


def test_a_path_with_a_space_is_quoted(tmp_path, monkeypatch):
    script = _executable(tmp_path / "my env" / "bin" / "kerasweep")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(sys, "argv", [script])
    assert kerasweep_command() == "'my env/bin/kerasweep'"


def test_python_m_kerasweep(project, monkeypatch):
    """``python -m kerasweep``: the script beside the Python in use, else ``-m`` again."""
    monkeypatch.setattr(sys, "argv", [str(project / "src" / "kerasweep" / "__main__.py")])
    assert kerasweep_command() == ".venv/bin/kerasweep"
    (project / ".venv" / "bin" / "kerasweep").unlink()
    assert kerasweep_command() == ".venv/bin/python -m kerasweep"
    monkeypatch.setenv("PATH", str(project / ".venv" / "bin"))
    assert kerasweep_command() == "python -m kerasweep"
