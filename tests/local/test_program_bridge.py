"""kerasweep.local._program_bridge: a program run is recorded without touching its start-up.

The bridge starts the program as Python would; the last test builds the wheel, installs it
into a fresh virtual environment (its own interpreter, no source checkout on any path) and
runs a program sweep there, with a ``sitecustomize`` of the user's on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest

from kerasweep.local._program import BRIDGE_MODULE, build_command, child_env
from kerasweep.local._store import Store
from tests.conftest import ROOT, subprocess_env

SHOW = "import json, os, sys; print(json.dumps([sys.argv, sys.path[0], __name__]))"


def _bridge(*args: str, cwd: Path) -> list:
    out = subprocess.run(
        [sys.executable, "-m", BRIDGE_MODULE, *args],
        cwd=cwd, env=subprocess_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.slow
def test_the_program_runs_as_python_would_run_it(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "show.py").write_text(SHOW)
    argv, path0, name = _bridge("scripts/show.py", "--lr=0.1", cwd=tmp_path)
    assert argv == ["scripts/show.py", "--lr=0.1"] and name == "__main__"
    assert path0 == str(scripts)
    (tmp_path / "showmod.py").write_text(SHOW)
    argv, path0, name = _bridge("-m", "showmod", "--lr=0.1", cwd=tmp_path)
    assert argv == [str(tmp_path / "showmod.py"), "--lr=0.1"] and name == "__main__"
    assert path0 == str(tmp_path)


def test_the_bridge_goes_where_the_interpreter_starts_the_program():
    params = {"lr": 0.1}
    assert build_command({"program": "t.py"}, params, bridge=True)[1:] == [
        sys.executable, "-m", BRIDGE_MODULE, "t.py", "--lr=0.1"
    ]  # fmt: skip
    module = {"program": "pkg.t", "command": ["${interpreter}", "-m", "${program}", "${args}"]}
    assert build_command(module, params, bridge=True) == [
        sys.executable, "-m", BRIDGE_MODULE, "-m", "pkg.t", "--lr=0.1"
    ]  # fmt: skip
    literal = {"program": "t.py", "command": ["python3", "${program}", "${args}"]}
    assert build_command(literal, params, bridge=True) == ["python3", "t.py", "--lr=0.1"]


def test_a_checkout_is_put_on_the_path_of_the_program_and_nothing_else(db):
    env = child_env({"PYTHONPATH": "/mine"}, db=db, sweep_id="s", run_id="r", agent_id="a")
    assert env["PYTHONPATH"].split(os.pathsep) == [ROOT, "/mine"]
    assert "_site" not in env["PYTHONPATH"]


PROGRAM = textwrap.dedent(
    """
    import argparse, json, os, sys
    import wandb
    from kerasweep.local import stop_requested
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int)
    series = [[1.0, 0.5, 0.4, 0.3], [0.9, 0.45, 0.4, 0.3], [2.0, 1.9, 1.8, 1.7]]
    n = parser.parse_args().series
    wandb.init(config={"series": -1})
    for epoch, value in enumerate(series[n]):
        wandb.log({"epochs": epoch, "val_loss": value})
        if stop_requested():
            break
    import kerasweep
    seen = {"kerasweep": kerasweep.__file__, "python": sys.executable,
            "site": os.environ.get("USER_SITE_RAN"), "pythonpath": os.environ.get("PYTHONPATH")}
    with open(f"seen-{n}.json", "w") as out:
        json.dump(seen, out)
    """
)

SWEEP = """\
program: train.py
method: grid
metric: {name: val_loss, goal: minimize}
early_terminate: {type: hyperband, min_iter: 2, eta: 2}
parameters:
  series: {values: [0, 1, 2]}
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the wheel of this checkout, reusing the test venv's packages."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(
        ROOT, source,
        ignore=shutil.ignore_patterns(".git", "tests", "benchmarks", "build", "dist", "*.db",
                                      "wandb", "__pycache__", "*.egg-info"),
    )  # fmt: skip
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(base / "dist"), str(source)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    # setuptools' deprecations become errors at a date it names: none may be left
    assert "Warning" not in built.stderr, built.stderr
    (wheel,) = (base / "dist").glob("kerasweep-*.whl")
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # the dependencies: the test venv's packages. kerasweep may be among them (CI installs
    # it there): --ignore-installed puts the wheel in this venv, whose own site-packages
    # comes before the shared one, and leaves the test venv's copy alone.
    Path(purelib, "shared.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--ignore-installed", str(wheel)],
        check=True,
    )  # fmt: skip
    return env_dir


@pytest.mark.slow
def test_a_program_sweep_is_recorded_from_an_installed_wheel(installed, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "train.py").write_text(PROGRAM)
    (work / "sweep.yaml").write_text(SWEEP)
    user_site = tmp_path / "user-site"
    user_site.mkdir()
    (user_site / "sitecustomize.py").write_text("import os\nos.environ['USER_SITE_RAN'] = '1'\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "KERASWEEP_"))}
    env.update(PYTHONPATH=str(user_site), WANDB_MODE="disabled", WANDB_SILENT="true")
    done = subprocess.run(
        [installed / "bin" / "kerasweep", "run", "sweep.yaml", "--db", "k.db"],
        cwd=work, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (sweep,) = Store(work / "k.db").sweeps()
    runs = Store(work / "k.db").snapshot(sweep.id)["runs"]
    assert [r["state"] for r in runs] == ["finished", "finished", "stopped"], runs
    assert runs[2]["stop"]["band"] == 2 and len(runs[2]["history"]) == 2
    assert runs[0]["history"][0] == {"epochs": 0, "val_loss": 1.0}
    for n in range(3):
        seen = json.loads((work / f"seen-{n}.json").read_text())
        assert seen["python"] == str(installed / "bin" / "python")
        assert Path(seen["kerasweep"]).is_relative_to(installed)  # the wheel, not a checkout
        assert seen["site"] == "1"  # the user's sitecustomize ran, nothing shadowed it
        assert seen["pythonpath"] == str(user_site)
