"""Tests for kerasweep.sweep_config._explain and ``kerasweep explain``: a dry run of a config."""

from __future__ import annotations

import pytest
import yaml

from kerasweep.cli import main
from kerasweep.local import local_agent, local_sweep
from kerasweep.local._store import Store
from kerasweep.sweep_config import MAX_GRID_SIZE, SWEEP_CONFIG, Metric, SweepConfigError
from kerasweep.sweep_config._explain import explain
from tests.local.helpers import function

TUTORIAL = {
    **SWEEP_CONFIG,
    "parameters": {**SWEEP_CONFIG["parameters"], "seed": {"value": 0}},
}


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERASWEEP_DB", str(tmp_path / "kerasweep.db"))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["random", "grid", "bayes"])
def test_seeded_proposals_are_the_ones_a_seeded_sweep_makes_first(tmp_path, method):
    config = {**TUTORIAL, "method": method}
    shown = explain(config, seed=3, count=4).proposals
    assert len(shown) == (1 if method == "bayes" else 4)
    sweep_id = local_sweep(config, db=tmp_path / "k.db", seed=3)
    local_agent(sweep_id, function("non_seeding_run"), count=4, db=tmp_path / "k.db")
    made = [r.params for r in Store(tmp_path / "k.db").runs(sweep_id)]
    assert made[: len(shown)] == shown


def test_unseeded_proposals_are_a_fresh_sample():
    first = explain(TUTORIAL, count=8).proposals
    assert first != explain(TUTORIAL, count=8).proposals
    seeded = explain(TUTORIAL, seed=1, count=8).proposals
    assert seeded == explain(TUTORIAL, seed=1, count=8).proposals


def test_the_tutorial_explained():
    explanation = explain({**TUTORIAL, "parameters": {**TUTORIAL["parameters"],
                                                      "epochs": {"value": 20}}})  # fmt: skip
    assert explanation.method == "random"
    assert explanation.metric == Metric("val_loss", "minimize")
    assert explanation.points == 20 and explanation.run_cap is None
    hyperband = explanation.hyperband
    assert hyperband.settings == {"type": "hyperband", "min_iter": 5, "eta": 3, "strict": True}
    assert hyperband.bands[:4] == [5, 15, 45, 135]
    assert hyperband.judged == [(5, 5), (15, 15)] and hyperband.epochs == 20
    text = str(explanation)
    assert "random search" in text and "val_loss (minimize)" in text
    assert "space: 20 distinct points" in text
    assert "judged from: epoch 5 (band 5), epoch 15 (band 15), of 20 epochs" in text
    assert "seed: none" in text and "first 5 proposals (a sample):" in text
    assert "random search over 20 points: 20 runs try about 13 distinct ones" in text


def test_without_an_epochs_parameter_sweep_trains_default_is_assumed():
    from kerasweep.train import DEFAULT_CONFIG

    explanation = explain(TUTORIAL)
    assert explanation.hyperband.epochs == DEFAULT_CONFIG["epochs"]
    program = explain({**TUTORIAL, "program": "train.py"})
    assert program.hyperband.epochs is None
    assert "epochs: unknown" in str(program)


