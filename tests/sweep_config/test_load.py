"""Tests for kerasweep.sweep_config._load: the tutorial's config, loading, the bad-config corpus."""

from __future__ import annotations

import json
import random
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from kerasweep.sweep_config import (
    MAX_GRID_SIZE,
    SWEEP_CONFIG,
    SweepConfigError,
    grid_size,
    load_sweep_config,
)
from kerasweep.sweep_config._grid import grid_key
from kerasweep.sweep_config._parameters import DEPRECATED, DISTRIBUTIONS
from kerasweep.sweep_config._rules import HYPERBAND_KEYS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import sweeps
    from sweeps import RunState, SweepRun
    from sweeps.grid_search import yaml_hash


# --- the corpus of malformed configs ---------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """A malformed config file, and what its one-line error must name."""

    id: str
    text: str | bytes | None  # None: the file is not created
    key: str | None  # the key path the message names (None: the file or document)
    value: str  # text of the offending value that the message shows
    filename: str = "sweep.yaml"
    line: int | None = None


_LR = "method: random\nparameters:\n  lr:\n"  # a config whose only parameter is lr, then its spec
_RANDOM = "method: random\nparameters:\n  lr: {values: [0.1]}\n"
_METRIC = "metric: {name: val_loss, goal: minimize}\n"

