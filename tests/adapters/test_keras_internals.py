"""Each private Keras API kerasweep relies on still exists and does what it is used for.

A Keras release that changes one of them fails here, by name, rather than somewhere deep
in a training run.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest

from kerasweep._adapters import keras_internals

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _graph():
    inputs = keras.Input((3,), name="x")
    hidden = keras.layers.Dense(4, kernel_regularizer=keras.regularizers.L2(0.1))(inputs)
    return inputs, keras.layers.Dense(2)(hidden)


def test_functional_is_the_class_of_functional_models():
    model = keras.Model(*_graph())
    assert type(model) is keras_internals.Functional
    assert issubclass(keras_internals.Functional, keras.Model)


def test_keras_model_still_rewrites_the_bases_of_functionally_built_subclasses():
    # keras-team/keras#17270, the reason GradientTapeModel builds functional models itself.
    # If this fails, Keras fixed it: GradientTapeModel.__init__ may leave it to Keras.
    class Sub(keras.Model):
        pass

    Sub(*_graph())
    assert issubclass(Sub, keras_internals.Functional)


def test_backend_trainer_is_the_trainer_of_keras_model():
    assert keras.backend.backend() == "tensorflow"
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    assert keras_internals.BackendTrainer is TensorFlowTrainer
    assert issubclass(keras.Model, TensorFlowTrainer)


def test_is_functional_call_follows_keras_rule():
    inputs, outputs = _graph()
    assert keras_internals.is_functional_call((inputs, outputs), {})
    assert keras_internals.is_functional_call((), {"inputs": inputs, "outputs": outputs})
    assert not keras_internals.is_functional_call((), {"name": "net"})


def test_init_functional_builds_a_working_functional_model_without_rewriting():
    class Sub(keras.Model):
        pass

    functional = type("Sub", (Sub, keras_internals.Functional), {})
    model = functional.__new__(functional)
    keras_internals.init_functional(model, _graph(), {})
    assert Sub.__bases__ == (keras.Model,)
    assert model.predict(np.zeros((2, 3)), verbose=0).shape == (2, 2)
    model.compile("sgd", LOSS)
    model.fit(np.zeros((4, 3)), np.zeros(4), verbose=0)


def test_share_registered_name_serializes_the_alias_under_the_registered_name():
    @keras.saving.register_keras_serializable(package="adapters_test")
    class Registered(keras.Model):
        pass

    alias = type("Registered", (Registered,), {})
    keras_internals.share_registered_name(Registered, alias)
    assert keras.saving.get_registered_name(alias) == "adapters_test>Registered"
    keras_internals.share_registered_name(keras.Model, type("Unnamed", (keras.Model,), {}))


def test_compute_loss_is_the_compiled_loss_plus_regularisation():
    model = keras.Model(*_graph())
    model.compile("sgd", LOSS)
    x, y = np.ones((4, 3), "float32"), np.array([0, 1, 0, 1])
    y_pred = model(x)
    loss = keras_internals.compute_loss(model, x, y, y_pred, None, training=True)
    expected = float(LOSS(y, y_pred)) + float(sum(model.losses))
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_compute_loss_calls_an_override_that_predates_the_training_argument():
    class Old(keras.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
            return keras.ops.convert_to_tensor(7.0)

    model = Old(*_graph())
    model.compile("sgd", LOSS)
    x = np.ones((2, 3), "float32")
    assert float(keras_internals.compute_loss(model, x, None, model(x), None, False)) == 7.0


def test_keras_reports_the_loss_unscaled_for_distribution_as_the_adapter_does():
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    source = inspect.getsource(TensorFlowTrainer.train_step)
    assert "unscale_loss_for_distribution" in source
    loss = keras.ops.convert_to_tensor(2.0)
    assert float(keras_internals.unscale_loss_for_distribution(loss)) == 2.0  # one replica


def test_loss_tracker_is_the_mean_behind_the_loss_key():
    model = keras.Model(*_graph())
    assert keras_internals.loss_tracker(model) is None
    model.compile("sgd", LOSS)
    tracker = keras_internals.loss_tracker(model)
    assert isinstance(tracker, keras.metrics.Mean) and tracker.name == "loss"
    assert tracker in model.metrics


def test_call_has_training_arg_reads_the_call_signature():
    class WithTraining(keras.Model):
        def call(self, x, training=None):
            return x

    class Without(keras.Model):
        def call(self, x):
            return x

    assert keras_internals.call_has_training_arg(WithTraining()) is True
    assert keras_internals.call_has_training_arg(Without()) is False


def test_compile_config_is_new_with_every_compile():
    model = keras.Model(*_graph())
    model.compile("sgd", LOSS)
    first = keras_internals.compile_config(model)
    model.compile("sgd", LOSS)
    assert keras_internals.compile_config(model) is not first


def test_symbolic_build_builds_model_metrics_and_optimizer():
    model = keras.Model(*_graph())
    model.compile("adam", LOSS, metrics=["accuracy"])
    batch = (keras.KerasTensor((8, 3)), keras.KerasTensor((8,), "int32"))
    keras_internals.symbolic_build(model, batch)
    assert model.optimizer.built
    assert model.optimizer.iterations is not None and len(model.optimizer.variables) > 1
    assert model.built and model._compile_metrics.built


def test_compiled_metrics_by_output_lists_plain_and_weighted_metrics():
    inputs = keras.Input((3,))
    outputs = {
        "a": keras.layers.Dense(2, name="a")(inputs),
        "b": keras.layers.Dense(1, name="b")(inputs),
    }
    model = keras.Model(inputs, outputs)
    assert keras_internals.compiled_metrics_by_output(model, None, None) == []
    model.compile(
        "sgd",
        {"a": LOSS, "b": "mse"},
        metrics={"a": ["accuracy"]},
        weighted_metrics={"b": ["mae"]},
    )
    x = np.zeros((4, 3), "float32")
    y = {"a": np.zeros(4), "b": np.zeros((4, 1))}
    model.evaluate(x, y, verbose=0)  # builds the compiled metrics
    pairs = keras_internals.compiled_metrics_by_output(model, y, model(x))
    assert len(pairs) == 2  # one metrics list per output that has metrics
    model.reset_metrics()
    for metric, y_true, y_pred in pairs:
        metric.update_state(y_true, y_pred, sample_weight=np.ones(4))
    results = model.get_metrics_result()
    assert any("accuracy" in key for key in results) and any("mae" in key for key in results)


class _BatchEnds(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(batch)


def test_steps_done_at_train_batch_end_matches_what_this_keras_reports():
    # 7 steps an epoch, 3 per compiled call: calls end after steps 3, 6 and 7 (counted as 9)
    model = keras.Model(*_graph())
    model.compile("sgd", LOSS, steps_per_execution=3)
    ends = _BatchEnds()
    model.fit(np.zeros((28, 3)), np.zeros(28), batch_size=4, verbose=0, callbacks=[ends])
    done = [keras_internals.steps_done_at_train_batch_end(b, 3) for b in ends.ends]
    assert done == [3, 6, 9], f"keras {keras.__version__} reported {ends.ends}"


@pytest.mark.parametrize(
    ("release", "reported"),
    [((3, 8), [0, 3, 6]), ((3, 10), [0, 3, 6]), ((3, 11), [2, 5, 8]), ((4, 0), [2, 5, 8])],
)
def test_steps_done_at_train_batch_end_reads_each_releases_index(release, reported):
    done = [keras_internals.steps_done_at_train_batch_end(b, 3, release=release) for b in reported]
    assert done == [3, 6, 9]
    assert keras_internals.steps_done_at_train_batch_end(4, 1, release=release) == 5


def test_keras_release_is_the_installed_keras():
    assert keras.__version__.startswith("{}.{}.".format(*keras_internals.KERAS_RELEASE))
