"""kerasweep.local._progress: what local_agent tells its observer, and Ctrl-C's one line."""

from __future__ import annotations

import logging
import traceback

import pytest

from kerasweep.local import local_agent, local_sweep

GRID = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"a": {"values": [1, 2]}},
}


class Recorder:
    """An observer that writes down every event."""

    def __init__(self):
        self.events = []

    def run_started(self, sweep, run, index, count):
        self.events.append(("started", run.params["a"], index, count, run.state.value))

    def epoch_logged(self, sweep, run, row):
        self.events.append(("epoch", run.params["a"], dict(row)))

    def run_ended(self, sweep, run, index, count, seconds):
        self.events.append(("ended", run.params["a"], index, run.state.value, run.epochs))

    def sweep_ended(self, sweep, runs, reason):
        self.events.append(("sweep", sorted(r.params["a"] for r in runs), reason))


def two_epochs():
    import wandb

    wandb.init()
    for epoch in range(2):
        wandb.log({"epochs": epoch, "val_loss": wandb.config.a / (epoch + 1)})


def test_the_observer_hears_each_run_its_rows_and_the_end(db):
    sweep_id = local_sweep(GRID, db=db)
    seen = Recorder()
    local_agent(sweep_id, two_epochs, db=db, wandb_mode="disabled", progress=seen)
    assert seen.events == [
        ("started", 1, 1, None, "running"),
        ("epoch", 1, {"epochs": 0, "val_loss": 1.0}),
        ("epoch", 1, {"epochs": 1, "val_loss": 0.5}),
        ("ended", 1, 1, "finished", 2),
        ("started", 2, 2, None, "running"),
        ("epoch", 2, {"epochs": 0, "val_loss": 2.0}),
        ("epoch", 2, {"epochs": 1, "val_loss": 1.0}),
        ("ended", 2, 2, "finished", 2),
        ("sweep", [1, 2], "exhausted"),
    ]


PROGRAM = """
import os, time
import wandb
wandb.init(config={"a": 0})
for epoch in range(2):
    wandb.log({"epochs": epoch, "val_loss": wandb.config.a / (epoch + 1)})
deadline = time.monotonic() + 60  # until the agent's observer has heard both rows
while not os.path.exists("heard") and time.monotonic() < deadline:
    time.sleep(0.05)
"""


def test_the_observer_hears_the_rows_a_program_records_while_it_runs(db, tmp_path):
    """A program records its rows in its own process; the agent reads them from the store as
    it waits on the program, so a notebook's display shows each epoch, not only each end."""

    class Heard(Recorder):
        def epoch_logged(self, sweep, run, row):
            super().epoch_logged(sweep, run, row)
            if row.get("epochs") == 1:
                (tmp_path / "heard").touch()  # the program may end now

    (tmp_path / "train.py").write_text(PROGRAM)
    sweep_id = local_sweep({**GRID, "program": "train.py"}, db=db)
    seen = Heard()
    local_agent(sweep_id, db=db, wandb_mode="disabled", progress=seen, program_output=False,
                count=1)  # fmt: skip
    assert seen.events == [
        ("started", 1, 1, 1, "running"),
        ("epoch", 1, {"epochs": 0, "val_loss": 1.0}),
        ("epoch", 1, {"epochs": 1, "val_loss": 0.5}),
        ("ended", 1, 1, "finished", 2),
        ("sweep", [1], "count"),
    ]


def test_status_lines_are_the_default_outside_a_notebook(db, caplog):
    sweep_id = local_sweep(GRID, db=db)
    with caplog.at_level(logging.INFO, logger="kerasweep.local"):
        local_agent(sweep_id, two_epochs, count=1, db=db, wandb_mode="disabled")
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[1/1]")]
    assert "finished" in line and "val_loss=0.5 (2 epochs)" in line and "a=1" in line


def test_a_broken_display_never_ends_the_sweep(db):
    class Broken(Recorder):
        def epoch_logged(self, sweep, run, row):
            raise RuntimeError("display gone")

        def sweep_ended(self, sweep, runs, reason):
            raise RuntimeError("display gone")

    sweep_id = local_sweep(GRID, db=db)
    result = local_agent(sweep_id, two_epochs, db=db, wandb_mode="disabled", progress=Broken())
    assert result.reason == "exhausted" and len(result.run_ids) == 2


def interrupted_in_depth():
    import wandb

    wandb.init()
    wandb.log({"val_loss": 1.0})

    def deeper(n):
        if n == 0:
            raise KeyboardInterrupt
        deeper(n - 1)

    deeper(30)  # as deep in a library's frames as a Keras fit


def test_ctrl_c_ends_with_one_line_naming_the_run_and_no_library_frames(db):
    sweep_id = local_sweep(GRID, db=db)
    seen = Recorder()
    with pytest.raises(KeyboardInterrupt) as caught:
        local_agent(sweep_id, interrupted_in_depth, db=db, wandb_mode="disabled", progress=seen)
    err = caught.value
    frames = traceback.extract_tb(err.__traceback__)
    assert not any(frame.name == "deeper" for frame in frames)
    assert len(frames) <= 3 and err.__cause__ is None and err.__suppress_context__
    assert str(err).startswith(f"sweep {sweep_id} interrupted; run ")
    assert "marked preempted, its rows kept" in str(err)
    assert seen.events[-1] == ("sweep", [1], "interrupted")
    # the sweep goes on in the next call (the next cell)
    result = local_agent(sweep_id, two_epochs, count=1, db=db, wandb_mode="disabled")
    assert len(result.run_ids) == 1
