"""Secrets and trust: credentials in the environment stay there; configs and parameter values
are data, never code; the store is its owner's alone.
"""

from __future__ import annotations

import base64
import functools
import json
import marshal
import os
import stat
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from kerasweep.cli import main
from kerasweep.local import local_agent, local_sweep
from kerasweep.local._store import Store
from kerasweep.train import parse_args, sweep_train
from tests.hardening.store_checks import query
from tests.local.helpers import function

STORE_TABLES = ("sweeps", "agents", "runs", "history", "bands")

SECRETS = {
    "WANDB_API_KEY": "f00dfeed" * 5,  # 40 characters, as a W&B key
    "AWS_SECRET_ACCESS_KEY": "sentinel-aws-secret-7c1e3b",
    "GITHUB_TOKEN": "ghp_sentinelGithubToken0123456789",
    "HF_TOKEN": "hf_sentinelHuggingFaceToken42",
}
PROGRAM = textwrap.dedent(
    """
    import sys
    import wandb
    wandb.init(config={"learning_rate": 0.0})
    wandb.log({"epochs": 0, "val_loss": 1.0 + wandb.config.learning_rate})
    print("program arguments:", sys.argv[1:])
    """
)
MARKER_CODE = "open({marker!r}, 'w').write('executed')\n"


def _leaks(root: Path, text: str) -> list[str]:
    """What under ``root`` (file paths), or in ``text`` ("output"), holds a secret."""
    found = [f"output: {name}" for name, value in SECRETS.items() if value in text]
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [
                f"{path}: {name}" for name, value in SECRETS.items() if value.encode() in data
            ]
    return found


@pytest.mark.slow
def test_secrets_in_the_environment_reach_no_file_and_no_output(
    any_db, tmp_path, monkeypatch, capfd
):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    db = any_db
    common = ["--db", str(db), "--wandb-mode", "offline", "-v"]  # -v: all output, tracebacks

    train = tmp_path / "function.yaml"
    train.write_text(
        yaml.safe_dump(
            {
                "method": "grid",
                "metric": {"name": "val_loss", "goal": "minimize"},
                "parameters": {
                    "learning_rate": {"values": [0.05, -1.0]},  # one run fails, with a traceback
                    "dataset": {"value": "digits"},
                    "epochs": {"value": 1},
                    "hidden_units": {"value": 8},
                },
            }
        )
    )
    (tmp_path / "train_program.py").write_text(PROGRAM)
    program = tmp_path / "program.yaml"
    program.write_text(
        yaml.safe_dump(
            {
                "method": "grid",
                "program": "train_program.py",
                "metric": {"name": "val_loss", "goal": "minimize"},
                "parameters": {"learning_rate": {"values": [0.1]}},
            }
        )
    )
    assert main(["run", str(train), *common]) == 0
    assert main(["run", str(program), *common]) == 0
    store = Store(db)  # an open connection keeps the -wal file there to be searched
    sweeps = store.sweeps()
    runs = [run for sweep in sweeps for run in store.runs(sweep.id)]
    captured = capfd.readouterr()
    output = captured.out + captured.err

    # the search covers what the sweeps wrote: store, parameter files, reports, wandb runs
    assert [r.state for r in runs] == ["finished", "failed", "finished"]
    assert "program arguments: ['--learning_rate=0.1']" in output
    if "://" in db:  # the store is on the server: search every table
        stored = "\n".join(
            str(row) for table in STORE_TABLES for row in query(db, f"SELECT * FROM {table}")
        )
        assert "val_loss" in stored and [k for k, v in SECRETS.items() if v in stored] == []
    else:
        assert Path(f"{db}-wal").exists()
    assert len(list(tmp_path.glob("wandb/sweep-*/config-*.yaml"))) == 3
    assert len(list(tmp_path.glob("report-*.html"))) == 2
    assert len(list(tmp_path.glob("wandb/offline-run-*/run-*.wandb"))) == 3
    assert _leaks(tmp_path, output) == []
    store.close()


@pytest.mark.slow
def test_store_files_are_readable_by_their_owner_only(tmp_path, monkeypatch):
    old = os.umask(0)  # even with a permissive umask
    try:
        db = tmp_path / "new" / "dir" / "kerasweep.db"
        sweep_id = local_sweep({"method": "grid", "parameters": {"a": {"values": [1]}}}, db=db)
        local_agent(sweep_id, function("grid_point"), db=db)
        store = Store(db)
        store.runs(sweep_id)  # an open connection: -wal and -shm exist
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        store.close()
    finally:
        os.umask(old)


PYTHON_TAGS = [
    "method: grid\nparameters:\n  a: !!python/object/apply:os.system ['{touch}']\n",
    "method: grid\nparameters:\n  a: {{values: [!!python/name:os.system ]}}\n",
    "!!python/object/new:os.system ['{touch}']\n",
    "method: !!python/object/apply:subprocess.call [['{touch}']]\nparameters: {{}}\n",
]


