"""Bad run parameters: each such run fails with its reason recorded; the sweep goes on.

A grid over one bad and one good value of four parameters runs the real
``kerasweep.sweep_train`` on digits through ``kerasweep run``: the one good point trains, each
of the other 15 fails with the first bad key named, and ``kerasweep show`` lists the reasons.
"""

from __future__ import annotations

import pytest
import yaml

from kerasweep.cli import main
from kerasweep.local._store import Store
from tests.hardening.store_checks import assert_sound

CONFIG = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {
        # bad first for batch_size, good first for the others: the good point is run 9 of 16,
        # between two stretches of failures
        "batch_size": {"values": [0, 32]},
        "learning_rate": {"values": [0.05, -0.01]},
        "optimizer": {"values": ["sgd", "adamax-typo"]},
        "dataset": {"values": ["digits", "no-such-data"]},
        "epochs": {"value": 1},
        "hidden_units": {"value": 8},
        "seed": {"value": 0},
    },
}
GOOD = {"batch_size": 32, "learning_rate": 0.05, "optimizer": "sgd", "dataset": "digits"}
# the reason recorded when this parameter is the first bad one sweep_train checks
REASONS = {
    "batch_size": "RunConfigError: config key 'batch_size': 0 must be at least 1",
    "learning_rate": "RunConfigError: config key 'learning_rate': -0.01 must be greater than 0",
    "optimizer": "RunConfigError: config key 'optimizer': 'adamax-typo' is not one of sgd,",
    "dataset": "DatasetError: unknown dataset 'no-such-data'",
}
CHECK_ORDER = ["batch_size", "learning_rate", "optimizer", "dataset"]


@pytest.mark.slow
def test_bad_parameters_fail_their_runs_with_the_reason_and_the_sweep_goes_on(tmp_path, capsys):
    path = tmp_path / "bad-params.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    db = tmp_path / "kerasweep.db"
    argv = ["run", str(path), "--db", str(db), "--wandb-mode", "disabled", "--max-failures", "10"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "Traceback" not in captured.err + out  # one status line per run, nothing more
    sweep_id = out.split("Created sweep with ID: ")[1].split()[0]

    runs = Store(db).runs(sweep_id)
    assert len(runs) == 16
    good = [r for r in runs if all(r.params[k] == v for k, v in GOOD.items())]
    assert len(good) == 1 and good[0].seq == runs[8].seq  # failures before and after it
    assert good[0].state == "finished" and good[0].error is None
    assert len(good[0].metric_values) == 1

    for run in runs:
        if run is good[0]:
            continue
        first_bad = next(k for k in CHECK_ORDER if run.params[k] != GOOD[k])
        assert run.state == "failed", run
        assert run.error.startswith(REASONS[first_bad]), run.error
        assert "\n" not in run.error
        assert run.metric_values == []

    # the status line of each run, and the leaderboard, say why it failed
    status = [line for line in out.splitlines() if line.startswith("[")]
    assert len(status) == 16
    assert sum(REASONS["dataset"] in line for line in status) == 1
    assert main(["show", sweep_id, "--db", str(db)]) == 0
    table = capsys.readouterr().out
    assert "16 runs: 15 failed, 1 finished" in table or "16 runs: 1 finished, 15 failed" in table
    rows = {cells[1]: line for line in table.splitlines() if (cells := line.split())[:1]}
    for run in runs:
        if run.error:
            assert run.error in rows[run.id]
    assert_sound(db, sweep_id)
