"""The HTML sweep report: structure, numbers, escaping, and the page in a real browser."""

from __future__ import annotations

import copy
import json
import math
import os
import pathlib
import re
import subprocess
import sys
import types
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from kerasweep._html_report import leaderboard, parameter_importance, render_report, report
from kerasweep.local._store import Store, StoreError, UnknownSweepError
from kerasweep.local._sweep import Sweep
from tests.chromium import find_chromium, rendered_dom, with_alert_probe
from tests.local.helpers import subprocess_env
from tests.sweep_snapshots import INJECTION, hyperband_sweep, simple_sweep

ATTRIBUTE_INJECTION = '"><img src=x onerror=alert(2)>'


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside each <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def _parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def _data(html: str) -> dict:
    """The JSON the page's script reads."""
    match = re.search(r'<script type="application/json" id="kw-data">(.*?)</script>', html, re.S)
    assert match, "no kw-data element"
    return json.loads(match.group(1))


def _leaderboard_rows(html: str) -> list[str]:
    table = html[html.index('id="leaderboard"') :]
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    return re.findall(r"<tr[ >].*?</tr>", body, re.S)


def _injected_snapshot() -> dict:
    """A hyperband sweep whose config, names, parameter values and errors carry markup."""
    snap = hyperband_sweep(runs=12, epochs=16, seed=1)
    snap["sweep"]["name"] = INJECTION
    config = snap["sweep"]["config"]
    config["parameters"] = copy.deepcopy(config["parameters"])
    config["parameters"]["optimizer"]["values"] = ["adam", "sgd", INJECTION]
    config["description"] = ATTRIBUTE_INJECTION
    runs = snap["runs"]
    runs[0]["params"]["optimizer"] = INJECTION
    runs[1]["name"] = INJECTION
    runs[2]["name"] = ATTRIBUTE_INJECTION
    failed = next(r for r in runs if r["state"] == "failed")
    failed["error"] = f"RuntimeError: {INJECTION} </script><script>alert(3)</script>"
    return snap


# --------------------------------------------------------------------------------------------
# Page structure


def test_page_is_one_self_contained_file():
    html = render_report(hyperband_sweep(runs=40, epochs=30, seed=3))
    tags = _parse(html).tags
    # nothing is loaded from anywhere: no src/href to another file or host
    for tag, attrs in tags:
        assert not attrs.get("src"), (tag, attrs)
        if tag == "a":
            assert str(attrs.get("href", "")).startswith("#"), attrs
        assert tag != "link", attrs
    assert "cdn.plot.ly" not in html.split("<script>", 1)[0]
    # plotly's bundle is inlined exactly once
    assert html.count("* plotly.js v") == 1
    assert [t for t, _ in tags].count("script") == 3


def test_figures_hold_one_line_per_run_and_the_hyperband_marks():
    snap = hyperband_sweep(runs=40, epochs=30, seed=3)
    data = _data(render_report(snap))
    runs = snap["runs"]
    with_metric = [i for i, r in enumerate(runs) if r["metric"] is not None]

    parcoords = data["figures"]["parcoords"]["data"][0]
    assert parcoords["type"] == "parcoords"
    labels = [d["label"] for d in parcoords["dimensions"]]
    # the constant `epochs` parameter gets no axis; the metric is the last one
    assert labels[:-1] == ["batch_size", "learning_rate", "optimizer", "dropout", "weight_decay"]
    assert "val_loss" in labels[-1]
    assert sorted(data["parcoordsRuns"]) == with_metric
    for dim in parcoords["dimensions"]:
        assert len(dim["values"]) == len(with_metric)
    assert len(parcoords["line"]["color"]) == len(with_metric)

    optimizer = parcoords["dimensions"][2]
    assert optimizer["ticktext"] == ["adam", "sgd", "rmsprop"]  # the config's order
    assert optimizer["tickvals"] == [0, 1, 2]
    assert set(optimizer["values"]) <= {0, 1, 2}

    curves = data["figures"]["curves"]
    n_lines = len(data["curveRuns"])
    assert n_lines == sum(1 for r in runs if any(k for k in r["history"]))
    for k, i in enumerate(data["curveRuns"]):
        trace = curves["data"][k]
        assert len(trace["y"]) == len(runs[i]["history"])
        assert trace["y"][0] == pytest.approx(runs[i]["history"][0]["val_loss"], rel=1e-5)
    by_name = {t.get("name"): t for t in curves["data"][n_lines:]}
    stopped = [r for r in runs if r["state"] == "stopped"]
    assert len(by_name["stopped by hyperband"]["x"]) == len(stopped)
    marks = by_name["stopped by hyperband"]
    # on each stopped run's line, at the epoch it stopped
    got = sorted(zip(marks["x"], marks["y"], strict=True))
    expected = sorted((r["stop"]["epoch"], r["history"][-1]["val_loss"]) for r in stopped)
    assert [g[0] for g in got] == [e[0] for e in expected]
    assert [g[1] for g in got] == pytest.approx([e[1] for e in expected], rel=1e-5)
    failed = [r for r in runs if r["state"] == "failed"]
    assert len(by_name["failed"]["x"]) == len(failed)
    thresholds = by_name["band threshold"]
    bands = [b for b in snap["bands"] if b["threshold"] is not None]
    assert thresholds["x"] == [b["band"] for b in bands]
    assert thresholds["y"] == pytest.approx([b["threshold"] for b in bands], rel=1e-5)
    # per-run hover text is written once, in the layout's scatter template
    template = curves["layout"]["template"]["data"]["scatter"][0]
    assert "hovertemplate" in template
    assert all("hovertemplate" not in curves["data"][k] for k in range(n_lines))


