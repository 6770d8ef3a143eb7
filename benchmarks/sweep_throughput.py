"""A 10-run sweep, end to end: W&B's tutorial loop against kerasweep's local agent.

Both sides run the tutorial's sweep (:data:`kerasweep.SWEEP_CONFIG`: random search over
``batch_size`` and ``learning_rate``, the tutorial's 2 epochs) on the same data, one run after
another in this process, with the same ``wandb`` mode:

- **tutorial**: the tutorial's ``sweep_train`` (eager ``GradientTape`` loop over its
  ``from_tensor_slices().shuffle().batch()`` pipeline), called once per run with the same
  parameters the local sweep drew (``wandb.agent`` needs a W&B server; what it does per run
  is ``wandb.init`` with the parameters, the function, ``wandb.finish``);
- **kerasweep**: :func:`kerasweep.local_agent` running :func:`kerasweep.sweep_train` with
  its defaults for a :func:`kerasweep.local_sweep` of the same config.

Each run's wall time is split into **start-up** (``wandb.init``, data, model, tracing and
compiling: everything up to the end of the first compiled execution, which for kerasweep
also trains its first ``steps_per_execution`` steps; up to the end of the first step for the
tutorial), **training** (the rest of the epochs, validation included) and **finish**
(``wandb.finish``). The sweep's wall time includes the agent's own work (W&B's engine
proposing runs, the SQLite store, cleaning up between runs).

A third sweep bounds what any training code could reach: **wandb and the agent alone**, the
same local agent and sweep running a function that only does what ``sweep_train`` does with
wandb (``wandb.init`` with the defaults, one row of ``epochs, loss, acc, val_loss, val_acc``
per epoch, ``wandb.finish``) and trains nothing. The tutorial's sweep wall over that one's is
the highest end-to-end ratio this agent and wandb allow on this data set.

kerasweep's runs are also split by what their start-up is spent on (**start-up split**):
``wandb.init``; data (``load_dataset`` and the input pipelines); model (``build_mlp``, the
optimizer, and compiling it or resetting a kept compiled model); the first execution
(``fit``'s set-up, tracing and compiling, the first ``steps_per_execution`` steps); then
training, and the finish (``wandb.finish`` and what the run leaves behind). The agent's own
work between runs is the sweep's wall time less its runs'. ``--no-tutorial`` measures
kerasweep's side (and the wandb-only sweep) alone.

Before any of it, wandb starts and stops once and TensorFlow runs one op, so that the
process's one-time costs (wandb's lazily imported modules, TensorFlow's thread pools) fall
on neither side.

Then kerasweep's agent runs 20 more runs in this process and the resident memory (RSS) after
each is printed: growth from run 2 to run 20 should stay under 100 MB. With
``--memory-hidden-units`` those runs also vary the model's width, so most of them trace a
new model and push an older one out of the compiled models kept for reuse; ``--runs 0``
runs the memory check alone.

Data: MNIST when it is in the Keras cache, else scikit-learn's digits (bundled, 8x8);
``--dataset synthetic-mnist`` trains on random MNIST-shaped images (60,000 x 784) to see
MNIST-sized runs without the download. Nothing is downloaded.

Usage::

    python benchmarks/sweep_throughput.py
    python benchmarks/sweep_throughput.py --dataset synthetic-mnist --memory-runs 0
    python benchmarks/sweep_throughput.py --wandb-mode disabled --json throughput.json
    python benchmarks/sweep_throughput.py --dataset synthetic-mnist --no-tutorial
    python benchmarks/sweep_throughput.py --runs 0 --memory-runs 80 \\
        --memory-hidden-units 16,32,64,128
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasweep._data  # noqa: E402
import kerasweep._model  # noqa: E402
import kerasweep._pipelines  # noqa: E402
import kerasweep._speedups.run  # noqa: E402
import kerasweep._speedups.stacked_batches  # noqa: E402
import kerasweep.train  # noqa: E402
from benchmarks.step_time import device_name, extra_fit_callback  # noqa: E402
from benchmarks.tutorial import tutorial_sweep_train  # noqa: E402
from kerasweep import SWEEP_CONFIG, load_dataset  # noqa: E402
from kerasweep._model import GradientTapeModel  # noqa: E402
from kerasweep.local import Store, local_agent, local_sweep  # noqa: E402
from kerasweep.train import sweep_train  # noqa: E402

MEMORY_GROWTH_LIMIT_MB = 100.0
PARTS = ("startup", "training", "finish", "total")
#: What a kerasweep run's start-up is split into, in order (see the module docstring).
STARTUP_PHASES = ("wandb_init", "data", "model", "first_execution")
SPLIT_PHASES = (*STARTUP_PHASES, "training", "finish")


@dataclass
class RunTiming:
    """One run's wall time in seconds, split as the module docstring says."""

    params: dict[str, Any]
    startup: float = 0.0
    training: float = 0.0
    finish: float = 0.0
    state: str = "finished"
    #: kerasweep's runs: seconds per phase of :data:`SPLIT_PHASES`.
    split: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return self.startup + self.training + self.finish


