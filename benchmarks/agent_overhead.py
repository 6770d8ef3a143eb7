"""What the local agent adds to each run: a trivial function's runs, split by phase.

The function does what a sweep's function does around its training and nothing else:
``wandb.init(config=defaults)``, a few ``wandb.log`` rows holding the sweep metric, return.
So a run's wall time here is the agent's overhead: W&B's engine proposing the run and
judging hyperband after each row, the SQLite store, the parameter file, ``wandb.init`` and
``wandb.finish`` (offline), and the clean-up between runs (Keras' ``clear_session`` and
garbage collection; Keras is imported first, as ``sweep_train`` does, because collecting
garbage costs more the more objects the process holds).

Two ways of running, alternated in one process (rounds alternate their order):

- **agent**: :func:`kerasweep.local_agent` as it is.
- **teardown**: the same agent doing what ``wandb.agent`` does between runs and what this
  agent did before: ``wandb.teardown()`` before and after every run (a new wandb service
  per run, which lists the installed packages again), and a full garbage collection after
  each run instead of one over what the run left.

A run's time is measured from one run's claim to the next's, so it includes everything
the agent does per run. The first and last run of each agent are left out of the medians:
the first pays for starting (imports, wandb's first service, the first full collection),
the last for ending (wandb torn down).

Usage::

    python benchmarks/agent_overhead.py
    python benchmarks/agent_overhead.py --runs 40 --method bayes --json overhead.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VARIANTS = ("agent", "teardown")
# phase -> what it times (the benchmark wraps these callables)
PHASES = {
    "claim": "store.claim_run: W&B's engine proposes the run, the store records it",
    "propose": "  of which the engine's proposal (controller.propose)",
    "wandb_init": "wandb.init (offline), in the function",
    "judge": "hyperband after each metric row (engine + store)",
    "wandb_finish": "wandb.finish",
    "wandb_teardown": "wandb.teardown (service shut down)",
    "clean_up": "keras clear_session + garbage collection",
    "other": "the rest: parameter file, rows to the store, run bookkeeping",
}


def trivial_function(rows: int) -> Callable[[], None]:
    """A sweep function that only talks to wandb: init, ``rows`` metric rows, return."""

    def function() -> None:
        import wandb

        wandb.init(config={"batch_size": 64, "learning_rate": 0.01, "epochs": rows})
        for epoch in range(rows):
            loss = 1.0 / (epoch + 1) + float(wandb.config.learning_rate)
            wandb.log({"epochs": epoch, "loss": loss, "val_loss": loss})

    return function


def sweep_config(method: str) -> dict[str, Any]:
    """The tutorial's search space with hyperband (min_iter 5), as examples/digits-sweep.yaml."""
    learning_rate: dict[str, Any] = {"values": [0.01, 0.005, 0.001, 0.0005, 0.0001]}
    if method == "bayes":
        learning_rate = {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-2}
    return {
        "method": method,
        "metric": {"name": "val_loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 5},
        "parameters": {
            "batch_size": {"values": [32, 64, 128, 256]},
            "learning_rate": learning_rate,
            "epochs": {"value": 40},
        },
    }


@contextlib.contextmanager
def teardown_per_run() -> Iterator[None]:
    """The agent as ``wandb.agent`` runs: wandb torn down around every run, full collections."""
    from kerasweep.local import _agent as agent
    from kerasweep.local import _cleanup as cleanup
    from kerasweep.local import _wandb_session as wandb_session

    @contextlib.contextmanager
    def collect_only(**_options: Any):
        yield cleanup.clear_keras

    saved = (wandb_session.forget_settings, wandb_session.shared_package_list, agent.run_cleanup)
    wandb_session.forget_settings = wandb_session.teardown
    wandb_session.shared_package_list = contextlib.nullcontext
    agent.run_cleanup = collect_only
    try:
        yield
    finally:
        (
            wandb_session.forget_settings,
            wandb_session.shared_package_list,
            agent.run_cleanup,
        ) = saved


class PhaseTimer:
    """Wraps the agent's phases with timers; per run: each phase's seconds, and the total."""

    def __init__(self) -> None:
        self.runs: list[dict[str, float]] = []
        self._current: dict[str, float] = defaultdict(float)
        self._started: float | None = None
        self._undo: list[Callable[[], None]] = []

    def _wrap(self, owner: Any, name: str, phase: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._current[phase] += time.perf_counter() - start

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def __enter__(self) -> PhaseTimer:
        import wandb

        from kerasweep.local import _agent as agent
        from kerasweep.local import _cleanup as cleanup
        from kerasweep.local import _recorder as recorder
        from kerasweep.local import _store as store

        self._wrap(wandb, "init", "wandb_init")
        self._wrap(wandb, "finish", "wandb_finish")
        self._wrap(wandb, "teardown", "wandb_teardown")
        self._wrap(agent, "propose", "propose")
        self._wrap(cleanup, "clear_keras", "clean_up")
        self._wrap(recorder.RunRecorder, "_ask_judge", "judge")
        self._wrap(store.Store, "claim_run", "claim")
        # a run starts when its claim does: close the previous run there
        timed_claim = store.Store.claim_run

        def claim_run(store_self, *args, **kwargs):
            self.mark()
            return timed_claim(store_self, *args, **kwargs)

        store.Store.claim_run = claim_run
        self._undo.append(lambda: setattr(store.Store, "claim_run", timed_claim))
        return self

    def mark(self) -> None:
        """End the run in progress (if any) now and start the next."""
        now = time.perf_counter()
        if self._started is not None:
            phases = dict(self._current)
            phases["total"] = now - self._started
            self.runs.append(phases)
        self._current = defaultdict(float)
        self._started = now

    def end_agent(self) -> None:
        """The agent returned: its last claim found nothing or its count was reached."""
        if self._current.get("wandb_init"):
            self.mark()  # a run is in progress: it ended with the agent
        self._started = None
        self._current = defaultdict(float)

    def __exit__(self, *exc) -> None:
        for undo in reversed(self._undo):
            undo()


def run_variant(variant: str, sweep_id: str, runs: int, rows: int, timer: PhaseTimer) -> None:
    """One agent doing ``runs`` runs of the trivial function, the ``variant`` way."""
    from kerasweep.local import local_agent

    way = teardown_per_run() if variant == "teardown" else contextlib.nullcontext()
    with way:
        result = local_agent(sweep_id, trivial_function(rows), count=runs)
    timer.end_agent()
    if result.failed:
        raise SystemExit(f"{variant}: {result.failed} of {runs} runs failed")


def summarize(per_run: list[dict[str, float]]) -> dict[str, float]:
    """Median milliseconds per phase, ``other`` being total minus the timed phases."""
    keys = [key for key in PHASES if key != "other"]
    out: dict[str, float] = {}
    for run in per_run:
        timed = sum(run.get(key, 0.0) for key in keys if key != "propose")
        run["other"] = run["total"] - timed
    for key in [*keys, "other", "total"]:
        out[key] = 1000 * statistics.median(run.get(key, 0.0) for run in per_run)
    return out


def format_table(summaries: dict[str, dict[str, float]]) -> str:
    names = list(summaries)
    lines = [
        "| phase (median ms per run) | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for key in [*PHASES, "total"]:
        cells = " | ".join(f"{summaries[name][key]:.1f}" for name in names)
        label = "**total**" if key == "total" else key
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per agent (default 20)")
    parser.add_argument("--rounds", type=int, default=2, help="agents per variant (default 2)")
    parser.add_argument("--rows", type=int, default=5, help="metric rows per run (default 5)")
    parser.add_argument("--method", choices=("random", "grid", "bayes"), default="random")
    parser.add_argument("--no-keras", action="store_true", help="do not import Keras first")
    parser.add_argument("--json", metavar="PATH", help="also write the medians as JSON")
    args = parser.parse_args(argv)
    if args.runs < 3 or args.rounds < 1 or args.rows < 1:
        parser.error("--runs must be at least 3, --rounds and --rows at least 1")
    if args.json:
        args.json = os.path.abspath(args.json)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kerasweep-overhead-"))
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        os.environ.setdefault(name, str(work))
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ["KERASWEEP_DB"] = str(work / "kerasweep.db")
    os.environ.setdefault("KERASWEEP_XLA_CACHE", str(work / "xla-cache"))  # cold
    os.chdir(work)
    if not args.no_keras:
        import keras  # noqa: F401
    from kerasweep.local import local_sweep

    config = sweep_config(args.method)
    per_variant: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    with PhaseTimer() as timer:
        run_variant("agent", local_sweep(config), 2, args.rows, timer)  # warm-up: imports
        timer.runs.clear()
        for round_ in range(args.rounds):
            order = VARIANTS if round_ % 2 == 0 else VARIANTS[::-1]
            for variant in order:
                sweep_id = local_sweep(config)
                start = len(timer.runs)
                run_variant(variant, sweep_id, args.runs, args.rows, timer)
                per_variant[variant].extend(timer.runs[start + 1 : -1])  # see the docstring
    summaries = {name: summarize(runs) for name, runs in per_variant.items()}
    keras_note = "without Keras" if args.no_keras else "Keras imported"
    print(
        f"{args.method} sweep, {args.rows} metric rows per run, {args.rounds} agents x "
        f"{args.runs} runs per variant, wandb {os.environ.get('WANDB_MODE') or 'offline'}, "
        f"{keras_note}; medians over runs 2..{args.runs - 1} of each agent\n"
    )
    print(format_table(summaries))
    ratio = summaries["teardown"]["total"] / summaries["agent"]["total"]
    print(f"\nper-run overhead: {ratio:.1f}x less than with a teardown per run\n")
    for key, text in PHASES.items():
        print(f"  {key:15s} {text}")
    if args.json:
        payload = {"method": args.method, "rows": args.rows, "ms_per_run": summaries}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
