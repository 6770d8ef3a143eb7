"""SweepMetrics: every run's metric values as hyperband reads them, read as they come, from
every agent's rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

from kerasweep.local._store import NewRun, Store, SweepMetrics

CONFIG = {
    "method": "random",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"a": {"values": [1, 2, 3]}},
}


def _claim(store: Store, sweep_id: str, agent_id: str):
    return store.claim_run(sweep_id, agent_id, lambda sweep, runs: NewRun({"a": 1}))


def _log(store: Store, run, *values) -> None:
    rows = [{"val_loss": v} if v is not None else {"loss": 1.0} for v in values]
    assert store.append_rows(run.id, rows, "val_loss", agent_id=run.agent_id)


def _stored(store: Store, sweep_id: str) -> dict[str, list[float]]:
    return {run.id: run.metric_values for run in store.runs(sweep_id)}


def test_it_holds_what_a_full_read_gives_and_reads_only_what_is_new(any_db):
    mine, theirs = Store(any_db), Store(any_db)  # two agents, as on two machines
    sweep_id = mine.create_sweep(CONFIG)
    me, them = mine.register_agent(sweep_id), theirs.register_agent(sweep_id)
    done = _claim(theirs, sweep_id, them)
    _log(theirs, done, 1.0, None, 0.8, math.nan, 0.7)  # rows without a finite metric: no value
    theirs.finish_run(done.id, them, "finished")
    running = _claim(mine, sweep_id, me)
    _log(mine, running, 2.0)

    metrics = mine.refresh_metrics(SweepMetrics(sweep_id))
    assert metrics.values == {done.id: [1.0, 0.8, 0.7], running.id: [2.0]}
    assert metrics.values == _stored(mine, sweep_id)
    assert metrics.running == {running.id}

    mine.refresh_metrics(metrics)  # nothing new: the running run's row, no value
    assert metrics.rows_read == 1 and metrics.values == _stored(mine, sweep_id)

    other = _claim(theirs, sweep_id, them)  # the other agent's new run, and its rows
    _log(theirs, other, 1.5, 1.4)
    _log(mine, running, 1.9)
    mine.refresh_metrics(metrics)
    assert metrics.rows_read == 3  # the three new values, nothing read twice
    assert metrics.values == _stored(mine, sweep_id)
    assert metrics.running == {running.id, other.id}

    _log(theirs, other, 1.3)  # its last row, then it ends: read once more, then no more
    theirs.finish_run(other.id, them, "failed", "boom")
    mine.refresh_metrics(metrics)
    assert metrics.rows_read == 2 and metrics.running == {running.id}
    assert metrics.values == _stored(mine, sweep_id)
    assert metrics.values[other.id] == [1.5, 1.4, 1.3]
    mine.refresh_metrics(metrics)
    assert metrics.rows_read == 1  # only the run still running


def test_a_run_marked_crashed_is_read_to_its_last_row(any_db):
    store = Store(any_db)
    sweep_id = store.create_sweep(CONFIG)
    agent = store.register_agent(sweep_id)
    run = _claim(store, sweep_id, agent)
    metrics = store.refresh_metrics(SweepMetrics(sweep_id))
    assert metrics.values == {run.id: []} and metrics.running == {run.id}
    _log(store, run, 0.5, 0.4)
    store.finish_run(run.id, agent, "crashed", "its agent died")
    store.refresh_metrics(metrics)
    assert metrics.values == {run.id: [0.5, 0.4]} and metrics.running == set()


def test_rows_appended_with_a_refresh_are_read_back_with_every_agents_new_rows(any_db):
    mine, theirs = Store(any_db), Store(any_db)
    sweep_id = mine.create_sweep(CONFIG)
    me, them = mine.register_agent(sweep_id), theirs.register_agent(sweep_id)
    run, other = _claim(mine, sweep_id, me), _claim(theirs, sweep_id, them)
    metrics = SweepMetrics(sweep_id)
    assert mine.append_rows(run.id, [{"val_loss": 1.0}], "val_loss", agent_id=me, refresh=metrics)
    assert metrics.values == {run.id: [1.0], other.id: []}
    _log(theirs, other, 0.5)
    rows = [{"loss": 2.0}, {"val_loss": 0.9}]
    assert mine.append_rows(run.id, rows, "val_loss", agent_id=me, refresh=metrics)
    assert metrics.values == {run.id: [1.0, 0.9], other.id: [0.5]} == _stored(mine, sweep_id)
    theirs.finish_run(run.id, me, "crashed", "marked by another agent")
    assert not mine.append_rows(run.id, rows, "val_loss", agent_id=me, refresh=metrics)
    assert metrics.values[run.id] == [1.0, 0.9]  # nothing written, nothing read


def test_a_resumed_run_is_read_again_and_what_was_built_from_it_starts_over(any_db):
    """A preempted run resumed at epoch 1 has its later rows replaced: an agent's kept values
    (and the hyperband bands built from them) hold the new rows, not the old ones too."""
    from kerasweep.local._hyperband import HyperbandJudge

    config = {**CONFIG, "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2}}
    store = Store(any_db)
    sweep_id = store.create_sweep(config)
    agent = store.register_agent(sweep_id)
    first = _claim(store, sweep_id, agent)
    _log(store, first, 1.0, 0.9, 0.8)
    store.finish_run(first.id, agent, "finished")
    resumed = _claim(store, sweep_id, agent)
    _log(store, resumed, 2.0, 1.9, 1.8)
    metrics, judge = SweepMetrics(sweep_id), HyperbandJudge(config)
    store.refresh_metrics(metrics)
    judge.judge_held(resumed.id, metrics)
    store.finish_run(resumed.id, agent, "preempted")
    store.refresh_metrics(metrics)

    again = store.claim_run(sweep_id, agent, lambda sweep, runs: None, resume=lambda run: 1)
    assert again.id == resumed.id
    _log(store, again, 0.5)
    store.refresh_metrics(metrics)
    assert metrics.values == _stored(store, sweep_id) == {
        first.id: [1.0, 0.9, 0.8],
        resumed.id: [2.0, 0.5],
    }
    assert metrics.running == {resumed.id}
    fresh = HyperbandJudge(config)
    fresh_metrics = store.refresh_metrics(SweepMetrics(sweep_id))
    assert judge.judge_held(resumed.id, metrics) == fresh.judge_held(resumed.id, fresh_metrics)
    assert metrics.rebuilt is False  # the judge took note