BAD_CONFIGS = [
    # reading and parsing
    Bad("missing-file", None, None, "sweep.yaml"),
    Bad("not-a-config-suffix", "method: grid\n", None, "sweep.txt", filename="sweep.txt"),
    Bad("not-utf8", b"method: grid\nname: \xff\xfe\n", None, "0xff"),
    Bad(
        "yaml-syntax",
        "method: grid\nparameters:\n  lr: {values: [1, 2}\n",
        None,
        "lr: {values: [1, 2}",
        line=3,
    ),
    Bad("yaml-tab-indent", "method: grid\nparameters:\n\tlr: {values: [1]}\n", None, "lr", line=3),
    Bad(
        "yaml-duplicate-key",
        "method: grid\nparameters:\n  lr: {values: [1]}\n  lr: {values: [2]}\n",
        None,
        "'lr'",
        line=4,
    ),
    Bad(
        "json-syntax",
        '{"method": "grid",\n "parameters": {"lr": {"values": [1,]}}}\n',
        None,
        '"parameters"',
        filename="sweep.json",
        line=2,
    ),
    Bad(
        "json-duplicate-key",
        '{"method": "grid", "method": "random", "parameters": {"a": {"value": 1}}}',
        "method",
        "'method'",
        filename="sweep.json",
    ),
    Bad("empty-file", "", None, "empty"),
    Bad("top-level-list", "- method: grid\n- parameters: {}\n", None, "[{'method': 'grid'}"),
    Bad("top-level-string", "grid\n", None, "'grid'"),
    Bad("json-top-level-list", "[1, 2]", None, "[1, 2]", filename="sweep.json"),
    Bad(
        "yaml-alias-bomb",
        "method: grid\nparameters:\n  a: {value: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}\n"
        + "".join(
            f"  {x}: {{value: &{x} [{', '.join(['*' + p] * 10)}]}}\n"
            for p, x in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "parameters.f",
        "200,000",
        line=8,
    ),
    Bad(
        "yaml-recursive-alias",
        _LR + "    value: &loop [1, *loop]\n",
        "parameters.lr.value[1]",
        "itself",
    ),
    Bad("yaml-date-value", _LR + "    value: 2024-01-31\n", "parameters.lr.value", "2024, 1, 31"),
    # top level
    Bad("method-missing", "parameters:\n  lr: {values: [1]}\n", "method", "missing", line=None),
    Bad(
        "method-unknown",
        "method: sgd\nparameters:\n  lr: {values: [1]}\n",
        "method",
        "'sgd'",
        line=1,
    ),
    Bad(
        "method-not-string",
        "method: [grid]\nparameters:\n  lr: {values: [1]}\n",
        "method",
        "['grid']",
    ),
    Bad(
        "method-custom", "method: custom\nparameters:\n  lr: {values: [1]}\n", "method", "'custom'"
    ),
    Bad(
        "unknown-setting",
        _RANDOM + "early_stopping: {type: hyperband}\n",
        "early_stopping",
        "'hyperband'",
        line=4,
    ),
    Bad("parameters-missing", "method: random\n", "parameters", "missing"),
    Bad("parameters-empty", "method: random\nparameters: {}\n", "parameters", "{}"),
    Bad(
        "parameters-not-mapping",
        "method: random\nparameters: [lr, batch_size]\n",
        "parameters",
        "['lr', 'batch_size']",
    ),
    Bad(
        "scheduler",
        _RANDOM + "scheduler: {engine: optuna, source: s.py}\n",
        "scheduler",
        "'optuna'",
    ),
    Bad(
        "metrics-multi-objective",
        _RANDOM + "metrics: [{name: a}, {name: b}]\n",
        "metrics",
        "'name': 'a'",
    ),
    Bad("run-cap-zero", _RANDOM + "run_cap: 0\n", "run_cap", "0", line=4),
    Bad("name-not-string", _RANDOM + "name: [my, sweep]\n", "name", "['my', 'sweep']"),
    Bad("controller-without-type", _RANDOM + "controller: {}\n", "controller.type", "missing"),
    Bad("program-not-string", _RANDOM + "program: [train.py]\n", "program", "['train.py']"),
    Bad(
        "command-not-list",
        _RANDOM + "program: train.py\ncommand: python train.py\n",
        "command",
        "'python train.py'",
    ),
    Bad(
        "command-program-macro-without-program",
        _RANDOM + "command: [python, '${program}']\n",
        "command",
        "${program}",
    ),
    # parameter names and shapes
    Bad(
        "parameter-name-with-space",
        "method: random\nparameters:\n  learning rate: {values: [1]}\n",
        "parameters.learning rate",
        "'learning rate'",
    ),
    Bad(
        "parameter-key-not-string",
        "method: random\nparameters:\n  1: {values: [1]}\n",
        "parameters.1",
        "1",
    ),
    Bad(
        "parameter-key-yaml-boolean",
        "method: random\nparameters:\n  no: {values: [1]}\n",
        "parameters.False",
        "False",
        line=3,
    ),
    Bad(
        "parameter-not-mapping", _LR.replace("lr:\n", "lr: 0.01\n"), "parameters.lr", "0.01", line=3
    ),
    Bad("parameter-empty", _LR.replace("lr:\n", "lr: {}\n"), "parameters.lr", "{}"),
    Bad("parameter-no-kind", _LR + "    mu: 0.1\n", "parameters.lr.mu", "0.1"),
    Bad(
        "parameter-value-and-values",
        _LR + "    value: 1\n    values: [1, 2]\n",
        "parameters.lr.values",
        "[1, 2]",
    ),
    Bad(
        "parameter-unknown-key",
        _LR + "    min: 0.1\n    mx: 0.5\n",
        "parameters.lr.mx",
        "0.5",
        line=5,
    ),
    Bad("parameter-missing-max", _LR + "    min: 0.1\n", "parameters.lr.max", "uniform"),
    # distributions
    Bad(
        "distribution-unknown",
        _LR + "    distribution: gaussian\n",
        "parameters.lr.distribution",
        "'gaussian'",
        line=4,
    ),
    Bad(
        "distribution-not-string", _LR + "    distribution: 3\n", "parameters.lr.distribution", "3"
    ),
    Bad(
        "distribution-mapping",
        _LR + "    distribution: {min: 1}\n",
        "parameters.lr.distribution",
        "{'min': 1}",
    ),
    Bad(
        "distribution-deprecated-log-uniform",
        _LR + "    distribution: log_uniform\n    min: -9.2\n    max: -2.3\n",
        "parameters.lr.distribution",
        "'log_uniform'",
    ),
    Bad(
        "min-greater-than-max",
        _LR + "    min: 0.5\n    max: 0.1\n",
        "parameters.lr.min",
        "0.5",
        line=4,
    ),
    Bad("min-equals-max", _LR + "    min: 3\n    max: 3\n", "parameters.lr.min", "3"),
    Bad(
        "min-is-yaml-string",
        _LR + "    min: 1e-5\n    max: 1.0e-1\n",
        "parameters.lr.min",
        "'1e-5'",
    ),
    Bad("min-not-a-number", _LR + "    min: low\n    max: 0.1\n", "parameters.lr.min", "'low'"),
    Bad("min-nan", _LR + "    min: .nan\n    max: 0.1\n", "parameters.lr.min", "nan"),
    Bad("max-infinite", _LR + "    min: 0.0\n    max: .inf\n", "parameters.lr.max", "inf"),
    Bad(
        "int-uniform-float-bound",
        _LR + "    distribution: int_uniform\n    min: 1\n    max: 10.5\n",
        "parameters.lr.max",
        "10.5",
    ),
    Bad(
        "log-uniform-values-zero-min",
        _LR + "    distribution: log_uniform_values\n    min: 0\n    max: 0.1\n",
        "parameters.lr.min",
        "0",
    ),
    Bad(
        "inv-log-uniform-values-negative-min",
        _LR + "    distribution: inv_log_uniform_values\n    min: -1.0\n    max: 1.0\n",
        "parameters.lr.min",
        "-1.0",
    ),
    Bad(
        "q-log-uniform-values-zero-min",
        _LR + "    distribution: q_log_uniform_values\n    min: 0\n    max: 256\n    q: 8\n",
        "parameters.lr.min",
        "0",
    ),
    Bad(
        "q-zero",
        _LR + "    distribution: q_uniform\n    min: 0\n    max: 1\n    q: 0\n",
        "parameters.lr.q",
        "0",
    ),
    Bad("q-negative", _LR + "    distribution: q_normal\n    q: -0.5\n", "parameters.lr.q", "-0.5"),
    Bad("sigma-zero", _LR + "    distribution: normal\n    sigma: 0\n", "parameters.lr.sigma", "0"),
    Bad("beta-a-zero", _LR + "    distribution: beta\n    a: 0\n", "parameters.lr.a", "0"),
    Bad(
        "normal-with-bounds",
        _LR + "    distribution: normal\n    min: 0\n    max: 1\n",
        "parameters.lr.min",
        "0",
    ),
    Bad("values-empty", _LR + "    values: []\n", "parameters.lr.values", "[]"),
    Bad("values-not-list", _LR + "    values: 32\n", "parameters.lr.values", "32"),
    Bad(
        "probabilities-length",
        _LR + "    values: [1, 2, 3]\n    probabilities: [0.5, 0.5]\n",
        "parameters.lr.probabilities",
        "[0.5, 0.5]",
    ),
    Bad(
        "probabilities-sum",
        _LR + "    values: [1, 2]\n    probabilities: [0.5, 0.6]\n",
        "parameters.lr.probabilities",
        "[0.5, 0.6]",
    ),
    Bad(
        "probabilities-negative",
        _LR + "    values: [1, 2]\n    probabilities: [1.5, -0.5]\n",
        "parameters.lr.probabilities[1]",
        "-0.5",
    ),
    # nested parameters
    Bad(
        "nested-min-greater-than-max",
        "method: random\nparameters:\n  optimizer:\n"
        "    parameters:\n      lr: {min: 1.0, max: 0.1}\n",
        "parameters.optimizer.parameters.lr.min",
        "1.0",
        line=5,
    ),
    Bad(
        "nested-empty",
        "method: random\nparameters:\n  optimizer:\n    parameters: {}\n",
        "parameters.optimizer.parameters",
        "{}",
    ),
    Bad(
        "nested-mixed-with-values",
        "method: random\nparameters:\n  optimizer:\n"
        "    values: [sgd]\n    parameters: {lr: {value: 1}}\n",
        "parameters.optimizer.values",
        "['sgd']",
    ),
    # what the method needs
    Bad(
        "grid-over-uniform",
        "method: grid\nparameters:\n  lr: {min: 0.001, max: 0.1}\n",
        "parameters.lr",
        "'min': 0.001",
    ),
    Bad(
        "grid-over-normal",
        "method: grid\nparameters:\n  lr: {distribution: normal}\n",
        "parameters.lr",
        "'normal'",
    ),
    Bad(
        "grid-over-probabilities",
        "method: grid\nparameters:\n  bs: {values: [32, 64], probabilities: [0.5, 0.5]}\n",
        "parameters.bs",
        "probabilities",
    ),
    Bad(
        "grid-astronomical",
        "method: grid\nparameters:\n"
        + "".join(f"  p{i}: {{min: 1, max: 1000}}\n" for i in range(12)),
        "parameters",
        "1.0e+36",
    ),
    Bad(
        "grid-int-uniform-huge",
        "method: grid\nparameters:\n  seed: {min: 0, max: 1000000000000}\n",
        "parameters",
        "1,000,000,000,001",
    ),
    Bad(
        "grid-q-uniform-too-fine",
        "method: grid\nparameters:\n"
        "  lr: {distribution: q_uniform, min: 0.0, max: 1.0, q: 0.000001}\n",
        "parameters",
        "1,000,000",
    ),
    Bad(
        "bayes-without-metric",
        "method: bayes\nparameters:\n  lr: {min: 0.001, max: 0.1}\n",
        "metric",
        "'bayes'",
    ),
    Bad(
        "bayes-only-constants",
        "method: bayes\n" + _METRIC + "parameters:\n  lr: {value: 0.1}\n",
        "parameters",
        "0.1",
    ),
    Bad(
        "bayes-with-probabilities",
        "method: bayes\n"
        + _METRIC
        + "parameters:\n  bs: {values: [32, 64], probabilities: [0.2, 0.8]}\n",
        "parameters.bs.probabilities",
        "[0.2, 0.8]",
    ),
    # metric
    Bad("metric-not-mapping", _RANDOM + "metric: val_loss\n", "metric", "'val_loss'"),
    Bad("metric-name-missing", _RANDOM + "metric: {goal: minimize}\n", "metric.name", "missing"),
    Bad("metric-name-not-string", _RANDOM + "metric: {name: 3}\n", "metric.name", "3"),
    Bad(
        "goal-unknown",
        _RANDOM + "metric: {name: val_loss, goal: min}\n",
        "metric.goal",
        "'min'",
        line=4,
    ),
    Bad(
        "metric-impute-unknown",
        _RANDOM + "metric: {name: val_loss, impute: zero}\n",
        "metric.impute",
        "'zero'",
    ),
    # early termination
    Bad(
        "hyperband-without-metric",
        _RANDOM + "early_terminate: {type: hyperband, min_iter: 3}\n",
        "metric",
        "hyperband",
    ),
    Bad(
        "early-terminate-not-mapping",
        _RANDOM + _METRIC + "early_terminate: hyperband\n",
        "early_terminate",
        "'hyperband'",
    ),
    Bad(
        "early-terminate-type-missing",
        _RANDOM + _METRIC + "early_terminate: {min_iter: 3}\n",
        "early_terminate.type",
        "hyperband",
    ),
    Bad(
        "early-terminate-type-unknown",
        _RANDOM + _METRIC + "early_terminate: {type: median, min_iter: 3}\n",
        "early_terminate.type",
        "'median'",
    ),
    Bad(
        "hyperband-unknown-key",
        _RANDOM + _METRIC + "early_terminate: {type: hyperband, min_iters: 3}\n",
        "early_terminate.min_iters",
        "3",
    ),
    Bad(
        "hyperband-no-min-iter",
        _RANDOM + _METRIC + "early_terminate: {type: hyperband, eta: 3}\n",
        "early_terminate.min_iter",
        "missing",
    ),
    Bad(
        "min-iter-zero",
        _RANDOM + _METRIC + "early_terminate: {type: hyperband, min_iter: 0}\n",
        "early_terminate.min_iter",
        "0",
    ),
    Bad(
        "min-iter-float",
        _RANDOM + _METRIC + "early_terminate: {type: hyperband, min_iter: 2.5}\n",
        "early_terminate.min_iter",
        "2.5",
    ),
    Bad(
        "eta-one",
        _RANDOM + _METRIC + "early_terminate: {type: hyperband, min_iter: 3, eta: 1}\n",
        "early_terminate.eta",
        "1",
    ),
    Bad(
        "eta-below-one",
        _RANDOM + _METRIC + "early_terminate: {type: hyperband, min_iter: 3, eta: 0.5}\n",
        "early_terminate.eta",
        "0.5",
    ),
    Bad(
        "eta-overflows-bands",
        _RANDOM + _METRIC + "early_terminate: {type: hyperband, min_iter: 3, eta: 10000.0}\n",
        "early_terminate.eta",
        "10000.0",
    ),
    Bad(
        "max-iter-without-s",
        _RANDOM + _METRIC + "early_terminate: {type: hyperband, min_iter: 3, max_iter: 27}\n",
        "early_terminate.max_iter",
        "27",
    ),
    Bad(
        "max-iter-below-eta",
        _RANDOM + _METRIC + "early_terminate: {type: hyperband, max_iter: 2, s: 2}\n",
        "early_terminate.max_iter",
        "2",
    ),
    Bad(
        "s-zero",
        _RANDOM + _METRIC + "early_terminate: {type: hyperband, max_iter: 27, s: 0}\n",
        "early_terminate.s",
        "0",
    ),
    Bad(
        "s-float",
        _RANDOM + _METRIC + "early_terminate: {type: hyperband, max_iter: 27, s: 2.5}\n",
        "early_terminate.s",
        "2.5",
    ),
    Bad(
        "min-iter-float-overflows-bands",
        _RANDOM + _METRIC + "early_terminate: {type: hyperband, min_iter: 1.0e+300}\n",
        "early_terminate.min_iter",
        "1e+300",
    ),
    # what W&B's engine accepts, then fails on mid-sweep or runs out of memory on
    Bad(
        "bayes-values-nan",
        "method: bayes\n" + _METRIC + "parameters:\n  lr: {values: [0.1, .nan]}\n",
        "parameters.lr.values[1]",
        "nan",
    ),
    Bad(
        "grid-repeated-values",
        "method: grid\nparameters:\n  dropout: {values: [" + ", ".join(["0.5"] * 5000) + "]}\n"
        "  units: {min: 1, max: 20000}\n",
        "parameters.dropout.values",
        "5,000 values, 1 of them distinct",
        line=3,
    ),
    Bad(
        "uniform-range-overflows",
        _LR + "    min: -1.0e+308\n    max: 1.0e+308\n",
        "parameters.lr.max",
        "1e+308",
    ),
    Bad(
        "log-normal-mu-overflows",
        _LR + "    distribution: log_normal\n    mu: 800\n",
        "parameters.lr.mu",
        "800",
    ),
    Bad(
        "q-underflows",
        _LR + "    distribution: q_uniform\n    min: 0\n    max: 1\n    q: 1.0e-310\n",
        "parameters.lr.q",
        "1e-310",
    ),
    Bad(
        "grid-q-uniform-range-overflows",
        "method: grid\nparameters:\n  lr:\n    distribution: q_uniform\n"
        "    min: -1.0e+308\n    max: 1.0e+308\n    q: 1.0e+307\n",
        "parameters.lr.max",
        "1e+308",
    ),
    Bad(
        "integer-q-beyond-64-bits",
        _LR + "    distribution: q_uniform\n    min: 0\n    max: 1.0e+300\n    q: 1\n",
        "parameters.lr.q",
        "(1.0)",
    ),
    Bad(
        "int-uniform-beyond-64-bits",
        "method: random\nparameters:\n  units: {min: 1, max: " + str(2**70) + "}\n",
        "parameters.units.max",
        str(2**70),
    ),
    Bad(
        "strict-not-boolean",
        _RANDOM + _METRIC + "early_terminate: {type: hyperband, min_iter: 3, strict: maybe}\n",
        "early_terminate.strict",
        "'maybe'",
    ),
]


def _write(case: Bad, directory: Path) -> Path:
    path = directory / case.filename
    if isinstance(case.text, bytes):
        path.write_bytes(case.text)
    elif case.text is not None:
        path.write_text(case.text, encoding="utf-8")
    return path


def test_corpus_is_large_and_ids_unique():
    ids = [case.id for case in BAD_CONFIGS]
    assert len(ids) >= 30
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=lambda case: case.id)
def test_bad_config_is_one_line_naming_file_key_and_value(case: Bad, tmp_path: Path):
    path = _write(case, tmp_path)
    with pytest.raises(SweepConfigError) as caught:
        load_sweep_config(path)
    err = caught.value
    message = str(err)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert err.source == str(path)
    assert err.key == case.key
    if case.key is not None:
        assert f": {case.key}: " in message
    assert case.value in message
    if case.line is not None:
        assert err.line == case.line
        assert message.startswith(f"{path}:{case.line}: ")
    assert isinstance(err, ValueError)


