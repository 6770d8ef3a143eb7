"""benchmarks/step_time.py keeps running: its quick mode end to end, and its JSON schema."""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, subprocess_env

STEP_TIME = Path(ROOT) / "benchmarks" / "step_time.py"
LOOP_KEYS = {
    "seed_eager",
    "seed_tf_function",
    "keras_fit",
    "gradient_tape_fit",
    "sweep_train_path",
    "floor",
}


def _run_script(script: Path, args: list[str], cwd: Path, env: dict[str, str]):
    """Run a benchmark script as a user would; fail with its stderr if it fails."""
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@functools.cache
def _benchmark(name: str):
    """``benchmarks/<name>.py`` as a module, registered under its name as the script's own
    dataclasses look it up (``sweep_throughput`` imports ``step_time``'s helpers)."""
    if name == "sweep_throughput":
        _benchmark("step_time")
    spec = importlib.util.spec_from_file_location(name, Path(ROOT) / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _check_entry(entry: object, batch_size: int) -> None:
    assert isinstance(entry, dict)
    assert set(entry) == {"device", "batch_size", "ms_per_step", "floor_variants"}
    assert isinstance(entry["device"], str) and entry["device"]
    assert entry["batch_size"] == batch_size
    times = entry["ms_per_step"]
    assert set(times) == LOOP_KEYS
    for key, value in times.items():
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, value)


@pytest.mark.slow
def test_quick_run_writes_one_positive_time_per_loop(tmp_path):
    out = tmp_path / "times.json"
    env = subprocess_env(TF_CPP_MIN_LOG_LEVEL="3", WANDB_MODE="disabled", KERAS_HOME=str(tmp_path))
    proc = _run_script(STEP_TIME, ["--quick", "--repeats", "1", "--json", str(out)], tmp_path, env)
    _check_entry(json.loads(out.read_text()), 64)
    assert "(f) floor" in proc.stdout and "targets at batch 64" in proc.stdout


def test_several_batch_sizes_give_a_list_in_order():
    step_time = _benchmark("step_time")
    results = []
    for batch_size in (32, 128):
        result = step_time.Result("CPU: test", batch_size)
        result.samples = {key: [2.0, 1.0, 3.0] for key in step_time.LOOPS}
        results.append(result)
    payload = step_time.json_payload(results)
    assert [entry["batch_size"] for entry in payload] == [32, 128]
    for entry, batch_size in zip(payload, (32, 128), strict=True):
        _check_entry(entry, batch_size)
        assert entry["ms_per_step"]["floor"] == 2.0  # the median of the rounds
    assert step_time.json_payload(results[:1]) == payload[0]


def test_targets_name_both_floors_of_the_sweep_train_path():
    step_time = _benchmark("step_time")
    result = step_time.Result("CPU: test", 64)
    result.samples = {key: [1.0] for key in step_time.LOOPS}
    result.samples.update(sweep_train_path=[0.24], floor=[0.2])
    result.floor_variants = {step_time.HONEST_FLOOR: 0.22}
    lines = step_time.format_targets(result).splitlines()
    assert any(line.startswith("  (e)/(f)   =   1.200") and "MISSED" in line for line in lines)
    assert any(line.startswith("  (e)/(f'') =   1.091") and line.endswith("met") for line in lines)
    assert step_time.json_payload([result])["floor_variants"] == {step_time.HONEST_FLOOR: 0.22}


def test_bad_batch_sizes_are_one_clear_error():
    step_time = _benchmark("step_time")
    with pytest.raises(SystemExit):
        step_time.parse_args(["--batch-sizes", "64,x"])


