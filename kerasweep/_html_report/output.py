"""Writing a local sweep's report to a file: :func:`report` (``kerasweep.report``).

Example:
    >>> kerasweep.report("k3x9q2ab", "sweep.html")  # doctest: +SKIP
    ReportPath('sweep.html')
"""

from __future__ import annotations

import html
import os
import pathlib

from kerasweep._html_report.page import render_report

__all__ = ["ReportPath", "report"]


class ReportPath(type(pathlib.Path())):  # PosixPath or WindowsPath: Path itself before 3.12
    """The path of a written report, shown inline as a notebook cell's result.

    It is the path (``open``, ``read_text``, ``str``, ``==`` a ``Path``); a notebook shows
    the report itself in an iframe holding the page (``srcdoc``), so no server or port is
    needed (Colab included).

    >>> ReportPath("sweep.html").name
    'sweep.html'
    """

    height = 640  # pixels of the inline frame

    def _repr_html_(self) -> str | None:
        try:
            page = self.read_text(encoding="utf-8")
        except OSError:  # moved or removed since: the text form says where it was
            return None
        return (
            f'<iframe srcdoc="{html.escape(page, quote=True)}" title="{html.escape(self.name)}" '
            f'style="width:100%;height:{self.height}px;border:1px solid #ddd" '
            'sandbox="allow-scripts allow-popups"></iframe>'
        )


def report(
    sweep_id: str,
    path: str | os.PathLike[str] | None = None,
    *,
    db: str | os.PathLike[str] | None = None,
) -> ReportPath:
    """Write the HTML report of a local sweep and return its path.

    In a notebook, the path returned (a :class:`ReportPath`) shows the report inline.

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
        ReportPath('sweep.html')
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
    return ReportPath(out)
