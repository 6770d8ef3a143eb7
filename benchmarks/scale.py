"""Sweeps of many runs: what a decision of the controller costs as the sweep grows.

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

    python benchmarks/scale.py --pure
    python benchmarks/scale.py --pure --sizes 100,1000 --json scale.json
    python benchmarks/scale.py --pure --methods hyperband,grid --seconds 0.2
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from kerasweep.sweep_config import engine  # noqa: E402
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pure", action="store_true", help="time the decisions alone")
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--rows", type=int, default=8, help="metric rows per run")
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"some of {', '.join(METHODS)}"
    )
    parser.add_argument("--json", help="also write the results here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.pure:
        print("only --pure is measured so far", file=sys.stderr)
        return 2
    sizes = tuple(int(s) for s in args.sizes.split(","))
    methods = tuple(m for m in args.methods.split(",") if m)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        print(f"unknown methods: {', '.join(unknown)} (known: {', '.join(METHODS)})",
              file=sys.stderr)
        return 2
    print(f"python {platform.python_version()}, {platform.processor() or platform.machine()}")
    results = pure(sizes, args.rows, args.seconds, methods)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
