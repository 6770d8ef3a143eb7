"""Headless Chromium for tests that check a page as a browser renders it.

:func:`rendered_dom` loads a file, lets its scripts run (virtual time, so plotly finishes
drawing) and returns the DOM serialised after that; :func:`screenshot` saves a PNG.
:class:`Browser` drives a live page over the DevTools protocol. :data:`ALERT_PROBE` goes
first in a page's ``<head>``: it replaces ``alert``, ``confirm`` and ``prompt`` so that any
call marks ``<html data-alerts="N">``, which the dumped DOM shows.

Example:
    >>> binary = find_chromium()  # doctest: +SKIP
    >>> "<html" in rendered_dom(binary, "report.html", "/tmp/profile")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import time
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


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe.

    ``--remote-debugging-pipe`` gives the protocol on file descriptors 3 (commands in) and 4
    (replies and events out), one NUL-terminated JSON message each: no port to find, nothing
    to install beside the browser. For tests that watch a live page: :meth:`goto`, then
    :meth:`wait_for` a JavaScript condition, :meth:`screenshot` when one fails.

    Example:
        >>> with Browser(find_chromium(), "/tmp/profile") as browser:  # doctest: +SKIP
        ...     browser.goto("http://127.0.0.1:8787/")
        ...     browser.evaluate("document.title")
        'Sweeps · kerasweep'
    """

    def __init__(
        self, binary: str, profile: str | os.PathLike[str], *, window: str = "1400,2400"
    ) -> None:
        commands_r, self._commands = os.pipe()
        self._replies, replies_w = os.pipe()

        def wire() -> None:  # in the child: the protocol's descriptors 3 and 4
            os.dup2(commands_r, 3)
            os.dup2(replies_w, 4)

        args = [binary, *_FLAGS, f"--user-data-dir={profile}", f"--window-size={window}"]
        self._proc = subprocess.Popen(
            [*args, "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,
            close_fds=False,
        )
        os.close(commands_r)
        os.close(replies_w)
        self._buffer = b""
        self._next_id = 0
        page = next(
            t for t in self._call("Target.getTargets")["targetInfos"] if t["type"] == "page"
        )
        attached = self._call("Target.attachToTarget", targetId=page["targetId"], flatten=True)
        self._session = attached["sessionId"]
        self._call("Page.enable", session=True)

    def _send(self, method: str, params: dict, session: bool) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium exited")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _call(self, method: str, *, session: bool = False, timeout: float = 60, **params) -> dict:
        wanted = self._send(method, params, session)
        while True:
            message = self._read(timeout)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def goto(self, url: str) -> None:
        """Open ``url`` in the page (returns once the navigation has started)."""
        self._call("Page.navigate", session=True, url=url)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-able values only)."""
        result = self._call(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60, every: float = 0.2):
        """Poll ``expression`` until it is truthy and return it; TimeoutError after
        ``timeout`` seconds, naming the expression and its last value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError as err:  # the page is between two documents, say
                value = err
            if value and not isinstance(value, RuntimeError):
                return value
            time.sleep(every)
        raise TimeoutError(f"waited {timeout:.0f} s for {expression}; last value {value!r}")

    def screenshot(self, png: str | os.PathLike[str]) -> Path:
        """Save a PNG of the whole page as it is now."""
        shot = self._call(
            "Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True
        )
        Path(png).write_bytes(base64.b64decode(shot["data"]))
        return Path(png)

    def close(self) -> None:
        """End the browser."""
        with contextlib.suppress(OSError):
            os.close(self._commands)
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        with contextlib.suppress(OSError):
            os.close(self._replies)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