def test_throughput_sweep_is_the_tutorials_with_data_and_epochs_fixed():
    from kerasweep import SWEEP_CONFIG, load_sweep_config

    throughput = _benchmark("sweep_throughput")
    config = throughput.sweep_config("digits", 2)
    assert load_sweep_config(config) == config
    for name in ("batch_size", "learning_rate"):
        assert config["parameters"][name] == SWEEP_CONFIG["parameters"][name]
    assert config["parameters"]["dataset"] == {"value": "digits"}
    assert config["parameters"]["epochs"] == {"value": 2}
    assert "dataset" not in SWEEP_CONFIG["parameters"]  # the shared constant is untouched


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runs", "0", "--memory-runs", "0"], "nothing to measure"),
        (["--runs", "-1"], "--runs: -1 must be at least 0"),
        (["--memory-hidden-units", "16,x"], "--memory-hidden-units: '16,x'"),
        (["--memory-hidden-units", "0"], "--memory-hidden-units: '0'"),
    ],
)
def test_bad_throughput_options_are_one_clear_error(args, message, capsys):
    throughput = _benchmark("sweep_throughput")
    with pytest.raises(SystemExit) as exit_info:
        throughput.parse_args(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_memory_check_alone_can_vary_the_width():
    throughput = _benchmark("sweep_throughput")
    args = throughput.parse_args(["--runs", "0", "--memory-hidden-units", "16,32"])
    assert (args.runs, args.memory_hidden_units) == (0, [16, 32])


def test_memory_growth_is_counted_from_the_second_run():
    throughput = _benchmark("sweep_throughput")
    # before run 1, then after runs 1, 2, 3
    text = throughput.format_memory([500.0, 700.0, 705.0, 830.0])
    assert "700 705 830" in text
    assert "+125.0 MB" in text and "MISSED" in text
    assert "met" in throughput.format_memory([500.0, 700.0, 705.0, 720.0])


@pytest.mark.slow
def test_agent_overhead_runs_both_ways_and_writes_medians(tmp_path):
    out = tmp_path / "overhead.json"
    script = Path(ROOT) / "benchmarks" / "agent_overhead.py"
    env = subprocess_env(WANDB_MODE="offline", WANDB_DIR=str(tmp_path), TMPDIR=str(tmp_path))
    args = ["--runs", "3", "--rounds", "1", "--rows", "1", "--no-keras", "--json", str(out)]
    proc = _run_script(script, args, tmp_path, env)
    medians = json.loads(out.read_text())["ms_per_run"]
    assert set(medians) == {"agent", "teardown"}
    for times in medians.values():
        assert times["total"] > 0 and times["wandb_init"] > 0
    assert medians["agent"]["wandb_teardown"] == 0 < medians["teardown"]["wandb_teardown"]
    assert "| **total** |" in proc.stdout


@pytest.mark.slow
def test_sweep_throughput_runs_all_three_sweeps_and_writes_them(tmp_path):
    out = tmp_path / "throughput.json"
    script = Path(ROOT) / "benchmarks" / "sweep_throughput.py"
    # an empty Keras cache: "auto" picks digits
    env = subprocess_env(WANDB_MODE="offline", TMPDIR=str(tmp_path), KERAS_HOME=str(tmp_path))
    args = ["--runs", "2", "--memory-runs", "2", "--epochs", "1", "--json", str(out)]
    proc = _run_script(script, args, tmp_path, env)
    result = json.loads(out.read_text())
    assert result["dataset"] == "digits"  # nothing cached, nothing downloaded
    for side in ("tutorial", "kerasweep", "wandb_and_agent_alone"):
        runs = result[side]["runs"]
        assert len(runs) == 2 and all(run["total"] > 0 for run in runs), side
        assert result[side]["wall_s"] >= sum(run["total"] for run in runs) * 0.99
    assert [run["state"] for run in result["kerasweep"]["runs"]] == ["finished"] * 2
    tutorial_params = [run["params"] for run in result["tutorial"]["runs"]]
    assert tutorial_params == [run["params"] for run in result["kerasweep"]["runs"]]
    assert result["highest_possible_ratio"] > 0 and result["end_to_end_ratio"] > 0
    assert len(result["rss_mb_after_run"]) == 2
    assert "the most any training code could reach here" in proc.stdout


@pytest.mark.slow
def test_memory_check_alone_writes_its_widths_and_memory(tmp_path):
    out = tmp_path / "memory.json"
    script = Path(ROOT) / "benchmarks" / "sweep_throughput.py"
    env = subprocess_env(WANDB_MODE="offline", TMPDIR=str(tmp_path), KERAS_HOME=str(tmp_path))
    args = ["--runs", "0", "--memory-runs", "3", "--memory-hidden-units", "4,8", "--epochs", "1"]
    proc = _run_script(script, [*args, "--json", str(out)], tmp_path, env)
    result = json.loads(out.read_text())
    assert "tutorial" not in result and result["memory_hidden_units"] == [4, 8]
    assert len(result["rss_mb_after_run"]) == 3
    assert "growth from run 2 to run 3" in proc.stdout


@pytest.mark.slow
def test_peers_tiny_run_reports_every_system_in_both_modes(tmp_path):
    peers = _benchmark("peers")
    out = tmp_path / "peers.json"
    env = subprocess_env(TMPDIR=str(tmp_path), KERAS_HOME=str(tmp_path))  # MNIST not cached
    proc = _run_script(Path(peers.__file__), ["--tiny", "--json", str(out)], tmp_path, env)
    result = json.loads(out.read_text())
    assert "made from scikit-learn's digits" in result["data"]
    assert set(result["modes"]) == {"grid", "hyperband"}
    for mode, entry in result["modes"].items():
        systems = entry["systems"]
        assert list(systems) == list(peers.SYSTEMS)
        for name, outcome in systems.items():
            if mode == "hyperband" and name == "tutorial":
                assert outcome["problem"].startswith("not applicable")
            elif peers.missing_packages(name):
                assert outcome["problem"].startswith("not installed"), outcome["problem"]
            else:
                assert outcome["problem"] is None, (mode, name, outcome["problem"])
                assert outcome["wall_s"] > 0 and outcome["epochs_trained"] > 0
                assert outcome["best_val_loss"] > 0
    grid = result["modes"]["grid"]["systems"]
    for name in ("kerasweep", "tutorial"):  # the same two configurations, two epochs each
        params = sorted(
            (t["params"]["batch_size"], t["params"]["learning_rate"])
            for t in grid[name]["trial_records"]
        )
        assert params == [(64, 0.01), (256, 0.01)]
        assert grid[name]["epochs_trained"] == 4
    later = result["modes"]["grid"]["kerasweep_later_sweep"]  # the same sweep again
    assert later["problem"] is None and later["wall_s"] > 0
    assert later["epochs_trained"] == grid["kerasweep"]["epochs_trained"]
    assert "kerasweep_later_sweep" not in result["modes"]["hyperband"]
    assert "| kerasweep, later sweep |" in proc.stdout
    assert "### mode grid" in proc.stdout and "### mode hyperband" in proc.stdout
    assert "seconds per epoch" in proc.stdout


def test_peers_missing_packages_are_reported_not_run(tmp_path, monkeypatch):
    peers = _benchmark("peers")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorboard" else real_find_spec(name, *a),
    )
    plan = peers.Plan("grid", "unused.npz", (64,), (0.01,), 1)
    outcome = peers.run_system("kerastuner", plan, tmp_path)
    assert outcome.problem == "not installed: tensorboard"
    assert not list(tmp_path.iterdir())  # nothing was started
    table = peers.format_mode(plan, [outcome])
    assert "| kerastuner | not installed: tensorboard |" in table


