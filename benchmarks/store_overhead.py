"""What each store costs a sweep: a run's claim and a logged row, on SQLite and PostgreSQL.

Three operations, timed one by one as an agent does them (one transaction each):

- **claim**: ``Store.claim_run`` with W&B's engine proposing (random search over the
  tutorial's space): the sweep's row locked, its runs read, the proposal, the new run written.
- **row**: ``Store.append_rows`` of one row holding the sweep metric.
- **row + hyperband**: the same row through the run's recorder, which then applies
  hyperband: the metric values every run logged since its last judgement read, W&B's
  engine asked, the bands written when they changed (what each epoch of a hyperband sweep
  costs). **of which W&B's engine**: the same decision on the same values already in
  memory, no store involved.

Each run logs ``--rows`` rows, then ends; runs are claimed one after the other, so the
later claims see the earlier runs (as in a real sweep); a first, untimed run warms up
(the engine's imports, the first connections). The SQLite store is a file in a
temporary directory; PostgreSQL is measured when ``--db`` or
``$KERASWEEP_TEST_POSTGRES_URL`` names a server (a temporary database is made and dropped
when the role may create one, else the sweep is written to the named database). Targets:
under 5 ms per row and under 50 ms per claim.

Usage::

    python benchmarks/store_overhead.py
    python benchmarks/store_overhead.py --db postgresql://user:password@localhost/sweeps
    python benchmarks/store_overhead.py --runs 10 --rows 5 --json store.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_MS = {"claim": 50.0, "row": 5.0, "row_hyperband": 5.0, "engine": None}
LABELS = {
    "claim": "claim a run",
    "row": "record a row",
    "row_hyperband": "row + hyperband",
    "engine": "  of which W&B's engine",
}
URL_ENV_VAR = "KERASWEEP_TEST_POSTGRES_URL"


def _config() -> dict:
    from kerasweep import SWEEP_CONFIG

    return {**SWEEP_CONFIG, "method": "random"}


@contextlib.contextmanager
def _postgres_database(url: str) -> Iterator[str]:
    """A temporary database on the server of ``url`` (dropped afterwards), else ``url``."""
    import psycopg
    from sqlalchemy import make_url

    name = "kerasweep_bench_" + secrets.token_hex(4)
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.errors.InsufficientPrivilege:
        yield url
        return
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _timed(times: list[float], call: Callable[..., object], *args, **kwargs) -> object:
    started = time.perf_counter()
    result = call(*args, **kwargs)
    times.append((time.perf_counter() - started) * 1000.0)
    return result


def measure(db: str, runs: int, rows: int, *, seed: int = 0) -> dict[str, list[float]]:
    """Milliseconds of each claim, row and row + hyperband on the store ``db``."""
    from kerasweep.local._controller import judge_run, local_sweep, propose
    from kerasweep.local._recorder import RunRecorder
    from kerasweep.local._store import Store
    from kerasweep.sweep_config._engine import hyperband_bands

    sweep_id = local_sweep(_config(), db=db, seed=seed)
    store = Store(db)
    try:
        sweep = store.sweep(sweep_id)
        bands = hyperband_bands(sweep.config)
        agent_id = store.register_agent(sweep_id)
        times: dict[str, list[float]] = {name: [] for name in TARGET_MS}
        for n in range(-1, runs):  # run -1 warms up (the engine's imports, the connections)
            if n == 0:
                times = {name: [] for name in TARGET_MS}
            record = _timed(times["claim"], store.claim_run, sweep_id, agent_id, propose)
            recorder = RunRecorder(store, sweep, record.id, agent_id=agent_id)
            for epoch in range(rows):
                value = 1.0 / (1 + epoch) + (runs - n) / runs  # later runs better: none stopped
                row = {"epochs": epoch, "loss": value, "val_loss": value}
                if epoch % 2:  # half the rows each way, interleaved
                    _timed(times["row"], store.append_rows, record.id, [row], "val_loss",
                           agent_id=agent_id)  # fmt: skip
                else:
                    _timed(times["row_hyperband"], recorder.log, row)
                    so_far = store.runs(sweep_id)
                    values = {run.id: run.metric_values for run in so_far}
                    running = {run.id for run in so_far if run.state == "running"}
                    _timed(times["engine"], judge_run, sweep.config, values, running, record.id,
                           bands=bands)  # fmt: skip
            recorder.close()
            store.finish_run(record.id, agent_id, "finished")
        store.end_agent(agent_id)
        return times
    finally:
        store.close()


def summarize(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Median and 90th percentile (ms) of each operation, and the median's share of its target."""
    summary = {}
    for name, values in times.items():
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] if ordered else 0.0
        median = statistics.median(ordered) if ordered else 0.0
        target = TARGET_MS[name]
        summary[name] = {
            "median_ms": median,
            "p90_ms": p90,
            "target_ms": target,
            "of_target": median / target if target else None,
            "n": len(ordered),
        }
    return summary


