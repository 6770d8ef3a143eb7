"""The one seam between ``sweep_train`` and the speed-ups: :class:`RunSpeedups`.

``sweep_train`` reads as the tutorial (``wandb.init``, data, model, ``compile``, ``fit``) and
hands each step that has a faster form to one object::

    with RunSpeedups() as speedups:              # before the run
        train_ds, val_ds = speedups.datasets(cfg, data)
        model = speedups.compile(build_mlp(...), make_optimizer(cfg), loss=..., metrics=...)
        model.fit(train_ds, validation_data=val_ds, ...)
                                                 # after the run

- entering: what the run traces is noted for dropping (:mod:`.traced_gradients`), the XLA
  cache is turned on before the process's first XLA compile (:mod:`.xla_cache`), and
  TensorFlow and Keras are imported with the collector paused, the first run freezing what
  the import made (:mod:`.long_lived_objects`);
- :meth:`RunSpeedups.datasets`: the training batches stacked for one compiled loop when the
  config's ``steps_per_execution`` is above 1 (:mod:`.stacked_batches`), else the tutorial's
  pipelines (:func:`kerasweep._pipelines.make_datasets`);
- :meth:`RunSpeedups.compile`: ``model.compile`` with those steps per call, or, with the
  config's ``reuse_compiled``, a compiled model kept from an earlier run of the process and
  reset to the new model's state, found by a key derived from what is compiled
  (:mod:`.compiled_models`); the stacked loop's XLA choice is set on the model
  (:mod:`.stacked_fit`);
- leaving: what the run compiled is published to the XLA cache, and the gradient functions
  its tracing registered are dropped.

A model kept for reuse that is let go tells the collector's owner
(:func:`.long_lived_objects.let_go`), which the local agent's clean-up between runs asks:
the agent needs nothing else of this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kerasweep._speedups.compiled_models import CompiledModels, reuse_key
from kerasweep._speedups.long_lived_objects import imports_uncollected
from kerasweep._speedups.traced_gradients import RegisteredDuring
from kerasweep._speedups.xla_cache import enable_xla_cache

__all__ = ["COMPILED_MODELS", "WHOLE_VALIDATION_BYTES", "XLA_MIN_STEPS", "RunSpeedups"]

#: The compiled models ``sweep_train`` reuses across the runs of this process.
COMPILED_MODELS = CompiledModels(capacity=4)

#: On a CPU, ``jit_compile: "auto"`` compiles the stacked loop with XLA for runs of at least
#: this many steps.
XLA_MIN_STEPS = 500

#: Test sets up to this size are evaluated in one batch.
WHOLE_VALIDATION_BYTES = 64 * 2**20


class RunSpeedups:
    """The speed-ups of one ``sweep_train`` run (see the module's docstring).

    Use it as a context manager around the run; call :meth:`datasets` before
    :meth:`compile`.

    Example:
        >>> import keras
        >>> from kerasweep import build_mlp, load_dataset
        >>> from kerasweep.train import make_optimizer, resolve_config
        >>> cfg = resolve_config({"dataset": "digits", "hidden_units": 8, "epochs": 1})
        >>> with RunSpeedups() as speedups:
        ...     data = load_dataset(cfg["dataset"])
        ...     train_ds, val_ds = speedups.datasets(cfg, data)
        ...     model = speedups.compile(
        ...         build_mlp(data.input_dim, cfg["hidden_units"], data.num_classes),
        ...         make_optimizer(cfg),
        ...         loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ...     )
        ...     history = model.fit(train_ds, validation_data=val_ds, verbose=0, shuffle=False)
        >>> model.steps_per_execution
        23
    """

    def __init__(self) -> None:
        self._registered: RegisteredDuring | None = None
        self._xla_cache: Any = None
        self._cfg: Mapping[str, Any] | None = None
        self._data: Any = None
        self._train: Any = None
        self._validation: Any = None

    def __enter__(self) -> RunSpeedups:
        self._registered = RegisteredDuring()
        # before the process's first XLA compile: TensorFlow reads its flags then
        self._xla_cache = enable_xla_cache()
        with imports_uncollected(freeze_new="tensorflow"):
            import keras  # noqa: F401
            import tensorflow  # noqa: F401

            import kerasweep._speedups.stacked_fit  # noqa: F401
        return self

    def __exit__(self, *exc_info: Any) -> None:
        try:
            if self._xla_cache is not None:
                self._xla_cache.publish()  # what this run compiled, for the next process
        finally:
            if self._registered is not None:
                self._registered.drop()  # else the run's traced graphs outlive its model

    def datasets(self, cfg: Mapping[str, Any], data: Any) -> tuple[Any, Any]:
        """The run's training and validation data for ``fit``.

        Args:
            cfg: The run's resolved config (``kerasweep.train.resolve_config``).
            data: Its :class:`~kerasweep._data.Dataset`.

        Returns:
            ``(train, validation)``: with more than one step per call (the config's
            ``steps_per_execution``, at most an epoch), :class:`StackedBatches
            <kerasweep._speedups.stacked_batches.StackedBatches>` and the test set in one
            batch where it is small; else the tutorial's ``tf.data`` pipelines.
        """
        from kerasweep._pipelines import make_datasets
        from kerasweep._speedups import stacked_batches

        self._cfg, self._data = cfg, data
        steps_per_execution = steps_per_call(cfg, data)
        if steps_per_execution > 1:
            # the steps of one compiled call run in one loop over batches gathered together
            self._train = stacked_batches.stack_batches(
                data, cfg["batch_size"], steps_per_execution, seed=cfg["seed"]
            )
            self._validation = stacked_batches.validation_batches(
                data, validation_batch_size(data, cfg["batch_size"])
            )
        else:
            self._train, self._validation = make_datasets(
                data, cfg["batch_size"], seed=cfg["seed"]
            )
        return self._train, self._validation

    def compile(self, model: Any, optimizer: Any, **compile_kwargs: Any) -> Any:
        """``model`` compiled for the data of :meth:`datasets`, or a kept model reset to it.

        Args:
            model: The run's newly built model.
            optimizer: The run's new optimizer.
            **compile_kwargs: The rest of ``compile``'s arguments but ``steps_per_execution``,
                which the data sets.

        Returns:
            The model to ``fit``: ``model`` itself, or with the config's ``reuse_compiled`` a
            compiled model of an earlier run of the process with ``model``'s initial state.
        """
        if self._cfg is None:
            raise RuntimeError("RunSpeedups.compile: call datasets(cfg, data) first")
        cfg, data = self._cfg, self._data
        steps_per_execution = steps_per_call(cfg, data)
        compile_kwargs = {**compile_kwargs, "steps_per_execution": steps_per_execution}
        xla_loop = stacked_jit(cfg, data)
        if cfg["reuse_compiled"]:
            key = reuse_key(
                model,
                optimizer,
                self._data_shapes(),
                **self._compiled_for(compile_kwargs),
                stacked_jit_compile=xla_loop,
            )
            model = COMPILED_MODELS.take(key, model, optimizer, **compile_kwargs)
        else:
            model.compile(optimizer=optimizer, **compile_kwargs)
        model.stacked_jit_compile = xla_loop
        return model

    def _any_batch_size(self) -> bool:
        """Whether the compiled functions depend on neither the batch size nor the steps
        per call: stacked runs whose test set is evaluated in one batch.

        The stacked loop is traced for any batch size and number of steps, and the test
        function sees the same one batch, so runs of the tutorial's four batch sizes share
        one compiled model.
        """
        from kerasweep._speedups.stacked_batches import StackedBatches

        return isinstance(self._train, StackedBatches) and validation_batch_size(
            self._data, self._cfg["batch_size"]
        ) == len(self._data.x_test)

    def _compiled_for(self, compile_kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """``compile_kwargs`` as the compiled functions see them."""
        if self._any_batch_size():
            return {**compile_kwargs, "steps_per_execution": "stacked"}
        return dict(compile_kwargs)

    def _data_shapes(self) -> dict[str, Any]:
        """The shapes and dtypes of the batches the compiled functions see."""
        from kerasweep._speedups.stacked_batches import StackedBatches

        train = self._train
        if isinstance(train, StackedBatches):
            shapes: dict[str, Any] = {
                "features": _rows_spec(train.features),
                "labels": _rows_spec(train.labels),
                "scaled_input": train.x_scale is not None,
                "batch_size": train.batch_size,
            }
        else:
            shapes = {"batches": repr(train.element_spec), "batch_size": self._cfg["batch_size"]}
        if self._any_batch_size():
            shapes["batch_size"] = "any"
        shapes["validation"] = repr(self._validation.element_spec)
        shapes["validation_batch_size"] = validation_batch_size(
            self._data, self._cfg["batch_size"]
        )
        return shapes


def _rows_spec(tensor: Any) -> str:
    """A tensor's dtype and shape, any number of rows."""
    return f"{tensor.dtype.name}{[None, *tensor.shape[1:]]}"


def steps_per_call(cfg: Mapping[str, Any], data: Any) -> int:
    """``steps_per_execution`` for the run: the config's, at most an epoch.

    Each compiled call costs a fixed time on a CPU besides its steps, so more steps per call
    are faster; past an epoch they only add padding. A stacked element holds only row
    indices (the compiled loop gathers the rows), so its size sets no limit.
    """
    return max(1, min(cfg["steps_per_execution"], steps_per_epoch(cfg, data)))


def steps_per_epoch(cfg: Mapping[str, Any], data: Any) -> int:
    """Training batches per epoch, the last one smaller."""
    return -(-data.n_train // cfg["batch_size"])


def stacked_jit(cfg: Mapping[str, Any], data: Any) -> bool:
    """Whether XLA compiles the stacked loop.

    ``jit_compile: "auto"``: always on a GPU; on a CPU when the run trains at least
    :data:`XLA_MIN_STEPS` steps. Compiling costs a fixed time on a CPU and XLA saves a
    little on every step, so shorter runs finish sooner without it. Keras' own
    ``"auto"`` (XLA on GPUs only) still decides for the per-step functions.
    """
    import tensorflow as tf

    if cfg["jit_compile"] != "auto":
        return bool(cfg["jit_compile"])
    if tf.config.list_logical_devices("GPU"):
        return True
    return cfg["epochs"] * steps_per_epoch(cfg, data) >= XLA_MIN_STEPS


def validation_batch_size(data: Any, batch_size: int) -> int:
    """The whole test set when it is small, else ``batch_size``.

    ``val_loss`` and ``val_acc`` are means over every test example whatever the batching;
    one batch traces (and compiles) the test step once and runs it in one call.
    """
    if data.x_test.nbytes + data.y_test.nbytes <= WHOLE_VALIDATION_BYTES:
        return max(len(data.x_test), 1)
    return batch_size
