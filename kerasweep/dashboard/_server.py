"""The dashboard's HTTP server: :class:`Dashboard` and :func:`serve`.

Why the standard library's ``ThreadingHTTPServer``: the dashboard serves one user (or a few)
a handful of GET requests every two seconds, from a store that answers in milliseconds; a thread
per request is plenty, and no web framework or ASGI server has to be installed on a cluster
node for it. What a framework would add is done in a few lines (:mod:`.handler`): exact routes,
no file system access at all (the only assets are plotly's bundle, read from the installed
plotly package, and the report's script, both held in memory), conditional GETs, gzip.

Safety: it binds 127.0.0.1 unless told otherwise, and warns when told otherwise; the store is
only read, in short transactions, with this thread's connection closed after each request; no
environment variable, key or password is ever read into a response (a store URL is shown with
its password masked).

Example:
    >>> with Dashboard("kerasweep.db", port=0) as dashboard:  # doctest: +SKIP
    ...     dashboard.start()
    ...     print(dashboard.url)
    http://127.0.0.1:41523/
"""

from __future__ import annotations

import contextlib
import html
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any, TextIO

from kerasweep.dashboard import _discovery as discovery
from kerasweep.dashboard._feed import Feed
from kerasweep.dashboard._handler import DISCONNECTS, Handler, is_loopback
from kerasweep.dashboard._sweep_list import sweep_href
from kerasweep.local._store import StoreReader, redact

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "Dashboard", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    dashboard: Dashboard
    loopback_only: bool

    def __init__(self, address: tuple[str, int], dashboard: Dashboard, errors: TextIO) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.dashboard = dashboard
        self.loopback_only = is_loopback(address[0])
        self._errors = errors
        self._open: set[socket.socket] = set()  # connections being served (kept alive)
        self._open_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """End the kept-alive connections too (after :meth:`shutdown` no new ones come)."""
        with self._open_lock:
            open_now = list(self._open)
        for request in open_now:
            with contextlib.suppress(OSError):
                request.shutdown(socket.SHUT_RDWR)

    def report(self, line: str) -> None:
        print(f"kerasweep serve: {line}", file=self._errors, flush=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is nothing to report; anything else is one line."""
        err = sys.exc_info()[1]
        if not isinstance(err, DISCONNECTS):
            self.report(f"error with client {client_address[0]}: {err!r}")


class Dashboard:
    """A dashboard of one store, bound to ``host:port`` (``port=0``: any free port).

    Args:
        db: the store (default ``$KERASWEEP_DB`` or ``./kerasweep.db``); it must exist, and is
            only read.
        host: the address to listen on; ``127.0.0.1`` keeps it to this machine.
        port: the TCP port.
        errors: where one-line error reports go (default stderr).

    Raises:
        kerasweep.local.StoreError: no store at ``db``.
        OSError: the address cannot be bound (a port in use, say), in one line.
    """

    def __init__(
        self,
        db: str | os.PathLike[str] | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        errors: TextIO | None = None,
    ) -> None:
        self.store = StoreReader(db, create=False)
        # an SQLite file by its full path; a database server by its URL, password masked
        location = self.store.location  # a resolved path, or the URL without its password
        self.location = location.reopen() if location.kind == "sqlite" else str(location)
        self.store_label = redact(self.location)
        self.key = discovery.store_key(self.location)
        self.feed = Feed(self.store)
        self.store.close()
        try:
            self._server = _Server((host, port), self, errors or sys.stderr)
        except OSError as err:
            raise OSError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
        self.host, self.port = host, self._server.server_address[1]
        self._thread: threading.Thread | None = None
        self._note: os.PathLike[str] | None = None

    @property
    def url(self) -> str:
        """The dashboard's address as a browser on this machine reaches it."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def url_of(self, sweep_id: str | None) -> str:
        """The address of a sweep's page (of the sweep list without one)."""
        return self.url if sweep_id is None else self.url.rstrip("/") + sweep_href(sweep_id)

    def serve_forever(self) -> None:
        """Answer requests until :meth:`close` (or Ctrl-C) stops it."""
        self._announce()
        self._server.serve_forever(poll_interval=0.2)

    def _announce(self) -> None:
        """Leave the note by which agents find this dashboard (the port already listens)."""
        if self._note is None:
            self._note = discovery.register(self.location, self.url, self.port)

    def start(self) -> Dashboard:
        """Serve in a background thread; returns self."""
        self._announce()
        self._thread = threading.Thread(target=self.serve_forever, name="kerasweep-dashboard")
        self._thread.daemon = True
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, end open connections, free the port and remove this dashboard's
        note."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self._server.drop_connections()
        if self._note is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._note)
            self._note = None

    def __repr__(self) -> str:
        serving = "serving" if self._thread is not None else "not serving"
        return f"<Dashboard of {self.store_label} at {self.url} ({serving})>"

    def _repr_html_(self) -> str | None:
        """In a notebook, once :meth:`start` ed: the dashboard in an iframe. Colab's browser
        reaches the kernel's port through Colab's proxy; elsewhere the notebook's browser
        must reach :attr:`url` (the kernel runs on its machine, or the port is forwarded)."""
        if self._thread is None:
            return None
        url = _colab_proxy_url(self.port) or self.url
        return (
            f'<div style="font-size:13px">Dashboard of {html.escape(self.store_label)}: '
            f'<a href="{html.escape(url)}" target="_blank">{html.escape(url)}</a></div>'
            f'<iframe src="{html.escape(url)}" style="width:100%;height:640px;'
            'border:1px solid #ddd"></iframe>'
        )

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(
    sweep_id: str | None = None,
    *,
    db: str | os.PathLike[str] | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    out: TextIO | None = None,
) -> None:
    """Serve the store's sweeps on a live local web page until Ctrl-C or SIGTERM.

    Args:
        sweep_id: a sweep to open first (its address is printed); it must exist.
        db: the store (default ``$KERASWEEP_DB`` or ``./kerasweep.db``); only read.
        host: ``127.0.0.1`` by default; another address (``0.0.0.0``) lets anyone on the
            network read the sweeps, and prints a warning saying so.
        port: 8787 by default; 0 picks a free port.
        out: where the address is printed (default stdout; warnings go to stderr).

    Raises:
        kerasweep.local.StoreError: no store at ``db``, or no sweep ``sweep_id`` in it.
        OSError: the port is in use.

    Example:
        >>> kerasweep.serve(db="kerasweep.db")  # doctest: +SKIP
        Dashboard of kerasweep.db: http://127.0.0.1:8787/
    """
    out = out or sys.stdout
    with Dashboard(db, host=host, port=port) as dashboard:
        if sweep_id is not None:
            dashboard.store.sweep(sweep_id)
            dashboard.store.close()
        if not is_loopback(host):
            print(
                f"kerasweep serve: warning: listening on {host}: anyone who can reach this "
                f"machine on port {dashboard.port} can read the sweeps in "
                f"{dashboard.store_label}",
                file=sys.stderr,
                flush=True,
            )
        print(f"Dashboard of {dashboard.store_label}: {dashboard.url_of(sweep_id)}", file=out)
        print("Read-only, updates live; Ctrl-C to stop.", file=out, flush=True)
        with _sigterm_ends(), contextlib.suppress(KeyboardInterrupt):
            dashboard.serve_forever()


def _colab_proxy_url(port: int) -> str | None:
    """The address at which Colab's browser reaches ``port`` of the kernel; None elsewhere."""
    if "google.colab" not in sys.modules:
        return None
    try:
        from google.colab.output import eval_js

        return str(eval_js(f"google.colab.kernel.proxyPort({int(port)})"))
    except Exception:  # an older Colab, or no front end to ask
        return None


@contextlib.contextmanager
def _sigterm_ends() -> Iterator[None]:
    """SIGTERM ends :func:`serve` as Ctrl-C does (in the main thread; the old handler comes
    back after)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
