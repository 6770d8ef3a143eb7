"""kerasweep.local._cleanup: each run's garbage collected, survivors frozen only meanwhile."""

from __future__ import annotations

import gc
import json
import weakref

import keras
import pytest
from tensorflow.python.eager import context

from kerasweep import build_mlp
from kerasweep._speedups.compiled_models import CompiledModels
from kerasweep.local._cleanup import clear_keras, run_cleanup
from tests.conftest import fresh_python


class _Node:
    """An object in a reference cycle: only the cyclic garbage collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.mark.slow
def test_clean_up_collects_the_runs_garbage_and_freezes_the_survivors():
    with run_cleanup() as clean_up:
        garbage = _Node()
        gone = weakref.ref(garbage)
        del garbage
        clean_up()
        assert gone() is None
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


@pytest.mark.slow
def test_what_died_after_being_frozen_is_collected_after_the_block():
    with run_cleanup() as clean_up:
        survivor = _Node()  # alive at the clean-up, garbage later
        clean_up()
        gone = weakref.ref(survivor)
        del survivor
        clean_up()
    gc.collect()
    assert gone() is None


def test_a_process_that_froze_objects_itself_is_left_alone():
    gc.freeze()
    try:
        with run_cleanup() as clean_up:
            survivor = _Node()
            gone = weakref.ref(survivor)
            clean_up()  # collects, but does not freeze what survived
            del survivor
            gc.collect()
            assert gone() is None
        assert gc.get_freeze_count() > 0  # the process's own freeze stands
    finally:
        gc.unfreeze()


def test_keras_is_reset_but_compiled_kernels_stay(monkeypatch):
    cleared = []
    spy = lambda self: cleared.append(1)  # noqa: E731
    monkeypatch.setattr(type(context.context()), "clear_kernel_cache", spy)
    keras.layers.Dense(2, name=None)  # Keras numbers its names from here
    clear_keras()
    assert keras.layers.Dense(2).name == "dense"  # Keras' global state is new
    assert cleared == []  # kept models' functions need not be instantiated again
    context.context().clear_kernel_cache()  # the method itself is untouched
    assert cleared == [1]


@pytest.mark.slow
def test_a_compiled_model_let_go_after_being_frozen_is_freed_at_the_next_clean_up():
    pool = CompiledModels(capacity=1)
    with run_cleanup() as clean_up:  # the pool tells the collector's owner what it let go
        kept = pool.take("a", build_mlp(8, 4, 3), keras.optimizers.SGD(0.1), loss="mse")
        gone = weakref.ref(kept)
        del kept
        clean_up()  # run 1 ends: its compiled model is kept, and frozen with the rest
        assert gone() is not None
        pool.take("b", build_mlp(8, 4, 3), keras.optimizers.SGD(0.1), loss="mse")
        clean_up()  # run 2 let run 1's model go: collected now, not when the agent ends
        assert gone() is None


#: A user's script: one local agent, then an exit handler registered before it reports
#: how many objects Python's shutdown collections would still walk.
AGENT_EXIT = """
import atexit, gc, json
atexit.register(lambda: print(json.dumps({"tracked": len(gc.get_objects())})))
from kerasweep import local_agent, local_sweep
alive = [[] for _ in range(20_000)]
def function():
    import wandb
    wandb.init(config={"a": 0})
    wandb.log({"val_loss": 1.0})
config = {"method": "grid", "parameters": {"a": {"values": [1]}}}
local_agent(local_sweep(config, db="k.db"), function, count=1, db="k.db")
print(gc.get_freeze_count())
"""


def test_after_the_agent_the_process_exits_without_collecting_what_is_alive(tmp_path):
    done = fresh_python("-c", AGENT_EXIT, cwd=tmp_path, WANDB_MODE="offline", WANDB_SILENT="true")
    assert done.returncode == 0, done.stderr
    *_, unfrozen_after_agent, at_exit = done.stdout.strip().splitlines()
    assert unfrozen_after_agent == "0"  # the agent leaves the collector as it found it
    assert json.loads(at_exit)["tracked"] < 100  # the 20,000 lists and the rest: frozen


#: The command line: TensorFlow imported first (kerasweep._quiet), then the agent's clean-ups.
CLI_IMPORT_THEN_AGENT = """
import gc
from kerasweep._quiet import import_tensorflow_quietly
from kerasweep.local._cleanup import run_cleanup
import_tensorflow_quietly()
print(gc.get_freeze_count())
with run_cleanup() as clean_up:
    alive = [[] for _ in range(1000)]
    clean_up()
    print(gc.get_freeze_count())
print(gc.get_freeze_count())
"""


@pytest.mark.slow
def test_after_the_command_lines_import_the_agent_still_freezes_each_runs_survivors():
    done = fresh_python("-c", CLI_IMPORT_THEN_AGENT)
    assert done.returncode == 0, done.stderr
    after_import, after_clean_up, after_agent = map(int, done.stdout.split())
    assert after_import == 0  # nothing the agent would take for the process's own freeze
    assert after_clean_up > 100_000  # TensorFlow's objects and the run's survivors
    assert after_agent == 0
