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
Ctrl-C or SIGTERM ends an agent after marking its run preempted ("interrupted"), with the
rows it logged kept; the next agent resumes it: exit status 130 for Ctrl-C, 0 for SIGTERM (a
preemption, as Slurm sends before a job's time limit: the requeued job goes on).
A reader of the output that goes away (``kerasweep show ID | head -1``) ends any command
quietly with exit status 141, as a Unix tool that SIGPIPE ends (the shell's 128 + 13): no
message, nothing more written; an agent ends at its next line, the runs it ended recorded.
What a script captures is alone on standard output: the id ``kerasweep sweep`` prints
(``SID=$(kerasweep sweep sweep.yaml)``), the YAML of ``best``, the data of ``export`` and
``--json``, the path ``report`` wrote; the sentences around them go to stderr.
The commands kerasweep suggests (``kerasweep serve ...``, ``wandb sync ...``) are written as
this shell can run them: ``.venv/bin/kerasweep serve ...`` when the virtual environment that
ran ``.venv/bin/kerasweep`` is not active.
The store is ``--db PATH`` (an SQLite file) or ``--db postgresql://user:password@host:port/db``
(a server agents on many machines share), else ``$KERASWEEP_DB``, else ``./kerasweep.db``.
TensorFlow is only loaded by the runs themselves, with its log noise off.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from kerasweep.cli._commands import COMMANDS
from kerasweep.cli._parser import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UsageError,
    build_parser,
)

__all__ = ["main"]

EXIT_READER_GONE = 141  # 128 + SIGPIPE: what a shell shows for a Unix tool whose reader left


@contextlib.contextmanager
def _input_errors_are_usage_errors():
    """kerasweep's own bad-input errors (a sweep config, a store) become :class:`UsageError`."""
    from kerasweep.local._store import StoreError, StoreLostError
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
        from kerasweep.local._store import redact

        sys.argv[:] = [redact(arg) for arg in sys.argv]


def _reader_gone() -> bool:
    """Whether standard output is a pipe or socket whose reader has gone away."""
    import select
    import stat

    try:
        fd = sys.stdout.fileno()
        mode = os.fstat(fd).st_mode
    except (AttributeError, OSError, ValueError):  # not a file: nothing a shell reads
        return False
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return False
    if not hasattr(select, "poll"):
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _write_nothing_more() -> None:
    """Point standard output at the null device, so that what is still buffered for a reader
    gone is dropped at exit, not reported."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, sys.stdout.fileno())
        finally:
            os.close(null)


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _internal_error(args: argparse.Namespace, err: Exception) -> int:
    """One line (the traceback too under ``-v``); exit status 1."""
    if args.verbose:
        traceback.print_exception(err)
    hint = "" if args.verbose else " (-v shows the traceback)"
    print(
        f"kerasweep {args.command}: internal error: {type(err).__name__}: {_one_line(err)}"
        f"{hint}",
        file=sys.stderr,
    )
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kerasweep`` command line; returns the exit status.

    0 done, 1 failed (runs failed, or an internal error), 2 bad input, 130 interrupted,
    141 the reader of standard output went away.
    Quiets TensorFlow's start-up logs for the runs (the command's own edge; importing
    kerasweep changes nothing).
    """
    from kerasweep._quiet import quiet_tensorflow
    from kerasweep.local._store.errors import StoreLostError

    quiet_tensorflow()
    # pydantic's notice about the sweeps package's v1-style model config
    warnings.filterwarnings("ignore", message="Valid config keys have changed in V2")
    args = build_parser().parse_args(argv)
    _hide_store_password()
    try:
        with _input_errors_are_usage_errors():
            status = COMMANDS[args.command](args)
        sys.stdout.flush()  # here, where a reader gone is caught, not at exit
        return status
    except BrokenPipeError as err:
        if not _reader_gone():  # a socket or a child's pipe: a bug or a lost service
            return _internal_error(args, err)
        _write_nothing_more()
        return EXIT_READER_GONE
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
        return _internal_error(args, err)
