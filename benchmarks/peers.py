"""The same sweep in kerasweep and in what a user would pick instead, each in a fresh process.

Systems, each written the way its own documentation tells a user to write it:

- **kerasweep**: :func:`kerasweep.local_sweep` + :func:`kerasweep.local_agent` running
  :func:`kerasweep.sweep_train` (wandb offline, as a user gets it);
- **optuna**: ``optuna.create_study`` + ``study.optimize`` with an objective that calls
  ``keras.backend.clear_session()``, builds a plain ``keras.Model``, and
  ``model.fit(x, y, batch_size=..., validation_data=...)`` then ``model.evaluate``, as in
  optuna-examples' Keras integration; the pruning mode adds optuna-integration's
  ``TFKerasPruningCallback`` and a ``HyperbandPruner``;
- **kerastuner**: a ``keras_tuner.HyperModel`` whose ``build`` chooses the learning rate and
  whose ``fit`` chooses the batch size (KerasTuner's "tune model training" recipe), searched
  by ``GridSearch`` or ``Hyperband``; KerasTuner clears the Keras session itself;
- **tutorial**: W&B's tutorial's ``sweep_train`` (eager ``GradientTape`` loop), once per
  configuration with wandb offline (``wandb.agent`` needs a W&B server).

Every system trains the tutorial's 784-64-64-10 MLP with SGD on the same data. Two modes:

- ``grid``: every system runs the same configurations (the grid of ``--batch-sizes`` x
  ``--learning-rates`` from the tutorial's space: W&B's grid method, Optuna's
  ``GridSampler``, KerasTuner's ``GridSearch``, the tutorial over the list), each for
  ``--epochs`` epochs: identical work, so the wall times compare speed alone;
- ``hyperband``: each system's own early termination over the same space and at most
  ``--hyperband-epochs`` epochs per configuration: kerasweep's hyperband (``min_iter``,
  ``eta``), Optuna's ``HyperbandPruner(min_resource, max_resource, reduction_factor)`` (its
  pruning callback reports 0-based epochs, so its rungs fall one epoch later), KerasTuner's
  ``Hyperband(max_epochs, factor)`` (which draws its own configurations and trains some of
  them further from checkpoints). The tutorial has no early termination without a W&B
  server and is left out.

Each system runs in its own Python process, one after another: its wall time runs from
starting the interpreter to its exit, so imports, start-up and clean-up count. The report
gives, per system: wall time, its ratio over kerasweep's, trials (and how many trained
fewer than the most epochs: stopped early, or in KerasTuner's shorter brackets), epochs
trained, best ``val_loss`` (the best trial's last epoch), time outside epochs (imports,
data, building, between trials), and the median seconds per epoch (validation included,
each trial's first epoch left out: it holds the tracing) by batch size, with each peer's
ratio over kerasweep.

With ``--repeats N`` the systems take turns for N rounds (a machine whose speed drifts
slows each alike); each wall time is then the median over the rounds, the epochs are pooled,
and the fastest peer's ratio is also given round by round.

In grid mode kerasweep runs twice: first as a first sweep on the machine (its XLA cache
starts empty, so every batch size's loop is compiled), then the same sweep again as a user's
later sweep, whose compiled loops load from the cache the first one left (``--no-later-sweep``
runs it once). The target is judged on the first; the later one is reported beside it.

Data: MNIST when it is in the Keras cache, else an MNIST-shaped set made from
scikit-learn's digits (28x28 uint8 images, 60,000 / 10,000, learnable); nothing is
downloaded. A system whose packages are missing is reported as not installed
(``pip install '.[benchmarks]'`` installs them all).

Usage::

    python benchmarks/peers.py                             # both modes, every system
    python benchmarks/peers.py --mode grid --json peers.json
    python benchmarks/peers.py --mode grid --repeats 3     # turns, medians: a noisy machine
    python benchmarks/peers.py --systems kerasweep,optuna --epochs 2
    python benchmarks/peers.py --tiny                      # a minute or two: a smoke test
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

#: The environment the systems' processes start from: this process's own, before anything
#: here changes it (quieting TensorFlow sets some of TensorFlow's options).
WORKER_ENVIRON = dict(os.environ)

SYSTEMS = ("kerasweep", "optuna", "kerastuner", "tutorial")
MODES = ("grid", "hyperband")
#: Importable modules each system needs, with the pip name to show when one is missing.
REQUIREMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "kerasweep": (),
    "optuna": (("optuna", "optuna"), ("optuna_integration", "optuna-integration")),
    # KerasTuner imports tensorboard in every trial on TF 2.21; without it each trial fails
    # and the search still ends "successfully".
    "kerastuner": (("keras_tuner", "keras-tuner"), ("tensorboard", "tensorboard")),
    "tutorial": (),
}
#: Systems with early termination of their own (the tutorial's is W&B's server).
HYPERBAND_SYSTEMS = ("kerasweep", "optuna", "kerastuner")
MNIST_SHAPE = (60_000, 10_000)
TINY_SHAPE = (2_000, 500)
INPUT_DIM = 784


@dataclasses.dataclass(frozen=True)
class Plan:
    """What every system runs in one mode; written to JSON for the worker processes."""

    mode: str
    data: str
    batch_sizes: tuple[int, ...]
    learning_rates: tuple[float, ...]
    epochs: int
    min_iter: int = 1
    eta: int = 3

    @property
    def grid(self) -> list[dict[str, Any]]:
        """The configurations, batch size first."""
        return [
            {"batch_size": b, "learning_rate": lr}
            for b, lr in itertools.product(self.batch_sizes, self.learning_rates)
        ]


# -- data -------------------------------------------------------------------------------------


def mnist_shaped_from_digits(
    n_train: int = MNIST_SHAPE[0], n_test: int = MNIST_SHAPE[1], seed: int = 0
) -> dict[str, np.ndarray]:
    """MNIST-shaped arrays made from scikit-learn's 8x8 digits, with no download.

    Each digit is enlarged to 20x20 (bilinear) and placed near the middle of a 28x28 frame,
    up to 2 pixels off in each direction (MNIST's digits are 20x20 boxes centred in 28x28
    images), scaled in brightness and given pixel noise. Training images come from digits'
    training split and test images from its test split (the split
    :func:`kerasweep.load_dataset` uses), so no test image is a copy of a training digit.

    Example:
        >>> arrays = mnist_shaped_from_digits(100, 20)
        >>> arrays["x_train"].shape, arrays["x_train"].dtype.name, arrays["y_test"].shape
        ((100, 28, 28), 'uint8', (20,))
    """
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(
        digits.images, digits.target, test_size=0.2, stratify=digits.target, random_state=0
    )
    rng = np.random.default_rng(seed)

    def make(images: np.ndarray, labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        big = zoom(images.astype(np.float32), (1, 2.5, 2.5), order=1)  # (m, 20, 20), 0..16
        pick = rng.integers(0, len(images), n)
        dx, dy = rng.integers(2, 7, n), rng.integers(2, 7, n)
        frame = np.zeros((n, 28, 28), np.float32)
        for ox, oy in itertools.product(range(2, 7), range(2, 7)):
            rows = np.flatnonzero((dx == ox) & (dy == oy))
            frame[rows, oy : oy + 20, ox : ox + 20] = big[pick[rows]]
        frame *= rng.uniform(0.7, 1.0, (n, 1, 1)).astype(np.float32) * (255.0 / 16.0)
        frame += rng.normal(0.0, 8.0, frame.shape).astype(np.float32)
        return np.clip(frame, 0, 255).astype(np.uint8), labels[pick].astype(np.uint8)

    x_train, y_train = make(x_tr, y_tr, n_train)
    x_test, y_test = make(x_te, y_te, n_test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def prepare_data(workdir: Path, *, tiny: bool) -> tuple[Path, str]:
    """The ``.npz`` every system loads, and where its images came from."""
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    cached = Path(base) / "datasets" / "mnist.npz"
    n_train, n_test = TINY_SHAPE if tiny else MNIST_SHAPE
    path = workdir / "images.npz"
    if cached.exists():
        with np.load(cached, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
        source = f"MNIST ({cached})"
        if tiny:
            arrays = {k: v[: n_train if k.endswith("train") else n_test] for k, v in arrays.items()}
    else:
        arrays = mnist_shaped_from_digits(n_train, n_test)
        source = "MNIST-shaped images made from scikit-learn's digits (MNIST not cached)"
    np.savez(path, **arrays)
    return path, f"{source}: {len(arrays['x_train'])} / {len(arrays['x_test'])} 28x28 images"


def load_arrays(path: str, dtype: str = "float32") -> tuple[np.ndarray, ...]:
    """``x / 255`` flattened (as the peers' own examples preprocess MNIST), and the labels."""
    with np.load(path, allow_pickle=False) as f:
        x_train = f["x_train"].reshape(-1, INPUT_DIM).astype(dtype) / 255
        x_test = f["x_test"].reshape(-1, INPUT_DIM).astype(dtype) / 255
        return x_train, f["y_train"].astype("int32"), x_test, f["y_test"].astype("int32")


# -- what every worker records ----------------------------------------------------------------

#: One dict per trial: ``params`` and ``epochs`` (``seconds``, ``val_loss`` each).
TRIALS: list[dict[str, Any]] = []


def epoch_clock(params_of: Callable[[], dict[str, Any]]):
    """A Keras callback appending each ``fit`` as a trial to :data:`TRIALS`.

    It keeps no state of its own (KerasTuner deep-copies callbacks for every trial), and is
    put first among a fit's callbacks so that an epoch a pruner ends is still recorded.
    """
    import keras

    class EpochClock(keras.callbacks.Callback):
        def on_train_begin(self, logs: Any = None) -> None:
            TRIALS.append({"params": params_of(), "epochs": [], "start": time.perf_counter()})

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            TRIALS[-1]["start"] = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            seconds = time.perf_counter() - TRIALS[-1]["start"]
            val_loss = (logs or {}).get("val_loss")
            TRIALS[-1]["epochs"].append(
                {"seconds": seconds, "val_loss": None if val_loss is None else float(val_loss)}
            )

    return EpochClock()


def _numbers(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "batch_size": int(params["batch_size"]),
        "learning_rate": float(params["learning_rate"]),
    }


# -- the systems (each runs in its own worker process) ----------------------------------------


def run_kerasweep(plan: Plan) -> None:
    """kerasweep's local sweep of the plan's grid, run by its local agent.

    Imported as a user's script imports it: kerasweep only; Keras and TensorFlow load in
    the first run. The epoch clock goes onto ``GradientTapeModel`` when Keras defines it, so
    measuring changes no import order.
    """
    import contextlib

    import wandb
    import wrapt

    from kerasweep import local_agent, local_sweep, sweep_train

    clocked = contextlib.ExitStack()

    @wrapt.when_imported("kerasweep._model")
    def add_epoch_clock(module: Any) -> None:
        from benchmarks.step_time import extra_fit_callback  # imports Keras: loaded by now

        clock = epoch_clock(lambda: _numbers(wandb.run.config))
        clocked.enter_context(extra_fit_callback(module.GradientTapeModel, clock))

    config: dict[str, Any] = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {
            "batch_size": {"values": list(plan.batch_sizes)},
            "learning_rate": {"values": list(plan.learning_rates)},
            "epochs": {"value": plan.epochs},
            "dataset": {"value": plan.data},
            "verbose": {"value": 0},
        },
    }
    if plan.mode == "hyperband":
        config["early_terminate"] = {
            "type": "hyperband",
            "min_iter": plan.min_iter,
            "eta": plan.eta,
        }
    sweep_id = local_sweep(config, db="kerasweep.db")
    with clocked:
        local_agent(sweep_id, function=sweep_train, count=len(plan.grid), db="kerasweep.db")
    if not TRIALS:
        raise RuntimeError("the epoch clock was never added: kerasweep._model not imported")


