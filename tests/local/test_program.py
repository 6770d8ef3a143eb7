"""kerasweep.local._program: a config with ``program:`` runs it per run, as ``wandb agent``."""

from __future__ import annotations

import signal
import sys
import textwrap

import pytest

from kerasweep.local import local_agent, local_sweep
from kerasweep.local._program import build_command, command_args, run_program
from kerasweep.local._store import Store
from tests.local.helpers import engine_replay
from tests.local.sweep_functions import SERIES

PROGRAM = textwrap.dedent(
    """
    import argparse, json, os, sys
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int)
    args = parser.parse_args()
    SERIES = {series!r}
    if args.series >= len(SERIES):
        raise IndexError(f"no series {{args.series}}")
    import wandb
    from kerasweep.local import stop_requested
    wandb.init(config={{"series": -1}})
    assert wandb.config.series == args.series, (wandb.config.series, args.series)
    for epoch, value in enumerate(SERIES[args.series]):
        wandb.log({{"epochs": epoch, "val_loss": value}})
        if stop_requested():
            break
    with open(os.path.join(os.environ["TEST_OUT"], f"argv-{{args.series}}.json"), "w") as out:
        json.dump(sys.argv[1:], out)
    """
)


def test_command_is_built_with_wandb_agents_macros(monkeypatch):
    monkeypatch.setenv("DATA_DIR", "/data")
    params = {"lr": 0.01, "flag": True, "off": False, "name": "x"}
    config = {
        "program": "train.py",
        "command": ["${env}", "${interpreter}", "${program}", "--data=${envvar:DATA_DIR}",
                    "${args_no_boolean_flags}", "${args_json_file}"],
    }  # fmt: skip
    command = build_command(config, params, args_json_file="/tmp/a.json")
    assert command == [
        "/usr/bin/env", sys.executable, "train.py", "--data=/data",
        "--lr=0.01", "--flag", "--name=x", "/tmp/a.json",
    ]  # fmt: skip
    assert build_command({"program": "t.py"}, params)[3:] == [
        "--lr=0.01", "--flag=True", "--off=False", "--name=x",
    ]  # fmt: skip
    formats = command_args({"a": 1, "b": "x"})
    assert formats["args_no_hyphens"] == ["a=1", "b=x"]
    assert formats["args_no_equals"] == ["--a", "1", "--b", "x"]
    assert formats["args_json"] == ['{"a": 1, "b": "x"}']
    assert formats["args_override_hydra"] == ["++a=1", "++b=x"]


def test_a_failing_program_reports_its_last_line():
    result = run_program(
        [sys.executable, "-c", "print('working'); raise ValueError('bad input')"],
        {},
        should_stop=lambda: False,
    )
    assert result.returncode == 1 and not result.terminated
    assert result.error == "exit status 1: ValueError: bad input"


@pytest.mark.slow
def test_a_stopped_program_that_goes_on_gets_sigterm_then_sigkill():
    result = run_program(["sleep", "60"], {}, should_stop=lambda: True, stop_grace=0.2, poll=0.1)
    assert result.terminated and result.returncode == -signal.SIGTERM
    stubborn = ["sh", "-c", "trap '' TERM; sleep 60"]
    result = run_program(
        stubborn, {}, should_stop=lambda: True, stop_grace=0.2, kill_delay=0.5, poll=0.1
    )
    assert result.terminated and result.returncode == -signal.SIGKILL
    assert result.error == "killed by SIGKILL"


@pytest.mark.slow
def test_program_runs_are_recorded_and_stopped_by_hyperband(db, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_OUT", str(tmp_path))
    (tmp_path / "train.py").write_text(PROGRAM.format(series=SERIES[:4]))
    config = {
        "method": "grid",
        "program": "train.py",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
        "parameters": {"series": {"values": [0, 2, 3, 9]}},
    }
    expected = engine_replay(config, [SERIES[0], SERIES[2], SERIES[3]])
    assert [band for _, band in expected] == [None, None, 2]
    sweep_id = local_sweep(config, db=db)
    result = local_agent(sweep_id, db=db, program_output=False)
    runs = Store(db).snapshot(sweep_id)["runs"]
    assert result.reason == "exhausted" and len(runs) == 4
    for n, run, (rows, band) in zip((0, 2, 3), runs[:3], expected, strict=True):
        assert len(run["history"]) == rows and run["history"][0] == {
            "epochs": 0, "val_loss": SERIES[n][0]
        }  # fmt: skip
        assert run["state"] == ("stopped" if band else "finished"), run
        assert (run["stop"] or {}).get("band") == band
        assert (tmp_path / f"argv-{n}.json").read_text() == f'["--series={n}"]'
    assert runs[3]["state"] == "failed"
    assert runs[3]["error"] == "exit status 1: IndexError: no series 9"


@pytest.mark.slow
def test_a_program_run_waits_for_its_store_as_long_as_its_agent(db, tmp_path, monkeypatch):
    """``--reconnect-timeout`` reaches the program's own process, which records the run: it
    gives up on a server gone away when its agent does, not after the default 60 s."""
    from kerasweep.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(
        textwrap.dedent(
            """
            import wandb
            from kerasweep.local._run import current_run
            wandb.init()
            wandb.log({"val_loss": 0.5})
            with open("waits.txt", "w") as out:
                out.write(repr(current_run().store.reconnect_timeout))
            """
        )
    )
    config = {"method": "grid", "program": "train.py", "metric": {"name": "val_loss"},
              "parameters": {"a": {"values": [1]}}}  # fmt: skip
    sweep_id = local_sweep(config, db=db)
    assert main(["agent", sweep_id, "--db", str(db), "--reconnect-timeout", "7.5",
                 "--wandb-mode", "disabled"]) == 0  # fmt: skip
    assert (tmp_path / "waits.txt").read_text() == "7.5"
    (run,) = Store(db).snapshot(sweep_id)["runs"]
    assert run["state"] == "finished" and run["history"] == [{"val_loss": 0.5}]
