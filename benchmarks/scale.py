"""Sweeps of many runs: what the controller costs per run as the sweep grows.

By default, sweeps are run as a user runs them: agents (``local_agent``, wandb disabled) run
a function that logs 6 ``val_loss`` rows and returns at once, until the sweep has ``--runs``
runs (``run_cap``), for random search over a log-uniform learning rate, the same with
hyperband (min_iter 1, eta 2), a grid of that many points, bayes (``--bayes-runs``, SQLite
only), and with ``--methods target`` random search with a ``metric.target`` no run reaches
(each claim asks whether one did). One agent on SQLite, ``--agents`` agent processes on
PostgreSQL (a fresh database on ``$KERASWEEP_TEST_POSTGRES_URL``). Each agent times its own
calls per run: the claim (with the proposal), the rows written (with the metric values read
back for hyperband), hyperband's judgement (with the band table or stop written) and the
end; printed as per-run means over 100-run windows (runs 101-200, 901-1,000 and the last
100) with the ratio of the last window to the first. Then the reads of the SQLite hyperband
sweep: ``kerasweep ls``, ``show``, ``best``, ``export``, ``report`` and the dashboard's
sweep page (``kerasweep serve``), each with its wall time, peak memory (RSS) and output
size.

``--pure`` times the decisions alone, in memory, no store: each of them made by W&B's engine
on every run so far (as the controller asks it today) and by the incremental equivalents in
``kerasweep.sweep_config`` (``_hyperband_bands.HyperbandBands``, ``_proposals``), at 100,
1,000 and 10,000 runs of history:

- **hyperband**: a running run logs a metric row and is judged. Engine: ``engine.stop_runs``
  on every run, the runs already built as the engine's ``SweepRun``. Controller: its
  ``judge_run``, as each judged row asks it today (every run's values handed to the
  engine). Incremental: ``observe`` the value, then ``verdict``, for new runs logging all
  their rows (each row crosses a band until the last). ``rebuild`` is the one-off cost of
  feeding every run's values to new bands (an agent that starts late).
- **grid**: the next point, over a grid of 13,500. Engine: ``engine.next_run`` on every run
  so far, already built. Controller: the same with the runs built for the proposal, as
  its ``propose`` does. Incremental: ``GridProposals.next`` and ``add`` of the point
  proposed (2,000 of them); ``rebuild`` adds every run's parameters.
- **random**: the next proposal; engine and controller as for grid. Incremental:
  :func:`random_proposal`, which hands the engine no runs.
- **bayes** (a table of its own: no incremental equivalent): the engine's next proposal on
  every run so far, already built, and of it the engine's reading of the runs
  (``sweeps.bayes_search._construct_gp_data``: every run's parameters and best value, the
  worst value imputed to failed runs). Its Gaussian process is fit on at most 100 finished
  runs (drawn at random past 100) and at most 95 running ones; fitting takes most of the
  time and varies widely from one draw to the next.

Each run of the generated history logs ``--rows`` values of the metric (min_iter 1, eta 2:
bands 1, 2, 4, 8); all are finished but four. Prints microseconds per decision and the
ratio of the controller's way to the incremental one.

Usage::

    python benchmarks/scale.py --runs 10000
    python benchmarks/scale.py --runs 2000 --stores postgres --methods hyperband --no-reads
    python benchmarks/scale.py --reads kerasweep.db SWEEP_ID
    python benchmarks/scale.py --pure
    python benchmarks/scale.py --pure --sizes 100,1000 --json scale.json
    python benchmarks/scale.py --pure --methods hyperband,grid --seconds 0.2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kerasweep.sweep_config import _engine as engine  # noqa: E402
from kerasweep.sweep_config._hyperband_bands import HyperbandBands  # noqa: E402
from kerasweep.sweep_config._proposals import GridProposals, random_proposal  # noqa: E402

SIZES = (100, 1_000, 10_000)
RUNNING = 4
HYPERBAND = {
    "method": "random",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2},
    "parameters": {
        "learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        "units": {"values": [32, 64, 128]},
    },
}
RANDOM = {k: v for k, v in HYPERBAND.items() if k != "early_terminate"}
GRID = {  # 13,500 points
    "method": "grid",
    "metric": {"name": "val_loss"},
    "parameters": {
        "a": {"values": list(range(30))},
        "b": {"values": [round(0.1 * i, 1) for i in range(30)]},
        "c": {"min": 1, "max": 15},
    },
}


def _per_call_us(call: Callable[[], object], *, least: int, seconds: float) -> float:
    """Microseconds per call: at least `least` calls, and for about `seconds` in all."""
    calls, start = 0, time.perf_counter()
    while calls < least or time.perf_counter() - start < seconds:
        call()
        calls += 1
    return (time.perf_counter() - start) / calls * 1e6


def _history(size: int, rows: int, rng: random.Random) -> dict[str, list[float]]:
    return {
        f"run-{i}": [round(rng.uniform(0.1, 2.0) / (1 + step), 4) for step in range(rows)]
        for i in range(size)
    }


def _hyperband(size: int, rows: int, seconds: float) -> dict:
    rng = random.Random(size)
    values = _history(size, rows, rng)
    names = list(values)
    running = set(names[-RUNNING:])
    judged = names[-1]
    out: dict = {}

    runs = [
        engine.sweep_run(
            name=name,
            state="running" if name in running else "finished",
            config={},
            history=[{"val_loss": v} for v in series],
        )
        for name, series in values.items()
    ]
    out["engine_us"] = _per_call_us(
        lambda: engine.stop_runs(HYPERBAND, runs), least=2, seconds=seconds
    )
    try:
        from kerasweep.local._controller import judge_run
    except ImportError:  # the controller's judging moved: the engine alone is measured
        out["controller_us"] = out["engine_us"]
    else:
        bands = engine.hyperband_bands(HYPERBAND)
        out["controller_us"] = _per_call_us(
            lambda: judge_run(HYPERBAND, values, running, judged, bands=bands),
            least=2,
            seconds=seconds,
        )

    start = time.perf_counter()
    incremental = HyperbandBands.from_config(HYPERBAND)
    for name, series in values.items():
        incremental.sync(name, series)
    out["rebuild_ms"] = (time.perf_counter() - start) * 1e3

    fresh = iter(range(10**9))
    logs = [round(rng.uniform(0.1, 2.0) / (1 + step), 4) for step in range(rows)]

    def new_run_logs() -> None:
        name = f"new-{next(fresh)}"
        for value in logs:
            incremental.observe(name, value)
            incremental.verdict(name)

    out["incremental_us"] = _per_call_us(new_run_logs, least=50, seconds=seconds) / rows
    return out


def _grid(size: int, seconds: float) -> dict:
    grid = GridProposals.from_config(GRID)
    params = []
    for _ in range(size):
        point = grid.next()
        grid.add_config(point)
        params.append(point)
    def built() -> list:
        return [
            engine.sweep_run(name=f"run-{i}", state="finished", config=config, history=[])
            for i, config in enumerate(params)
        ]

    runs = built()
    out: dict = {
        "engine_us": _per_call_us(
            lambda: engine.next_run(GRID, runs, proposal=size), least=2, seconds=seconds
        ),
        "controller_us": _per_call_us(
            lambda: engine.next_run(GRID, built(), proposal=size), least=2, seconds=seconds
        ),
    }
    start = time.perf_counter()
    rebuilt = GridProposals.from_config(GRID)
    for config in params:
        rebuilt.add_config(config)
    out["rebuild_ms"] = (time.perf_counter() - start) * 1e3

    proposals = min(2_000, rebuilt.size - size)  # points left to propose
    start = time.perf_counter()
    for _ in range(proposals):
        rebuilt.add_config(rebuilt.next())
    out["incremental_us"] = (time.perf_counter() - start) / proposals * 1e6
    return out


def _random(size: int, rows: int, seconds: float) -> dict:
    rng = random.Random(size)
    values = _history(size, rows, rng)
    stored = [
        (name, {"learning_rate": rng.uniform(1e-4, 1e-1), "units": 64}, series)
        for name, series in values.items()
    ]

    def built() -> list:
        return [
            engine.sweep_run(
                name=name,
                state="finished",
                config={key: {"value": value} for key, value in params.items()},
                history=[{"val_loss": v} for v in series],
            )
            for name, params, series in stored
        ]

    runs = built()
    return {
        "engine_us": _per_call_us(
            lambda: engine.next_run(RANDOM, runs, seed=0, proposal=size), least=2, seconds=seconds
        ),
        "controller_us": _per_call_us(
            lambda: engine.next_run(RANDOM, built(), seed=0, proposal=size),
            least=2,
            seconds=seconds,
        ),
        "incremental_us": _per_call_us(
            lambda: random_proposal(RANDOM, seed=0, proposal=size), least=20, seconds=seconds
        ),
        "rebuild_ms": 0.0,
    }


def _bayes(size: int, rows: int, seconds: float) -> dict:
    """The engine's bayes search: its Gaussian process is fit on at most 100 of the runs
    (drawn at random, with replacement, past 100), but every run is read to choose them."""
    import sweeps.bayes_search  # the engine's own steps, to time its reading of the runs

    rng = random.Random(size)
    config = {**RANDOM, "method": "bayes"}
    runs = [
        engine.sweep_run(
            name=name,
            state="running" if i >= size - RUNNING else "finished",
            config={
                "learning_rate": {"value": rng.uniform(1e-4, 1e-1)},
                "units": {"value": rng.choice([32, 64, 128])},
            },
            history=[{"val_loss": v} for v in series],
        )
        for i, (name, series) in enumerate(_history(size, rows, rng).items())
    ]
    filled = sweeps.bayes_search.bayes_baseline_validate_and_fill(config)
    return {
        "method": "bayes",
        "runs": size,
        "proposal_us": _per_call_us(
            lambda: engine.next_run(config, runs, seed=0, proposal=size),
            least=3,
            seconds=seconds,
        ),
        "reading_us": _per_call_us(
            lambda: sweeps.bayes_search._construct_gp_data(runs, filled),
            least=3,
            seconds=seconds,
        ),
    }


MEASURES = {
    "hyperband": lambda size, rows, seconds: _hyperband(size, rows, seconds),
    "grid": lambda size, rows, seconds: _grid(size, seconds),
    "random": lambda size, rows, seconds: _random(size, rows, seconds),
}
METHODS = (*MEASURES, "bayes")


def pure(
    sizes: tuple[int, ...], rows: int, seconds: float, methods: tuple[str, ...] = METHODS
) -> list[dict]:
    """Every (method, size) measured; one row each."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine.next_run(RANDOM, [], seed=0)  # the engine's imports, outside the timings
        engine.stop_runs(HYPERBAND, [])
        results = []
        if any(method in MEASURES for method in methods):
            print(HEADER)
        for size in sizes:
            for method in methods:
                if method not in MEASURES:
                    continue
                row = {"method": method, "runs": size, **MEASURES[method](size, rows, seconds)}
                row["ratio"] = row["controller_us"] / row["incremental_us"]
                results.append(row)
                print(_line(row), flush=True)
        if "bayes" in methods:
            print()
            print(BAYES_HEADER)
            engine.next_run({**RANDOM, "method": "bayes"}, [], seed=0)  # scikit-learn's first use
            for size in sizes:
                row = _bayes(size, rows, seconds)
                results.append(row)
                print(
                    f"| bayes  | {size:>6,} | {row['proposal_us']:>13,.0f} |"
                    f" {row['reading_us']:>27,.0f} |",
                    flush=True,
                )
    return results