def run_optuna(plan: Plan) -> None:
    """Optuna's study over the plan's grid, its objective as Optuna's Keras examples write it."""
    import keras
    import optuna
    from optuna_integration import TFKerasPruningCallback

    from benchmarks.tutorial import tutorial_model

    x_train, y_train, x_valid, y_valid = load_arrays(plan.data)
    search_space = {
        "batch_size": list(plan.batch_sizes),
        "learning_rate": list(plan.learning_rates),
    }

    def objective(trial: optuna.Trial) -> float:
        keras.backend.clear_session()
        model = tutorial_model(INPUT_DIM)
        learning_rate = trial.suggest_categorical("learning_rate", search_space["learning_rate"])
        batch_size = trial.suggest_categorical("batch_size", search_space["batch_size"])
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        callbacks = [epoch_clock(lambda: _numbers(trial.params))]
        if plan.mode == "hyperband":
            callbacks.append(TFKerasPruningCallback(trial, "val_loss"))
        model.fit(
            x_train,
            y_train,
            batch_size=batch_size,
            epochs=plan.epochs,
            validation_data=(x_valid, y_valid),
            callbacks=callbacks,
            verbose=0,
        )
        score = model.evaluate(x_valid, y_valid, verbose=0)
        return score[0]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner: optuna.pruners.BasePruner = optuna.pruners.NopPruner()
    if plan.mode == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(
            min_resource=plan.min_iter, max_resource=plan.epochs, reduction_factor=plan.eta
        )
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.GridSampler(search_space), pruner=pruner
    )
    study.optimize(objective, n_trials=len(plan.grid))


