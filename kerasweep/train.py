"""``sweep_train``: the function a sweep agent calls once per run, and its program mode.

``sweep_train`` does what the tutorial's function of the same name does, with ``fit`` doing
the looping: ``wandb.init`` with the defaults (a sweep's parameters override them), the
datasets, the MLP, ``compile`` and ``fit`` with ``WandbMetricsLogger`` and
:class:`~kerasweep.callbacks.SweepMetricsLogger`. Every key of :data:`DEFAULT_CONFIG` can
be set by a sweep: nothing is assigned to ``wandb.config`` after ``init``.

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
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from kerasweep._errors import KerasweepError
from kerasweep.adapters.xla_cache import enable_xla_cache
from kerasweep.compiled_models import CompiledModels
from kerasweep.long_lived_objects import imports_uncollected

__all__ = ["DEFAULT_CONFIG", "OPTIMIZERS", "RunConfigError", "main", "sweep_train"]

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
    # runs of one process with the same shapes share compiled functions (reset per run)
    "reuse_compiled": True,
    "verbose": "auto",
}

#: The compiled models ``sweep_train`` reuses across the runs of this process.
COMPILED_MODELS = CompiledModels(capacity=4)

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


def resolve_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Check a run's parameters and return them with types fixed.

    Raises:
        RunConfigError: naming the first key whose value cannot train a model.

    Example:
        >>> resolve_config({**DEFAULT_CONFIG, "batch_size": 32.0})["batch_size"]
        32
        >>> resolve_config({**DEFAULT_CONFIG, "batch_size": 0})
        Traceback (most recent call last):
        ...
        kerasweep.train.RunConfigError: config key 'batch_size': 0 must be at least 1
    """
    resolved = {**DEFAULT_CONFIG, **dict(config)}
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
        kerasweep.data.DatasetError: the data set cannot be loaded.
        kerasweep.callbacks.TrainingDiverged: the loss became NaN or infinite.

    Example:
        >>> import os; os.environ["WANDB_MODE"] = "disabled"
        >>> history = sweep_train({"dataset": "digits", "epochs": 1, "verbose": 0})
        >>> sorted(history.history)
        ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    """
    import wandb

    from kerasweep.traced_gradients import RegisteredDuring

    defaults = {**DEFAULT_CONFIG, **dict(config or {})}
    run = wandb.init(config=defaults)
    # Not ``with wandb.init(...)``: its exit prints the traceback of any error to stderr,
    # while the agent that called this function reports the error in one line already.
    registered = RegisteredDuring()
    try:
        history = _fit(run)
    except BaseException:
        run.finish(exit_code=1)
        raise
    finally:
        registered.drop()  # else the run's traced graphs outlive its model
    run.finish()
    return history


def _fit(run):
    """``sweep_train``'s work inside its wandb run."""
    # before the process's first XLA compile: TensorFlow reads its flags then
    xla_cache = enable_xla_cache()
    try:
        return _fit_model(run)
    finally:
        if xla_cache is not None:
            xla_cache.publish()  # what this run compiled, for the next process


def _fit_model(run):
    """Load the data, build and compile the model, and ``fit`` it."""
    # the first run imports TensorFlow: about 1 s of garbage collection less
    with imports_uncollected(freeze_new="tensorflow"):
        import keras

        from kerasweep.callbacks import (
            DivergenceGuard,
            ExecutionAwareMetricsLogger,
            SweepMetricsLogger,
        )
        from kerasweep.data import load_dataset
        from kerasweep.model import build_mlp
        from kerasweep.pipelines import make_datasets, stack_batches, validation_batches

    cfg = resolve_config(dict(run.config))
    if cfg["seed"] is not None:
        keras.utils.set_random_seed(cfg["seed"])
    data = load_dataset(cfg["dataset"] or cfg["dataset_name"])
    steps_per_execution = _steps_per_call(cfg, data)
    if steps_per_execution > 1:
        # the steps of one compiled call run in one loop over batches gathered together
        train_ds = stack_batches(data, cfg["batch_size"], steps_per_execution, seed=cfg["seed"])
        val_ds = validation_batches(data, _validation_batch_size(data, cfg["batch_size"]))
    else:
        train_ds, val_ds = make_datasets(data, cfg["batch_size"], seed=cfg["seed"])
    model = build_mlp(
        data.input_dim,
        cfg["hidden_units"],
        data.num_classes,
        activation=cfg["activation"],
        dropout=cfg["dropout"],
    )
    optimizer = make_optimizer(cfg)
    compile_kwargs = {
        "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        "metrics": ["accuracy"],
        "steps_per_execution": steps_per_execution,
        "jit_compile": cfg["jit_compile"],
    }
    stacked_jit = _stacked_jit(cfg, data)
    if cfg["reuse_compiled"]:
        key = _compiled_key(cfg, data, compile_kwargs, stacked_jit)
        model = COMPILED_MODELS.take(key, model, optimizer, **compile_kwargs)
    else:
        model.compile(optimizer=optimizer, **compile_kwargs)
    model.stacked_jit_compile = stacked_jit
    guard = DivergenceGuard()
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=cfg["epochs"],
        callbacks=[
            ExecutionAwareMetricsLogger(log_freq=cfg["log_step"]),
            SweepMetricsLogger(),
            guard,
        ],
        verbose=_verbose(cfg["verbose"]),
        shuffle=False,  # the dataset reshuffles itself every epoch
    )
    if guard.diverged is not None:
        raise guard.diverged
    return history


