"""kerasweep.local._controller: W&B's engine deciding proposals and hyperband stops."""

from __future__ import annotations

import random

import pytest
from sweeps import RunState, SweepRun, stop_runs

from kerasweep.local._controller import (
    SweepProposer,
    engine_runs,
    hyperband_decision,
    judge_run,
    local_sweep,
    propose,
    target_reached,
)
from kerasweep.local._store import RunRecord, Store, SweepSoFar
from kerasweep.sweep_config import _engine as engine


def _run(seq, state, params, values=(), *, retried=False, run_id=None):
    return RunRecord(
        id=run_id or f"r{seq}",
        seq=seq,
        sweep_id="s",
        name=f"s-{seq}",
        state=state,
        params=params,
        retried=retried,
        metric_values=list(values),
    )


METRIC = {"name": "val_loss", "goal": "minimize"}


def test_engine_sees_stopped_runs_as_finished_with_their_metric():
    config = {"method": "bayes", "metric": METRIC, "parameters": {"x": {"min": 0.0, "max": 1.0}}}
    runs = [
        _run(1, "stopped", {"x": 0.1}, [0.9, 0.7]),
        _run(2, "failed", {"x": 0.2}, [0.5]),
        _run(3, "crashed", {"x": 0.3}, retried=True),
        _run(4, "running", {"x": 0.4}, [0.6]),
    ]
    seen = engine_runs(config, runs)
    assert [r.state for r in seen] == ["finished", "failed", "crashed", "running"]
    assert seen[0].history == [{"val_loss": 0.9}, {"val_loss": 0.7}]
    assert seen[0].config == {"x": {"value": 0.1}}
    assert seen[0].metric_extremum("val_loss", "minimum") == 0.7
    assert [r.name for r in engine_runs(config, runs, for_search=True)] == ["r1", "r2", "r4"]


