"""kerasweep.local._store.database: opening stores, and the one-line errors when one cannot be."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from kerasweep.cli import main
from kerasweep.local._store import Store, StoreError, StoreUnavailableError
from tests.conftest import subprocess_env
from tests.postgres import password_of

CONFIG = {"method": "grid", "parameters": {"a": {"values": [1, 2]}}}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def _with_password(url: str, password: str) -> str:
    return url.replace(f":{password_of(url)}@", f":{password}@", 1)


def test_an_unreachable_server_is_one_line_naming_the_host():
    port = _closed_port()
    with pytest.raises(StoreUnavailableError) as error:
        Store(f"postgresql://ana:hunter2@127.0.0.1:{port}/sweeps")
    message = str(error.value)
    assert message.startswith(f"cannot reach the PostgreSQL server at 127.0.0.1:{port}")
    assert "\n" not in message and "hunter2" not in message


def test_the_cli_exits_2_and_writes_nothing_when_the_server_is_unreachable(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "sweep.yaml"
    config.write_text("method: grid\nparameters:\n  a:\n    values: [1, 2]\n")
    url = f"postgresql://ana:hunter2@127.0.0.1:{_closed_port()}/sweeps"
    for command in (["sweep", str(config)], ["ls"], ["show", "abc"], ["agent", "abc"]):
        assert main([*command, "--db", url]) == 2
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and "127.0.0.1" in lines[0], captured.err
        assert "hunter2" not in captured.out + captured.err
    assert sorted(os.listdir(tmp_path)) == ["sweep.yaml"]


def test_wrong_credentials_are_one_line_without_the_password(postgres_url, capsys):
    wrong = _with_password(postgres_url, "not-the-password")
    with pytest.raises(StoreUnavailableError, match="refused the login of user") as error:
        Store(wrong)
    assert "not-the-password" not in str(error.value)
    assert main(["ls", "--db", wrong]) == 2
    captured = capsys.readouterr()
    assert "refused the login" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert "not-the-password" not in captured.out + captured.err


def test_a_missing_database_says_how_to_create_it(postgres_url):
    missing = postgres_url.rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(StoreUnavailableError, match="has no database 'no_such_db': create it"):
        Store(missing)


def test_reading_a_missing_postgresql_store_creates_nothing(postgres_url):
    with pytest.raises(StoreError, match="no kerasweep store at postgresql://"):
        Store(postgres_url, create=False)
    store = Store(postgres_url)  # now it is one
    store.create_sweep(CONFIG)
    assert len(Store(postgres_url, create=False).sweeps()) == 1


@pytest.mark.slow
def test_without_psycopg_the_error_names_the_extra(tmp_path):
    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from kerasweep.cli import main\n"
        "sys.exit(main(['ls', '--db', 'postgresql://ana:hunter2@127.0.0.1:1/sweeps']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=subprocess_env(), capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "kerasweep ls: error: a PostgreSQL store needs psycopg: pip install 'kerasweep[postgres]'"
    )
