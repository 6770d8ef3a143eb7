"""The dashboard's routes and what every answer carries (the request handler).

Routes (anything else, ``/../`` included, is a 404 page)::

    /                       the sweeps of the store         /api/sweeps       its JSON
    /sweeps/<id>            one sweep, the report's views   /api/sweeps/<id>  its JSON
    /static/plotly.min.js   plotly's bundle                 /static/report.js the page script
    /healthz                {"kerasweep": version, "store": digest of the store's path}

Pages and JSON carry an ETag (the payload's version): a poll of an unchanged page is a 304.
On a loopback address only requests whose ``Host`` is a loopback name are answered (no DNS
rebinding from a web page). Every answer has a Content-Security-Policy that allows no inline
script and no other origin. An error is a short page, never a traceback; a client that goes
away mid-response costs nothing.

Example:
    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0")
    (True, False)
"""

from __future__ import annotations

import gzip
import hashlib
import ipaddress
import json
import re
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from kerasweep._html_report.assets import SCRIPT
from kerasweep._version import __version__
from kerasweep.dashboard._feed import Payload
from kerasweep.dashboard._pages import PLOTLY_PATH, SCRIPT_PATH, error_page, list_page, sweep_page
from kerasweep.dashboard._sweep_list import sweep_href
from kerasweep.local._store import StoreError, UnknownSweepError

__all__ = ["DISCONNECTS", "Handler", "is_loopback"]

_SWEEP_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}
DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)
_HEADERS = {
    "Content-Security-Policy": (
        # plotly's WebGL traces compile their shaders with Function(): 'unsafe-eval'
        "default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Assets:
    """The static files, read once: plotly's bundle (from the installed plotly) and the
    report's script, each with its gzip form."""

    _lock = threading.Lock()
    _files: dict[str, tuple[bytes, bytes, str]] = {}

    @classmethod
    def get(cls, path: str) -> tuple[bytes, bytes, str] | None:
        if path not in (PLOTLY_PATH, SCRIPT_PATH):
            return None
        with cls._lock:
            if path not in cls._files:
                if path == PLOTLY_PATH:
                    from plotly.offline import get_plotlyjs

                    text = get_plotlyjs()
                else:
                    text = SCRIPT
                body = text.encode("utf-8")
                etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
                cls._files[path] = (body, gzip.compress(body, 6), etag)
            return cls._files[path]


class Handler(BaseHTTPRequestHandler):
    server: Any  # the dashboard's server: .dashboard, .loopback_only, .report(line)
    server_version = "kerasweep"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle or stalled client is dropped
    _head = False

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged (a page polls every two seconds)."""

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _not_allowed(self) -> None:
        page = error_page(405, "This dashboard only reads: GET and HEAD.").encode("utf-8")
        self._send(405, page, "text/html", {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    # -- answering ------------------------------------------------------------------------

    def _answer(self, head: bool) -> None:
        self._head = head
        try:
            if not self._host_allowed():
                page = error_page(403, "This dashboard answers only on its own address.")
                self._send(403, page.encode("utf-8"), "text/html")
                return
            self._route(urlsplit(self.path).path)
        except DISCONNECTS:
            self.close_connection = True
        except UnknownSweepError:
            self._page(404, "No such sweep in this store.")
        except StoreError as err:
            self._page(503, str(err).splitlines()[0] if str(err) else "the store cannot be read")
        except Exception as err:  # never a traceback to the client; one line in the terminal
            self.server.report(f"error answering {self.command} {self.path[:200]!r}: {err!r}")
            self._page(500, "The dashboard could not read this page; see its terminal.")

    def _host_allowed(self) -> bool:
        if not self.server.loopback_only:
            return True
        host = self.headers.get("Host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return is_loopback(name or "localhost")

    def _route(self, raw: str) -> None:
        feed = self.server.dashboard.feed
        path = unquote(raw)
        if path == "/":
            self._payload(feed.sweeps(), lambda p: self._list_html(p))
        elif path == "/api/sweeps":
            self._payload(feed.sweeps(), None)
        elif path == "/healthz":
            self._json({"kerasweep": __version__, "store": self.server.dashboard.key})
        elif asset := _Assets.get(path):
            self._asset(*asset, "text/javascript")
        else:
            kind, _, sweep_id = path.rpartition("/")
            if kind not in ("/sweeps", "/api/sweeps") or not _SWEEP_ID.fullmatch(sweep_id):
                self._page(404, "There is no page at this address.")
                return
            render = (lambda p: self._sweep_html(p, sweep_id)) if kind == "/sweeps" else None
            self._payload(feed.sweep(sweep_id), render)

    def _list_html(self, payload: Payload) -> str:
        label = self.server.dashboard.store_label
        return list_page(payload.parts, version=payload.version, api_url="/api/sweeps", store=label)

    def _sweep_html(self, payload: Payload, sweep_id: str) -> str:
        label = self.server.dashboard.store_label
        api = "/api" + sweep_href(sweep_id)
        return sweep_page(payload.parts, version=payload.version, api_url=api, store=label)

    def _payload(self, payload: Payload, render: Any) -> None:
        """The page (``render`` given) or its JSON, with the payload's version as ETag."""
        etag = f'"{payload.version}"'
        if render is not None:
            html = render(payload).encode("utf-8")
            self._send(200, html, "text/html", {"Cache-Control": "no-store"})
            return
        if self.headers.get("If-None-Match") in (etag, payload.version):
            self._send(304, b"", None, {"ETag": etag, "Cache-Control": "no-cache"})
            return
        self._send(
            200, payload.body, "application/json", {"ETag": etag, "Cache-Control": "no-cache"}
        )

    def _asset(self, body: bytes, zipped: bytes, etag: str, ctype: str) -> None:
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if self.headers.get("If-None-Match") == etag:
            self._send(304, b"", None, headers)
        else:
            self._send(200, body, ctype, headers, zipped=zipped)

    def _json(self, obj: Mapping[str, Any]) -> None:
        body = json.dumps(obj).encode("utf-8")
        self._send(200, body, "application/json", {"Cache-Control": "no-store"})

    def _page(self, status: int, message: str) -> None:
        self._send(status, error_page(status, message).encode("utf-8"), "text/html")

    def _send(
        self,
        status: int,
        body: bytes,
        ctype: str | None,
        headers: Mapping[str, str] | None = None,
        *,
        zipped: bytes | None = None,
    ) -> None:
        gzip_ok = "gzip" in self.headers.get("Accept-Encoding", "")
        if gzip_ok and zipped is None and len(body) > 2048:
            zipped = gzip.compress(body, 5)
        if not gzip_ok:
            zipped = None
        self.send_response(status, HTTPStatus(status).phrase)
        if ctype:
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
        for name, value in {**_HEADERS, **(headers or {})}.items():
            self.send_header(name, value)
        data = body if zipped is None else zipped
        if zipped is not None:
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(0 if status == 304 else len(data)))
        self.end_headers()
        if not self._head and status != 304:
            self.wfile.write(data)
