"""The sweep controller's decisions, made by W&B's own engine (the ``sweeps`` package).

Two questions, asked with every run of the sweep so far, exactly as W&B's server asks them:
which parameters come next (:func:`propose`, via ``sweeps.next_run``: grid, random, bayes),
and whether a running run stops now (:func:`hyperband_decision`, asked of
:class:`~kerasweep.local._hyperband.HyperbandJudge`, via ``sweeps.stop_runs``).

Random search reads no run (:func:`~kerasweep.sweep_config._proposals.random_proposal`:
only their number), and a grid's next point comes from the points taken
(:class:`~kerasweep.sweep_config._proposals.GridProposals`); both are the engine's
proposals, proven against it. An agent's :class:`SweepProposer` keeps the grid across its
claims, fed only the runs created since its last claim, so with a
:class:`~kerasweep.local._store.SweepSoFar` a claim reads no more at run 10,000 than at
run 10. Bayes hands the engine every run.

How stored runs look to the engine:

- Each run's history is its finite sweep-metric values, one row each (hyperband counts such
  rows as iterations; bayes takes the best of them).
- ``stopped`` (ended by hyperband) is shown as ``finished``: the metric it reached is a real
  observation, so bayes learns from it. W&B marks such runs killed, which bayes imputes as
  the worst value seen, as if the parameters had crashed.
- ``failed`` and ``crashed`` stay so: bayes imputes them per ``metric.impute`` (default the
  worst value) and grid does not propose their point again.
- A failed run whose parameters were retried is left out of the search: the retry stands in
  for it.

Example:
    >>> config = {"method": "grid", "parameters": {"a": {"values": [1, 2]}}}
    >>> propose(config, []).params
    {'a': 1}
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from kerasweep._plain import plain
from kerasweep.local._hyperband import hyperband_applies, judge_run
from kerasweep.local._records import RunState, StopReason
from kerasweep.local._store import NewRun, RunRecord, SweepRecord, SweepSoFar
from kerasweep.sweep_config import _engine as engine
from kerasweep.sweep_config._metric import Metric
from kerasweep.sweep_config._parameters import searched_params
from kerasweep.sweep_config._proposals import GridProposals, random_proposal

__all__ = [
    "ENGINE_STATES",
    "SweepProposer",
    "check_seed",
    "engine_runs",
    "hyperband_applies",
    "hyperband_decision",
    "judge_run",
    "local_sweep",
    "propose",
    "searched_params",
    "target_reached",
]

# store state -> the RunState the engine sees
ENGINE_STATES = {state.value: state.engine_state for state in RunState}

def _config(sweep: SweepRecord | Mapping[str, Any]) -> dict:
    return dict(sweep.config if isinstance(sweep, SweepRecord) else sweep)


def engine_runs(
    config: Mapping[str, Any], runs: Sequence[RunRecord], *, for_search: bool = False
) -> list:
    """The runs as the engine's ``SweepRun`` objects (see the module notes).

    With ``for_search``, failed runs that have been retried are left out.
    """
    metric = Metric.from_config(config)
    out = []
    for run in runs:
        if for_search and run.retried and run.state.errored:
            continue
        history = [] if metric is None else [{metric.name: v} for v in run.metric_values]
        out.append(
            engine.sweep_run(
                name=run.id,
                state=run.state.engine_state,
                config={key: {"value": value} for key, value in run.params.items()},
                history=history,
            )
        )
    return out


def target_reached(config: Mapping[str, Any], runs: Sequence[RunRecord]) -> bool:
    """True once a run has reached ``metric.target`` (the sweep is then finished, as on W&B)."""
    metric = Metric.from_config(config)
    if metric is None or metric.target is None:
        return False
    if isinstance(runs, SweepSoFar):
        return runs.reached()
    return any(metric.reached(value) for run in runs for value in run.metric_values)


def _first_to_retry(runs: Sequence[RunRecord], upto: int) -> RunRecord | None:
    if isinstance(runs, SweepSoFar):
        return runs.first_to_retry(upto)
    for run in runs:
        if run.seq <= upto and run.state.errored and not run.retried:
            return run
    return None


class _GridFed:
    """A grid's points taken, fed with the runs created after the last one it took."""

    def __init__(self, grid: GridProposals) -> None:
        self.grid, self.last_seq = grid, 0

    def next(self, runs: Sequence[RunRecord]) -> dict | None:
        if isinstance(runs, SweepSoFar):
            newer = runs.params_after(self.last_seq)
        else:
            newer = [(run.seq, run.params) for run in runs if run.seq > self.last_seq]
        for seq, params in newer:  # any agent's, any state, retries included
            self.grid.add(params)
            self.last_seq = max(self.last_seq, seq)
        return self.grid.next()


class SweepProposer:
    """One agent's proposals for one sweep, a ``propose`` for ``Store.claim_run``.

    The same proposals as :func:`propose`; a grid's points taken are kept across claims
    (each claim adds only the runs created since the last), so a claim of a random or grid
    search reads the same at run 10,000 as at run 10.

    Example:
        >>> proposer = SweepProposer({"method": "grid", "parameters": {"a": {"values": [1]}}})
        >>> proposer({"method": "grid", "parameters": {"a": {"values": [1]}}}, []).params
        {'a': 1}
    """

    def __init__(
        self, sweep: SweepRecord | Mapping[str, Any], *, retry_upto: int | None = None
    ) -> None:
        self.retry_upto = retry_upto
        config = _config(sweep)
        grid = GridProposals.from_config(config) if config.get("method") == "grid" else None
        self._grid = None if grid is None else _GridFed(grid)

    def __call__(
        self, sweep: SweepRecord | Mapping[str, Any], runs: Sequence[RunRecord]
    ) -> NewRun | None:
        return _propose(sweep, runs, retry_upto=self.retry_upto, grid=self._grid)


