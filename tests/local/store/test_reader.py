"""StoreReader: the reads of a store, and nothing that writes."""

from __future__ import annotations

import pytest

from kerasweep.dashboard import Dashboard
from kerasweep.local._store import Store, StoreError, StoreReader

WRITES = (
    "create_sweep", "set_sweep_state", "register_agent", "end_agent", "heartbeat",
    "reap_stale", "claim_run", "append_rows", "record_stop", "set_bands", "finish_run",
)  # fmt: skip


def test_a_reader_has_every_read_and_no_write():
    assert issubclass(Store, StoreReader)
    assert not [name for name in WRITES if hasattr(StoreReader, name)]
    assert all(callable(getattr(Store, name)) for name in WRITES)


def test_a_reader_reads_what_a_store_wrote(tmp_path):
    db = tmp_path / "k.db"
    sweep_id = Store(db).create_sweep({"method": "grid", "parameters": {"a": {"values": [1]}}})
    reader = StoreReader(db, create=False)
    assert [s.id for s in reader.sweeps()] == [sweep_id]
    assert reader.load(sweep_id).config["method"] == "grid"
    assert reader.snapshot(sweep_id)["runs"] == []


def test_a_reader_of_a_missing_store_creates_nothing(tmp_path):
    with pytest.raises(StoreError):
        StoreReader(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_the_dashboard_holds_a_reader(tmp_path):
    db = tmp_path / "k.db"
    Store(db).create_sweep({"method": "grid", "parameters": {"a": {"values": [1]}}})
    dashboard = Dashboard(db, port=0)
    try:
        assert type(dashboard.store) is StoreReader
    finally:
        dashboard.close()
