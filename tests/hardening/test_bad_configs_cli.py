"""Bad sweep configs at the command line: one line naming file, key and value; exit 2; no store.

The corpus is the one kerasweep.sweep_config is tested with (tests/sweep_config/test_load.py);
here every case goes through ``kerasweep sweep``, ``run`` and ``explain`` in-process, and a few
through a real ``python -m kerasweep`` process.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from kerasweep.cli import main
from tests.local.helpers import function, subprocess_env
from tests.sweep_config.test_load import BAD_CONFIGS, Bad, _write

COMMANDS = ("sweep", "run", "explain")
BY_ID = {case.id: case for case in BAD_CONFIGS}
# one of each kind of failure: file, syntax, schema, engine-only, and the huge grid
IN_SUBPROCESS = ["missing-file", "yaml-syntax", "method-unknown", "grid-over-uniform"]


def _argv(command: str, path, db) -> list[str]:
    if command == "explain":  # touches no store: there is no --db to give
        return [command, str(path), "--seed", "0"]
    argv = [command, str(path), "--db", str(db)]
    if command == "run":  # what would run must not matter: the config is refused first
        argv += ["--function", function("grid_point"), "--wandb-mode", "disabled"]
    return argv


def _assert_one_line_naming(err: str, command: str, case: Bad, path) -> None:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"kerasweep {command}: error: "), err
    assert "Traceback" not in err
    assert str(path) in err
    if case.key is not None:
        assert f": {case.key}: " in err, err
    assert case.value in err, err


def _assert_no_sweep(db) -> None:
    """No store file, or one that holds no sweep."""
    if not db.exists():
        return
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM sweeps").fetchone()[0] == 0
    finally:
        conn.close()


def test_the_corpus_covers_the_kinds_of_mistake():
    assert len(BAD_CONFIGS) >= 30
    kinds = [
        "missing-file", "yaml-syntax", "top-level-list", "method-unknown",
        "bayes-without-metric", "hyperband-without-metric", "goal-unknown",
        "min-greater-than-max", "log-uniform-values-zero-min", "values-empty",
        "grid-over-uniform", "min-iter-zero", "eta-one", "grid-astronomical",
    ]  # fmt: skip
    assert set(kinds) <= set(BY_ID)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", BAD_CONFIGS, ids=lambda case: case.id)
def test_bad_config_is_refused_in_one_line_and_writes_nothing(case, command, tmp_path, capsys):
    path = _write(case, tmp_path)
    db = tmp_path / "store" / "kerasweep.db"
    status = main(_argv(command, path, db))
    captured = capsys.readouterr()
    assert status == 2, captured
    _assert_one_line_naming(captured.err, command, case, path)
    assert "Created sweep" not in captured.out
    _assert_no_sweep(db)
    assert not (tmp_path / "wandb").exists()  # no run was started


def test_a_bad_config_leaves_an_existing_store_as_it_was(tmp_path, capsys):
    db = tmp_path / "kerasweep.db"
    good = tmp_path / "good.yaml"
    good.write_text("method: grid\nparameters:\n  a: {values: [1, 2]}\n")
    assert main(["sweep", str(good), "--db", str(db)]) == 0
    before = sqlite3.connect(db).execute("SELECT id, config FROM sweeps").fetchall()
    capsys.readouterr()
    for case_id in ("yaml-syntax", "min-greater-than-max", "grid-astronomical"):
        path = _write(BY_ID[case_id], tmp_path)
        for command in COMMANDS:
            assert main(_argv(command, path, db)) == 2
            _assert_one_line_naming(capsys.readouterr().err, command, BY_ID[case_id], path)
    assert sqlite3.connect(db).execute("SELECT id, config FROM sweeps").fetchall() == before
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_real_process_exits_2_with_one_stderr_line(command, tmp_path):
    """``python -m kerasweep``: exit status, stderr and stdout as a shell user sees them."""
    db = tmp_path / "kerasweep.db"
    for case_id in IN_SUBPROCESS:
        case = BY_ID[case_id]
        path = _write(case, tmp_path)
        result = subprocess.run(
            [sys.executable, "-m", "kerasweep", *_argv(command, path, db)],
            env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, (case_id, result.stderr)
        _assert_one_line_naming(result.stderr, command, case, path)
        assert result.stdout == ""
        _assert_no_sweep(db)


@pytest.mark.slow
def test_astronomical_grid_is_refused_without_enumerating_it(tmp_path):
    """A grid of 1000**12 points: refused from its size alone (enumerating would never end).

    The generous timeout only keeps a regression from hanging the suite; no timing is judged.
    """
    path = tmp_path / "huge.yaml"
    path.write_text(
        "method: grid\nparameters:\n"
        + "".join(f"  p{i}: {{values: [{', '.join(map(str, range(1000)))}]}}\n" for i in range(12))
    )
    for command in COMMANDS:
        result = subprocess.run(
            [sys.executable, "-m", "kerasweep", *_argv(command, path, tmp_path / "k.db")],
            env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1
        assert "parameters: the grid has 1.0e+36 points" in result.stderr
        assert str(path) in result.stderr
    assert not (tmp_path / "k.db").exists()


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=lambda case: case.id)
def test_explain_refuses_with_the_line_sweep_gives(case, tmp_path, capsys):
    path = _write(case, tmp_path)
    assert main(_argv("sweep", path, tmp_path / "k.db")) == 2
    refused = capsys.readouterr().err.removeprefix("kerasweep sweep: ")
    assert main(_argv("explain", path, None)) == 2
    assert capsys.readouterr().err.removeprefix("kerasweep explain: ") == refused
