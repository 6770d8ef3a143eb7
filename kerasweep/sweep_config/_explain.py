"""What a sweep config will do, before anything runs: ``kerasweep explain CONFIG``.

:func:`explain` checks a config exactly as ``kerasweep sweep`` does (the same one-line
:class:`~kerasweep.sweep_config.SweepConfigError`), then says what W&B's engine will make of
it: the method and metric, the size of the space, the hyperband bands and the epochs runs are
judged at, the first proposals (with a seed, exactly the ones ``kerasweep run --seed`` makes
first), and warnings for traps W&B users run into (for a sweep of ``sweep_train``: a metric
it never logs, a parameter it does not read, each with a did-you-mean). It touches no store
and runs nothing.

Example:
    >>> from kerasweep.sweep_config import SWEEP_CONFIG
    >>> explanation = explain(SWEEP_CONFIG, seed=0, count=2)
    >>> explanation.method, explanation.points, len(explanation.proposals)
    ('random', 20, 2)
    >>> explanation.hyperband.bands[:3]
    [5, 15, 45]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kerasweep._plain import plain
from kerasweep._suggest import did_you_mean
from kerasweep._text import format_value
from kerasweep.sweep_config import _engine as engine
from kerasweep.sweep_config import _grid as grid
from kerasweep.sweep_config._load import load_sweep_config
from kerasweep.sweep_config._metric import Metric
from kerasweep.sweep_config._parameters import Leaf, check_parameters
from kerasweep.sweep_config._reading import Document

__all__ = ["Explanation", "Hyperband", "explain"]

# A random search whose runs would try fewer than this share of distinct points is flagged.
_DISTINCT_SHARE = 0.9
# A uniform distribution whose max is this many times its min is flagged as a log-scale trap.
_MAGNITUDES = 100


@dataclass(frozen=True)
class Hyperband:
    """Hyperband as the engine fills it in, and the epochs it judges runs at.

    Attributes:
        settings: ``early_terminate`` with the engine's defaults (``min_iter`` or ``max_iter``
            and ``s``, ``eta``, ``strict``).
        bands: The bands: metric rows at which runs are compared.
        judged: ``(band, epoch)`` for the bands a run of ``epochs`` epochs reaches: from that
            epoch on the run is judged against that band's threshold (one row per epoch).
        epochs: The longest run, in epochs, when known.
    """

    settings: dict
    bands: list[int]
    judged: list[tuple[int, int]]
    epochs: int | None


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found; ``str()`` gives the text ``kerasweep explain`` prints."""

    source: str
    method: str
    metric: Metric | None
    parameters: list[str]
    points: int | None
    run_cap: int | None
    hyperband: Hyperband | None
    seed: int | None
    proposals: list[dict]
    proposals_note: str | None
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        """The explanation as lines of text."""
        metric = "none" if self.metric is None else f"{self.metric.name} ({self.metric.goal})"
        if self.metric is not None and self.metric.target is not None:
            metric += f", target {self.metric.target:g}"
        out = [f"{self.source}: {self.method} search", f"metric: {metric}"]
        out.append("parameters: " + "; ".join(self.parameters))
        if self.points is None:
            out.append("space: continuous (not a finite grid)")
        else:
            out.append(f"space: {self.points:,} distinct points")
        if self.run_cap is not None:
            out.append(f"run_cap: {self.run_cap}")
        elif self.method != "grid":
            out.append("run_cap: none (runs go on until an agent's --count or Ctrl-C)")
        out.extend(self._hyperband_lines())
        out.append(
            f"seed: {self.seed}"
            if self.seed is not None
            else "seed: none (fresh randomness for each proposal; --seed N to fix them)"
        )
        if self.proposals:
            which = "proposals" if self.seed is not None else "proposals (a sample)"
            out.append(f"first {len(self.proposals)} {which}:")
            width = len(str(len(self.proposals)))
            for index, params in enumerate(self.proposals, 1):
                shown = " ".join(f"{key}={_short(value)}" for key, value in params.items())
                out.append(f"  {index:>{width}}  {shown}")
        if self.proposals_note:
            out.append(f"  ({self.proposals_note})")
        if self.warnings:
            out.append("warnings:")
            out.extend(f"  - {warning}" for warning in self.warnings)
        return out

    def _hyperband_lines(self) -> list[str]:
        hyperband = self.hyperband
        if hyperband is None:
            return ["early_terminate: none (every run goes to its end)"]
        settings = ", ".join(
            f"{key} {str(value).lower() if isinstance(value, bool) else value}"
            for key, value in hyperband.settings.items()
            if key != "type"
        )
        shown = [str(b) for b in hyperband.bands[:6]]
        more = ", ..." if len(hyperband.bands) > 6 else ""
        lines = [f"hyperband: {settings}", f"  bands (metric rows): {', '.join(shown)}{more}"]
        if hyperband.epochs is None:
            lines.append("  epochs: unknown (no epochs parameter): runs are judged once they log")
        elif hyperband.judged:
            at = ", ".join(f"epoch {epoch} (band {band})" for band, epoch in hyperband.judged)
            lines.append(f"  judged from: {at}, of {hyperband.epochs} epochs")
        else:
            lines.append(f"  judged: never: runs last {hyperband.epochs} epochs")
        return lines


