"""The PostgreSQL test fixture: a fresh database per test; no server means skip, or fail in CI."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT, subprocess_env
from tests.postgres import URL_ENV_VAR, fresh_database, require_server

NEEDS_SERVER = textwrap.dedent(
    """
    def test_uses_the_server(postgres_url):
        assert postgres_url
    """
)


def test_each_database_is_new_and_empty_and_dropped_after(postgres_url):
    import psycopg

    tables = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute(tables).fetchone() == (0,)
        conn.execute("CREATE TABLE mine (x INTEGER)")
    with fresh_database(require_server()) as other:
        assert other != postgres_url
        with psycopg.connect(other) as conn:
            assert conn.execute(tables).fetchone() == (0,)  # this test's table is not there
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(other, connect_timeout=10)


def _pytest(tmp_path, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_needs_server.py").write_text(NEEDS_SERVER)
    environment = subprocess_env(**env)
    environment.pop(URL_ENV_VAR, None)
    environment.pop("CI", None)
    environment.update(env)
    command = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-c", "/dev/null", "-q",
               "-rs", "-p", "no:cacheprovider", str(tmp_path / "test_needs_server.py")]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True)


@pytest.mark.slow
def test_without_a_server_the_tests_skip_saying_how_to_enable_them(tmp_path):
    done = _pytest(tmp_path)
    assert done.returncode == 0, done.stdout
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert f"set {URL_ENV_VAR}=postgresql://" in line and "python -m tests.postgres start" in line


@pytest.mark.slow
def test_under_ci_a_missing_server_fails_the_tests(tmp_path):
    done = _pytest(tmp_path, CI="true")
    assert done.returncode == 1, done.stdout
    assert "1 error" in done.stdout and "CI=true: these tests must not skip" in done.stdout
