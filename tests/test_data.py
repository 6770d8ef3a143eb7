"""load_dataset and make_datasets: offline sources, clear errors, the tutorial's semantics."""

from __future__ import annotations

import time

import numpy as np
import pytest

from kerasweep import DatasetError, load_dataset, make_datasets, stack_batches
from kerasweep import _data as data_module
from kerasweep._data import Dataset


@pytest.fixture(autouse=True)
def fresh_cache():
    data_module._LAST_LOADED.clear()
    yield
    data_module._LAST_LOADED.clear()


def test_loaded_arrays_are_shared_read_only_and_reloaded_when_the_file_changes(tmp_path):
    digits = load_dataset("digits")
    assert load_dataset("Digits") is digits
    with pytest.raises(ValueError, match="read-only"):
        digits.x_train[0, 0] = 1.0
    path = tmp_path / "d.npz"
    arrays = {
        "x_train": np.zeros((4, 2)),
        "y_train": np.zeros(4),
        "x_test": np.zeros((2, 2)),
        "y_test": np.zeros(2),
    }
    np.savez(path, **arrays)
    first = load_dataset(path)
    assert load_dataset(str(path)) is first
    np.savez(path, **{**arrays, "x_train": np.ones((5, 2)), "y_train": np.zeros(5)})
    assert load_dataset(path).x_train.shape == (5, 2)


def test_digits_is_bundled_float32_scaled_and_split_fixed():
    data = load_dataset("digits")
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int32
    assert data.x_train.shape == (1437, 64) and data.x_test.shape == (360, 64)
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0 and data.x_train.max() > 0.9
    assert data.input_dim == 64 and data.num_classes == 10
    # stratified: every class in the test split, in about the same share
    counts = np.bincount(data.y_test, minlength=10)
    assert counts.min() >= 35
    again = load_dataset("DIGITS")
    np.testing.assert_array_equal(again.x_test, data.x_test)


def test_npz_integer_images_are_scaled_and_flattened(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "imgs.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (20, 4, 4), dtype=np.uint8),
        y_train=rng.integers(0, 3, 20),
        x_test=rng.integers(0, 256, (6, 4, 4), dtype=np.uint8),
        y_test=rng.integers(0, 3, 6),
    )
    data = load_dataset(path)
    assert data.x_train.shape == (20, 16) and data.x_train.dtype == np.float32
    assert data.x_train.max() <= 1.0
    assert data.name == str(path)


def test_the_float32_training_copy_of_images_is_made_on_first_read(tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (30, 3, 3), dtype=np.uint8)
    path = tmp_path / "imgs.npz"
    np.savez(path, x_train=pixels, y_train=np.arange(30) % 3, x_test=pixels[:5], y_test=[0] * 5)
    data = load_dataset(path)
    assert data._x_train is None  # nothing made yet: a stacked fit reads the uint8 pixels
    assert not data.x_train_uint8.flags.writeable
    assert (data.n_train, data.input_dim, data.num_classes) == (30, 9, 3)
    stacked = stack_batches(data, 8, 2, seed=0)
    list(stacked.batches(2))
    assert data._x_train is None
    x = data.x_train  # made once, exactly pixels / 255 in float32, read-only like the rest
    np.testing.assert_array_equal(x, pixels.reshape(30, 9).astype(np.float32) / np.float32(255))
    assert data.x_train is x and not x.flags.writeable
    with pytest.raises(AttributeError, match="read-only"):
        data.name = "other"
    with pytest.raises(ValueError, match="x_train is needed"):
        Dataset("bad", None, data.y_train, data.x_test, data.y_test)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (
            {"x_train": np.zeros((2, 2)), "y_train": np.zeros(2), "x_test": np.zeros((1, 2))},
            "missing array 'y_test'",
        ),
        (
            {
                "x_train": np.zeros((3, 2)),
                "y_train": np.zeros(2),
                "x_test": np.zeros((1, 2)),
                "y_test": np.zeros(1),
            },
            "x_train has 3 rows but y_train has 2",
        ),
    ],
)
def test_malformed_npz_names_the_file_and_the_problem(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "absent.npz")
    with pytest.raises(DatasetError, match="unknown dataset 'cifar'.*'digits'"):
        load_dataset("cifar")