def run_kerastuner(plan: Plan) -> None:
    """KerasTuner's GridSearch or Hyperband over the plan's space."""
    import keras
    import keras_tuner

    from benchmarks.tutorial import tutorial_model

    x_train, y_train, x_val, y_val = load_arrays(plan.data)
    trial_params: dict[str, Any] = {}  # the running trial's, for the epoch clock

    class TutorialHyperModel(keras_tuner.HyperModel):
        def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
            model = tutorial_model(INPUT_DIM)
            learning_rate = hp.Choice("learning_rate", list(plan.learning_rates))
            model.compile(
                optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"],
            )
            return model

        def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args, **kwargs):
            batch_size = hp.Choice("batch_size", list(plan.batch_sizes))
            trial_params.update(batch_size=batch_size, learning_rate=hp.get("learning_rate"))
            return model.fit(*args, batch_size=batch_size, **kwargs)

    common = {"objective": "val_loss", "directory": "kerastuner", "overwrite": True}
    if plan.mode == "hyperband":
        tuner = keras_tuner.Hyperband(
            TutorialHyperModel(), max_epochs=plan.epochs, factor=plan.eta, **common
        )
    else:
        tuner = keras_tuner.GridSearch(TutorialHyperModel(), max_trials=len(plan.grid), **common)
    clock = epoch_clock(lambda: _numbers(trial_params))
    tuner.search(
        x_train,
        y_train,
        epochs=plan.epochs,
        validation_data=(x_val, y_val),
        callbacks=[clock],
        verbose=0,
    )


