"""HyperbandBands against W&B's engine itself: the same verdicts on generated sweeps.

Each generated sweep is a random sequence of events (a run starts, a running run logs a row,
a running run ends as finished, failed, crashed or killed), under a random hyperband config
(min_iter or max_iter/s form, eta 2, 3, 4 or 2.5, strict on, off or by default, minimize or
maximize). Rows hold values from a small pool (ties), NaN, infinities, None, text, bools, or
no metric at all. After every event the engine (``sweeps.stop_runs`` on every run's whole
history) and the incremental bands must stop the same running runs, with the same bands and
thresholds; so must bands rebuilt from the runs' values in another order.
"""

from __future__ import annotations

import math
import random
import warnings

import pytest

from kerasweep.sweep_config._hyperband_bands import HyperbandBands, band_list, is_iteration

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import sweeps
    from sweeps import SweepRun

SWEEPS = 600
ENDED = ("finished", "failed", "crashed", "killed")
POOL = (0.1, 0.2, 0.25, 0.5, 1, 1.0, 2, 3.5, -1.0, 0.0, -0.0)
ODD = (math.nan, math.inf, -math.inf, None, "0.3", True, False)


def _config(rng: random.Random) -> dict:
    early: dict = {"type": "hyperband"}
    if rng.random() < 0.6:
        early["min_iter"] = rng.choice((1, 1, 2, 3))
    else:
        early["max_iter"] = rng.randint(4, 40)
        early["s"] = rng.randint(1, 4)
    eta = rng.choice((2, 3, 4, 2.5, None))
    if eta is not None:
        early["eta"] = eta
    strict = rng.choice((True, False, None))
    if strict is not None:
        early["strict"] = strict
    metric: dict = {"name": "m"}
    goal = rng.choice(("minimize", "maximize", None))
    if goal is not None:
        metric["goal"] = goal
    return {
        "method": "random",
        "metric": metric,
        "early_terminate": early,
        "parameters": {"a": {"value": 1}},
    }


def _value(rng: random.Random):
    roll = rng.random()
    if roll < 0.08:
        return rng.choice(ODD)
    if roll < 0.55:
        return rng.choice(POOL)
    return round(rng.uniform(-1, 3), rng.choice((1, 2, 6)))


def _engine_stops(config: dict, runs: list) -> tuple[set, list]:
    """The running runs the engine stops, and its thresholds (inf: no run reached the band)."""
    stopped = {run.name for run in sweeps.stop_runs(config, runs)}
    info = next((r.early_terminate_info for r in runs if r.state == "running"), None)
    if info is None:  # it writes them on running runs only: ask again with a run of no rows
        probe = SweepRun(name="probe", state="running", history=[])
        sweeps.stop_runs(config, [*runs, probe])
        info = probe.early_terminate_info
    return stopped, list(info["thresholds"])


def _check(config: dict, runs: list, bands: HyperbandBands, values: dict) -> None:
    stopped, thresholds = _engine_stops(config, runs)
    running = [run for run in runs if run.state == "running"]
    mine = {run.name for run in running if bands.should_stop(run.name)}
    assert mine == stopped
    assert bands.thresholds() == thresholds
    sign = -1.0 if config["metric"].get("goal") == "maximize" else 1.0
    for run in running:
        verdict = bands.verdict(run.name)
        history = run.metric_history("m", filter_invalid=True)
        reached = [b for b in bands.bands if b <= len(history)]
        if not reached:
            assert verdict is None
            continue
        index = len(reached) - 1
        assert verdict.band == reached[-1] == run.early_terminate_info["bands"][index]
        assert verdict.epoch == len(history)
        assert verdict.threshold == sign * thresholds[index]
        strict = config["early_terminate"].get("strict", True)
        assert verdict.value == (history[reached[-1] - 1] if strict else sign * min(
            sign * v for v in history
        ))
        assert verdict.stop == (run.name in stopped)
    # the table the store keeps: bands up to the first no run reached
    table = []
    for band, threshold in zip(bands.bands, thresholds, strict=True):
        table.append((band, sign * threshold if math.isfinite(threshold) else None))
        if not math.isfinite(threshold):
            break
    assert bands.table() == table


