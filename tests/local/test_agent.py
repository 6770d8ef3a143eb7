"""kerasweep.local._agent: runs handed to a function as wandb.agent hands them."""

from __future__ import annotations

import itertools
import json
import sys
import types

import pytest
import sqlalchemy

from kerasweep.local import current_run, local_agent, local_sweep, stop_requested
from kerasweep.local._store import Store
from tests.local.helpers import engine_replay, function
from tests.local.sweep_functions import SERIES

GRID = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"a": {"values": [1, 2, 3]}, "b": {"values": ["p", "q"]}},
}


def _runs(db, sweep_id):
    return Store(db).snapshot(sweep_id)["runs"]


@pytest.mark.slow
def test_grid_runs_its_exact_product_once_then_ends(db):
    sweep_id = local_sweep(GRID, db=db)
    result = local_agent(sweep_id, function("grid_point"), db=db)
    runs = _runs(db, sweep_id)
    points = sorted((r["params"]["a"], r["params"]["b"]) for r in runs)
    assert points == sorted(itertools.product([1, 2, 3], ["p", "q"]))
    assert all(r["state"] == "finished" and r["epochs"] == 1 for r in runs)
    assert result.reason == "exhausted" and len(result.run_ids) == 6
    assert Store(db).sweep(sweep_id).state == "finished"
    again = local_agent(sweep_id, function("grid_point"), db=db)
    assert again.run_ids == [] and again.reason == "exhausted"


@pytest.mark.slow
def test_count_limits_the_runs_of_one_agent(db):
    sweep_id = local_sweep(GRID, db=db)
    result = local_agent(sweep_id, function("grid_point"), count=2, db=db)
    assert result.reason == "count" and len(_runs(db, sweep_id)) == 2
    assert Store(db).sweep(sweep_id).state == "running"
    result = local_agent(sweep_id, function("grid_point"), count=4, db=db)
    assert result.reason == "count" and len(_runs(db, sweep_id)) == 6
    assert Store(db).sweep(sweep_id).state == "finished"  # the grid is done


@pytest.mark.slow
def test_random_stays_within_the_space(db):
    config = {
        "method": "random",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {
            "x": {"distribution": "uniform", "min": -1.0, "max": 1.0},
            "y": {"distribution": "int_uniform", "min": 1, "max": 4},
        },
    }
    sweep_id = local_sweep(config, db=db)
    local_agent(sweep_id, function("quadratic"), count=6, db=db)
    runs = _runs(db, sweep_id)
    assert len(runs) == 6
    for run in runs:
        x, y = run["params"]["x"], run["params"]["y"]
        assert type(x) is float and -1.0 <= x <= 1.0
        assert type(y) is int and 1 <= y <= 4
        assert run["metric"] == pytest.approx((x - 0.3) ** 2 + (y - 2) ** 2 / 10)


@pytest.mark.slow
def test_bayes_proposes_from_the_runs_so_far(db):
    config = {
        "method": "bayes",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {
            "x": {"distribution": "uniform", "min": 0.0, "max": 1.0},
            "y": {"distribution": "int_uniform", "min": 0, "max": 4},
        },
    }
    sweep_id = local_sweep(config, db=db)
    local_agent(sweep_id, function("quadratic"), count=6, db=db)
    runs = Store(db).runs(sweep_id)
    assert [r.state for r in runs] == ["finished"] * 6
    assert len({r.params["x"] for r in runs}) == 6
    assert all(0.0 <= r.params["x"] <= 1.0 and 0 <= r.params["y"] <= 4 for r in runs)
    # each later proposal was a Gaussian-process suggestion from the finished runs
    with Store(db).engine.connect() as conn:
        query = sqlalchemy.text("SELECT search_info FROM runs ORDER BY seq")
        infos = [json.loads(i) for (i,) in conn.execute(query)]
    assert all("expected_improvement" in info for info in infos[1:])


MINIMIZE = {"name": "val_loss", "goal": "minimize"}
MAXIMIZE = {"name": "val_acc", "goal": "maximize"}


