"""kerasweep.local._function_spec: ``module:callable`` found as ``python -m`` finds a module,
``file.py:callable`` with its folder searched for what it imports."""

from __future__ import annotations

import os
import sys

import pytest

from kerasweep.local._function_spec import load_function


@pytest.fixture
def console_script_path(tmp_path, monkeypatch):
    """``sys.path`` as a console script has it: no current folder on it (no ``''``, no cwd);
    modules imported by a test are forgotten after it."""
    here = os.path.abspath(os.getcwd())
    monkeypatch.setattr(
        sys, "path", [p for p in sys.path if p and os.path.abspath(p) != here]
    )
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_a_module_in_the_current_folder_is_found(console_script_path):
    (console_script_path / "ks_train_here.py").write_text(
        "import ks_helper_here\ndef train():\n    return ks_helper_here.VALUE\n"
    )
    (console_script_path / "ks_helper_here.py").write_text("VALUE = 7\n")
    assert load_function("ks_train_here:train")() == 7  # its sibling import works too


def test_a_package_in_the_current_folder_is_found(console_script_path):
    package = console_script_path / "ks_pkg_here"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "train.py").write_text("def train():\n    return 'pkg'\n")
    assert load_function("ks_pkg_here.train:train")() == "pkg"


def test_a_module_found_nowhere_names_the_folder_and_the_file_form(console_script_path):
    with pytest.raises(ValueError) as err:
        load_function("ks_missing_train:train")
    message = str(err.value)
    assert "\n" not in message
    assert "no module 'ks_missing_train'" in message
    assert f"looked for ks_missing_train.py in {os.getcwd()}" in message
    assert "path/to/ks_missing_train.py:train" in message


def test_a_missing_import_inside_a_module_is_named(console_script_path):
    (console_script_path / "ks_broken_here.py").write_text("import ks_not_installed\n")
    with pytest.raises(ValueError, match="cannot import ks_broken_here: .*ks_not_installed"):
        load_function("ks_broken_here:train")


def test_the_file_form_imports_the_files_neighbours(console_script_path, tmp_path):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "ks_file_train.py").write_text(
        "from ks_file_helper import VALUE\ndef train():\n    return VALUE\n"
    )
    (folder / "ks_file_helper.py").write_text("VALUE = 'beside'\n")
    assert load_function(f"{folder / 'ks_file_train.py'}:train")() == "beside"
    with pytest.raises(ValueError, match="no file"):
        load_function(f"{folder / 'nope.py'}:train")


def test_a_missing_callable_is_named(console_script_path):
    (console_script_path / "ks_no_callable.py").write_text("train = 3\n")
    with pytest.raises(ValueError, match="has no callable 'train'"):
        load_function("ks_no_callable:train")
