"""``sweep_train``: the function a sweep agent calls once per run, and its program mode.

``sweep_train`` does what the tutorial's function of the same name does, with ``fit`` doing
the looping: ``wandb.init`` with the defaults (a sweep's parameters override them), the
datasets, the MLP, ``compile`` and ``fit`` with ``WandbMetricsLogger`` and
:class:`~kerasweep._callbacks.SweepMetricsLogger`. Every key of :data:`DEFAULT_CONFIG` can
be set by a sweep: nothing is assigned to ``wandb.config`` after ``init``. What makes it
faster than the tutorial (several steps per compiled call, compiled models reused across
runs, the XLA cache, the garbage collector kept off long-lived objects) sits behind one
seam, :class:`kerasweep._speedups.run.RunSpeedups`, which the data and ``compile`` steps
go through.

Example (with W&B)::

    import wandb
    from kerasweep import SWEEP_CONFIG, sweep_train
    sweep_id = wandb.sweep(SWEEP_CONFIG, project="sweeps-tensorflow")
    wandb.agent(sweep_id, function=sweep_train, count=10)

Program mode, for ``wandb agent`` with a ``program:`` sweep (``${args}`` expands to
``--key=value``)::

    python -m kerasweep.train --batch_size=32 --learning_rate=0.001
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from kerasweep._errors import KerasweepError
from kerasweep._suggest import did_you_mean

__all__ = [
    "DEFAULT_CONFIG",
    "LOGGED_KEYS",
    "OPTIMIZERS",
    "RunConfigError",
    "logs_metric",
    "main",
    "sweep_train",
    "unread_keys",
]

logger = logging.getLogger("kerasweep.train")

#: The tutorial's defaults, plus the knobs a sweep will want to vary.
DEFAULT_CONFIG: dict[str, Any] = {
    # the tutorial's own
    "batch_size": 64,
    "learning_rate": 0.01,
    "epochs": 2,
    "log_step": 20,
    "val_log_step": 50,
    "architecture_name": "MLP",
    "dataset_name": "MNIST",
    # model and optimiser
    "hidden_units": 64,
    "hidden_layers": 2,
    "activation": "relu",
    "dropout": 0.0,
    "optimizer": "sgd",
    "momentum": 0.0,
    # data: "mnist", "digits" or a .npz path; None means "use dataset_name"
    "dataset": None,
    "seed": None,
    # speed: optimizer steps per compiled call (batches stacked in one loop when > 1) and
    # XLA ("auto": the stacked loop on GPUs and in CPU runs of 500+ steps; else Keras')
    "steps_per_execution": 128,
    "jit_compile": "auto",
    # runs of one process with the same model, optimizer and shapes share compiled
    # functions (reset per run)
    "reuse_compiled": True,
    "verbose": "auto",
    # a key sweep_train does not read is an error (RunConfigError), not a warning
    "strict_config": False,
    # under a local agent: save a checkpoint every this many epochs (0: never), so that
    # an interrupted run resumes exactly; None takes the agent's setting
    "checkpoint_every": None,
}

#: The keys of the row ``sweep_train`` logs once per epoch (``SweepMetricsLogger``), which a
#: sweep's metric names; ``WandbMetricsLogger`` adds ``epoch/*`` and ``batch/*`` rows.
LOGGED_KEYS = ("epochs", "loss", "acc", "val_loss", "val_acc")

#: Optimizer names a config may use, mapped to Keras classes by name.
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam")


class RunConfigError(KerasweepError, ValueError):
    """A run's parameters cannot train a model; the message names the key and value."""


def _positive_int(config: Mapping[str, Any], key: str) -> int:
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise RunConfigError(f"config key {key!r}: {value!r} is not an integer")
    if value < 1:
        raise RunConfigError(f"config key {key!r}: {value!r} must be at least 1")
    return int(value)


