"""The dashboard's HTML pages: the sweep list, a sweep (the report's views, live), errors.

Pages load their scripts from the server itself (``/static/...``: plotly's bundle from the
installed plotly package, and the report's script), never from a CDN, and carry the JSON
the script reads, escaped for a ``<script>`` element. Every value from the store reaches a
page escaped, through the report's own code.

Example:
    >>> html = error_page(404, "No sweep 'nope' in this store.")
    >>> "No sweep &#x27;nope&#x27;" in html
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kerasweep._html_report import template
from kerasweep._html_report.assets import CSS
from kerasweep._html_report.format import esc, script_json

__all__ = ["PLOTLY_PATH", "SCRIPT_PATH", "error_page", "list_page", "sweep_page"]

PLOTLY_PATH = "/static/plotly.min.js"
SCRIPT_PATH = "/static/report.js"
POLL_MS = 2000


def _live_data(parts: Mapping[str, Any], url: str, version: str) -> dict[str, Any]:
    """What the page's script reads: the parts' data, plus where and how to poll."""
    data = parts["data"]
    digests = {f"html:{name}": part[0] for name, part in parts["html"].items()}
    digests.update({f"figure:{k}": f[0] for k, f in data["figures"].items()})
    return {
        **data,
        "figures": {k: f[1] for k, f in data["figures"].items()},
        "live": {"url": url, "version": version, "digests": digests, "interval": POLL_MS},
    }


def _topbar(back: bool) -> str:
    link = '<a href="/">&larr; All sweeps</a>' if back else "<span></span>"
    return (
        f'<div class="topbar">{link}<span id="kw-live" class="live wait">connecting</span></div>\n'
    )


def _footer(store: str) -> str:
    return (
        f"Live from {esc(store)}: this page updates itself every {POLL_MS // 1000} s, "
        "read-only. Served by kerasweep."
    )


def _live_page(
    parts: Mapping[str, Any], body: str, scripts: str, *, version: str, api_url: str, store: str
) -> str:
    """A page that polls ``api_url`` for new versions of its ``parts``."""
    return template.document(
        title=esc(parts["title"]),
        body=body,
        data_json=script_json(_live_data(parts, api_url, version)),
        scripts=scripts,
        footer=_footer(store),
    )


def sweep_page(parts: Mapping[str, Any], *, version: str, api_url: str, store: str) -> str:
    """A sweep's page: the report's views, polling ``api_url`` for changes."""
    html = {name: part[1] for name, part in parts["html"].items()}
    body = template.report_body(html, above=_topbar(back=True))
    scripts = f'<script src="{PLOTLY_PATH}"></script>\n<script src="{SCRIPT_PATH}"></script>'
    return _live_page(parts, body, scripts, version=version, api_url=api_url, store=store)


_LIST = """{topbar}<header class="top">
  <div class="eyebrow">kerasweep · live dashboard</div>
  <h1>Sweeps</h1>
  <div class="sub">{store}</div>
</header>
<section class="panel" id="sweep-list">
  <div data-part="sweeps">{sweeps}</div>
</section>
"""


def list_page(parts: Mapping[str, Any], *, version: str, api_url: str, store: str) -> str:
    """The list of sweeps, polling ``api_url`` for changes."""
    body = _LIST.format(
        topbar=_topbar(back=False), store=esc(store), sweeps=parts["html"]["sweeps"][1]
    )
    scripts = f'<script src="{SCRIPT_PATH}"></script>'
    return _live_page(parts, body, scripts, version=version, api_url=api_url, store=store)


_ERROR_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{status} · kerasweep</title>
<style>{css}</style>
</head>
<body>
<main>
<header class="top">
  <div class="eyebrow">kerasweep · {status}</div>
  <h1>{title}</h1>
  <div class="sub">{message}</div>
</header>
<p><a href="/">&larr; All sweeps</a></p>
</main>
</body>
</html>
"""

_TITLES = {
    403: "Not allowed here",
    404: "Not found",
    405: "Not allowed",
    500: "Something went wrong",
    503: "No store",
}


def error_page(status: int, message: str) -> str:
    """A short page for an error ``status`` (the message escaped; no traceback, ever)."""
    return _ERROR_PAGE.format(
        status=status,
        css=CSS,
        title=esc(_TITLES.get(status, "Error")),
        message=esc(message),
    )
