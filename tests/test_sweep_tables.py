"""kerasweep ls/show/best (text and --json) and export, on an SQLite file and on PostgreSQL."""

from __future__ import annotations

import csv
import io
import json

import pytest
import yaml

from kerasweep.cli import main
from tests.local.stored_sweeps import write_sweep
from tests.postgres import password_of


def _run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_show_ranks_runs_best_first_and_names_why_they_stopped(any_db, capsys):
    sweep_id, ids = write_sweep(any_db)
    status, out, _ = _run(capsys, "show", sweep_id, "--db", any_db)
    assert status == 0
    lines = out.splitlines()
    assert (
        lines[0]
        == f"sweep {sweep_id} (results)  grid  val_loss (minimize)  hyperband min_iter=2 eta=2"
    )
    assert lines[1] == "sweep running; 4 runs: 1 finished, 1 stopped, 1 failed, 1 running"
    assert lines[2] == "search: seed 3, 4 distinct configurations"
    assert lines[3] == "bands: 2 epochs <= 0.3"
    table = [line.split() for line in lines[6:]]
    assert [row[1] for row in table] == [ids[k] for k in ("running", "good", "stopped", "failed")]
    assert [row[0] for row in table] == ["4", "1", "2", "3"]
    assert " ".join(table[2][-7:]) == "hyperband band 2: 0.8 vs threshold 0.3"


def test_json_forms_of_ls_show_and_best(any_db, capsys):
    sweep_id, ids = write_sweep(any_db)
    status, out, _ = _run(capsys, "ls", "--json", "--db", any_db)
    (listed,) = json.loads(out)
    assert status == 0 and listed["id"] == sweep_id and listed["seed"] == 3
    assert listed["metric"] == {"name": "val_loss", "goal": "minimize"}
    assert listed["runs"] == {"finished": 1, "stopped": 1, "failed": 1, "running": 1}

    status, out, _ = _run(capsys, "show", sweep_id, "--json", "--db", any_db)
    shown = json.loads(out)
    assert [r["id"] for r in shown["runs"]] == [
        ids[k] for k in ("running", "good", "stopped", "failed")
    ]
    assert [r["rank"] for r in shown["runs"]] == [1, 2, 3, None]
    assert shown["runs"][2]["stop"]["band"] == 2 and "history" not in shown["runs"][0]

    status, out, _ = _run(capsys, "best", sweep_id, "--json", "--db", any_db)
    best = json.loads(out)
    assert best["run"] == ids["good"] and best["params"] == {"lr": 0.1, "opt": {"b": 0.9}}
    assert best["metric"] == {"name": "val_loss", "goal": "minimize", "value": 0.3}
    status, out, _ = _run(capsys, "best", sweep_id, "--db", any_db)
    assert out.startswith(f"# best of sweep {sweep_id}: run {ids['good']} (finished), val_loss=0.3")
    assert yaml.safe_load(out) == {"lr": 0.1, "opt": {"b": 0.9}}


def test_export_to_stdout_and_to_a_file(any_db, capsys, tmp_path):
    sweep_id, ids = write_sweep(any_db)
    status, out, _ = _run(capsys, "export", sweep_id, "--db", any_db)
    assert status == 0 and json.loads(out)["runs"][0]["history"][0] == {
        "epochs": 0,
        "val_loss": 0.5,
    }
    target = tmp_path / "runs.csv"
    status, out, _ = _run(
        capsys, "export", sweep_id, "--format", "csv", "-o", str(target), "--db", any_db
    )
    assert status == 0 and out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [r["id"] for r in rows] == list(ids.values())


def test_export_of_an_unknown_sweep_is_one_line_exit_2(any_db, capsys):
    write_sweep(any_db)
    status, out, err = _run(capsys, "export", "nope", "--db", any_db)
    assert status == 2 and out == ""
    assert err.strip().startswith("kerasweep export: error: no sweep 'nope' in ")
    if "://" in any_db:
        assert password_of(any_db) not in err and ":***@" in err


@pytest.mark.parametrize("command", ["ls", "show"])
def test_no_password_in_what_ls_and_show_print(postgres_url, capsys, command):
    sweep_id, _ = write_sweep(postgres_url)
    argv = [command] if command == "ls" else [command, sweep_id]
    for extra in ([], ["--json"]):
        status, out, err = _run(capsys, *argv, *extra, "--db", postgres_url)
        assert status == 0 and password_of(postgres_url) not in out + err


def test_export_to_an_unwritable_path_is_one_line_exit_2(capsys, tmp_path):
    db = tmp_path / "kerasweep.db"
    sweep_id, _ = write_sweep(db)
    blocker = tmp_path / "file"
    blocker.write_text("")
    status, _, err = _run(
        capsys, "export", sweep_id, "-o", str(blocker / "x.json"), "--db", str(db)
    )
    assert status == 2 and err.strip() == (
        f"kerasweep export: error: cannot write {blocker / 'x.json'}: Not a directory"
    )


def test_ls_best_column_is_the_run_best_names(any_db, capsys):
    """A running (or crashed) run's lower value is not ls's best: `kerasweep best`'s run is."""
    sweep_id, ids = write_sweep(any_db)
    status, out, _ = _run(capsys, "ls", "--db", any_db)
    header, row = out.splitlines()
    assert header.split()[-4:] == ["runs", "best", "created", "(UTC)"]
    assert status == 0 and row.split()[-3] == "0.3"  # the running run logged 0.1
    status, out, _ = _run(capsys, "best", sweep_id, "--json", "--db", any_db)
    assert json.loads(out)["run"] == ids["good"] and json.loads(out)["metric"]["value"] == 0.3
    status, out, _ = _run(capsys, "ls", "--json", "--db", any_db)
    assert json.loads(out)[0]["best"] == 0.3
