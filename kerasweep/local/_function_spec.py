"""``module:callable`` or ``path/to/file.py:callable``: the function a local agent runs.

A module is found as ``python -m`` finds it: on ``sys.path``, else in the current folder
(which a console script such as ``kerasweep`` does not put on ``sys.path``). A file's folder
is searched for the modules it imports, as ``python path/to/file.py`` does.

Example:
    >>> import os.path
    >>> load_function("os.path:basename") is os.path.basename
    True
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["load_function"]


def _search_too(folder: str) -> None:
    """Let imports find modules in ``folder``, after everything already on ``sys.path``."""
    known = {os.path.abspath(p or os.curdir) for p in sys.path}
    if os.path.abspath(folder) not in known:
        sys.path.append(folder)
        importlib.invalidate_caches()


def _import_module(spec: str, module_name: str) -> ModuleType:
    """``module_name`` from ``sys.path``, else from the current folder, as ``python -m``."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        top = module_name.partition(".")[0]
        if err.name != top:
            raise  # the module was found; something it imports is missing
        here = os.getcwd()
        if importlib.machinery.PathFinder.find_spec(top, [here]) is None:
            file = module_name.replace(".", os.sep) + ".py"
            raise ValueError(
                f"function {spec!r}: no module {module_name!r} (looked for {file} in {here});"
                f" name its file instead: path/to/{file}:{spec.rpartition(':')[2]}"
            ) from None
    _search_too(here)
    return importlib.import_module(module_name)


def _import_file(spec: str, path: Path) -> ModuleType:
    if not path.is_file():
        raise ValueError(f"function {spec!r}: no file {path}")
    _search_too(str(path.resolve().parent))
    name = f"_kerasweep_function_{path.stem}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


def load_function(spec: str) -> Callable[[], Any]:
    """The callable named by ``module:callable`` or ``path/to/file.py:callable``.

    Raises ValueError, naming the spec, when it cannot be found; for a module found nowhere,
    the error names the current folder and the file form.
    """
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"function {spec!r}: expected module:callable or file.py:callable")
    try:
        if module_name.endswith(".py") or os.sep in module_name:
            module = _import_file(spec, Path(module_name))
        else:
            module = _import_module(spec, module_name)
    except ValueError:
        raise
    except Exception as err:
        raise ValueError(f"function {spec!r}: cannot import {module_name}: {err}") from err
    function = getattr(module, attr, None)
    if not callable(function):
        raise ValueError(f"function {spec!r}: {module_name} has no callable {attr!r}")
    return function