def test_directory_is_not_a_config(tmp_path: Path):
    folder = tmp_path / "sweep.yaml"
    folder.mkdir()
    with pytest.raises(SweepConfigError, match=r"sweep\.yaml: is a directory"):
        load_sweep_config(folder)


def test_dict_source_names_dict_and_key():
    config = {"method": "grid", "parameters": {"lr": {"min": 0.5, "max": 0.1}}}
    with pytest.raises(SweepConfigError) as caught:
        load_sweep_config(config)
    err = caught.value
    assert str(err) == "<dict>: parameters.lr.min: 0.5 is greater than max 0.1"
    assert (err.source, err.key, err.value, err.line) == ("<dict>", "parameters.lr.min", 0.5, None)


@pytest.mark.parametrize(
    ("config", "key", "shown"),
    [
        (
            {"method": "random", "parameters": {"f": {"value": object()}}},
            "parameters.f.value",
            "object",
        ),
        (
            {"method": "random", "parameters": {"f": {"values": {1, 2}}}},
            "parameters.f.values",
            "{1, 2}",
        ),
        ({"method": "random", ("a", "b"): 1, "parameters": {}}, "('a', 'b')", "('a', 'b')"),
    ],
    ids=["object-value", "set-value", "tuple-key"],
)
def test_dict_source_with_non_json_data(config, key, shown):
    with pytest.raises(SweepConfigError) as caught:
        load_sweep_config(config)
    assert caught.value.key == key
    assert shown in str(caught.value)
    assert str(caught.value).startswith("<dict>: ")


