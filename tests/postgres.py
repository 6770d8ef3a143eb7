"""PostgreSQL for the tests: a throwaway cluster on localhost, and a fresh database per test.

Tests that need a server read its URL from ``$KERASWEEP_TEST_POSTGRES_URL`` (a role allowed to
create databases); without it they skip with one line saying how to enable them, and under CI
(``CI=true``) they fail instead. ``.ci/run`` starts a cluster for the suite; on a machine with
PostgreSQL's binaries (Debian: ``apt-get install postgresql``) start one by hand:

    $ export KERASWEEP_TEST_POSTGRES_URL=$(python -m tests.postgres start /tmp/kerasweep-pg)
    $ python -m pytest tests -k postgres
    $ python -m tests.postgres stop /tmp/kerasweep-pg

A cluster listens on 127.0.0.1 only (on a free port unless one is given), asks TCP clients for
a password (scram-sha-256), and runs as ``postgres`` when started by root (PostgreSQL refuses
to run as root). Tests that restart a server start their own :class:`Cluster`.
"""

from __future__ import annotations

import argparse
import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

URL_ENV_VAR = "KERASWEEP_TEST_POSTGRES_URL"
ROLE = "kerasweep"
ENABLE_HINT = (
    f"PostgreSQL tests need a server: set {URL_ENV_VAR}=postgresql://USER:PASSWORD@HOST:PORT/DB "
    "(a role that may create databases), e.g. "
    f"`export {URL_ENV_VAR}=$(python -m tests.postgres start /tmp/kerasweep-pg)`"
)


# -- the server the tests are given -----------------------------------------------------------


def require_server() -> str:
    """The test server's URL; skips the calling test without one (fails it under CI)."""
    url = os.environ.get(URL_ENV_VAR)
    if not url:
        _skip_or_fail(ENABLE_HINT)
    try:
        import psycopg  # noqa: F401  (the store's driver; databases are created with it)
    except ImportError:
        _skip_or_fail("PostgreSQL tests need psycopg: pip install 'kerasweep[postgres]'")
    return url


def require_binaries() -> Path:
    """PostgreSQL's server binaries, for a test that starts its own :class:`Cluster`; skips
    without them (fails under CI)."""
    bindir = find_bindir()
    if bindir is None:
        _skip_or_fail("this test starts its own PostgreSQL server: apt-get install postgresql")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _skip_or_fail("PostgreSQL tests need psycopg: pip install 'kerasweep[postgres]'")
    return bindir


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: these tests must not skip)", pytrace=False)
    pytest.skip(reason)


def with_database(url: str, dbname: str) -> str:
    """``url`` naming the database ``dbname`` instead of its own."""
    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


def password_of(url: str) -> str:
    """The password in a PostgreSQL URL ("" when it has none)."""
    return urlsplit(url).password or ""


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_url``, dropped afterwards; yields its URL.

    Example:
        >>> with fresh_database(os.environ[URL_ENV_VAR]) as url:  # doctest: +SKIP
        ...     local_sweep(config, db=url)
    """
    import psycopg

    name = "kerasweep_test_" + secrets.token_hex(6)
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        _drop_database(server_url, name)


def _drop_database(server_url: str, name: str, tries: int = 20) -> None:
    """Drop ``name``, ending its connections. An autovacuum worker in it has no role, and
    PostgreSQL refuses to end it for a role that is not a superuser (InsufficientPrivilege,
    seen with three test processes on one server): it is done within moments, so try again."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as admin:
        for attempt in range(tries):
            try:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except psycopg.errors.InsufficientPrivilege:
                if attempt == tries - 1:
                    raise
            time.sleep(0.1)


# -- a throwaway cluster ----------------------------------------------------------------------


def find_bindir() -> Path | None:
    """The directory of PostgreSQL's server binaries (initdb, pg_ctl), or None."""
    for candidate in (os.environ.get("KERASWEEP_TEST_POSTGRES_BIN"), shutil.which("pg_config")):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
        if candidate and Path(candidate).name == "pg_config":
            out = subprocess.run([candidate, "--bindir"], capture_output=True, text=True)
            if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").exists():
                return Path(out.stdout.strip())
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if debian:
        return Path(debian[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parents[1].name
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """A PostgreSQL cluster in ``directory``: its data, socket, log and the role's password.

    Example:
        >>> cluster = Cluster(Path("/tmp/kerasweep-pg"), port=55432)  # doctest: +SKIP
        >>> cluster.start()  # initdb on first use, then a role and database "kerasweep"
        >>> cluster.url
        'postgresql://kerasweep:...@127.0.0.1:55432/kerasweep'
        >>> cluster.stop()
    """

    def __init__(self, directory: Path, port: int | None = None, bindir: Path | None = None):
        self.directory = Path(directory).resolve()
        self.bindir = bindir or find_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL's binaries not found: apt-get install postgresql")
        self.data = self.directory / "data"
        self.log = self.directory / "server.log"
        port_file = self.directory / "port"
        if port is None:
            port = int(port_file.read_text()) if port_file.exists() else free_port()
        self.port = port

    @property
    def password(self) -> str:
        return (self.directory / "password").read_text().strip()

    @property
    def url(self) -> str:
        """The URL of the role ``kerasweep`` and its database, over TCP."""
        return f"postgresql://{ROLE}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{ROLE}"

    def _as_owner(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")
        return done

    def start(self) -> None:
        """Starts the server (creating the cluster, role and database on first use)."""
        first = not self.data.exists()
        if first:
            self._init()
        (self.directory / "port").write_text(str(self.port))
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._as_owner("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                       "-w", "-t", "60", "start")  # fmt: skip
        if first:
            self.psql(f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{self.password}'")
            self.psql(f"CREATE DATABASE {ROLE} OWNER {ROLE}")

    def _init(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        password = os.open(self.directory / "password", os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(password, "w") as out:
            out.write(secrets.token_hex(16))
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self.directory.chmod(0o700)
        self._as_owner("initdb", "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                       "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")  # fmt: skip

    def psql(self, sql: str) -> str:
        """Runs ``sql`` as the cluster's superuser, over its Unix socket; returns the output."""
        done = self._as_owner("psql", "-h", str(self.directory), "-p", str(self.port),
                              "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                              "-tAc", sql)  # fmt: skip
        return done.stdout

    def stop(self, mode: str = "fast") -> None:
        """Stops the server if it runs (``mode``: smart, fast or immediate)."""
        if self.running():
            self._as_owner("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        if not self.data.exists():
            return False
        return self._as_owner("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def remove(self) -> None:
        """Stops the server and deletes the cluster's directory."""
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.postgres", description=__doc__)
    parser.add_argument("action", choices=("start", "stop", "remove", "url"))
    parser.add_argument("directory", type=Path)
    parser.add_argument("port", type=int, nargs="?", help="TCP port (default: a free one)")
    args = parser.parse_args(argv)
    cluster = Cluster(args.directory, args.port)
    if args.action == "start":
        cluster.start()
    elif args.action == "stop":
        cluster.stop()
    elif args.action == "remove":
        cluster.remove()
    if args.action in ("start", "url"):
        print(cluster.url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
