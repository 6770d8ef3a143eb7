"""Time one training step of the tutorial's MLP six ways, side by side, in one process.

The loops, all on the same data, model (784-64-64-10), batch size and optimizer (SGD 0.01):

- ``seed_eager`` (a): the tutorial's ``train_step`` called eagerly from its Python loop, fed
  by its ``from_tensor_slices().shuffle(1024).batch().prefetch()`` pipeline;
- ``seed_tf_function`` (b): the same loop with ``train_step`` in ``tf.function``;
- ``keras_fit`` (c): Keras' built-in ``fit`` of a plain ``keras.Model``, same pipeline;
- ``gradient_tape_fit`` (d): ``fit`` of :class:`kerasweep.GradientTapeModel`, same pipeline
  and compile options as (c), so (d)/(c) is the cost of our ``train_step`` alone;
- ``sweep_train_path`` (e): :func:`kerasweep.sweep_train` with its defaults (its data
  pipeline, compile options and callbacks; ``WANDB_MODE=disabled``), timed over whole
  epochs, input pipeline and callbacks included, validation excluded;
- ``floor`` (f): the same arithmetic (forward, loss, gradients, SGD update) on one resident
  batch, in one compiled in-graph loop (``tf.while_loop``, with and without XLA; the faster).
  The notes also time that XLA loop taking a new batch of a shuffled, resident epoch at
  each step, as float32 and as uint8 pixels; the uint8 one, (f''), reads what
  ``sweep_train``'s loop reads and is the honest floor for (e): the targets give both.

Data: MNIST when it is in the Keras cache (``~/.keras/datasets/mnist.npz``), else synthetic
MNIST-shaped uint8 images and labels; nothing is downloaded. The tutorial's loops get the
tutorial's preprocessing (``x / 255.``, which makes float64 arrays); ``sweep_train`` gets
:func:`kerasweep.load_dataset`'s float32 arrays of the same images.

Each measurement is repeated; rounds interleave the loops so that a noisy machine slows all
of them alike, and the table shows the median milliseconds per step after warm-up and
tracing, with each loop's ratio to (a), (c) and (f).

Usage::

    python benchmarks/step_time.py                      # batch 64, 7 rounds
    python benchmarks/step_time.py --batch-sizes 64,128 --repeats 7 --json times.json
    python benchmarks/step_time.py --quick              # under a minute on a CPU
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Before TensorFlow is imported: quiet C++ logs. TensorFlow's own defaults (threads,
# oneDNN) are left alone: every loop runs under them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.tutorial import tutorial_model, tutorial_train_step  # noqa: E402
from kerasweep import build_mlp  # noqa: E402
from kerasweep._model import GradientTapeModel  # noqa: E402
from kerasweep.train import DEFAULT_CONFIG, RunConfigError, sweep_train  # noqa: E402
from kerasweep.train import parse_args as parse_config_args  # noqa: E402

#: JSON keys of the six loops, in table order, with their table labels.
LOOPS: dict[str, str] = {
    "seed_eager": "(a) tutorial loop, eager",
    "seed_tf_function": "(b) tutorial loop, tf.function",
    "keras_fit": "(c) keras fit, built-in step",
    "gradient_tape_fit": "(d) fit, GradientTapeModel",
    "sweep_train_path": "(e) sweep_train's path",
    "floor": "(f) floor: in-graph loop",
}

LEARNING_RATE = 0.01
HIDDEN_UNITS = (64, 64)
SYNTHETIC_TRAIN, SYNTHETIC_TEST = 60_000, 10_000
QUICK_TRAIN, QUICK_TEST = 4_096, 1_024


@dataclass(frozen=True)
class Images:
    """Raw images as ``keras.datasets.mnist.load_data`` returns them (uint8, 28x28)."""

    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class Settings:
    """What one benchmark invocation measures."""

    batch_sizes: tuple[int, ...]
    repeats: int
    eager_steps: int
    quick: bool
    sweep_config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    """Median milliseconds per step of each loop at one batch size."""

    device: str
    batch_size: int
    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    #: Median ms per step of each variant of the floor loop (f), by name.
    floor_variants: dict[str, float] = field(default_factory=dict)

    @property
    def ms_per_step(self) -> dict[str, float]:
        return {key: statistics.median(self.samples[key]) for key in LOOPS}

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "batch_size": self.batch_size,
            "ms_per_step": {k: round(v, 4) for k, v in self.ms_per_step.items()},
            "floor_variants": {k: round(v, 4) for k, v in self.floor_variants.items()},
        }


# -- data ------------------------------------------------------------------------------------


def load_images(quick: bool) -> Images:
    """MNIST from the Keras cache, else synthetic images of MNIST's shape; never downloads."""
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    cached = Path(base) / "datasets" / "mnist.npz"
    if cached.exists():
        with np.load(cached, allow_pickle=False) as f:
            images = Images(
                f"MNIST ({cached})", f["x_train"], f["y_train"], f["x_test"], f["y_test"]
            )
    else:
        rng = np.random.default_rng(0)
        images = Images(
            "synthetic MNIST-shaped uint8 images (MNIST not in the Keras cache)",
            rng.integers(0, 256, (SYNTHETIC_TRAIN, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, SYNTHETIC_TRAIN, dtype=np.uint8),
            rng.integers(0, 256, (SYNTHETIC_TEST, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, SYNTHETIC_TEST, dtype=np.uint8),
        )
    if quick:
        images = Images(
            f"{images.source}, first {QUICK_TRAIN}/{QUICK_TEST} examples",
            images.x_train[:QUICK_TRAIN],
            images.y_train[:QUICK_TRAIN],
            images.x_test[:QUICK_TEST],
            images.y_test[:QUICK_TEST],
        )
    return images


@dataclass(frozen=True)
class Workload:
    """The data every loop trains on, prepared once.

    Attributes:
        source: Where the images came from.
        x_train, y_train: The tutorial's arrays as tensors: ``x / 255.`` (float64, as the
            tutorial's preprocessing makes them), flattened; labels as loaded.
        npz_path: The same images as a ``.npz`` file, the ``dataset`` ``sweep_train`` loads
            (to float32) through :func:`kerasweep.load_dataset`.
        n_train: Number of training examples.
    """

    source: str
    x_train: Any
    y_train: Any
    npz_path: Path

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    def steps_per_epoch(self, batch_size: int) -> int:
        return math.ceil(self.n_train / batch_size)


def prepare_workload(images: Images, workdir: Path) -> Workload:
    """The tutorial's preprocessing (verbatim), and the images as a file for ``sweep_train``."""
    x_train = images.x_train / 255.0
    x_train = np.reshape(x_train, (-1, 784))
    npz_path = workdir / "images.npz"
    np.savez(
        npz_path,
        x_train=images.x_train,
        y_train=images.y_train,
        x_test=images.x_test,
        y_test=images.y_test,
    )
    with tf.device("/CPU:0"):  # the input pipelines' source stays on the host
        x_train, y_train = tf.constant(x_train), tf.constant(images.y_train)
    return Workload(images.source, x_train, y_train, npz_path)


def tutorial_train_dataset(work: Workload, batch_size: int):
    """The tutorial's training pipeline (its ``sweep_train`` builds this)."""
    train_dataset = tf.data.Dataset.from_tensor_slices((work.x_train, work.y_train))
    return (
        train_dataset.shuffle(buffer_size=1024)
        .batch(batch_size)
        .prefetch(buffer_size=tf.data.AUTOTUNE)
    )


# -- the loops' helpers ---------------------------------------------------------------------


def endless(dataset) -> Iterator[Any]:
    """Batches of ``dataset``, epoch after epoch (each epoch reshuffled by the pipeline)."""
    while True:
        yield from dataset


# -- the loops -------------------------------------------------------------------------------


class Loop:
    """One way of training; ``measure()`` returns milliseconds per step of one round."""

    key: str
    note: str = ""

    def measure(self) -> float:
        raise NotImplementedError


class TutorialLoop(Loop):
    """(a)/(b): the tutorial's Python loop over its pipeline, ``float(loss)`` every step."""

    def __init__(self, work: Workload, batch_size: int, steps: int, *, compiled: bool) -> None:
        self.key = "seed_tf_function" if compiled else "seed_eager"
        model = tutorial_model()
        optimizer = keras.optimizers.SGD(learning_rate=LEARNING_RATE)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metric = keras.metrics.SparseCategoricalAccuracy()

        def step(x, y):
            return tutorial_train_step(x, y, model, optimizer, loss_fn, metric)

        self._step = tf.function(step) if compiled else step
        self._batches = endless(tutorial_train_dataset(work, batch_size))
        self._steps = steps
        self.note = f"{steps} steps per round"
        self._run(3)  # warm-up: tracing, variable creation, pipeline start

    def _run(self, steps: int) -> list[float]:
        train_loss = []
        for _ in range(steps):
            x_batch_train, y_batch_train = next(self._batches)
            loss_value = self._step(x_batch_train, y_batch_train)
            train_loss.append(float(loss_value))
        return train_loss

    def measure(self) -> float:
        start = time.perf_counter()
        self._run(self._steps)
        return (time.perf_counter() - start) * 1000 / self._steps


class EpochTimer(keras.callbacks.Callback):
    """Times the training part of each epoch (validation excluded).

    It only uses epoch-level hooks and ``on_test_begin`` so it changes nothing about how
    ``fit`` dispatches per-batch callbacks. An epoch's training ends where validation
    begins, or at the epoch's end when there is none; by then ``fit`` has read the epoch's
    metrics, so the device work is done.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start: float | None = None

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._start = time.perf_counter()

    def _stop(self) -> None:
        if self._start is not None:
            self.seconds.append(time.perf_counter() - self._start)
            self._start = None

    def on_test_begin(self, logs: Any = None) -> None:
        self._stop()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self._stop()


class FitLoop(Loop):
    """(c)/(d): one ``fit`` epoch per round over the tutorial's pipeline."""

    def __init__(self, work: Workload, batch_size: int, *, gradient_tape: bool) -> None:
        self.key = "gradient_tape_fit" if gradient_tape else "keras_fit"
        self.model = build_mlp(784, HIDDEN_UNITS, 10) if gradient_tape else tutorial_model()
        self.model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATE),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        self._train = tutorial_train_dataset(work, batch_size)
        self._steps = work.steps_per_epoch(batch_size)
        self.note = f"whole epochs of {self._steps} steps, jit_compile={self.model.jit_compile}"
        self.model.fit(self._train, epochs=1, verbose=0)  # warm-up: tracing

    def measure(self) -> float:
        timer = EpochTimer()
        self.model.fit(self._train, epochs=1, verbose=0, callbacks=[timer])
        return timer.seconds[0] * 1000 / self._steps


@contextlib.contextmanager
def extra_fit_callback(model_class: type, callback: Any) -> Iterator[None]:
    """While active, every ``fit`` of ``model_class`` models also gets ``callback``."""
    own = model_class.__dict__.get("fit")
    inherited = model_class.fit

    def fit(self, *args: Any, **kwargs: Any):
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), callback]
        return inherited(self, *args, **kwargs)

    model_class.fit = fit
    try:
        yield
    finally:
        if own is None:
            del model_class.fit
        else:
            model_class.fit = own


