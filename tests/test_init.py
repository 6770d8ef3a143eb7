"""The public namespace: every name resolves, and importing kerasweep stays light."""

from __future__ import annotations

import subprocess
import sys

import kerasweep
from tests.conftest import ROOT, subprocess_env


def test_every_public_name_resolves():
    for name in kerasweep.__all__:
        assert getattr(kerasweep, name) is not None, name
    assert callable(kerasweep.report) and callable(kerasweep.sweep_train)
    assert kerasweep.SWEEP_CONFIG["metric"] == {"name": "val_loss", "goal": "minimize"}


def test_import_is_light_and_names_are_not_shadowed_by_submodules():
    code = (
        "import sys, kerasweep, kerasweep.html_report, kerasweep.local;"
        "heavy = [m for m in ('tensorflow', 'keras', 'wandb') if m in sys.modules];"
        "assert not heavy, heavy;"
        "assert callable(kerasweep.report) and callable(kerasweep.local_agent);"
        "print('ok')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"
