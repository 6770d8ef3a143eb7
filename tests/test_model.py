"""GradientTapeModel must train exactly as Keras' built-in step does."""

from __future__ import annotations

import copy
import itertools
import pickle
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks.tutorial import tutorial_test_step, tutorial_train_step
from kerasweep import GradientTapeModel, build_mlp
from kerasweep._adapters.keras_internals import Functional
from tests.conftest import fresh_python

N, D, C = 96, 6, 3
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, D)).astype("float32")
Y = RNG.integers(0, C, size=N).astype("int32")
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _graph(regularised: bool = False, add_loss: bool = False, two_outputs: bool = False):
    inputs = keras.Input(shape=(D,), name="x")
    reg = keras.regularizers.L2(0.05) if regularised else None
    h = keras.layers.Dense(8, activation="relu", kernel_regularizer=reg, name="hidden")(inputs)
    if add_loss:
        h = keras.layers.ActivityRegularization(l1=0.01, name="act_reg")(h)
    if two_outputs:
        return inputs, {
            "a": keras.layers.Dense(C, name="a")(h),
            "b": keras.layers.Dense(1, name="b")(h),
        }
    return inputs, keras.layers.Dense(C, name="logits")(h)


def _pair(**graph_kwargs):
    """A plain keras.Model and a GradientTapeModel with identical initial weights."""
    reference = keras.Model(*_graph(**graph_kwargs))
    ours = GradientTapeModel(*_graph(**graph_kwargs))
    ours.set_weights(reference.get_weights())
    return reference, ours


def _train_both(reference, ours, compile_kwargs=None, fit_kwargs=None):
    histories = []
    for model in (reference, ours):
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.1),
            **(compile_kwargs or {"loss": LOSS, "metrics": ["accuracy"]}),
        )
        fit = {"x": X, "y": Y, "batch_size": 16, "epochs": 2, "shuffle": False, "verbose": 0}
        fit.update(fit_kwargs or {})
        histories.append(model.fit(**fit).history)
    return histories


def _assert_same_training(reference, ours, histories, atol=1e-5):
    ref_hist, our_hist = histories
    assert sorted(ref_hist) == sorted(our_hist)
    for key in ref_hist:
        np.testing.assert_allclose(our_hist[key], ref_hist[key], rtol=1e-5, atol=atol, err_msg=key)
    for a, b in zip(reference.get_weights(), ours.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=atol)
    # and training really moved the weights
    initial = keras.Model(*_graph()).get_weights()
    assert not np.allclose(ours.get_weights()[0], initial[0])


@pytest.mark.slow
def test_plain_fit_matches_builtin():
    reference, ours = _pair()
    _assert_same_training(reference, ours, _train_both(reference, ours))


@pytest.mark.slow
def test_evaluate_matches_builtin():
    reference, ours = _pair()
    _train_both(reference, ours)
    ref = reference.evaluate(X, Y, batch_size=16, verbose=0, return_dict=True)
    got = ours.evaluate(X, Y, batch_size=16, verbose=0, return_dict=True)
    assert got == pytest.approx(ref, rel=1e-6)


@pytest.mark.slow
def test_sample_weight_matches_builtin():
    reference, ours = _pair()
    weights = RNG.uniform(0.1, 2.0, size=N).astype("float32")
    hist = _train_both(reference, ours, fit_kwargs={"sample_weight": weights})
    _assert_same_training(reference, ours, hist)


@pytest.mark.slow
def test_class_weight_matches_builtin():
    reference, ours = _pair()
    hist = _train_both(reference, ours, fit_kwargs={"class_weight": {0: 1.0, 1: 3.0, 2: 0.5}})
    _assert_same_training(reference, ours, hist)


@pytest.mark.slow
def test_regularisation_and_add_loss_are_trained_and_reported():
    reference, ours = _pair(regularised=True, add_loss=True)
    hist = _train_both(reference, ours)
    _assert_same_training(reference, ours, hist)
    # the regularisers really contribute: the reported loss exceeds the data loss
    data_loss = float(LOSS(Y, ours(X)))
    assert hist[1]["loss"][-1] > data_loss


