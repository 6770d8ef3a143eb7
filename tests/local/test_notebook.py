"""kerasweep.local._notebook: local_agent in a real notebook kernel (nbclient + ipykernel)."""

from __future__ import annotations

import os
import re

import pytest

from kerasweep.local import local_agent, local_sweep
from tests.local.test_progress import GRID, two_epochs

SWEEP = f"""
import os, time
import kerasweep
sweep_id = kerasweep.local_sweep({GRID!r}, db="k.db")

def train():
    import wandb
    run = wandb.init()
    for epoch in range(3):
        wandb.log({{"epochs": epoch, "val_loss": wandb.config.a / (epoch + 1)}})
    run.finish()
"""


@pytest.mark.slow
def test_local_agent_shows_one_display_updated_in_place_ending_with_the_leaderboard(tmp_path):
    from tests.notebook_kernel import code_cell, outputs, run_notebook

    nb = run_notebook(
        [code_cell(SWEEP), code_cell('result = kerasweep.local_agent(sweep_id, train, db="k.db")')],
        tmp_path,
    )
    shown = outputs(nb)
    assert [out["output_type"] for out in shown] == ["display_data"], shown
    data = shown[0]["data"]
    html, text = data["text/html"], data["text/plain"]
    assert "leaderboard" in html and html.count("<tr>") == 3 and "finished" in html
    header = ["run", "state", "val_loss", "epochs", "a", "why", "stopped"]
    assert text.splitlines()[1].split() == header
    assert "2 runs; agent done: the sweep has no more runs" in text
    assert (tmp_path / "wandb").is_dir()  # offline wandb runs, their banners quiet


@pytest.mark.slow
def test_stopping_the_kernel_marks_the_run_preempted_in_a_few_lines_and_the_next_cell_works(
    tmp_path,
):
    from tests.notebook_kernel import code_cell, outputs, run_notebook

    started = tmp_path / "started"
    looping = SWEEP + f"""
def loops():
    import wandb
    wandb.init()
    wandb.log({{"epochs": 0, "val_loss": 1.0}})
    open({str(started)!r}, "w").write(str(os.getpid()))
    while True:
        time.sleep(0.05)
"""
    nb = run_notebook(
        [
            code_cell(looping),
            code_cell('kerasweep.local_agent(sweep_id, loops, db="k.db")'),
            code_cell(
                'sweep = kerasweep.load_sweep(sweep_id, db="k.db")\n'
                "[(r.state.value, r.epochs) for r in sweep.runs]"
            ),
        ],
        tmp_path,
        allow_errors=True,
        interrupt_when=started,
    )
    agent_cell, next_cell = nb.cells[1], nb.cells[2]
    (error,) = [out for out in agent_cell.outputs if out["output_type"] == "error"]
    assert error["ename"] == "KeyboardInterrupt"
    assert "interrupted; run " in error["evalue"]
    assert "marked preempted, its rows kept" in error["evalue"]
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))
    assert shown.count("\n") <= 15 and "in loops" not in shown and "time.sleep" not in shown
    assert next_cell.outputs[0]["data"]["text/plain"] == "[('preempted', 1)]"
    assert not outputs(nb, "stderr")


def test_verbose_false_quiets_wandb_for_the_runs_and_restores_it_after(db, monkeypatch):
    monkeypatch.delenv("WANDB_SILENT", raising=False)
    seen = []

    def train():
        seen.append(os.environ.get("WANDB_SILENT"))
        two_epochs()

    sweep_id = local_sweep(GRID, db=db)
    local_agent(sweep_id, train, count=1, db=db, wandb_mode="disabled", verbose=False)
    local_agent(sweep_id, train, count=1, db=db, wandb_mode="disabled")  # not a notebook
    assert seen == ["true", None] and "WANDB_SILENT" not in os.environ


@pytest.mark.slow
def test_keras_lines_of_sweep_train_are_off_unless_verbose(db, capfd):
    from kerasweep.train import sweep_train

    config = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {
            "dataset": {"value": "digits"},
            "epochs": {"value": 1},
            "batch_size": {"values": [64, 128]},
        },
    }
    sweep_id = local_sweep(config, db=db)
    local_agent(sweep_id, sweep_train, count=1, db=db, wandb_mode="disabled", verbose=False)
    quiet = capfd.readouterr()
    local_agent(sweep_id, sweep_train, count=1, db=db, wandb_mode="disabled", verbose=True)
    loud = capfd.readouterr()
    keras_line = re.compile(r"^\d+/\d+ .*/step - .*val_loss: ", re.M)  # Keras' epoch line
    assert not keras_line.search(quiet.out + quiet.err)
    assert keras_line.search(loud.out + loud.err)