def run_tutorial(plan: Plan) -> None:
    """The tutorial's ``sweep_train`` once per configuration, wandb offline."""
    import wandb

    from benchmarks.tutorial import tutorial_sweep_train

    # the tutorial's ``x / 255.`` makes float64 arrays
    x_train, y_train, x_test, y_test = load_arrays(plan.data, dtype="float64")
    for params in plan.grid:
        wandb.teardown()  # what wandb.agent does before each run
        clock: dict[str, Any] = {}
        tutorial_sweep_train(
            x_train, y_train, x_test, y_test, {**params, "epochs": plan.epochs}, clock=clock
        )
        wandb.finish()
        epochs = [
            {"seconds": end - start, "val_loss": loss} for start, end, loss in clock["epochs"]
        ]
        TRIALS.append({"params": params, "epochs": epochs})


RUNNERS: dict[str, Callable[[Plan], None]] = {
    "kerasweep": run_kerasweep,
    "optuna": run_optuna,
    "kerastuner": run_kerastuner,
    "tutorial": run_tutorial,
}


def worker_main(system: str, plan_path: str, out_path: str) -> int:
    """One system's whole run in this (fresh) process; its trials go to ``out_path``."""
    import warnings

    warnings.filterwarnings("ignore")
    plan_fields = json.loads(Path(plan_path).read_text())
    plan = Plan(
        **{
            **plan_fields,
            "batch_sizes": tuple(plan_fields["batch_sizes"]),
            "learning_rates": tuple(plan_fields["learning_rates"]),
        }
    )
    RUNNERS[system](plan)
    trials = [{"params": t["params"], "epochs": t["epochs"]} for t in TRIALS]
    Path(out_path).write_text(json.dumps({"trials": trials}))
    return 0


