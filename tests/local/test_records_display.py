"""kerasweep.local._records: a sweep and its runs as a notebook cell's result."""

from __future__ import annotations

from kerasweep.local import load_sweep, local_agent, local_sweep
from tests.local.test_progress import GRID, two_epochs


def test_a_sweep_shows_a_short_line_and_an_html_leaderboard(db):
    sweep_id = local_sweep(GRID, db=db)
    local_agent(sweep_id, two_epochs, db=db, wandb_mode="disabled")
    sweep = load_sweep(sweep_id, db=db)
    text = repr(sweep)
    assert text == (
        f"<Sweep {sweep_id}  grid  val_loss (minimize): 2 runs (2 finished), "
        f"best 0.5 ({sweep_id}-1)>"
    )
    page = sweep._repr_html_()
    assert page.count("<tr>") == 3 and "<th" in page  # a header and one row per run
    assert page.index(f"{sweep_id}-1") < page.index(f"{sweep_id}-2")  # best first
    assert "val_loss" in page and "learning" not in page


def test_a_run_record_shows_a_short_line_without_its_history(db):
    sweep_id = local_sweep(GRID, db=db)
    local_agent(sweep_id, two_epochs, count=1, db=db, wandb_mode="disabled")
    (run,) = load_sweep(sweep_id, db=db).runs
    assert run.history  # loaded, but not shown
    assert repr(run) == f"<RunRecord {sweep_id}-1 ({run.id}) finished, 2 epochs, a=1>"
    assert "history" not in repr([run])