def test_source_that_is_neither_mapping_nor_path():
    with pytest.raises(SweepConfigError, match=r"^<int>: 42 is neither a mapping nor a file path$"):
        load_sweep_config(42)


# --- valid configs -------------------------------------------------------------------------------

GRID = {
    "method": "grid",
    "metric": {"name": "val_acc", "goal": "maximize"},
    "parameters": {
        "batch_size": {"values": [32, 64]},
        "units": {"min": 16, "max": 18},
        "dropout": {"distribution": "q_uniform", "min": 0.0, "max": 0.3, "q": 0.1},
        "epochs": {"value": 2},
        # repeated and equal values are one grid point each, as the engine counts them
        "optimizer": {"values": ["adam", "sgd", "adam"]},
        "scale": {"values": [1, 1.0, 2]},
    },
}

BAYES = {
    "method": "bayes",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 2, "strict": False},
    "parameters": {
        "learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        "weight_decay": {"distribution": "inv_log_uniform_values", "min": 1.0, "max": 100.0},
        "batch_size": {"distribution": "q_log_uniform_values", "min": 16, "max": 256, "q": 16},
        "units": {"distribution": "int_uniform", "min": 32, "max": 256},
        "dropout": {"min": 0.0, "max": 0.5},
        "momentum": {"distribution": "beta", "a": 2, "b": 5},
        "smoothing": {"distribution": "q_beta", "a": 2, "b": 5, "q": 0.05},
        "noise": {"distribution": "normal", "mu": 0.0, "sigma": 0.1},
        "shift": {"distribution": "q_normal", "mu": 0.0, "sigma": 2.0, "q": 0.5},
        "scale": {"distribution": "log_normal", "mu": 0.0, "sigma": 0.5},
        "width": {"distribution": "q_log_normal", "mu": 3.0, "sigma": 0.5, "q": 8},
        "steps": {"distribution": "q_uniform", "min": 10, "max": 100, "q": 10},
        "optimizer": {"values": ["adam", "sgd"]},
        "epochs": {"value": 5},
    },
}