def test_header_counts_runs_by_state_and_names_the_best_run():
    snap = hyperband_sweep(runs=40, epochs=30, seed=3)
    html = render_report(snap)
    header = html[html.index('<header class="top">') : html.index("</header>")]
    for state in ("finished", "stopped", "failed", "pending"):
        count = sum(1 for r in snap["runs"] if r["state"] == state)
        assert f'state-{state}">{state}</span><b>{count}</b>' in header
    best = min((r for r in snap["runs"] if r["metric"] is not None), key=lambda r: r["metric"])
    assert f">{best['metric']:.4g}<" in header
    assert best["name"] in header


def test_leaderboard_is_best_first_with_why_stopped():
    snap = hyperband_sweep(runs=40, epochs=30, seed=3)
    html = render_report(snap)
    rows = _leaderboard_rows(html)
    assert len(rows) == len(snap["runs"])
    ranked = leaderboard(snap)
    values = [r["metric"] for r in ranked if r["metric"] is not None]
    assert values == sorted(values)
    assert all(r["metric"] is None for r in ranked[len(values) :])
    assert ranked[0]["id"] in rows[0] and 'class="best"' in rows[0]
    stopped = next(r for r in ranked if r["state"] == "stopped")
    stop = next(r["stop"] for r in snap["runs"] if r["id"] == stopped["id"])
    value, threshold = f"{stop['value']:.4g}", f"{stop['threshold']:.4g}"
    assert stopped["why"] == f"hyperband, band {stop['band']}: {value} > threshold {threshold}"
    failed = next(r for r in ranked if r["state"] == "failed")
    assert failed["why"].startswith("ValueError: loss is NaN")
    row = next(r for r in rows if failed["id"] in r)
    assert "ValueError: loss is NaN" in row
    assert "Same in every run: epochs = 30." in html


def test_leaderboard_follows_the_goal_and_puts_missing_metrics_last():
    params = [{"lr": 0.1}, {"lr": 0.2}, {"lr": 0.3}, {"lr": 0.4}]
    metrics = [0.5, None, 0.9, float("nan")]
    low = leaderboard(simple_sweep("random", params, metrics, goal="minimize"))
    high = leaderboard(simple_sweep("random", params, metrics, goal="maximize"))
    assert [r["id"] for r in low] == ["run0", "run2", "run1", "run3"]
    assert [r["id"] for r in high] == ["run2", "run0", "run1", "run3"]
    assert [r["rank"] for r in low] == [1, 2, None, None]


# --------------------------------------------------------------------------------------------
# Parameter importance


def _dependent_sweep(n: int = 30) -> dict:
    """val_loss rises with log10(lr), falls on adam; batch_size is noise; epochs constant."""
    import random

    rng = random.Random(0)
    params, metrics = [], []
    for _ in range(n):
        p = {
            "lr": 10 ** rng.uniform(-4, -1),
            "batch_size": rng.choice([32, 64, 128]),
            "optimizer": rng.choice(["adam", "sgd"]),
            "epochs": 5,
        }
        params.append(p)
        adam = 1.0 if p["optimizer"] == "adam" else 0.0
        metrics.append(1.0 + 0.5 * math.log10(p["lr"]) - 0.3 * adam + rng.gauss(0, 0.01))
    spec = {
        "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 0.1},
        "batch_size": {"values": [32, 64, 128]},
        "optimizer": {"values": ["adam", "sgd"]},
        "epochs": {"value": 5},
    }
    return simple_sweep("bayes", params, metrics, config_parameters=spec)