def propose(
    sweep: SweepRecord | Mapping[str, Any],
    runs: Sequence[RunRecord],
    *,
    retry_upto: int | None = None,
) -> NewRun | None:
    """The next run of a sweep, or None when the sweep has no more runs to give.

    Args:
        sweep: The sweep (or its config).
        runs: Every run of the sweep so far, in creation order.
        retry_upto: Retry failed and crashed runs up to this creation number (``seq``):
            the first of them not yet retried is proposed again before anything new.

    A sweep is over when its grid is exhausted, ``run_cap`` runs exist, or a run reached
    ``metric.target``.

    The engine draws on randomness of the sweep's own, never on the process's global
    generators: with the sweep's ``seed``, the proposal is a pure function of the config, the
    seed and the runs so far (it is drawn from the stream numbered ``len(runs)``); without a
    seed, from fresh entropy.
    """
    return _propose(sweep, runs, retry_upto=retry_upto, grid=None)


def _propose(
    sweep: SweepRecord | Mapping[str, Any],
    runs: Sequence[RunRecord],
    *,
    retry_upto: int | None,
    grid: _GridFed | None,
) -> NewRun | None:
    config = _config(sweep)
    seed = sweep.seed if isinstance(sweep, SweepRecord) else None
    if retry_upto is not None:
        retry = _first_to_retry(runs, retry_upto)
        if retry is not None:
            return NewRun(params=dict(retry.params), retry_of=retry.id)
    if target_reached(config, runs):
        return None
    count = len(runs)
    run_cap = config.get("run_cap")
    if run_cap is not None and count >= int(run_cap):
        return None

    method = config.get("method")
    if method == "random":
        return _new_run(random_proposal(config, seed=seed, proposal=count))
    if method == "grid":
        if grid is None:
            fresh = GridProposals.from_config(config)
            grid = None if fresh is None else _GridFed(fresh)
        if grid is not None:
            return _new_run(grid.next(runs))
    suggestion = engine.next_run(
        config, engine_runs(config, list(runs), for_search=True), seed=seed, proposal=count
    )
    if suggestion is None:
        return None
    info = plain(suggestion.search_info) if suggestion.search_info else None
    return _new_run(suggestion.config, info)


def _new_run(suggestion: Mapping[str, Any] | None, info: dict | None = None) -> NewRun | None:
    """The engine's ``{name: {"value": v}}`` as a new run's parameters."""
    if suggestion is None:
        return None
    params = {key: plain(spec["value"]) for key, spec in suggestion.items()}
    return NewRun(params=params, search_info=info)


def hyperband_decision(
    config: Mapping[str, Any], runs: Sequence[RunRecord], run_id: str
) -> tuple[StopReason | None, list[tuple[int, float | None]]]:
    """Ask the engine's hyperband whether running run ``run_id`` stops now.

    Returns the decision (None: it goes on) and the current ``(band, threshold)`` table.
    A sweep without hyperband early termination never stops a run. The same as
    :func:`judge_run` on the runs' metric values.
    """
    values = {run.id: run.metric_values for run in runs}
    running = {run.id for run in runs if run.state is RunState.RUNNING}
    return judge_run(_config(config), values, running, run_id)


def local_sweep(
    config: Mapping[str, Any] | str | os.PathLike,
    *,
    project: str | None = None,
    db: str | os.PathLike | None = None,
    name: str | None = None,
    seed: int | None = None,
) -> str:
    """Create a local sweep, the offline twin of ``wandb.sweep``; returns its id.

    Args:
        config: A sweep config in W&B's format: a dict, or a YAML/JSON file path.
        project: W&B project its runs log to (default: the config's ``project``, if any).
        db: Store path (default ``$KERASWEEP_DB`` or ``./kerasweep.db``).
        name: Sweep name (default: the config's ``name``).
        seed: Makes the search reproducible: with a seed (an integer from 0 to 2**63-1),
            the sweep's proposals are a pure function of the config, the seed and the runs so
            far. Stored with the sweep. Without one, each proposal draws fresh entropy.

    Raises:
        kerasweep.SweepConfigError: The config is invalid (W&B's schema, or something the
            engine would only trip over mid-sweep). Nothing is written then.
        ValueError: The seed is not an integer from 0 to 2**63-1.

    Example:
        >>> sweep_id = local_sweep({"method": "grid", "parameters": {"a": {"values": [1, 2]}}},
        ...                        db=tmp_db)  # doctest: +SKIP
    """
    from kerasweep.local._store import Store
    from kerasweep.sweep_config import load_sweep_config

    check_seed(seed)
    checked = load_sweep_config(config)
    return Store(db).create_sweep(checked, name=name, project=project, seed=seed)


def check_seed(seed: Any) -> None:
    """Refuse a sweep seed that is not None or an integer from 0 to 2**63-1 (ValueError)."""
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed: {seed!r} is not an integer from 0 to 2**63-1")
