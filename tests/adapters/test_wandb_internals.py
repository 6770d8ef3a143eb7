"""kerasweep._adapters.wandb_internals: the private wandb API kerasweep relies on is there.

These tests fail loudly when a wandb release moves what the adapter uses.
"""

from __future__ import annotations

import importlib
import os

import pytest
import wandb
from wandb.sdk import wandb_setup

from kerasweep._adapters import wandb_internals
from kerasweep._adapters.wandb_internals import (
    LOG_CLASSES,
    SETTINGS_STATE,
    cached_working_set,
    capture_log,
    capturing,
    forget_settings,
    launch_inputs_only_when_staged,
)
from tests.conftest import fresh_python


@pytest.fixture(autouse=True)
def _no_wandb_setup_left_behind():
    """wandb keeps its setup (a disabled run's: no service) for the process; end it after each."""
    yield
    wandb.teardown()


class _Sink:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def log(self, data, step=None, commit=None):
        self.calls.append((dict(data), step, commit))

    def report_error(self, err):
        raise AssertionError(f"unexpected {err!r}")


def test_wandbs_run_classes_define_log_where_the_adapter_wraps_it():
    for module_name, class_name in LOG_CLASSES.items():
        cls = getattr(importlib.import_module(module_name), class_name)
        assert "log" in vars(cls), f"{module_name}.{class_name}.log moved"
    assert wandb.sdk.lib.noop_run.NoopRun is type(wandb.init(mode="disabled"))
    wandb.finish()


def test_wandbs_setup_singleton_has_the_settings_the_adapter_resets():
    wandb.setup()
    singleton = wandb_setup._singleton
    assert singleton is not None and wandb_setup._singleton_lock is not None
    for name in (*SETTINGS_STATE, "_logger", "_pid", "most_recent_active_run"):
        assert hasattr(singleton, name), f"wandb_setup._singleton.{name} is gone"
    assert callable(wandb_setup._EarlyLogger)
    assert callable(wandb.util.working_set)


def test_capture_sees_every_way_of_logging_and_ends_with_the_block():
    sink = _Sink()
    with capture_log(sink):
        assert capturing() is sink
        run = wandb.init(mode="disabled")
        wandb.log({"a": 1})
        run.log({"b": 2}, step=3)
        run.log({"c": 3}, commit=False)
        # the wrapper only passes rows on: no run is found through wandb's class
        assert not hasattr(wandb.sdk.wandb_run.Run.log, "__kerasweep_sink__")
        run.finish()
    assert sink.calls == [({"a": 1}, None, None), ({"b": 2}, 3, None), ({"c": 3}, None, False)]
    assert capturing() is None
    run = wandb.init(mode="disabled")
    run.log({"d": 4})
    run.finish()
    assert len(sink.calls) == 3


def test_forget_settings_makes_wandb_read_the_environment_again(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    wandb.setup()
    monkeypatch.setenv("WANDB_RUN_GROUP", "first")
    assert forget_settings() is True  # read when this process first set wandb up
    assert wandb_setup.singleton().settings.run_group == "first"
    monkeypatch.setenv("WANDB_RUN_GROUP", "second")
    assert wandb_setup.singleton().settings.run_group == "first"  # wandb keeps what it read
    assert forget_settings() is True
    assert wandb_setup._singleton._pid == os.getpid()
    assert wandb_setup.singleton().settings.run_group == "second"


def test_the_package_list_is_read_once_inside_the_block():
    original = wandb.util.working_set
    with cached_working_set():
        assert list(wandb.util.working_set()) == list(wandb.util.working_set())
        assert wandb.util.working_set.__wrapped__ is original
    assert wandb.util.working_set is original
    assert wandb_internals.__doc__ and "0.31" in wandb_internals.__doc__


def _fresh_python(code: str, tmp_path) -> str:
    """``code``'s stdout in a new interpreter, wandb offline and writing in ``tmp_path``."""
    dirs = ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR")
    done = fresh_python(
        "-c",
        code,
        cwd=tmp_path,
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        **dict.fromkeys(dirs, str(tmp_path)),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_a_run_start_imports_launch_inputs_only_when_they_can_be_staged(tmp_path):
    # a new process: wandb.init imports the module (so the name is still wandb's) ...
    out = _fresh_python(
        "import sys, wandb\n"
        "from kerasweep._adapters.wandb_internals import LAUNCH_INPUTS_MODULE\n"
        "wandb.init(config={'a': 1}).finish()\n"
        "print(LAUNCH_INPUTS_MODULE in sys.modules)\n",
        tmp_path,
    )
    assert out.strip() == "True"
    # ... but inside the block, nothing more of wandb.sdk.launch; with the module imported (what
    # staging an input takes), the staged inputs are applied as before; after it, as before
    out = _fresh_python(
        "import sys, wandb\n"
        "from kerasweep._adapters.wandb_internals import (\n"
        "    LAUNCH_INPUTS_MODULE, launch_inputs_only_when_staged)\n"
        "with launch_inputs_only_when_staged() as skipping:\n"
        "    before = set(sys.modules)  # wandb 0.28 imports wandb.sdk.launch itself\n"
        "    wandb.init(config={'a': 1}).finish()\n"
        "    new = [m for m in set(sys.modules) - before if m.startswith('wandb.sdk.launch')]\n"
        "    print(skipping, new)\n"
        "    import importlib\n"
        "    inputs = importlib.import_module(LAUNCH_INPUTS_MODULE)\n"
        "    applied = []\n"
        "    inputs.StagedLaunchInputs.apply = lambda self, run: applied.append(run.id)\n"
        "    run = wandb.init(config={'a': 2})\n"
        "    run.finish()\n"
        "    print(applied == [run.id])\n",
        tmp_path,
    )
    assert out.strip().splitlines() == ["True []", "True"]


def test_the_launch_inputs_step_is_wandbs_own_again_after_the_block():
    from wandb.sdk import wandb_run

    original = wandb_run.Run._detect_and_apply_job_inputs
    with launch_inputs_only_when_staged() as skipping:
        assert skipping and wandb_run.Run._detect_and_apply_job_inputs is not original
    assert wandb_run.Run._detect_and_apply_job_inputs is original
