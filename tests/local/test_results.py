"""kerasweep.load_sweep and the exports: a sweep's results for scripts, from either store."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

import kerasweep
from kerasweep.local.results import export_sweep, load_sweep, sweep_summaries
from kerasweep.local.store import Store, StoreError, UnknownSweepError
from tests.conftest import subprocess_env
from tests.local.stored_sweeps import write_sweep


def test_load_sweep_gives_runs_with_rows_and_the_best_finished_run(any_db):
    sweep_id, ids = write_sweep(any_db)
    sweep = kerasweep.load_sweep(sweep_id, db=any_db)
    assert sweep.id == sweep_id and sweep.seed == 3 and sweep.metric.name == "val_loss"
    assert [run.id for run in sweep.runs] == [
        ids[k] for k in ("good", "stopped", "failed", "running")
    ]
    assert [run.state for run in sweep.runs] == ["finished", "stopped", "failed", "running"]
    # the running run has the lowest value, but only finished and stopped runs count
    assert sweep.best_run.id == ids["good"] and sweep.best_run.best(sweep.metric) == 0.3
    assert [r.id for r in sweep.ranked()] == [
        ids[k] for k in ("running", "good", "stopped", "failed")
    ]
    good = sweep.runs[0]
    assert good.history[1] == {"batch/loss": 0.4}
    assert good.summary == {"epochs": 1, "val_loss": 0.3, "batch/loss": 0.4}
    assert sweep.runs[1].stop.band == 2 and [b.to_dict() for b in sweep.bands] == [
        {"band": 2, "threshold": 0.3}
    ]


def test_load_sweep_never_creates_a_store(tmp_path):
    with pytest.raises(StoreError, match="no kerasweep store"):
        load_sweep("abc", db=tmp_path / "none.db")
    assert not (tmp_path / "none.db").exists()
    Store(tmp_path / "s.db").close()
    with pytest.raises(UnknownSweepError, match="no sweep 'abc'"):
        load_sweep("abc", db=tmp_path / "s.db")


def test_to_dataframe_has_one_row_per_run_with_flat_params_and_summary(db):
    pandas = pytest.importorskip("pandas")
    sweep_id, ids = write_sweep(db)
    frame = load_sweep(sweep_id, db=db).to_dataframe()
    assert isinstance(frame, pandas.DataFrame) and list(frame["id"]) == list(ids.values())
    assert list(frame["params.lr"]) == [0.1, 0.01, 0.001, 0.0001]
    assert list(frame["params.opt.b"]) == [0.9] * 4
    assert frame.loc[0, "summary.val_loss"] == 0.3 and frame.loc[0, "metric"] == 0.3
    assert frame.loc[1, "stop_band"] == 2 and frame.loc[2, "error"] == "ValueError: boom"


def test_to_dataframe_without_pandas_names_the_extra(db):
    sweep_id, _ = write_sweep(db)
    script = (
        "import sys; sys.modules['pandas'] = None\n"
        "import kerasweep\n"
        f"kerasweep.load_sweep({sweep_id!r}, db={str(db)!r}).to_dataframe()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=subprocess_env(), capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "ImportError: Sweep.to_dataframe needs pandas: pip install 'kerasweep[pandas]'"
    )


def test_export_json_holds_everything_and_csv_one_line_per_run(db):
    sweep_id, ids = write_sweep(db)
    sweep = load_sweep(sweep_id, db=db)
    data = json.loads(export_sweep(sweep, "json"))
    assert data["sweep"]["seed"] == 3 and data["sweep"]["config"]["name"] == "results"
    assert [r["id"] for r in data["runs"]] == list(ids.values())
    assert data["runs"][0]["history"][2] == {"epochs": 1, "val_loss": 0.3}
    assert data["runs"][1]["stop"] == {"band": 2, "threshold": 0.3, "value": 0.8, "epoch": 2}
    rows = list(csv.DictReader(io.StringIO(export_sweep(sweep, "csv"))))
    assert [r["id"] for r in rows] == list(ids.values())
    assert rows[0]["params.lr"] == "0.1" and rows[0]["metric"] == "0.3"
    assert rows[2]["state"] == "failed" and rows[2]["summary.val_loss"] == ""
    with pytest.raises(ValueError, match="expected one of json, csv"):
        export_sweep(sweep, "xml")


def test_sweep_summaries_count_runs_by_state_and_take_the_best_of_all(any_db):
    sweep_id, _ = write_sweep(any_db)
    (summary,) = sweep_summaries(Store(any_db))
    assert summary.id == sweep_id and summary.run_count == 4
    assert summary.runs == {"finished": 1, "stopped": 1, "failed": 1, "running": 1}
    assert summary.best == 0.1  # as `ls` always showed: the best value any run logged