def _peer_run(peers, system, wall, epoch_seconds, later=False):
    """An outcome of one round: a trial per batch size, its epochs taking these seconds."""
    trials = [
        {
            "params": {"batch_size": b, "learning_rate": 0.01},
            "epochs": [{"seconds": s, "val_loss": 0.5} for s in seconds],
        }
        for b, seconds in epoch_seconds.items()
    ]
    return peers.Outcome(system, wall, trials, later=later)


def test_peers_repeats_take_turns_and_report_medians(tmp_path, monkeypatch):
    peers = _benchmark("peers")
    plan = peers.Plan("grid", "unused.npz", (64, 256), (0.01,), 2)
    walls = {  # kerasweep, its later sweep, optuna: three rounds each
        ("kerasweep", False): iter([10.0, 14.0, 11.0]),
        ("kerasweep", True): iter([9.0, 9.5, 8.0]),
        ("optuna", False): iter([40.0, 42.0, 60.0]),
    }
    calls = []

    def fake_run_system(system, plan, workdir, *, later=False, round_=0):
        calls.append((system, later, round_))
        wall = next(walls[system, later])
        return _peer_run(peers, system, wall, {64: [1.0, wall / 10], 256: [1.0, wall / 20]}, later)

    monkeypatch.setattr(peers, "run_system", fake_run_system)
    outcomes = peers.run_plan(plan, ["kerasweep", "optuna"], tmp_path, later_sweep=True, repeats=3)
    assert calls == [  # the systems take turns, round after round
        (system, later, r)
        for r in range(3)
        for system, later in (("kerasweep", False), ("kerasweep", True), ("optuna", False))
    ]
    ours, later, optuna = outcomes
    assert (ours.wall, later.wall, optuna.wall) == (11.0, 9.0, 42.0)  # medians
    assert ours.walls == [10.0, 14.0, 11.0] and len(ours.trials) == 2  # the first round's
    # epochs pooled over the rounds, each trial's first epoch left out
    assert ours.seconds_per_epoch() == {64: 1.1, 256: 0.55}
    assert optuna.seconds_per_epoch() == {64: 4.2, 256: 2.1}
    table = peers.format_mode(plan, outcomes)
    assert "| kerasweep | 11.0 (10.0 to 14.0) | 1.00x |" in table
    assert "| optuna | 42.0 (40.0 to 60.0) | 3.82x |" in table
    assert "3 rounds, the systems taking turns" in table
    assert "fastest peer end to end: optuna, 3.82x" in table
    assert "  round by round: 4.00x, 3.00x, 5.45x" in table
    assert "batch 64: the fastest peer per epoch is 3.82x" in table
    record = ours.to_json()
    assert [r["wall_s"] for r in record["rounds"]] == [10.0, 14.0, 11.0]