NESTED = {
    "method": "random",
    "metric": {"name": "val_loss"},
    "parameters": {
        "optimizer": {
            "parameters": {
                "name": {"values": ["adam", "sgd"]},
                "learning_rate": {"min": 0.001, "max": 0.1},
            }
        },
        "layers": {
            "parameters": {
                "units": {"values": [32, 64]},
                "inner": {"parameters": {"activation": {"value": "relu"}}},
            }
        },
        "epochs": {"value": 3},
    },
}

VALID_CONFIGS = {
    "tutorial": SWEEP_CONFIG,
    "grid": GRID,
    "grid-hyperband-max-iter": {
        **GRID,
        "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3},
    },
    "bayes-distributions": BAYES,
    "bayes-metric-options": {
        "method": "bayes",
        "metric": {
            "name": "val_acc",
            "goal": "maximize",
            "target": 0.99,
            "impute": "best",
            "impute_while_running": "latest",
        },
        "parameters": {"lr": {"min": 0.001, "max": 0.1}, "units": {"values": [32, 64]}},
    },
    "random-probabilities": {
        "method": "random",
        "parameters": {"batch_size": {"values": [32, 64, 128], "probabilities": [0.2, 0.3, 0.5]}},
    },
    "nested-random": NESTED,
    "nested-grid": {
        "method": "grid",
        "parameters": {
            "optimizer": {
                "parameters": {
                    "name": {"values": ["adam", "sgd"]},
                    "schedule": {"parameters": {"warmup": {"values": [0, 100, 1000]}}},
                }
            },
            "units": {"values": [32, 64]},
        },
    },
    "nested-bayes": {**NESTED, "method": "bayes"},
    "program-command": {
        "program": "train.py",
        "command": ["${env}", "${interpreter}", "${program}", "${args}"],
        "method": "random",
        "name": "tutorial",
        "description": "the tutorial's search, run as a program",
        "project": "sweeps-tensorflow",
        "entity": "someone",
        "run_cap": 10,
        "controller": {"type": "local"},
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": SWEEP_CONFIG["parameters"],
    },
    "hyperband-whole-floats": {
        **SWEEP_CONFIG,
        "early_terminate": {"type": "hyperband", "max_iter": 27.0, "s": 2, "min_iter": 3.0},
    },
    "hyperband-min-iter-whole-float": {
        **SWEEP_CONFIG,
        "early_terminate": {"type": "hyperband", "min_iter": 3.0},
    },
    "hyperband-s-with-min-iter": {  # the engine ignores s without max_iter
        **SWEEP_CONFIG,
        "early_terminate": {"type": "hyperband", "min_iter": 3, "s": 2.5},
    },
    "program-empty-command": {**SWEEP_CONFIG, "program": "train.py", "command": []},
    "program-command-with-numbers": {
        **SWEEP_CONFIG,
        "program": "train.py",
        "command": ["${env}", "${interpreter}", "${program}", "--epochs", 5, "${args}"],
    },
    "grid-at-limit": {
        "method": "grid",
        "parameters": {"a": {"min": 1, "max": 100}, "b": {"min": 1, "max": MAX_GRID_SIZE // 100}},
    },
}


def _finished(run: SweepRun, metric: str, values: list[float], state=RunState.finished):
    return SweepRun(config=run.config, state=state, history=[{metric: v} for v in values])


@pytest.mark.parametrize("name", list(VALID_CONFIGS))
def test_valid_config_loads_as_given_and_the_engine_runs_it(name):
    given = VALID_CONFIGS[name]
    config = load_sweep_config(given)
    assert config == given
    assert json.loads(json.dumps(config)) == config
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sweeps.SweepConfig(config)  # W&B's schema accepts it
        first = sweeps.next_run(config, [])
        assert first is not None
        assert set(first.config) == set(config["parameters"])
        if config["method"] != "grid" or grid_size(config) <= 1000:
            metric = config.get("metric", {}).get("name", "loss")
            runs = [_finished(first, metric, [1.0, 0.5])]
            second = sweeps.next_run(config, runs)
            runs.append(_finished(second, metric, [0.9, 0.8, 0.7], state=RunState.running))
            assert sweeps.next_run(config, runs) is not None
        if "early_terminate" in config:
            metric = config["metric"]["name"]
            runs = [_finished(first, metric, [float(i) for i in range(30)], RunState.running)]
            assert isinstance(sweeps.stop_runs(config, runs), list)


def test_whole_float_hyperband_settings_load_as_integers():
    config = load_sweep_config(VALID_CONFIGS["hyperband-whole-floats"])
    early = config["early_terminate"]
    assert (early["min_iter"], early["max_iter"]) == (3, 27)
    assert type(early["min_iter"]) is int and type(early["max_iter"]) is int


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ([], ["train.py", "--lr=0.1"]),
        (["${env}", "${interpreter}", "${program}", "--epochs", 5, "${args}"],
         ["train.py", "--epochs", "5", "--lr=0.1"]),
    ],
    ids=["empty", "with-a-number"],
)
def test_accepted_commands_build_as_wandb_agent_builds_them(command, expected):
    from kerasweep.local._program import build_command

    config = load_sweep_config({**SWEEP_CONFIG, "program": "train.py", "command": command})
    assert build_command(config, {"lr": 0.1})[2:] == expected


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("tutorial", ".yaml"),
        ("tutorial", ".yml"),
        ("tutorial", ".json"),
        ("tutorial", ".YAML"),
        ("bayes-distributions", ".yaml"),
        ("nested-grid", ".json"),
    ],
)
def test_valid_config_from_file(name, suffix, tmp_path: Path):
    config = VALID_CONFIGS[name]
    path = tmp_path / f"sweep{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(config, indent=2))
    else:
        import yaml

        path.write_text(yaml.safe_dump(config, sort_keys=False))
    assert load_sweep_config(path) == config
    assert load_sweep_config(str(path)) == config