def _cell(value: float, spec: str, unit: str = "") -> str:
    return "n/a" if math.isnan(value) else f"{value:,{spec}}{unit}"


def _line(row: dict) -> str:
    controller = row["controller_us"]
    cells = [
        f"{row['method']:<9}",
        f"{row['runs']:>6,}",
        f"{row['engine_us']:>11,.0f}",
        f"{controller:>15,.0f}",
        f"{_cell(row['incremental_us'], '.1f'):>16}",
        f"{_cell(row['ratio'], '.0f', 'x'):>9}",
        f"{_cell(row['rebuild_ms'], '.1f'):>12}",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| decision  |   runs | engine (us) | controller (us) | incremental (us) |    ratio |"
    " rebuild (ms) |\n"
    "|-----------|-------:|------------:|----------------:|-----------------:|---------:|"
    "-------------:|"
)


BAYES_HEADER = (
    "| method |   runs | proposal (us) | of which reading runs (us) |\n"
    "|--------|-------:|--------------:|---------------------------:|"
)


# -- the controller at scale: sweeps run by agents, the store's reads of them ----------------

ROWS_PER_RUN = 6
SCALE_METHODS = ("random", "grid", "hyperband", "bayes", "target")
PARTS = ("claim", "rows", "hyperband", "end")


