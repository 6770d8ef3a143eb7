"""Parameter importance: random-forest importance and linear correlation, as W&B defines them.

Example:
    >>> from tests.sweep_snapshots import hyperband_sweep  # doctest: +SKIP
    >>> parameter_importance(hyperband_sweep(runs=12))[0]["feature"]  # doctest: +SKIP
    'learning_rate (log10)'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from kerasweep._html_report.view import SweepView, category_key
from kerasweep.local._sweep import Sweep

_MIN_RUNS_FOR_IMPORTANCE = 3
# each tree of the forest draws this many runs (with replacement) past this many runs
IMPORTANCE_SAMPLES = 2_000


def importance_table(sweep: SweepView) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """(rows, constant parameter names, note why nothing was computed)."""
    if sweep.metric is None:
        return [], [], "The sweep has no metric, so parameters cannot be related to it."
    rows_i, params, _ = sweep.scored()
    if len(rows_i) < _MIN_RUNS_FOR_IMPORTANCE:
        return (
            [],
            [],
            f"Needs at least {_MIN_RUNS_FOR_IMPORTANCE} runs with a finite {sweep.metric}; "
            f"this sweep has {len(rows_i)}.",
        )
    import numpy as np

    y = np.array([sweep.values[i] for i in rows_i])
    features: list[tuple[str, str, np.ndarray]] = []  # (label, parameter, column)
    constant: list[str] = []
    for p in params:
        if len({category_key(p.values[i]) for i in rows_i}) <= 1:
            constant.append(p.name)
        elif p.kind == "numeric":
            label = f"{p.name} (log10)" if p.log else p.name
            features.append((label, p.name, np.array([p.number(i) for i in rows_i])))
        else:
            keys = [category_key(p.values[i]) for i in rows_i]
            for key in p.categories:
                column = np.array([1.0 if k == key else 0.0 for k in keys])
                features.append((f"{p.name} = {p.labels[key]}", p.name, column))
    if not features:
        return [], constant, "Every parameter has the same value in all runs with a metric."
    if np.ptp(y) == 0:
        return [], constant, f"All runs have the same {sweep.metric}; nothing to explain."
    from sklearn.ensemble import RandomForestRegressor

    x = np.column_stack([f[2] for f in features])
    samples = IMPORTANCE_SAMPLES if len(y) > IMPORTANCE_SAMPLES else None
    forest = RandomForestRegressor(
        n_estimators=100, random_state=0, n_jobs=1, max_samples=samples
    ).fit(x, y)
    out = []
    for (label, name, column), weight in zip(features, forest.feature_importances_, strict=True):
        corr = float(np.corrcoef(column, y)[0, 1]) if np.ptp(column) > 0 else None
        out.append(
            {
                "feature": label,
                "parameter": name,
                "importance": float(weight),
                "correlation": corr if corr is not None and math.isfinite(corr) else None,
            }
        )
    out.sort(key=lambda r: -r["importance"])
    return out, constant, None


def parameter_importance(sweep: Sweep | Mapping[str, Any]) -> list[dict[str, Any]]:
    """Parameter importance as W&B's sweep dashboard defines it.

    ``correlation`` is the linear (Pearson) correlation of a parameter with the metric over
    the runs that have a finite metric; ``importance`` is the feature importance of a random
    forest (scikit-learn, 100 trees) fitted with the parameters as inputs and the metric as
    target (in a sweep of more than 2,000 such runs, each tree draws 2,000 of them, so
    the cost stays bounded). Categorical parameters are one-hot encoded, one feature per
    value (as W&B shows ``optimizer = sgd``), so correlations stay meaningful; numeric
    parameters on a log scale (a log distribution, or positive values spanning two decades
    or more) enter as log10.
    Parameters constant over those runs are left out.

    Args:
        sweep: a :class:`~kerasweep.local._sweep.Sweep` (``kerasweep.load_sweep``), or
            the same as plain data (``Store.snapshot``, ``kerasweep export --format json``).

    Returns:
        Rows ``{"feature", "parameter", "importance", "correlation"}``, most important
        first; empty with fewer than 3 runs with a finite metric, or nothing to vary.
    """
    return importance_table(SweepView(sweep))[0]