def _non_negative_float(config: Mapping[str, Any], key: str, *, positive: bool = False) -> float:
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RunConfigError(f"config key {key!r}: {value!r} is not a finite number")
    if value < 0 or (positive and value == 0):
        need = "greater than 0" if positive else "at least 0"
        raise RunConfigError(f"config key {key!r}: {value!r} must be {need}")
    return float(value)


def _hidden_units(config: Mapping[str, Any]) -> tuple[int, ...]:
    units = config["hidden_units"]
    layers = _positive_int(config, "hidden_layers")
    if isinstance(units, Sequence) and not isinstance(units, str):
        sizes = list(units)
    else:
        sizes = [units] * layers
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int | float) or size < 1:
            raise RunConfigError(f"config key 'hidden_units': {units!r} is not a positive size")
    return tuple(int(s) for s in sizes)


def logs_metric(name: str) -> bool:
    """Whether ``sweep_train`` logs a metric of this name.

    >>> logs_metric("val_loss"), logs_metric("epoch/val_loss"), logs_metric("valloss")
    (True, True, False)
    """
    return name in LOGGED_KEYS or name.startswith(("epoch/", "batch/"))


def unread_keys(config: Mapping[str, Any]) -> list[str]:
    """The keys of ``config`` that ``sweep_train`` does not read, each with a did-you-mean.

    >>> unread_keys({"learning_rat": 0.1, "epochs": 2})
    ["learning_rat (did you mean 'learning_rate'?)"]
    """
    return [
        f"{key}{did_you_mean(key, DEFAULT_CONFIG)}"
        for key in config
        if key not in DEFAULT_CONFIG and not str(key).startswith("_")
    ]


def _check_keys(config: Mapping[str, Any], *, warn: bool) -> None:
    """Keys sweep_train does not read: a warning (one line), or an error when strict."""
    unread = unread_keys(config)
    if not unread:
        return
    said = f"config key{'s' if len(unread) > 1 else ''} {', '.join(unread)}"
    if config.get("strict_config") is True:
        raise RunConfigError(f"{said}: not read by sweep_train (strict_config is on)")
    if warn:
        logger.warning(f"{said}: not read by sweep_train, ignored")


def resolve_config(config: Mapping[str, Any], *, warn: bool = True) -> dict[str, Any]:
    """Check a run's parameters and return them with types fixed.

    A key ``sweep_train`` does not read (``learning_rat``) is logged as a warning naming
    the likely key (with ``warn``); with ``strict_config: true`` it is an error.

    Raises:
        RunConfigError: naming the first key whose value cannot train a model, or, with
            ``strict_config``, the keys that are not read.

    Example:
        >>> resolve_config({**DEFAULT_CONFIG, "batch_size": 32.0})["batch_size"]
        32
        >>> resolve_config({**DEFAULT_CONFIG, "batch_size": 0})
        Traceback (most recent call last):
        ...
        kerasweep.train.RunConfigError: config key 'batch_size': 0 must be at least 1
    """
    resolved = {**DEFAULT_CONFIG, **dict(config)}
    if not isinstance(resolved["strict_config"], bool):
        raise RunConfigError(
            f"config key 'strict_config': {resolved['strict_config']!r} is not true or false"
        )
    _check_keys(resolved, warn=warn)
    for key in ("batch_size", "epochs", "log_step", "val_log_step", "steps_per_execution"):
        resolved[key] = _positive_int(resolved, key)
    resolved["learning_rate"] = _non_negative_float(resolved, "learning_rate", positive=True)
    resolved["momentum"] = _non_negative_float(resolved, "momentum")
    dropout = _non_negative_float(resolved, "dropout")
    if dropout >= 1:
        raise RunConfigError(f"config key 'dropout': {dropout!r} must be below 1")
    resolved["hidden_units"] = _hidden_units(resolved)
    optimizer = str(resolved["optimizer"]).lower()
    if optimizer not in OPTIMIZERS:
        raise RunConfigError(
            f"config key 'optimizer': {resolved['optimizer']!r} is not one of "
            f"{', '.join(OPTIMIZERS)}"
        )
    resolved["optimizer"] = optimizer
    if resolved["seed"] is not None:
        resolved["seed"] = int(resolved["seed"])
    jit_compile = resolved["jit_compile"]
    if not (isinstance(jit_compile, bool) or jit_compile == "auto"):
        raise RunConfigError(
            f"config key 'jit_compile': {jit_compile!r} is not true, false or 'auto'"
        )
    every = resolved["checkpoint_every"]
    if every is not None:
        if isinstance(every, bool) or not isinstance(every, int | float) or every != int(every):
            raise RunConfigError(f"config key 'checkpoint_every': {every!r} is not an integer")
        if every < 0:
            raise RunConfigError(f"config key 'checkpoint_every': {every!r} must be at least 0")
        resolved["checkpoint_every"] = int(every)
    if not isinstance(resolved["reuse_compiled"], bool):
        raise RunConfigError(
            f"config key 'reuse_compiled': {resolved['reuse_compiled']!r} is not true or false"
        )
    return resolved