@pytest.mark.parametrize("text", PYTHON_TAGS, ids=["apply", "name", "new-top-level", "method"])
def test_yaml_python_tags_are_refused_in_one_line(text, tmp_path, capsys):
    marker = tmp_path / "executed"
    config = tmp_path / "sweep.yaml"
    config.write_text(text.format(touch=f"touch {marker}"))
    for command in ("sweep", "run"):
        assert main([command, str(config), "--db", str(tmp_path / "k.db")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(config) in err and "python/" in err, err
    assert not marker.exists() and not (tmp_path / "k.db").exists()


def test_program_arguments_are_read_as_data_not_yaml_objects(tmp_path):
    marker = tmp_path / "executed"
    value = f"!!python/object/apply:os.system ['touch {marker}']"
    assert parse_args([f"--a={value}"]) == {"a": value}
    assert not marker.exists()


@pytest.fixture
def bait(tmp_path, monkeypatch):
    """Importable ``baitmod`` and a ``bait.py`` program: each leaves a marker file if run."""
    marker = tmp_path / "executed"
    code = MARKER_CODE.format(marker=str(marker)) + "def hook(*args):\n    return args\n"
    (tmp_path / "baitmod.py").write_text(code)
    (tmp_path / "bait.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    assert not marker.exists(), "a module or program nobody named was run"
    assert "baitmod" not in sys.modules


@pytest.mark.parametrize(
    "program",
    [
        {"program": "bait.py"},
        {"program": "baitmod", "command": ["${env}", "${interpreter}", "-m", "${program}"]},
    ],
    ids=["file", "module"],
)
@pytest.mark.slow
def test_function_mode_never_runs_the_configs_program(program, bait, tmp_path, capsys):
    config = tmp_path / "sweep.yaml"
    config.write_text(
        yaml.safe_dump({"method": "grid", "parameters": {"a": {"values": [1, 2]}}, **program})
    )
    argv = ["run", str(config), "--function", function("grid_point"), "--wandb-mode", "disabled"]
    assert main(argv) == 0
    assert "2 runs: 2 finished" in capsys.readouterr().out


@pytest.mark.slow
def test_parameter_values_that_look_like_code_stay_strings(bait, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_OUT", str(tmp_path))
    values = [
        "baitmod:hook",
        "baitmod.hook",
        str(tmp_path / "bait.py") + ":hook",
        f"!!python/object/apply:os.system ['touch {bait}']",
        "tests.local.sweep_functions:always_fail",
    ]
    config = {"method": "grid", "parameters": {"a": {"value": 1}, "b": {"values": values}}}
    sweep_id = local_sweep(config)
    local_agent(sweep_id, function("protocol"), wandb_mode="disabled")
    runs = Store().runs(sweep_id)
    assert [r.state for r in runs] == ["finished"] * len(values)
    for run, value in zip(runs, values, strict=True):
        seen = json.loads((tmp_path / f"{run.id}.json").read_text())
        assert seen["config"]["b"] == value  # handed over as the very string


def _bait_lambda(marker: Path) -> dict:
    """A Keras-serialized lambda whose code would leave ``marker`` if deserialized."""
    namespace: dict = {}
    exec(f"fn = lambda x: open({str(marker)!r}, 'w').write('executed') and x", namespace)
    code = base64.b64encode(marshal.dumps(namespace["fn"].__code__)).decode("ascii")
    return {"class_name": "__lambda__", "config": {"value": [code, None, None]}}


@pytest.mark.slow
def test_sweep_train_parameters_never_import_or_unpickle(bait, tmp_path):
    """Activations and data sets named by a sweep: looked up, never imported or unpickled."""
    trap = tmp_path / "trap.npz"
    pickled = np.empty(1, dtype=object)
    pickled[0] = _Unpickled(str(bait))
    np.savez(trap, x_train=pickled, y_train=pickled, x_test=pickled, y_test=pickled)
    config = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {
            "activation": {"values": ["baitmod.hook", "baitmod:hook", _bait_lambda(bait)]},
            "dataset": {"values": ["digits", "baitmod", str(trap)]},
            "epochs": {"value": 1},
            "hidden_units": {"value": 8},
        },
    }
    sweep_id = local_sweep(config)
    train = functools.partial(sweep_train, {"verbose": 0})
    local_agent(sweep_id, train, wandb_mode="disabled", max_consecutive_failures=9)
    runs = Store().runs(sweep_id)
    assert len(runs) == 9 and all(r.state == "failed" for r in runs)
    for run in runs:
        dataset = run.params["dataset"]
        if dataset == "baitmod":
            assert run.error.startswith("DatasetError: unknown dataset 'baitmod'")
        elif dataset == str(trap):
            assert run.error.startswith("DatasetError:") and "not a readable .npz" in run.error
        else:
            assert "hook" in run.error or "lambda" in run.error, run.error


class _Unpickled:
    """Leaves a marker file when unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path(self.path).write_text, ("executed",))
