"""kerasweep.local._hyperband: the judge built for a sweep answers as the engine does."""

from __future__ import annotations

import math
import random

import pytest
from sweeps import RunState as EngineState
from sweeps import SweepRun, stop_runs

from kerasweep.local._hyperband import HyperbandJudge, judge_run
from kerasweep.local._store import NewRun, RunState, Store, SweepMetrics

CONFIG = {
    "method": "grid",
    "metric": {"name": "m", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
    "parameters": {"a": {"values": [1]}},
}


def test_the_judge_answers_the_engines_decision_with_band_and_threshold():
    values = {"a": [1.0, 0.5, 0.4, 0.3], "b": [1.0, 0.6], "me": [1.0, 0.9]}
    judge = HyperbandJudge(CONFIG)
    verdict = judge.judge("me", values, running={"me"})
    assert verdict.stop is not None
    assert (verdict.stop.band, verdict.stop.threshold, verdict.stop.value) == (2, 0.6, 0.9)
    assert (verdict.stop, verdict.bands) == judge_run(CONFIG, values, {"me"}, "me")
    engine = [
        SweepRun(name=name, history=[{"m": v} for v in series],
                 state=EngineState.running if name == "me" else EngineState.finished)
        for name, series in values.items()
    ]  # fmt: skip
    assert [r.name for r in stop_runs(CONFIG, engine)] == ["me"]
    assert judge.judge("me", {**values, "me": [1.0, 0.55]}, running={"me"}).stop is None
    assert judge.bands[:3] == [2, 4, 8]


def test_a_sweep_without_hyperband_has_a_judge_that_never_stops():
    config = {key: value for key, value in CONFIG.items() if key != "early_terminate"}
    judge = HyperbandJudge(config)
    assert not judge.applies and judge.bands == []
    verdict = judge.judge("me", {"me": [9.0, 9.0, 9.0]}, running={"me"})
    assert verdict.stop is None and verdict.bands == []


@pytest.mark.parametrize(
    "early",
    [
        {"min_iter": 1, "eta": 2},
        {"min_iter": 2, "eta": 3, "strict": False},
        {"max_iter": 9, "s": 2, "eta": 3},
    ],
)
@pytest.mark.parametrize("goal", ["minimize", "maximize"])
def test_a_judge_fed_incrementally_by_two_agents_rows_agrees_with_the_engine(any_db, early, goal):
    """Each agent keeps one judge and one SweepMetrics across its runs, fed only what is new,
    the other agent's rows read from the store; every answer is the engine's on every run."""
    config = {
        "method": "random",
        "metric": {"name": "m", "goal": goal},
        "early_terminate": {"type": "hyperband", **early},
        "parameters": {"a": {"values": [1]}},
    }
    stores = [Store(any_db), Store(any_db)]
    sweep_id = stores[0].create_sweep(config)
    agents = []
    for store in stores:
        agent_id = store.register_agent(sweep_id)
        agents.append((store, agent_id, HyperbandJudge(config), SweepMetrics(sweep_id)))
    rng = random.Random(f"{goal}{early}")
    current: list = [None, None]
    judged = stops = 0
    for _ in range(240):
        which = rng.randrange(2)
        store, agent_id, judge, held = agents[which]
        run = current[which]
        if run is None or rng.random() < 0.08:  # ends (finished, or failed) and claims anew
            if run is not None:
                store.finish_run(run.id, agent_id, rng.choice(["finished", "failed"]))
            run = current[which] = store.claim_run(sweep_id, agent_id, lambda s, r: NewRun({}))
        value = rng.choice([rng.random(), rng.random(), math.nan, None])
        row = {"loss": 1.0} if value is None else {"m": value}
        assert store.append_rows(run.id, [row], "m", agent_id=agent_id, refresh=held)
        verdict = judge.judge_held(run.id, held)
        runs = stores[0].runs(sweep_id)
        values = {r.id: r.metric_values for r in runs}
        running = {r.id for r in runs if r.state is RunState.RUNNING}
        assert (verdict.stop, verdict.bands) == judge_run(config, values, running, run.id)
        judged += 1
        if verdict.stop is not None:
            stops += 1
            store.record_stop(run.id, **vars(verdict.stop), bands=verdict.bands)
            store.finish_run(run.id, agent_id, "finished")
            current[which] = None
    assert judged == 240 and stops > 0
