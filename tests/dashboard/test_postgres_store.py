"""The dashboard on a PostgreSQL store: it follows an agent's writes with a role that may only
read, and no password from the URL reaches any page, endpoint or line it prints."""

from __future__ import annotations

import io
import json
import re
import secrets
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from kerasweep._html_report.format import fmt
from kerasweep.dashboard import Dashboard
from kerasweep.local import local_sweep
from kerasweep.local._store import Store
from tests.conftest import subprocess_env
from tests.dashboard.conftest import CRAFTED_SWEEP, get
from tests.local.helpers import function
from tests.local.sweep_functions import SERIES
from tests.postgres import fresh_database, password_of

PATHS = ("/", "/api/sweeps", "/sweeps/{id}", "/api/sweeps/{id}", "/healthz", "/nope")


@pytest.fixture
def stores(postgres_cluster):
    """(writer URL, reader URL) of a fresh database with a sweep; the reader may only SELECT."""
    role, password = "reader_" + secrets.token_hex(4), secrets.token_hex(12)
    postgres_cluster.psql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        with fresh_database(postgres_cluster.url) as url:
            local_sweep(CRAFTED_SWEEP, db=url)  # makes the tables, owned by the writer
            with psycopg.connect(url, autocommit=True) as owner:
                owner.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
            yield url, re.sub(r"//[^@]+@", f"//{role}:{password}@", url, count=1)
    finally:  # its grants went with the database
        postgres_cluster.psql(f"DROP ROLE {role}")


def _api(board: Dashboard, sweep_id: str) -> dict:
    status, _, body = get(board.url, f"/api/sweeps/{sweep_id}")
    assert status == 200, body
    return json.loads(body)


def _wait_for(what: str, check, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return found


@pytest.mark.slow
def test_the_dashboard_follows_an_agent_read_only_and_shows_no_password(stores, tmp_path):
    url, reader = stores
    (sweep,) = Store(url).sweeps()
    gate = tmp_path / "gate"
    gate.write_text("0")
    agent = subprocess.Popen(
        [sys.executable, "-m", "kerasweep", "agent", sweep.id, "--db", url,
         "--function", function("crafted_paced"), "--wandb-mode", "disabled"],
        env=subprocess_env(TEST_GATE=str(gate)), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    errors = io.StringIO()
    try:
        with Dashboard(reader, port=0, errors=errors) as board:
            board.start()
            for epochs in (1, 2, 3):  # each epoch the agent writes shows on the page
                gate.write_text(str(epochs))
                expected = fmt(SERIES[0][epochs - 1])
                _wait_for(
                    f"epoch {epochs} on the page",
                    lambda e=expected: (
                        [r["metric"] for r in _api(board, sweep.id)["data"]["runs"]] == [e]
                    ),
                )
            gate.write_text("100")
            assert agent.wait(timeout=240) == 0, agent.stdout.read()
            final = Store(url).runs(sweep.id)
            states = [r.state for r in final]
            assert "stopped" in states and len(states) == 4
            _wait_for(
                "the finished sweep on the page",
                lambda: [r["state"] for r in _api(board, sweep.id)["data"]["runs"]] == states,
            )
            answers = [get(board.url, path.format(id=sweep.id)) for path in PATHS]
            label = board.store_label
    finally:
        if agent.poll() is None:
            agent.kill()
        agent.communicate()
    assert errors.getvalue() == ""  # no request failed: none tried to write
    assert [status for status, _, _ in answers] == [200, 200, 200, 200, 200, 404]
    assert re.fullmatch(
        r"postgresql://reader_\w+:\*\*\*@127\.0\.0\.1:\d+/kerasweep_test_\w+", label
    )
    assert label in answers[0][2].decode()  # the list page names the store, masked
    for secret in (password_of(reader), password_of(url)):
        for _, headers, body in answers:
            assert secret.encode() not in body and secret not in json.dumps(headers)


@pytest.mark.slow
def test_kerasweep_serve_on_a_postgresql_url_prints_no_password(stores, tmp_path):
    url, reader = stores
    (sweep,) = Store(url).sweeps()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kerasweep", "serve", sweep.id, "--db", reader, "--port", "0"],
        cwd=tmp_path, env=subprocess_env(XDG_RUNTIME_DIR=str(tmp_path)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        address = re.search(r"(http://\S+)", line)
        assert address, line + proc.stderr.read()
        assert get(address.group(1))[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and err == ""
    assert password_of(reader) not in line + out
    notes = [p.read_text() for p in tmp_path.rglob("*") if p.is_file()]
    assert not [note for note in notes if password_of(reader) in note]