def _scale_config(method: str, runs: int) -> dict:
    """The sweep each method runs: ``runs`` runs exactly (``run_cap``; a grid of that size)."""
    lr = {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1}
    metric = {"name": "val_loss", "goal": "minimize"}
    if method == "grid":
        side = math.ceil(math.sqrt(runs))
        params = {"a": {"values": list(range(side))}, "b": {"values": list(range(side))}}
        return {"method": "grid", "metric": metric, "parameters": params, "run_cap": runs}
    if method == "target":  # a target no run reaches: every claim asks whether one did
        metric = {**metric, "target": 0.0}
    config = {"method": "random" if method != "bayes" else "bayes", "metric": metric,
              "parameters": {"learning_rate": lr}, "run_cap": runs}  # fmt: skip
    if method == "hyperband":
        config["early_terminate"] = {"type": "hyperband", "min_iter": 1, "eta": 2}
    return config


def six_rows() -> None:
    """The run: six ``val_loss`` rows, and back at once."""
    import wandb

    run = wandb.init()
    lr = float(run.config.get("learning_rate", run.config.get("a", 1) * 1e-3 + 1e-4))
    for epoch in range(ROWS_PER_RUN):
        wandb.log({"val_loss": abs(math.log10(lr) + 2.5) + 1.0 / (1 + epoch)})
    run.finish()


