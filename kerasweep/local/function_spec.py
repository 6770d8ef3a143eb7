"""``module:callable`` or ``path/to/file.py:callable``: the function a local agent runs.

Example:
    >>> import os.path
    >>> load_function("os.path:basename") is os.path.basename
    True
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["load_function"]


def load_function(spec: str) -> Callable[[], Any]:
    """The callable named by ``module:callable`` or ``path/to/file.py:callable``.

    Raises ValueError, naming the spec, when it cannot be found.
    """
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"function {spec!r}: expected module:callable or file.py:callable")
    try:
        if module_name.endswith(".py") or os.sep in module_name:
            path = Path(module_name)
            if not path.is_file():
                raise ValueError(f"function {spec!r}: no file {module_name}")
            name = f"_kerasweep_function_{path.stem}"
            module_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ValueError:
        raise
    except Exception as err:
        raise ValueError(f"function {spec!r}: cannot import {module_name}: {err}") from err
    function = getattr(module, attr, None)
    if not callable(function):
        raise ValueError(f"function {spec!r}: {module_name} has no callable {attr!r}")
    return function
