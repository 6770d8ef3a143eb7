"""What ``python -m kerasweep.train`` does around its one run: a process made for one run.

What it buys: in program mode (``wandb agent`` with a ``program:`` sweep, or the local agent
running a program) every run is a process of its own, so its start and its exit are paid
every run (``benchmarks/RESULTS.md``). :func:`program_process` makes both cheaper:

- the exit skips collecting what is alive then
  (:func:`~kerasweep._speedups.long_lived_objects.freeze_survivors_at_exit`);
- TensorFlow is imported once, quietly and with the collector paused
  (:func:`kerasweep._quiet.import_tensorflow_quietly`);
- ``wandb.init`` does not import ``wandb.sdk.launch`` for its launch inputs, which a run
  in a new process never has (:func:`~kerasweep._adapters.wandb_internals.
  launch_inputs_only_when_staged`).

Example:
    >>> with program_process():  # doctest: +SKIP
    ...     code = main()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kerasweep._adapters.wandb_internals import launch_inputs_only_when_staged
from kerasweep._quiet import import_tensorflow_quietly
from kerasweep._speedups.long_lived_objects import freeze_survivors_at_exit

__all__ = ["program_process"]


@contextmanager
def program_process() -> Iterator[None]:
    """The block is this process's one run (see the module's docstring)."""
    freeze_survivors_at_exit()
    import_tensorflow_quietly()
    with launch_inputs_only_when_staged():
        yield