def _timed_store_calls(records: list[dict]) -> None:
    """Time, per run, the controller's own calls: the claim (and its proposal), the rows
    written (and the metric values read back for hyperband), hyperband's judgement and the
    band table or stop written, the end (and the agent's one read of the ended run)."""
    from kerasweep.local._hyperband import HyperbandJudge
    from kerasweep.local._store import Store, StoreReader

    current: dict = {}

    def claim(original):
        def timed(self, *args, **kwargs):
            start = time.perf_counter()
            record = original(self, *args, **kwargs)
            elapsed = time.perf_counter() - start
            if record is not None:
                entry = {"n": int(record.name.rsplit("-", 1)[1]), "claim": elapsed,
                         "start": start, "rows": 0.0, "hyperband": 0.0, "end": 0.0}  # fmt: skip
                records.append(entry)
                current["entry"] = entry
            return record
        return timed

    Store.claim_run = claim(Store.claim_run)

    def add(owner: type, name: str, part: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if "entry" in current:
                    current["entry"][part] += time.perf_counter() - start

        setattr(owner, name, timed)

    add(Store, "append_rows", "rows")
    add(HyperbandJudge, "judge_held", "hyperband")
    add(Store, "set_bands", "hyperband")
    add(Store, "record_stop", "hyperband")
    add(Store, "finish_run", "end")
    add(StoreReader, "run", "end")


def worker(db: str, sweep_id: str, out: str) -> None:
    """One agent process: runs the sweep until it has no more runs; writes its timings."""
    import logging

    from kerasweep.local import local_agent

    logging.getLogger("kerasweep.local").setLevel(logging.WARNING)
    records: list[dict] = []
    _timed_store_calls(records)
    started = time.perf_counter()
    local_agent(sweep_id, six_rows, db=db, wandb_mode="disabled")
    ended = time.perf_counter()
    for entry, following in zip(records, [*records[1:], None], strict=True):
        entry["wall"] = (following["start"] if following else ended) - entry["start"]
        entry.pop("start")
    Path(out).write_text(json.dumps({"records": records, "seconds": ended - started}))


def _run_agents(db: str, sweep_id: str, agents: int, workdir: Path) -> list[dict]:
    outs = [workdir / f"agent-{i}.json" for i in range(agents)]
    env = {**os.environ, "WANDB_MODE": "disabled", "WANDB_SILENT": "true",
           "WANDB_DIR": str(workdir), "PYTHONPATH": str(ROOT),
           "KERASWEEP_CHECKPOINT_DIR": str(workdir / "checkpoints")}  # fmt: skip
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", db, sweep_id, str(out)], env=env, cwd=workdir
        )
        for out in outs
    ]
    for proc in procs:
        if proc.wait() != 0:
            raise RuntimeError(f"an agent process ended with status {proc.returncode}")
    records = []
    for out in outs:
        records.extend(json.loads(out.read_text())["records"])
    return sorted(records, key=lambda entry: entry["n"])


