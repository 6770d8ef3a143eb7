"""What the dashboard's pages show, read from the store, each with a version for polling.

A :class:`Feed` reads the store only through its public read methods, in short read
transactions (one per request, none held between requests), so it is safe beside running
agents. A sweep's payload is rebuilt only when the sweep changed (the version is a digest of
its records, :meth:`Sweep.to_dict`), and the store is read at most once per ``min_interval``
seconds for any number of open pages. Each part of a payload carries its own digest, so that
a page redraws only the parts that changed.

Example:
    >>> feed = Feed(StoreReader("kerasweep.db", create=False))  # doctest: +SKIP
    >>> version, body = feed.sweep("k3x9q2ab")  # doctest: +SKIP
    >>> sorted(json.loads(body)["html"])[:2]  # doctest: +SKIP
    ['config', 'curves_note']
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kerasweep._html_report.format import script_json
from kerasweep._html_report.page import report_parts
from kerasweep.dashboard._sweep_list import sweep_list_html, sweep_rows
from kerasweep.local._sweep import Sweep

__all__ = ["Feed", "Payload", "digest"]


def digest(obj: Any) -> str:
    """A short, stable digest of JSON-able data."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


@dataclass(frozen=True)
class Payload:
    """One page's content: its ``version``, the ``parts`` (as the page's script reads them),
    and ``body``, the parts as JSON bytes for the polling endpoint."""

    version: str
    parts: Mapping[str, Any]
    body: bytes


def _with_digests(title: str, html: Mapping[str, str], data: Mapping[str, Any]) -> dict:
    """``{"title", "html": {name: [digest, markup]}, "data": {..., "figures": {id: [digest,
    figure]}}}``: the shape the page's script applies."""
    figures = {k: [digest(f), f] for k, f in (data.get("figures") or {}).items()}
    return {
        "title": title,
        "html": {name: [digest(markup), markup] for name, markup in html.items()},
        "data": {**data, "figures": figures},
    }


def _keep_view_state(figure: dict | None) -> dict | None:
    """The figure with ``uirevision`` set, so a redraw keeps the user's zoom, axis type and
    parallel-coordinates filters."""
    if figure is None:
        return None
    layout = {**figure["layout"], "uirevision": "kerasweep"}
    data = [{**trace, "uirevision": "kerasweep"} for trace in figure["data"]]
    return {**figure, "data": data, "layout": layout}


def sweep_parts(sweep: Sweep) -> dict:
    """A sweep page's parts, with digests (see :func:`_with_digests`)."""
    parts = report_parts(sweep)
    data = dict(parts.data)
    data["figures"] = {k: _keep_view_state(f) for k, f in data["figures"].items()}
    return _with_digests(f"{parts.title} · kerasweep", parts.html, data)


class Feed:
    """The dashboard's content from a store, cached by version.

    Args:
        store: an open store; only its read methods are called (``sweeps``, ``runs``,
            ``load``), each request's connection is closed after it (``close``).
        min_interval: seconds during which a page's cached payload is served without
            reading the store again.
    """

    def __init__(self, store: Any, *, min_interval: float = 1.0, max_cached: int = 32) -> None:
        self.store = store
        self.min_interval = float(min_interval)
        self.max_cached = max_cached
        self._cache: OrderedDict[str, tuple[float, Payload]] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def sweeps(self) -> Payload:
        """The list of sweeps (raises the store's errors)."""
        return self._cached("", lambda: sweep_rows(self.store), lambda rows: rows, _list_parts)

    def sweep(self, sweep_id: str) -> Payload:
        """One sweep's page; raises the store's ``UnknownSweepError`` for an unknown id."""
        key = f"sweep:{sweep_id}"
        return self._cached(key, lambda: self.store.load(sweep_id), Sweep.to_dict, sweep_parts)

    def _cached(
        self,
        key: str,
        read: Callable[[], Any],
        data: Callable[[Any], Any],
        parts_of: Callable[[Any], dict],
    ) -> Payload:
        """The payload of page ``key``: ``read()`` from the store, versioned by the digest of
        its ``data``, its parts made by ``parts_of`` when that version is new."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one reader per page at a time; the others get its result
            hit = self._cache.get(key)
            now = time.monotonic()
            if hit is not None and now - hit[0] < self.min_interval:
                return hit[1]
            try:
                source = read()
            finally:
                self.store.close()  # this thread's connection: nothing stays open
            version = digest(data(source))
            if hit is not None and hit[1].version == version:
                payload = hit[1]
            else:
                parts = parts_of(source)
                payload = Payload(version, parts, script_json(parts).encode("utf-8"))
            with self._guard:
                self._cache[key] = (now, payload)
                self._cache.move_to_end(key)
                while len(self._cache) > self.max_cached:
                    old, _ = self._cache.popitem(last=False)
                    self._locks.pop(old, None)
            return payload


def _list_parts(rows: list[dict]) -> dict:
    data = {"metric": None, "runs": [], "parcoordsRuns": [], "curveRuns": [], "figures": {}}
    return _with_digests("Sweeps · kerasweep", {"sweeps": sweep_list_html(rows)}, data)