class SweepTrainLoop(Loop):
    """(e): a real ``sweep_train`` run per round; epoch 1 warms up, the later ones are timed.

    The round's value is the median of its timed epochs.
    """

    key = "sweep_train_path"
    timed_epochs = 2

    def __init__(self, work: Workload, batch_size: int, overrides: dict[str, Any]) -> None:
        self._config = {
            "dataset": str(work.npz_path),
            "batch_size": batch_size,
            "learning_rate": LEARNING_RATE,
            "epochs": 1 + self.timed_epochs,
            "verbose": 0,
            **overrides,
        }
        self._steps = work.steps_per_epoch(batch_size)
        knobs = dict.fromkeys(("steps_per_execution", "jit_compile", *sorted(overrides)))
        knobs.pop("epochs", None)
        settings = ", ".join(f"{k}={self._config.get(k, DEFAULT_CONFIG.get(k))}" for k in knobs)
        self.note = (
            f"sweep_train(epochs={self._config['epochs']}), epochs 2-{self._config['epochs']} "
            f"of {self._steps} steps timed; {settings}"
        )

    def measure(self) -> float:
        timer = EpochTimer()
        with extra_fit_callback(GradientTapeModel, timer):
            sweep_train(self._config)
        return statistics.median(timer.seconds[1:]) * 1000 / self._steps


