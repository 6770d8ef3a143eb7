"""``kerasweep serve``: a live local dashboard of a store's sweeps.

The sweep list (state, method, runs by state, best metric, created) and, per sweep, the HTML
report's views (parallel coordinates, metric per epoch with hyperband's stops and band
thresholds, parameter importance, leaderboard, config), which update while agents run, without
a reload and without redrawing what did not change. The store is only read, in short
transactions, so a dashboard is safe beside any number of agents.

Modules: :mod:`.feed` (the store read into versioned page parts), :mod:`.sweep_list`,
:mod:`.pages` (HTML), :mod:`.server` (HTTP, :func:`serve`), :mod:`.discovery` (agents find a
running dashboard).

Example:
    >>> import kerasweep
    >>> kerasweep.serve(db="kerasweep.db")  # doctest: +SKIP
    Dashboard of kerasweep.db: http://127.0.0.1:8787/
"""

from __future__ import annotations

from kerasweep.dashboard._server import DEFAULT_HOST, DEFAULT_PORT, Dashboard, serve

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "Dashboard", "serve"]