# -- the parent: run each system, compare -----------------------------------------------------


def missing_packages(system: str) -> list[str]:
    """The pip names of the packages ``system`` needs that cannot be imported here."""
    return [pip for module, pip in REQUIREMENTS[system] if importlib.util.find_spec(module) is None]


@dataclasses.dataclass
class Outcome:
    """One system's run in one mode: its wall time and trials, or why it has none."""

    system: str
    wall: float = 0.0
    trials: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    problem: str | None = None  # "not installed: ...", "failed: ...", "not applicable: ..."
    later: bool = False  # kerasweep's second sweep, on the XLA cache its first one left
    #: With ``--repeats``: every round's own outcome; ``wall`` is then their median and
    #: ``trials`` the first round's.
    rounds: list[Outcome] = dataclasses.field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.system}, later sweep" if self.later else self.system

    @property
    def walls(self) -> list[float]:
        """The wall time of each round (one, without ``--repeats``)."""
        return [r.wall for r in self.rounds] if self.rounds else [self.wall]

    @property
    def epochs_trained(self) -> int:
        return sum(len(t["epochs"]) for t in self.trials)

    @property
    def best_val_loss(self) -> float | None:
        finals = [t["epochs"][-1]["val_loss"] for t in self.trials if t["epochs"]]
        finals = [v for v in finals if v is not None and np.isfinite(v)]
        return min(finals) if finals else None

    @property
    def outside_epochs(self) -> float:
        """Seconds outside epochs (the median over the rounds)."""
        if self.rounds:
            return statistics.median(r.outside_epochs for r in self.rounds)
        return self.wall - sum(e["seconds"] for t in self.trials for e in t["epochs"])

    def seconds_per_epoch(self) -> dict[int, float]:
        """Median epoch seconds by batch size over every round, each trial's first epoch
        left out."""
        by_size: dict[int, list[float]] = {}
        for trial in (t for r in self.rounds or [self] for t in r.trials):
            later = [e["seconds"] for e in trial["epochs"][1:]]
            by_size.setdefault(trial["params"]["batch_size"], []).extend(later)
        return {b: statistics.median(s) for b, s in sorted(by_size.items()) if s}

    def to_json(self) -> dict[str, Any]:
        record = {
            "wall_s": round(self.wall, 3),
            "problem": self.problem,
            "trials": len(self.trials),
            "epochs_trained": self.epochs_trained,
            "best_val_loss": self.best_val_loss,
            "outside_epochs_s": round(self.outside_epochs, 3) if self.problem is None else None,
            "seconds_per_epoch": {str(b): round(s, 4) for b, s in self.seconds_per_epoch().items()},
            "trial_records": self.trials,
        }
        if self.rounds:
            record["rounds"] = [
                {"wall_s": round(r.wall, 3), "trial_records": r.trials} for r in self.rounds
            ]
        return record


def over_rounds(runs: Sequence[Outcome]) -> Outcome:
    """One system's rounds as one outcome: the median wall time, epochs pooled; a round's
    problem, if one had any."""
    if len(runs) == 1:
        return runs[0]
    failed = next((r for r in runs if r.problem is not None), None)
    if failed is not None:
        return failed
    first = runs[0]
    wall = statistics.median(r.wall for r in runs)
    return Outcome(first.system, wall, first.trials, later=first.later, rounds=list(runs))