def test_proposals_are_plain_python_values():
    config = {
        "method": "random",
        "parameters": {
            "i": {"distribution": "int_uniform", "min": 1, "max": 9},
            "q": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25},
            "c": {"values": [1, "two", 3.0]},
            "f": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        },
    }
    for _ in range(10):
        params = propose(config, []).params
        assert type(params["i"]) is int and 1 <= params["i"] <= 9
        assert type(params["q"]) is float and params["q"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert params["c"] in (1, "two", 3.0)
        assert type(params["f"]) is float and 1e-4 <= params["f"] <= 1e-1


def test_grid_counts_every_run_and_ends():
    config = {"method": "grid", "parameters": {"a": {"values": [1, 2]}}}
    assert propose(config, [_run(1, "failed", {"a": 1})]).params == {"a": 2}
    assert propose(config, [_run(1, "failed", {"a": 1}), _run(2, "running", {"a": 2})]) is None


def test_retry_proposes_failed_params_once_before_new_ones():
    config = {"method": "grid", "parameters": {"a": {"values": [1, 2, 3]}}}
    runs = [_run(1, "failed", {"a": 1}), _run(2, "crashed", {"a": 2}, retried=True)]
    new = propose(config, runs, retry_upto=2)
    assert new.params == {"a": 1} and new.retry_of == "r1"
    runs = [
        _run(1, "failed", {"a": 1}, retried=True),
        runs[1],
        _run(3, "finished", {"a": 1}),  # the retries
        _run(4, "failed", {"a": 2}),
    ]
    assert propose(config, runs, retry_upto=2).params == {"a": 3}
    # a failed retry (created after the agent started) is not retried again by it
    assert propose(config, [*runs, _run(5, "failed", {"a": 3})], retry_upto=2) is None


def test_run_cap_and_target_end_the_sweep():
    config = {
        "method": "random",
        "run_cap": 2,
        "metric": {**METRIC, "target": 0.1},
        "parameters": {"a": {"values": [1, 2]}},
    }
    assert propose(config, [_run(1, "finished", {"a": 1}, [0.5])]) is not None
    assert propose(config, [_run(1, "finished", {"a": 1}), _run(2, "running", {"a": 2})]) is None
    assert target_reached(config, [_run(1, "running", {"a": 1}, [0.5, 0.09])])
    maximize = {**config, "metric": {"name": "acc", "goal": "maximize", "target": 0.9}}
    assert not target_reached(maximize, [_run(1, "finished", {"a": 1}, [0.5, 0.89])])
    assert target_reached(maximize, [_run(1, "finished", {"a": 1}, [0.95])])


@pytest.mark.parametrize("goal", ["minimize", "maximize"])
def test_hyperband_decision_is_the_engines(goal):
    sign = 1 if goal == "minimize" else -1
    config = {
        "method": "grid",
        "metric": {"name": "m", "goal": goal},
        "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
        "parameters": {"a": {"values": [1]}},
    }
    done = [
        _run(1, "finished", {"a": 1}, [sign * v for v in (1.0, 0.5, 0.4, 0.3)]),
        _run(2, "stopped", {"a": 1}, [sign * v for v in (1.0, 0.6)]),
    ]
    bad = _run(3, "running", {"a": 1}, [sign * v for v in (1.0, 0.9)], run_id="me")
    good = _run(3, "running", {"a": 1}, [sign * v for v in (1.0, 0.55)], run_id="me")
    decision, bands = hyperband_decision(config, [*done, bad], "me")
    assert decision is not None and (decision.band, decision.epoch) == (2, 2)
    assert decision.value == sign * 0.9 and decision.threshold == sign * 0.6
    assert bands[0] == (2, sign * 0.6) and bands[1] == (4, sign * 0.3) and bands[2][1] is None
    assert hyperband_decision(config, [*done, good], "me")[0] is None
    # the same question asked of the engine directly
    engine = [
        SweepRun(name=r.id, state=RunState.running if r.state == "running" else "finished",
                 history=[{"m": v} for v in r.metric_values])
        for r in [*done, bad]
    ]  # fmt: skip
    assert [r.name for r in stop_runs(config, engine)] == ["me"]


def test_no_hyperband_no_decision():
    config = {"method": "grid", "metric": METRIC, "parameters": {"a": {"values": [1]}}}
    assert hyperband_decision(config, [_run(1, "running", {"a": 1}, [9.0])], "r1") == (None, [])


def test_local_sweep_refuses_a_bad_config_in_one_line_and_writes_nothing(db):
    from kerasweep.sweep_config import SweepConfigError

    config = {"method": "grid", "parameters": {"x": {"min": 0.0, "max": 1.0}}}
    with pytest.raises(SweepConfigError, match=r"^<dict>: parameters\.x") as err:
        local_sweep(config, db=db)
    assert "\n" not in str(err.value)
    assert not db.exists()


def test_local_sweep_stores_config_name_and_project(db):
    from kerasweep.local._store import Store

    config = {"method": "grid", "name": "n", "parameters": {"a": {"values": [1]}}}
    sweep = Store(db).sweep(local_sweep(config, db=db, project="p"))
    assert (sweep.name, sweep.project, sweep.config) == ("n", "p", config)


@pytest.mark.parametrize(
    "early_terminate",
    [
        {"type": "hyperband", "min_iter": 2, "eta": 2},
        {"type": "hyperband", "min_iter": 3, "eta": 3, "strict": False},
        {"type": "hyperband", "max_iter": 27, "s": 3, "eta": 3},
    ],
)
@pytest.mark.parametrize("goal", ["minimize", "maximize"])
def test_judging_from_band_values_decides_as_the_engine_on_whole_runs(early_terminate, goal):
    """judge_run shows the engine only what its hyperband reads; its verdicts and thresholds
    are those the engine gives on every run whole, with its real state."""
    config = {
        "method": "random",
        "metric": {"name": "m", "goal": goal},
        "early_terminate": early_terminate,
        "parameters": {"a": {"values": [1]}},
    }
    sign = 1 if goal == "minimize" else -1
    draw = random.Random(f"{early_terminate}{goal}")
    states = ["running", "finished", "failed", "crashed"]
    stops = 0
    for _ in range(40):
        runs = {}  # each run near a level of its own, with ties between runs
        for n in range(draw.randrange(1, 12)):
            level, length = draw.uniform(0, 2), draw.randrange(0, 30)
            series = [round(level + draw.uniform(0, 0.3), 1) for _ in range(length)]
            runs[f"r{n}"] = (draw.choice(states), series)
        values = {run_id: series for run_id, (_, series) in runs.items()}
        running = {run_id for run_id, (state, _) in runs.items() if state == "running"}
        for target in running:
            whole = [
                SweepRun(name=run_id, state=state, history=[{"m": v} for v in series])
                for run_id, (state, series) in runs.items()
            ]
            stopped = {r.name for r in stop_runs(config, whole)}
            info = next(r for r in whole if r.name == target).early_terminate_info
            decision, table = judge_run(config, values, running, target)
            assert (decision is not None) == (target in stopped)
            engine_table = list(zip(info["bands"], info["thresholds"], strict=True))
            for (band, threshold), (engine_band, engine_threshold) in zip(
                table, engine_table[: len(table)], strict=True
            ):
                assert band == engine_band
                if threshold is None:
                    assert engine_threshold == float("inf")
                else:
                    assert sign * threshold == engine_threshold
            assert table[-1][1] is None or len(table) == len(info["bands"])
            if decision is not None:
                stops += 1
                index = info["bands"].index(decision.band)
                assert sign * decision.threshold == info["thresholds"][index]
                assert decision.epoch == len(values[target])
    assert stops > 0  # the comparison saw runs stopped, not only runs kept


def _engine_proposal(sweep, runs, retry_upto):
    """The next run as the engine gives it, handed every run (how claims proposed before)."""
    config = sweep.config
    if retry_upto is not None:
        for run in runs:
            if run.seq <= retry_upto and run.state.errored and not run.retried:
                return {"params": run.params, "retry_of": run.id}
    if target_reached(config, runs):
        return None
    if config.get("run_cap") is not None and len(runs) >= config["run_cap"]:
        return None
    suggestion = engine.next_run(
        config, engine_runs(config, runs, for_search=True), seed=sweep.seed, proposal=len(runs)
    )
    if suggestion is None:
        return None
    return {"params": {k: v["value"] for k, v in suggestion.config.items()}, "retry_of": None}


GRID = {"a": {"values": [1, 2, 3]}, "b": {"values": [0.5, 1.0]}, "c": {"value": "x"}}


@pytest.mark.parametrize(
    "config",
    [
        {"method": "random", "parameters": {"lr": {"distribution": "log_uniform_values",
                                                   "min": 1e-4, "max": 1e-1}}},
        {"method": "grid", "parameters": GRID},
        {"method": "grid", "parameters": GRID, "run_cap": 5},
        {"method": "random", "metric": {**METRIC, "target": 0.05},
         "parameters": {"a": {"values": [1, 2]}}},
        {"method": "bayes", "metric": METRIC,
         "parameters": {"x": {"min": 0.0, "max": 1.0}}},
    ],
)  # fmt: skip
def test_agents_claims_read_only_what_the_proposal_needs_and_agree_with_the_engine(
    any_db, config, monkeypatch
):
    """Two agents, each with its SweepProposer kept across claims, runs failing, crashing and
    retried: every claim is the engine's proposal on every run so far, and a random or grid
    claim never reads the sweep's runs whole."""
    if config["method"] != "bayes":
        def read_whole(self):
            raise AssertionError("a random or grid claim read every run")
        monkeypatch.setattr(SweepSoFar, "all", read_whole)
    stores = [Store(any_db), Store(any_db)]
    sweep_id = stores[0].create_sweep(config, seed=7)
    sweep = stores[0].sweep(sweep_id)
    agents = [store.register_agent(sweep_id) for store in stores]
    proposers = [SweepProposer(sweep), SweepProposer(sweep)]
    rng = random.Random(str(config))
    claims = 0
    for turn in range(16):
        if turn == 8:  # the second agent now retries the failed runs so far
            upto = max(run.seq for run in stores[0].runs(sweep_id))
            proposers[1] = SweepProposer(sweep, retry_upto=upto)
        which = rng.randrange(2)
        store, agent, proposer = stores[which], agents[which], proposers[which]
        expected = _engine_proposal(sweep, stores[0].runs(sweep_id), proposer.retry_upto)
        run = store.claim_run(sweep_id, agent, proposer)
        if expected is None:
            assert run is None
            continue
        claims += 1
        assert (run.params, run.retry_of) == (expected["params"], expected["retry_of"])
        store.append_rows(run.id, [{"val_loss": rng.random()}], "val_loss", agent_id=agent)
        store.finish_run(run.id, agent, rng.choice(["finished", "failed", "crashed"]))
    assert claims >= 4