@dataclass
class Side:
    """All runs of one side and the sweep's wall time."""

    name: str
    runs: list[RunTiming] = field(default_factory=list)
    wall: float = 0.0

    def median(self, part: str) -> float:
        return statistics.median(getattr(run, part) for run in self.runs)

    def to_json(self) -> dict[str, Any]:
        runs = [
            {
                "params": run.params,
                "state": run.state,
                **{part: round(getattr(run, part), 3) for part in PARTS},
                **({"split": {k: round(v, 4) for k, v in run.split.items()}} if run.split else {}),
            }
            for run in self.runs
        ]
        return {"wall_s": round(self.wall, 3), "runs": runs}

    def between_runs(self) -> float:
        """The sweep's wall time outside its runs, per run: the agent's own work."""
        return (self.wall - sum(run.total for run in self.runs)) / max(len(self.runs), 1)


class RunClock(keras.callbacks.Callback):
    """Marks the end of ``fit``'s first execution (tracing included) and of training."""

    def __init__(self, marks: dict[str, float]) -> None:
        super().__init__()
        self.marks = marks

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.marks.setdefault("first_step", time.perf_counter())

    def on_train_end(self, logs: Any = None) -> None:
        self.marks["trained"] = time.perf_counter()


@contextlib.contextmanager
def timed_phases(seconds: dict[str, float]) -> Iterator[None]:
    """While active, time what ``sweep_train`` calls for each start-up phase into ``seconds``.

    ``sweep_train`` looks these functions up when it runs, so wrapping the module attributes
    times them without changing what they do.
    """
    import wandb

    targets = [
        (wandb, "init", "wandb_init"),
        (kerasweep._data, "load_dataset", "data"),
        (kerasweep._speedups.stacked_batches, "stack_batches", "data"),
        (kerasweep._speedups.stacked_batches, "validation_batches", "data"),
        (kerasweep._pipelines, "make_datasets", "data"),
        (kerasweep._model, "build_mlp", "model"),
        (kerasweep.train, "make_optimizer", "model"),
        (kerasweep._speedups.run.COMPILED_MODELS, "take", "model"),
    ]
    saved = [(owner, name, owner.__dict__.get(name)) for owner, name, _ in targets]

    def timing(function: Any, phase: str) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[phase] = seconds.get(phase, 0.0) + time.perf_counter() - start

        return timed

    for owner, name, phase in targets:
        setattr(owner, name, timing(getattr(owner, name), phase))
    try:
        yield
    finally:
        for owner, name, original in saved:
            if original is None:
                delattr(owner, name)  # it was the class's
            else:
                setattr(owner, name, original)