def _steps_per_call(cfg: Mapping[str, Any], data: Any) -> int:
    """``steps_per_execution`` for the run: the config's, at most an epoch.

    Each compiled call costs about a millisecond on a CPU besides its steps, so more steps
    per call are faster; past an epoch they only add padding. A stacked element holds only
    row indices (the compiled loop gathers the rows), so its size sets no limit.
    """
    return max(1, min(cfg["steps_per_execution"], _steps_per_epoch(cfg, data)))


def _steps_per_epoch(cfg: Mapping[str, Any], data: Any) -> int:
    """Training batches per epoch, the last one smaller."""
    return -(-data.n_train // cfg["batch_size"])


#: On a CPU, "auto" compiles the stacked loop with XLA for runs of at least this many steps.
XLA_MIN_STEPS = 500


def _stacked_jit(cfg: Mapping[str, Any], data: Any) -> bool:
    """Whether XLA compiles the stacked loop.

    ``jit_compile: "auto"``: always on a GPU; on a CPU when the run trains at least
    ``XLA_MIN_STEPS`` steps. Compiling costs about half a second on a CPU and XLA saves a
    fraction of a millisecond per step (0.1 ms for digits' MLP, 0.5 ms for MNIST's), so
    shorter runs finish sooner without it. Keras' own ``"auto"`` (XLA on GPUs only) still
    decides for the per-step functions.
    """
    import tensorflow as tf

    if cfg["jit_compile"] != "auto":
        return bool(cfg["jit_compile"])
    if tf.config.list_logical_devices("GPU"):
        return True
    return cfg["epochs"] * _steps_per_epoch(cfg, data) >= XLA_MIN_STEPS


#: Test sets up to this size are evaluated in one batch.
WHOLE_VALIDATION_BYTES = 64 * 2**20


def _validation_batch_size(data: Any, batch_size: int) -> int:
    """The whole test set when it is small, else ``batch_size``.

    ``val_loss`` and ``val_acc`` are means over every test example whatever the batching;
    one batch traces (and compiles) the test step once and runs it in one call.
    """
    if data.x_test.nbytes + data.y_test.nbytes <= WHOLE_VALIDATION_BYTES:
        return max(len(data.x_test), 1)
    return batch_size


def _compiled_key(
    cfg: Mapping[str, Any], data: Any, compile_kwargs: Mapping[str, Any], stacked_jit: bool
) -> tuple:
    """What ``sweep_train``'s compiled functions depend on, besides variable values.

    Stacked runs whose test set is evaluated in one batch depend on neither the batch size
    nor the steps per call: the stacked loop is traced for any of them, and the test
    function sees the same one batch. Runs of the tutorial's four batch sizes then share
    one compiled model.
    """
    import keras

    momentum = cfg["momentum"] if cfg["optimizer"] in ("sgd", "rmsprop") else None
    steps_per_execution = compile_kwargs["steps_per_execution"]
    any_batch_size = steps_per_execution > 1 and _validation_batch_size(
        data, cfg["batch_size"]
    ) == len(data.x_test)
    return (
        data.input_dim,
        data.num_classes,
        cfg["hidden_units"],
        cfg["activation"],
        cfg["dropout"],
        cfg["optimizer"],
        momentum,  # a constant in the traced update (the learning rate is a variable)
        "any" if any_batch_size else cfg["batch_size"],
        "stacked" if any_batch_size else steps_per_execution,
        compile_kwargs["jit_compile"],
        stacked_jit,
        keras.config.dtype_policy().name,
    )


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
    from kerasweep.data import DatasetError

    try:
        config = parse_args(sys.argv[1:] if argv is None else argv)
        resolve_config(config)  # bad arguments: one line, before wandb or TF start
        sweep_train(config)
    except (RunConfigError, DatasetError) as exc:
        print(f"kerasweep.train: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    from kerasweep._quiet import import_tensorflow_quietly
    from kerasweep.adapters.wandb_internals import launch_inputs_only_when_staged
    from kerasweep.long_lived_objects import freeze_survivors_at_exit

    freeze_survivors_at_exit()  # each run is a process of its own: 1.3 s less at its exit
    import_tensorflow_quietly()
    # each program run is a new process: its wandb.init need not import wandb.sdk.launch
    with launch_inputs_only_when_staged():
        code = main()
    raise SystemExit(code)
