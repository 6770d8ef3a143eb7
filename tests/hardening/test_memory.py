"""Memory: twenty runs in one agent process do not pile up memory or models.

Each run is the real ``sweep_train`` on digits (tiny MLP, one epoch, wandb disabled).
Resident memory is read from /proc/self/status after each run's training. With
``reuse_compiled`` the only model left is the compiled one kept for reuse (one for both
batch sizes here), and forgetting it frees it.
"""

from __future__ import annotations

import gc
import sys
import weakref
from pathlib import Path

import pytest

from kerasweep._speedups.run import COMPILED_MODELS
from kerasweep.local import local_agent, local_sweep
from kerasweep.train import sweep_train

RUNS = 20
MAX_GROWTH_MB = 100
CONFIG = {
    "method": "random",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {
        "learning_rate": {"distribution": "log_uniform_values", "min": 1e-3, "max": 0.1},
        "batch_size": {"values": [32, 64]},
        "dataset": {"value": "digits"},
        "epochs": {"value": 1},
        "hidden_units": {"value": 8},
        # XLA only slows this test down; memory grew the same with it
        "jit_compile": {"value": False},
        "verbose": {"value": 0},
    },
}


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("reuse_compiled", [True, False])
def test_twenty_runs_in_one_process_keep_memory_flat(db, reuse_compiled):
    rss, models = [], []
    COMPILED_MODELS.clear()

    def train():
        history = sweep_train({"reuse_compiled": reuse_compiled})
        models.append(weakref.ref(history.model))
        del history
        rss.append(_rss_mb())

    sweep_id = local_sweep(CONFIG, db=db)
    result = local_agent(sweep_id, train, count=RUNS, db=db, wandb_mode="disabled")
    assert len(result.run_ids) == RUNS and result.failed == 0
    assert len(rss) == RUNS

    growth = rss[-1] - rss[1]
    assert growth < MAX_GROWTH_MB, f"RSS grew {growth:.0f} MB from run 2 to run {RUNS}: {rss}"
    gc.collect()
    alive = {id(model()) for model in models if model() is not None}
    kept = {id(model) for model in COMPILED_MODELS.kept()}
    if reuse_compiled:
        assert alive == kept and len(kept) == 1  # one compiled model for both batch sizes
        COMPILED_MODELS.clear()
        gc.collect()
    alive = [n + 1 for n, model in enumerate(models) if model() is not None]
    assert alive == [], f"models of runs {alive} are still referenced"


@pytest.mark.slow
def test_runs_that_change_the_model_free_the_earlier_ones_while_the_agent_runs(db, monkeypatch):
    # Every run traces a new model and pushes the last kept one out of a one-model pool.
    from kerasweep._adapters.tensorflow_internals import gradient_registry
    from kerasweep._speedups import run as speedups_run
    from kerasweep._speedups.compiled_models import CompiledModels

    pool = CompiledModels(capacity=1)
    monkeypatch.setattr(speedups_run, "COMPILED_MODELS", pool)
    models, alive_at_start, registered_at_start = [], [], []

    def train():
        kept = [id(model) for model in pool.kept()]
        alive_at_start.append(
            [n + 1 for n, ref in enumerate(models) if ref() is not None and id(ref()) not in kept]
        )
        registered_at_start.append(len(gradient_registry() or {}))
        models.append(weakref.ref(sweep_train().model))

    config = {
        **CONFIG,
        "method": "grid",
        "parameters": {
            **CONFIG["parameters"],
            "hidden_units": {"values": [4, 8, 12, 16, 20]},
            "batch_size": {"value": 32},
            "learning_rate": {"value": 0.01},
        },
    }
    result = local_agent(local_sweep(config, db=db), train, count=5, db=db, wandb_mode="disabled")
    assert result.failed == 0 and len(models) == 5
    # the runs before the previous one are gone when a run starts, not when the agent ends
    assert alive_at_start == [[]] * 5
    # and TensorFlow's registry holds nothing of their graphs
    assert len(set(registered_at_start[1:])) == 1