def windows(runs: int) -> list[tuple[int, int]]:
    """The 100-run windows measured: runs 101-200 (past the first runs' warm-up), the 100
    runs up to run 1,000, and the last 100 (as far as the sweep goes)."""
    ends = sorted({min(200, runs), *(n for n in (1_000,) if 200 < n < runs), runs})
    return [(max(1, end - 99), end) for end in ends]


def _window_ms(records: list[dict], first: int, last: int) -> dict:
    """Per-run means, in milliseconds, over runs ``first``..``last``."""
    chosen = [entry for entry in records if first <= entry["n"] <= last]
    mean = {part: 1e3 * sum(e[part] for e in chosen) / len(chosen) for part in (*PARTS, "wall")}
    mean["controller"] = sum(mean[part] for part in PARTS)
    return mean


def _fresh_store(kind: str, workdir: Path, stack: ExitStack) -> str:
    if kind == "sqlite":
        return str(workdir / "kerasweep.db")
    from tests.postgres import fresh_database

    server = os.environ.get("KERASWEEP_TEST_POSTGRES_URL")
    if not server:
        raise SystemExit("postgres: set KERASWEEP_TEST_POSTGRES_URL (a role that may create "
                         "databases)")  # fmt: skip
    return stack.enter_context(fresh_database(server))


def controller(
    runs: int, stores: tuple[str, ...], methods: tuple[str, ...], agents: int, bayes_runs: int,
    keep: Path | None,
) -> list[dict]:  # fmt: skip
    """Each method's sweep run to ``runs`` runs (bayes: ``bayes_runs``, SQLite only) by one
    agent on SQLite and ``agents`` on PostgreSQL; the per-run costs in each window."""
    from kerasweep.local import local_sweep

    results = []
    print(CONTROLLER_HEADER, flush=True)
    for kind in stores:
        for method in methods:
            if method == "bayes" and kind != "sqlite":
                continue
            size = bayes_runs if method == "bayes" else runs
            count = 1 if kind == "sqlite" else agents
            with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
                workdir = keep / f"{kind}-{method}" if keep else Path(tmp)
                if kind == "postgres":
                    workdir = Path(tmp)
                workdir.mkdir(parents=True, exist_ok=True)
                db = _fresh_store(kind, workdir, stack)
                sweep_id = local_sweep(_scale_config(method, size), db=db, seed=0)
                started = time.perf_counter()
                records = _run_agents(db, sweep_id, count, workdir)
                seconds = time.perf_counter() - started
            row = {"store": kind, "method": method, "agents": count, "runs": len(records),
                   "seconds": seconds, "sweep_id": sweep_id, "windows": {}}  # fmt: skip
            for first, last in windows(len(records)):
                row["windows"][f"{first}-{last}"] = _window_ms(records, first, last)
            spans = list(row["windows"].values())
            row["ratio"] = spans[-1]["controller"] / spans[0]["controller"]
            row["claim_ratio"] = spans[-1]["claim"] / spans[0]["claim"]
            results.append(row)
            print(_controller_line(row), flush=True)
    return results


