"""Claims from many connections at once (threads here, each with its own store, as agents on
several machines have): every grid point once, ``run_cap`` exact, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import threading

from kerasweep.local._controller import propose
from kerasweep.local._store import Store

AGENTS = 4


def _claim_until_done(db, sweep_id: str, claimed: list, errors: list) -> None:
    try:
        store = Store(db, create=False)
        agent = store.register_agent(sweep_id)
        while (run := store.claim_run(sweep_id, agent, propose)) is not None:
            claimed.append(run)
            assert store.finish_run(run.id, agent, "finished") == "finished"
        store.end_agent(agent)
        store.close()
    except Exception as err:  # reported by the test, not lost in the thread
        errors.append(err)


def _race(db, config) -> tuple[list, list]:
    sweep_id = Store(db).create_sweep(config)
    claimed: list = []
    errors: list = []
    agents = [
        threading.Thread(target=_claim_until_done, args=(db, sweep_id, claimed, errors))
        for _ in range(AGENTS)
    ]
    for agent in agents:
        agent.start()
    for agent in agents:
        agent.join(timeout=120)
    assert errors == []
    return sweep_id, claimed


def test_agents_racing_on_a_grid_run_each_point_once(any_db):
    values_a, values_b = [1, 2, 3, 4], ["p", "q", "r"]
    config = {
        "method": "grid",
        "parameters": {"a": {"values": values_a}, "b": {"values": values_b}},
    }
    sweep_id, claimed = _race(any_db, config)
    points = sorted((r.params["a"], r.params["b"]) for r in claimed)
    assert points == sorted(itertools.product(values_a, values_b))
    runs = Store(any_db).runs(sweep_id)
    assert sorted(r.name for r in runs) == sorted(f"{sweep_id}-{n}" for n in range(1, 13))
    assert len({r.agent_id for r in runs}) >= 1


def test_run_cap_is_exact_with_agents_racing(any_db):
    config = {
        "method": "random",
        "run_cap": 7,
        "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}},
    }
    sweep_id, claimed = _race(any_db, config)
    assert len(claimed) == 7 and len(Store(any_db).runs(sweep_id)) == 7


def test_agents_replacing_the_band_table_at_once_take_turns(any_db):
    """Hyperband's band table written by several agents at the same moment (each after a
    judged row): every write lands, none fails on a duplicate band."""
    sweep_id = Store(any_db).create_sweep(
        {"method": "random", "metric": {"name": "m"}, "parameters": {"a": {"values": [1]}}}
    )
    errors: list = []

    def write(k: int) -> None:
        try:
            store = Store(any_db, create=False)
            for i in range(40):
                store.set_bands(sweep_id, [(1, float(k + i)), (2, None)])
            store.close()
        except Exception as err:  # reported by the test
            errors.append(err)

    writers = [threading.Thread(target=write, args=(k,)) for k in range(AGENTS)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert errors == []
    assert [band["band"] for band in Store(any_db).bands(sweep_id)] == [1, 2]