def resident_mb() -> float | None:
    """This process's resident set size in MB (Linux ``/proc``), None where unknown."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


# -- data ------------------------------------------------------------------------------------


def resolve_dataset(choice: str, workdir: Path) -> str:
    """The ``dataset`` value both sides load: a name or a ``.npz`` path."""
    if choice == "auto":
        base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
        return "mnist" if (Path(base) / "datasets" / "mnist.npz").exists() else "digits"
    if choice == "synthetic-mnist":
        rng = np.random.default_rng(0)
        path = workdir / "synthetic-mnist.npz"
        np.savez(
            path,
            x_train=rng.integers(0, 256, (60_000, 28, 28), dtype=np.uint8),
            y_train=rng.integers(0, 10, 60_000, dtype=np.uint8),
            x_test=rng.integers(0, 256, (10_000, 28, 28), dtype=np.uint8),
            y_test=rng.integers(0, 10, 10_000, dtype=np.uint8),
        )
        return str(path)
    return choice


def sweep_config(dataset: str, epochs: int) -> dict[str, Any]:
    """The tutorial's sweep, with the data set and epochs as constant parameters."""
    config = copy.deepcopy(SWEEP_CONFIG)
    config["parameters"].update(
        {
            "dataset": {"value": dataset},
            "epochs": {"value": epochs},
            "verbose": {"value": 0},
        }
    )
    return config


# -- the two sides ---------------------------------------------------------------------------


def run_kerasweep(
    config: dict[str, Any],
    runs: int,
    db: Path,
    wandb_mode: str,
    label: str,
    seed: int | None = None,
) -> tuple[Side, list[float | None]]:
    """``runs`` runs of a local sweep by the local agent; also RSS before each run and after."""
    side = Side(label)
    rss: list[float | None] = []

    def timed_sweep_train() -> None:
        rss.append(resident_mb())  # after the previous run was cleaned up
        marks: dict[str, float] = {"start": time.perf_counter()}
        phases: dict[str, float] = {}
        try:
            with extra_fit_callback(GradientTapeModel, RunClock(marks)), timed_phases(phases):
                sweep_train()
        finally:
            end = time.perf_counter()
            first = marks.get("first_step", end)
            trained = marks.get("trained", first)
            timing = RunTiming({}, first - marks["start"], trained - first, end - trained)
            before_fit = sum(phases.get(p, 0.0) for p in STARTUP_PHASES[:-1])
            timing.split = {
                **{p: phases.get(p, 0.0) for p in STARTUP_PHASES[:-1]},
                "first_execution": timing.startup - before_fit,
                "training": timing.training,
                "finish": timing.finish,
            }
            side.runs.append(timing)
            print(f"  {label} run {len(side.runs)}/{runs}: {side.runs[-1].total:.2f} s", flush=True)

    sweep_id = local_sweep(config, db=db, seed=seed)
    start = time.perf_counter()
    local_agent(sweep_id, timed_sweep_train, count=runs, db=db, wandb_mode=wandb_mode)
    side.wall = time.perf_counter() - start
    rss.append(resident_mb())
    store = Store(db)
    try:
        records = store.runs(sweep_id)
    finally:
        store.close()
    for timing, record in zip(side.runs, records, strict=False):
        timing.params = {k: record.params[k] for k in ("batch_size", "learning_rate")}
        timing.state = record.state
    return side, rss


def wandb_only_function(epochs: int):
    """A sweep function that does with wandb what ``sweep_train`` does, and trains nothing."""

    def function() -> None:
        import wandb

        from kerasweep.train import DEFAULT_CONFIG

        run = wandb.init(config={**DEFAULT_CONFIG, "epochs": epochs})
        for epoch in range(epochs):
            loss = 1.0 / (epoch + 1)
            run.log({"epochs": epoch, "loss": loss, "acc": 0.5, "val_loss": loss, "val_acc": 0.5})
        run.finish()

    return function