def test_yaml_anchors_and_merge_keys_are_fine(tmp_path: Path):
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "method: random\n"
        "parameters:\n"
        "  lr: &bounds {min: 0.001, max: 0.1}\n"
        "  wd:\n"
        "    <<: *bounds\n"
        "    max: 0.01\n"
    )
    config = load_sweep_config(path)
    assert config["parameters"]["wd"] == {"min": 0.001, "max": 0.01}


def test_dict_source_becomes_plain_json_data_and_a_copy():
    given = {
        "method": "grid",
        "parameters": {
            "batch_size": {"values": np.array([32, 64])},
            "lr": {"value": np.float32(0.5)},
            "units": {"min": np.int64(1), "max": np.int64(3)},
            "shape": {"values": [(1, 2), (3, 4)]},
            "flag": {"value": np.bool_(True)},
        },
    }
    config = load_sweep_config(given)
    params = config["parameters"]
    assert params["batch_size"]["values"] == [32, 64]
    assert type(params["batch_size"]["values"][0]) is int
    assert type(params["lr"]["value"]) is float
    assert type(params["units"]["min"]) is int
    assert params["shape"]["values"] == [[1, 2], [3, 4]]
    assert params["flag"]["value"] is True
    assert grid_size(config) == 2 * 3 * 2
    params["units"]["min"] = 2
    assert given["parameters"]["units"]["min"] == 1


