"""After a local agent returns, wandb in its process is as it was before the sweep.

wandb keeps the settings it read from the environment (parameter file, run id, group) in a
process-wide singleton: the code that runs after a sweep in the same process (a notebook
training the best parameters, the next test) must not inherit the last run's identity.
"""

from __future__ import annotations

import pytest
import wandb

from kerasweep.local import local_agent, local_sweep
from kerasweep.local._store import Store
from tests.local.helpers import function


def _interrupted():
    wandb.init(config={"a": 0, "b": "p"})
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("mode", "ending"),
    [("disabled", "finished"), ("offline", "finished"), ("disabled", "interrupted")],
)
@pytest.mark.slow
def test_the_next_wandb_run_inherits_nothing_from_the_sweep(mode, ending, db, wandb_dir):
    config = {"method": "grid", "parameters": {"a": {"values": [7]}, "b": {"value": "swept"}}}
    sweep_id = local_sweep(config, db=db)
    if ending == "finished":
        local_agent(sweep_id, function("grid_point"), db=db, wandb_mode=mode)
    else:  # Ctrl-C in a notebook, say, then the next cell trains on
        with pytest.raises(KeyboardInterrupt):
            local_agent(sweep_id, _interrupted, db=db, wandb_mode=mode)
    (last,) = Store(db).runs(sweep_id)
    assert last.state == ("finished" if ending == "finished" else "preempted")

    run = wandb.init(mode="disabled", config={"a": 0, "b": "mine"})
    try:
        assert dict(run.config) == {"a": 0, "b": "mine"}
        assert run.id != last.id
        assert run.group != f"sweep-{sweep_id}"
    finally:
        run.finish()
