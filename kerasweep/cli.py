"""The ``kerasweep`` command line: local sweeps in the shape W&B users know.

Example:
    $ kerasweep run examples/digits-sweep.yaml          # create a sweep and run it
    $ kerasweep sweep examples/digits-sweep.yaml        # or: create it ...
    $ kerasweep agent SWEEP_ID --count 4                # ... and run agents (any number)
    $ kerasweep ls                                      # sweeps in ./kerasweep.db
    $ kerasweep show SWEEP_ID                           # leaderboard
    $ kerasweep best SWEEP_ID > best.yaml               # best parameters as YAML
    $ kerasweep export SWEEP_ID --format csv > runs.csv # every run, for scripts
    $ kerasweep report SWEEP_ID -o report.html
    $ kerasweep explain sweep.yaml --seed 0              # what a config will do; runs nothing
    $ kerasweep serve                                   # live dashboard, http://127.0.0.1:8787

Bad input gives one ``kerasweep: error: ...`` line and exit status 2, with nothing written;
so does a store that cannot be opened (a server unreachable at start, a refused login).
A PostgreSQL server that goes away mid-sweep is waited for (``--reconnect-timeout``); if it
stays away the agent ends with one line and exit status 1, keeping what was written.
Anything else that goes wrong is an internal error: one line and exit status 1, with its
traceback under ``-v``.
Ctrl-C or SIGTERM ends an agent after marking its run crashed ("interrupted"), with the rows
it logged kept: exit status 130 or 143.
The store is ``--db PATH`` (an SQLite file) or ``--db postgresql://user:password@host:port/db``
(a server agents on many machines share), else ``$KERASWEEP_DB``, else ``./kerasweep.db``.
TensorFlow is only loaded by the runs themselves, with its log noise off.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit status 2.

    Raised for bad input only: an argument, a config, a store path, a sweep id, an output
    path. The errors kerasweep raises for bad input of its own kind (a sweep config that is
    wrong, a store that is not one or lacks the sweep) become this at the command's edge.
    """


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to 2**63-1, not {text!r}")
    return value


def _devices(text: str) -> list[str]:
    from kerasweep.local.per_device import parse_devices

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
    from kerasweep import __version__

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
    report = commands.add_parser("report", parents=[db], help="write a sweep's HTML report")
    report.add_argument("sweep_id", metavar="SWEEP_ID")
    report.add_argument("-o", "--output", metavar="PATH", help="report file")
    serve = commands.add_parser("serve", parents=[db], help="a live dashboard of the sweeps")
    serve.add_argument("sweep_id", metavar="SWEEP_ID", nargs="?", help="the sweep to open first")
    serve.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port (default: 8787; 0: any)")
    return parser


# -- commands ---------------------------------------------------------------------------------


def _open_store(db: str | None, create: bool = False):
    from kerasweep.local.store import Store

    return Store(db, create=create)


def _current_sweep(db: str | None, sweep_id: str):
    """The sweep as it stands, its runs whose agent died shown as crashed."""
    store = _open_store(db)
    store.sweep(sweep_id)
    store.reap_stale(sweep_id)
    return store.load(sweep_id)


def _cmd_sweep(args: argparse.Namespace) -> int:
    sweep_id = _create_sweep(args)
    from kerasweep.local.store import redact, resolve_db

    db = f" --db {redact(args.db)}" if args.db else ""
    print(f"Created sweep with ID: {sweep_id} (in {resolve_db(args.db)})")
    print(f"Run sweep agent with: kerasweep{db} agent {sweep_id}")
    return EXIT_OK


