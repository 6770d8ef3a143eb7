"""Keep TensorFlow's start-up log noise out of command-line output.

Must run before TensorFlow is imported: TF reads ``TF_CPP_MIN_LOG_LEVEL`` once at import.
Set ``KERASWEEP_VERBOSE_TF=1`` to see TensorFlow's own logs again.

Example:
    >>> from kerasweep._quiet import quiet_tensorflow
    >>> quiet_tensorflow()
"""

from __future__ import annotations

import logging
import os
import warnings


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
