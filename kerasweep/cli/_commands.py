"""What each ``kerasweep`` command does, given its parsed arguments; returns the exit status."""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import sys

from kerasweep.cli._parser import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
)
from kerasweep.cli._shell_commands import kerasweep_command, wandb_command

__all__ = ["COMMANDS"]


def _open_store(db: str | None, create: bool = False):
    from kerasweep.local._store import Store

    return Store(db, create=create)


def _current_sweep(db: str | None, sweep_id: str):
    """The sweep as it stands, its runs whose agent died shown as preempted."""
    store = _open_store(db)
    store.sweep(sweep_id)
    store.reap_stale(sweep_id)
    return store.load(sweep_id)


def _cmd_sweep(args: argparse.Namespace) -> int:
    sweep_id = _create_sweep(args)
    from kerasweep.local._store import redact, resolve_db

    db = f" --db {redact(args.db)}" if args.db else ""
    # stdout holds the id alone, for SID=$(kerasweep sweep sweep.yaml)
    print(f"Created sweep with ID: {sweep_id} (in {resolve_db(args.db)})", file=sys.stderr)
    print(f"Run sweep agent with: {kerasweep_command()}{db} agent {sweep_id}", file=sys.stderr)
    print(sweep_id)
    return EXIT_OK


def _create_sweep(args: argparse.Namespace) -> str:
    from kerasweep.local._controller import local_sweep

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

    def handleError(self, record: logging.LogRecord) -> None:
        """A reader gone (``kerasweep agent ID | head``) ends the command (see ``main``);
        other errors are logging's usual report."""
        err = sys.exc_info()[1]  # what emit's except block is handling
        if isinstance(err, BrokenPipeError):
            raise err
        super().handleError(record)


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
    from kerasweep.local._agent import load_function

    if args.function:
        try:
            return load_function(args.function)
        except ValueError as err:  # names the spec and what is wrong with it
            raise UsageError(str(err)) from err
    if config.get("program"):
        from kerasweep.local._program import program_file

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
    from kerasweep.local._agent import AgentTerminated, local_agent
    from kerasweep.local._progress import StatusLines

    _setup_run_output(args.verbose)
    from kerasweep.dashboard._discovery import dashboard_hint

    print(dashboard_hint(sweep_id, args.db, command=kerasweep_command()), flush=True)
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
            progress=StatusLines(),  # one line per run, in a notebook's ! or %run too
            checkpoint_every=args.checkpoint_every,
            checkpoint_dir=args.checkpoint_dir,
            time_limit=args.time_limit,
            stale_after=args.stale_after,
            heartbeat_interval=args.heartbeat_interval,
        )
    except AgentTerminated:
        # a preemption (Slurm's time limit, scancel): the job ended as asked, exit 0 so
        # that a requeued job goes on with the sweep
        print("Agent terminated (SIGTERM): its run is preempted; the next agent resumes it.")
        return EXIT_OK
    except KeyboardInterrupt:
        print("Agent interrupted: its run is marked preempted; the next agent resumes it.")
        return EXIT_INTERRUPTED
    n = len(result.run_ids)
    runs = f"{n} run{'' if n == 1 else 's'}"
    ended = {
        "count": f"ran {runs}",
        "exhausted": f"the sweep has no more runs to give ({runs} by this agent)",
        "failures": f"too many failed runs in a row ({runs} by this agent)",
        "time_limit": f"its time limit was reached ({runs} by this agent)",
    }[result.reason]
    print(f"Agent done: {ended}.")
    mode = args.wandb_mode or (
        "disabled" if os.environ.get("WANDB_MODE") == "disabled" else "offline"
    )
    if mode == "offline" and result.run_ids:
        wandb_dir = os.path.join(os.environ.get("WANDB_DIR") or ".", "wandb")
        sync = f"{wandb_command()} sync {wandb_dir}/offline-run-*"
        print(f"wandb runs are offline: upload with `{sync}`")
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
    from kerasweep.local._per_device import run_per_device
    from kerasweep.local._store import DB_ENV_VAR

    options = [sweep_id, "--max-failures", str(args.max_failures), "--no-report"]
    options += ["--reconnect-timeout", str(args.reconnect_timeout)]
    options += ["--checkpoint-every", str(args.checkpoint_every)]
    options += ["--checkpoint-dir", args.checkpoint_dir] if args.checkpoint_dir else []
    options += ["--time-limit", str(args.time_limit)] if args.time_limit else []
    options += ["--stale-after", str(args.stale_after)]
    options += ["--heartbeat-interval", str(args.heartbeat_interval)]
    options += ["--count", str(args.count)] if args.count else []
    options += ["--function", args.function] if args.function else []
    options += ["--wandb-mode", args.wandb_mode] if args.wandb_mode else []
    options += ["--retry-failed"] if getattr(args, "retry_failed", False) else []
    options += ["--verbose"] if args.verbose else []
    env = dict(os.environ)
    if args.db:  # not on the agents' command lines, where a URL's password would show
        env[DB_ENV_VAR] = str(args.db)
    return run_per_device(args.gpus, options, env=env)


def _store_still_there(args: argparse.Namespace, status: int) -> bool:
    """Whether the command reads the store once its agents have ended (leaderboard, report).

    Not after ``--gpus`` agents that failed while the store cannot be reached: each agent's
    last line said so, and the command ends with their lines and their status.
    """
    if not args.gpus or status == EXIT_OK:
        return True
    from kerasweep.local._store import StoreUnavailableError

    try:
        _open_store(args.db).close()
    except StoreUnavailableError:
        return False
    return True


def _write_report_if_available(sweep_id: str, db: str | None) -> None:
    try:
        from kerasweep._html_report import report
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
    if not args.no_report and _store_still_there(args, status):
        _write_report_if_available(args.sweep_id, args.db)
    return status


def _cmd_run(args: argparse.Namespace) -> int:
    from kerasweep.sweep_config import load_sweep_config

    function = _run_function(args, load_sweep_config(args.config))
    sweep_id = _create_sweep(args)
    print(f"Created sweep with ID: {sweep_id}")
    status = _agent(args, sweep_id, function)
    if not _store_still_there(args, status):
        return status
    from kerasweep._sweep_tables import leaderboard

    print()
    print(leaderboard(_open_store(args.db).load(sweep_id)))
    _write_report_if_available(sweep_id, args.db)
    return status


def _cmd_ls(args: argparse.Namespace) -> int:
    from kerasweep._sweep_tables import sweeps_json, sweeps_table
    from kerasweep.local._results import sweep_summaries

    store = _open_store(args.db)
    summaries = sweep_summaries(store)
    print(sweeps_json(summaries) if args.json else sweeps_table(summaries, str(store.location)))
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    from kerasweep._sweep_tables import leaderboard, leaderboard_json

    sweep = _current_sweep(args.db, args.sweep_id)
    print(leaderboard_json(sweep) if args.json else leaderboard(sweep))
    return EXIT_OK


def _cmd_best(args: argparse.Namespace) -> int:
    from kerasweep._sweep_tables import NoBestRunError, best_json, best_params_yaml

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
    from kerasweep.local._results import export_sweep

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
        from kerasweep._html_report import report
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
    from kerasweep.sweep_config._explain import explain

    print(explain(args.config, seed=args.seed, count=args.n, sweep_train=args.function is None))
    return EXIT_OK


COMMANDS = {
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