def make_optimizer(config: Mapping[str, Any]):
    """The Keras optimizer a resolved config names, at its learning rate."""
    import keras

    name = config["optimizer"]
    lr = config["learning_rate"]
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=config["momentum"])
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr, momentum=config["momentum"])
    classes = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "adagrad": keras.optimizers.Adagrad,
        "nadam": keras.optimizers.Nadam,
    }
    return classes[name](learning_rate=lr)


def _verbose(setting: Any) -> Any:
    if setting == "auto":
        return "auto" if sys.stdout.isatty() else 2
    return setting


def sweep_train(config: Mapping[str, Any] | None = None):
    """Train one run of a sweep: ``wandb.init``, the data sets, the MLP, ``fit``.

    Works unchanged under ``wandb.agent(sweep_id, function=sweep_train)`` and under
    :func:`kerasweep.local_agent`: the sweep's parameters override ``DEFAULT_CONFIG`` and
    ``config``. Each epoch logs one row with ``epochs, loss, acc, val_loss, val_acc`` (what
    hyperband watches) beside ``WandbMetricsLogger``'s ``epoch/*`` and ``batch/*`` rows.

    Args:
        config: Overrides of :data:`DEFAULT_CONFIG` (a sweep's values still win).

    Returns:
        The ``keras.callbacks.History`` of ``fit``.

    Raises:
        RunConfigError: a parameter cannot train a model (e.g. ``batch_size: 0``).
        kerasweep.DatasetError: the data set cannot be loaded.
        kerasweep.TrainingDiverged: the loss became NaN or infinite.

    Example:
        >>> import os; os.environ["WANDB_MODE"] = "disabled"
        >>> history = sweep_train({"dataset": "digits", "epochs": 1, "verbose": 0})
        >>> sorted(history.history)
        ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    """
    import wandb

    from kerasweep._speedups.run import RunSpeedups

    run = wandb.init(config={**DEFAULT_CONFIG, **dict(config or {})})
    # Not ``with wandb.init(...)``: its exit prints the traceback of any error to stderr,
    # while the agent that called this function reports the error in one line already.
    try:
        # the speed-ups' seam: set up before the run, finished after it
        with _preempting_on_sigterm(run), RunSpeedups() as speedups:
            history = _fit(run, speedups)
    except BaseException:
        run.finish(exit_code=1)
        raise
    run.finish()
    return history


