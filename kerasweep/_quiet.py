"""Keep TensorFlow's start-up log noise out of command-line output.

Must run before TensorFlow is imported: TF reads ``TF_CPP_MIN_LOG_LEVEL`` once at import.
Set ``KERASWEEP_VERBOSE_TF=1`` to see TensorFlow's own logs again.

Example:
    >>> from kerasweep._quiet import import_tensorflow_quietly, quiet_tensorflow
    >>> quiet_tensorflow()
    >>> import_tensorflow_quietly()
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator

from kerasweep._speedups.long_lived_objects import imports_uncollected


def in_notebook() -> bool:
    """Whether this code runs in an IPython kernel (a notebook's), not a terminal or script."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def quiet_tensorflow() -> None:
    """Silence TF's C++ and Python logs and oneDNN notices unless asked for."""
    if os.environ.get("KERASWEEP_VERBOSE_TF"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"tensorflow(\..*)?$")
    warnings.filterwarnings("ignore", module=r"keras(\..*)?$")


@contextlib.contextmanager
def _stderr_fd_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: TF's C++ start-up lines bypass its log level."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def tensorflow_quiet_in_notebook() -> Iterator[None]:
    """In a notebook, an import of TensorFlow inside the block is quiet, as the command
    line's: its C++ log level off and its start-up lines (which bypass that level) silenced.

    Nothing changes outside a notebook, once TensorFlow is imported, or where the user set
    ``TF_CPP_MIN_LOG_LEVEL`` (TF reads it once, at import) or ``KERASWEEP_VERBOSE_TF``.

    >>> with tensorflow_quiet_in_notebook():
    ...     import kerasweep._model  # doctest: +SKIP
    """
    if (
        "tensorflow" in sys.modules
        or "TF_CPP_MIN_LOG_LEVEL" in os.environ
        or os.environ.get("KERASWEEP_VERBOSE_TF")
        or not in_notebook()
    ):
        yield
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with _stderr_fd_silenced():
        yield


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras without their start-up lines (CUDA probing, absl).

    An import error is still raised, and printed once stderr is back.
    """
    quiet_tensorflow()
    if "tensorflow" in sys.modules or os.environ.get("KERASWEEP_VERBOSE_TF"):
        return
    # Paused, not frozen after: the command line's agent starts next, and freezes between
    # runs only where nothing is frozen (kerasweep._speedups.long_lived_objects' rules).
    with _stderr_fd_silenced(), imports_uncollected():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401


@contextlib.contextmanager
def quiet_wandb() -> Iterator[None]:
    """wandb's per-run banners and summaries off inside the block (``WANDB_SILENT``), unless
    the user set ``WANDB_SILENT`` themselves.

    >>> with quiet_wandb():
    ...     pass
    """
    if "WANDB_SILENT" in os.environ:
        yield
        return
    os.environ["WANDB_SILENT"] = "true"
    try:
        yield
    finally:
        os.environ.pop("WANDB_SILENT", None)
