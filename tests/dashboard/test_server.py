"""The dashboard's server as a client sees it: routes, 404s, safety, disconnects, the store."""

from __future__ import annotations

import io
import json
import re
import socket
import sqlite3
import struct
import subprocess
import sys
import time

import pytest

from kerasweep.dashboard import Dashboard
from kerasweep.local._store import StoreError, redact
from tests.conftest import subprocess_env
from tests.dashboard.conftest import get, kerasweep
from tests.hardening.test_secrets import SECRETS
from tests.sweep_snapshots import INJECTION

IN_USE = "Address already in use"


@pytest.fixture
def dashboard(injected_sweep):
    errors = io.StringIO()
    with Dashboard(injected_sweep[0], port=0, errors=errors) as board:
        board.start()
        board.errors = errors
        yield board
    assert board.errors.getvalue() == ""  # nothing went wrong on the server's side


def test_pages_and_their_json(dashboard, injected_sweep):
    sweep_id = injected_sweep[1]
    status, headers, body = get(dashboard.url)
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert f'href="/sweeps/{sweep_id}"' in body.decode()
    status, headers, body = get(dashboard.url, "/api/sweeps")
    assert status == 200 and headers["Content-Type"] == "application/json; charset=utf-8"
    assert len(re.findall(r"<tr><td><a", json.loads(body)["html"]["sweeps"][1])) == 1
    status, _, body = get(dashboard.url, f"/sweeps/{sweep_id}")
    page = body.decode()
    assert status == 200 and 'id="curves"' in page and 'data-part="leaderboard"' in page
    status, _, body = get(dashboard.url, f"/api/sweeps/{sweep_id}")
    parts = json.loads(body)
    assert sorted(parts["html"]) == sorted(
        ["header", "parcoords_note", "curves_note", "importance", "leaderboard", "engine", "config"]
    )
    assert sorted(parts["data"]["figures"]) == ["curves", "parcoords"]
    assert len(parts["data"]["runs"]) == 8  # 2 series x 2 notes x 2 fail


def test_polling_an_unchanged_page_is_a_304(dashboard, injected_sweep):
    api = f"/api/sweeps/{injected_sweep[1]}"
    status, headers, _ = get(dashboard.url, api)
    etag = headers["ETag"]
    status, headers, body = get(dashboard.url, api, If_None_Match=etag)
    assert (status, body, headers["ETag"]) == (304, b"", etag)


def test_assets_are_served_by_the_dashboard_itself(dashboard, injected_sweep):
    page = get(dashboard.url, f"/sweeps/{injected_sweep[1]}")[2].decode()
    sources = re.findall(r'<script src="([^"]+)"', page)
    assert sources == ["/static/plotly.min.js", "/static/report.js"]
    assert "http" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', page))
    status, headers, body = get(dashboard.url, "/static/plotly.min.js")
    from plotly.offline import get_plotlyjs

    assert status == 200 and body == get_plotlyjs().encode()
    status, headers, zipped = get(dashboard.url, "/static/plotly.min.js", Accept_Encoding="gzip")
    assert headers["Content-Encoding"] == "gzip" and len(zipped) < len(body) / 2


@pytest.mark.parametrize(
    "path",
    [
        "/sweeps/nope",
        "/api/sweeps/nope",
        "/../etc/passwd",
        "/sweeps/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/static/../kerasweep.db",
        "/static/",
        "/sweeps/",
        "/sweeps/a/b",
        "//etc/passwd",
        "/sweeps/%3Cscript%3E",
        "/kerasweep.db",
    ],
)
def test_unknown_sweeps_and_bad_paths_are_a_404_page(dashboard, path):
    status, headers, body = get(dashboard.url, path)
    page = body.decode()
    assert status == 404 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Traceback" not in page and "<script>" not in page.lower()
    assert "kerasweep · 404" in page


