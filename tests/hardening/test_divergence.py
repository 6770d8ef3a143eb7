"""Divergence: a NaN loss ends its run at once, recorded failed with the epoch; bayes sees
the run as the worst result and keeps proposing; hyperband never counts a NaN.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sqlite3
import warnings

import numpy as np
import pytest

from kerasweep.cli import main
from kerasweep.local import local_agent, local_sweep
from kerasweep.local._controller import engine_runs, propose
from kerasweep.local._store import RunRecord, Store
from kerasweep.train import sweep_train
from tests.hardening.hardening_functions import DIVERGES_ABOVE, spec
from tests.hardening.store_checks import assert_sound

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from sweeps.bayes_search import _construct_gp_data, bayes_baseline_validate_and_fill

DIVERGED = re.compile(r"^TrainingDiverged: training diverged: loss became [-a-z]+ in epoch 0$")
BAYES = {
    "method": "bayes",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"x": {"distribution": "uniform", "min": 0.0, "max": 1.0}},
}


@pytest.mark.slow
def test_a_diverging_sweep_train_run_ends_in_its_first_epoch_and_is_marked(db, capsys):
    """The real sweep_train on digits: a huge learning rate with linear activations."""
    config = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 1},
        "parameters": {
            "learning_rate": {"values": [1e6, 0.05]},
            "activation": {"value": "linear"},
            "dataset": {"value": "digits"},
            "epochs": {"value": 4},
            "hidden_units": {"value": 8},
            "seed": {"value": 0},
        },
    }
    sweep_id = local_sweep(config, db=db)
    result = local_agent(sweep_id, functools.partial(sweep_train, {"verbose": 0}), db=db)
    assert result.reason == "exhausted" and result.failed == 1
    diverged, good = Store(db).snapshot(sweep_id)["runs"]

    assert diverged["state"] == "failed"
    assert DIVERGED.match(diverged["error"]), diverged["error"]
    epoch_rows = [row for row in diverged["history"] if "epochs" in row]
    assert [row["epochs"] for row in epoch_rows] == [0]  # no second epoch of 4
    assert not math.isfinite(epoch_rows[0]["loss"])
    assert diverged["metric"] is None and diverged["epochs"] == 0  # no hyperband iteration
    assert diverged["stop"] is None

    assert good["state"] == "finished" and good["epochs"] == 4
    assert math.isfinite(good["metric"])

    assert main(["show", sweep_id, "--db", str(db)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if diverged["id"] in line)
    assert "failed" in row and re.search(r"diverged: .* in epoch 0", row)
    assert_sound(db, sweep_id)


def _record(seq, state, x, values=()):
    return RunRecord(
        id=f"r{seq}", seq=seq, sweep_id="s", name=f"s-{seq}", state=state,
        params={"x": x}, metric_values=list(values),
    )  # fmt: skip


def _engine_y(config, runs):
    """The metric values bayes fits its Gaussian process to, one per run (as minimized)."""
    _, _, _, y, _ = _construct_gp_data(
        engine_runs(config, runs, for_search=True), bayes_baseline_validate_and_fill(config)
    )
    return list(y)


@pytest.mark.parametrize("goal", ["minimize", "maximize"])
def test_bayes_sees_a_diverged_run_as_the_worst_result(goal):
    config = {**BAYES, "metric": {"name": "val_loss", "goal": goal}}
    runs = [
        _record(1, "finished", 0.1, [0.9, 0.5]),
        _record(2, "failed", 0.9),  # diverged in epoch 0: no finite value at all
        _record(3, "stopped", 0.3, [0.8, 0.7]),
        _record(4, "failed", 0.8, [0.95]),  # one finite epoch, then diverged
    ]
    handed = engine_runs(config, runs, for_search=True)
    assert [r.state for r in handed] == ["finished", "failed", "finished", "failed"]
    assert handed[1].history == []  # a NaN is never handed over as a value
    y = _engine_y(config, runs)
    assert all(math.isfinite(v) for v in y)
    # as minimized: the diverged runs are at least as bad as any real result
    worst_real = max(y[0], y[2])
    assert y[1] >= worst_real and y[3] >= worst_real
    assert y[1] == y[3]


def test_bayes_proposes_when_every_run_so_far_diverged():
    runs = [_record(i, "failed", 0.7 + i / 20) for i in range(1, 4)]
    for _ in range(3):
        new = propose(BAYES, runs)
        assert new is not None and 0.0 <= new.params["x"] <= 1.0
        runs.append(_record(len(runs) + 1, "failed", new.params["x"]))


@pytest.mark.slow
def test_a_bayes_sweep_keeps_proposing_past_diverged_runs(db):
    np.random.seed(3)  # the engine samples with numpy's global generator
    sweep_id = local_sweep(BAYES, db=db)
    result = local_agent(
        sweep_id, spec("diverging_quadratic"), count=8, db=db, max_consecutive_failures=8
    )
    runs = Store(db).runs(sweep_id)
    assert len(result.run_ids) == len(runs) == 8
    failed = [r for r in runs if r.state == "failed"]
    assert failed and failed[0].seq < runs[-1].seq  # runs were proposed after a divergence
    # ... by the Gaussian process, not as a fallback after an engine error
    conn = sqlite3.connect(db)
    infos = conn.execute("SELECT search_info FROM runs WHERE seq > ?", (failed[0].seq,))
    assert all("expected_improvement" in json.loads(info) for (info,) in infos)
    conn.close()
    for run in runs:
        diverges = run.params["x"] > DIVERGES_ABOVE
        assert run.state == ("failed" if diverges else "finished")
        if diverges:
            assert DIVERGED.match(run.error) and run.metric_values == []
        else:
            assert run.metric_values == [pytest.approx((run.params["x"] - 0.3) ** 2)]
    assert_sound(db, sweep_id)
