"""Agents find the dashboard that serves their store, and only that one."""

from __future__ import annotations

import json
import os

import pytest

from kerasweep.dashboard import Dashboard
from kerasweep.dashboard._discovery import dashboard_hint, find_dashboard, store_key


@pytest.mark.slow
def test_without_a_dashboard_the_hint_says_how_to_start_one(injected_sweep):
    db, sweep_id = injected_sweep
    assert find_dashboard(db) is None
    assert dashboard_hint(sweep_id, str(db)) == (
        f"Watch it live: kerasweep serve {sweep_id} --db {db}  (then open http://127.0.0.1:8787)"
    )


def test_the_hint_names_the_store_of_the_environment_without_its_password(monkeypatch):
    """``--gpus`` hands its agents the store in $KERASWEEP_DB: the line must still name it."""
    monkeypatch.setenv("KERASWEEP_DB", "postgresql://ana:s3cr3t@127.0.0.1:1/sweeps")
    assert dashboard_hint("abc12345") == (
        "Watch it live: kerasweep serve abc12345 --db postgresql://ana:***@127.0.0.1:1/sweeps"
        "  (then open http://127.0.0.1:8787)"
    )


@pytest.mark.slow
def test_a_dashboard_of_the_same_store_is_found_and_forgotten_when_it_stops(
    injected_sweep, tmp_path, monkeypatch
):
    db, sweep_id = injected_sweep
    with Dashboard(db, port=0) as board:
        board.start()
        assert find_dashboard(db) == board.url
        assert dashboard_hint(sweep_id, db) == f"Dashboard: {board.url}sweeps/{sweep_id}"
        monkeypatch.chdir(db.parent)  # the same store by another name
        assert find_dashboard("kerasweep.db") == board.url
        assert find_dashboard(tmp_path / "other.db") is None
    assert find_dashboard(db) is None
    assert not list((tmp_path).glob("kerasweep/*.json"))  # its note is gone


def test_a_note_left_by_a_dead_or_foreign_dashboard_is_ignored(injected_sweep, tmp_path):
    db = injected_sweep[0]
    notes = tmp_path / "kerasweep"
    notes.mkdir()
    key = store_key(db)
    dead = {"url": "http://127.0.0.1:9/", "pid": 2**22 + 1, "host": os.uname().nodename}
    (notes / f"{key}-9.json").write_text(json.dumps({**dead, "store": key}))
    alive = {**dead, "pid": os.getpid(), "url": "http://127.0.0.1:9/"}  # nothing listens there
    (notes / f"{key}-10.json").write_text(json.dumps({**alive, "store": key}))
    (notes / f"{key}-11.json").write_text("not json")
    assert find_dashboard(db) is None
    assert not (notes / f"{key}-9.json").exists()  # the dead one's note is cleared


def test_the_store_key_holds_no_password():
    with_password = store_key("postgresql://me:s3cret@db:5432/sweeps")
    assert with_password == store_key("postgresql://me:other@db:5432/sweeps")
    assert with_password != store_key("postgresql://me:s3cret@db:5432/other")