def test_importance_is_forest_importance_and_linear_correlation():
    rows = parameter_importance(_dependent_sweep())
    by_feature = {r["feature"]: r for r in rows}
    # categorical one-hot, log-scale as log10, the constant parameter left out
    assert set(by_feature) == {"lr (log10)", "batch_size", "optimizer = adam", "optimizer = sgd"}
    assert rows[0]["feature"] == "lr (log10)"
    assert sum(r["importance"] for r in rows) == pytest.approx(1.0)
    assert by_feature["lr (log10)"]["correlation"] > 0.8
    assert by_feature["optimizer = adam"]["correlation"] < 0
    assert by_feature["optimizer = sgd"]["correlation"] == pytest.approx(
        -by_feature["optimizer = adam"]["correlation"]
    )
    assert abs(by_feature["batch_size"]["correlation"]) < 0.5
    assert by_feature["batch_size"]["importance"] < by_feature["lr (log10)"]["importance"]


def test_importance_panel_explains_itself_on_the_page():
    html = render_report(_dependent_sweep())
    panel = html[html.index('id="importance"') : html.index('id="runs"')]
    assert "lr (log10)" in panel and "optimizer = adam" in panel
    assert "Same in every run, left out: epochs." in panel
    assert "one 0/1 feature per value" in panel


@pytest.mark.parametrize(
    ("metrics", "note"),
    [
        ([0.3, 0.4], "Needs at least 3 runs with a finite val_loss; this sweep has 2."),
        ([0.3, 0.3, 0.3], "All runs have the same val_loss; nothing to explain."),
    ],
)
def test_importance_with_too_few_runs_or_a_flat_metric_says_why(metrics, note):
    params = [{"lr": 0.1 * (k + 1), "opt": "adam"} for k in range(len(metrics))]
    snap = simple_sweep("random", params, metrics)
    assert parameter_importance(snap) == []
    assert note in render_report(snap)


def test_importance_when_every_parameter_is_constant():
    snap = simple_sweep("grid", [{"lr": 0.1}] * 3, [0.2, 0.3, 0.4])
    assert parameter_importance(snap) == []
    assert "Every parameter has the same value in all runs with a metric." in render_report(snap)


# --------------------------------------------------------------------------------------------
# Shapes of sweeps


def test_single_run_renders_with_notes_instead_of_empty_charts():
    snap = simple_sweep("random", [{"lr": 0.01, "opt": "adam"}], [0.42])
    html = render_report(snap)
    data = _data(html)
    assert data["figures"]["parcoords"] is None
    assert "Needs at least two runs with a finite val_loss." in html
    assert len(data["figures"]["curves"]["data"][0]["y"]) == 2
    rows = _leaderboard_rows(html)
    assert len(rows) == 1
    # with a single run its parameters are shown as columns, not folded into a note
    assert ">adam<" in rows[0] and ">0.01<" in rows[0]


def test_grid_sweep_without_metric_lists_runs_in_creation_order():
    grid = [{"units": u, "act": a} for u in (16, 32) for a in ("relu", "tanh")]
    snap = simple_sweep("grid", grid, [None] * 4, goal=None)
    html = render_report(snap)
    data = _data(html)
    assert data["figures"] == {"parcoords": None, "curves": None}
    assert "The sweep has no metric to colour the runs by." in html
    assert "The sweep has no metric, so parameters cannot be related to it." in html
    assert [r["id"] for r in leaderboard(snap)] == ["run0", "run1", "run2", "run3"]
    assert len(_leaderboard_rows(html)) == 4


