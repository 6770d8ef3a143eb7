"""kerasweep.local._store.location: paths, PostgreSQL URLs and their redaction."""

from __future__ import annotations

import pytest

from kerasweep.local._store.location import (
    StoreLocationError,
    redact,
    resolve_db,
    resolve_db_path,
)


def test_a_path_is_an_sqlite_file_and_a_url_a_postgresql_server(tmp_path):
    assert resolve_db(tmp_path / "a.db").kind == "sqlite"
    location = resolve_db("postgresql://ana:pw@db.lab:6543/sweeps")
    assert location.kind == "postgresql" and location.server == "db.lab:6543"
    assert location.url.drivername == "postgresql+psycopg"
    assert resolve_db("postgres://ana@db.lab/sweeps").server == "db.lab:5432"


def test_the_environment_names_a_url_too(monkeypatch):
    monkeypatch.setenv("KERASWEEP_DB", "postgresql://ana:pw@localhost:5432/sweeps")
    assert resolve_db(None).kind == "postgresql"
    with pytest.raises(StoreLocationError, match="PostgreSQL store, not a file"):
        resolve_db_path(None)


def test_a_url_is_shown_without_its_password_and_reopened_with_it():
    location = resolve_db("postgresql://ana:s3cr%40t@db.lab:5432/sweeps")
    assert str(location) == "postgresql://ana:***@db.lab:5432/sweeps"
    assert "s3cr" not in repr(str(location))
    assert resolve_db(location.reopen()).url.password == "s3cr@t"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("at postgresql+psycopg://u:p@ss@h:5/db now", "at postgresql+psycopg://u:***@h:5/db now"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://h:5432/db", "postgresql://h:5432/db"),
        ("a.db", "a.db"),
    ],
)
def test_redact(text, shown):
    assert redact(text) == shown


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("mysql://u:pw@h/db", "expected a path or postgresql://"),
        ("postgresql://u:pw@h:notaport/db", "cannot be parsed"),
        ("postgresql://u:pw@h:5432", "names no database"),
    ],
)
def test_bad_urls_are_refused_in_one_line_without_password(db, message):
    with pytest.raises(StoreLocationError, match=message) as error:
        resolve_db(db)
    assert "pw" not in str(error.value) and "\n" not in str(error.value)
