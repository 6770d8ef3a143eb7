"""The ``kerasweep`` console script in a shell: ``--function module:name`` from the current
folder, a reader that goes away, output that ``$(...)`` captures, the commands it suggests."""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest
import yaml

from tests.cli.console_script import install_script, run_script
from tests.conftest import ROOT, subprocess_env
from tests.local import test_program_bridge
from tests.local.helpers import function

GRID = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"a": {"values": [3, 1, 2]}, "b": {"value": "p"}},
}
# the fixture `installed`: a fresh venv with the wheel of this checkout installed
installed = test_program_bridge.installed
MYTRAIN = """\
import wandb

def train():
    run = wandb.init()
    wandb.log({"val_loss": float(run.config.a)})
"""


@pytest.fixture(scope="module")
def kerasweep(tmp_path_factory):
    """The console script, in a folder of its own (not the one it runs in)."""
    return install_script(tmp_path_factory.mktemp("venv") / "bin", "kerasweep")


@pytest.fixture(scope="module")
def finished(kerasweep, tmp_path_factory):
    """A folder with ``sweep.yaml`` and a store holding that sweep, run to its end: (folder,
    sweep id)."""
    work = tmp_path_factory.mktemp("work")
    (work / "sweep.yaml").write_text(yaml.safe_dump(GRID))
    argv = ["run", "sweep.yaml", "--function", function("grid_point"), "--wandb-mode", "disabled"]
    done = run_script(kerasweep, *argv, cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    (sweep,) = json.loads(run_script(kerasweep, "ls", "--json", cwd=work).stdout)
    return work, sweep["id"]


def _states(kerasweep, work, sweep_id) -> list[str]:
    shown = run_script(kerasweep, "show", sweep_id, "--json", cwd=work)
    assert shown.returncode == 0, shown.stderr
    return [run["state"] for run in json.loads(shown.stdout)["runs"]]


def test_a_function_module_in_the_current_folder_is_found(kerasweep, tmp_path):
    work = tmp_path.resolve()
    (work / "mytrain.py").write_text(MYTRAIN)
    (work / "sweep.yaml").write_text(yaml.safe_dump(GRID))
    sweep_id = run_script(kerasweep, "sweep", "sweep.yaml", cwd=work).stdout.strip()
    argv = ["agent", sweep_id, "--function", "mytrain:train", "--count", "1"]
    done = run_script(kerasweep, *argv, cwd=work, WANDB_MODE="disabled")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _states(kerasweep, work, sweep_id) == ["finished"]

    missing = run_script(kerasweep, "agent", sweep_id, "--function", "mytrian:train", cwd=work)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1, missing.stderr
    assert missing.stderr.startswith("kerasweep agent: error: ")
    assert f"no module 'mytrian' (looked for mytrian.py in {work})" in missing.stderr
    assert "path/to/mytrian.py:train" in missing.stderr  # the file form, which works:
    argv = ["agent", sweep_id, "--function", "./mytrain.py:train", "--count", "1"]
    done = run_script(kerasweep, *argv, cwd=work, WANDB_MODE="disabled")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _states(kerasweep, work, sweep_id) == ["finished", "finished"]


READERS = [
    ["ls"],
    ["ls", "--json"],
    ["show", "{id}"],
    ["show", "{id}", "--json"],
    ["best", "{id}"],
    ["best", "{id}", "--json"],
    ["export", "{id}"],
    ["export", "{id}", "--format", "csv"],
    ["report", "{id}", "-o", "r.html"],
    ["explain", "sweep.yaml"],
    ["sweep", "sweep.yaml", "--db", "other.db"],
]


@pytest.mark.parametrize("argv", READERS, ids=" ".join)
def test_a_reader_gone_ends_the_command_quietly_with_status_141(kerasweep, finished, argv):
    """``kerasweep ... | true``: the pipe's reader has gone before the first write."""
    work, sweep_id = finished
    command = [str(kerasweep), *(arg.format(id=sweep_id) for arg in argv)]
    proc = subprocess.Popen(
        command, cwd=work, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    said = ("Created sweep with ID:", "Run sweep agent with:") if argv[0] == "sweep" else ()
    assert [line for line in err.splitlines() if not line.startswith(said)] == []


def test_a_reader_gone_after_some_lines_ends_an_agent_at_its_next_line(kerasweep, tmp_path):
    """``kerasweep run sweep.yaml | head -3``: the runs ended so far are recorded; none is left
    running."""
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(GRID))
    argv = ["run", "sweep.yaml", "--function", function("grid_point"), "--wandb-mode", "disabled"]
    proc = subprocess.Popen(
        [str(kerasweep), *argv],
        cwd=tmp_path,
        env=subprocess_env(TEST_SLEEP="0.5"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not proc.stdout.readline().startswith("[1]"):
        assert proc.poll() is None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""
    (sweep,) = json.loads(run_script(kerasweep, "ls", "--json", cwd=tmp_path).stdout)
    states = _states(kerasweep, tmp_path, sweep["id"])
    assert states[0] == "finished" and "running" not in states and len(states) < 3


def test_a_broken_pipe_that_is_not_the_readers_is_an_internal_error(finished):
    """A BrokenPipeError from a socket or a child's pipe, stdout's reader still there."""
    code = textwrap.dedent(
        """
        import sys
        from kerasweep.cli import main
        from kerasweep.local import _store as store
        def broken(self, *args, **kwargs):
            raise BrokenPipeError(32, "Broken pipe")
        store.Store.sweeps = broken
        sys.exit(main(["ls"]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=finished[0],
        env=subprocess_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("kerasweep ls: internal error: BrokenPipeError")


def test_output_a_script_captures_holds_nothing_else(kerasweep, finished):
    """``SID=$(kerasweep sweep sweep.yaml)`` and the other outputs made to be captured."""
    work, sweep_id = finished
    script = f"""
        set -e
        SID=$({kerasweep} sweep sweep.yaml --db captured.db)
        {kerasweep} show "$SID" --db captured.db --json
    """
    shell = subprocess.run(
        ["bash", "-c", script], cwd=work, env=subprocess_env(), capture_output=True, text=True
    )
    assert shell.returncode == 0, shell.stderr
    created = json.loads(shell.stdout)["sweep"]["id"]
    assert f"Created sweep with ID: {created}" in shell.stderr  # the sentences: on stderr
    assert f"Run sweep agent with: {kerasweep} --db captured.db agent {created}" in shell.stderr

    def out(*argv: str) -> str:
        done = run_script(kerasweep, *argv, cwd=work)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert yaml.safe_load(out("best", sweep_id)) == {"a": 1, "b": "p"}
    assert json.loads(out("best", sweep_id, "--json"))["params"] == {"a": 1, "b": "p"}
    assert len(json.loads(out("export", sweep_id))["runs"]) == 3
    assert len(list(csv.DictReader(io.StringIO(out("export", sweep_id, "--format", "csv"))))) == 3
    assert out("report", sweep_id, "-o", "r.html") == "r.html\n"
    assert json.loads(out("show", sweep_id, "--json"))["sweep"]["id"] == sweep_id
    assert [s["id"] for s in json.loads(out("ls", "--json"))] == [sweep_id]


def _gitignore_patterns() -> list[str]:
    lines = (Path(ROOT) / ".gitignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.slow
def test_the_quickstart_in_a_venv_that_is_not_active(tmp_path):
    """``.venv/bin/kerasweep run ...`` without activating ``.venv``: its own ``mytrain.py``
    found, and the commands it suggests run as shown in the same shell."""
    work = tmp_path.resolve()
    (work / "mytrain.py").write_text(MYTRAIN)
    (work / "sweep.yaml").write_text(yaml.safe_dump(GRID))
    venv.create(work / ".venv", with_pip=False, symlinks=True)
    python = work / ".venv" / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # this checkout and the test venv's packages, as an install would give them
    Path(purelib, "shared.pth").write_text(f"{ROOT}\n{sysconfig.get_paths()['purelib']}\n")
    for name in ("kerasweep", "wandb"):
        install_script(work / ".venv" / "bin", name, python=python)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env = {k: v for k, v in env.items() if not k.startswith(("WANDB_", "KERASWEEP_DB"))}
    env.update(PATH="/usr/bin:/bin", WANDB_MODE="offline", WANDB_SILENT="true")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        env[name] = str(work / "wandb-home")

    def shell(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip

    done = shell(".venv/bin/kerasweep run sweep.yaml --function mytrain:train --count 1")
    assert done.returncode == 0, done.stdout + done.stderr
    watch = re.search(r"^Watch it live: (.+) serve (\w+) ", done.stdout, re.MULTILINE)
    sync = re.search(r"upload with `(.+) sync (\S+)`", done.stdout)
    assert watch.group(1) == ".venv/bin/kerasweep" and sync.group(1) == ".venv/bin/wandb"
    assert sync.group(2) == "./wandb/offline-run-*"
    shown = shell(f"{watch.group(1)} show {watch.group(2)}")
    assert shown.returncode == 0 and "finished" in shown.stdout, shown.stderr
    assert shell(f"{sync.group(1)} sync --help").returncode == 0
    assert shell("kerasweep --help").returncode == 127  # the plain names would not have run

    report = f"report-{watch.group(2)}.html"
    assert (work / report).is_file()
    assert any(fnmatch.fnmatch(report, pattern) for pattern in _gitignore_patterns())


@pytest.mark.slow
def test_the_console_script_of_the_installed_wheel(installed, tmp_path):
    """The ``kerasweep`` pip installs from the wheel, run in the folder of ``mytrain.py``."""
    kerasweep = installed / "bin" / "kerasweep"
    work = tmp_path.resolve()
    (work / "mytrain.py").write_text(MYTRAIN)
    (work / "sweep.yaml").write_text(yaml.safe_dump(GRID))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "KERASWEEP_"))}
    env.update(WANDB_MODE="disabled", WANDB_SILENT="true", PATH="/usr/bin:/bin")

    def run(*args: str, **options) -> subprocess.CompletedProcess:
        return subprocess.run(
            [kerasweep, *args], cwd=work, env=env, text=True, timeout=300, **options
        )

    created = run("sweep", "sweep.yaml", capture_output=True)
    sweep_id = created.stdout.strip()
    assert created.stdout == f"{sweep_id}\n" and "Created sweep" in created.stderr
    done = run("agent", sweep_id, "--function", "mytrain:train", capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Watch it live: {kerasweep} serve {sweep_id}" in done.stdout  # not on PATH
    shown = run("show", sweep_id, capture_output=True)
    assert shown.returncode == 0 and "finished" in shown.stdout
    proc = subprocess.Popen(
        [kerasweep, "show", sweep_id], cwd=work, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    proc.stdout.close()
    assert proc.wait(timeout=120) == 141 and proc.stderr.read() == b""