def run_system(
    system: str, plan: Plan, workdir: Path, *, later: bool = False, round_: int = 0
) -> Outcome:
    """``system``'s run of ``plan`` in a fresh process, timed from its start to its exit.

    ``later``: the same sweep again, as a user's next sweep on the machine: kerasweep's XLA
    cache holds what the first one compiled. ``round_``: which repeat this is (each round's
    first sweep starts with an empty XLA cache of its own).
    """
    if plan.mode == "hyperband" and system not in HYPERBAND_SYSTEMS:
        return Outcome(system, problem="not applicable: its hyperband needs a W&B server")
    missing = missing_packages(system)
    if missing:
        return Outcome(system, problem=f"not installed: {', '.join(missing)}")
    suffix = f"-round{round_ + 1}" if round_ else ""
    rundir = workdir / f"{plan.mode}-{system}{'-later' if later else ''}{suffix}"
    rundir.mkdir()
    plan_path, out_path = rundir / "plan.json", rundir / "trials.json"
    plan_path.write_text(json.dumps(dataclasses.asdict(plan)))
    env = dict(WORKER_ENVIRON)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(WANDB_MODE="offline", WANDB_SILENT="true")
    # a first sweep's compiles: kerasweep's XLA cache starts empty, not with the user's;
    # the later sweep finds what the first one left
    env["KERASWEEP_XLA_CACHE"] = str(workdir / f"{plan.mode}-{system}-xla-cache{suffix}")
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        env[var] = str(rundir)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", system]
    command += ["--plan", str(plan_path), "--out", str(out_path)]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=rundir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not out_path.exists():
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {proc.returncode}"
        return Outcome(system, wall, problem=f"failed: {reason}", later=later)
    trials = json.loads(out_path.read_text())["trials"]
    if not any(t["epochs"] for t in trials):
        return Outcome(
            system, wall, trials, problem="failed: no trial trained an epoch", later=later
        )
    return Outcome(system, wall, trials, later=later)


def run_plan(
    plan: Plan, systems: Sequence[str], workdir: Path, *, later_sweep: bool, repeats: int = 1
) -> list[Outcome]:
    """Each system's run of ``plan``, one after another, each line printed as it ends; in
    grid mode with ``later_sweep``, kerasweep's sweep again right after its first.

    With ``repeats`` above 1 the systems take turns, round after round, so that a machine
    whose speed drifts slows each of them alike; each system's rounds come back as one
    outcome (:func:`over_rounds`).
    """
    runs: dict[tuple[str, bool], list[Outcome]] = {}

    def run(system: str, round_: int, later: bool = False) -> Outcome:
        outcome = run_system(system, plan, workdir, later=later, round_=round_)
        shown = outcome.problem or f"{outcome.wall:.1f} s, {outcome.epochs_trained} epochs"
        of = f" (round {round_ + 1} of {repeats})" if repeats > 1 else ""
        print(f"  {plan.mode} {outcome.label}{of}: {shown}", flush=True)
        runs.setdefault((system, later), []).append(outcome)
        return outcome

    for round_ in range(repeats):
        for system in systems:
            first = run(system, round_)
            if system == "kerasweep" and plan.mode == "grid" and later_sweep and not first.problem:
                run(system, round_, later=True)
    return [over_rounds(rounds) for rounds in runs.values()]


def _ratio(peer: float | None, ours: float | None) -> str:
    if peer is None or not ours:
        return ""
    return f"{peer / ours:.2f}x"


