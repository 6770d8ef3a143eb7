"""kerasweep.local._hyperband: the judge built for a sweep answers as the engine does."""

from __future__ import annotations

from sweeps import RunState, SweepRun, stop_runs

from kerasweep.local._hyperband import HyperbandJudge, judge_run

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
                 state=RunState.running if name == "me" else RunState.finished)
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
