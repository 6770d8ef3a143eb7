"""kerasweep.cli: the command line, end to end."""

from __future__ import annotations

import fnmatch
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from kerasweep.cli import main
from tests.conftest import ROOT, module_run
from tests.local.helpers import function, subprocess_env

GRID = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"a": {"values": [3, 1, 2]}, "b": {"value": "p"}},
}


@pytest.fixture(autouse=True)
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.delenv("KERASWEEP_DB", raising=False)
    return tmp_path


def _one_error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"kerasweep {command}: error: ") or err.startswith("kerasweep")
    return err


def _config(tmp_path, config, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _sweep(capsys, tmp_path, config=GRID) -> str:
    assert main(["sweep", _config(tmp_path, config)]) == 0
    captured = capsys.readouterr()
    sweep_id = captured.out.strip()  # the id alone on stdout, for SID=$(kerasweep sweep ...)
    assert captured.out == f"{sweep_id}\n"
    out = captured.err  # the sentences
    assert out.split("Created sweep with ID: ")[1].split()[0] == sweep_id
    assert f"kerasweep agent {sweep_id}" in out
    return sweep_id


@pytest.mark.parametrize(
    "argv",
    [
        ["sweep", "missing.yaml"],
        ["sweep", "bad.yaml"],
        ["run", "bad.yaml", "--function", "x"],
        ["run", "grid.yaml", "--function", "nope:nothing"],
        ["ls"],
        ["show", "abc"],
        ["best", "abc"],
        ["agent", "abc", "--count", "0"],
        ["agent", "abc", "--wandb-mode", "online"],
        ["frobnicate"],
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(argv, tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("method: nope\nparameters: {a: {values: [1]}}\n")
    _config(tmp_path, GRID, "grid.yaml")
    before = set(os.listdir(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        raise SystemExit(main(argv))
    assert exit_.value.code == 2
    _one_error_line(capsys, argv[0])
    assert set(os.listdir(tmp_path)) == before


def test_unknown_sweep_in_an_existing_store(tmp_path, capsys):
    _sweep(capsys, tmp_path)
    for argv in (["agent", "nope"], ["show", "nope"], ["best", "nope"], ["report", "nope"]):
        assert main(argv) == 2
        assert "no sweep 'nope'" in _one_error_line(capsys, argv[0])


@pytest.mark.slow
def test_sweep_agent_show_best_ls(tmp_path, capsys):
    sweep_id = _sweep(capsys, tmp_path)
    assert (tmp_path / "kerasweep.db").exists()
    status = main(["agent", sweep_id, "--function", function("grid_point"), "--count", "2"])
    assert status == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert len(lines) == 2 and all("finished" in line and "val_loss=" in line for line in lines)
    assert lines[0].startswith("[1/2]") and "a=3" in lines[0] and "b=" not in lines[0]
    # the agent leaves the sweep's report behind
    assert f"Report: report-{sweep_id}.html" in out.splitlines()
    assert "<!DOCTYPE html>" in (tmp_path / f"report-{sweep_id}.html").read_text()
    assert main(["agent", sweep_id, "--function", function("grid_point")]) == 0
    assert "sweep has no more runs" in capsys.readouterr().out

    assert main(["show", sweep_id]) == 0
    table = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(table) if line.startswith("#"))
    assert table[header].split() == [
        "#",
        "run",
        "state",
        "a",
        "val_loss",
        "epochs",
        "why",
        "stopped",
    ]
    ranked = [line.split() for line in table[header + 1 :]]
    assert [row[3] for row in ranked] == ["1", "2", "3"]  # best val_loss first
    assert [row[0] for row in ranked] == ["2", "3", "1"]  # creation order kept in "#"

    assert main(["best", sweep_id]) == 0
    best = capsys.readouterr().out
    assert best.startswith(f"# best of sweep {sweep_id}")
    assert yaml.safe_load(best) == {"a": 1, "b": "p"}

    assert main(["ls"]) == 0
    listing = capsys.readouterr().out
    assert sweep_id in listing and "grid" in listing and "finished" in listing


@pytest.mark.slow
def test_a_metric_no_run_logs_is_said_once_by_the_agent_and_in_show_and_the_report(
    tmp_path, capsys
):
    sweep_id = _sweep(capsys, tmp_path, {**GRID, "metric": {"name": "valloss"}})
    assert main(["agent", sweep_id, "--function", function("grid_point")]) == 0
    out = capsys.readouterr().out
    status = [line for line in out.splitlines() if line.startswith("[")]
    assert len(status) == 3 and all(line.endswith("(valloss not logged)") for line in status)
    said = "never logged the sweep metric 'valloss'; it logged val_loss, pid"
    warnings = [line for line in out.splitlines() if said in line]
    assert len(warnings) == 1, out  # once per sweep, not per run
    assert warnings[0].startswith("warning: run ")
    assert warnings[0].endswith("(did you mean 'val_loss'?)")

    assert main(["show", sweep_id]) == 0
    note = capsys.readouterr().out.splitlines()[-1]
    assert note == (
        "note: 3 of 3 finished runs never logged the sweep metric 'valloss';"
        " the first logged val_loss, pid (did you mean 'val_loss'?)"
    )
    assert main(["report", sweep_id, "-o", "r.html"]) == 0
    page = (tmp_path / "r.html").read_text()
    assert '<p class="notice" role="alert">3 of 3 finished runs never logged' in page
    assert "did you mean &#x27;val_loss&#x27;?" in page or "did you mean 'val_loss'?" in page


def test_db_option_and_environment(tmp_path, capsys, monkeypatch):
    config = _config(tmp_path, GRID)
    assert main(["--db", "a.db", "sweep", config]) == 0
    assert main(["sweep", config, "--db", "b.db"]) == 0
    monkeypatch.setenv("KERASWEEP_DB", str(tmp_path / "c.db"))
    assert main(["sweep", config]) == 0
    capsys.readouterr()
    assert {p.name for p in tmp_path.glob("*.db")} == {"a.db", "b.db", "c.db"}


@pytest.mark.slow
def test_agent_exits_1_after_consecutive_failures(tmp_path, capsys):
    sweep_id = _sweep(capsys, tmp_path)
    argv = ["agent", sweep_id, "--function", function("always_fail"), "--max-failures", "2"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.count("RuntimeError: broken function") == 2
    assert main(["best", sweep_id]) == 1
    assert "no finished run" in capsys.readouterr().err


def test_report_command(tmp_path, capsys):
    sweep_id = _sweep(capsys, tmp_path)
    assert main(["report", sweep_id, "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").exists()
    assert capsys.readouterr().out.strip() == str(tmp_path / "r.html")


def test_the_report_written_by_default_is_ignored_by_git(tmp_path, capsys):
    """``run`` and ``agent`` leave ``report-<id>.html`` in the project folder."""
    sweep_id = _sweep(capsys, tmp_path)
    assert main(["report", sweep_id]) == 0
    written = capsys.readouterr().out.strip()
    assert written == f"report-{sweep_id}.html"
    lines = Path(ROOT, ".gitignore").read_text().splitlines()
    assert any(fnmatch.fnmatch(written, line.strip()) for line in lines if line.strip())


def test_report_to_an_unwritable_path_is_one_line(tmp_path, capsys):
    sweep_id = _sweep(capsys, tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["report", sweep_id, "-o", str(blocker / "r.html")]) == 2
    line = _one_error_line(capsys, "report")
    assert str(blocker) in line


@pytest.mark.slow
def test_read_commands_do_not_import_tensorflow_or_wandb(tmp_path, capsys):
    sweep_id = _sweep(capsys, tmp_path)
    _config(tmp_path, GRID, "s.yaml")
    code = textwrap.dedent(
        f"""
        import sys
        from kerasweep.cli import main
        for argv in (["ls"], ["show", "{sweep_id}"], ["best", "{sweep_id}"],
                     ["sweep", "s.yaml"]):
            assert main(argv) in (0, 1)  # best: no finished run yet
        print(sorted(m for m in ("tensorflow", "keras", "wandb") if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


@pytest.mark.slow
def test_run_on_digits_end_to_end(tmp_path):
    """The quickstart's command on a tiny digits sweep: status lines, leaderboard, no noise."""
    config = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 1},
        "parameters": {
            "learning_rate": {"values": [0.05, 0.0001]},
            "dataset": {"value": "digits"},
            "epochs": {"value": 3},
            "hidden_units": {"value": 16},
            "seed": {"value": 0},
        },
    }
    result = subprocess.run(
        [sys.executable, "-m", "kerasweep", "run", _config(tmp_path, config), "--db", "d.db"],
        env=subprocess_env(WANDB_MODE="offline"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = result.stdout.splitlines()
    status = [line for line in lines if line.startswith("[")]
    assert len(status) == 2 and "finished" in status[0] and "val_loss=" in status[0]
    assert "stopped at band 1" in status[1]  # lr 0.0001 falls behind at once
    assert any(line.startswith("#  run") for line in lines)
    sweep_id = lines[0].split("Created sweep with ID: ")[1]
    assert lines[-1] == f"Report: report-{sweep_id}.html"  # written after the leaderboard
    assert "<!DOCTYPE html>" in (tmp_path / f"report-{sweep_id}.html").read_text()
    for noise in ("I0000", "absl::", "cudart", "Epoch 1/", "wandb:"):
        assert noise not in output
    assert list(tmp_path.glob("wandb/offline-run-*"))


@pytest.mark.slow
def test_ctrl_c_marks_the_run_preempted_and_run_still_shows_the_leaderboard(tmp_path):
    flag = tmp_path / "hang"
    flag.touch()
    command = [
        sys.executable, "-m", "kerasweep", "run", _config(tmp_path, GRID),
        "--function", function("hang_on_flag"), "--wandb-mode", "disabled",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command,
        env=subprocess_env(TEST_HANG_FLAG=str(flag)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "hang.running").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, out
    assert "Agent interrupted" in out
    assert "1 run: 1 preempted" in out
    rows = [line.split() for line in out.splitlines() if "(KeyboardInterrupt)" in line]
    assert len(rows) == 1 and rows[0][2] == "preempted"  # the leaderboard's row


@pytest.mark.slow
def test_show_and_the_report_name_the_seed_and_the_distinct_configurations(tmp_path, capsys):
    from kerasweep.local._store import Store

    config = {**GRID, "method": "random", "parameters": {"a": {"values": [1, 2]}}}
    for seed, shown in ((None, "unseeded"), (5, "seed 5")):
        argv = ["run", _config(tmp_path, config), "--count", "6", "--wandb-mode", "disabled"]
        argv += ["--function", function("grid_point")]
        assert main(argv + ([] if seed is None else ["--seed", str(seed)])) == 0
        sweep = Store("kerasweep.db").sweeps()[-1]
        distinct = len({r.params["a"] for r in Store("kerasweep.db").runs(sweep.id)})
        line = f"search: {shown}, {distinct} distinct configuration{'' if distinct == 1 else 's'}"
        assert line in capsys.readouterr().out.splitlines()  # the leaderboard after the runs
        assert main(["show", sweep.id]) == 0
        assert capsys.readouterr().out.splitlines()[2] == line
        page = (tmp_path / f"report-{sweep.id}.html").read_text()
        assert f"{shown} · {distinct} distinct configuration" in page


def test_an_internal_error_is_one_line_exit_1_and_its_traceback_under_v(
    tmp_path, capsys, monkeypatch
):
    """A bug, even a ValueError or OSError, is not bad input: exit 1, not 2."""
    from kerasweep.local._store import Store

    sweep_id = _sweep(capsys, tmp_path)
    for err in (ValueError("a bug"), OSError("another bug"), KeyError("third")):

        def broken(self, *args, error=err, **kwargs):
            raise error

        monkeypatch.setattr(Store, "load", broken)
        assert main(["show", sweep_id]) == 1
        line = capsys.readouterr().err
        assert line.count("\n") == 1, line
        assert line.startswith(f"kerasweep show: internal error: {type(err).__name__}: ")
        assert "-v shows the traceback" in line
        assert main(["show", "-v", sweep_id]) == 1
        err_text = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err_text and "in broken" in err_text
        assert err_text.rstrip().splitlines()[-1].startswith("kerasweep show: internal error")


def test_v_is_accepted_by_every_command(tmp_path, capsys):
    sweep_id = _sweep(capsys, tmp_path)
    assert main(["ls", "-v"]) == 0
    assert main(["show", "-v", sweep_id]) == 0
    assert main(["show", "-v", "nope"]) == 2  # bad input stays bad input
    assert "no sweep 'nope'" in _one_error_line(capsys, "show")


@pytest.fixture(scope="module")
def fresh_run_command(tmp_path_factory):
    """``kerasweep run`` of a one-run sweep in a new process, as a user types it."""
    tmp_path = tmp_path_factory.mktemp("fresh-run")
    config = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {
            "dataset": {"value": "digits"},
            "epochs": {"value": 1},
            "hidden_units": {"value": 8},
        },
    }
    argv = ["kerasweep", "run", _config(tmp_path, config), "--db", "d.db", "--count", "1"]
    return module_run(argv, cwd=tmp_path, WANDB_MODE="offline")


@pytest.mark.slow
def test_run_never_imports_wandbs_launch_inputs(fresh_run_command):
    # the CLI imports TensorFlow before the agent starts (to keep its log lines out); a
    # wandb.init that imported wandb.sdk.launch after it would be slow (benchmarks/RESULTS.md,
    # "A process's start and exit")
    assert fresh_run_command["wandb_launch_imported"] is False


@pytest.mark.slow
def test_run_exits_without_collecting_what_is_alive(fresh_run_command):
    # Python's shutdown collections over TensorFlow's objects, skipped (benchmarks/RESULTS.md,
    # "A process's start and exit")
    assert fresh_run_command["tracked_at_exit"] < 100
