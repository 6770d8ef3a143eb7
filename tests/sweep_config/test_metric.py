"""Tests for kerasweep.sweep_config._metric: one Metric, parsed once, compared everywhere."""

from __future__ import annotations

import dataclasses
import doctest
import math

import pytest

from kerasweep.sweep_config import SWEEP_CONFIG, Metric, load_sweep_config
from kerasweep.sweep_config import _metric as metric_module


def test_from_the_tutorial_config():
    metric = Metric.from_config(load_sweep_config(SWEEP_CONFIG))
    assert metric == Metric("val_loss", "minimize", None)
    assert not metric.maximize and metric.sign == 1.0


@pytest.mark.parametrize(
    "config",
    [{}, {"metric": None}, {"metric": {"goal": "maximize"}}, {"metric": {"name": ""}}, []],
)
def test_no_metric_is_none(config):
    assert Metric.from_config(config) is None


def test_goal_defaults_to_minimize_and_target_is_a_float():
    metric = Metric.from_config({"metric": {"name": "acc", "goal": "maximize", "target": 1}})
    assert metric == Metric("acc", "maximize", 1.0)
    assert type(metric.target) is float
    assert Metric.from_config({"metric": {"name": "loss"}}).goal == "minimize"


def test_is_frozen_and_hashable():
    metric = Metric("loss")
    with pytest.raises(dataclasses.FrozenInstanceError):
        metric.name = "other"  # type: ignore[misc]
    assert {metric: 1}[Metric("loss", "minimize")] == 1


@pytest.mark.parametrize("goal, a, b", [("minimize", 0.1, 0.2), ("maximize", 0.9, 0.8)])
def test_better_follows_the_goal(goal, a, b):
    metric = Metric("m", goal)
    assert metric.better(a, b) and not metric.better(b, a)
    assert not metric.better(a, a)  # strictly better


@pytest.mark.parametrize("goal", ["minimize", "maximize"])
def test_missing_and_non_finite_values_are_never_better(goal):
    metric = Metric("m", goal)
    for bad in (None, math.nan, math.inf, -math.inf, "x", True):
        assert not metric.better(bad, 0.5)
        assert metric.better(0.5, bad)
        assert not metric.better(bad, None)


def test_best():
    assert Metric("m").best([0.3, None, 0.1, math.nan, -math.inf]) == 0.1
    assert Metric("m", "maximize").best([0.3, None, 0.1, math.inf]) == 0.3
    assert Metric("m").best([]) is None
    assert Metric("m").best([None, math.nan]) is None
    assert Metric("m").best(iter([2, 1])) == 1.0


def test_reached():
    assert Metric("loss", target=0.1).reached(0.1)
    assert not Metric("loss", target=0.1).reached(0.2)
    assert Metric("acc", "maximize", 0.9).reached(0.95)
    assert not Metric("acc", "maximize", 0.9).reached(math.nan)
    assert not Metric("loss").reached(-1e9)


def test_docstring_examples():
    assert doctest.testmod(metric_module).failed == 0
