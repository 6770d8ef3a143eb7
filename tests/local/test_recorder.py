"""kerasweep.local._recorder: rows assembled as wandb assembles them, hyperband after each."""

from __future__ import annotations

from kerasweep.local import local_sweep
from kerasweep.local._recorder import RunRecorder
from kerasweep.local._store import NewRun, Store, StoreUnavailableError

CONFIG = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
    "parameters": {"a": {"values": [1, 2, 3]}},
}


def _recorder(db, config=CONFIG, **kwargs):
    sweep_id = local_sweep(config, db=db)
    store = Store(db)
    agent_id = store.register_agent(sweep_id)
    run = store.claim_run(sweep_id, agent_id, lambda sweep, runs: NewRun({"a": 1}))
    recorder = RunRecorder(store, store.sweep(sweep_id), run.id, agent_id=agent_id, **kwargs)
    return store, run, recorder


def test_calls_merge_into_rows_as_wandb_merges_them(db):
    store, run, recorder = _recorder(db)
    recorder.log({"loss": 1.0}, commit=False)
    recorder.log({"val_loss": 0.9})  # commits the merged row
    recorder.log({"a": 1}, step=5)
    recorder.log({"b": 2}, step=5)  # the same step: the same row
    recorder.log({"c": 3}, step=6)  # a new step ends the previous row
    recorder.close()  # writes the row still open, as wandb.finish does
    assert store.history(run.id) == [
        {"loss": 1.0, "val_loss": 0.9}, {"a": 1, "b": 2}, {"c": 3}
    ]  # fmt: skip
    assert recorder.rows == 3


def test_rows_without_the_metric_wait_for_one_that_has_it(db):
    store, run, recorder = _recorder(db)
    recorder.log({"loss": 1.0})
    assert store.history(run.id) == []  # buffered
    recorder.log({"val_loss": 0.5})
    assert store.history(run.id) == [{"loss": 1.0}, {"val_loss": 0.5}]


def test_a_full_buffer_is_written_without_the_metric(db):
    store, run, recorder = _recorder(db, buffer_limit=3)
    for n in range(3):
        recorder.log({"loss": float(n)})
    assert len(store.history(run.id)) == 3


def test_hyperband_judges_after_each_metric_row_and_records_its_stop(db):
    store, first, recorder = _recorder(db)
    for value in (1.0, 0.5, 0.4, 0.3):
        recorder.log({"val_loss": value})
    recorder.close()
    store.finish_run(first.id, first.agent_id, "finished")
    assert recorder.stop is None
    agent_id = store.register_agent(first.sweep_id)
    other = store.claim_run(first.sweep_id, agent_id, lambda sweep, runs: NewRun({"a": 3}))
    store.append_rows(other.id, [{"val_loss": 0.9}, {"val_loss": 0.45}], "val_loss")
    store.finish_run(other.id, agent_id, "finished")
    # a worse third run: at band 2 (min_iter) the threshold is the middle value of three
    agent_id = store.register_agent(first.sweep_id)
    second = store.claim_run(first.sweep_id, agent_id, lambda sweep, runs: NewRun({"a": 2}))
    judged = RunRecorder(store, store.sweep(first.sweep_id), second.id, agent_id=agent_id)
    judged.log({"val_loss": 2.0})
    assert judged.stop is None
    judged.log({"val_loss": 1.9})
    assert judged.stop is not None and judged.stop.band == 2
    assert judged.stop.value == 1.9 and judged.stop.threshold == 0.5
    assert store.run(second.id).stop.band == 2


def test_a_run_no_longer_owned_is_lost_and_not_written(db):
    store, run, recorder = _recorder(db)
    store.finish_run(run.id, run.agent_id, "crashed", "marked by another agent")
    recorder.log({"val_loss": 0.5})
    assert recorder.lost and store.history(run.id) == []


def test_a_failing_store_is_reported_once(db, caplog):
    _, _, recorder = _recorder(db)
    with caplog.at_level("WARNING", logger="kerasweep.local"):
        recorder.report_error(OSError("disk full"))
        recorder.report_error(OSError("disk full"))
    assert caplog.text.count("could not be recorded (OSError: disk full)") == 1


def test_rows_the_store_cannot_take_are_kept_and_written_when_it_can(db, monkeypatch):
    """A server away for longer than its reconnect window: no row is dropped, the run stops."""
    store, run, recorder = _recorder(db)
    recorder.log({"val_loss": 0.9})
    append_rows = store.append_rows

    def away(*args, **kwargs):
        raise StoreUnavailableError("cannot reach the PostgreSQL server at db.lab:5432: gone")

    monkeypatch.setattr(store, "append_rows", away)
    recorder.log({"val_loss": 0.8})
    assert recorder.store_error is not None and recorder.unwritten == 1
    recorder.log({"val_loss": 0.7})  # taken, not tried again until close
    assert store.history(run.id) == [{"val_loss": 0.9}]

    recorder.close()  # still away: nothing lost, nothing written twice
    assert recorder.unwritten == 2 and store.history(run.id) == [{"val_loss": 0.9}]
    monkeypatch.setattr(store, "append_rows", append_rows)
    recorder.close()  # back
    assert recorder.unwritten == 0
    assert [row["val_loss"] for row in store.history(run.id)] == [0.9, 0.8, 0.7]


def test_each_judgement_sees_the_rows_other_agents_logged_since_the_last(any_db):
    """The recorder reads only what is new at each judgement: rows another agent (its own
    store, as on another machine) logs between two of the run's rows count at the second."""
    sweep_id = local_sweep(CONFIG, db=any_db)
    mine, theirs = Store(any_db), Store(any_db)
    me, them = mine.register_agent(sweep_id), theirs.register_agent(sweep_id)
    judged = mine.claim_run(sweep_id, me, lambda sweep, runs: NewRun({"a": 1}))
    recorder = RunRecorder(mine, mine.sweep(sweep_id), judged.id, agent_id=me)
    recorder.log({"val_loss": 2.0})
    recorder.log({"val_loss": 1.9})
    assert recorder.stop is None  # alone at band 2: its own value is the threshold
    for values in ((0.9, 0.5, 0.4), (1.0, 0.6)):  # two better runs, after its judgements
        other = theirs.claim_run(sweep_id, them, lambda sweep, runs: NewRun({"a": 2}))
        theirs.append_rows(other.id, [{"val_loss": v} for v in values], "val_loss")
        theirs.finish_run(other.id, them, "finished")
    recorder.log({"val_loss": 1.8})  # band 2 again: now against the values 0.5, 0.6, 1.9
    assert recorder.stop is not None and recorder.stop.band == 2
    assert (recorder.stop.value, recorder.stop.threshold, recorder.stop.epoch) == (1.9, 0.6, 3)
    assert mine.run(judged.id).stop.band == 2
