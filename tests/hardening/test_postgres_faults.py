"""Faults of a PostgreSQL store, against a real server these tests stop and start.

Real ``kerasweep agent`` processes record rows while the server restarts (the agent rides it
out) or goes away for good (the agent ends in one line, exit 1, what it wrote kept, its run
marked preempted once the server is back); every command that takes ``--db`` meets a server
that is not there, or refuses the login: one line, exit 2, nothing written, no password.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kerasweep.cli import main
from kerasweep.local import local_agent, local_sweep
from kerasweep.local._store import Store
from tests.conftest import start_process, subprocess_env
from tests.hardening.hardening_functions import spec
from tests.hardening.store_checks import agents_ended, assert_sound, query
from tests.postgres import free_port, fresh_database, password_of

GRID = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"a": {"values": [0, 1]}},
}
CONFIG_YAML = "method: grid\nparameters:\n  a:\n    values: [1, 2]\n"
ROWS = 30
PACED_PROGRAM = Path(__file__).with_name("paced_program.py")


@pytest.fixture
def url(postgres_cluster):
    """A fresh database on the module's own server (which each test may stop and start)."""
    with fresh_database(postgres_cluster.url) as fresh:
        yield fresh
        if not postgres_cluster.running():
            postgres_cluster.start()  # so that the database can be dropped


def _agent(
    sweep_id: str, url: str, out: Path, *options: str, program: bool = False
) -> subprocess.Popen:
    """``kerasweep agent`` running the tests' paced_rows (or, for a sweep with a program,
    paced_program.py): ROWS rows, 0.1 s apart, per run."""
    function = [] if program else ["--function", spec("paced_rows")]
    command = [
        sys.executable, "-m", "kerasweep", "agent", sweep_id, "--db", url, *function,
        "--wandb-mode", "disabled", *options,
    ]  # fmt: skip
    env = subprocess_env(TEST_OUT=str(out), TEST_ROWS=str(ROWS), TEST_PACE="0.1")
    return start_process(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _progress(out: Path, proc: subprocess.Popen, rows: int) -> tuple[str, int]:
    """(run id, rows logged) of the paced run, once it has logged at least ``rows`` rows."""
    path = out / "paced"
    deadline = time.monotonic() + 120
    while True:
        if path.exists():
            run_id, logged = path.read_text().split()[:2]
            if int(logged) >= rows:
                return run_id, int(logged)
        if proc.poll() is not None:
            pytest.fail(f"agent ended early: {proc.communicate()}")
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.05)


def _own_lines(text: str) -> list[str]:
    """``text``'s lines less TensorFlow's C++ start-up log (the test function imports it)."""
    tf_log = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl|To enable the)")
    return [line for line in text.strip().splitlines() if not tf_log.match(line)]


def _alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie runs nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _metric_values(url: str, run_id: str) -> list[float]:
    return [r.metric for r in query(url, "SELECT metric FROM history WHERE run_id = :r "
                                          "ORDER BY step", r=run_id)]  # fmt: skip


def _expected(a: int, rows: int) -> list[float]:
    return [a + 1.0 / (i + 1) for i in range(rows)]


@pytest.mark.slow
def test_a_server_restarted_mid_sweep_is_ridden_out(postgres_cluster, url, tmp_path):
    sweep_id = local_sweep(GRID, db=url)
    agent = _agent(sweep_id, url, tmp_path)
    _progress(tmp_path, agent, 10)
    postgres_cluster.stop("fast")  # the server goes away mid-run ...
    time.sleep(1.0)  # ... for a second or so: rows logged meanwhile wait for it
    postgres_cluster.start()
    out, err = agent.communicate(timeout=240)

    assert agent.returncode == 0, out + err
    assert "Traceback" not in out + err
    runs = Store(url).runs(sweep_id)
    assert [(r.params["a"], r.state) for r in runs] == [(0, "finished"), (1, "finished")]
    for run in runs:  # every row, once, in order: nothing recorded was lost
        assert _metric_values(url, run.id) == _expected(run.params["a"], ROWS)
    assert Store(url).sweep(sweep_id).state == "finished"
    assert agents_ended(url)
    assert_sound(url, sweep_id)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["function", "program"])
