"""Headless Chromium for tests that check a page as a browser renders it.

:func:`rendered_dom` loads a file, lets its scripts run (virtual time, so plotly finishes
drawing) and returns the DOM serialised after that; :func:`screenshot` saves a PNG.
:data:`ALERT_PROBE` goes first in a page's ``<head>``: it replaces ``alert``, ``confirm`` and
``prompt`` so that any call marks ``<html data-alerts="N">``, which the dumped DOM shows.

Example:
    >>> binary = find_chromium()  # doctest: +SKIP
    >>> "<html" in rendered_dom(binary, "report.html", "/tmp/profile")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ALERT_PROBE = (
    "<script>(function(){var n=0;function mark(){n+=1;"
    "document.documentElement.setAttribute('data-alerts',String(n));}"
    "window.alert=mark;window.confirm=function(){mark();return false;};"
    "window.prompt=function(){mark();return null;};})();</script>"
)

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--mute-audio",
    # WebGL on the CPU, so plotly's parcoords draws its lines without a GPU.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


def find_chromium() -> str | None:
    """Path of a Chromium or Chrome binary ($CHROMIUM first), or None."""
    candidates = [os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser"]
    candidates += ["google-chrome", "google-chrome-stable"]
    for name in candidates:
        if name and (path := shutil.which(name)):
            return path
    return None


def with_alert_probe(html: str) -> str:
    """The page with :data:`ALERT_PROBE` as the first thing in its ``<head>``."""
    head = html.index("<head>") + len("<head>")
    return html[:head] + ALERT_PROBE + html[head:]


def _run(binary: str, args: list[str], profile: str | os.PathLike[str], timeout: float) -> str:
    cmd = [binary, *_FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def rendered_dom(
    binary: str,
    page: str | os.PathLike[str],
    profile: str | os.PathLike[str],
    *,
    budget_ms: int = 8000,
    window: str = "1400,2400",
    timeout: float = 120,
) -> str:
    """The page's DOM after its scripts ran for ``budget_ms`` of virtual time."""
    url = Path(page).resolve().as_uri()
    args = [f"--virtual-time-budget={budget_ms}", f"--window-size={window}", "--dump-dom", url]
    return _run(binary, args, profile, timeout)


def screenshot(
    binary: str,
    page: str | os.PathLike[str],
    png: str | os.PathLike[str],
    profile: str | os.PathLike[str],
    *,
    window: str = "1400,3000",
    budget_ms: int = 8000,
    timeout: float = 120,
) -> Path:
    """Save a PNG of the page as it looks after ``budget_ms`` of virtual time."""
    url = Path(page).resolve().as_uri()
    args = [
        f"--virtual-time-budget={budget_ms}",
        f"--window-size={window}",
        "--hide-scrollbars",
        f"--screenshot={Path(png).resolve()}",
        url,
    ]
    _run(binary, args, profile, timeout)
    return Path(png)