def test_peers_each_round_runs_in_its_own_directory_with_an_empty_xla_cache(tmp_path, monkeypatch):
    peers = _benchmark("peers")
    started = []

    def fake_run(command, *, cwd, env, **kwargs):
        started.append((Path(cwd).name, Path(env["KERASWEEP_XLA_CACHE"]).name))
        out = Path(command[command.index("--out") + 1])
        trial = {"params": {"batch_size": 64, "learning_rate": 0.01}, "epochs": []}
        trial["epochs"].append({"seconds": 0.1, "val_loss": 0.5})
        out.write_text(json.dumps({"trials": [trial]}))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(peers.subprocess, "run", fake_run)
    plan = peers.Plan("grid", "unused.npz", (64,), (0.01,), 1)
    outcomes = peers.run_plan(plan, ["kerasweep"], tmp_path, later_sweep=True, repeats=2)
    assert started == [
        ("grid-kerasweep", "grid-kerasweep-xla-cache"),
        ("grid-kerasweep-later", "grid-kerasweep-xla-cache"),  # the first sweep's cache
        ("grid-kerasweep-round2", "grid-kerasweep-xla-cache-round2"),  # a new, empty one
        ("grid-kerasweep-later-round2", "grid-kerasweep-xla-cache-round2"),
    ]
    assert [len(o.rounds) for o in outcomes] == [2, 2]


def test_peers_a_failed_round_is_the_systems_outcome():
    peers = _benchmark("peers")
    good = _peer_run(peers, "optuna", 40.0, {64: [1.0, 2.0]})
    failed = peers.Outcome("optuna", 3.0, problem="failed: out of memory")
    assert peers.over_rounds([good, failed]).problem == "failed: out of memory"
    assert peers.over_rounds([good]) is good


def test_peers_mnist_shaped_digits_are_learnable():
    from sklearn.neighbors import NearestCentroid

    arrays = _benchmark("peers").mnist_shaped_from_digits(3000, 600)
    assert arrays["x_train"].shape == (3000, 28, 28) and arrays["x_train"].dtype.name == "uint8"
    x_train = arrays["x_train"].reshape(3000, -1) / 255
    x_test = arrays["x_test"].reshape(600, -1) / 255
    accuracy = NearestCentroid().fit(x_train, arrays["y_train"]).score(x_test, arrays["y_test"])
    assert accuracy > 0.5  # chance is 0.1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--systems", "kerasweep,sklearn"], "--systems: 'sklearn'"),
        (["--batch-sizes", "64,x"], "--batch-sizes: '64,x'"),
        (["--learning-rates", "0"], "--learning-rates: '0'"),
        (["--systems", "kerasweep,optuna,kerasweep"], "--systems: 'kerasweep' is named twice"),
        (["--repeats", "0"], "--repeats: 0 is too small"),
    ],
)
def test_bad_peers_options_are_one_clear_error(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _benchmark("peers").parse_args(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_sweep_throughput_splits_kerasweeps_runs_by_phase(tmp_path):
    out = tmp_path / "split.json"
    script = Path(ROOT) / "benchmarks" / "sweep_throughput.py"
    env = subprocess_env(WANDB_MODE="offline", TMPDIR=str(tmp_path), KERAS_HOME=str(tmp_path))
    args = ["--runs", "2", "--memory-runs", "0", "--epochs", "1", "--no-tutorial"]
    proc = _run_script(script, [*args, "--json", str(out)], tmp_path, env)
    result = json.loads(out.read_text())
    assert "tutorial" not in result and "end_to_end_ratio" not in result
    throughput = _benchmark("sweep_throughput")
    for run in result["kerasweep"]["runs"]:
        split = run["split"]
        assert list(split) == list(throughput.SPLIT_PHASES)
        assert all(split[phase] > 0 for phase in ("wandb_init", "data", "model", "training"))
        assert sum(split.values()) == pytest.approx(run["total"], abs=0.01)
    assert result["agent_between_runs_s"] > 0
    assert "kerasweep's runs by phase" in proc.stdout and "| median run |" in proc.stdout