CONTROLLER_HEADER = (
    "| store    | method    | agents | window (runs) | controller (ms/run) | claim | rows |"
    " hyperband | end | wall (ms/run) |\n"
    "|----------|-----------|-------:|--------------:|--------------------:|------:|-----:|"
    "----------:|----:|--------------:|"
)


def _controller_line(row: dict) -> str:
    lines = []
    for window, mean in row["windows"].items():
        lines.append(
            f"| {row['store']:<8} | {row['method']:<9} | {row['agents']:>6} | {window:>13} |"
            f" {mean['controller']:>19.2f} | {mean['claim']:>5.2f} | {mean['rows']:>4.2f} |"
            f" {mean['hyperband']:>9.2f} | {mean['end']:>3.2f} | {mean['wall']:>13.2f} |"
        )
    lines.append(
        f"|          | {row['method']:<9} | ratio, last window / first:"
        f" controller {row['ratio']:.2f}x, claim {row['claim_ratio']:.2f}x"
        f" ({row['runs']:,} runs in {row['seconds']:.0f} s)"
    )
    return "\n".join(lines)


# -- reads at scale: the commands and pages on the sweep hyperband ran ----------------------

_READ = """
import contextlib, io, json, os, resource, sys, time
sys.argv = ["kerasweep"]
from kerasweep.cli import main
out = io.StringIO()
start = time.perf_counter()
with contextlib.redirect_stdout(out):
    status = main(json.loads(os.environ["SCALE_ARGS"]))
seconds = time.perf_counter() - start
print(json.dumps({"status": status, "seconds": seconds, "bytes": len(out.getvalue()),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _read(args: list[str], cwd: Path) -> dict:
    env = {**os.environ, "SCALE_ARGS": json.dumps(args), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", _READ], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"kerasweep {' '.join(args)}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _dashboard(db: str, sweep_id: str, cwd: Path) -> dict:
    """The dashboard's sweep page and the data it polls, from ``kerasweep serve``."""
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "kerasweep", "serve", "--db", db, "--port", str(port)],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=5).read()
                break
            except OSError:
                time.sleep(0.1)
        out = {}
        for name, path in (("page", f"/sweeps/{sweep_id}"), ("data", f"/api/sweeps/{sweep_id}")):
            start = time.perf_counter()
            body = urllib.request.urlopen(base + path, timeout=600).read()
            out[name] = {"seconds": time.perf_counter() - start, "bytes": len(body)}
        with open(f"/proc/{server.pid}/status", encoding="ascii") as status:
            peak = next(line for line in status if line.startswith("VmHWM:"))
        out["peak_mb"] = int(peak.split()[1]) / 1024
        return out
    finally:
        server.terminate()
        server.wait(timeout=30)