class FloorLoop(Loop):
    """(f): SGD on one resident batch in a ``tf.while_loop``, graph and XLA; the faster.

    Also timed, for reference only: the same XLA loop taking the next batch of a shuffled
    epoch at each step (all of it resident, stacked), which is what any real training loop
    must read, as float32 features and as uint8 pixels scaled in the loop (what
    ``sweep_train``'s loop reads); the gap to the resident batch is the cost of data that is
    not already in cache.
    """

    key = "floor"

    def __init__(self, work: Workload, batch_size: int, steps: int) -> None:
        x = tf.cast(work.x_train[:batch_size], tf.float32)
        y = tf.cast(work.y_train[:batch_size], tf.int32)
        init = keras.initializers.GlorotUniform(seed=0)
        sizes = (784, *HIDDEN_UNITS, 10)
        weights = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            weights.append(tf.Variable(init((fan_in, fan_out))))
            weights.append(tf.Variable(tf.zeros((fan_out,))))

        def sgd_step(x, y):
            with tf.GradientTape() as tape:
                h = x
                for k in range(0, len(weights) - 2, 2):
                    h = tf.nn.relu(h @ weights[k] + weights[k + 1])
                logits = h @ weights[-2] + weights[-1]
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
            grads = tape.gradient(loss, weights)
            for w, g in zip(weights, grads, strict=True):
                w.assign_sub(LEARNING_RATE * g)

        def train(n):
            def body(i):
                sgd_step(x, y)
                return (i + 1,)

            tf.while_loop(lambda i: i < n, body, (tf.constant(0),))
            return weights[-1][0]

        full = (work.n_train // batch_size) * batch_size
        order = np.random.default_rng(0).permutation(work.n_train)[:full]
        xs = tf.gather(tf.cast(work.x_train, tf.float32), order)
        xs = tf.reshape(xs, (-1, batch_size, 784))
        ys = tf.reshape(tf.gather(tf.cast(work.y_train, tf.int32), order), (-1, batch_size))

        def train_fresh(n):
            def body(i):
                j = tf.math.floormod(i, tf.shape(xs)[0])
                sgd_step(xs[j], ys[j])
                return (i + 1,)

            tf.while_loop(lambda i: i < n, body, (tf.constant(0),))
            return weights[-1][0]

        # the same images as uint8 pixels, scaled in the loop (what sweep_train's loop reads)
        pixels = tf.cast(tf.round(xs * 255.0), tf.uint8)

        def train_fresh_pixels(n):
            def body(i):
                j = tf.math.floormod(i, tf.shape(pixels)[0])
                sgd_step(tf.cast(pixels[j], tf.float32) / 255.0, ys[j])
                return (i + 1,)

            tf.while_loop(lambda i: i < n, body, (tf.constant(0),))
            return weights[-1][0]

        self._variants = {
            "graph": tf.function(train),
            "XLA": tf.function(train, jit_compile=True),
            "XLA on a new batch each step": tf.function(train_fresh, jit_compile=True),
            "XLA on a new uint8 batch each step": tf.function(train_fresh_pixels, jit_compile=True),
        }
        self._steps = steps
        self._samples: dict[str, list[float]] = {name: [] for name in self._variants}
        for fn in self._variants.values():
            fn(tf.constant(2)).numpy()  # warm-up: tracing and compiling

    def measure(self) -> float:
        times = {}
        for name, fn in self._variants.items():
            start = time.perf_counter()
            fn(tf.constant(self._steps)).numpy()
            times[name] = (time.perf_counter() - start) * 1000 / self._steps
            self._samples[name].append(times[name])
        medians = {name: statistics.median(s) for name, s in self._samples.items()}
        self.variant_medians = medians
        self.note = f"{self._steps} steps per round; " + ", ".join(
            f"{name} {ms:.3f} ms" for name, ms in medians.items()
        )
        return min(times["graph"], times["XLA"])


# -- running and reporting -------------------------------------------------------------------


def device_name() -> str:
    """The accelerator TensorFlow trains on: its first GPU, else the CPU's model name."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU: {details.get('device_name', gpus[0].name)} ({len(gpus)} visible)"
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"CPU: {model}, {os.cpu_count()} cores"


def measure(work: Workload, batch_size: int, settings: Settings, device: str) -> Result:
    """All six loops at one batch size, ``settings.repeats`` interleaved rounds."""

    keras.utils.set_random_seed(0)
    steps_per_epoch = work.steps_per_epoch(batch_size)
    builders: list[Callable[[], Loop]] = [
        lambda: TutorialLoop(work, batch_size, settings.eager_steps, compiled=False),
        lambda: TutorialLoop(work, batch_size, steps_per_epoch, compiled=True),
        lambda: FitLoop(work, batch_size, gradient_tape=False),
        lambda: FitLoop(work, batch_size, gradient_tape=True),
        lambda: SweepTrainLoop(work, batch_size, settings.sweep_config),
        lambda: FloorLoop(work, batch_size, steps_per_epoch),
    ]
    loops = [build() for build in builders]
    result = Result(device, batch_size, {loop.key: [] for loop in loops})
    for round_ in range(settings.repeats):
        # Every other round in reverse order, so that no loop always runs right after another.
        for loop in loops if round_ % 2 == 0 else loops[::-1]:
            result.samples[loop.key].append(loop.measure())
        print(f"  batch {batch_size}: round {round_ + 1}/{settings.repeats} done", flush=True)
    result.notes = {loop.key: loop.note for loop in loops}
    result.floor_variants = dict(loops[-1].variant_medians)
    return result


def format_table(result: Result) -> str:
    """The table for one batch size: ms per step and each loop's ratio to (a), (c), (f)."""
    ms = result.ms_per_step
    lines = [
        f"batch size {result.batch_size} on {result.device}",
        "",
        f"| {'loop':<32} | {'ms/step':>8} | {'/ (a)':>7} | {'/ (c)':>7} | {'/ (f)':>7} | rounds |",
        f"|{'-' * 34}|{'-' * 9}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|-------:|",
    ]
    for key, label in LOOPS.items():
        lines.append(
            f"| {label:<32} | {ms[key]:>8.3f} | {ms[key] / ms['seed_eager']:>7.3f} "
            f"| {ms[key] / ms['keras_fit']:>7.3f} | {ms[key] / ms['floor']:>7.3f} "
            f"| {len(result.samples[key]):>6} |"
        )
    lines += ["", "how each loop was timed (and its rounds, ms/step):"]
    for key, note in result.notes.items():
        rounds = " ".join(f"{ms:.3g}" for ms in result.samples[key])
        lines.append(f"  {LOOPS[key][:3]} {note}; rounds: {rounds}")
    return "\n".join(lines)


def format_targets(result: Result) -> str:
    """The issue's ratio targets, checked against this run (information, not a test)."""
    ms = result.ms_per_step
    checks = [
        ("(d)/(c)", ms["gradient_tape_fit"] / ms["keras_fit"], "<=", 1.05),
        ("(a)/(e)", ms["seed_eager"] / ms["sweep_train_path"], ">=", 25.0),
        ("(b)/(e)", ms["seed_tf_function"] / ms["sweep_train_path"], ">=", 2.5),
        ("(e)/(f)", ms["sweep_train_path"] / ms["floor"], "<=", 1.15),
    ]
    honest = result.floor_variants.get(HONEST_FLOOR)
    if honest:
        checks.append(("(e)/(f'')", ms["sweep_train_path"] / honest, "<=", 1.15))
    lines = [f"targets at batch {result.batch_size}:"]
    for name, value, op, bound in checks:
        met = value <= bound if op == "<=" else value >= bound
        lines.append(
            f"  {name:9} = {value:7.3f}  (target {op} {bound})  {'met' if met else 'MISSED'}"
        )
    if honest:
        lines.append(
            "  (f) trains on one resident batch that stays in cache, which no loop that reads "
            "its data can do; (f'') is\n  the same XLA loop reading a new uint8 batch of a "
            "shuffled resident epoch each step, what sweep_train's loop reads: the honest floor"
        )
    return "\n".join(lines)


#: The variant of (f) that reads what ``sweep_train``'s loop reads: the floor for (e).
HONEST_FLOOR = "XLA on a new uint8 batch each step"


def json_payload(results: list[Result]) -> dict[str, Any] | list[dict[str, Any]]:
    """One object per batch size; a single batch size gives the object itself."""
    payload = [r.to_json() for r in results]
    return payload[0] if len(payload) == 1 else payload


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Milliseconds per training step: the tutorial's loops, Keras fit, "
        "kerasweep's fit and sweep_train path, and the compute floor."
    )
    parser.add_argument(
        "--batch-sizes", default="64", help="comma-separated batch sizes (default: 64)"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="interleaved rounds (default 7; 3 with --quick)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_TRAIN} training examples, fewer steps and rounds: under a minute on a CPU",
    )
    parser.add_argument(
        "--config",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override a sweep_train config key for (e), e.g. --config jit_compile=true "
        "(repeatable)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    try:
        args.config = parse_config_args(f"--{item}" for item in args.config)
    except RunConfigError as exc:
        parser.error(f"--config: {exc}")
    try:
        args.batch_sizes = tuple(int(b) for b in args.batch_sizes.split(",") if b.strip())
    except ValueError:
        parser.error(f"--batch-sizes: {args.batch_sizes!r} is not a comma-separated list of ints")
    if not args.batch_sizes or min(args.batch_sizes) < 1:
        parser.error(f"--batch-sizes: {args.batch_sizes!r} must list positive sizes")
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats: {args.repeats} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # sweep_train imports wandb on first use: no W&B network, account or run files.
    os.environ["WANDB_MODE"] = "disabled"
    os.environ.setdefault("WANDB_SILENT", "true")
    warnings.filterwarnings("ignore", module=r"(tensorflow|keras)(\..*)?$")
    settings = Settings(
        batch_sizes=args.batch_sizes,
        repeats=args.repeats or (3 if args.quick else 7),
        eager_steps=20 if args.quick else 100,
        quick=args.quick,
        sweep_config=args.config,
    )
    device = device_name()
    print(f"device: {device}")
    results = []
    with tempfile.TemporaryDirectory(prefix="kerasweep-step-time-") as tmp:
        workdir = Path(tmp)
        for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
            os.environ.setdefault(var, str(workdir))
        os.environ.setdefault("KERASWEEP_XLA_CACHE", str(workdir / "xla-cache"))
        work = prepare_workload(load_images(settings.quick), workdir)
        print(f"data: {work.source}; {work.n_train} training examples")
        print(f"model: 784-{'-'.join(map(str, HIDDEN_UNITS))}-10 MLP, SGD lr {LEARNING_RATE}")
        for batch_size in settings.batch_sizes:
            results.append(measure(work, batch_size, settings, device))
    for result in results:
        print()
        print(format_table(result))
        print()
        print(format_targets(result))
    if args.json:
        Path(args.json).write_text(json.dumps(json_payload(results), indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