def format_table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """A Markdown table: per store and operation, median and p90 ms, target, ratio."""
    lines = [
        "| store | operation | median ms | p90 ms | target ms | median / target |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for store, summary in results.items():
        for name, cell in summary.items():
            target, ratio = cell["target_ms"], cell["of_target"]
            lines.append(
                f"| {store} | {LABELS[name]} | {cell['median_ms']:.2f} | {cell['p90_ms']:.2f} "
                f"| {f'{target:.0f}' if target else '-'} "
                f"| {f'{ratio:.3f}' if ratio is not None else '-'} |"
            )
    if "sqlite" in results and "postgresql" in results:
        lines.append("")
        for name in ("claim", "row", "row_hyperband"):
            sqlite = results["sqlite"][name]["median_ms"]
            ratio = results["postgresql"][name]["median_ms"] / sqlite if sqlite else 0.0
            lines.append(f"PostgreSQL / SQLite, {LABELS[name]}: {ratio:.2f}x")
    return "\n".join(lines)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("kerasweep", "sqlalchemy", "psycopg", "sweeps"):
        with contextlib.suppress(PackageNotFoundError):
            found[package] = version(package)
    return found


def _server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url, connect_timeout=10) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="store_overhead.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", metavar="URL", help=f"PostgreSQL server (default: ${URL_ENV_VAR})")
    parser.add_argument("--runs", type=int, default=40, help="runs claimed per store (40)")
    parser.add_argument("--rows", type=int, default=20, help="rows logged per run (20)")
    parser.add_argument("--tiny", action="store_true", help="3 runs of 4 rows: a smoke test")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.tiny:
        args.runs, args.rows = 3, 4
    if args.runs < 1 or args.rows < 2:
        parser.error("--runs must be at least 1 and --rows at least 2")
    os.environ.setdefault("WANDB_SILENT", "true")

    url = args.db or os.environ.get(URL_ENV_VAR)
    results: dict[str, dict] = {}
    info: dict[str, object] = {"versions": _versions(), "platform": platform.platform()}
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "kerasweep.db")
        results["sqlite"] = summarize(measure(db, args.runs, args.rows))
    if url:
        from kerasweep.local._store import redact

        with _postgres_database(url) as db:
            info["postgresql_server"] = _server_version(db)
            info["postgresql_at"] = redact(db)
            results["postgresql"] = summarize(measure(db, args.runs, args.rows))
    else:
        print(f"PostgreSQL not measured: pass --db postgresql://... or set ${URL_ENV_VAR}")

    print(f"{args.runs} runs x {args.rows} rows per store; {json.dumps(info['versions'])}")
    if "postgresql_server" in info:
        print(f"PostgreSQL {info['postgresql_server']} at {info['postgresql_at']}")
    print(format_table(results))
    if args.json:
        payload = {"runs": args.runs, "rows": args.rows, **info, "results": results}
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
