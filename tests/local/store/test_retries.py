"""A write retried after its commit was made but its acknowledgement lost (the connection cut
between the two) does nothing twice: the store's job functions run again in a new
transaction, as the store's retry loop runs them."""

from __future__ import annotations

from kerasweep.local._records import NewRun
from kerasweep.local._store import Store, history, runs

CONFIG = {"method": "grid", "parameters": {"a": {"values": [1, 2, 3]}}}


def _again(store, work):
    """``work`` committed twice, as a retry after a lost acknowledgement commits it."""
    with store.engine.begin() as conn:
        first = work(conn)
    with store.engine.begin() as conn:
        return first, work(conn)


def test_a_retried_append_writes_its_rows_once(any_db):
    store = Store(any_db)
    sweep_id = store.create_sweep(CONFIG)
    agent = store.register_agent(sweep_id)
    run = store.claim_run(sweep_id, agent, lambda s, r: NewRun({"a": 1}))
    assert store.append_rows(run.id, [{"val_loss": 1.0}], "val_loss", agent_id=agent)
    attempt: dict = {}
    rows = [{"val_loss": 0.5}, {"val_loss": 0.25}]
    first, second = _again(
        store, lambda c: history.append_rows(c, run.id, rows, "val_loss", agent, attempt)
    )
    assert first and second
    assert store.history(run.id) == [{"val_loss": 1.0}, *rows]
    # a new append (a new attempt) goes on after them
    assert store.append_rows(run.id, [{"val_loss": 0.1}], "val_loss", agent_id=agent)
    assert store.run(run.id).metric_values == [1.0, 0.5, 0.25, 0.1]


def test_a_retried_claim_returns_the_run_it_made(any_db):
    store = Store(any_db)
    sweep_id = store.create_sweep(CONFIG)
    agent = store.register_agent(sweep_id)
    attempt: dict = {}
    points = iter([{"a": 1}, {"a": 2}])
    first, second = _again(
        store,
        lambda c: runs.claim_run(
            c, sweep_id, agent, lambda s, r: NewRun(next(points)), stale_after=60,
            where="test", attempt=attempt,
        ),
    )  # fmt: skip
    assert first.id == second.id and second.params == {"a": 1}
    assert [r.id for r in store.runs(sweep_id)] == [first.id]


def test_a_retried_end_reports_the_state_it_wrote(any_db):
    store = Store(any_db)
    sweep_id = store.create_sweep(CONFIG)
    agent = store.register_agent(sweep_id)
    run = store.claim_run(sweep_id, agent, lambda s, r: NewRun({"a": 1}))
    first, second = _again(store, lambda c: runs.finish_run(c, run.id, agent, "finished", None))
    assert first == second == "finished"
    # but an end of another kind, or by another agent, is still refused
    assert store.finish_run(run.id, agent, "failed", "late") is None
    assert store.finish_run(run.id, "someone-else", "finished") is None
