"""Shared test set-up: quiet TensorFlow, keep wandb local and offline."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ["WANDB_SILENT"] = "true"
os.environ.setdefault("WANDB_MODE", "disabled")
# XLA executables persist in one cache for the session and its child processes, never in
# the user's (tests of the cache itself give it directories of their own).
os.environ["KERASWEEP_XLA_CACHE"] = tempfile.mkdtemp(prefix="kerasweep-xla-cache-")
atexit.register(shutil.rmtree, os.environ["KERASWEEP_XLA_CACHE"], ignore_errors=True)
# Tests send SIGINT to the agents they start, as Ctrl-C does. A shell starts a background job
# with SIGINT ignored, and every process under it inherits that: a suite started that way
# (`.ci/run &`) restores Python's handler, so that the agents it starts hear Ctrl-C again.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# Never let a test talk to W&B or read a developer's credentials.
for _secret in ("WANDB_API_KEY", "WANDB_BASE_URL"):
    os.environ.pop(_secret, None)


@pytest.fixture
def wandb_dir(tmp_path, monkeypatch):
    """Offline wandb with every wandb directory under tmp_path."""
    root = tmp_path / "wandb-home"
    root.mkdir()
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(var, str(root))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.chdir(tmp_path)
    return root


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python that imports this checkout's kerasweep."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


_STARTED: list[subprocess.Popen] = []


def start_process(command: list[str], **popen) -> subprocess.Popen:
    """``subprocess.Popen(command, **popen)``, killed at the end of the test if still running
    (a test that fails half-way leaves no hung agent behind)."""
    proc = subprocess.Popen(command, **popen)
    _STARTED.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _no_process_left_behind():
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def fresh_python(
    *args: str, cwd: str | os.PathLike[str] = ROOT, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess:
    """A new interpreter that imports this checkout's kerasweep, run to its end, its output
    captured as text: ``fresh_python("-c", code)`` or ``fresh_python(str(script))``."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# -- PostgreSQL (tests/postgres.py): a fresh database per test, on $KERASWEEP_TEST_POSTGRES_URL


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (the README's test command): a worker per CPU core, at most four. Each
    worker loads TensorFlow and starts agents and servers of its own."""
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cores = len(usable) if usable else os.cpu_count() or 1
    return min(4, cores)


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres: needs a PostgreSQL server (tests/postgres.py)")


def pytest_collection_modifyitems(items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        store = callspec.params.get("any_db") if callspec else None
        names = getattr(item, "fixturenames", ())
        if store == "postgresql" or "postgres_url" in names or "postgres_cluster" in names:
            item.add_marker("postgres")


@pytest.fixture(scope="module")
def _module_cluster():
    import tempfile
    from pathlib import Path

    from tests.postgres import Cluster, require_binaries

    bindir = require_binaries()
    # under /tmp itself: pytest's own tmp dirs are closed to the server's user when run as root
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="kerasweep-pg-")), bindir=bindir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def postgres_cluster(_module_cluster):
    """A PostgreSQL server of the test module's own, to stop and restart (tests/postgres.py's
    :class:`~tests.postgres.Cluster`); running when each test starts and after it ends.

    Needs PostgreSQL's binaries, not $KERASWEEP_TEST_POSTGRES_URL; skips without them (fails
    under CI).
    """
    if not _module_cluster.running():
        _module_cluster.start()
    yield _module_cluster
    if not _module_cluster.running():
        _module_cluster.start()


@pytest.fixture
def postgres_url():
    """The URL of a new, empty database on the test server, dropped after the test.

    Skips without a server (fails under CI); see tests/postgres.py for how to start one.
    """
    from tests.postgres import fresh_database, require_server

    with fresh_database(require_server()) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, tmp_path):
    """Each store in turn: an SQLite file in tmp_path, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "kerasweep.db")
    return request.getfixturevalue("postgres_url")


#: Run a module as ``python -m`` does, then print as JSON lines whether any wandb.init
#: imported W&B Launch's inputs module and, from an exit handler that runs after
#: kerasweep's, how many objects Python's shutdown collections would still walk.
MODULE_RUN = """
import atexit, gc, json, runpy, sys
atexit.register(lambda: print(json.dumps({{"tracked_at_exit": len(gc.get_objects())}})))
sys.argv = {argv!r}
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
except SystemExit as end:
    assert not end.code, end.code
launch = "wandb.sdk.launch.inputs.internal"
print(json.dumps({{"wandb_launch_imported": launch in sys.modules}}))
"""


def module_run(argv: list[str], cwd: str | os.PathLike[str], **env: str) -> dict:
    """What :data:`MODULE_RUN` found running ``argv`` in a fresh process (one dict)."""
    done = fresh_python("-c", MODULE_RUN.format(argv=argv), cwd=cwd, **env)
    assert done.returncode == 0, done.stderr
    facts: dict = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            facts.update(json.loads(line))
    return facts