def test_a_server_gone_for_good_ends_the_agent_in_one_line_keeping_its_rows(
    mode, postgres_cluster, url, tmp_path, monkeypatch
):
    program = mode == "program"
    config = {**GRID, "program": str(PACED_PROGRAM)} if program else GRID
    sweep_id = local_sweep(config, db=url)
    agent = _agent(sweep_id, url, tmp_path, "--reconnect-timeout", "3", program=program)
    run_id, logged_before = _progress(tmp_path, agent, 10)
    postgres_cluster.stop("fast")
    out, err = agent.communicate(timeout=120)  # it gives up soon after its 3 s window

    assert agent.returncode == 1, out + err  # an outage, not bad input
    (line,) = _own_lines(err)
    server = f"127.0.0.1:{postgres_cluster.port}"
    assert line.startswith(
        f"kerasweep agent: error: cannot reach the PostgreSQL server at {server}"
    )
    assert f"its run {run_id} " in line
    assert "marked preempted (resumable) once the server is back" in line
    assert password_of(url) not in out + err
    unwritten = re.search(r"\((\d+) rows? not written\)", line)
    _, logged, *pid = (tmp_path / "paced").read_text().split()
    if program:  # the program ended with its agent, not left training on
        assert not _alive(int(pid[0]))

    postgres_cluster.start()
    (run,) = Store(url).runs(sweep_id)  # it took no other run
    written = _metric_values(url, run_id)
    assert len(written) >= logged_before  # each row logged before the outage is in the store
    assert written == _expected(0, len(written))  # in order, none missing or repeated
    if not program:  # the agent knows what its run could not write (a program keeps its own)
        assert len(written) + (int(unwritten.group(1)) if unwritten else 0) == int(logged)

    assert run.state == "running"  # until a command looks: the agent's process is gone
    assert main(["show", sweep_id, "--db", url]) == 0
    crashed = Store(url).run(run_id)
    assert crashed.state == "preempted" and "is gone" in crashed.error
    monkeypatch.setenv("TEST_OUT", str(tmp_path))
    monkeypatch.setenv("TEST_PACE", "0")
    result = local_agent(
        sweep_id, None if program else spec("paced_rows"), db=url, wandb_mode="disabled",
        program_output=False,
    )  # fmt: skip
    assert result.reason == "exhausted"  # a new agent resumes the run and finishes the sweep
    assert [r.state for r in Store(url).runs(sweep_id)] == ["finished", "finished"]
    assert_sound(url, sweep_id)


def _commands(sweep_id: str, config: Path, report: Path) -> dict[str, list[str]]:
    """Every command that takes ``--db``, as a user would type it."""
    return {
        "sweep": ["sweep", str(config)],
        "agent": ["agent", sweep_id],
        "run": ["run", str(config)],
        "ls": ["ls"],
        "show": ["show", sweep_id],
        "best": ["best", sweep_id],
        "report": ["report", sweep_id, "-o", str(report)],
        "export": ["export", sweep_id],
        "retry": ["agent", sweep_id, "--retry-failed"],
        "serve": ["serve", sweep_id, "--port", "0"],
    }


def _each_command_fails_in_one_line(db: str, tmp_path: Path, capsys, expected: str) -> None:
    config = tmp_path / "sweep.yaml"
    config.write_text(CONFIG_YAML)
    before = sorted(p.name for p in tmp_path.iterdir())
    for name, argv in _commands("abc12345", config, tmp_path / "report.html").items():
        status = main([*argv, "--db", db])
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert status == 2, (name, captured)
        assert len(lines) == 1 and expected in lines[0], (name, captured.err)
        assert lines[0].startswith(f"kerasweep {argv[0]}: error: "), (name, lines)
        assert password_of(db) not in captured.out + captured.err, name
        assert sorted(p.name for p in tmp_path.iterdir()) == before, name  # nothing written


def test_a_server_unreachable_at_start_is_one_line_naming_it_for_every_command(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    port = free_port()  # closed: nothing listens on it
    db = f"postgresql://ana:hunter2@127.0.0.1:{port}/sweeps"
    expected = f"cannot reach the PostgreSQL server at 127.0.0.1:{port}"
    _each_command_fails_in_one_line(db, tmp_path, capsys, expected)


@pytest.mark.slow
def test_wrong_credentials_are_one_line_and_no_password_is_shown_or_kept(
    url, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    wrong = url.replace(f":{password_of(url)}@", ":not-the-password@", 1)
    _each_command_fails_in_one_line(wrong, tmp_path, capsys, "refused the login of user")

    # the right password: a whole sweep, then everything it leaves behind or prints
    config = tmp_path / "sweep.yaml"
    config.write_text(CONFIG_YAML + "metric:\n  name: val_loss\n  goal: minimize\n")
    done = subprocess.run(
        [sys.executable, "-m", "kerasweep", "run", str(config), "--db", url, "--verbose",
         "--function", spec("paced_rows"), "--wandb-mode", "offline"],
        env=subprocess_env(TEST_OUT=str(tmp_path), TEST_ROWS="2", TEST_PACE="0",
                           WANDB_DIR=str(tmp_path)),
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (sweep,) = Store(url).sweeps()
    shown = [done.stdout, done.stderr]
    for argv in (["ls"], ["ls", "--json"], ["show", sweep.id], ["best", sweep.id],
                 ["export", sweep.id], ["sweep", str(config)]):  # fmt: skip
        assert main([*argv, "--db", url]) == 0
        shown.extend(capsys.readouterr())  # sweep's sentences are on stderr
    assert main(["report", sweep.id, "-o", str(tmp_path / "report.html"), "--db", url]) == 0
    capsys.readouterr()

    secret = password_of(url)
    assert not [text for text in shown if secret in text]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files) and any("wandb" in p.parts for p in files)
    assert not [p for p in files if secret.encode() in p.read_bytes()]
    tables = ("sweeps", "agents", "runs", "history", "bands")
    for table in tables:
        assert not [row for row in query(url, f"SELECT * FROM {table}") if secret in str(row)]