def _create_sweep(args: argparse.Namespace) -> str:
    from kerasweep.local.controller import local_sweep

    return local_sweep(
        args.config, project=args.project, db=args.db, name=args.name, seed=args.seed
    )


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a record is emitted, not when it was made.

    ``main`` may run more than once in a process (tests, notebooks) with stdout replaced in
    between; a handler holding the first stdout would write to a closed stream.
    """

    @property
    def stream(self):  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it
        pass


def _setup_run_output(verbose: bool) -> None:
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("kerasweep")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    if not verbose:
        os.environ.setdefault("WANDB_SILENT", "true")


def _function(args: argparse.Namespace, config: dict):
    """What each run calls: ``--function``, else None for a program, else ``sweep_train``.

    Bad input (an unknown function, a missing program file) fails here, before anything is
    written. Without ``--verbose``, ``sweep_train`` runs with ``verbose: 0`` (no progress
    bars) unless the sweep sets ``verbose``.
    """
    from kerasweep.local.agent import load_function

    if args.function:
        try:
            return load_function(args.function)
        except ValueError as err:  # names the spec and what is wrong with it
            raise UsageError(str(err)) from err
    if config.get("program"):
        from kerasweep.local.program import program_file

        program = program_file(config)
        if program is not None and not os.path.isfile(program):
            raise UsageError(f"program {program!r} of the sweep not found in {os.getcwd()}")
        return None
    from kerasweep.train import sweep_train

    if args.verbose:
        return sweep_train
    from kerasweep._quiet import import_tensorflow_quietly

    with contextlib.suppress(Exception):  # a broken install fails each run, with its error
        import_tensorflow_quietly()
    return functools.partial(sweep_train, {"verbose": 0})


def _agent(args: argparse.Namespace, sweep_id: str, function) -> int:
    if args.gpus:
        return _agents_per_device(args, sweep_id)
    from kerasweep.local.agent import AgentTerminated, local_agent

    _setup_run_output(args.verbose)
    from kerasweep.dashboard.discovery import dashboard_hint

    print(dashboard_hint(sweep_id, args.db), flush=True)
    try:
        result = local_agent(
            sweep_id,
            function,
            args.count,
            db=args.db,
            wandb_mode=args.wandb_mode,
            retry_failed=getattr(args, "retry_failed", False),
            max_consecutive_failures=args.max_failures,
            program_output=args.verbose,
            reconnect_timeout=args.reconnect_timeout,
        )
    except AgentTerminated:
        print("Agent terminated (SIGTERM): its run is marked crashed.")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("Agent interrupted: its run is marked crashed.")
        return EXIT_INTERRUPTED
    n = len(result.run_ids)
    runs = f"{n} run{'' if n == 1 else 's'}"
    ended = {
        "count": f"ran {runs}",
        "exhausted": f"the sweep has no more runs to give ({runs} by this agent)",
        "failures": f"too many failed runs in a row ({runs} by this agent)",
    }[result.reason]
    print(f"Agent done: {ended}.")
    mode = args.wandb_mode or (
        "disabled" if os.environ.get("WANDB_MODE") == "disabled" else "offline"
    )
    if mode == "offline" and result.run_ids:
        wandb_dir = os.path.join(os.environ.get("WANDB_DIR") or ".", "wandb")
        print(f"wandb runs are offline: upload with `wandb sync {wandb_dir}/offline-run-*`")
    return EXIT_FAILED if result.reason == "failures" else EXIT_OK


def _run_function(args: argparse.Namespace, config: dict):
    """:func:`_function`; with ``--gpus`` only checked (each agent loads its own), so None."""
    if not args.gpus:
        return _function(args, config)
    if args.function or config.get("program"):
        _function(args, config)  # bad input fails here, once, before any agent starts
    return None


def _agents_per_device(args: argparse.Namespace, sweep_id: str) -> int:
    """``--gpus``: one ``kerasweep agent`` per device, the store named by $KERASWEEP_DB."""
    from kerasweep.local.per_device import run_per_device
    from kerasweep.local.store import DB_ENV_VAR

    options = [sweep_id, "--max-failures", str(args.max_failures), "--no-report"]
    options += ["--reconnect-timeout", str(args.reconnect_timeout)]
    options += ["--count", str(args.count)] if args.count else []
    options += ["--function", args.function] if args.function else []
    options += ["--wandb-mode", args.wandb_mode] if args.wandb_mode else []
    options += ["--retry-failed"] if getattr(args, "retry_failed", False) else []
    options += ["--verbose"] if args.verbose else []
    env = dict(os.environ)
    if args.db:  # not on the agents' command lines, where a URL's password would show
        env[DB_ENV_VAR] = str(args.db)
    return run_per_device(args.gpus, options, env=env)


def _write_report_if_available(sweep_id: str, db: str | None) -> None:
    try:
        from kerasweep.html_report import report
    except ImportError:
        return
    try:
        print(f"Report: {report(sweep_id, db=db)}")
    except Exception as err:  # the sweep itself went fine
        print(f"kerasweep: report not written: {err}", file=sys.stderr)


def _cmd_agent(args: argparse.Namespace) -> int:
    sweep = _open_store(args.db).sweep(args.sweep_id)  # fail early, in one line
    function = _run_function(args, sweep.config)
    status = _agent(args, args.sweep_id, function)
    if not args.no_report:
        _write_report_if_available(args.sweep_id, args.db)
    return status


def _cmd_run(args: argparse.Namespace) -> int:
    from kerasweep.sweep_config import load_sweep_config

    function = _run_function(args, load_sweep_config(args.config))
    sweep_id = _create_sweep(args)
    print(f"Created sweep with ID: {sweep_id}")
    status = _agent(args, sweep_id, function)
    from kerasweep.sweep_tables import leaderboard

    print()
    print(leaderboard(_open_store(args.db).load(sweep_id)))
    _write_report_if_available(sweep_id, args.db)
    return status


def _cmd_ls(args: argparse.Namespace) -> int:
    from kerasweep.local.results import sweep_summaries
    from kerasweep.sweep_tables import sweeps_json, sweeps_table

    store = _open_store(args.db)
    summaries = sweep_summaries(store)
    print(sweeps_json(summaries) if args.json else sweeps_table(summaries, str(store.location)))
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    from kerasweep.sweep_tables import leaderboard, leaderboard_json

    sweep = _current_sweep(args.db, args.sweep_id)
    print(leaderboard_json(sweep) if args.json else leaderboard(sweep))
    return EXIT_OK


def _cmd_best(args: argparse.Namespace) -> int:
    from kerasweep.sweep_tables import NoBestRunError, best_json, best_params_yaml

    sweep = _current_sweep(args.db, args.sweep_id)
    if sweep.metric is None:
        raise UsageError(f"sweep {sweep.id} has no metric, so no best run")
    try:
        sys.stdout.write(best_json(sweep) + "\n" if args.json else best_params_yaml(sweep))
    except NoBestRunError as err:
        print(f"kerasweep best: {err}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from kerasweep.local.results import export_sweep

    text = export_sweep(_current_sweep(args.db, args.sweep_id), args.format)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                out.write(text)
        except OSError as err:
            raise UsageError(f"cannot write {args.output}: {err.strerror}") from None
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    _current_sweep(args.db, args.sweep_id)
    try:
        from kerasweep.html_report import report
    except ImportError as err:
        print(
            f"kerasweep report: error: the report module is not available: {err}", file=sys.stderr
        )
        return EXIT_FAILED
    try:
        written = report(args.sweep_id, args.output, db=args.db)
    except OSError as err:  # an unwritable output path
        raise UsageError(str(err)) from err
    print(written)
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    from kerasweep.dashboard import serve

    try:
        serve(args.sweep_id, db=args.db, host=args.host, port=args.port)
    except OSError as err:  # the port is in use, or the address is not this machine's
        raise UsageError(str(err)) from err
    return EXIT_OK


def _cmd_explain(args: argparse.Namespace) -> int:
    from kerasweep.sweep_config.explain import explain

    print(explain(args.config, seed=args.seed, count=args.n))
    return EXIT_OK


_COMMANDS = {
    "sweep": _cmd_sweep,
    "agent": _cmd_agent,
    "run": _cmd_run,
    "ls": _cmd_ls,
    "show": _cmd_show,
    "best": _cmd_best,
    "export": _cmd_export,
    "report": _cmd_report,
    "serve": _cmd_serve,
    "explain": _cmd_explain,
}


@contextlib.contextmanager
def _input_errors_are_usage_errors():
    """kerasweep's own bad-input errors (a sweep config, a store) become :class:`UsageError`."""
    from kerasweep.local.store import StoreError, StoreLostError
    from kerasweep.sweep_config import SweepConfigError

    try:
        yield
    except StoreLostError:  # the server went away mid-sweep: not bad input
        raise
    except (SweepConfigError, StoreError) as err:
        raise UsageError(str(err)) from err