@pytest.mark.slow
@pytest.mark.parametrize(("metric", "strict"), [(MINIMIZE, None), (MAXIMIZE, False)])
def test_hyperband_stops_exactly_the_runs_the_engine_names(db, metric, strict):
    early = {"type": "hyperband", "min_iter": 2, "eta": 2}
    if strict is not None:
        early["strict"] = strict
    config = {
        "method": "grid",
        "metric": metric,
        "early_terminate": early,
        "parameters": {"series": {"values": list(range(len(SERIES)))}},
    }
    expected = engine_replay(config, SERIES)
    assert any(band for _, band in expected), "the crafted series must stop some runs"
    assert any(band is None for _, band in expected)
    sweep_id = local_sweep(config, db=db)
    local_agent(sweep_id, function("crafted"), db=db)
    runs = _runs(db, sweep_id)
    assert [r["params"]["series"] for r in runs] == list(range(len(SERIES)))
    for run, (rows, band) in zip(runs, expected, strict=True):
        assert len(run["history"]) == rows, run  # the function ended at the stopping row
        if band is None:
            assert run["state"] == "finished" and run["stop"] is None
            continue
        assert run["state"] == "stopped"
        stop = run["stop"]
        assert stop["band"] == band
        finite = [v for v in SERIES[run["params"]["series"]][:rows] if v == v]
        assert stop["epoch"] == len(finite) == run["epochs"]
        values = finite if metric["goal"] == "minimize" else [1.0 - v for v in finite]
        assert stop["value"] == pytest.approx(values[band - 1] if strict is None else (
            min(values) if metric["goal"] == "minimize" else max(values)))  # fmt: skip
        worse = stop["value"] > stop["threshold"]
        assert worse if metric["goal"] == "minimize" else not worse
    bands = Store(db).snapshot(sweep_id)["bands"]
    assert [b["band"] for b in bands][:3] == [2, 4, 8]


@pytest.mark.slow
def test_hyperband_judges_a_dotted_metric_as_it_judges_a_flat_one(db):
    """A metric logged nested (``{"val": {"loss": v}}`` under ``val.loss``) stops the runs
    that the same series logged as ``val_loss`` stop."""
    def config(name):
        return {
            "method": "grid",
            "metric": {"name": name, "goal": "minimize"},
            "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
            "parameters": {"series": {"values": list(range(6))}},
        }

    stopped = {}
    for name, logs in (("val_loss", "crafted"), ("val.loss", "crafted_nested")):
        sweep_id = local_sweep(config(name), db=db)
        local_agent(sweep_id, function(logs), db=db)
        runs = _runs(db, sweep_id)
        stopped[name] = [(r["params"]["series"], r["stop"]) for r in runs if r["stop"]]
        assert all(r["epochs"] > 0 for r in runs)  # the metric is stored either way
    replay = engine_replay(config("val_loss"), SERIES[:6])
    expected = [index for index, (_, band) in enumerate(replay) if band]
    assert [series for series, _ in stopped["val_loss"]] == expected and len(expected) == 2
    assert stopped["val.loss"] == stopped["val_loss"]


@pytest.mark.slow
def test_failing_runs_are_recorded_and_the_agent_goes_on(db):
    config = {**GRID, "parameters": {"a": {"values": [0, 1, 2, 3]}}}
    sweep_id = local_sweep(config, db=db)
    result = local_agent(sweep_id, function("fail_odd"), db=db)
    runs = _runs(db, sweep_id)
    assert [r["state"] for r in runs] == ["finished", "failed", "finished", "failed"]
    assert runs[1]["error"] == "ValueError: odd a=1"
    assert result.reason == "exhausted" and result.failed == 2


@pytest.mark.slow
def test_agent_stops_after_consecutive_failures(db):
    config = {**GRID, "parameters": {"a": {"values": list(range(10))}}}
    sweep_id = local_sweep(config, db=db)
    result = local_agent(sweep_id, function("always_fail"), db=db, max_consecutive_failures=3)
    runs = _runs(db, sweep_id)
    assert result.reason == "failures" and len(runs) == 3
    assert {r["error"] for r in runs} == {"RuntimeError: broken function"}


@pytest.mark.slow
def test_retry_failed_reruns_failed_params_once(db):
    config = {**GRID, "parameters": {"a": {"values": [0, 1, 2, 3]}, "b": {"value": "p"}}}
    sweep_id = local_sweep(config, db=db)
    local_agent(sweep_id, function("fail_odd"), db=db)
    result = local_agent(sweep_id, function("grid_point"), db=db, retry_failed=True)
    runs = Store(db).runs(sweep_id)
    assert len(runs) == 6 and len(result.run_ids) == 2
    retries = runs[4:]
    assert [r.params["a"] for r in retries] == [1, 3]
    assert [r.retry_of for r in retries] == [runs[1].id, runs[3].id]
    assert all(r.state == "finished" for r in retries)
    assert runs[1].state == "failed" and runs[1].retried  # the record is kept


@pytest.mark.slow
def test_keyboard_interrupt_marks_the_run_preempted_and_propagates(db, monkeypatch):
    sweep_id = local_sweep(GRID, db=db)

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        local_agent(sweep_id, interrupted, db=db)
    (run,) = _runs(db, sweep_id)
    assert run["state"] == "preempted" and "interrupted" in run["error"]
    assert not stop_requested() and current_run() is None


def test_keras_session_is_cleared_after_every_run(db, monkeypatch):
    cleared = []
    backend = types.SimpleNamespace(clear_session=lambda: cleared.append(1))
    monkeypatch.setitem(sys.modules, "keras", types.SimpleNamespace(backend=backend))
    sweep_id = local_sweep(GRID, db=db)
    local_agent(sweep_id, function("fail_odd"), db=db, count=4)
    assert len(cleared) == 4


