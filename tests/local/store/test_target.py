"""kerasweep.local._store: ``runs.reached_target``, kept as rows are written, answers whether a
sweep reached its ``metric.target`` the same as reading every value stored."""

from __future__ import annotations

import math
import random

import pytest
import sqlalchemy

from kerasweep.local._controller import SweepProposer, target_reached
from kerasweep.local._store import NewRun, RunState, Store, SweepSoFar
from kerasweep.sweep_config import Metric

VALUES = (0.05, 0.1, 0.2, 0.5, 0.9, 0.95, 1.0, math.nan, math.inf, -math.inf, None, "x")


def _scan(store: Store, sweep_id: str, metric: Metric) -> bool:
    """Whether a stored value reaches the target, read the old way: every value of the sweep."""
    return any(metric.reached(v) for run in store.runs(sweep_id) for v in run.metric_values)


def _flag(store: Store, sweep_id: str) -> bool:
    with store.engine.connect() as conn:
        return SweepSoFar(conn, sweep_id).reached()


def _row(rng: random.Random, name: str) -> dict:
    if rng.random() < 0.2:
        return {"batch/loss": rng.random()}  # a row without the sweep metric
    return {"epochs": rng.randrange(9), name: rng.choice(VALUES)}


def test_the_kept_flag_agrees_with_every_value_read_on_generated_sweeps(any_db):
    """Sweeps side by side in one store, minimize and maximize, targets reached or not, rows
    written in batches by the sweep's Metric or by its name, runs finishing, failing, being
    preempted and resumed from an earlier epoch (their later rows deleted): after each
    change, the flag and the claim's answer equal a scan of every stored value."""
    store = Store(any_db)
    rng = random.Random(28)
    sweeps_made = 30 if "postgresql" in str(any_db) else 120
    checked = reached = 0
    for number in range(sweeps_made):
        maximize = rng.random() < 0.5
        name = rng.choice(["val_loss", "val.acc"])
        target = rng.choice([0.05, 0.1, 0.5, 0.9, 0.95, None])
        goal = "maximize" if maximize else "minimize"
        metric_config = {"name": name, "goal": goal}
        if target is not None:
            metric_config["target"] = target
        config = {"method": "random", "metric": metric_config,
                  "parameters": {"a": {"values": [1, 2, 3]}}}  # fmt: skip
        sweep_id = store.create_sweep(config, seed=number)
        metric = store.sweep(sweep_id).metric
        agent = store.register_agent(sweep_id)
        running: list[str] = []
        for _ in range(rng.randrange(1, 14)):
            action = rng.random()
            if action < 0.3 or not running:
                resume = (lambda run: rng.randrange(len(run.metric_values) + 1)) if (
                    rng.random() < 0.7
                ) else None
                run = store.claim_run(sweep_id, agent, lambda s, r: NewRun({"a": 1}),
                                      resume=resume)  # fmt: skip
                running.append(run.id)
            elif action < 0.75:
                rows = [_row(rng, name) for _ in range(rng.randrange(1, 5))]
                by = metric if rng.random() < 0.5 else name
                assert store.append_rows(rng.choice(running), rows, by, agent_id=agent)
            else:
                run_id = running.pop(rng.randrange(len(running)))
                outcome = rng.choice(["finished", "failed", "preempted", "preempted"])
                store.finish_run(run_id, agent, outcome, None if outcome == "finished" else "x")
            expected = _scan(store, sweep_id, metric)
            assert _flag(store, sweep_id) == expected
            with store.engine.connect() as conn:
                assert target_reached(config, SweepSoFar(conn, sweep_id)) == expected
            assert target_reached(config, store.runs(sweep_id)) == expected
            checked += 1
        reached += _scan(store, sweep_id, metric)
    assert checked > sweeps_made * 3 and 0 < reached < sweeps_made  # both outcomes seen


