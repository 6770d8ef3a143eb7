"""Synthetic sweep snapshots (the dict ``Store.snapshot`` returns) for report tests.

:func:`hyperband_sweep` simulates a random search with hyperband early termination the way
W&B's engine judges it: a run that reaches band ``b`` is stopped when its metric at epoch ``b``
is worse than the value at index ``int(n / eta)`` of the sorted band values of the ``n`` runs
that got there before it.

Example:
    >>> snap = hyperband_sweep(runs=4, epochs=6, seed=0)
    >>> [r["state"] for r in snap["runs"]]
    ['finished', 'stopped', 'running', 'pending']
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from typing import Any

INJECTION = "<script>alert(1)</script>"

RANDOM_CONFIG: dict[str, Any] = {
    "name": "digits-mlp",
    "method": "random",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 5, "eta": 3},
    "parameters": {
        "batch_size": {"values": [32, 64, 128, 256]},
        "learning_rate": {"values": [0.01, 0.005, 0.001, 0.0005, 0.0001]},
        "optimizer": {"values": ["adam", "sgd", "rmsprop"]},
        "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
        "weight_decay": {"distribution": "log_uniform_values", "min": 1e-6, "max": 1e-2},
        "epochs": {"value": 30},
    },
}

_T0 = datetime(2026, 3, 14, 9, 30, tzinfo=timezone.utc)


def _iso(t: datetime) -> str:
    return t.isoformat()


def _sample(rng: random.Random) -> dict[str, Any]:
    return {
        "batch_size": rng.choice([32, 64, 128, 256]),
        "learning_rate": rng.choice([0.01, 0.005, 0.001, 0.0005, 0.0001]),
        "optimizer": rng.choice(["adam", "sgd", "rmsprop"]),
        "dropout": rng.uniform(0.0, 0.5),
        "weight_decay": 10 ** rng.uniform(-6, -2),
        "epochs": 30,
    }


def _curve(params: dict[str, Any], epochs: int, rng: random.Random) -> list[float]:
    """A plausible val_loss curve: fast decay to a floor set by the params, then overfitting."""
    lr = params["learning_rate"]
    speed = {"adam": 1.0, "rmsprop": 0.8, "sgd": 0.25}[params["optimizer"]]
    floor = 0.08 + 0.6 * abs(math.log10(lr) + 2.7) ** 2 / 4 + 0.1 * (params["batch_size"] / 256)
    floor += rng.uniform(0.0, 0.06) + (0.15 if params["optimizer"] == "sgd" else 0.0)
    tau = 2.0 + 6.0 / (speed * (1 + 400 * lr))
    overfit = 0.004 * (0.5 - params["dropout"]) * (1 + 5e3 * params["weight_decay"] ** 0.5)
    start = 2.3
    values = []
    for t in range(1, epochs + 1):
        v = floor + (start - floor) * math.exp(-t / tau) + max(overfit, 0.0) * t
        values.append(v * (1 + rng.gauss(0, 0.015)))
    return values


def hyperband_sweep(
    runs: int = 40,
    epochs: int = 30,
    *,
    seed: int = 0,
    min_iter: int = 5,
    eta: int = 3,
    failed: int = 2,
    running: int = 1,
    pending: int = 1,
) -> dict[str, Any]:
    """A random + hyperband sweep snapshot with finished, stopped, failed and live runs."""
    rng = random.Random(seed)
    bands = [min_iter * eta**k for k in range(8) if min_iter * eta**k < epochs]
    band_values: dict[int, list[float]] = {b: [] for b in bands}
    thresholds: dict[int, float | None] = dict.fromkeys(bands)
    out_runs = []
    candidates = range(2, max(2, runs - running - pending))
    failed_at = set(rng.sample(candidates, min(failed, len(candidates))))
    t = _T0
    for i in range(runs):
        params = _sample(rng)
        run_id = f"r{i:03d}{rng.randrange(16**4):04x}"
        curve = _curve(params, epochs, rng)
        state, stop, error = "finished", None, None
        n = epochs
        if i >= runs - pending:
            state, n = "pending", 0
        elif i >= runs - pending - running:
            state, n = "running", max(1, epochs // 3)
        elif i in failed_at:
            state, n = "failed", rng.randrange(1, 8)
            error = f"ValueError: loss is NaN at epoch {n} (learning_rate too high?)"
            curve[n - 1] = float("nan")
        for b in bands:
            if b > n:
                break
            value = curve[b - 1]
            done = sorted(band_values[b])
            if done:
                threshold = done[int(len(done) / eta)]
                thresholds[b] = threshold
                if state in ("finished", "running") and value > threshold:
                    state, n = "stopped", b
                    stop = {"band": b, "threshold": threshold, "value": value, "epoch": b}
            band_values[b].append(value)
            if state == "stopped":
                break
        history = [
            {"epochs": e, "loss": v * 0.9, "acc": 1 - v / 3, "val_loss": v, "val_acc": 1 - v / 2.5}
            for e, v in enumerate(curve[:n])
        ]
        finite = [v for v in curve[:n] if math.isfinite(v)]
        started = None if state == "pending" else t + timedelta(seconds=2)
        ended = None
        if state not in ("pending", "running"):
            ended = started + timedelta(seconds=1.7 * n + rng.uniform(1, 3))
            t = ended
        out_runs.append(
            {
                "id": run_id,
                "name": f"{params['optimizer']}-{i}",
                "state": state,
                "params": params,
                "history": history,
                "metric": min(finite) if finite else None,
                "epochs": len(finite),
                "stop": stop,
                "error": error,
                "created_at": _iso(t),
                "started_at": _iso(started) if started else None,
                "ended_at": _iso(ended) if ended else None,
            }
        )
    config = dict(RANDOM_CONFIG)
    config["early_terminate"] = {"type": "hyperband", "min_iter": min_iter, "eta": eta}
    return {
        "sweep": {
            "id": "k3x9q2ab",
            "name": config["name"],
            "project": "kerasweep-digits",
            "config": config,
            "method": "random",
            "metric": dict(config["metric"]),
            "early_terminate": dict(config["early_terminate"]),
            "state": "running" if running or pending else "finished",
            "created_at": _iso(_T0),
        },
        "runs": out_runs,
        "bands": [{"band": b, "threshold": thresholds[b]} for b in bands],
    }


def simple_sweep(
    method: str,
    params: list[dict[str, Any]],
    metrics: list[float | None],
    *,
    config_parameters: dict[str, Any] | None = None,
    goal: str | None = "minimize",
    states: list[str] | None = None,
) -> dict[str, Any]:
    """A small snapshot without early termination: one run per ``params`` entry."""
    metric = {"name": "val_loss", "goal": goal} if goal else None
    config: dict[str, Any] = {"method": method, "parameters": config_parameters or {}}
    if metric:
        config["metric"] = metric
    runs = []
    for i, (p, m) in enumerate(zip(params, metrics, strict=True)):
        state = states[i] if states else "finished"
        history = (
            [] if m is None else [{"epochs": 0, "val_loss": m * 2}, {"epochs": 1, "val_loss": m}]
        )
        runs.append(
            {
                "id": f"run{i}",
                "name": f"run-{i}",
                "state": state,
                "params": p,
                "history": history,
                "metric": m,
                "epochs": len(history),
                "stop": None,
                "error": None,
                "created_at": _iso(_T0 + timedelta(minutes=i)),
                "started_at": _iso(_T0 + timedelta(minutes=i)),
                "ended_at": _iso(_T0 + timedelta(minutes=i, seconds=30)),
            }
        )
    return {
        "sweep": {
            "id": f"{method}sweep",
            "name": None,
            "project": None,
            "config": config,
            "method": method,
            "metric": metric,
            "early_terminate": None,
            "state": "finished",
            "created_at": _iso(_T0),
        },
        "runs": runs,
        "bands": [],
    }