def test_only_reads(dashboard):
    status, headers, _ = get(dashboard.url, "/", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    status, headers, body = get(dashboard.url, "/", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_every_answer_forbids_inline_scripts_and_other_origins(dashboard, injected_sweep):
    for path in ("/", f"/sweeps/{injected_sweep[1]}", "/api/sweeps", "/nope"):
        headers = get(dashboard.url, path)[1]
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self' 'unsafe-eval';" in policy and "default-src 'none'" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_a_page_reached_through_another_host_name_is_refused(dashboard):
    """A web page that rebinds its own name to 127.0.0.1 cannot read the dashboard."""
    status, _, body = get(dashboard.url, "/api/sweeps", Host="attacker.example:8787")
    assert status == 403 and b"sweeps" not in body.split(b"<h1>")[-1][:40]
    assert get(dashboard.url, "/api/sweeps", Host=f"localhost:{dashboard.port}")[0] == 200


def test_markup_from_the_store_is_text_on_every_page(dashboard, injected_sweep):
    sweep_id = injected_sweep[1]
    for path in ("/", "/api/sweeps", f"/sweeps/{sweep_id}", f"/api/sweeps/{sweep_id}"):
        body = get(dashboard.url, path)[2].decode()
        assert INJECTION not in body and "<img src=x" not in body, path
    parts = json.loads(get(dashboard.url, f"/api/sweeps/{sweep_id}")[2])
    assert parts["title"].startswith(INJECTION)  # document.title is text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; failed" in parts["html"]["leaderboard"][1]


@pytest.mark.slow
def test_the_server_survives_clients_that_go_away_mid_response(dashboard, injected_sweep):
    for path in ("/static/plotly.min.js", f"/sweeps/{injected_sweep[1]}"):
        for _ in range(5):
            client = socket.create_connection(("127.0.0.1", dashboard.port))
            client.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            client.recv(1000)
            # close with a reset, in the middle of the body
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
    time.sleep(0.5)
    assert get(dashboard.url, "/healthz")[0] == 200
    # the fixture checks that nothing was reported on the server's side


def test_no_transaction_stays_open_between_requests(dashboard, injected_sweep):
    """Agents beside a dashboard: after its requests, a checkpoint that needs every reader
    gone succeeds, and a writer gets the store at once."""
    for path in ("/", f"/sweeps/{injected_sweep[1]}", f"/api/sweeps/{injected_sweep[1]}"):
        assert get(dashboard.url, path)[0] == 200
    other = sqlite3.connect(injected_sweep[0], timeout=0, isolation_level=None)
    try:
        busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_healthz_names_the_store_without_its_path(dashboard, injected_sweep):
    health = json.loads(get(dashboard.url, "/healthz")[2])
    assert sorted(health) == ["kerasweep", "store"]
    assert str(injected_sweep[0]) not in json.dumps(health)


def test_a_store_url_is_shown_with_its_passwordmasked():
    assert redact("postgresql://sweeper:s3cr3t@db.example:5432/sweeps") == (
        "postgresql://sweeper:***@db.example:5432/sweeps"
    )
    assert redact("/home/me/kerasweep.db") == "/home/me/kerasweep.db"


def test_a_missing_store_is_refused_and_never_created(tmp_path):
    with pytest.raises(StoreError, match="no kerasweep store"):
        Dashboard(tmp_path / "none.db", port=0)
    assert not (tmp_path / "none.db").exists()


# -- the command ----------------------------------------------------------------------------


def _serve(*args: str, cwd, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kerasweep", "serve", *args],
        cwd=cwd,
        env=subprocess_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _url(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()
    match = re.search(r"(http://\S+)", line)
    assert match, line + proc.stderr.read()
    return match.group(1)


@pytest.mark.slow
def test_serve_prints_the_sweep_address_and_stops_on_sigterm(injected_sweep, tmp_path):
    db, sweep_id = injected_sweep
    proc = _serve(sweep_id, "--db", str(db), "--port", "0", cwd=tmp_path)
    try:
        url = _url(proc)
        assert re.fullmatch(rf"http://127\.0\.0\.1:\d+/sweeps/{sweep_id}", url)
        assert get(url)[0] == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and err == ""


@pytest.mark.slow
def test_kerasweep_serve_from_python_serves_until_sigterm(injected_sweep, tmp_path):
    code = (
        "import sys, kerasweep;"
        f"kerasweep.serve(db={str(injected_sweep[0])!r}, port=0);"
        "print('served', file=sys.stderr)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _url(proc)
        assert get(url, "/api/sweeps")[0] == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and err == "served\n"
    assert not list(tmp_path.glob("kerasweep/*.json"))  # its note went with it


@pytest.mark.slow
def test_serve_on_all_addresses_warns_who_can_read(injected_sweep, tmp_path):
    proc = _serve("--db", str(injected_sweep[0]), "--host", "0.0.0.0", "--port", "0", cwd=tmp_path)
    try:
        warning = proc.stderr.readline()
        _url(proc)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert warning.startswith("kerasweep serve: warning: listening on 0.0.0.0: anyone who can")
    assert "can read the sweeps in" in warning


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "kerasweep serve: error: no sweep 'nope' in "),
        (["--db", "missing.db"], "kerasweep serve: error: no kerasweep store at missing.db"),
    ],
)
def test_serve_bad_input_is_one_line_and_exit_2(injected_sweep, tmp_path, args, message):
    if "--db" not in args:
        args = [*args, "--db", str(injected_sweep[0])]
    done = kerasweep("serve", *args, "--port", "0", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.slow
def test_serve_on_a_port_in_use_is_one_line_and_exit_2(injected_sweep, tmp_path):
    with Dashboard(injected_sweep[0], port=0) as board:
        done = kerasweep(
            "serve", "--db", str(injected_sweep[0]), "--port", str(board.port), cwd=tmp_path
        )
    assert done.returncode == 2
    port = board.port
    assert done.stderr == f"kerasweep serve: error: cannot listen on 127.0.0.1:{port}: {IN_USE}\n"


@pytest.mark.slow
def test_no_secret_from_the_environment_reaches_any_page(injected_sweep, tmp_path):
    db, sweep_id = injected_sweep
    proc = _serve("--db", str(db), "--port", "0", cwd=tmp_path, **SECRETS)
    try:
        url = _url(proc).rstrip("/")
        bodies = [
            get(url, path)[2].decode()
            for path in ("/", "/api/sweeps", f"/sweeps/{sweep_id}", f"/api/sweeps/{sweep_id}",
                         "/healthz", "/nope", "/static/report.js")
        ]  # fmt: skip
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    for name, value in SECRETS.items():
        assert not any(value in body for body in [*bodies, out, err]), name


def test_a_started_dashboard_shows_inline_in_a_notebook(injected_sweep):
    board = Dashboard(injected_sweep[0], port=0)
    try:
        assert board._repr_html_() is None and "(not serving)" in repr(board)
        board.start()
        assert repr(board) == f"<Dashboard of {board.store_label} at {board.url} (serving)>"
        page = board._repr_html_()
        assert f'<iframe src="{board.url}"' in page
        assert get(board.url)[0] == 200
    finally:
        board.close()
