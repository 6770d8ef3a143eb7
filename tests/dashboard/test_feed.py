"""The feed: a page's parts with digests, rebuilt only when the store's sweep changed."""

from __future__ import annotations

import copy

from kerasweep.dashboard._feed import Feed
from kerasweep.local._sweep import Sweep
from tests.sweep_snapshots import hyperband_sweep


class _Snapshots:
    """A store that hands out a given sweep (as data) and counts its reads."""

    def __init__(self, snapshot: dict) -> None:
        self.current = snapshot
        self.reads = 0
        self.closed = 0

    def load(self, sweep_id: str) -> Sweep:
        self.reads += 1
        return Sweep.from_dict(copy.deepcopy(self.current))

    def close(self) -> None:
        self.closed += 1


def _digests(payload) -> dict[str, str]:
    parts = payload.parts
    out = {f"html:{k}": v[0] for k, v in parts["html"].items()}
    out.update({f"figure:{k}": v[0] for k, v in parts["data"]["figures"].items()})
    return out


def test_a_new_epoch_changes_the_version_and_only_the_parts_it_touches():
    snap = hyperband_sweep(runs=6, epochs=8, seed=3)
    store = _Snapshots(snap)
    feed = Feed(store, min_interval=0)
    before = feed.sweep("s")
    assert feed.sweep("s").version == before.version  # same store, same version
    running = next(r for r in snap["runs"] if r["state"] == "running")
    running["history"].append({"val_loss": 0.01, "epochs": len(running["history"])})
    running["epochs"] += 1
    running["metric"] = 0.01
    after = feed.sweep("s")
    assert after.version != before.version
    changed = {k for k, d in _digests(after).items() if _digests(before)[k] != d}
    assert {"html:leaderboard", "figure:curves", "html:header"} <= changed
    assert "html:config" not in changed and "html:engine" not in changed
    assert store.closed == store.reads == 3  # each read's connection closed at once


def test_pages_polled_together_read_the_store_once_per_interval():
    store = _Snapshots(hyperband_sweep(runs=4, epochs=6))
    feed = Feed(store, min_interval=3600)
    versions = {feed.sweep("s").version for _ in range(20)}
    assert len(versions) == 1 and store.reads == 1


def test_figures_keep_what_the_user_did_across_redraws():
    figures = Feed(_Snapshots(hyperband_sweep(runs=6, epochs=8))).sweep("s").parts["data"]
    for _, figure in figures["figures"].values():
        assert figure["layout"]["uirevision"] == "kerasweep"
        assert all(trace["uirevision"] == "kerasweep" for trace in figure["data"])


def test_the_dashboard_labels_a_narrow_log_axis_in_its_own_units():
    from tests.sweep_snapshots import simple_sweep

    rates = [0.0015 * (0.04 / 0.0015) ** (k / 11) for k in range(12)]
    params = [{"learning_rate": lr} for lr in rates]
    spec = {"learning_rate": {"distribution": "log_uniform_values", "min": 0.0015, "max": 0.04}}
    snap = simple_sweep("random", params, [0.1 + k / 20 for k in range(12)], config_parameters=spec)
    figure = Feed(_Snapshots(snap), min_interval=0).sweep("s").parts["data"]["figures"]
    (lr,) = [d for d in figure["parcoords"][1]["data"][0]["dimensions"] if "learning" in d["label"]]
    assert lr["ticktext"] == ["0.002", "0.005", "0.01", "0.02"]