def test_loading_leaves_random_states_alone():
    random.seed(7)
    np.random.seed(7)
    expected = (random.random(), np.random.random())
    random.seed(7)
    np.random.seed(7)
    for config in (SWEEP_CONFIG, BAYES, GRID):
        load_sweep_config(config)
    assert (random.random(), np.random.random()) == expected


# --- grid size -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tutorial", "grid", "nested-grid"])
def test_grid_size_is_what_the_engine_enumerates(name):
    config = VALID_CONFIGS[name]
    config = {**config, "method": "grid"}
    config.pop("early_terminate", None)
    runs: list[SweepRun] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while (run := sweeps.next_run(config, runs)) is not None:
            runs.append(SweepRun(config=run.config, state=RunState.finished))
            assert len(runs) <= 1000
    assert grid_size(config) == len(runs)


def test_grid_size_of_the_examples():
    assert grid_size(SWEEP_CONFIG) == 20
    assert grid_size(GRID) == 2 * 3 * 3 * 1 * 2 * 2
    assert grid_size(VALID_CONFIGS["nested-grid"]) == 2 * 3 * 2
    assert grid_size(VALID_CONFIGS["grid-at-limit"]) == MAX_GRID_SIZE
    assert grid_size(BAYES) is None
    assert grid_size(VALID_CONFIGS["random-probabilities"]) is None


def test_grid_size_of_an_astronomical_grid_is_exact_and_instant():
    parameters = {f"p{i}": {"min": 1, "max": 10**6} for i in range(50)}
    assert grid_size({"method": "grid", "parameters": parameters}) == 10 ** (6 * 50)


def test_grid_size_rejects_malformed_parameters():
    with pytest.raises(SweepConfigError, match=r"parameters\.lr\.values: \[\] is empty"):
        grid_size({"method": "grid", "parameters": {"lr": {"values": []}}})


def test_grid_just_over_the_limit_is_refused():
    config = VALID_CONFIGS["grid-at-limit"]
    config = {**config, "parameters": {**config["parameters"], "c": {"values": [1, 2]}}}
    with pytest.raises(SweepConfigError, match=rf"the limit is {MAX_GRID_SIZE:,}"):
        load_sweep_config(config)