def _hide_store_password() -> None:
    """Take a ``--db`` URL's password out of ``sys.argv`` once it is parsed.

    wandb records ``sys.argv`` in each run's metadata (uploaded by ``wandb sync``).
    """
    if any("://" in arg for arg in sys.argv):
        from kerasweep.local.store import redact

        sys.argv[:] = [redact(arg) for arg in sys.argv]


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kerasweep`` command line; returns the exit status.

    0 done, 1 failed (runs failed, or an internal error), 2 bad input, 130/143 interrupted.
    Quiets TensorFlow's start-up logs for the runs (the command's own edge; importing
    kerasweep changes nothing).
    """
    from kerasweep._quiet import quiet_tensorflow
    from kerasweep.local.store.errors import StoreLostError

    quiet_tensorflow()
    # pydantic's notice about the sweeps package's v1-style model config
    warnings.filterwarnings("ignore", message="Valid config keys have changed in V2")
    args = build_parser().parse_args(argv)
    _hide_store_password()
    try:
        with _input_errors_are_usage_errors():
            return _COMMANDS[args.command](args)
    except UsageError as err:
        print(f"kerasweep {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except StoreLostError as err:  # what was written is kept; the agent's run reaped later
        print(f"kerasweep {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("kerasweep: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        if args.verbose:
            traceback.print_exc()
        hint = "" if args.verbose else " (-v shows the traceback)"
        print(
            f"kerasweep {args.command}: internal error: {type(err).__name__}: {_one_line(err)}"
            f"{hint}",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
