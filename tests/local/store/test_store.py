"""kerasweep.local._store: the SQLite store shared by agents."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import stat
import subprocess
import sys
import time

import pytest
import sqlalchemy

from kerasweep.local._store import (
    SCHEMA_VERSION,
    NewRun,
    Store,
    StoreError,
    UnknownSweepError,
    plain,
    resolve_db_path,
)

CONFIG = {
    "method": "grid",
    "name": "tiny",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 2},
    "parameters": {"a": {"values": [1, 2, 3]}},
}


def _sql(store, statement, **values):
    """Change the store's tables directly (what a test cannot do through the store)."""
    with store.engine.begin() as conn:
        conn.execute(sqlalchemy.text(statement), values)


def _claim(store, sweep_id, agent_id, params, **kwargs):
    return store.claim_run(sweep_id, agent_id, lambda sweep, runs: NewRun(params), **kwargs)


def test_new_store_file_is_private_wal_and_versioned(db):
    store = Store(db)
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sweeps", "agents", "runs", "history", "bands"} <= tables
    store.close()


def test_read_only_open_of_missing_store_writes_nothing(tmp_path):
    with pytest.raises(StoreError, match="no kerasweep store"):
        Store(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("kind", ["empty file", "empty sqlite"])
def test_read_only_open_never_turns_a_file_into_a_store(tmp_path, kind):
    path = tmp_path / "x.db"
    if kind == "empty file":
        path.write_bytes(b"")
    else:
        sqlite3.connect(path).execute("PRAGMA user_version = 0").connection.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a kerasweep store"):
        Store(path, create=False)
    assert path.read_bytes() == before


def test_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not a kerasweep store"):
        Store(path)


def test_db_path_argument_then_env_then_default(monkeypatch, tmp_path):
    monkeypatch.setenv("KERASWEEP_DB", str(tmp_path / "env.db"))
    assert resolve_db_path("arg.db").name == "arg.db"
    assert resolve_db_path(None) == tmp_path / "env.db"
    monkeypatch.delenv("KERASWEEP_DB")
    assert resolve_db_path(None).name == "kerasweep.db"


def test_unknown_sweep(any_db):
    store = Store(any_db)
    with pytest.raises(UnknownSweepError, match="no sweep 'nope'"):
        store.sweep("nope")


def test_plain_converts_numpy_and_drops_objects():
    np = pytest.importorskip("numpy")
    value = plain({"f": np.float32(0.25), "i": np.int64(3), "a": np.arange(2), "o": object()})
    assert value == {"f": 0.25, "i": 3, "a": [0, 1]}
    assert type(value["i"]) is int and type(value["f"]) is float


def test_snapshot_has_the_report_contract_shape(any_db):
    store = Store(any_db)
    sweep_id = store.create_sweep(CONFIG, project="proj")
    agent = store.register_agent(sweep_id)
    first = _claim(store, sweep_id, agent, {"a": 1})
    rows = [
        {"epochs": 0, "val_loss": 0.5},
        {"batch/loss": 0.7},
        {"epochs": 1, "val_loss": float("nan")},
        {"epochs": 2, "val_loss": 0.25},
    ]
    assert store.append_rows(first.id, rows, "val_loss", agent_id=agent)
    store.record_stop(first.id, band=2, threshold=0.2, value=0.25, epoch=2, bands=[(2, 0.2)])
    assert store.finish_run(first.id, agent, "finished") == "stopped"
    second = _claim(store, sweep_id, agent, {"a": 2})
    assert store.finish_run(second.id, agent, "failed", "ValueError: boom") == "failed"

    snap = store.snapshot(sweep_id)
    assert set(snap) == {"sweep", "runs", "bands"}
    assert set(snap["sweep"]) == {
        "id", "name", "project", "config", "method", "metric", "early_terminate", "state",
        "created_at", "seed",
    }  # fmt: skip
    assert snap["sweep"]["seed"] is None
    assert snap["sweep"]["id"] == sweep_id
    assert snap["sweep"]["name"] == "tiny" and snap["sweep"]["project"] == "proj"
    assert snap["sweep"]["config"] == CONFIG
    assert snap["sweep"]["metric"] == {"name": "val_loss", "goal": "minimize"}
    assert snap["sweep"]["early_terminate"] == {"type": "hyperband", "min_iter": 2}
    run, failed = snap["runs"]
    assert set(run) == {
        "id", "name", "state", "params", "history", "metric", "epochs", "stop", "error",
        "created_at", "started_at", "ended_at",
    }  # fmt: skip
    assert run["id"] == first.id and run["state"] == "stopped" and run["params"] == {"a": 1}
    assert run["history"][:2] == rows[:2] and math.isnan(run["history"][2]["val_loss"])
    assert run["metric"] == 0.25 and run["epochs"] == 2
    assert run["stop"] == {"band": 2, "threshold": 0.2, "value": 0.25, "epoch": 2}
    assert failed["state"] == "failed" and failed["error"] == "ValueError: boom"
    assert failed["metric"] is None and failed["epochs"] == 0 and failed["history"] == []
    assert snap["bands"] == [{"band": 2, "threshold": 0.2}]
    json.dumps(snap)  # plain data


def test_rows_and_end_only_from_the_owner_of_a_running_run(any_db):
    store = Store(any_db)
    sweep_id = store.create_sweep(CONFIG)
    owner, other = store.register_agent(sweep_id), store.register_agent(sweep_id)
    run = _claim(store, sweep_id, owner, {"a": 1})
    assert not store.append_rows(run.id, [{"val_loss": 1.0}], "val_loss", agent_id=other)
    assert store.finish_run(run.id, other, "finished") is None
    assert store.finish_run(run.id, owner, "finished") == "finished"
    assert not store.append_rows(run.id, [{"val_loss": 1.0}], "val_loss", agent_id=owner)
    assert store.history(run.id) == []


def test_run_of_a_dead_agent_process_is_reaped_as_preempted(any_db):
    store = Store(any_db)
    sweep_id = store.create_sweep(CONFIG)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    agent = store.register_agent(sweep_id)
    run = _claim(store, sweep_id, agent, {"a": 1})
    _sql(store, "UPDATE agents SET pid=:pid WHERE id=:id", pid=dead.pid, id=agent)
    assert store.reap_stale(sweep_id, stale_after=3600) == [run.id]
    crashed = store.run(run.id)
    assert crashed.state == "preempted" and f"process {dead.pid}" in crashed.error


def test_run_with_stale_heartbeat_is_reaped_and_fresh_one_kept(any_db):
    store = Store(any_db)
    sweep_id = store.create_sweep(CONFIG)
    agent = store.register_agent(sweep_id)
    # an agent on another host: only its heartbeat tells whether it lives
    _sql(store, "UPDATE agents SET host='elsewhere' WHERE id=:id", id=agent)
    stale = _claim(store, sweep_id, agent, {"a": 1})
    fresh = _claim(store, sweep_id, agent, {"a": 2})
    _sql(store, "UPDATE runs SET heartbeat_at=:t WHERE id=:id", t=time.time() - 120, id=stale.id)
    assert store.reap_stale(sweep_id, stale_after=60) == [stale.id]
    assert "no heartbeat" in store.run(stale.id).error
    assert store.run(fresh.id).state == "running"
    assert store.heartbeat(agent, fresh.id) and not store.heartbeat(agent, stale.id)


def test_claim_is_atomic_and_names_runs_in_order(any_db):
    store = Store(any_db)
    sweep_id = store.create_sweep(CONFIG)
    agent = store.register_agent(sweep_id)
    seen = []

    def propose(sweep, runs):
        seen.append([r.params["a"] for r in runs])
        return NewRun({"a": len(runs) + 1}) if len(runs) < 2 else None

    names = [store.claim_run(sweep_id, agent, propose).name for _ in range(2)]
    assert store.claim_run(sweep_id, agent, propose) is None
    assert names == [f"{sweep_id}-1", f"{sweep_id}-2"]
    assert seen == [[], [1], [1, 2]]


def test_seed_is_stored_and_a_store_made_before_seeds_gains_the_column(db):
    store = Store(db)
    seeded = store.create_sweep(CONFIG, seed=2**63 - 1)
    assert store.sweep(seeded).seed == 2**63 - 1
    assert store.snapshot(seeded)["sweep"]["seed"] == 2**63 - 1
    store.close()
    old = db.with_name("old.db")
    conn = sqlite3.connect(old)
    conn.executescript(  # the sweeps table as version 1 first made it
        "CREATE TABLE sweeps (id TEXT PRIMARY KEY, name TEXT, project TEXT, config TEXT NOT NULL,"
        " state TEXT NOT NULL DEFAULT 'running', created_at TEXT NOT NULL);"
        " PRAGMA user_version = 1;"
    )
    conn.execute(
        "INSERT INTO sweeps (id, config, created_at) VALUES ('s1', ?, 'then')",
        (json.dumps(CONFIG),),
    )
    conn.commit()
    conn.close()
    assert Store(old, create=False).sweep("s1").seed is None
    columns = [c[1] for c in sqlite3.connect(old).execute("PRAGMA table_info(sweeps)")]
    assert columns[-1] == "seed"


def test_a_preempted_run_is_claimed_again_before_new_ones_with_rows_from_its_epoch_replaced(
    any_db,
):
    store = Store(any_db)
    sweep_id = store.create_sweep(CONFIG)
    agent = store.register_agent(sweep_id)
    run = _claim(store, sweep_id, agent, {"a": 1})
    rows = []
    for epoch in range(4):
        rows += [{"batch/loss": float(epoch)}, {"epochs": epoch, "loss": 1.0 / (epoch + 1)}]
    store.append_rows(run.id, rows, "loss", agent_id=agent)
    store.finish_run(run.id, agent, "preempted", "preempted: interrupted (SIGTERM)")
    assert store.run(run.id).state == "preempted"

    other = store.register_agent(sweep_id)
    asked = []
    again = store.claim_run(
        sweep_id,
        other,
        lambda s, runs: NewRun({"a": 2}),
        resume=lambda r: asked.append(r.id) or 2,
    )
    assert asked == [run.id] and again.id == run.id and again.params == {"a": 1}
    assert again.state == "running" and again.agent_id == other and again.error is None
    assert again.resumed_at == (2,) and again.resumed == "resumed at epoch 2"
    kept = store.history(run.id)
    assert kept == rows[:4]  # epochs 0 and 1; epochs 2 and 3 will be logged again
    store.finish_run(run.id, other, "finished")
    assert store.claim_run(sweep_id, other, lambda s, runs: NewRun({"a": 2})).id != run.id


def test_where_a_run_resumed_is_in_show_export_and_the_results_api(tmp_path, capsys):
    from kerasweep.cli import main
    from kerasweep.local import Sweep, load_sweep

    db = tmp_path / "kerasweep.db"
    store = Store(db)
    sweep_id = store.create_sweep({**CONFIG, "metric": {"name": "loss"}})
    agent = store.register_agent(sweep_id)
    run = _claim(store, sweep_id, agent, {"a": 1})
    store.append_rows(run.id, [{"loss": 0.5}], "loss", agent_id=agent)
    store.finish_run(run.id, agent, "preempted", "preempted: interrupted (SIGTERM)")
    assert main(["show", sweep_id, "--db", str(db)]) == 0
    assert "preempted" in capsys.readouterr().out
    store.claim_run(sweep_id, agent, lambda s, runs: None, resume=lambda r: 1)
    store.finish_run(run.id, agent, "finished")

    assert load_sweep(sweep_id, db=db).runs[0].resumed == "resumed at epoch 1"
    exported = load_sweep(sweep_id, db=db).to_dict()
    assert exported["runs"][0]["resumed"] == "resumed at epoch 1"
    assert Sweep.from_dict(exported).runs[0].resumed_at == (1,)
    assert load_sweep(sweep_id, db=db).table()[0]["resumed"] == "resumed at epoch 1"
    assert main(["show", sweep_id, "--db", str(db)]) == 0
    assert "resumed at epoch 1" in capsys.readouterr().out


def test_a_run_interrupted_again_and_again_at_one_epoch_is_given_up_as_crashed(any_db):
    """Four interruptions without getting past an epoch (a run that takes its agent down each
    time): the next claim marks it crashed, saying why, and goes on with a new run; a run
    that gets further each time is resumed as often as it is interrupted."""
    store = Store(any_db)
    sweep_id = store.create_sweep({**CONFIG, "metric": {"name": "loss"}})
    agent = store.register_agent(sweep_id)
    stuck = _claim(store, sweep_id, agent, {"a": 1})
    store.append_rows(stuck.id, [{"loss": 0.5}, {"loss": 0.4}], "loss", agent_id=agent)
    store.finish_run(stuck.id, agent, "preempted", "preempted: interrupted (SIGTERM)")
    for _ in range(3):  # resumed at epoch 1 three times, interrupted each time
        again = store.claim_run(sweep_id, agent, lambda s, r: NewRun({"a": 2}), resume=lambda r: 1)
        assert again.id == stuck.id
        store.finish_run(stuck.id, agent, "preempted", "preempted: its agent (process 7) is gone")
    new = store.claim_run(sweep_id, agent, lambda s, r: NewRun({"a": 2}), resume=lambda r: 1)
    assert new.id != stuck.id and new.params == {"a": 2}
    given_up = store.run(stuck.id)
    assert given_up.state == "crashed" and given_up.resumed_at == (1, 1, 1)
    assert given_up.error == (
        "crashed: interrupted 4 times without getting past epoch 1, so not resumed again "
        "(last: its agent (process 7) is gone)"
    )

    store.finish_run(new.id, agent, "preempted", "preempted: interrupted (SIGTERM)")
    for epoch in range(6):  # further each time: always resumed
        again = store.claim_run(
            sweep_id, agent, lambda s, r: NewRun({"a": 3}), resume=lambda r, e=epoch: e
        )
        assert again.id == new.id and again.resumed_at[-1] == epoch
        store.append_rows(new.id, [{"loss": 0.3}], "loss", agent_id=agent)
        store.finish_run(new.id, agent, "preempted", "preempted: interrupted (SIGTERM)")
