"""Writing a local sweep's report to a file: :func:`report` (``kerasweep.report``).

Example:
    >>> kerasweep.report("k3x9q2ab", "sweep.html")  # doctest: +SKIP
    PosixPath('sweep.html')
"""

from __future__ import annotations

import os
import pathlib

from kerasweep._html_report.page import render_report


def report(
    sweep_id: str,
    path: str | os.PathLike[str] | None = None,
    *,
    db: str | os.PathLike[str] | None = None,
) -> pathlib.Path:
    """Write the HTML report of a local sweep and return its path.

    Args:
        sweep_id: the local sweep's id.
        path: the file to write (missing directories are made); a directory, or a path
            ending in ``/``, gets ``report-<sweep_id>.html`` inside it. Default:
            ``report-<sweep_id>.html`` in the working directory.
        db: the local store's SQLite file (default: ``$KERASWEEP_DB`` or
            ``./kerasweep.db``). It must exist: a report never creates a store.

    Returns:
        The path written.

    Raises:
        kerasweep.local.StoreError: ``db`` is missing or is not a kerasweep store.
        kerasweep.local.UnknownSweepError: the store has no sweep ``sweep_id`` (a
            ``KeyError`` too). Nothing is written in either case.

    Example:
        >>> kerasweep.report("k3x9q2ab", "sweep.html")  # doctest: +SKIP
        PosixPath('sweep.html')
    """
    from kerasweep.local._store import StoreReader

    store = StoreReader(db, create=False)  # a report never creates a store
    try:
        sweep = store.load(sweep_id)
    finally:
        store.close()
    name = f"report-{sweep_id}.html"
    out = pathlib.Path(path) if path is not None else pathlib.Path(name)
    if out.is_dir() or str(path).endswith(("/", os.sep)):
        out = out / name
    page = render_report(sweep)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
