"""A store in a folder that cannot be written (a copied results folder, a read-only mount).

Every command that only reads works; those that write fail in one line naming the folder.
Each is run as a user runs it: ``python -m kerasweep`` in a process of its own, which, where
the tests run as root (whom permissions do not stop), drops to an unprivileged user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from kerasweep.local._store import Store, StoreReadOnlyError
from tests.conftest import subprocess_env
from tests.local.stored_sweeps import write_sweep

#: Root without the capabilities that let it ignore file permissions: the store's folder and
#: file refuse it as they refuse any user, while the code and the interpreter, wherever they
#: were installed (a private temporary folder in CI), stay its own.
UNPRIVILEGED = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
    "--",
]


class ReadOnlyStore:
    """A store written, then made read-only; ``run`` runs a command as its reader.

    ``how``: ``permissions`` (the folder 0555, the file 0444), ``mount`` (a tmpfs remounted
    read-only) or ``copied mid-sweep`` (permissions, with the ``-wal`` and ``-shm`` files of
    a store still open when it was copied: rows only the WAL holds).
    """

    def __init__(self, base: Path, how: str) -> None:
        self.base = base
        self.folder = base / "results"
        self.db = self.folder / "kerasweep.db"
        self.out = base / "out"  # where the reader may write (a report, its home)
        self.out.mkdir(mode=0o777)
        os.chmod(self.out, 0o777)
        self.folder.mkdir()
        self.mounted = how == "mount"
        if self.mounted:
            _mount(["-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(self.folder)])
        if how == "copied mid-sweep":
            source = base / "live" / "kerasweep.db"
            source.parent.mkdir()
            keeper = Store(source)  # an agent's connection, open while the folder is copied
            keeper.sweeps()
            self.sweep_id, self.run_ids = write_sweep(source)
            for name in os.listdir(source.parent):
                shutil.copy(source.parent / name, self.folder / name)
            keeper.close()
            assert os.path.getsize(f"{self.db}-wal") > 0
        else:
            self.sweep_id, self.run_ids = write_sweep(self.db)
            assert os.listdir(self.folder) == ["kerasweep.db"]  # closed: no -wal, no -shm
        self.files = sorted(os.listdir(self.folder))
        self.prefix: list[str] = []
        if self.mounted:
            _mount(["-o", "remount,ro", str(self.folder)])
        else:
            for name in self.files:
                os.chmod(self.folder / name, 0o444)
            os.chmod(self.folder, 0o555)
            if os.geteuid() == 0:
                self.prefix = UNPRIVILEGED

    def run(self, *args: str, input_code: str | None = None) -> subprocess.CompletedProcess:
        argv = ["-c", input_code] if input_code else ["-m", "kerasweep", *args]
        home = str(self.out)
        env = subprocess_env(HOME=home, XDG_CACHE_HOME=home, XDG_RUNTIME_DIR=home)
        env["KERASWEEP_DB"] = str(self.db)
        return subprocess.run(
            [*self.prefix, sys.executable, *argv],
            cwd=self.out,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def close(self) -> None:
        if self.mounted:  # lazily if a file is still open: the mount never outlives the test
            if subprocess.run(["umount", str(self.folder)], capture_output=True).returncode:
                subprocess.run(["umount", "--lazy", str(self.folder)], check=False)
        else:
            os.chmod(self.folder, 0o755)
        shutil.rmtree(self.base, ignore_errors=True)


def _mount(args: list[str]) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a file system is not permitted here: {done.stderr.strip()}")


@pytest.fixture(params=["permissions", "mount", "copied mid-sweep"])
def read_only(request):
    how = request.param
    if how != "mount" and os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: nothing here is refused to root")
    if how == "mount" and os.geteuid() != 0:
        pytest.skip("mounting a read-only file system needs root (the permissions case runs)")
    base = Path(tempfile.mkdtemp(prefix="kerasweep-ro-"))
    os.chmod(base, 0o755)  # the unprivileged reader must reach it
    store = ReadOnlyStore(base, how)
    try:
        yield store
    finally:
        store.close()


def _ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_ls_show_and_export_read_a_read_only_store(read_only):
    assert read_only.sweep_id in _ok(read_only.run("ls"))
    shown = _ok(read_only.run("show", read_only.sweep_id))
    assert read_only.run_ids["good"] in shown
    exported = json.loads(_ok(read_only.run("export", read_only.sweep_id)))
    assert {run["id"] for run in exported["runs"]} == set(read_only.run_ids.values())
    csv = _ok(read_only.run("export", read_only.sweep_id, "--format", "csv"))
    assert len(csv.strip().splitlines()) == 1 + len(read_only.run_ids)
    assert sorted(os.listdir(read_only.folder)) == read_only.files  # nothing written there


def test_report_reads_a_read_only_store(read_only):
    report = read_only.out / "report.html"
    _ok(read_only.run("report", read_only.sweep_id, "-o", str(report)))
    assert read_only.run_ids["good"] in report.read_text()


def test_load_sweep_reads_a_read_only_store(read_only):
    code = textwrap.dedent(f"""
        from kerasweep.local._results import load_sweep
        sweep = load_sweep({read_only.sweep_id!r}, db={str(read_only.db)!r})
        print(len(sweep.runs), sweep.best_run.id)
    """)
    assert _ok(read_only.run(input_code=code)).split() == ["4", read_only.run_ids["good"]]


def test_the_dashboard_serves_its_first_pages_from_a_read_only_store(read_only):
    code = textwrap.dedent(f"""
        import urllib.request
        from kerasweep.dashboard._server import Dashboard
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))
        with Dashboard({str(read_only.db)!r}, port=0) as dashboard:
            dashboard.start()
            for url in (dashboard.url, dashboard.url_of({read_only.sweep_id!r})):
                with opener.open(url, timeout=30) as page:
                    print(page.status, {read_only.sweep_id!r} in page.read().decode())
    """)
    assert _ok(read_only.run(input_code=code)).split() == ["200", "True", "200", "True"]


def test_writing_to_a_read_only_store_is_one_line_naming_its_folder(read_only):
    config = read_only.out / "sweep.yaml"
    config.write_text("method: grid\nparameters:\n  a:\n    values: [1, 2]\n")
    folder = str(read_only.folder.resolve())
    for command in (
        ["sweep", str(config)],
        ["sweep", str(config), "--db", str(read_only.folder / "new.db")],
        ["agent", read_only.sweep_id, "--count", "1"],
    ):
        done = read_only.run(*command)
        assert done.returncode == 2, done.stdout + done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and folder in lines[0] and "read-only" in lines[0], done.stderr
        assert "internal error" not in lines[0]
    assert sorted(os.listdir(read_only.folder)) == read_only.files


def test_a_read_only_store_object_reads_and_refuses_writes_in_one_line(read_only):
    if read_only.prefix:
        pytest.skip("as root, this process is not refused (the commands' tests drop root's rights)")
    store = Store(read_only.db, create=False)
    try:
        assert [sweep.id for sweep in store.sweeps()] == [read_only.sweep_id]
        assert store.reap_stale(read_only.sweep_id, stale_after=0) == []
        with pytest.raises(StoreReadOnlyError, match="read-only"):
            store.set_sweep_state(read_only.sweep_id, "finished")
    finally:
        store.close()
    with pytest.raises(StoreReadOnlyError, match="read-only"):
        Store(read_only.db)
