"""The public namespace: every name resolves, and importing kerasweep stays light."""

from __future__ import annotations

import pytest

import kerasweep
from tests.conftest import fresh_python


def test_every_public_name_resolves():
    for name in kerasweep.__all__:
        assert getattr(kerasweep, name) is not None, name
    assert callable(kerasweep.report) and callable(kerasweep.sweep_train)
    assert kerasweep.SWEEP_CONFIG["metric"] == {"name": "val_loss", "goal": "minimize"}


def test_import_is_light_and_names_are_not_shadowed_by_submodules():
    code = (
        "import sys, kerasweep, kerasweep._html_report, kerasweep.local;"
        "heavy = [m for m in ('tensorflow', 'keras', 'wandb') if m in sys.modules];"
        "assert not heavy, heavy;"
        "assert callable(kerasweep.report) and callable(kerasweep.local_agent);"
        "print('ok')"
    )
    proc = fresh_python("-c", code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


STATE = """
import logging, os, random, signal, socket, sys, warnings
import numpy as np

def state():
    loggers = ("", "tensorflow", "absl", "keras", "wandb", "kerasweep", "py.warnings")
    return {
        "warning filters": [repr(f) for f in warnings.filters],
        "socket timeout": socket.getdefaulttimeout(),
        "loggers": [(n, logging.getLogger(n).level, len(logging.getLogger(n).handlers),
                     logging.getLogger(n).propagate) for n in loggers],
        "environment": dict(os.environ),
        "signals": [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)],
        # the one hook kerasweep adds on purpose: wrapt's, which registers GradientTapeModel
        # with Keras whenever Keras is imported (kerasweep/__init__.py)
        "import hooks": [repr(h) for h in (*sys.meta_path, *sys.path_hooks)
                         if type(h).__module__ != "wrapt.importer"],
        "sys.path": list(sys.path),
        "excepthook": sys.excepthook,
        "random": random.getstate(),
        "numpy random": repr(np.random.get_state()),
    }
"""


@pytest.mark.slow
def test_importing_every_module_changes_no_global_state():
    """Warning filters, logging, socket timeout, environment, signals, hooks, random state."""
    code = STATE + (
        "import importlib, pkgutil\n"
        # the libraries themselves first: what they change on import is theirs
        "import tensorflow, keras, wandb, wandb.sdk.wandb_run, sweeps, plotly, sklearn, yaml\n"
        "before = state()\n"
        "import kerasweep\n"
        "names = [m.name for m in pkgutil.walk_packages(kerasweep.__path__, 'kerasweep.')]\n"
        "for name in names:\n"
        "    if name != 'kerasweep.__main__':\n"
        "        importlib.import_module(name)\n"
        "for attr in kerasweep.__all__:\n"
        "    getattr(kerasweep, attr)\n"
        "after = state()\n"
        "changed = [k for k in before if before[k] != after[k]]\n"
        "assert not changed, {k: (before[k], after[k]) for k in changed}\n"
        "assert 'kerasweep.cli' in names and 'kerasweep.local._agent' in names\n"
        "print('ok', len(names))\n"
    )
    proc = fresh_python("-c", code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok")