def test_max_iter_and_s_bands():
    config = {**TUTORIAL, "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2}}
    config["parameters"] = {**TUTORIAL["parameters"], "epochs": {"values": [10, 30]}}
    hyperband = explain(config).hyperband
    assert hyperband.bands == [3, 9]
    assert hyperband.judged == [(3, 3), (9, 9)] and hyperband.epochs == 30


def test_warns_of_bands_past_the_longest_run():
    config = {**TUTORIAL, "early_terminate": {"type": "hyperband", "min_iter": 10}}
    config["parameters"] = {**TUTORIAL["parameters"], "epochs": {"value": 8}}
    explanation = explain(config)
    assert explanation.hyperband.judged == []
    assert any("no run is ever stopped" in w for w in explanation.warnings)
    assert "judged: never" in str(explanation)


def test_warns_of_a_uniform_over_orders_of_magnitude():
    config = {
        "method": "random",
        "parameters": {"lr": {"distribution": "uniform", "min": 1e-5, "max": 1e-1}},
    }
    (warning,) = explain(config).warnings
    assert warning.startswith("lr: uniform from 1e-05 to 0.1 puts 90% of draws above 0.01")
    assert "log_uniform_values" in warning and "wandb#4481" in warning
    config["parameters"]["lr"] = {"distribution": "log_uniform_values", "min": 1e-5, "max": 0.1}
    assert explain(config).warnings == []


def test_warns_of_a_run_cap_larger_than_the_grid():
    config = {**TUTORIAL, "method": "grid", "run_cap": 50}
    config["parameters"] = {**TUTORIAL["parameters"], "epochs": {"value": 20}}
    explanation = explain(config, count=30)
    assert explanation.warnings == [
        "run_cap 50 is larger than the grid: the sweep ends after 20 runs"
    ]
    assert len(explanation.proposals) == 20
    assert len({str(p) for p in explanation.proposals}) == 20
    assert explanation.proposals_note == "the grid ends after 20 runs"


def test_a_random_search_over_a_large_space_is_not_flagged():
    config = {
        "method": "random",
        "run_cap": 10,
        "parameters": {"a": {"min": 1, "max": 1000}, "b": {"values": [1, 2]}},
    }
    explanation = explain(config)
    assert explanation.points == 2000 and explanation.warnings == []
    assert len(explanation.proposals) == 5


def test_run_cap_limits_the_proposals():
    assert len(explain({**TUTORIAL, "run_cap": 2}, count=5).proposals) == 2


def test_a_huge_grid_is_refused_as_sweep_refuses_it():
    parameters = {f"p{i}": {"values": list(range(10))} for i in range(6)}
    with pytest.raises(SweepConfigError, match=f"the limit is {MAX_GRID_SIZE:,}"):
        explain({"method": "grid", "parameters": parameters})


def test_cli_explain_prints_and_touches_no_store(tmp_path, capsys):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(TUTORIAL))
    assert main(["explain", str(path), "--seed", "4", "-n", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: random search\n")
    assert "seed: 4" in out and "first 3 proposals:" in out
    assert not (tmp_path / "kerasweep.db").exists()
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.slow
def test_cli_explain_lines_are_the_ones_run_makes_first(tmp_path, capsys):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**TUTORIAL, "run_cap": 3}))
    assert main(["explain", str(path), "--seed", "8", "-n", "3"]) == 0
    shown = explain(path, seed=8, count=3).proposals
    argv = ["run", str(path), "--seed", "8", "--function", function("non_seeding_run")]
    assert main([*argv, "--wandb-mode", "disabled", "--db", str(tmp_path / "k.db")]) == 0
    (sweep,) = Store(tmp_path / "k.db").sweeps()
    assert [r.params for r in Store(tmp_path / "k.db").runs(sweep.id)] == shown


@pytest.mark.parametrize("argv", [["-n", "0"], ["--seed", "-1"], ["--seed", "x"]])
def test_cli_explain_refuses_bad_options(tmp_path, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["explain", "sweep.yaml", *argv])
    assert exit_info.value.code == 2
    assert "kerasweep explain: error:" in capsys.readouterr().err


def test_warns_of_a_metric_sweep_train_never_logs():
    config = {**TUTORIAL, "metric": {"name": "valloss", "goal": "minimize"}}
    assert not any(w.startswith("metric") for w in explain(config).warnings)  # other functions
    (warning,) = [w for w in sweep_train(config).warnings if w.startswith("metric")]
    assert warning.startswith("metric 'valloss' (did you mean 'val_loss'?): sweep_train never")
    assert "epochs, loss, acc, val_loss, val_acc and epoch/*" in warning
    for logged in ("val_loss", "acc", "epoch/val_loss", "batch/loss"):
        config = {**TUTORIAL, "metric": {"name": logged}}
        assert not any(w.startswith("metric") for w in sweep_train(config).warnings)
    program = {**config, "metric": {"name": "valloss"}, "program": "train.py"}
    assert not any(w.startswith("metric") for w in sweep_train(program).warnings)  # its keys


def test_warns_of_a_parameter_sweep_train_does_not_read():
    parameters = {**TUTORIAL["parameters"], "learning_rat": {"values": [0.1, 0.01]}}
    explained = sweep_train({**TUTORIAL, "parameters": parameters})
    assert (
        "parameter learning_rat (did you mean 'learning_rate'?): sweep_train does not read it,"
        " so runs ignore it (strict_config: true makes it an error)"
    ) in explained.warnings
    assert "learning_rat" in str(explained).split("warnings:")[1]
    program = sweep_train({**TUTORIAL, "parameters": parameters, "program": "train.py"})
    assert not any("learning_rat" in w for w in program.warnings)
    assert not any(w.startswith("parameter") for w in sweep_train(TUTORIAL).warnings)


def sweep_train(config):
    return explain(config, sweep_train=True)


def test_cli_explain_checks_names_against_sweep_train_unless_given_a_function(
    tmp_path, capsys
):
    config = {**TUTORIAL, "metric": {"name": "valloss"}}
    config["parameters"] = {**TUTORIAL["parameters"], "learning_rat": {"value": 0.1}}
    path = tmp_path / "typos.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["explain", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  - metric 'valloss' (did you mean 'val_loss'?): sweep_train never logs it" in out
    assert "  - parameter learning_rat (did you mean 'learning_rate'?)" in out
    assert main(["explain", str(path), "--function", "mytrain:train"]) == 0
    assert "did you mean" not in capsys.readouterr().out