def test_mnist_unreachable_is_one_clear_error_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # empty cache

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(data_module, "download", offline)
    start = time.monotonic()
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist")
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "\n" not in message
    assert "'digits'" in message and ".npz" in message and "name resolution" in message


def test_mnist_from_the_keras_cache(tmp_path, monkeypatch):
    cache = tmp_path / "datasets"
    cache.mkdir()
    rng = np.random.default_rng(1)
    np.savez(
        cache / "mnist.npz",
        x_train=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 10, dtype=np.uint8),
        x_test=rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 4, dtype=np.uint8),
    )
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def no_download(*args, **kwargs):
        raise AssertionError("a cached MNIST must not be downloaded")

    monkeypatch.setattr(data_module, "download", no_download)
    data = load_dataset("mnist")
    assert data.x_train.shape == (10, 784) and data.x_train.dtype == np.float32
    assert data.x_train.max() <= 1.0


def _small(n_train=10, n_test=7):
    x = np.arange(n_train, dtype=np.float32).reshape(-1, 1)
    xt = np.arange(n_test, dtype=np.float32).reshape(-1, 1)
    return Dataset(
        "toy", x, np.arange(n_train, dtype=np.int32), xt, np.arange(n_test, dtype=np.int32)
    )


def test_training_batches_reshuffle_each_epoch_and_keep_sizes():
    train, val = make_datasets(_small(), batch_size=4, seed=3)
    epochs = [
        [(x.numpy().ravel().tolist(), y.numpy().tolist()) for x, y in train] for _ in range(3)
    ]
    for epoch in epochs:
        assert [len(xs) for xs, _ in epoch] == [4, 4, 2]  # the tutorial's batch(): short last
        seen = sorted(v for xs, _ in epoch for v in xs)
        assert seen == list(range(10))  # every example once per epoch
        assert all(xs == [float(v) for v in ys] for xs, ys in epoch)  # x and y stay paired
    orders = {tuple(v for xs, _ in epoch for v in xs) for epoch in epochs}
    assert len(orders) > 1  # reshuffled
    val_batches = [x.numpy().ravel().tolist() for x, _ in val]
    assert val_batches == [[0, 1, 2, 3], [4, 5, 6]]  # in order


def _stacked_epochs(stacked, epochs):
    """The real batches of ``epochs`` epochs of stacked elements, as lists of (x, y)."""
    per_epoch = stacked.elements_per_epoch
    batches = [(x.ravel().tolist(), y.tolist()) for x, y in stacked.batches(epochs * per_epoch)]
    steps = stacked.steps_per_epoch
    return [batches[e * steps : (e + 1) * steps] for e in range(epochs)]


def test_stacked_batches_are_make_datasets_batches_grouped_and_padded():
    data = _small()
    stacked = stack_batches(data, batch_size=4, batches_per_element=2, seed=3)
    assert (stacked.steps_per_epoch, stacked.elements_per_epoch) == (3, 2)
    # the examples stay resident; elements are row indices and batch sizes
    np.testing.assert_array_equal(stacked.features.numpy(), data.x_train)
    np.testing.assert_array_equal(stacked.labels.numpy(), data.y_train)
    it = iter(stacked.dataset)
    indices, sizes = next(it)
    assert tuple(indices.shape) == (2, 4) and indices.dtype.name == "int32"
    assert sizes.numpy().tolist() == [4, 4]
    indices, sizes = next(it)
    assert sizes.numpy().tolist() == [2, 0]  # short last batch, then an empty one
    assert indices.numpy()[0, 2:].tolist() == [0, 0]  # padding rows point at row 0
    assert indices.numpy()[1].tolist() == [0, 0, 0, 0]
    epochs = _stacked_epochs(stack_batches(_small(), 4, 2, seed=3), 4)
    for epoch in epochs:
        assert [len(xs) for xs, _ in epoch] == [4, 4, 2]
        assert sorted(v for xs, _ in epoch for v in xs) == list(range(10))
        assert all(xs == [float(v) for v in ys] for xs, ys in epoch)
    assert len({tuple(v for xs, _ in epoch for v in xs) for epoch in epochs}) > 1
    # reproducible with a seed, different without one
    assert _stacked_epochs(stack_batches(_small(), 4, 2, seed=3), 4) == epochs
    assert _stacked_epochs(stack_batches(_small(), 4, 2), 4) != epochs