def test_every_state_and_nan_metrics_render_with_json_nulls():
    states = ["pending", "running", "finished", "stopped", "failed", "crashed"]
    params = [{"lr": 0.1 * (k + 1)} for k in range(6)]
    snap = simple_sweep("random", params, [None, 0.5, 0.3, 0.6, None, float("nan")], states=states)
    snap["runs"][1]["history"].append({"epochs": 2, "val_loss": float("nan")})
    snap["runs"][5]["history"] = [{"epochs": 0, "val_loss": float("inf")}]
    snap["runs"][4]["error"] = "OSError: disk full\nTraceback (most recent call last): ..."
    snap["runs"][5]["error"] = "MemoryError: " + "x" * 500
    html = render_report(snap)
    data = _data(html)
    assert "NaN" not in json.dumps(data) and "Infinity" not in json.dumps(data)
    curves = data["figures"]["curves"]
    running = curves["data"][data["curveRuns"].index(1)]
    assert running["y"][-1] is None
    assert 5 not in data["curveRuns"]  # only an infinite value: nothing to draw
    for state in states:
        assert f'<span class="state state-{state}">{state}</span>' in html
    assert "OSError: disk full" in html and "Traceback" not in html.split("</header>")[1]
    # a long error shows clipped, in full on hover
    assert f'title="MemoryError: {"x" * 500}">MemoryError: {"x" * 186}…</td>' in html


def test_bayes_sweep_with_nested_and_log_scale_parameters():
    import random

    rng = random.Random(2)
    params = [
        {
            "optimizer": {"name": rng.choice(["adam", "sgd"]), "lr": 10 ** rng.uniform(-5, -1)},
            "units": rng.choice([16, 64, 256]),
            "use_bn": rng.choice([True, False]),
        }
        for _ in range(12)
    ]
    metrics = [rng.uniform(0.1, 1.0) for _ in params]
    spec = {
        "optimizer": {
            "parameters": {
                "name": {"values": ["sgd", "adam"]},
                "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 0.1},
            }
        },
        "units": {"values": [16, 64, 256]},
        "use_bn": {"values": [True, False]},
    }
    data = _data(render_report(simple_sweep("bayes", params, metrics, config_parameters=spec)))
    dims = {d["label"]: d for d in data["figures"]["parcoords"]["data"][0]["dimensions"]}
    assert list(dims)[:4] == ["optimizer.name", "optimizer.lr", "units", "use_bn"]
    lr = dims["optimizer.lr"]
    values = [p["optimizer"]["lr"] for p in params]
    assert lr["values"] == pytest.approx([math.log10(v) for v in values], rel=1e-5)
    assert all(re.fullmatch(r"1e-0\d|0\.0*1", t) for t in lr["ticktext"]), lr["ticktext"]
    assert dims["optimizer.name"]["ticktext"] == ["sgd", "adam"]
    assert dims["use_bn"]["ticktext"] == ["true", "false"]
    assert dims["units"]["ticktext"] == ["16", "64", "256"]


def test_a_log_axis_over_less_than_two_decades_is_labelled_in_its_own_units():
    import random

    rng = random.Random(7)
    rates = [10 ** rng.uniform(math.log10(0.0015), math.log10(0.04)) for _ in range(12)]
    rates[:2] = [0.0015, 0.04]  # the whole range of the config
    params = [{"learning_rate": lr, "batch_size": rng.choice([32, 64])} for lr in rates]
    spec = {
        "learning_rate": {"distribution": "log_uniform_values", "min": 0.0015, "max": 0.04},
        "batch_size": {"values": [32, 64]},
    }
    metrics = [rng.uniform(0.1, 1.0) for _ in params]
    data = _data(render_report(simple_sweep("random", params, metrics, config_parameters=spec)))
    dims = {d["label"]: d for d in data["figures"]["parcoords"]["data"][0]["dimensions"]}
    lr = dims["learning_rate"]
    assert lr["values"] == pytest.approx([math.log10(v) for v in rates], rel=1e-5)
    # round values of the parameter itself, not log10 exponents (-2.6 ... -1.4)
    assert lr["ticktext"] == ["0.002", "0.005", "0.01", "0.02"]
    assert lr["tickvals"] == pytest.approx([math.log10(t) for t in (0.002, 0.005, 0.01, 0.02)])


def test_the_band_thresholds_and_labels_are_drawn_clear_of_the_curves():
    snap = hyperband_sweep(runs=12, epochs=16, seed=1)
    curves = _data(render_report(snap))["figures"]["curves"]
    (thresholds,) = [t for t in curves["data"] if t.get("name") == "band threshold"]
    # the value shows on hover, not as text beside the bar, over the run lines
    assert "text" not in thresholds["mode"] and "texttemplate" not in thresholds
    assert thresholds["showlegend"] and "threshold" in thresholds["text"][0]
    # the band labels sit above the plot area, the legend above them
    for label in curves["layout"]["annotations"]:
        assert (label["yref"], label["y"], label["yanchor"]) == ("paper", 1, "bottom"), label
    legend = curves["layout"]["legend"]
    assert (legend["yref"], legend["y"], legend["yanchor"]) == ("container", 1.0, "top")


