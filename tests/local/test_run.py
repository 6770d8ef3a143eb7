"""kerasweep.local._run: the run handle carries a run from its claim to its end."""

from __future__ import annotations

import pytest
import wandb

from kerasweep.local import LocalRun, current_run, local_sweep, stop_requested
from kerasweep.local._store import NewRun, Store, StoreFullError, StoreUnavailableError

CONFIG = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
    "parameters": {"a": {"values": [1, 2, 3]}},
}


def _claim(store: Store, sweep_id: str, params: dict) -> LocalRun:
    agent_id = store.register_agent(sweep_id)
    record = store.claim_run(sweep_id, agent_id, lambda sweep, runs: NewRun(params))
    return LocalRun(store, store.sweep(sweep_id), record, agent_id=agent_id)


def _log_series(values):
    run = wandb.init(mode="disabled")
    for epoch, value in enumerate(values):
        wandb.log({"epochs": epoch, "val_loss": value})
        if stop_requested():
            break
    run.finish()


def test_the_handle_carries_the_runs_identity_and_parameters(db):
    sweep_id = local_sweep(CONFIG, db=db)
    store = Store(db)
    run = _claim(store, sweep_id, {"a": 2})
    assert run.sweep_id == sweep_id and run.params == {"a": 2}
    assert run.name == f"{sweep_id}-1" and store.run(run.id).state == "running"
    assert run.id in repr(run)


def test_recording_captures_wandb_rows_for_the_run_only(db):
    sweep_id = local_sweep(CONFIG, db=db)
    store = Store(db)
    run = _claim(store, sweep_id, {"a": 1})
    assert current_run() is None
    with run.recording():
        assert current_run() is run
        _log_series([1.0, 0.5])
    assert current_run() is None
    _log_series([9.0])  # after the run: not recorded
    assert store.history(run.id) == [
        {"epochs": 0, "val_loss": 1.0}, {"epochs": 1, "val_loss": 0.5}
    ]  # fmt: skip
    assert wandb.sdk.wandb_run.Run.log is wandb.sdk.wandb_run.Run.__dict__["log"]
    assert not hasattr(wandb.sdk.wandb_run.Run.log, "__kerasweep_sink__")


def test_one_run_records_at_a_time(db):
    sweep_id = local_sweep(CONFIG, db=db)
    store = Store(db)
    first, second = _claim(store, sweep_id, {"a": 1}), _claim(store, sweep_id, {"a": 2})
    with (
        first.recording(),
        pytest.raises(RuntimeError, match="already recording"),
        second.recording(),
    ):
        pass
    assert current_run() is None


def test_hyperband_stops_the_run_and_its_end_says_stopped(db):
    sweep_id = local_sweep(CONFIG, db=db)
    store = Store(db)
    for a, series in ((1, [1.0, 0.5, 0.4]), (2, [0.9, 0.45, 0.4])):
        good = _claim(store, sweep_id, {"a": a})
        with good.recording():
            _log_series(series)
        assert not good.should_stop() and good.end("finished") == "finished"
    bad = _claim(store, sweep_id, {"a": 3})
    with bad.recording():
        _log_series([2.0, 1.9, 1.8, 1.7])
        assert bad.should_stop() and stop_requested()
    assert bad.stop_decision.band == 2
    assert len(store.history(bad.id)) == 2  # the function saw the stop and ended
    assert bad.end("finished") == "stopped"
    assert bad.end("failed", "too late") == "stopped"  # the first end stands
    assert store.run(bad.id).state == "stopped"


def test_the_run_is_found_however_wandb_log_is_wrapped_after_it(db, monkeypatch):
    """Code that wraps wandb's ``Run.log`` in its turn (a user's, or another library's)
    leaves the run in progress and its stop where they were."""
    sweep_id = local_sweep(CONFIG, db=db)
    run = _claim(Store(db), sweep_id, {"a": 1})
    with run.recording():
        captured = wandb.sdk.wandb_run.Run.log

        def log(self, data, *args, **kwargs):
            return captured(self, data, *args, **kwargs)

        monkeypatch.setattr(wandb.sdk.wandb_run.Run, "log", log)
        assert current_run() is run and not stop_requested()
        run.request_stop()
        assert stop_requested()
        monkeypatch.undo()
    assert current_run() is None and not stop_requested()


def test_a_stop_request_reaches_should_stop(db):
    sweep_id = local_sweep(CONFIG, db=db)
    run = _claim(Store(db), sweep_id, {"a": 1})
    assert not run.should_stop()
    run.request_stop()
    assert run.should_stop()
    assert run.end("crashed", "lost") == "crashed"


def test_another_process_attaches_to_the_claimed_run(db):
    sweep_id = local_sweep(CONFIG, db=db)
    store = Store(db)
    claimed = _claim(store, sweep_id, {"a": 3})
    attached = LocalRun.attach(db, sweep_id, claimed.id, claimed.agent_id)
    assert attached.id == claimed.id and attached.params == {"a": 3}
    with attached.recording():
        _log_series([0.7])
    attached.close()
    assert store.history(claimed.id) == [{"epochs": 0, "val_loss": 0.7}]
    assert not claimed.stopped_in_store()
    assert claimed.end("finished") == "finished" and claimed.stopped_in_store()


def test_a_run_stopped_by_an_unreachable_store_ends_preempted_not_finished(db, monkeypatch):
    sweep_id = local_sweep(CONFIG, db=db)
    store = Store(db)
    run = _claim(store, sweep_id, {"a": 1})
    append_rows = store.append_rows

    def away(*args, **kwargs):
        raise StoreUnavailableError("cannot reach the PostgreSQL server at db.lab:5432: gone")

    monkeypatch.setattr(store, "append_rows", away)
    with run.recording():
        _log_series([0.9, 0.8, 0.7])  # stops after the first row it could not write
        assert run.should_stop()
        monkeypatch.setattr(store, "append_rows", append_rows)  # the server is back
    assert run.end("finished") == "preempted"
    ended = store.run(run.id)
    assert ended.error.startswith("preempted: the store was unreachable (cannot reach")
    assert ended.metric_values == [0.9]  # the row kept, written when the server came back


def test_a_full_store_stops_the_run_and_leaves_it_resumable_with_the_reason(db, monkeypatch):
    sweep_id = local_sweep(CONFIG, db=db)
    store = Store(db)
    run = _claim(store, sweep_id, {"a": 1})
    append_rows = store.append_rows

    def full(*args, **kwargs):
        raise StoreFullError("store x.db: the file system at /data is full")

    monkeypatch.setattr(store, "append_rows", full)
    with run.recording():
        _log_series([0.9, 0.8, 0.7])  # stops after the first row it could not write
        assert run.should_stop()  # not "a row could not be recorded; the run goes on"
        monkeypatch.setattr(store, "append_rows", append_rows)  # room again
    assert run.end("finished") == "preempted"
    ended = store.run(run.id)
    assert ended.error == (
        "preempted: the store was full (store x.db: the file system at /data is full)"
    )
    assert ended.metric_values == [0.9]
