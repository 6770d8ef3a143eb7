"""Fixtures for the local controller's tests: an isolated store, wandb and working dir."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest


def _install_sweep_config_standin() -> None:
    """Until kerasweep.sweep_config exists: the smallest loader with its contract."""
    try:
        import kerasweep.sweep_config  # noqa: F401
    except ImportError:
        pass
    else:
        return
    import yaml
    from sweeps import schema_violations_from_proposed_config

    module = types.ModuleType("kerasweep.sweep_config")

    class SweepConfigError(ValueError):
        pass

    def load_sweep_config(source):
        if isinstance(source, dict):
            name, config = "<dict>", dict(source)
        else:
            name = str(source)
            try:
                config = yaml.safe_load(Path(source).read_text())
            except OSError as err:
                raise SweepConfigError(f"{name}: cannot read: {err.strerror}") from None
        if not isinstance(config, dict):
            raise SweepConfigError(f"{name}: not a mapping")
        violations = schema_violations_from_proposed_config(config)
        if violations:
            raise SweepConfigError(f"{name}: {violations[0].splitlines()[0]}")
        return config

    module.SweepConfigError = SweepConfigError
    module.load_sweep_config = load_sweep_config
    sys.modules["kerasweep.sweep_config"] = module


_install_sweep_config_standin()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Work in tmp_path: store, wandb files and the working directory."""
    monkeypatch.chdir(tmp_path)
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.setenv("KERASWEEP_DB", str(tmp_path / "kerasweep.db"))
    for name in ("WANDB_SWEEP_ID", "WANDB_RUN_ID", "WANDB_SWEEP_PARAM_PATH", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "kerasweep.db"