def format_mode(plan: Plan, outcomes: Sequence[Outcome]) -> str:
    """The two tables of one mode: whole runs, and seconds per epoch by batch size."""
    ours = next(
        (o for o in outcomes if o.system == "kerasweep" and not o.later and o.problem is None),
        None,
    )
    lines = [
        f"### mode {plan.mode}: {len(plan.grid)} configurations, "
        + (
            f"{plan.epochs} epochs each"
            if plan.mode == "grid"
            else f"at most {plan.epochs} epochs (min_iter {plan.min_iter}, eta {plan.eta})"
        ),
        "",
        "| system | wall (s) | / kerasweep | trials | of them shorter | epochs trained "
        "| best val_loss | outside epochs (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if any(o.rounds for o in outcomes):
        rounds = max(len(o.rounds) for o in outcomes)
        lines[1:1] = [
            "",
            f"{rounds} rounds, the systems taking turns: wall is the median (the range in "
            "brackets), outside epochs the median, epochs pooled over the rounds; trials "
            "and val_loss are the first round's.",
        ]
    for o in outcomes:
        if o.problem is not None:
            lines.append(f"| {o.label} | {o.problem} | | | | | | |")
            continue
        best = "" if o.best_val_loss is None else f"{o.best_val_loss:.4f}"
        shorter = sum(len(t["epochs"]) < plan.epochs for t in o.trials)
        wall = f"{o.wall:.1f}"
        if o.rounds:
            wall += f" ({min(o.walls):.1f} to {max(o.walls):.1f})"
        lines.append(
            f"| {o.label} | {wall} | {_ratio(o.wall, ours and ours.wall)} "
            f"| {len(o.trials)} | {shorter} | {o.epochs_trained} | {best} "
            f"| {o.outside_epochs:.1f} |"
        )
    ran = [o for o in outcomes if o.problem is None]
    sizes = sorted({b for o in ran for b in o.seconds_per_epoch()})
    if sizes:
        lines += [
            "",
            "seconds per epoch (median, validation included, each trial's first epoch left "
            "out), and / kerasweep:",
            "",
            "| system | " + " | ".join(f"batch {b}" for b in sizes) + " |",
            "|---|" + "---:|" * len(sizes),
        ]
        base = ours.seconds_per_epoch() if ours else {}
        for o in ran:
            cells = []
            for b in sizes:
                s = o.seconds_per_epoch().get(b)
                ratio = "" if o is ours else f" ({_ratio(s, base.get(b))})"
                cells.append("" if s is None else f"{s:.3f}{ratio}")
            lines.append(f"| {o.label} | " + " | ".join(cells) + " |")
    peers = [o for o in ran if o.system != "kerasweep"]
    if ours and peers and plan.mode == "grid":
        fastest = min(peers, key=lambda o: o.wall)
        lines += [
            "",
            f"fastest peer end to end: {fastest.system}, {fastest.wall / ours.wall:.2f}x "
            "kerasweep's wall time (target 4x)",
        ]
        if ours.rounds and len(fastest.walls) == len(ours.walls):
            each = ", ".join(
                f"{p / k:.2f}x" for p, k in zip(fastest.walls, ours.walls, strict=True)
            )
            lines.append(f"  round by round: {each}")
        later = next((o for o in ran if o.later), None)
        if later is not None:
            lines.append(
                f"  against kerasweep's later sweep (its compiled loops loaded from disk): "
                f"{fastest.wall / later.wall:.2f}x"
            )
        base = ours.seconds_per_epoch()
        for b in sizes:
            ratios = [
                o.seconds_per_epoch()[b] / base[b] for o in peers if b in o.seconds_per_epoch()
            ]
            if b in base and ratios:
                lines.append(
                    f"  batch {b}: the fastest peer per epoch is {min(ratios):.2f}x (target 4x)"
                )
    return "\n".join(lines)


def versions() -> dict[str, str]:
    """Installed versions of every system's packages."""
    from importlib.metadata import PackageNotFoundError, version

    names = ("tensorflow", "keras", "wandb", "sweeps", "optuna", "optuna-integration")
    found = {}
    for name in (*names, "keras-tuner", "tensorboard"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _int_list(text: str) -> tuple[int, ...]:
    values = tuple(int(v) for v in text.split(","))
    if not values or min(values) < 1:
        raise ValueError(text)
    return values


def _float_list(text: str) -> tuple[float, ...]:
    values = tuple(float(v) for v in text.split(","))
    if not values or min(values) <= 0:
        raise ValueError(text)
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="The same sweep in kerasweep, Optuna, KerasTuner and the W&B tutorial, "
        "each in a fresh process."
    )
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both")
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help=f"comma-separated (default {','.join(SYSTEMS)})",
    )
    parser.add_argument("--batch-sizes", default="32,64,128,256", help="the grid's batch sizes")
    parser.add_argument("--learning-rates", default="0.01,0.001", help="the grid's learning rates")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per configuration, grid mode")
    parser.add_argument(
        "--hyperband-epochs", type=int, default=9, help="most epochs per configuration, hyperband"
    )
    parser.add_argument("--min-iter", type=int, default=1, help="hyperband's first band (epochs)")
    parser.add_argument("--eta", type=int, default=3, help="hyperband's reduction factor")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help=f"{TINY_SHAPE[0]}/{TINY_SHAPE[1]} images, batch sizes 64,256, one learning rate, "
        "2 epochs (3 in hyperband): a smoke test, not a measurement",
    )
    parser.add_argument(
        "--no-later-sweep",
        dest="later_sweep",
        action="store_false",
        help="grid mode runs kerasweep twice by default, the second time as a user's later "
        "sweep on the same machine (XLA's compiled loops loaded from disk); run it once",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="rounds of every system, taking turns; wall times are the median over the "
        "rounds and epochs are pooled (a machine whose speed drifts slows each alike)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return args
    try:
        args.batch_sizes = _int_list(args.batch_sizes)
    except ValueError:
        parser.error(f"--batch-sizes: {args.batch_sizes!r} is not a list of positive integers")
    try:
        args.learning_rates = _float_list(args.learning_rates)
    except ValueError:
        parser.error(f"--learning-rates: {args.learning_rates!r} is not a list of positive numbers")
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in args.systems if s not in SYSTEMS]
    if unknown or not args.systems:
        parser.error(
            f"--systems: {unknown[0] if unknown else ''!r} is not one of {', '.join(SYSTEMS)}"
        )
    repeated = [s for i, s in enumerate(args.systems) if s in args.systems[:i]]
    if repeated:
        parser.error(f"--systems: {repeated[0]!r} is named twice")
    for name in ("epochs", "hyperband_epochs", "min_iter", "eta", "repeats"):
        if getattr(args, name) < (2 if name == "eta" else 1):
            parser.error(f"--{name.replace('_', '-')}: {getattr(args, name)} is too small")
    if args.tiny:
        args.batch_sizes, args.learning_rates = (64, 256), (0.01,)
        args.epochs, args.hyperband_epochs = 2, 3
    if args.json:
        args.json = os.path.abspath(args.json)
    return args