def reads(db: str, sweep_id: str, workdir: Path) -> list[dict]:
    """Wall time, peak memory (RSS) and output size of each read of the sweep."""
    report = workdir / "report.html"
    commands = {
        "ls": ["ls", "--db", db],
        "show": ["show", sweep_id, "--db", db],
        "best": ["best", sweep_id, "--db", db],
        "export (json)": ["export", sweep_id, "--db", db, "-o", str(workdir / "runs.json")],
        "export (csv)": ["export", sweep_id, "--db", db, "--format", "csv",
                         "-o", str(workdir / "runs.csv")],
        "report": ["report", sweep_id, "--db", db, "-o", str(report)],
    }  # fmt: skip
    results = []
    print(READS_HEADER, flush=True)
    for name, args in commands.items():
        row = {"read": name, **_read(args, workdir)}
        if name == "report":
            row["bytes"] = report.stat().st_size
        elif name.startswith("export"):
            row["bytes"] = (workdir / args[-1]).stat().st_size
        results.append(row)
        print(_read_line(row), flush=True)
    served = _dashboard(db, sweep_id, workdir)
    for part in ("page", "data"):
        row = {"read": f"dashboard {part}", "peak_mb": served["peak_mb"], **served[part]}
        results.append(row)
        print(_read_line(row), flush=True)
    return results


READS_HEADER = (
    "| read             | wall (s) | peak RSS (MB) | output (KB) |\n"
    "|------------------|---------:|--------------:|------------:|"
)


def _read_line(row: dict) -> str:
    return (
        f"| {row['read']:<16} | {row['seconds']:>8.2f} | {row['peak_mb']:>13.0f} |"
        f" {row['bytes'] / 1024:>11,.0f} |"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pure", action="store_true", help="time the decisions alone")
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES), help="--pure")
    parser.add_argument("--runs", type=int, default=10_000, help="runs of each sweep")
    parser.add_argument("--bayes-runs", type=int, default=1_000, help="runs of the bayes sweep")
    parser.add_argument("--stores", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--agents", type=int, default=4, help="agent processes on PostgreSQL")
    parser.add_argument("--no-reads", action="store_true", help="skip the reads at scale")
    parser.add_argument("--keep", help="keep each sweep's store and files in this folder")
    parser.add_argument("--reads", nargs=2, metavar=("DB", "SWEEP"),
                        help="only time the reads of this (SQLite) sweep")  # fmt: skip
    parser.add_argument("--worker", nargs=3, metavar=("DB", "SWEEP", "OUT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--rows", type=int, default=8, help="metric rows per run")
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"some of {', '.join(SCALE_METHODS)}"
    )
    parser.add_argument("--json", help="also write the results here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    sizes = tuple(int(s) for s in args.sizes.split(","))
    methods = tuple(m for m in args.methods.split(",") if m)
    unknown = sorted(set(methods) - set(METHODS) - set(SCALE_METHODS))
    stores = tuple(s for s in args.stores.split(",") if s)
    unknown += sorted(set(stores) - {"sqlite", "postgres"})
    if unknown:
        print(f"unknown methods or stores: {', '.join(unknown)}"
              f" (methods: {', '.join(SCALE_METHODS)}; stores: sqlite, postgres)",
              file=sys.stderr)  # fmt: skip
        return 2
    print(f"python {platform.python_version()}, {platform.processor() or platform.machine()}")
    if args.pure:
        results: object = pure(sizes, args.rows, args.seconds, methods)
    elif args.reads:
        results = {"reads": reads(args.reads[0], args.reads[1], Path(args.reads[0]).parent)}
    else:
        with tempfile.TemporaryDirectory() as tmp:
            keep = Path(args.keep or tmp)
            ran = controller(args.runs, stores, methods, args.agents, args.bayes_runs, keep)
            results = {"controller": ran}
            hyperband = keep / "sqlite-hyperband"
            if not args.no_reads and "sqlite" in stores and "hyperband" in methods:
                print()
                db = str(hyperband / "kerasweep.db")
                sweep_id = next(r["sweep_id"] for r in ran if r["store"] == "sqlite"
                                and r["method"] == "hyperband")  # fmt: skip
                results["reads"] = reads(db, sweep_id, hyperband)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