def test_a_sweep_that_reached_its_target_gives_no_more_runs_without_reading_them(
    any_db, monkeypatch
):
    def read_whole(self):
        raise AssertionError("the claim read every run")

    monkeypatch.setattr(SweepSoFar, "all", read_whole)
    store = Store(any_db)
    config = {"method": "random", "metric": {"name": "val_acc", "goal": "maximize",
              "target": 0.9}, "parameters": {"a": {"values": [1, 2]}}}  # fmt: skip
    sweep_id = store.create_sweep(config, seed=1)
    agent = store.register_agent(sweep_id)
    proposer = SweepProposer(store.sweep(sweep_id))
    run = store.claim_run(sweep_id, agent, proposer)
    store.append_rows(run.id, [{"val_acc": 0.5}, {"val_acc": 0.89}], "val_acc", agent_id=agent)
    store.finish_run(run.id, agent, "finished")
    run = store.claim_run(sweep_id, agent, proposer)
    assert run is not None
    store.append_rows(run.id, [{"val_acc": 0.91}], "val_acc", agent_id=agent)
    assert store.claim_run(sweep_id, agent, proposer) is None


def test_a_version_3_store_gains_the_flag_from_the_rows_it_holds(any_db):
    """A store written before the flag (schema 3) is migrated: the flag is set from its rows,
    so that a sweep that reached its target stays over."""
    store = Store(any_db)
    made = {}
    for target, values in [(0.1, [0.5, 0.08]), (0.1, [0.5, 0.2]), (None, [0.01])]:
        metric = {"name": "val_loss"} if target is None else {"name": "val_loss", "target": target}
        sweep_id = store.create_sweep({"method": "random", "metric": metric,
                                       "parameters": {"a": {"values": [1]}}})  # fmt: skip
        agent = store.register_agent(sweep_id)
        run = store.claim_run(sweep_id, agent, lambda s, r: NewRun({"a": 1}))
        store.append_rows(run.id, [{"val_loss": v} for v in values], "val_loss", agent_id=agent)
        made[sweep_id] = target is not None and min(values) <= target
    with store.engine.begin() as conn:  # back to what version 3 had
        conn.exec_driver_sql("DROP INDEX runs_by_sweep_target")
        conn.exec_driver_sql("ALTER TABLE runs DROP COLUMN reached_target")
        if store.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA user_version = 3")
        else:
            conn.exec_driver_sql("UPDATE kerasweep_schema SET version = 3")
    migrated = Store(any_db, create=False)
    for sweep_id, reached in made.items():
        assert _flag(migrated, sweep_id) == reached
    with migrated.engine.connect() as conn:
        indexes = {i["name"] for i in sqlalchemy.inspect(conn).get_indexes("runs")}
    assert "runs_by_sweep_target" in indexes


@pytest.mark.parametrize("epoch, reached", [(1, False), (2, True)])
def test_a_resumed_run_forgets_a_target_reached_after_its_checkpoint(any_db, epoch, reached):
    store = Store(any_db)
    config = {"method": "random", "metric": {"name": "loss", "target": 0.3},
              "parameters": {"a": {"values": [1]}}}  # fmt: skip
    sweep_id = store.create_sweep(config)
    agent = store.register_agent(sweep_id)
    run = store.claim_run(sweep_id, agent, lambda s, r: NewRun({"a": 1}))
    store.append_rows(run.id, [{"loss": 0.9}, {"loss": 0.2}, {"loss": 0.1}], store.sweep(
        sweep_id).metric, agent_id=agent)  # fmt: skip
    assert _flag(store, sweep_id)
    store.finish_run(run.id, agent, "preempted", "preempted: interrupted (SIGTERM)")
    again = store.claim_run(sweep_id, agent, lambda s, r: NewRun({"a": 1}), resume=lambda r: epoch)
    assert again.id == run.id and again.state == RunState.RUNNING
    assert _flag(store, sweep_id) is reached