def plans(args: argparse.Namespace, data: Path) -> Iterator[Plan]:
    """The plan of each mode asked for."""
    for mode in MODES if args.mode == "both" else (args.mode,):
        epochs = args.epochs if mode == "grid" else args.hyperband_epochs
        yield Plan(
            mode, str(data), args.batch_sizes, args.learning_rates, epochs, args.min_iter, args.eta
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker_main(args.worker, args.plan, args.out)
    from kerasweep._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()  # for the device's name; the systems run in their own processes
    from benchmarks.step_time import device_name

    found = versions()
    print(f"device: {device_name()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    payload: dict[str, Any] = {
        "device": device_name(),
        "versions": found,
        "repeats": args.repeats,
        "modes": {},
    }
    reports = []
    with tempfile.TemporaryDirectory(prefix="kerasweep-peers-") as tmp:
        workdir = Path(tmp)
        data, source = prepare_data(workdir, tiny=args.tiny)
        print(f"data: {source}")
        payload["data"] = source
        for plan in plans(args, data):
            outcomes = run_plan(
                plan, args.systems, workdir, later_sweep=args.later_sweep, repeats=args.repeats
            )
            reports.append(format_mode(plan, outcomes))
            fields = dataclasses.asdict(plan)
            fields["data"] = source
            payload["modes"][plan.mode] = {
                "plan": fields,
                "systems": {o.system: o.to_json() for o in outcomes if not o.later},
            }
            for o in outcomes:
                if o.later:
                    payload["modes"][plan.mode]["kerasweep_later_sweep"] = o.to_json()
    for report in reports:
        print()
        print(report)
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
