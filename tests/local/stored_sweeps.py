"""A small sweep written through the store's own interface, for tests of what reads it."""

from __future__ import annotations

from kerasweep.local._store import NewRun, Store

CONFIG = {
    "method": "grid",
    "name": "results",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
    "parameters": {"lr": {"values": [0.1, 0.01, 0.001, 0.0001]}, "opt": {"value": {"b": 0.9}}},
}


def write_sweep(db) -> tuple[str, dict[str, str]]:
    """A grid sweep: a finished run (best 0.3), a stopped one (0.8), a failed one, one running.

    Returns the sweep id and the run ids by role.
    """
    store = Store(db)
    sweep_id = store.create_sweep(CONFIG, seed=3)
    agent = store.register_agent(sweep_id)

    def claim(lr):
        return store.claim_run(sweep_id, agent, lambda s, r: NewRun({"lr": lr, "opt": {"b": 0.9}}))

    good = claim(0.1)
    store.append_rows(
        good.id,
        [{"epochs": 0, "val_loss": 0.5}, {"batch/loss": 0.4}, {"epochs": 1, "val_loss": 0.3}],
        "val_loss",
        agent_id=agent,
    )
    store.finish_run(good.id, agent, "finished")
    stopped = claim(0.01)
    store.append_rows(
        stopped.id, [{"epochs": 0, "val_loss": 0.9}, {"epochs": 1, "val_loss": 0.8}], "val_loss",
        agent_id=agent,
    )  # fmt: skip
    store.record_stop(stopped.id, band=2, threshold=0.3, value=0.8, epoch=2, bands=[(2, 0.3)])
    store.finish_run(stopped.id, agent, "finished")
    failed = claim(0.001)
    store.finish_run(failed.id, agent, "failed", "ValueError: boom")
    running = claim(0.0001)
    store.append_rows(running.id, [{"epochs": 0, "val_loss": 0.1}], "val_loss", agent_id=agent)
    store.close()
    ids = {"good": good.id, "stopped": stopped.id, "failed": failed.id, "running": running.id}
    return sweep_id, ids
