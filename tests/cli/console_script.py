"""Console scripts as pip installs them, for tests that run ``kerasweep`` as a user types it.

A console script runs ``main`` with its own folder first on ``sys.path``, not the current
folder (``python -m kerasweep`` and ``python -c`` put the current folder there instead).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import subprocess_env

# what pip writes for `kerasweep = "kerasweep.cli:main"` in [project.scripts]
_SCRIPT = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {function}
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit({function}())
"""

ENTRY_POINTS = {"kerasweep": "kerasweep.cli:main", "wandb": "wandb.cli.cli:cli"}


def install_script(bin_dir: Path, name: str, python: str | os.PathLike[str] = sys.executable):
    """Write the console script ``name`` (of :data:`ENTRY_POINTS`) into ``bin_dir``."""
    module, function = ENTRY_POINTS[name].split(":")
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / name
    script.write_text(_SCRIPT.format(python=python, module=module, function=function))
    script.chmod(0o755)
    return script


def run_script(script: Path, *args: str, cwd: Path, timeout: float = 300, **env: str):
    """``script *args`` in ``cwd``, run to its end, its output captured as text."""
    return subprocess.run(
        [str(script), *args],
        cwd=cwd,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