def _sweep(seed: int) -> int:
    rng = random.Random(seed)
    config = _config(rng)
    bands = HyperbandBands.from_config(config)
    runs: list = []
    values: dict[str, list] = {}
    checks = 0
    for _ in range(rng.randint(1, 24)):
        running = [run for run in runs if run.state == "running"]
        roll = rng.random()
        if not running or (roll < 0.15 and len(runs) < 8):
            run = SweepRun(name=f"r{len(runs)}", state="running", history=[])
            runs.append(run)
            values[run.name] = []
        elif roll < 0.27:
            rng.choice(running).state = rng.choice(ENDED)
        else:
            run = rng.choice(running)
            if rng.random() < 0.05:
                run.history.append({"other": 1.0})  # a row without the metric
            else:
                value = _value(rng)
                run.history.append({"m": value})
                values[run.name].append(value)
                bands.observe(run.name, value)
        _check(config, runs, bands, values)
        checks += 1
    # rebuilt from the stored values, runs in another order (an agent that starts late)
    rebuilt = HyperbandBands.from_config(config)
    names = list(values)
    rng.shuffle(names)
    for name in names:
        cut = rng.randint(0, len(values[name]))
        rebuilt.sync(name, values[name][:cut])
        rebuilt.sync(name, values[name])
    _check(config, runs, rebuilt, values)
    return checks + 1


@pytest.mark.slow  # thousands of the engine's decisions
def test_verdicts_equal_the_engines_on_generated_sweeps():
    checks = sum(_sweep(seed) for seed in range(SWEEPS))
    assert checks > 10 * SWEEPS


@pytest.mark.parametrize(
    "early",
    [
        {"min_iter": 1},
        {"min_iter": 5, "eta": 3},
        {"min_iter": 2, "eta": 2.5},
        {"min_iter": 1, "eta": 1.1},
        {"max_iter": 27, "s": 3},
        {"max_iter": 5, "eta": 2, "s": 2},
        {"max_iter": 100, "eta": 4, "s": 10},
        {"max_iter": 3, "eta": 1.1, "s": 5},
        {"max_iter": 81, "eta": 3, "s": 2, "min_iter": 2},
    ],
)
def test_bands_equal_the_engines(early):
    config = {"metric": {"name": "m"}, "early_terminate": {"type": "hyperband", **early}}
    probe = SweepRun(name="p", state="running", history=[])
    sweeps.stop_runs(config, [probe])
    assert band_list(config["early_terminate"]) == probe.early_terminate_info["bands"]
    assert HyperbandBands.from_config(config).bands == probe.early_terminate_info["bands"]


def test_repeated_bands_judge_as_the_engine():
    """eta near 1 repeats bands (1, 1, 1, 1, 2, ...): each is the same threshold."""
    config = {
        "metric": {"name": "m"},
        "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 1.1},
    }
    bands = HyperbandBands.from_config(config)
    runs = []
    for name, series in {"a": [1.0, 0.5, 0.2], "b": [2.0, 2.0, 2.0], "c": [0.1, 3.0]}.items():
        runs.append(SweepRun(name=name, state="running", history=[{"m": v} for v in series]))
        bands.extend(name, series)
    assert {r.name for r in sweeps.stop_runs(config, runs)} == {
        name for name in "abc" if bands.should_stop(name)
    }


def test_an_iteration_is_what_the_engine_counts():
    import decimal
    import fractions

    import numpy as np

    odd = (decimal.Decimal("1.5"), fractions.Fraction(1, 2), np.float32(0.5), np.float16("nan"),
           np.int8(3), np.bool_(True), np.float64("inf"), np.array(1.0), np.uint64(2**63),
           2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 2**1100)  # fmt: skip
    values = (*POOL, *ODD, *odd)
    run = SweepRun(history=[{"m": v} for v in values])
    assert [is_iteration(v) for v in values] == [
        sweeps.run.is_number(v) for v in values
    ]
    assert [v for v in values if is_iteration(v)] == run.metric_history("m", filter_invalid=True)


def test_a_config_without_hyperband_is_refused():
    with pytest.raises(ValueError, match="hyperband"):
        HyperbandBands.from_config({"metric": {"name": "m"}})
    with pytest.raises(ValueError, match="metric"):
        HyperbandBands.from_config({"early_terminate": {"type": "hyperband", "min_iter": 1}})


def test_a_run_with_no_value_yet_is_known_and_not_judged():
    config = {"metric": {"name": "m"}, "early_terminate": {"type": "hyperband", "min_iter": 2}}
    bands = HyperbandBands.from_config(config)
    bands.sync("a", [])
    bands.sync("b", [float("nan"), 0.5])
    assert "a" in bands and "c" not in bands
    assert bands.verdict("a") is None and bands.verdict("b") is None
    assert bands.iterations("b") == 1
    assert bands.table() == [(2, None)]
    bands.sync("b", [float("nan"), 0.5, 0.4])
    assert bands.table() == [(2, 0.4), (6, None)]