def test_parcoords_spreads_geometric_choices_on_a_log_axis():
    import random

    rng = random.Random(5)
    params = [
        {"batch_size": rng.choice([32, 64, 128, 256]), "units": rng.choice([1, 2, 3, 4])}
        for _ in range(10)
    ]
    spec = {"batch_size": {"values": [32, 64, 128, 256]}, "units": {"values": [1, 2, 3, 4]}}
    metrics = [rng.uniform(0.1, 1.0) for _ in params]
    data = _data(render_report(simple_sweep("random", params, metrics, config_parameters=spec)))
    dims = {d["label"]: d for d in data["figures"]["parcoords"]["data"][0]["dimensions"]}
    # doubling batch sizes are evenly spaced, labelled with their own values
    batch = dims["batch_size"]
    assert batch["values"] == pytest.approx([math.log10(p["batch_size"]) for p in params])
    assert batch["ticktext"] == ["32", "64", "128", "256"]
    # evenly spaced choices stay linear
    assert dims["units"]["values"] == [p["units"] for p in params]
    assert dims["units"]["ticktext"] == ["1", "2", "3", "4"]
    # importance keeps the parameter as it is (no log10 feature for a small range)
    features = {r["feature"] for r in parameter_importance(simple_sweep("random", params, metrics))}
    assert "batch_size" in features


def test_band_no_run_reached_is_not_drawn_but_listed():
    snap = hyperband_sweep(runs=12, epochs=16, seed=1)  # bands 5 and 15
    snap["bands"].append({"band": 45, "threshold": None})
    html = render_report(snap)
    curves = _data(html)["figures"]["curves"]["layout"]
    assert [s["x0"] for s in curves["shapes"]] == [5, 15]
    assert [a["text"] for a in curves["annotations"]] == ["band 5", "band 15"]
    assert "epoch 45: not reached" in html


def test_config_is_shown_as_written_with_short_lists_on_one_line():
    html = render_report(hyperband_sweep(runs=4, epochs=6))
    config = html[html.index('<pre class="config">') : html.index("</pre>")]
    assert "    values: [32, 64, 128, 256]\n" in config
    assert "metric:\n  name: val_loss\n  goal: minimize\n" in config


def test_runs_missing_a_parameter_keep_their_line_without_that_axis():
    params = [{"lr": 0.1, "momentum": 0.9}, {"lr": 0.2}, {"lr": 0.3, "momentum": 0.5}]
    html = render_report(simple_sweep("random", params, [0.4, 0.5, 0.6]))
    dims = _data(html)["figures"]["parcoords"]["data"][0]["dimensions"]
    assert [d["label"] for d in dims][:-1] == ["lr"]
    assert "Not in every run, so not drawn: momentum." in html


def test_bad_snapshot_is_one_clear_error():
    with pytest.raises(ValueError, match="sweep snapshot: expected a dict with a 'sweep' dict"):
        render_report({"runs": []})


# --------------------------------------------------------------------------------------------
# Escaping