def test_stacked_batches_when_everything_divides():
    stacked = stack_batches(_small(n_train=12), batch_size=3, batches_per_element=2, seed=0)
    assert (stacked.steps_per_epoch, stacked.elements_per_epoch) == (4, 2)
    (epoch,) = _stacked_epochs(stacked, 1)
    assert [len(xs) for xs, _ in epoch] == [3, 3, 3, 3]


def test_stack_batches_refuses_empty_sizes():
    with pytest.raises(ValueError, match="batches_per_element"):
        stack_batches(_small(), 4, 0)


def test_stacked_and_validation_pipelines_skip_rewrites_and_autotuning():
    # Both run at every new iterator (one per run, one per validation epoch) and change
    # nothing these hand-tuned pipelines cost per element.
    data = _small()
    for dataset in (stack_batches(data, 4, 2, seed=0).dataset, make_datasets(data, 4)[1]):
        options = dataset.options()
        assert options.experimental_optimization.apply_default_optimizations is False
        assert options.autotune.enabled is False
    val_batches = [x.numpy().ravel().tolist() for x, _ in make_datasets(data, 4)[1]]
    assert val_batches == [[0, 1, 2, 3], [4, 5, 6]]  # and the batches are the same


def test_runs_share_one_validation_pipeline_and_host_copy_of_loaded_arrays():
    from kerasweep import validation_batches
    from kerasweep._speedups.stacked_batches import host_tensors as _host_tensors

    data = load_dataset("digits")  # read-only arrays, shared by the runs of a process
    first = validation_batches(data, 128)
    assert validation_batches(data, 128) is first
    assert validation_batches(data, 64) is not first
    x, _ = _host_tensors(data.x_train_uint8, data.y_train)
    assert _host_tensors(data.x_train_uint8, data.y_train)[0] is x
    np.testing.assert_array_equal(x.numpy(), data.x_train_uint8)
    # the stacked batches of every run read that one copy (on a CPU)
    assert stack_batches(data, 32, 8).features is x
    assert stack_batches(data, 64, 4).labels is _host_tensors(data.x_train_uint8, data.y_train)[1]
    batches = [int(x.shape[0]) for x, _ in first]
    assert batches == [128, 128, 104] == [int(x.shape[0]) for x, _ in first]


def test_writable_arrays_are_read_afresh_for_every_pipeline():
    from kerasweep import validation_batches

    data = _small()
    first = validation_batches(data, 4)
    data.x_test[0] = 99.0  # a caller's own arrays may change between calls
    again = validation_batches(data, 4)
    assert again is not first
    assert float(next(iter(again))[0][0, 0]) == 99.0


@pytest.mark.slow
def test_download_has_its_own_timeout_and_checks_the_hash(tmp_path):
    """From a local server: no process-wide socket timeout is set, a bad hash leaves nothing."""
    import hashlib
    import http.server
    import socket
    import threading

    body = b"kerasweep" * 1000

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/slow":
                time.sleep(2)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        good = hashlib.sha256(body).hexdigest()
        path = data_module.download(f"{url}/f", tmp_path / "f.npz", sha256=good, timeout=5)
        assert path.read_bytes() == body
        with pytest.raises(OSError, match="SHA-256"):
            data_module.download(f"{url}/f", tmp_path / "g.npz", sha256="0" * 64, timeout=5)
        with pytest.raises(OSError):  # socket.timeout is an OSError
            data_module.download(f"{url}/slow", tmp_path / "h.npz", sha256=good, timeout=0.2)
        assert socket.getdefaulttimeout() is None
        assert sorted(p.name for p in tmp_path.iterdir()) == ["f.npz"]
    finally:
        server.shutdown()
