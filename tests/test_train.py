"""sweep_train under the W&B agent protocol, its config, and program mode."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest
import wandb
import yaml

from kerasweep import DEFAULT_CONFIG, sweep_train
from kerasweep._callbacks import TrainingDiverged
from kerasweep.train import RunConfigError, parse_args, resolve_config
from tests.conftest import ROOT, fresh_python, module_run, subprocess_env
from tests.wandb_records import read_run, run_file

FAST = {"dataset": "digits", "hidden_units": 16, "verbose": 0}


def test_default_config_is_the_tutorials():
    tutorial = {
        "batch_size": 64,
        "learning_rate": 0.01,
        "epochs": 2,
        "log_step": 20,
        "val_log_step": 50,
        "architecture_name": "MLP",
        "dataset_name": "MNIST",
    }
    assert {k: DEFAULT_CONFIG[k] for k in tutorial} == tutorial
    assert DEFAULT_CONFIG["optimizer"] == "sgd"
    assert DEFAULT_CONFIG["hidden_units"] == 64 and DEFAULT_CONFIG["hidden_layers"] == 2


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"batch_size": 0}, "'batch_size': 0 must be at least 1"),
        ({"batch_size": 12.5}, "'batch_size': 12.5 is not an integer"),
        ({"batch_size": "big"}, "'batch_size': 'big' is not an integer"),
        ({"learning_rate": -0.1}, "'learning_rate': -0.1 must be greater than 0"),
        ({"learning_rate": 0}, "'learning_rate': 0 must be greater than 0"),
        ({"learning_rate": float("nan")}, "'learning_rate': nan is not a finite number"),
        ({"epochs": 0}, "'epochs': 0 must be at least 1"),
        ({"optimizer": "lbfgs"}, "'optimizer': 'lbfgs' is not one of sgd, adam"),
        ({"dropout": 1.0}, "'dropout': 1.0 must be below 1"),
        ({"hidden_units": [64, 0]}, "'hidden_units': \\[64, 0\\] is not a positive size"),
        ({"jit_compile": "yes"}, "'jit_compile': 'yes' is not true, false or 'auto'"),
        ({"jit_compile": 1}, "'jit_compile': 1 is not true, false or 'auto'"),
        ({"reuse_compiled": "no"}, "'reuse_compiled': 'no' is not true or false"),
    ],
)
def test_bad_run_parameters_name_the_key_and_value(override, message):
    with pytest.raises(RunConfigError, match=message) as info:
        resolve_config(override)
    assert "\n" not in str(info.value)


def test_resolve_config_fixes_types():
    cfg = resolve_config({"batch_size": 32.0, "optimizer": "Adam", "hidden_units": [32, 16]})
    assert cfg["batch_size"] == 32 and isinstance(cfg["batch_size"], int)
    assert cfg["optimizer"] == "adam" and cfg["hidden_units"] == (32, 16)
    assert resolve_config({"hidden_layers": 3})["hidden_units"] == (64, 64, 64)


@pytest.mark.slow
def test_sweep_train_under_the_agent_protocol(wandb_dir, tmp_path, monkeypatch):
    """What wandb.agent does per run: parameter YAML, sweep and run ids, then the function."""
    params = {"batch_size": 32, "learning_rate": 0.05, "epochs": 3, "dataset": "digits"}
    param_file = tmp_path / "sweep-params.yaml"
    param_file.write_text(yaml.safe_dump({k: {"value": v} for k, v in params.items()}))
    monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(param_file))
    monkeypatch.setenv("WANDB_SWEEP_ID", "sweep123")
    monkeypatch.setenv("WANDB_RUN_ID", "run123")
    wandb.teardown()  # as wandb.agent does before each run: settings re-read from the env

    history = sweep_train(
        {
            "hidden_units": 16,
            "verbose": 0,
            "epochs": 1,
            "batch_size": 256,
            "steps_per_execution": 16,
        }
    )

    assert len(history.history["val_loss"]) == 3  # the sweep's epochs won
    wandb.teardown()  # wait for wandb's service to flush the offline run file
    rows, config = read_run(run_file(wandb_dir, "run123"))
    for key, value in params.items():
        assert config[key] == value, key
    assert config["hidden_units"] == 16  # the caller's override of the defaults
    assert config["log_step"] == DEFAULT_CONFIG["log_step"]
    metric_rows = [r for r in rows if "val_loss" in r]
    assert len(metric_rows) == 3
    assert [r["epochs"] for r in metric_rows] == [0, 1, 2]
    assert [r["val_loss"] for r in metric_rows] == pytest.approx(history.history["val_loss"])
    # 1437 examples / 32 = 45 steps an epoch, compiled calls ending at steps 16, 32 and 45:
    # a batch row after each call that passes a multiple of log_step (20): 32 and 45
    assert sum("batch/loss" in r for r in rows) == 3 * 2


@pytest.mark.slow
def test_sweep_train_learns_digits():
    history = sweep_train({**FAST, "epochs": 5, "optimizer": "adam", "seed": 0})
    assert history.history["val_accuracy"][-1] > 0.8
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]


@pytest.mark.slow
def test_sweep_train_is_reproducible_with_a_seed():
    runs = [sweep_train({**FAST, "epochs": 1, "seed": 7}).history["val_loss"] for _ in range(2)]
    assert runs[0] == runs[1]


@pytest.mark.slow
def test_runs_of_one_shape_share_a_compiled_model_and_train_as_fresh_ones():
    from kerasweep._speedups.run import COMPILED_MODELS

    COMPILED_MODELS.clear()
    run = {**FAST, "epochs": 2, "seed": 5, "optimizer": "adam", "learning_rate": 0.003}
    fresh = sweep_train({**run, "reuse_compiled": False})
    first = sweep_train({**run, "seed": 9, "learning_rate": 0.05})
    reused = sweep_train(run)
    assert reused.model is first.model and fresh.model is not first.model
    assert reused.history == fresh.history
    other_shape = sweep_train({**run, "hidden_units": 32})
    assert other_shape.model is not first.model


@pytest.mark.slow
def test_runs_of_other_batch_sizes_share_one_traced_model_and_train_as_fresh_ones(monkeypatch):
    from kerasweep._speedups.run import COMPILED_MODELS

    COMPILED_MODELS.clear()
    run = {**FAST, "epochs": 2, "seed": 5, "batch_size": 32, "learning_rate": 0.05}
    fresh = sweep_train({**run, "reuse_compiled": False})
    first = sweep_train({**run, "batch_size": 256})  # 6 steps per call, fewer than 32's 45
    traces = []  # the loop's Python runs only while it is traced
    trace = first.model._train_stacked
    monkeypatch.setattr(first.model, "_train_stacked", lambda *a: (traces.append(a), trace(*a))[1])
    reused = sweep_train(run)
    assert reused.model is first.model and len(COMPILED_MODELS) == 1
    assert traces == []
    assert reused.history == fresh.history
    assert int(reused.model.optimizer.iterations) == 2 * 45


@pytest.mark.slow
def test_a_run_leaves_nothing_of_its_tracing_in_tensorflows_registry():
    from kerasweep._adapters.tensorflow_internals import gradient_registry

    sweep_train({**FAST, "epochs": 1, "reuse_compiled": False})  # TensorFlow loaded
    before = set(gradient_registry())
    sweep_train({**FAST, "epochs": 1, "reuse_compiled": False})  # traces a new model
    assert set(gradient_registry()) == before  # its graphs can go with it, under any agent


@pytest.mark.slow
def test_one_step_per_call_trains_without_stacking():
    run = {**FAST, "epochs": 5, "optimizer": "adam", "seed": 4, "reuse_compiled": False}
    stacked = sweep_train(run)
    plain = sweep_train({**run, "steps_per_execution": 1})
    assert plain.history.keys() == stacked.history.keys()
    for history in (stacked, plain):
        assert history.history["val_accuracy"][-1] > 0.8


@pytest.mark.slow
def test_divergence_raises_with_the_epoch():
    with pytest.raises(TrainingDiverged, match="diverged.*epoch 0"):
        sweep_train({**FAST, "epochs": 5, "learning_rate": 1e9, "activation": "linear"})


def test_bad_parameters_fail_before_training():
    with pytest.raises(RunConfigError, match="batch_size"):
        sweep_train({**FAST, "batch_size": 0})


def test_parse_args_reads_wandb_agent_arguments():
    assert parse_args(["--batch_size=32", "--learning_rate=1e-3", "--name=mlp", "--flag=true"]) == {
        "batch_size": 32,
        "learning_rate": 0.001,
        "name": "mlp",
        "flag": True,
    }
    with pytest.raises(RunConfigError, match="expected --key=value"):
        parse_args(["batch_size"])


@pytest.mark.slow
def test_program_mode_runs_and_rejects_bad_input():
    env = subprocess_env(WANDB_MODE="disabled")
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "kerasweep.train",
            "--dataset=digits",
            "--epochs=1",
            "--batch_size=128",
            "--hidden_units=16",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    bad = subprocess.run(
        [sys.executable, "-m", "kerasweep.train", "--dataset=digits", "--batch_size=0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == (
        "kerasweep.train: error: config key 'batch_size': 0 must be at least 1"
    )
    assert "Traceback" not in bad.stderr


def test_steps_per_call_stay_within_an_epoch_whatever_the_width():
    import numpy as np

    from kerasweep._data import Dataset
    from kerasweep._speedups.run import steps_per_call as _steps_per_call

    def data(n, width):
        x = np.zeros((n, width), np.float32)
        return Dataset("toy", x, np.zeros(n, np.int32), x[:2], np.zeros(2, np.int32))

    cfg = resolve_config({})
    assert _steps_per_call(cfg, data(60_000, 784)) == 128  # the default
    assert _steps_per_call({**cfg, "batch_size": 256}, data(60_000, 784)) == 128
    assert _steps_per_call(cfg, data(1437, 64)) == 23  # an epoch of 64-example batches
    # elements hold row indices only: wide examples stack as many batches
    assert _steps_per_call(cfg, data(1000, 200_000)) == 16
    assert _steps_per_call({**cfg, "steps_per_execution": 1}, data(60_000, 784)) == 1


def test_auto_compiles_the_stacked_loop_with_xla_for_long_runs_on_a_cpu():
    import numpy as np

    from kerasweep._data import Dataset
    from kerasweep._speedups.run import XLA_MIN_STEPS
    from kerasweep._speedups.run import stacked_jit as _stacked_jit

    x = np.zeros((64 * 100, 4), np.float32)  # 100 steps an epoch at batch 64
    data = Dataset("toy", x, np.zeros(len(x), np.int32), x[:2], np.zeros(2, np.int32))
    long_run = resolve_config({"epochs": XLA_MIN_STEPS // 100})
    assert _stacked_jit(long_run, data) is True
    assert _stacked_jit({**long_run, "epochs": 1}, data) is False
    assert _stacked_jit({**long_run, "epochs": 1, "jit_compile": True}, data) is True
    assert _stacked_jit({**long_run, "jit_compile": False}, data) is False


@pytest.fixture(scope="module")
def program_run(tmp_path_factory):
    """One run of program mode (``python -m kerasweep.train``) in a new process."""
    tmp_path = tmp_path_factory.mktemp("program-run")
    argv = ["kerasweep.train", "--dataset=digits", "--epochs=1", "--hidden_units=8"]
    dirs = ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR")
    env = dict.fromkeys(dirs, str(tmp_path))
    return module_run(argv, cwd=tmp_path, WANDB_MODE="offline", WANDB_SILENT="true", **env)


@pytest.mark.slow
def test_program_mode_never_imports_wandbs_launch_inputs(program_run):
    # python -m kerasweep.train is a new process per run: a wandb.init that imported
    # wandb.sdk.launch would be slow, the more so after TensorFlow (benchmarks/RESULTS.md)
    assert program_run["wandb_launch_imported"] is False


@pytest.mark.slow
def test_program_mode_exits_without_collecting_what_is_alive(program_run):
    # each run's process would spend its exit walking TensorFlow's objects
    assert program_run["tracked_at_exit"] < 100


@pytest.mark.slow
def test_the_first_run_freezes_what_importing_tensorflow_made(tmp_path):
    # a user's script: the first run imports TensorFlow, and later collections (each
    # run's clean-up, Python's own) skip its 350,000 long-lived objects
    code = (
        "import gc\n"
        "from kerasweep import sweep_train\n"
        f"sweep_train({FAST!r} | {{'epochs': 1}})\n"
        "print(gc.get_freeze_count())\n"
    )
    done = fresh_python("-c", code, cwd=tmp_path, WANDB_MODE="disabled")
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip().splitlines()[-1]) > 100_000


@pytest.mark.slow
def test_a_run_freezes_nothing_where_the_user_imported_tensorflow_first():
    # this process imported TensorFlow (and made models) before any run: a freeze now
    # would keep the user's garbage alive
    assert gc.get_freeze_count() == 0
    sweep_train({**FAST, "epochs": 1})
    assert gc.get_freeze_count() == 0


def test_a_key_sweep_train_does_not_read_is_one_warning_naming_the_likely_key(caplog):
    with caplog.at_level("WARNING", logger="kerasweep.train"):
        resolved = resolve_config({"learning_rat": 0.1, "epochs": 3})
    assert resolved["learning_rate"] == DEFAULT_CONFIG["learning_rate"]  # ignored, as before
    assert [r.getMessage() for r in caplog.records] == [
        "config key learning_rat (did you mean 'learning_rate'?): not read by sweep_train, ignored"
    ]
    caplog.clear()
    with caplog.at_level("WARNING", logger="kerasweep.train"):
        resolve_config({"epochs": 3, "strict_config": False})
        resolve_config({"learning_rat": 0.1}, warn=False)  # program mode's early check
    assert caplog.records == []


def test_strict_config_makes_an_unread_key_an_error_naming_it_and_the_likely_one():
    with pytest.raises(RunConfigError) as raised:
        resolve_config({"learning_rat": 0.1, "strict_config": True})
    assert str(raised.value) == (
        "config key learning_rat (did you mean 'learning_rate'?): not read by sweep_train"
        " (strict_config is on)"
    )
    with pytest.raises(RunConfigError, match="'strict_config': 'yes' is not true or false"):
        resolve_config({"strict_config": "yes"})


@pytest.mark.slow
def test_a_misspelled_key_in_a_sweep_of_sweep_train_warns_per_run_or_fails_when_strict(
    tmp_path,
):
    parameters = {
        "learning_rat": {"value": 0.05},
        "dataset": {"value": "digits"},
        "epochs": {"value": 1},
        "hidden_units": {"value": 8},
        "seed": {"values": [0, 1]},
    }
    config = {"method": "grid", "metric": {"name": "val_loss"}, "parameters": parameters}

    def run(config: dict) -> subprocess.CompletedProcess:
        path = tmp_path / "sweep.yaml"
        path.write_text(yaml.safe_dump(config))
        return subprocess.run(
            [sys.executable, "-m", "kerasweep", "run", str(path), "--db", "d.db", "--no-report"],
            cwd=tmp_path,
            env=subprocess_env(WANDB_MODE="disabled"),
            capture_output=True,
            text=True,
            timeout=300,
        )

    said = "config key learning_rat (did you mean 'learning_rate'?): not read by sweep_train"
    result = run(config)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.count(f"{said}, ignored\n") == 2, output  # one line per run
    status = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(status) == 2 and all("finished" in line for line in status)

    parameters["strict_config"] = {"value": True}
    result = run(config)
    output = result.stdout + result.stderr
    status = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(status) == 2 and all("failed" in line for line in status), output
    assert all(f"RunConfigError: {said} (strict_config is on)" in line for line in status)
    assert "Traceback" not in output


def test_sigterm_under_a_wandb_sweep_marks_the_run_preempting_and_exits_143():
    import os
    import signal

    from kerasweep.train import _preempting_on_sigterm

    class SweepRun:
        sweep_id = "abc"
        marked = False

        def mark_preempting(self):
            self.marked = True

    run = SweepRun()
    with pytest.raises(SystemExit) as exit_, _preempting_on_sigterm(run):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100):  # the handler runs between bytecodes
            pass
    assert exit_.value.code == 143 and run.marked
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