def test_strings_from_configs_and_runs_are_escaped_everywhere():
    html = render_report(_injected_snapshot())
    assert INJECTION not in html
    assert "<img" not in html
    assert html.count("</script>") == 3 and "<script>alert" not in html
    parsed = _parse(html)
    scripts = [a for t, a in parsed.tags if t == "script"]
    assert len(scripts) == 3  # the data, plotly, the page's own: nothing injected
    assert not [(t, k) for t, attrs in parsed.tags for k in attrs if k.lower().startswith("on")]
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escaped in html.split("<script")[0]  # leaderboard, header, config text
    rows = _leaderboard_rows(html)
    assert any(escaped in r for r in rows)
    assert any("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in r for r in rows)
    # inside the JSON, markup characters are \u escapes, and it still decodes to the values
    data_text = parsed.scripts[0]
    assert "<" not in data_text and ">" not in data_text and "&" not in data_text
    data = _data(html)
    assert INJECTION in [r["params"][2][1] for r in data["runs"] if r["params"]]
    names = [r["name"] for r in data["runs"]]
    assert INJECTION in names and ATTRIBUTE_INJECTION in names
    # plotly renders titles and hover labels as markup-lite, so they get entities, while
    # parcoords tick labels are plain text and get the value itself
    assert escaped in [t.get("name") for t in data["figures"]["curves"]["data"]]
    ticktext = data["figures"]["parcoords"]["data"][0]["dimensions"][2]["ticktext"]
    assert INJECTION in ticktext


def test_page_title_and_header_escape_the_sweep_name():
    html = render_report(_injected_snapshot())
    title = html[html.index("<title>") : html.index("</title>")]
    assert "&lt;script&gt;" in title
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in html


# --------------------------------------------------------------------------------------------
# report(): loading from the store and writing the file


class _FakeStore:
    """Stands in for kerasweep.local._store.Store: records how it was opened and closed."""

    snapshots: dict = {}
    opened: list = []
    closed: int = 0

    def __init__(self, db=None, *, create=True):
        self.opened.append((db, create))

    def load(self, sweep_id):
        return Sweep.from_dict(self.snapshots[sweep_id])

    def close(self):
        type(self).closed += 1


@pytest.fixture
def fake_store(monkeypatch):
    module = types.ModuleType("kerasweep.local._store")
    module.Store = module.StoreReader = _FakeStore
    _FakeStore.snapshots = {"abc123": hyperband_sweep(runs=6, epochs=8, seed=4)}
    _FakeStore.opened = []
    _FakeStore.closed = 0
    monkeypatch.setitem(sys.modules, "kerasweep.local._store", module)
    return _FakeStore


def test_report_writes_report_named_after_the_sweep(fake_store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = report("abc123")
    assert path == Path("report-abc123.html")
    assert (tmp_path / path).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert fake_store.opened == [(None, False)]  # the default store, never created by a report
    assert fake_store.closed == 1


def test_report_takes_a_file_or_a_directory_and_a_db(fake_store, tmp_path):
    out = report("abc123", tmp_path / "sweep.html", db=tmp_path / "s.db")
    assert out == tmp_path / "sweep.html" and out.is_file()
    assert fake_store.opened == [(tmp_path / "s.db", False)]
    into_dir = report("abc123", tmp_path)
    assert into_dir == tmp_path / "report-abc123.html" and into_dir.is_file()
    # missing directories are made; a path ending in "/" names a directory
    nested = report("abc123", tmp_path / "a" / "b" / "sweep.html")
    assert nested.is_file()
    new_dir = report("abc123", f"{tmp_path}/reports/")
    assert new_dir == tmp_path / "reports" / "report-abc123.html" and new_dir.is_file()


def test_report_of_an_unknown_sweep_writes_nothing(fake_store, tmp_path):
    with pytest.raises(KeyError):
        report("nope", tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()
    assert fake_store.closed == 1


@pytest.mark.parametrize("db", [None, "missing.db", "sub/missing.db", "."])
def test_report_never_creates_a_store(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KERASWEEP_DB", raising=False)
    with pytest.raises(StoreError) as error:
        report("abc123", "r.html", db=db)
    message = str(error.value)
    assert "\n" not in message
    assert message in (
        f"no kerasweep store at {db or 'kerasweep.db'}",
        ". is a directory, not a kerasweep store",
    )
    assert os.listdir(tmp_path) == []


def test_report_of_an_unknown_sweep_in_a_real_store(tmp_path):
    db = tmp_path / "sweeps.db"
    store = Store(db)
    store.create_sweep({"method": "grid", "parameters": {"a": {"values": [1, 2]}}})
    store.close()
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(UnknownSweepError) as error:
        report("nope", tmp_path / "r.html", db=db)
    assert str(error.value) == f"no sweep 'nope' in {db}"
    assert isinstance(error.value, KeyError)
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.slow
def test_report_module_does_not_import_tensorflow():
    code = (
        "import sys, kerasweep._html_report as r;"
        "from tests.sweep_snapshots import hyperband_sweep;"
        "r.render_report(hyperband_sweep(runs=5, epochs=6));"
        "print(sorted(m for m in ('tensorflow', 'keras', 'wandb') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------------
# In a real browser

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (apt-get install chromium, or set $CHROMIUM)"
)


@pytest.mark.slow
@pytest.mark.browser
@needs_chromium
def test_report_draws_in_headless_chromium_and_runs_no_injected_script(tmp_path):
    snap = _injected_snapshot()
    page = tmp_path / "report.html"
    page.write_text(with_alert_probe(render_report(snap)), encoding="utf-8")
    dom = rendered_dom(CHROMIUM, page, tmp_path / "profile")

    root = dom[dom.index("<html") : dom.index(">", dom.index("<html"))]
    assert 'data-rendered="true"' in root, root
    assert "data-alerts" not in root and "data-render-error" not in root, root
    # plotly drew both figures: the parallel coordinates and the per-epoch lines
    assert len(re.findall(r'<div id="\w+" class="plot js-plotly-plot"', dom)) == 2
    parcoords = dom[dom.index('id="parcoords"') : dom.index('id="progress"')]
    assert 'class="parcoords"' in parcoords and "<canvas" in parcoords
    curves = dom[dom.index('id="curves"') : dom.index('id="importance"')]
    assert "<svg" in curves
    drawn_lines = re.findall(r'<path class="js-line"', curves)
    assert len(drawn_lines) == sum(1 for r in snap["runs"] if len(r["history"]) > 1)
    # every run has its leaderboard row
    assert len(_leaderboard_rows(dom)) == len(snap["runs"])
    # the injected values are text: in the table, the title, and plotly's axis labels
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escaped in dom.split('<script type="application/json"')[0]
    assert f">{escaped}</text>" in parcoords  # a category's tick label
    assert "<img" not in dom


# A real sweep on digits: grid order makes it deterministic (a random search would not be):
# the two adam runs at 0.01 come first, and both runs at 1e-5 fall behind them at band 1.
REAL_SWEEP = {
    "name": "digits-real",
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 1},
    "parameters": {
        "learning_rate": {"values": [0.01, 0.00001]},
        "note": {"values": [INJECTION, "plain"]},  # sweep_train ignores it
        "optimizer": {"value": "adam"},
        "dataset": {"value": "digits"},
        "epochs": {"value": 2},
        "hidden_units": {"value": 16},
        "seed": {"value": 0},
    },
}


@pytest.mark.slow
@pytest.mark.browser
@needs_chromium
def test_report_of_a_real_digits_sweep_in_headless_chromium(tmp_path):
    """`kerasweep run` with sweep_train on digits writes the report; Chromium draws it."""
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(REAL_SWEEP), encoding="utf-8")
    env = subprocess_env(WANDB_MODE="disabled", WANDB_SILENT="true", TF_CPP_MIN_LOG_LEVEL="3")
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        env[name] = str(tmp_path)
    command = [sys.executable, "-m", "kerasweep", "run", str(config), "--db", "d.db"]
    done = subprocess.run(
        [*command, "--wandb-mode", "disabled"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sweep_id = re.search(r"Created sweep with ID: (\w+)", done.stdout).group(1)
    assert f"Report: report-{sweep_id}.html" in done.stdout.splitlines()
    store = Store(tmp_path / "d.db", create=False)
    snap = store.snapshot(sweep_id)
    store.close()
    runs = snap["runs"]
    by_lr = {
        lr: [r["state"] for r in runs if r["params"]["learning_rate"] == lr] for lr in (0.01, 1e-5)
    }
    assert by_lr == {0.01: ["finished", "finished"], 1e-5: ["stopped", "stopped"]}

    page = tmp_path / "probed.html"
    written = (tmp_path / f"report-{sweep_id}.html").read_text(encoding="utf-8")
    page.write_text(with_alert_probe(written), encoding="utf-8")
    dom = rendered_dom(CHROMIUM, page, tmp_path / "profile")

    root = dom[dom.index("<html") : dom.index(">", dom.index("<html"))]
    assert 'data-rendered="true"' in root, root
    assert "data-alerts" not in root and "data-render-error" not in root, root
    assert len(re.findall(r'<div id="\w+" class="plot js-plotly-plot"', dom)) == 2
    parcoords = dom[dom.index('id="parcoords"') : dom.index('id="progress"')]
    assert 'class="parcoords"' in parcoords and "<canvas" in parcoords
    assert ">learning_rate</text>" in parcoords and ">note</text>" in parcoords
    curves = dom[dom.index('id="curves"') : dom.index('id="importance"')]
    # a path per run: the finished runs' two epochs a line, the stopped runs' one a point
    paths = re.findall(r'<path class="js-line" d="(M[^"]*)"', curves)
    assert len(paths) == 4 and sum("L" in d for d in paths) == 2
    assert ">stopped by hyperband</text>" in curves and ">band 1</text>" in curves
    stops = next(
        t
        for t in _data(written)["figures"]["curves"]["data"]
        if t.get("name") == "stopped by hyperband"
    )
    assert stops["x"] == [1, 1]
    # one leaderboard row per run; the injected value is text wherever it shows
    assert len(_leaderboard_rows(dom)) == len(runs) == 4
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert INJECTION not in dom
    assert sum(escaped in row for row in _leaderboard_rows(dom)) == 2
    assert f">{escaped}</text>" in parcoords  # the category's tick label


@pytest.mark.parametrize("seed, shown", [(None, "unseeded"), (7, "seed 7")])
def test_report_shows_the_seed_and_the_distinct_configurations(seed, shown):
    params = [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}, {"b": "x", "a": 1.0}, {"a": 3, "b": "y"}]
    snap = simple_sweep("random", params, [0.4, 0.3, 0.2, 0.1])
    snap["sweep"]["seed"] = seed
    page = render_report(snap)
    assert f"{shown} · 3 distinct configurations" in page
    assert "<dt>Seed</dt><dd>" + ("unseeded" if seed is None else "7") + "</dd>" in page
    assert "<dt>Distinct configurations</dt><dd>3 of 4 runs</dd>" in page


def test_the_report_returned_is_its_path_and_shows_inline_in_a_notebook(tmp_path):
    from kerasweep import report
    from kerasweep.local import local_agent, local_sweep
    from tests.local.test_progress import GRID, two_epochs

    db = tmp_path / "k.db"
    config = {**GRID, "name": '</iframe><script>alert("x")</script>'}
    sweep_id = local_sweep(config, db=db)
    local_agent(sweep_id, two_epochs, db=db, wandb_mode="disabled")
    path = report(sweep_id, f"{tmp_path}/out/", db=db)
    assert path == tmp_path / "out" / f"report-{sweep_id}.html" and path.is_file()
    assert isinstance(path, pathlib.Path) and str(path).endswith(".html")

    frames = []

    class Frames(HTMLParser):
        def handle_starttag(self, tag, attrs):
            frames.append((tag, dict(attrs)))

    Frames().feed(path._repr_html_())
    (tag, attrs), *rest = frames
    assert tag == "iframe" and not rest  # the page is inside the frame, not beside it
    assert attrs["srcdoc"] == path.read_text(encoding="utf-8")
    path.unlink()
    assert path._repr_html_() is None  # the text form says where it was


def test_the_reports_best_is_the_best_finished_or_stopped_run(tmp_path):
    """As `kerasweep best` and `ls`: a running (or crashed) run's lower value is not best."""
    from kerasweep.local._results import load_sweep
    from tests.local.stored_sweeps import write_sweep

    db = tmp_path / "kerasweep.db"
    sweep_id, ids = write_sweep(db)
    sweep = load_sweep(sweep_id, db=db)
    page = render_report(sweep)
    card = page.split('<div class="card best">')[1].split("</div></div>")[0]
    assert '<div class="big">0.3</div>' in card and sweep.best_run.id == ids["good"]
    assert '<p class="notice"' not in page  # every finished run logged the metric


def test_the_report_says_when_no_run_logged_the_metric():
    sweep = Sweep.from_dict(
        {
            "sweep": {"id": "s", "config": {"metric": {"name": "valloss"}}},
            "runs": [{"id": "a", "history": [{"loss": 1.0, "val_loss": 0.5}]}],
        }
    )
    page = render_report(sweep)
    assert (
        '<p class="notice" role="alert">1 of 1 finished run never logged the sweep metric'
        " &#x27;valloss&#x27;; the first logged loss, val_loss (did you mean"
        " &#x27;val_loss&#x27;?)</p>"
    ) in page


# ---------------------------------------------------------------------------
# A sweep of thousands of runs


def test_a_sweep_of_thousands_of_runs_draws_the_best_curves_and_lists_the_best_runs():
    from kerasweep._html_report.figures import CURVES_DRAWN
    from kerasweep._html_report.page import report_parts
    from kerasweep._html_report.sections import LEADERBOARD_ROWS

    sweep = hyperband_sweep(runs=LEADERBOARD_ROWS + 200, epochs=10, min_iter=1, eta=3)
    parts = report_parts(sweep)
    drawn = parts.data["curveRuns"]
    assert len(drawn) == CURVES_DRAWN
    assert len(parts.data["runs"]) == LEADERBOARD_ROWS + 200  # every run keeps its tooltip
    board = parts.html["leaderboard"]
    assert board.count("<tr") == LEADERBOARD_ROWS + 1  # the header, then the best runs
    assert f"The best {LEADERBOARD_ROWS:,} of {LEADERBOARD_ROWS + 200:,} runs" in board
    assert f"The best {CURVES_DRAWN} of" in parts.html["curves_note"]