def explain(
    source: Mapping | str | os.PathLike,
    *,
    seed: int | None = None,
    count: int = 5,
    sweep_train: bool = False,
) -> Explanation:
    """Explain a sweep config: see the module notes.

    Args:
        source: The config: a mapping or a YAML/JSON path, as for ``load_sweep_config``.
        seed: The search's seed: the proposals shown are then the ones a sweep with this seed
            makes first. Without one, they are a sample.
        count: How many proposals to show (fewer when the grid or ``run_cap`` ends first;
            bayes shows one, since its later proposals depend on the runs' results).
        sweep_train: The runs are :func:`kerasweep.sweep_train`'s (the agent's function when
            the config has no ``program`` and none is given): warn of a metric it never
            logs and of parameters it does not read (``kerasweep explain`` does, unless
            given ``--function``).

    Raises:
        SweepConfigError: The config cannot be run (the message ``kerasweep sweep`` gives).
    """
    config = load_sweep_config(source)
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<dict>"
    leaves = check_parameters(Document(str(name), config), config["parameters"], ("parameters",))
    method = config["method"]
    points = grid.points(leaves)
    run_cap = config.get("run_cap")
    hyperband = _hyperband(config)
    proposals, note = _proposals(config, seed, count)
    warnings = _sweep_train_warnings(config) if sweep_train else []
    warnings += _leaf_warnings(leaves)
    warnings += _space_warnings(method, points, run_cap)
    if hyperband is not None and hyperband.epochs is not None and not hyperband.judged:
        warnings.append(
            f"hyperband's first band is metric row {hyperband.bands[0]} but runs last"
            f" {hyperband.epochs} epochs: no run is ever stopped; lower min_iter"
        )
    return Explanation(
        source=str(name),
        method=method,
        metric=Metric.from_config(config),
        parameters=[_describe(leaf) for leaf in leaves],
        points=points,
        run_cap=run_cap,
        hyperband=hyperband,
        seed=seed,
        proposals=proposals,
        proposals_note=note,
        warnings=warnings,
    )


# --- parts -----------------------------------------------------------------------------------


def _proposals(config: dict, seed: int | None, count: int) -> tuple[list[dict], str | None]:
    """The first proposals, drawn as the sweep's controller draws them (stream k for the kth)."""
    run_cap = config.get("run_cap")
    limit = count if run_cap is None else min(count, run_cap)
    note = None
    if config["method"] == "bayes" and limit > 1:
        limit, note = 1, "bayes: later proposals depend on the metric values the runs log"
    proposals: list[dict] = []
    runs: list = []
    while len(proposals) < limit:
        suggestion = engine.next_run(config, runs, seed=seed, proposal=len(runs))
        if suggestion is None:
            break
        params = {key: plain(spec["value"]) for key, spec in suggestion.config.items()}
        proposals.append(params)
        runs.append(
            engine.sweep_run(
                name=f"proposal-{len(runs)}",
                state="finished",
                config={key: {"value": value} for key, value in params.items()},
                history=[],
            )
        )
    if config["method"] == "grid" and len(proposals) < limit:
        note = f"the grid ends after {len(proposals)} runs"
    return proposals, note