def run_wandb_only(config: dict[str, Any], runs: int, db: Path, wandb_mode: str) -> Side:
    """``runs`` runs of the same local sweep with a function that trains nothing."""
    side = Side("wandb and the agent alone")
    function = wandb_only_function(config["parameters"]["epochs"]["value"])

    def timed_function() -> None:
        start = time.perf_counter()
        try:
            function()
        finally:
            side.runs.append(RunTiming({}, finish=time.perf_counter() - start))

    sweep_id = local_sweep(config, db=db)
    start = time.perf_counter()
    local_agent(sweep_id, timed_function, count=runs, db=db, wandb_mode=wandb_mode)
    side.wall = time.perf_counter() - start
    return side


def warm_up(wandb_mode: str) -> None:
    """Pay the process's one-time costs before either side is timed."""
    import tensorflow as tf
    import wandb

    float(tf.reduce_sum(tf.matmul(tf.ones((64, 64)), tf.ones((64, 64)))))
    wandb.init(mode=wandb_mode, config={"warm_up": True})
    wandb.finish()
    wandb.teardown()


def run_tutorial(dataset: str, epochs: int, params: list[dict[str, Any]]) -> Side:
    """The tutorial's ``sweep_train`` once per parameter set, one after another."""
    import wandb

    data = load_dataset(dataset)
    # The tutorial's ``x / 255.`` makes float64 arrays; the data is loaded once, as there.
    x_train, x_test = data.x_train.astype(np.float64), data.x_test.astype(np.float64)
    side = Side("tutorial")
    start = time.perf_counter()
    for i, run_params in enumerate(params, start=1):
        wandb.teardown()  # as wandb.agent does before each run
        marks: dict[str, float] = {"start": time.perf_counter()}
        tutorial_sweep_train(
            x_train,
            data.y_train,
            x_test,
            data.y_test,
            {**run_params, "epochs": epochs},
            clock=marks,
        )
        wandb.finish()
        end = time.perf_counter()
        first = marks.get("first_step", end)
        trained = marks.get("trained", first)
        side.runs.append(
            RunTiming(dict(run_params), first - marks["start"], trained - first, end - trained)
        )
        print(f"  tutorial run {i}/{len(params)}: {side.runs[-1].total:.2f} s", flush=True)
    side.wall = time.perf_counter() - start
    return side


# -- reporting -------------------------------------------------------------------------------


