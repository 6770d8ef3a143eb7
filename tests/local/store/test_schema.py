"""kerasweep.local._store.schema: the version a store records, migrations, newer stores refused.

``fixtures/store-v1.db`` was written by the first release (schema 1, SQLite): two sweeps, a
grid one with a finished, a hyperband-stopped, a failed and a retried run, and a random one
whose run was left running by its agent.
"""

from __future__ import annotations

import math
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy

from kerasweep.cli import main
from kerasweep.local._store import SCHEMA_VERSION, RunState, Store, StoreVersionError
from kerasweep.sweep_config import Metric

V1_STORE = Path(__file__).with_name("fixtures") / "store-v1.db"


@pytest.fixture
def v1_store(tmp_path) -> Path:
    path = tmp_path / "old.db"
    shutil.copyfile(V1_STORE, path)
    return path


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def test_a_store_of_the_first_release_is_migrated_and_reads_the_same(v1_store):
    assert _user_version(v1_store) == 1
    store = Store(v1_store, create=False)
    assert _user_version(v1_store) == SCHEMA_VERSION
    grid, random = store.sweeps()
    assert (grid.name, grid.project, grid.state, grid.seed) == (
        "v1-grid",
        "v1-project",
        "finished",
        None,
    )
    assert random.name == "v1-random" and random.metric == Metric("val_acc", "maximize")

    finished, stopped, failed, retry = store.load(grid.id).runs
    assert [r.state for r in (finished, stopped, failed, retry)] == [
        RunState.FINISHED, RunState.STOPPED, RunState.FAILED, RunState.FINISHED,
    ]  # fmt: skip
    assert finished.params == {"lr": 0.1, "epochs": 4} and finished.metric_values == [0.9, 0.6]
    assert finished.history[1] == {"batch/loss": 0.8}
    assert finished.summary == {"epochs": 1, "loss": 0.7, "val_loss": 0.6, "batch/loss": 0.8}
    assert stopped.stop.band == 2 and stopped.stop.threshold == 0.6 and stopped.stop.value == 1.2
    assert math.isnan(stopped.history[1]["val_loss"]) and stopped.metric_values == [1.5, 1.2]
    assert failed.error == "ValueError: boom" and failed.retried
    assert retry.retry_of == failed.id and not retry.retried
    assert [b.to_dict() for b in store.load(grid.id).bands] == [
        {"band": 2, "threshold": 0.6}, {"band": 4, "threshold": None},
    ]  # fmt: skip

    # the migrated store goes on: new sweeps keep their seed, the dead agent's run is reaped
    (left,) = store.runs(random.id)
    assert store.reap_stale(random.id) == [left.id]
    assert store.run(left.id).state == RunState.PREEMPTED  # the state the old check lacked
    new = store.create_sweep({"method": "random", "parameters": {"x": {"values": [1]}}}, seed=7)
    assert store.sweep(new).seed == 7


def test_the_cli_reads_an_old_store(v1_store, capsys):
    assert main(["ls", "--db", str(v1_store)]) == 0
    out = capsys.readouterr().out
    assert "v1-grid" in out and "v1-random" in out


def _set_version(store: Store, version: int) -> None:
    with store.engine.begin() as conn:
        if store.location.kind == "sqlite":
            conn.exec_driver_sql(f"PRAGMA user_version = {version}")
        else:
            conn.exec_driver_sql(f"UPDATE kerasweep_schema SET version = {version}")
    store.close()


def test_a_newer_store_is_refused_in_one_line_saying_what_to_do(any_db, capsys):
    store = Store(any_db)
    sweep_id = store.create_sweep({"method": "grid", "parameters": {"a": {"values": [1]}}})
    _set_version(store, SCHEMA_VERSION + 1)
    with pytest.raises(StoreVersionError) as error:
        Store(any_db, create=False)
    message = str(error.value)
    assert f"has store schema {SCHEMA_VERSION + 1}" in message and "upgrade kerasweep" in message
    assert main(["show", sweep_id, "--db", any_db]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "upgrade kerasweep" in err


def test_a_version_1_store_is_migrated_on_both_databases(any_db):
    store = Store(any_db)
    sweep_id = store.create_sweep({"method": "grid", "parameters": {"a": {"values": [1]}}})
    with store.engine.begin() as conn:  # back to what version 1 had
        conn.exec_driver_sql("DROP INDEX runs_by_retry_of")
        conn.exec_driver_sql("ALTER TABLE sweeps DROP COLUMN seed")
    _set_version(store, 1)
    migrated = Store(any_db, create=False)
    assert migrated.sweep(sweep_id).seed is None
    with migrated.engine.connect() as conn:
        columns = {c["name"] for c in sqlalchemy.inspect(conn).get_columns("sweeps")}
        indexes = {i["name"] for i in sqlalchemy.inspect(conn).get_indexes("runs")}
    assert "seed" in columns and "runs_by_retry_of" in indexes