@contextlib.contextmanager
def _preempting_on_sigterm(run):
    """Under ``wandb.agent`` (a W&B sweep's run, no local agent): SIGTERM marks the run
    preempting (``run.mark_preempting()``), then ends it with exit status 143, so that W&B
    marks it preempted and requeues it. Elsewhere, and off the main thread, nothing.
    """
    import signal
    import threading

    from kerasweep import _current_run

    if (
        not getattr(run, "sweep_id", None)
        or _current_run.current() is not None
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)
    ):
        yield
        return

    def preempting(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with contextlib.suppress(Exception):
            run.mark_preempting()
        raise SystemExit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, preempting)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _fit(run, speedups):
    """The tutorial's steps inside the wandb run: config, data, model, ``compile``, ``fit``.

    Under a local agent, a :class:`~kerasweep.RunCheckpoint` saves the run every
    ``checkpoint_every`` epochs and a preempted run resumes from it.
    """
    import keras

    from kerasweep._callbacks import (
        DivergenceGuard,
        ExecutionAwareMetricsLogger,
        SweepMetricsLogger,
    )
    from kerasweep._checkpoints import run_checkpoint
    from kerasweep._data import load_dataset
    from kerasweep._model import build_mlp

    cfg = resolve_config(dict(run.config))
    if cfg["seed"] is not None:
        keras.utils.set_random_seed(cfg["seed"])
    data = load_dataset(cfg["dataset"] or cfg["dataset_name"])
    train_ds, val_ds = speedups.datasets(cfg, data)
    model = build_mlp(
        data.input_dim,
        cfg["hidden_units"],
        data.num_classes,
        activation=cfg["activation"],
        dropout=cfg["dropout"],
    )
    model = speedups.compile(
        model,
        make_optimizer(cfg),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=cfg["jit_compile"],
    )
    guard = DivergenceGuard()
    batch_log = ExecutionAwareMetricsLogger(log_freq=cfg["log_step"])
    callbacks = [batch_log, SweepMetricsLogger(), guard]
    checkpoint = run_checkpoint(cfg["checkpoint_every"], carry={"batch_log": batch_log})
    if checkpoint is not None and checkpoint.enabled:
        train_ds = checkpoint.resume_data(train_ds)
        callbacks.append(checkpoint)  # last: it saves what the others did in the epoch
    try:
        history = model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=cfg["epochs"],
            callbacks=callbacks,
            verbose=_verbose(cfg["verbose"]),
            shuffle=False,  # the dataset reshuffles itself every epoch
        )
    except BaseException:
        if checkpoint is not None:  # interrupted: the checkpoint being written lands whole
            with contextlib.suppress(Exception):
                checkpoint.wait()
        raise
    if guard.diverged is not None:
        raise guard.diverged
    return history


def parse_args(argv: Sequence[str]) -> dict[str, Any]:
    """``--key=value`` arguments (as ``wandb agent`` passes them) to a config dict.

    Values are read as YAML scalars, so numbers, booleans and lists keep their types.

    Example:
        >>> parse_args(["--batch_size=32", "--learning_rate=1e-3", "--dataset=digits"])
        {'batch_size': 32, 'learning_rate': 0.001, 'dataset': 'digits'}
    """
    import yaml

    config: dict[str, Any] = {}
    for arg in argv:
        if not arg.startswith("--") or "=" not in arg:
            raise RunConfigError(f"argument {arg!r}: expected --key=value")
        key, _, text = arg[2:].partition("=")
        if not key:
            raise RunConfigError(f"argument {arg!r}: empty key")
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            value = text
        # YAML 1.1 reads "1e-3" as a string; numbers in exponent form are still numbers.
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value) if value.strip() else value
        config[key] = value
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """Program mode: ``python -m kerasweep.train --key=value ...``; returns the exit code."""
    from kerasweep._data import DatasetError

    try:
        config = parse_args(sys.argv[1:] if argv is None else argv)
        # bad arguments: one line, before wandb or TF start (sweep_train warns of the rest)
        resolve_config(config, warn=False)
        sweep_train(config)
    except (RunConfigError, DatasetError) as exc:
        print(f"kerasweep.train: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    from kerasweep._speedups.program_mode import program_process

    # each program run is a process of its own: cheaper to start and to end
    with program_process():
        code = main()
    raise SystemExit(code)
