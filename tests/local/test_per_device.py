"""``--gpus``: one real ``kerasweep agent`` process per device, on CPU (ids pick the env only)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kerasweep.cli import main
from kerasweep.local import local_sweep
from kerasweep.local._per_device import parse_devices, run_per_device, worst_status
from kerasweep.local._store import DB_ENV_VAR, Store
from tests.local.helpers import function, subprocess_env
from tests.postgres import fresh_database

GRID = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"a": {"values": [0, 1, 2, 3, 4, 5]}},
}
OWN_LINES = ("Started 2 agents, one per device: ", "Agents ended: ", "Report: ")


def _kerasweep(*argv: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kerasweep", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _seen(tmp_path: Path, run_id: str) -> dict:
    return json.loads((tmp_path / f"{run_id}.json").read_text())


@pytest.mark.slow
def test_one_agent_per_device_shares_the_sweep_and_prefixes_its_lines(db, tmp_path):
    sweep_id = local_sweep(GRID, db=db)
    env = subprocess_env(TEST_OUT=str(tmp_path), TEST_SLEEP="0.3")
    argv = ["agent", sweep_id, "--gpus", "0,1", "--function", function("on_device"),
            "--wandb-mode", "disabled", "--db", str(db)]  # fmt: skip
    proc = _kerasweep(*argv, env=env)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, out + err

    lines = out.splitlines()
    assert all(line.startswith(("[gpu 0] ", "[gpu 1] ", *OWN_LINES)) for line in lines), out
    assert lines[0].startswith(OWN_LINES[0]) and "Agents ended: gpu 0 exit 0, gpu 1 exit 0" in out
    for device in ("0", "1"):
        assert f"[gpu {device}] Agent done: the sweep has no more runs to give" in out
    assert sum(line.startswith("Report: ") for line in lines) == 1  # written once, at the end
    runs = Store(db).runs(sweep_id)
    assert sorted(r.params["a"] for r in runs) == GRID["parameters"]["a"]["values"]  # each once
    assert all(r.state == "finished" for r in runs)
    device_of_pid: dict[int, str] = {}
    for run in runs:
        seen = _seen(tmp_path, run.id)
        assert device_of_pid.setdefault(seen["pid"], seen["device"]) == seen["device"]
    assert sorted(device_of_pid.values()) == ["0", "1"]  # two agents, one on each device


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_reaches_every_agent_and_each_marks_its_run(sig, db, tmp_path):
    sweep_id = local_sweep(GRID, db=db)
    env = subprocess_env(TEST_OUT=str(tmp_path), TEST_HANG="1")
    argv = ["agent", sweep_id, "--gpus", "0,1", "--function", function("on_device"),
            "--wandb-mode", "disabled", "--db", str(db)]  # fmt: skip
    proc = _kerasweep(*argv, env=env)
    try:
        hung = {device: _wait_for(tmp_path / f"hang-{device}", proc) for device in ("0", "1")}
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    # SIGTERM is a preemption: each agent ends its run as preempted and exits 0
    assert proc.returncode == (0 if sig == signal.SIGTERM else 128 + sig), out + err
    for device in ("0", "1"):
        assert (
            f"[gpu {device}] Agent {'terminated' if sig == signal.SIGTERM else 'interrupt'}" in out
        )
    why = "SIGTERM" if sig == signal.SIGTERM else "KeyboardInterrupt"
    runs = Store(db).runs(sweep_id)
    assert sorted(r.id for r in runs) == sorted(hung.values())  # no agent took another run
    assert all(r.state == "preempted" for r in runs)
    assert all(r.error == f"preempted: interrupted ({why})" for r in runs)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"agents ended early:\n{proc.communicate()}")
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.1)
    return path.read_text()


@pytest.mark.slow
def test_the_exit_status_is_the_worst_agents(db, tmp_path):
    sweep_id = local_sweep(GRID, db=db)
    env = subprocess_env(TEST_OUT=str(tmp_path), TEST_FAIL_DEVICE="1")
    argv = ["agent", sweep_id, "--gpus", "0,1", "--function", function("on_device"), "--count",
            "1", "--max-failures", "1", "--wandb-mode", "disabled", "--db", str(db)]  # fmt: skip
    proc = _kerasweep(*argv, env=env)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 1, out + err
    assert "Agents ended: gpu 0 exit 0, gpu 1 exit 1" in out
    assert "[gpu 1] Agent done: too many failed runs in a row" in out
    states = {_seen(tmp_path, r.id)["device"]: r.state for r in Store(db).runs(sweep_id)}
    assert states == {"0": "finished", "1": "failed"}


def test_an_agent_killed_by_a_signal_counts_as_128_plus_the_signal(tmp_path, capsys):
    fake = tmp_path / "python"  # stands in for the interpreter: exits by device
    fake.write_text(
        '#!/bin/sh\necho "args $*"\necho "to stderr" >&2\n'
        '[ "$CUDA_VISIBLE_DEVICES" = 2 ] && kill -9 $$\nexit "$CUDA_VISIBLE_DEVICES"\n'
    )
    fake.chmod(0o755)
    assert run_per_device(["0", "1", "2"], ["SWEEP"], python=str(fake)) == 137
    captured = capsys.readouterr()
    for device in ("0", "1", "2"):
        assert f"[gpu {device}] args -m kerasweep agent SWEEP\n" in captured.out
        assert f"[gpu {device}] to stderr\n" in captured.err
    assert "Agents ended: gpu 0 exit 0, gpu 1 exit 1, gpu 2 killed by SIGKILL" in captured.out


@pytest.mark.slow
def test_run_with_gpus_creates_one_sweep_for_all_agents(tmp_path, capfd, monkeypatch):
    config = tmp_path / "sweep.json"
    config.write_text(json.dumps({**GRID, "parameters": {"a": {"values": [0, 1, 2]}}}))
    monkeypatch.setenv("TEST_OUT", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", subprocess_env()["PYTHONPATH"])  # as if installed
    argv = ["run", str(config), "--gpus", "0,1", "--function", function("on_device"),
            "--wandb-mode", "disabled"]  # fmt: skip
    assert main(argv) == 0
    out = capfd.readouterr().out
    (sweep,) = Store().sweeps()
    assert "3 runs: 3 finished" in out and out.count("Report: ") == 1
    assert {_seen(tmp_path, r.id)["device"] for r in Store().runs(sweep.id)} <= {"0", "1"}


@pytest.mark.parametrize(
    ("value", "message"),
    [("0,0", "device 0 is listed twice"), ("", "not ''"), ("0,,1", "not ''"), ("0;1", "'0;1'")],
)
def test_bad_gpus_are_refused_in_one_line_before_anything_starts(value, message, db, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "missing.yaml", "--gpus", value, "--db", str(db)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--gpus {value!r}" in err and message in err, err
    assert not db.exists()
    with pytest.raises(ValueError, match="listed twice"):
        parse_devices("1,2,1")
    assert worst_status([]) == 0


# TensorFlow's C++ start-up log, printed by this command's own process (--function's check)
TF_LOG = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl|To enable the)")


def _both_running(url: str) -> bool:
    """True once the sweep has two running runs, each with rows written."""
    store = Store(url)
    try:
        runs = [run for sweep in store.sweeps() for run in store.runs(sweep.id)]
    finally:
        store.close()
    return sum(run.state == "running" and len(run.metric_values) >= 2 for run in runs) == 2


@pytest.mark.slow
@pytest.mark.parametrize("command", ["agent", "run"])
def test_a_store_gone_for_good_ends_with_the_agents_lines_and_their_status(
    command, postgres_cluster, tmp_path
):
    """The server stops mid-sweep and stays away: each agent ends with its one line, then the
    command prints who ended how and exits 1, without trying the store once more (a
    leaderboard or report line that could only fail)."""
    from tests.hardening.hardening_functions import spec

    config = {"method": "grid", "metric": {"name": "val_loss"},
              "parameters": {"a": {"values": [0, 1]}}}  # fmt: skip
    env = subprocess_env(TEST_OUT=str(tmp_path), TEST_ROWS="600", TEST_PACE="0.1")
    options = ["--gpus", "0,1", "--function", spec("paced_rows"), "--wandb-mode", "disabled",
               "--reconnect-timeout", "2"]  # fmt: skip
    with fresh_database(postgres_cluster.url) as url:
        try:
            env[DB_ENV_VAR] = url
            if command == "agent":
                proc = _kerasweep("agent", local_sweep(config, db=url), *options, env=env)
            else:
                (tmp_path / "sweep.json").write_text(json.dumps(config))
                proc = _kerasweep("run", str(tmp_path / "sweep.json"), *options, env=env)
            # each agent is in the middle of its run (their imports can take a minute when
            # the machine is busy and its disk cache cold)
            deadline = time.monotonic() + 300
            while not _both_running(url):
                ended = proc.poll()
                if ended is not None or time.monotonic() > deadline:
                    if ended is None:
                        proc.kill()
                    out, err = proc.communicate()
                    why = f"ended with {ended}" if ended is not None else "still running"
                    pytest.fail(f"the two runs were never seen running at once ({why}):\n"
                                f"{out}\n{err}")  # fmt: skip
                time.sleep(0.2)
            postgres_cluster.stop("fast")
            out, err = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
            if not postgres_cluster.running():
                postgres_cluster.start()  # so that the database can be dropped

    assert proc.returncode == 1, out + err
    lines = out.strip().splitlines()
    assert lines[-1] == "Agents ended: gpu 0 exit 1, gpu 1 exit 1", out + err
    assert not any(line.startswith(("Report: ", "kerasweep")) for line in out.splitlines())
    own = [line for line in err.splitlines() if not TF_LOG.match(line)]  # this process's
    assert all(line.startswith(("[gpu 0] ", "[gpu 1] ")) for line in own), err
    for device in ("0", "1"):
        assert f"[gpu {device}] kerasweep agent: error: cannot reach the PostgreSQL server" in err


def test_a_reader_gone_stops_the_agents_and_drains_their_output(tmp_path, monkeypatch):
    """``... --gpus 0,1 | head -1``: no thread dies on BrokenPipeError, every agent gets
    SIGTERM, and what they still print is drained so that none blocks on a full pipe."""
    import contextlib
    import os

    from kerasweep.local._store.runs import pid_alive

    fake = tmp_path / "python"  # an agent: prints on, ends on SIGTERM after printing more
    pids = tmp_path / "pids"
    fake.write_text(
        "#!/bin/sh\n"
        f"echo $$ >> {pids}\n"
        "trap 'seq 1 20000 >&2; seq 1 20000; exit 143' TERM\n"
        "while true; do echo line; sleep 0.05; done\n"
    )
    fake.chmod(0o755)
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    broken = os.fdopen(write, "w")
    monkeypatch.setattr(sys, "stdout", broken)
    started = time.monotonic()
    try:
        with pytest.raises(BrokenPipeError):
            run_per_device(["0", "1"], ["SWEEP"], python=str(fake))
        assert time.monotonic() - started < 30  # ended, not hung on a full pipe
        agents = [int(pid) for pid in pids.read_text().split()]
        assert len(agents) == 2 and not [pid for pid in agents if pid_alive(pid)]
    finally:
        for pid in [int(pid) for pid in pids.read_text().split()] if pids.exists() else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        monkeypatch.undo()
        with contextlib.suppress(OSError):
            broken.close()


@pytest.mark.slow
def test_agents_piped_to_head_end_quietly_with_status_141(db, tmp_path):
    sweep_id = local_sweep(GRID, db=db)
    env = subprocess_env(TEST_OUT=str(tmp_path), TEST_SLEEP="0.5")
    argv = ["agent", sweep_id, "--gpus", "0,1", "--function", function("on_device"),
            "--wandb-mode", "disabled", "--db", str(db)]  # fmt: skip
    proc = _kerasweep(*argv, env=env)
    try:
        assert proc.stdout.readline().startswith(OWN_LINES[0])
        proc.stdout.close()  # as `| head -1` does
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == 141, err
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    runs = Store(db).runs(sweep_id)
    assert len(runs) < len(GRID["parameters"]["a"]["values"])  # the agents stopped early
    assert not [run for run in runs if run.state == "running"]  # each marked its run