@pytest.mark.slow
def test_two_output_model_matches_builtin():
    reference, ours = _pair(two_outputs=True)
    targets = {"a": Y, "b": RNG.normal(size=(N, 1)).astype("float32")}
    compile_kwargs = {
        "loss": {"a": LOSS, "b": "mse"},
        "loss_weights": {"a": 1.0, "b": 0.5},
        "metrics": {"a": ["accuracy"], "b": ["mae"]},
    }
    hist = _train_both(reference, ours, compile_kwargs, fit_kwargs={"y": targets})
    _assert_same_training(reference, ours, hist)
    assert any(key.startswith("a_") or key.startswith("b_") for key in hist[1])


@pytest.mark.parametrize(
    "compile_extra",
    [{"jit_compile": True}, {"steps_per_execution": 4}],
    ids=["jit_compile", "steps_per_execution"],
)
@pytest.mark.slow
def test_compiled_variants_match_builtin(compile_extra):
    reference, ours = _pair()
    compile_kwargs = {"loss": LOSS, "metrics": ["accuracy"], **compile_extra}
    hist = _train_both(reference, ours, compile_kwargs)
    _assert_same_training(reference, ours, hist, atol=1e-4)


@pytest.mark.slow
def test_mixed_float16_scales_the_loss_like_builtin():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        reference, ours = _pair()
        before = [w.copy() for w in ours.get_weights()]
        hist = _train_both(reference, ours, fit_kwargs={"epochs": 1})
        assert isinstance(ours.optimizer, keras.optimizers.LossScaleOptimizer)
        for a, b in zip(reference.get_weights(), ours.get_weights(), strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(hist[1]["loss"], hist[0]["loss"], rtol=1e-3)
        # Without scale_loss the optimizer would divide unscaled gradients by 2**15 and the
        # weights would barely move; they must move as much as the built-in step moves them.
        moved_ours = sum(
            np.abs(b - a).sum() for a, b in zip(before, ours.get_weights(), strict=True)
        )
        moved_ref = sum(
            np.abs(b - a).sum() for a, b in zip(before, reference.get_weights(), strict=True)
        )
        assert moved_ours == pytest.approx(moved_ref, rel=1e-2)
        assert moved_ours > 0.05
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.slow
def test_mirrored_strategy_matches_builtin(tmp_path):
    """Two logical CPU replicas: same reported loss and weights as keras.Model (subprocess,
    since logical devices must be configured before TensorFlow starts)."""
    script = textwrap.dedent(
        """
        import os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        from kerasweep import GradientTapeModel
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 5)).astype("float32"); y = rng.integers(0, 3, 64)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        results = []
        for cls in (keras.Model, GradientTapeModel):
            keras.utils.set_random_seed(1)
            with strategy.scope():
                inp = keras.Input((5,))
                model = cls(inp, keras.layers.Dense(3)(keras.layers.Dense(8)(inp)))
                model.compile(keras.optimizers.SGD(0.1),
                              keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            h = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
            results.append((h.history["loss"], model.get_weights()))
        (ref_loss, ref_w), (our_loss, our_w) = results
        np.testing.assert_allclose(our_loss, ref_loss, rtol=1e-5)
        for a, b in zip(ref_w, our_w):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
        print("OK", our_loss)
        """
    )
    path = tmp_path / "mirrored.py"
    path.write_text(script)
    proc = fresh_python(str(path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK" in proc.stdout


class TwoLayerNet(GradientTapeModel):
    def __init__(self, units: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.logits = keras.layers.Dense(C)

    def call(self, x):
        return self.logits(self.hidden(x))


@pytest.mark.slow
def test_both_construction_styles_in_one_process():
    functional = GradientTapeModel(*_graph())
    subclassed = TwoLayerNet()
    functional_again = build_mlp(D, (4,), C)
    for model in (functional, subclassed, functional_again, TwoLayerNet(units=4)):
        model.compile(keras.optimizers.SGD(0.1), LOSS, metrics=["accuracy"])
        hist = model.fit(X, Y, batch_size=32, epochs=1, verbose=0).history
        assert np.isfinite(hist["loss"][0])
        assert isinstance(model, GradientTapeModel)
    # building functionally did not rewrite the class hierarchy (keras-team/keras#17270)
    assert GradientTapeModel.__bases__ == (keras.Model,)
    assert not isinstance(subclassed, keras.src.models.functional.Functional)


@pytest.mark.slow
def test_subclassed_matches_builtin_subclass():
    class Reference(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(8, activation="relu")
            self.logits = keras.layers.Dense(C)

        def call(self, x):
            return self.logits(self.hidden(x))

    reference, ours = Reference(), TwoLayerNet()
    reference(X[:1])
    ours(X[:1])
    ours.set_weights(reference.get_weights())
    hist = _train_both(reference, ours)
    for key in hist[0]:
        np.testing.assert_allclose(hist[1][key], hist[0][key], rtol=1e-5)


@pytest.mark.slow
def test_save_and_load_roundtrip(tmp_path):
    model = build_mlp(D, (8, 8), C)
    model.compile(keras.optimizers.SGD(0.05), LOSS, metrics=["accuracy"])
    model.fit(X, Y, batch_size=32, epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects
    assert type(loaded) is type(model)
    assert isinstance(loaded, GradientTapeModel)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.get_compile_config() == model.get_compile_config()
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    # and it keeps training with our step
    loaded.fit(X, Y, batch_size=32, epochs=1, verbose=0)


# -- a drop-in for keras.Model: construction styles, type, pickle, files in a fresh process --


class GraphNet(GradientTapeModel):
    """The functional-subclass idiom: ``__init__`` builds a graph and hands it to Keras."""

    def __init__(self, units: int = 4, **kwargs):
        inputs = keras.Input((D,))
        outputs = keras.layers.Dense(C)(keras.layers.Dense(units, activation="relu")(inputs))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)


def _functional_gradient_tape_model():
    return GradientTapeModel(*_graph())


class WithParam(GradientTapeModel):
    """A subclass that takes Keras' arguments through, so either style builds it."""

    def __init__(self, *args, param: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.param = param


def _functional_subclass():
    return WithParam(*_graph(), param=2)


_CONSTRUCTIONS = {
    "functional": _functional_gradient_tape_model,
    "subclassed": TwoLayerNet,
    "functional subclass": _functional_subclass,
    "subclass-style WithParam": WithParam,
    "subclass idiom": GraphNet,
    "plain subclass-style GradientTapeModel": GradientTapeModel,
}


@pytest.mark.slow
def test_every_construction_style_works_in_any_order_and_leaves_the_classes_alone():
    # Each style right after each style (itself too), the classes checked after every
    # pair: a style that changed a class for the ones after it fails at that pair.
    classes = (GradientTapeModel, TwoLayerNet, WithParam, GraphNet)
    bases = {cls: cls.__bases__ for cls in classes}
    for pair in itertools.product(_CONSTRUCTIONS, repeat=2):
        for name in pair:
            model = _CONSTRUCTIONS[name]()
            assert isinstance(model, GradientTapeModel), (pair, name)
        assert {cls: cls.__bases__ for cls in classes} == bases, pair
    for name in ("functional", "subclassed", "functional subclass", "subclass idiom"):
        model = _CONSTRUCTIONS[name]()
        model.compile(keras.optimizers.SGD(0.1), LOSS)
        assert np.isfinite(model.fit(X, Y, batch_size=32, verbose=0).history["loss"][0]), name


def test_type_of_a_model_names_the_class_it_was_built_from():
    subclassed = TwoLayerNet()
    assert type(subclassed) is TwoLayerNet
    assert not isinstance(subclassed, Functional)
    for model, cls in (
        (_functional_gradient_tape_model(), GradientTapeModel),
        (_functional_subclass(), WithParam),
        (GraphNet(), GraphNet),
    ):
        # as keras.Model(inputs, outputs) is a Functional: the class and Functional at once
        assert type(model) is cls.Functional
        assert type(model).__name__ == cls.__name__
        assert type(model).__module__ == cls.__module__
        assert isinstance(model, cls) and isinstance(model, Functional)
    assert GradientTapeModel.Functional.Functional is GradientTapeModel.Functional
    assert pickle.loads(pickle.dumps(GraphNet.Functional)) is GraphNet.Functional


def _trained(model):
    model.compile(keras.optimizers.Adam(0.01), LOSS, metrics=["accuracy"])
    model.fit(X, Y, batch_size=32, epochs=1, verbose=0)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("copy_with", ["pickle", "deepcopy"])
@pytest.mark.parametrize("build", ["keras.Model", "GradientTapeModel", "build_mlp"])
def test_pickle_and_deepcopy_round_trip_like_keras_model(copy_with, build):
    model = _trained(
        {
            "keras.Model": lambda: keras.Model(*_graph()),
            "GradientTapeModel": _functional_gradient_tape_model,
            "build_mlp": lambda: build_mlp(D, (8,), C),
        }[build]()
    )
    copies = {"pickle": lambda m: pickle.loads(pickle.dumps(m)), "deepcopy": copy.deepcopy}
    copied = copies[copy_with](model)
    assert type(copied) is type(model)
    for a, b in zip(model.get_weights(), copied.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(copied.optimizer.iterations) == int(model.optimizer.iterations)
    np.testing.assert_allclose(copied.predict(X, verbose=0), model.predict(X, verbose=0))
    copied.fit(X, Y, batch_size=32, epochs=1, verbose=0)  # and it trains on


def _python(code: str, cwd: Path) -> str:
    proc = fresh_python("-c", textwrap.dedent(code), cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


_USER_MODULE = """
import keras
from kerasweep._model import GradientTapeModel

class UserNet(GradientTapeModel):  # not registered with Keras
    pass

def build():
    inputs = keras.Input((3,))
    return UserNet(inputs, keras.layers.Dense(2)(inputs))
"""


@pytest.mark.slow
def test_saved_models_load_in_a_fresh_process(tmp_path):
    model = _trained(build_mlp(D, (8,), C))
    model.save(tmp_path / "mlp.keras")
    np.save(tmp_path / "expected.npy", model.predict(X, verbose=0))
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "usernet.py").write_text(_USER_MODULE)
    _python(
        """
        import usernet
        usernet.build().save("usernet.keras")
        """,
        tmp_path,
    )
    check = """
        import numpy as np
        {}
        {}
        model = keras.models.load_model("mlp.keras")
        assert type(model).__name__ == "GradientTapeModel", type(model)
        np.testing.assert_allclose(
            model.predict(np.load("x.npy"), verbose=0), np.load("expected.npy"), rtol=1e-6
        )
        print("loaded")
        """
    # kerasweep imported before Keras, and after it
    for first, second in (("kerasweep", "keras"), ("keras", "kerasweep")):
        code = check.format(f"import {first}", f"import {second}")
        assert _python(code, tmp_path).strip() == "loaded"
    # a user's unregistered subclass: as for keras.Model, custom_objects names it
    out = _python(
        """
        import keras
        from usernet import UserNet
        model = keras.models.load_model("usernet.keras", custom_objects={"UserNet": UserNet})
        print(type(model) is UserNet.Functional)
        """,
        tmp_path,
    )
    assert out.strip() == "True"


def test_non_tensorflow_backend_fails_at_construction(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(RuntimeError, match="TensorFlow backend"):
        TwoLayerNet()


def test_build_mlp_is_the_tutorial_model():
    model = build_mlp()
    assert isinstance(model, GradientTapeModel)
    assert model.layers[0].name == "digits"
    assert model.layers[-1].name == "predictions"
    assert [layer.units for layer in model.layers[1:]] == [64, 64, 10]
    assert model.layers[1].activation.__name__ == "relu"
    assert model.layers[-1].activation.__name__ == "linear"  # logits
    assert model.input_shape == (None, 784)
    assert build_mlp(64, 32, 5, dropout=0.2).count_params() == 64 * 32 + 32 + 32 * 5 + 5


# -- parity with the tutorial's own hand-written loop -------------------------------------


@pytest.mark.slow
def test_parity_with_the_tutorials_loop():
    digits_x = RNG.uniform(size=(128, 16)).astype("float32")
    digits_y = RNG.integers(0, 10, size=128).astype("int32")
    val_x, val_y = digits_x[:64], digits_y[:64]
    batches = [(digits_x[i : i + 32], digits_y[i : i + 32]) for i in range(0, 128, 32)]

    seed_model = keras.Model(*_mlp_graph())
    ours = GradientTapeModel(*_mlp_graph())
    ours.set_weights(seed_model.get_weights())

    # the tutorial's loop: one epoch, per-epoch loss = mean of per-batch losses
    optimizer = keras.optimizers.SGD(learning_rate=0.05)
    train_acc = keras.metrics.SparseCategoricalAccuracy()
    val_acc = keras.metrics.SparseCategoricalAccuracy()
    losses = [
        float(tutorial_train_step(x, y, seed_model, optimizer, LOSS, train_acc)) for x, y in batches
    ]
    val_losses = [
        float(tutorial_test_step(val_x[i : i + 32], val_y[i : i + 32], seed_model, LOSS, val_acc))
        for i in range(0, 64, 32)
    ]

    # ours under fit: same batches in the same order
    train_ds = tf.data.Dataset.from_tensor_slices((digits_x, digits_y)).batch(32)
    val_ds = tf.data.Dataset.from_tensor_slices((val_x, val_y)).batch(32)
    ours.compile(keras.optimizers.SGD(learning_rate=0.05), LOSS, metrics=["accuracy"])
    hist = ours.fit(train_ds, validation_data=val_ds, epochs=1, verbose=0).history

    for a, b in zip(seed_model.get_weights(), ours.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, atol=1e-5)
    assert hist["loss"][0] == pytest.approx(np.mean(losses), abs=1e-5)
    assert hist["accuracy"][0] == pytest.approx(float(train_acc.result()), abs=1e-6)
    assert hist["val_loss"][0] == pytest.approx(np.mean(val_losses), abs=1e-5)
    assert hist["val_accuracy"][0] == pytest.approx(float(val_acc.result()), abs=1e-6)


def _mlp_graph():
    inputs = keras.Input(shape=(16,), name="digits")
    x = keras.layers.Dense(64, activation="relu")(inputs)
    x = keras.layers.Dense(64, activation="relu")(x)
    return inputs, keras.layers.Dense(10, name="predictions")(x)


# -- fit(StackedBatches): k optimizer steps per compiled call ---------------------------------


def _stacked_and_plain(n=100, batch_size=16, k=3, seed=5, epochs=2):
    """Stacked batches and a plain dataset of exactly the same batches, in the same order."""
    from kerasweep import stack_batches
    from kerasweep._data import Dataset

    x = RNG.normal(size=(n, D)).astype("float32")
    y = RNG.integers(0, C, size=n).astype("int32")
    data = Dataset("toy", x, y, x[:20], y[:20])
    stacked = stack_batches(data, batch_size, k, seed=seed)
    batches = list(stacked.batches(epochs * stacked.elements_per_epoch))
    plain = tf.data.Dataset.from_generator(
        lambda: iter(batches),
        output_signature=(
            tf.TensorSpec((None, D), tf.float32),
            tf.TensorSpec((None,), tf.int32),
        ),
    )
    return stack_batches(data, batch_size, k, seed=seed), plain, (x[:20], y[:20])


class _Steps(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.steps, self.ends = self.params["steps"], []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(batch)


@pytest.mark.slow
@pytest.mark.parametrize("jit_compile", ["auto", False])
def test_stacked_fit_matches_plain_fit_over_the_same_batches(jit_compile):
    stacked, plain, validation = _stacked_and_plain()
    reference, ours = _pair()
    histories, calls = [], []
    for model, data, fit_extra, steps_per_execution in (
        (reference, plain, {"steps_per_epoch": stacked.steps_per_epoch}, 1),
        (ours, stacked, {}, 3),
    ):
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
            loss=LOSS,
            metrics=["accuracy"],
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
        )
        steps = _Steps()
        history = model.fit(
            data,
            validation_data=validation,
            epochs=2,
            verbose=0,
            callbacks=[steps],
            shuffle=False,
            **fit_extra,
        )
        histories.append(history.history)
        calls.append((steps.steps, steps.ends))
    # 100 examples in batches of 16: 7 steps an epoch, the last of 4 examples; stacked 3 at a
    # time that is 3 calls, the last holding one real batch. Momentum would move the weights
    # on a padded step, so equal weights also show that padding never steps.
    _assert_same_training(reference, ours, histories)
    assert int(ours.optimizer.iterations) == int(reference.optimizer.iterations) == 14
    assert calls[0] == (7, [*range(7), *range(7)])
    # three steps per call, reported as Keras itself reports steps_per_execution=3
    assert calls[1] == _keras_batch_ends(steps=7, steps_per_execution=3, epochs=2)
    assert len(calls[1][1]) == 6


def _keras_batch_ends(steps, steps_per_execution, epochs):
    """``(params["steps"], batch indices)`` that a plain keras.Model's fit gives callbacks."""
    model = keras.Model(*_graph())
    model.compile(optimizer="sgd", loss=LOSS, steps_per_execution=steps_per_execution)
    calls = _Steps()
    x, y = np.zeros((steps * 4, D), "float32"), np.zeros(steps * 4, "int32")
    model.fit(x, y, batch_size=4, epochs=epochs, verbose=0, callbacks=[calls])
    return calls.steps, calls.ends


@pytest.mark.slow
def test_plain_fit_still_works_after_a_stacked_fit():
    stacked, _, _ = _stacked_and_plain(epochs=1)
    model = GradientTapeModel(*_graph())
    model.compile(optimizer="sgd", loss=LOSS, steps_per_execution=3)
    model.fit(stacked, verbose=0)
    model.fit(X, Y, batch_size=16, verbose=0)  # Keras' own train function again
    model.fit(stacked, verbose=0)
    assert int(model.optimizer.iterations) == 7 + 6 + 7


def test_stacked_fit_refuses_what_it_cannot_honour():
    stacked, _, _ = _stacked_and_plain(epochs=1)
    model = GradientTapeModel(*_graph())
    model.compile(optimizer="sgd", loss=LOSS, steps_per_execution=2)
    with pytest.raises(ValueError, match="steps_per_execution=3 .it has 2."):
        model.fit(stacked, verbose=0)
    model.compile(optimizer="sgd", loss=LOSS, steps_per_execution=3)
    with pytest.raises(ValueError, match="y= cannot be given"):
        model.fit(stacked, Y, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(stacked, validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="validation_data takes plain batches"):
        model.fit(stacked, validation_data=stacked, verbose=0)
    with pytest.raises(ValueError, match="evaluate.. takes plain batches"):
        model.evaluate(stacked, verbose=0)

    class OwnStep(GradientTapeModel):
        def train_step(self, data):
            return super().train_step(data)

    own = OwnStep(*_graph())
    own.compile(optimizer="sgd", loss=LOSS, steps_per_execution=3)
    with pytest.raises(ValueError, match="OwnStep overrides train_step"):
        own.fit(stacked, verbose=0)


@pytest.mark.slow
def test_compile_again_remakes_the_stacked_train_function():
    stacked, _, _ = _stacked_and_plain(epochs=1)
    model = GradientTapeModel(*_graph())
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=LOSS, steps_per_execution=3)
    model.fit(stacked, verbose=0)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=LOSS, steps_per_execution=3)
    model.fit(stacked, verbose=0)  # the new optimizer's variables, not the old ones
    assert int(model.optimizer.iterations) == 7


@pytest.mark.slow
def test_a_model_trained_on_stacked_batches_saves_and_loads(tmp_path):
    stacked, _, _ = _stacked_and_plain(epochs=1)
    model = build_mlp(D, 8, C)
    model.compile(optimizer="sgd", loss=LOSS, steps_per_execution=3, jit_compile=True)
    model.fit(stacked, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


@pytest.mark.slow
def test_stacked_uint8_images_train_as_their_float32_features():
    from kerasweep import stack_batches
    from kerasweep._data import _prepared

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(100, D)).astype("uint8")
    labels = rng.integers(0, C, size=100).astype("int32")
    data = _prepared(
        "toy",
        {"x_train": images, "y_train": labels, "x_test": images[:20], "y_test": labels[:20]},
        255.0,
    )
    assert data.x_train_uint8 is not None and data.x_scale == 255.0
    stacked = stack_batches(data, 16, 3, seed=2)
    assert stacked.x_scale == 255.0 and stacked.features.dtype == tf.uint8
    # the same batches, as float32 features, for a plain fit
    batches = list(stacked.batches(2 * stacked.elements_per_epoch))
    index = {row.tobytes(): n for n, row in enumerate(data.x_train)}
    assert all(r.tobytes() in index for x, _ in batches for r in x)  # exactly the features
    plain = tf.data.Dataset.from_generator(
        lambda: iter(batches),
        output_signature=(tf.TensorSpec((None, D), tf.float32), tf.TensorSpec((None,), tf.int32)),
    )
    reference, ours = _pair()
    histories = []
    for model, x, extra in (
        (reference, plain, {"steps_per_epoch": 7}),
        (ours, stack_batches(data, 16, 3, seed=2), {}),
    ):
        model.compile(
            optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
            loss=LOSS,
            metrics=["accuracy"],
            steps_per_execution=1 if model is reference else 3,
            jit_compile=True,
        )
        histories.append(model.fit(x, epochs=2, verbose=0, shuffle=False, **extra).history)
    _assert_same_training(reference, ours, histories)
