"""The command line's arguments: the parser of every command, its value types, exit codes.

Example:
    >>> build_parser().parse_args(["show", "k3x9q2ab", "--json"]).json
    True
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any, NoReturn

from kerasweep._errors import KerasweepError
from kerasweep._version import __version__

__all__ = ["UsageError", "build_parser"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


class UsageError(KerasweepError):
    """Bad input from the command line: reported in one line, exit status 2.

    Raised for bad input only: an argument, a config, a store path, a sweep id, an output
    path. The errors kerasweep raises for bad input of its own kind (a sweep config that is
    wrong, a store that is not one or lacks the sweep) become this at the command's edge.
    """


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _number(convert: Callable[[str], Any], ok: Callable[[Any], bool], expected: str):
    """An argument type: ``convert(text)`` where ``ok`` holds of it, else one line saying what
    was expected."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, not {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_positive_float = _number(float, lambda v: 0 < v < float("inf"), "a positive number of seconds")
_non_negative_int = _number(int, lambda v: v >= 0, "an integer of at least 0")


def _duration_seconds(text: str) -> float | None:
    """``1h50m``, ``90m``, ``30s``, ``2h`` or plain seconds, as seconds (None if unreadable).

    >>> _duration_seconds("1h50m"), _duration_seconds("90"), _duration_seconds("1x")
    (6600.0, 90.0, None)
    """
    text = text.strip().lower()
    try:
        return float(text)
    except ValueError:
        pass
    number = r"(\d+(?:\.\d+)?)"
    match = re.fullmatch(f"(?:{number}h)?(?:{number}m)?(?:{number}s)?", text)
    if not text or match is None:
        return None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


_duration = _number(_duration_seconds, lambda v: 0 < v < float("inf"), "a duration like 1h50m")
_seed = _number(int, lambda v: 0 <= v < 2**63, "an integer from 0 to 2**63-1")


def _devices(text: str) -> list[str]:
    from kerasweep.local._per_device import parse_devices

    try:
        return parse_devices(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``kerasweep``."""
    verbose = _Parser(add_help=False)
    verbose.add_argument(
        "-v", "--verbose", action="store_true", help="show wandb, program output and tracebacks"
    )
    db = _Parser(add_help=False, parents=[verbose])
    db.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        metavar="PATH|URL",
        help="store: an SQLite file or postgresql://user:password@host:port/dbname"
        " (default: $KERASWEEP_DB or ./kerasweep.db)",
    )
    runs = _Parser(add_help=False)
    runs.add_argument("--count", type=_positive_int, help="number of runs (default: until done)")
    runs.add_argument(
        "--function",
        metavar="MODULE:CALLABLE",
        help="function per run (default: the config's program, else kerasweep.sweep_train)",
    )
    runs.add_argument(
        "--wandb-mode",
        choices=("offline", "disabled"),
        help="wandb for each run: offline (default, syncable later) or disabled",
    )
    runs.add_argument(
        "--max-failures",
        type=_positive_int,
        default=5,
        metavar="N",
        help="stop after N failed runs in a row (default: 5, as W&B)",
    )
    runs.add_argument(
        "--gpus",
        type=_devices,
        metavar="IDS",
        help="one agent process per device, e.g. 0,1,2,3 (its CUDA_VISIBLE_DEVICES); "
        "--count is per agent",
    )
    runs.add_argument(
        "--reconnect-timeout",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="PostgreSQL: how long to wait for a server that went away before the agent "
        "ends (exit 1) (default: 60)",
    )
    runs.add_argument(
        "--checkpoint-every",
        type=_non_negative_int,
        default=1,
        metavar="N",
        help="runs save a checkpoint every N epochs, so an interrupted run resumes "
        "(0: never; default: 1)",
    )
    runs.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="where checkpoints go (default: $KERASWEEP_CHECKPOINT_DIR, else beside an "
        "SQLite store; a PostgreSQL store needs one every agent can reach)",
    )
    runs.add_argument(
        "--time-limit",
        type=_duration,
        metavar="DURATION",
        help="take no new run after this long, e.g. 1h50m (the run in progress goes on)",
    )
    runs.add_argument(
        "--stale-after",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="a run whose agent sent no heartbeat for this long is preempted (default: 60)",
    )
    runs.add_argument(
        "--heartbeat-interval",
        type=_positive_float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between an agent's heartbeats (default: 10)",
    )
    runs.add_argument("--no-report", action="store_true", help=argparse.SUPPRESS)
    new = _Parser(add_help=False)
    new.add_argument("config", metavar="CONFIG", help="sweep config, YAML or JSON (W&B format)")
    new.add_argument("--project", help="W&B project of the runs (default: the config's)")
    new.add_argument("--name", help="sweep name (default: the config's)")
    new.add_argument(
        "--seed",
        type=_seed,
        metavar="N",
        help="seed of the search: the same proposals in the same order every time"
        " (default: fresh randomness)",
    )

    parser = _Parser(
        prog="kerasweep",
        description="Hyperparameter sweeps of Keras models with W&B's engine, offline.",
    )
    parser.add_argument("--db", default=None, metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--version", action="version", version=f"kerasweep {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser(
        "sweep", parents=[new, db], help="create a sweep from a config; print its id"
    )
    agent = commands.add_parser("agent", parents=[runs, db], help="run a sweep's runs")
    agent.add_argument("sweep_id", metavar="SWEEP_ID")
    agent.add_argument(
        "--retry-failed",
        action="store_true",
        help="first run again the parameters of failed and crashed runs",
    )
    commands.add_parser("run", parents=[new, runs, db], help="create a sweep and run it")
    as_json = _Parser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON, for scripts")
    commands.add_parser("ls", parents=[db, as_json], help="list the sweeps in the store")
    show = commands.add_parser("show", parents=[db, as_json], help="a sweep's leaderboard")
    show.add_argument("sweep_id", metavar="SWEEP_ID")
    best = commands.add_parser(
        "best", parents=[db, as_json], help="best parameters of a sweep, as YAML"
    )
    best.add_argument("sweep_id", metavar="SWEEP_ID")
    export = commands.add_parser(
        "export", parents=[db], help="a sweep's runs as JSON (everything) or CSV (one per run)"
    )
    export.add_argument("sweep_id", metavar="SWEEP_ID")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("-o", "--output", metavar="PATH", help="file (default: standard output)")
    explain = commands.add_parser(
        "explain",
        parents=[verbose],
        help="what a config will do (bands, first proposals, traps); runs nothing",
    )
    explain.add_argument("config", metavar="CONFIG", help="sweep config, YAML or JSON")
    explain.add_argument("--seed", type=_seed, metavar="N", help="the seed `run --seed N` uses")
    explain.add_argument(
        "-n", type=_positive_int, default=5, metavar="K", help="proposals to show (default: 5)"
    )
    explain.add_argument(
        "--function",
        metavar="MODULE:CALLABLE",
        help="the function the agents run (default: the config's program, else sweep_train,"
        " whose metric and parameter names are then checked)",
    )
    report = commands.add_parser("report", parents=[db], help="write a sweep's HTML report")
    report.add_argument("sweep_id", metavar="SWEEP_ID")
    report.add_argument("-o", "--output", metavar="PATH", help="report file")
    serve = commands.add_parser("serve", parents=[db], help="a live dashboard of the sweeps")
    serve.add_argument("sweep_id", metavar="SWEEP_ID", nargs="?", help="the sweep to open first")
    serve.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port (default: 8787; 0: any)")
    return parser