@pytest.mark.slow
def test_parameters_reach_wandb_as_wandb_agent_hands_them(db, tmp_path, monkeypatch):
    """Offline wandb: config, ids, labels, and the rows as wandb assembles them."""
    monkeypatch.setenv("TEST_OUT", str(tmp_path))
    config = {**GRID, "parameters": {"a": {"values": [1, 2]}, "b": {"value": "x"}}}
    sweep_id = local_sweep(config, db=db, project="proj")
    local_agent(sweep_id, function("protocol"), db=db, wandb_mode="offline")
    runs = _runs(db, sweep_id)
    for n, run in enumerate(runs, start=1):
        seen = json.loads((tmp_path / f"{run['id']}.json").read_text())
        assert seen["config"] == {"a": n, "b": "x", "untouched": 7, "extra": 1}
        assert seen["run_id"] == run["id"] == seen["env"]["WANDB_RUN_ID"]
        assert seen["params_file"].replace(" ", "") == f"a:\nvalue:{n}\nb:\nvalue:x\n"
        assert seen["group"] == f"sweep-{sweep_id}" and seen["name"] == f"{sweep_id}-{n}"
        assert seen["project"] == "proj"
        assert seen["run_sweep_id"] is None and seen["wandb_sweep_id"] is None
        assert seen["sweep_env"] == {"KERASWEEP_SWEEP_ID": sweep_id, "KERASWEEP_RUN_ID": run["id"]}
        assert seen["offline"] is True
        assert list(tmp_path.glob(f"wandb/offline-run-*-{run['id']}/run-{run['id']}.wandb"))
        assert run["history"] == [{"val_loss": 0.5, "epochs": 0}, {"val_loss": 0.25, "epochs": 1}]
        assert run["metric"] == 0.25 and run["epochs"] == 2


def test_bad_arguments(db):
    sweep_id = local_sweep(GRID, db=db)
    with pytest.raises(ValueError, match="count"):
        local_agent(sweep_id, function("grid_point"), count=0, db=db)
    with pytest.raises(ValueError, match="wandb_mode"):
        local_agent(sweep_id, function("grid_point"), db=db, wandb_mode="online")
    with pytest.raises(ValueError, match="no callable 'nope'"):
        local_agent(sweep_id, function("nope"), db=db)
    assert _runs(db, sweep_id) == []


@pytest.mark.slow
def test_a_store_failure_while_recording_does_not_fail_the_run(db, monkeypatch, caplog):
    import sqlite3

    sweep_id = local_sweep(GRID, db=db)

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Store, "append_rows", broken)
    with caplog.at_level("WARNING", logger="kerasweep.local"):
        local_agent(sweep_id, function("grid_point"), count=1, db=db)
        local_agent(sweep_id, function("protocol_rows_only"), count=1, db=db)
    runs = _runs(db, sweep_id)
    assert [r["state"] for r in runs] == ["finished", "finished"]
    assert [r["history"] for r in runs] == [[], []]
    assert "could not be recorded (OperationalError: disk I/O error)" in caplog.text


@pytest.mark.slow
def test_time_limit_takes_no_new_run_once_spent(db):
    sweep_id = local_sweep(GRID, db=db)
    result = local_agent(sweep_id, function("grid_point"), db=db, time_limit=1e-9)
    assert result.reason == "time_limit" and result.run_ids == []


def test_a_postgres_store_without_a_checkpoint_dir_says_so_in_one_line(
    tmp_path, monkeypatch, caplog
):
    from kerasweep.local._agent import AgentOptions, checkpoint_root

    monkeypatch.delenv("KERASWEEP_CHECKPOINT_DIR", raising=False)
    postgres = types.SimpleNamespace(location=types.SimpleNamespace(path=None))
    with caplog.at_level("WARNING", logger="kerasweep.local"):
        assert checkpoint_root(postgres, AgentOptions()) is None
    (line,) = caplog.messages
    assert "--checkpoint-dir or $KERASWEEP_CHECKPOINT_DIR" in line and "epoch 0" in line

    given = tmp_path / "ckpt"
    assert checkpoint_root(postgres, AgentOptions(checkpoint_dir=given)) == given
    monkeypatch.setenv("KERASWEEP_CHECKPOINT_DIR", str(given))
    assert checkpoint_root(postgres, AgentOptions()) == given
    sqlite = types.SimpleNamespace(location=types.SimpleNamespace(path=tmp_path / "k.db"))
    monkeypatch.delenv("KERASWEEP_CHECKPOINT_DIR")
    assert checkpoint_root(sqlite, AgentOptions()) == tmp_path / "k.db.checkpoints"
    assert checkpoint_root(sqlite, AgentOptions(checkpoint_every=0)) is None

    caplog.clear()
    blocked = tmp_path / "file"
    blocked.write_text("")
    with caplog.at_level("WARNING", logger="kerasweep.local"):
        assert checkpoint_root(postgres, AgentOptions(checkpoint_dir=blocked / "sub")) is None
    (line,) = caplog.messages
    assert "not writable" in line