def test_grid_of_repeated_values_is_refused_before_anything_lists_it():
    # one distinct point, but the engine's product of the lists has a million combinations
    config = {"method": "grid", "parameters": {k: {"values": [1] * 100} for k in "abc"}}
    assert grid_size(config) == 1
    with pytest.raises(SweepConfigError) as caught:
        load_sweep_config(config)
    assert caught.value.key == "parameters.a.values"
    assert "1,000,000 combinations" in str(caught.value)


def test_grid_with_a_few_repeats_is_fine():
    config = {"method": "grid", "parameters": {"a": {"values": [1, 1, 2]}, "b": {"value": 3}}}
    assert load_sweep_config(config) == config


def test_grid_point_identity_matches_the_engine():
    values = [1, 1.0, 2, 2.5, True, False, 0, "1", None, 1e-5, 3e6, 3000000, [1, 2], [1.0, 2]]
    values += [{"a": 1, "b": [1]}, {"b": [1], "a": 1}, {"a": 1.0}, "adam", "Adam"]
    for a in values:
        for b in values:
            same_for_engine = yaml_hash(a) == yaml_hash(b)
            assert (grid_key(a) == grid_key(b)) == same_for_engine


# --- the engine's schema -------------------------------------------------------------------------


def test_distribution_table_matches_the_engine_schema():
    definitions = sweeps.config.schema.dereferenced_sweep_config_jsonschema["definitions"]
    keys_by_distribution: dict[str, set[str]] = {}
    for definition in definitions.values():
        for branch in definition.get("anyOf", [definition]):
            enum = branch.get("properties", {}).get("distribution", {}).get("enum", [])
            for name in enum:
                keys_by_distribution.setdefault(name, set()).update(branch["properties"])
    table = DISTRIBUTIONS
    assert set(keys_by_distribution) == set(table) | set(DEPRECATED)
    for name, rules in table.items():
        assert {"distribution", *rules.required, *rules.optional} == keys_by_distribution[name]


def test_hyperband_keys_match_the_engine_schema():
    definitions = sweeps.config.schema.sweep_config_jsonschema["definitions"]
    assert set(HYPERBAND_KEYS) == set(definitions["hyperband_stopping"]["properties"])


@pytest.mark.slow
def test_import_is_quiet_and_leaves_tensorflow_out():
    import subprocess
    import sys

    code = (
        "import sys, kerasweep.sweep_config as c; c.load_sweep_config(c.SWEEP_CONFIG);"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    assert result.stdout.split() == ["False", "False"]
    assert result.stderr == ""


# --- mutations -----------------------------------------------------------------------------------

_ATOMS = [None, 0, 1, -1, 0.5, -0.5, 1e300, float("nan"), True, "", "x", "grid", "bayes"]
_ATOMS += ["hyperband", "uniform", "normal", "q_uniform", [], [1, 2], {}, {"value": 1}]
_ATOMS += [{"values": []}, {"min": 1, "max": 0}, {"parameters": {}}, 2.5, 10**20, "1e-5"]
_KEYS = ["method", "metric", "parameters", "min_iter", "max_iter", "s", "eta", "values", "value"]
_KEYS += ["min", "max", "q", "sigma", "distribution", "probabilities", "command", "type"]


def _mutated(config: dict, rng: random.Random) -> dict:
    config = json.loads(json.dumps(config))
    for _ in range(rng.randint(1, 3)):
        paths, stack = [], [((), config)]
        while stack:
            path, node = stack.pop()
            if isinstance(node, (dict, list)):
                children = node.items() if isinstance(node, dict) else enumerate(node)
                for key, child in children:
                    paths.append((*path, key))
                    stack.append(((*path, key), child))
        if not paths:
            break
        path = rng.choice(paths)
        parent = config
        for part in path[:-1]:
            parent = parent[part]
        roll = rng.random()
        if roll < 0.5:
            parent[path[-1]] = json.loads(json.dumps(rng.choice(_ATOMS)))
        elif roll < 0.7 and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[rng.choice(_KEYS)] = json.loads(json.dumps(rng.choice(_ATOMS)))
    return config


@pytest.mark.slow
def test_mutated_configs_either_run_in_the_engine_or_fail_in_one_line():
    rng = random.Random(0)
    names = [name for name in VALID_CONFIGS if name != "grid-at-limit"]
    accepted = refused = 0
    for _ in range(200):
        config = _mutated(VALID_CONFIGS[rng.choice(names)], rng)
        try:
            loaded = load_sweep_config(config)
        except SweepConfigError as err:
            assert "\n" not in str(err)
            refused += 1
            continue
        accepted += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert sweeps.next_run(loaded, []) is not None
            if "early_terminate" in loaded:
                sweeps.stop_runs(loaded, [])
    assert accepted and refused


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.y*ml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_sweeps_load_and_run_in_the_engine(path: Path):
    config = load_sweep_config(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert sweeps.next_run(config, []) is not None
        if "early_terminate" in config:
            sweeps.stop_runs(config, [])