def format_report(tutorial: Side, ours: Side, alone: Side | None = None) -> str:
    """Per-run times of both sides, their medians and the tutorial/kerasweep ratios.

    ``alone`` (wandb and the agent without training) adds a row of per-run totals and the
    highest end-to-end ratio that leaves room for.
    """
    lines = [
        "| run | batch_size | learning_rate | tutorial: start-up | training | total "
        "| kerasweep: start-up | training | total |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, (t, k) in enumerate(zip(tutorial.runs, ours.runs, strict=True), start=1):
        lines.append(
            f"| {i} | {t.params['batch_size']} | {t.params['learning_rate']} "
            f"| {t.startup:.2f} | {t.training:.2f} | {t.total:.2f} "
            f"| {k.startup:.2f} | {k.training:.2f} | {k.total:.2f} |"
        )
    lines += [
        "",
        "| per run (median s) | start-up | training | finish | total | sweep wall (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for side in (tutorial, ours):
        lines.append(
            f"| {side.name} | {side.median('startup'):.2f} | {side.median('training'):.2f} "
            f"| {side.median('finish'):.2f} | {side.median('total'):.2f} | {side.wall:.1f} |"
        )
    if alone is not None:
        lines.append(
            f"| {alone.name} (no training) | | | | {alone.median('total'):.2f} | {alone.wall:.1f} |"
        )
    ratio = {part: tutorial.median(part) / ours.median(part) for part in ("startup", "training")}
    lines += [
        "",
        f"tutorial / kerasweep: start-up {ratio['startup']:.2f}x, "
        f"training {ratio['training']:.2f}x, end to end (sweep wall) "
        f"{tutorial.wall / ours.wall:.2f}x (target 10x)",
    ]
    if alone is not None:
        lines.append(
            f"tutorial / wandb and the agent alone: {tutorial.wall / alone.wall:.2f}x "
            "(the most any training code could reach here)"
        )
    return "\n".join(lines)


def format_split(ours: Side) -> str:
    """kerasweep's runs split by phase: the sum over the sweep and the median run."""
    names = {
        "wandb_init": "wandb.init",
        "data": "data",
        "model": "model",
        "first_execution": "first execution",
        "training": "training",
        "finish": "finish",
    }
    lines = [
        "kerasweep's runs by phase (s):",
        "",
        "| | " + " | ".join(names[p] for p in SPLIT_PHASES) + " | agent between runs | wall |",
        "|---|" + "---:|" * (len(SPLIT_PHASES) + 2),
    ]
    per_run = ours.between_runs()
    sums = [sum(run.split[p] for run in ours.runs) for p in SPLIT_PHASES]
    medians = [statistics.median(run.split[p] for run in ours.runs) for p in SPLIT_PHASES]
    lines.append(
        f"| sum over {len(ours.runs)} runs | "
        + " | ".join(f"{v:.2f}" for v in sums)
        + f" | {per_run * len(ours.runs):.2f} | {ours.wall:.2f} |"
    )
    lines.append(
        "| median run | " + " | ".join(f"{v:.3f}" for v in medians) + f" | {per_run:.3f} | |"
    )
    return "\n".join(lines)


def format_memory(rss: list[float | None]) -> str:
    """RSS after each run (the value before run k+1 starts, and after the agent ends)."""
    after = rss[1:]
    if not after or any(v is None for v in after):
        return "resident memory: not available on this platform"
    lines = ["resident memory (MB) after each run of one local agent in this process:"]
    lines.append("  " + " ".join(f"{v:.0f}" for v in after))
    if len(after) >= 2:
        growth = after[-1] - after[1]
        verdict = "met" if growth < MEMORY_GROWTH_LIMIT_MB else "MISSED"
        lines.append(
            f"  growth from run 2 to run {len(after)}: {growth:+.1f} MB "
            f"(target < {MEMORY_GROWTH_LIMIT_MB:.0f} MB)  {verdict}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Wall time of a sweep: the tutorial's eager loop against kerasweep's "
        "local agent, and kerasweep's memory over many in-process runs."
    )
    parser.add_argument(
        "--runs", type=int, default=10, help="runs per side (default 10; 0: the memory check only)"
    )
    parser.add_argument(
        "--memory-runs",
        type=int,
        default=20,
        help="runs of the memory check (default 20; 0 skips it)",
    )
    parser.add_argument(
        "--memory-hidden-units",
        metavar="N,N,...",
        help="widths the memory check's runs draw from (default: the tutorial's 64 only)",
    )
    parser.add_argument(
        "--dataset",
        default="auto",
        help="auto (MNIST if cached, else digits), digits, mnist, synthetic-mnist or a .npz",
    )
    parser.add_argument(
        "--epochs", type=int, default=2, help="epochs per run (default 2, the tutorial's)"
    )
    parser.add_argument(
        "--wandb-mode",
        choices=("offline", "disabled"),
        default="offline",
        help="wandb mode of both sides (default offline: runs are written, as a user gets)",
    )
    parser.add_argument(
        "--sweep-seed",
        type=int,
        help="seed of kerasweep's search, so that two invocations run the same parameters",
    )
    parser.add_argument(
        "--no-tutorial",
        action="store_true",
        help="skip the tutorial's sweep (kerasweep's start-up split and the wandb-only bound)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.json:
        args.json = os.path.abspath(args.json)
    if args.epochs < 1:
        parser.error(f"--epochs: {args.epochs} must be at least 1")
    for name in ("runs", "memory_runs"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')}: {getattr(args, name)} must be at least 0")
    if args.runs == 0 and args.memory_runs == 0:
        parser.error("--runs 0 and --memory-runs 0: nothing to measure")
    if args.memory_hidden_units is not None:
        try:
            widths = [int(text) for text in args.memory_hidden_units.split(",")]
        except ValueError:
            widths = []
        if not widths or min(widths) < 1:
            parser.error(
                f"--memory-hidden-units: {args.memory_hidden_units!r} is not a list of "
                "positive integers such as 16,32,64"
            )
        args.memory_hidden_units = widths
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", module=r"(tensorflow|keras)(\..*)?$")
    with tempfile.TemporaryDirectory(prefix="kerasweep-throughput-") as tmp:
        workdir = Path(tmp)
        for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
            os.environ[var] = str(workdir)
        os.environ["WANDB_MODE"] = args.wandb_mode
        os.environ.setdefault("KERASWEEP_XLA_CACHE", str(workdir / "xla-cache"))  # cold
        os.environ.setdefault("WANDB_SILENT", "true")
        os.chdir(workdir)  # wandb's run folders
        dataset = resolve_dataset(args.dataset, workdir)
        config = sweep_config(dataset, args.epochs)
        print(f"device: {device_name()}")
        shown = args.dataset if args.dataset == "synthetic-mnist" else dataset
        print(f"data: {shown}; {args.runs} runs per side, {args.epochs} epochs each")
        print(f"wandb mode: {args.wandb_mode}")

        warm_up(args.wandb_mode)
        if args.runs:
            db = workdir / "sweep.db"
            ours, _ = run_kerasweep(
                config, args.runs, db, args.wandb_mode, "ours", seed=args.sweep_seed
            )
            ours.name = "kerasweep local agent"
            tutorial = None
            if not args.no_tutorial:
                tutorial = run_tutorial(dataset, args.epochs, [run.params for run in ours.runs])
            alone = run_wandb_only(config, args.runs, workdir / "alone.db", args.wandb_mode)
            print(
                f"  wandb and the agent alone: {args.runs} runs in {alone.wall:.2f} s", flush=True
            )
        rss: list[float | None] = []
        if args.memory_runs:
            memory_config = copy.deepcopy(config)
            if args.memory_hidden_units:
                widths = {"values": args.memory_hidden_units}
                memory_config["parameters"]["hidden_units"] = widths
                print(f"memory check: hidden_units drawn from {args.memory_hidden_units}")
            _, rss = run_kerasweep(
                memory_config, args.memory_runs, workdir / "memory.db", args.wandb_mode, "memory"
            )
        os.chdir(ROOT)

    if args.runs:
        if tutorial is not None:
            print()
            print(format_report(tutorial, ours, alone))
        else:
            print(
                f"\nkerasweep sweep wall {ours.wall:.1f} s; "
                f"wandb and the agent alone {alone.wall:.1f} s"
            )
        print()
        print(format_split(ours))
    if rss:
        print()
        print(format_memory(rss))
    if args.json:
        payload: dict[str, Any] = {
            "device": device_name(),
            "dataset": args.dataset if args.dataset == "synthetic-mnist" else dataset,
            "epochs": args.epochs,
            "wandb_mode": args.wandb_mode,
        }
        if args.runs:
            payload.update(
                kerasweep=ours.to_json(),
                wandb_and_agent_alone=alone.to_json(),
                agent_between_runs_s=round(ours.between_runs(), 4),
            )
        if args.runs and tutorial is not None:
            payload.update(
                tutorial=tutorial.to_json(),
                end_to_end_ratio=round(tutorial.wall / ours.wall, 3),
                highest_possible_ratio=round(tutorial.wall / alone.wall, 3),
            )
        payload["memory_hidden_units"] = args.memory_hidden_units
        payload["rss_mb_after_run"] = [None if v is None else round(v, 1) for v in rss[1:]]
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
