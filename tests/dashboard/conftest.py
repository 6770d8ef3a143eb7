"""Stores for the dashboard's tests, made the way a user makes them (``kerasweep run``)."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.conftest import subprocess_env
from tests.local.helpers import function
from tests.sweep_snapshots import INJECTION

# grid order: series 0 and 1 first; series 1 falls behind series 0 at band 2 and is stopped.
CRAFTED_SWEEP = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 3},
    "parameters": {"series": {"values": [0, 1, 2, 3]}},
}


@pytest.fixture(autouse=True)
def _private_notes(tmp_path, monkeypatch):
    """Dashboards leave their notes under tmp_path, not in the user's runtime directory."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


def write_config(folder: Path, config: dict, name: str = "sweep.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def kerasweep(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """The ``kerasweep`` command, run to its end."""
    return subprocess.run(
        [sys.executable, "-m", "kerasweep", *args],
        cwd=cwd,
        env=subprocess_env(WANDB_MODE="disabled", **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_sweep(folder: Path, config: dict) -> tuple[Path, str]:
    """``kerasweep run`` of ``config`` with the crafted test function: (store, sweep id)."""
    db = folder / "kerasweep.db"
    done = kerasweep(
        "run", str(write_config(folder, config)), "--db", str(db),
        "--function", function("crafted_paced"), "--wandb-mode", "disabled",
        cwd=folder,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return db, re.search(r"Created sweep with ID: (\w+)", done.stdout).group(1)


@pytest.fixture(scope="session")
def injected_sweep(tmp_path_factory) -> tuple[Path, str]:
    """A finished sweep whose name, parameter values and error texts are markup."""
    config = {
        **CRAFTED_SWEEP,
        "name": INJECTION,
        "parameters": {
            "series": {"values": [0, 1]},
            "note": {"values": [INJECTION, '"><img src=x onerror=alert(2)>']},
            "fail": {"values": ["", f"{INJECTION} failed"]},
        },
    }
    return run_sweep(tmp_path_factory.mktemp("injected"), config)


def get(url: str, path: str = "", method: str = "GET", **headers: str):
    """(status, headers, body) of one request, no proxy, no redirect, no decoding."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        skip_host = "Host" in headers
        conn.putrequest(method, path or parts.path or "/", skip_host, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name.replace("_", "-"), value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()
