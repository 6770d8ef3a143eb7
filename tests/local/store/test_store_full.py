"""A store whose file system fills up: one line naming the file and the file system, exit 2,
and what was recorded kept (the run in progress is marked preempted once the store is read
with room again)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import event

from kerasweep.local._store import NewRun, Store, StoreError, StoreFullError
from tests.conftest import subprocess_env

FILLING = textwrap.dedent("""
    import wandb

    def train():
        wandb.init(config={"a": 0})
        for epoch in range(400):
            wandb.log({"epochs": epoch, "val_loss": 1.0 / (epoch + 1), "note": "x" * 2000})
""")
CONFIG = """\
method: grid
metric: {name: val_loss, goal: minimize}
parameters:
  a: {values: [1, 2]}
"""


def _kerasweep(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kerasweep", *args],
        cwd=cwd,
        env=subprocess_env(PYTHONPATH=f"{subprocess_env()['PYTHONPATH']}{os.pathsep}{cwd}"),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def small_file_system(tmp_path):
    """A 512 KiB tmpfs mounted at tmp_path/mnt."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root (the max_page_count test runs)")
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"mounting a file system is not permitted here: {done.stderr.strip()}")
    try:
        yield mount
    finally:  # lazily if a file is still open: the mount never outlives the test
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode:
            subprocess.run(["umount", "--lazy", str(mount)], check=False)


def test_a_sweep_filling_its_file_system_ends_in_one_line_and_keeps_its_rows(
    tmp_path, small_file_system
):
    (tmp_path / "filling.py").write_text(FILLING)
    (tmp_path / "sweep.yaml").write_text(CONFIG)
    db = small_file_system / "kerasweep.db"
    done = _kerasweep(
        "run", "sweep.yaml", "--db", str(db), "--function", "filling:train",
        "--wandb-mode", "disabled", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("kerasweep run: error: store "), done.stderr
    assert str(db) in last and f"file system at {small_file_system} is full" in last
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr

    # with room again, what was recorded is there: the run preempted, its rows kept
    subprocess.run(["mount", "-o", "remount,size=4m", str(small_file_system)], check=True)
    (sweep,) = json.loads(_kerasweep("ls", "--db", str(db), "--json", cwd=tmp_path).stdout)
    shown = _kerasweep("export", sweep["id"], "--db", str(db), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    (run,) = json.loads(shown.stdout)["runs"]
    assert run["state"] == "preempted"  # resumable; the reason says the store was full
    assert run["epochs"] > 10 and len(run["history"]) == run["epochs"]


def test_a_full_store_raises_one_line_naming_the_file(tmp_path):
    """SQLite's own limit on the file's pages gives the error a full file system gives."""
    db = tmp_path / "kerasweep.db"
    store = Store(db)
    sweep_id = store.create_sweep(
        {"method": "grid", "parameters": {"a": {"values": [1]}}}, name="full"
    )
    agent = store.register_agent(sweep_id)
    run = store.claim_run(sweep_id, agent, lambda s, r: NewRun({"a": 1}))
    store.append_rows(run.id, [{"epochs": 0, "loss": 1.0}], "loss", agent_id=agent)
    pages = store.engine.connect().exec_driver_sql("PRAGMA page_count").scalar()

    @event.listens_for(store.engine, "connect")
    def _limit(dbapi_conn, record) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    store.engine.dispose()
    with pytest.raises(StoreFullError) as error:
        for epoch in range(1, 200):
            store.append_rows(run.id, [{"epochs": epoch, "note": "x" * 4000}], "loss")
    message = str(error.value)
    assert isinstance(error.value, StoreError)
    assert "\n" not in message and str(db) in message and "is full" in message
    assert [r.id for r in store.load(sweep_id).runs] == [run.id]  # reads still work
    assert store.history(run.id)[0]["loss"] == 1.0