def _hyperband(config: dict) -> Hyperband | None:
    early = config.get("early_terminate")
    if not isinstance(early, Mapping):
        return None
    settings = engine.filled_early_terminate(config)
    bands = engine.hyperband_bands(config)
    epochs = _epochs(config)
    judged = []
    if epochs is not None:
        judged = [(b, engine.judged_at_row(b)) for b in bands if engine.judged_at_row(b) <= epochs]
    return Hyperband(settings=settings, bands=bands, judged=judged, epochs=epochs)


def _epochs(config: dict) -> int | None:
    """The longest run in epochs: the ``epochs`` parameter, else sweep_train's default."""
    spec = config["parameters"].get("epochs")
    if isinstance(spec, Mapping):
        if "value" in spec:
            candidates = [spec["value"]]
        else:
            candidates = [*(spec.get("values") or []), spec.get("max")]
        numbers = [v for v in candidates if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return int(max(numbers)) if numbers else None
    if "program" in config or "command" in config:
        return None
    from kerasweep.train import DEFAULT_CONFIG

    return int(DEFAULT_CONFIG["epochs"])


def _sweep_train_warnings(config: dict) -> list[str]:
    """A sweep of ``sweep_train`` (no program): metric names it never logs, parameters it
    does not read."""
    if "program" in config or "command" in config:
        return []
    from kerasweep import train

    warnings = []
    metric = Metric.from_config(config)
    if metric is not None and not train.logs_metric(metric.name):
        logged = ", ".join(train.LOGGED_KEYS)
        warnings.append(
            f"metric {metric.name!r}{did_you_mean(metric.name, train.LOGGED_KEYS)}:"
            f" sweep_train never logs it (it logs {logged} and epoch/*); every run would"
            " end without a value, leaving hyperband and bayes nothing to judge"
        )
    for unread in train.unread_keys(config["parameters"]):
        warnings.append(
            f"parameter {unread}: sweep_train does not read it, so runs ignore it"
            " (strict_config: true makes it an error)"
        )
    return warnings


def _leaf_warnings(leaves: list[Leaf]) -> list[str]:
    warnings = []
    for leaf in leaves:
        spec, where = leaf.spec, ".".join(str(part) for part in leaf.path[1:])
        if leaf.distribution != "uniform" or not spec["min"] > 0:
            continue
        low, high = spec["min"], spec["max"]
        if high / low >= _MAGNITUDES:
            share = (high - high / 10) / (high - low)
            warnings.append(
                f"{where}: uniform from {low:g} to {high:g} puts {share:.0%} of draws above"
                f" {high / 10:g}; for a log scale use distribution: log_uniform_values (min and"
                " max are the values themselves; log_uniform took exponents of e, wandb#4481)"
            )
    return warnings


def _space_warnings(method: str, points: int | None, run_cap: int | None) -> list[str]:
    if points is None:
        return []
    if method == "grid" and run_cap is not None and run_cap > points:
        return [f"run_cap {run_cap} is larger than the grid: the sweep ends after {points} runs"]
    if method == "random":
        runs = run_cap if run_cap is not None else points
        distinct = points * (1 - (1 - 1 / points) ** runs)
        if distinct < _DISTINCT_SHARE * runs:
            return [
                f"random search over {points} points: {runs} runs try about {distinct:.0f}"
                f" distinct ones (the rest repeat); method: grid tries each point once"
            ]
    return []


def _describe(leaf: Leaf) -> str:
    spec, name = leaf.spec, ".".join(str(part) for part in leaf.path[1:] if part != "parameters")
    if leaf.distribution == "constant":
        return f"{name} = {_short(spec['value'])}"
    if "values" in spec:
        return f"{name} in {len(spec['values'])} values"
    if "min" in spec:
        return f"{name} {leaf.distribution} {spec['min']:g}..{spec['max']:g}"
    return f"{name} {leaf.distribution}"


def _short(value: Any) -> str:
    """A parameter value in a line of text (six significant digits)."""
    return format_value(value, 6)
