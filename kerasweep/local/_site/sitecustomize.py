"""Start-up hook of a local-sweep program run (see :mod:`kerasweep.local.program`).

Python imports ``sitecustomize`` at start-up from the first ``sys.path`` entry that has one;
the local agent puts this directory first, so this module sets up the run's recording and
then runs the ``sitecustomize`` it shadows, if any.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys


def _setup() -> None:
    try:
        from kerasweep.local.program import setup_child

        setup_child()
    except Exception as err:  # the program still runs, unrecorded
        print(f"kerasweep: cannot record this run: {err}", file=sys.stderr)


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    others = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_setup()
_chain()
