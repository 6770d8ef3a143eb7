"""What a checkpoint after every epoch costs an MNIST-sized run, as a fraction of an epoch.

The run is ``sweep_train``'s MNIST path with its defaults: the tutorial's MLP (784-64-64-10,
``build_mlp``), SGD 0.01, batch 64, the stacked pipeline (``stack_batches``, 128 steps a
compiled call, the loop compiled with XLA) and the validation batches; the data are
synthetic MNIST-shaped images (60,000 x 784 pixels in 0..255, 10 classes; 10,000 to
validate), made here. Each round fits the same compiled model twice, ``--epochs`` epochs
each: once with :class:`~kerasweep._checkpoints.RunCheckpoint` saving after every epoch and
once without (the order alternates between rounds, so a noisy machine slows both alike).
An epoch is timed from its ``on_epoch_begin`` to the end of its ``on_epoch_end`` (training,
validation and the checkpoint's hold on the training thread; the file is written by a
thread of its own, beside the next epoch). Printed: the median epoch with and without the
checkpoint; the ratio of each round's epochs with to without, and their median (also in
the process's CPU time, all threads, which other work on a shared machine disturbs less);
how long the checkpoint held the training thread at an epoch's end; and one whole
checkpoint written on its own (state read back, written, flushed to disk, renamed); the
last two as fractions of the median epoch without.

Usage::

    python benchmarks/checkpoint_cost.py                  # 8 rounds of 3 epochs each way
    python benchmarks/checkpoint_cost.py --rounds 7 --directory /scratch/ckpt
    python benchmarks/checkpoint_cost.py --quick          # a small data set, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasweep import (  # noqa: E402
    build_mlp,
    stack_batches,
    validation_batches,
)
from kerasweep._checkpoints import RunCheckpoint  # noqa: E402
from kerasweep._data import Dataset  # noqa: E402

BATCH_SIZE = 64
STEPS_PER_EXECUTION = 128


def mnist_shaped(n_train: int, n_test: int, seed: int = 0) -> Dataset:
    """Random images of MNIST's shape and scale, as ``load_dataset("mnist")`` holds them."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (n_train, 784), dtype=np.uint8)
    test = rng.integers(0, 256, (n_test, 784), dtype=np.uint8).astype(np.float32) / 255
    return Dataset(
        "mnist-shaped",
        None,
        rng.integers(0, 10, n_train).astype(np.int32),
        test,
        rng.integers(0, 10, n_test).astype(np.int32),
        x_train_uint8=pixels,
        x_scale=255.0,
    )


class EpochTimes(keras.callbacks.Callback):
    """Seconds of each epoch, from its beginning to the end of its callbacks (put it last):
    wall-clock, and the CPU time of the process (all its threads)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self.cpu_seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._start = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.seconds.append(time.perf_counter() - self._start[0])
        self.cpu_seconds.append(time.process_time() - self._start[1])


class TimedCheckpoint(RunCheckpoint):
    """A ``RunCheckpoint`` that keeps how long its ``on_epoch_end`` held the training thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epoch_end_seconds: list[float] = []

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        start = time.perf_counter()
        super().on_epoch_end(epoch, logs)
        self.epoch_end_seconds.append(time.perf_counter() - start)


def measure(data: Dataset, rounds: int, epochs: int, directory: Path) -> dict[str, Any]:
    """Epoch times with and without a checkpoint every epoch, in interleaved rounds."""
    keras.utils.set_random_seed(0)
    model = build_mlp(784, (64, 64), 10)
    model.compile(
        keras.optimizers.SGD(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    model.stacked_jit_compile = True  # sweep_train's "auto" for an MNIST-sized run
    train = stack_batches(data, BATCH_SIZE, STEPS_PER_EXECUTION, seed=0)
    val = validation_batches(data, BATCH_SIZE)
    model.fit(train, validation_data=val, epochs=1, verbose=0)  # trace and compile
    times: dict[str, list[float]] = {"without": [], "with": []}
    round_ratios, cpu_ratios, held = [], [], []
    for r in range(rounds):
        this_round, this_round_cpu = {}, {}
        for mode in ("without", "with") if r % 2 == 0 else ("with", "without"):
            timer = EpochTimes()
            callbacks: list[Any] = [timer]
            data_for_fit = train
            if mode == "with":
                checkpoint = TimedCheckpoint(directory / f"round-{r}", every=1)
                data_for_fit = checkpoint.resume_data(train)
                callbacks = [checkpoint, timer]
            model.fit(
                data_for_fit, validation_data=val, epochs=epochs, callbacks=callbacks, verbose=0
            )
            times[mode].extend(timer.seconds)
            this_round[mode] = sum(timer.seconds)
            this_round_cpu[mode] = sum(timer.cpu_seconds)
            if mode == "with":
                held.extend(checkpoint.epoch_end_seconds)
                checkpoint.remove()
        round_ratios.append(this_round["with"] / this_round["without"])
        cpu_ratios.append(this_round_cpu["with"] / this_round_cpu["without"])
    without = statistics.median(times["without"])
    return {
        "epochs_timed_each_way": len(times["without"]),
        "median_epoch_s_without": round(without, 4),
        "median_epoch_s_with": round(statistics.median(times["with"]), 4),
        "round_ratios": [round(x, 4) for x in round_ratios],
        "median_round_ratio": round(statistics.median(round_ratios), 4),
        "cpu_round_ratios": [round(x, 4) for x in cpu_ratios],
        "median_cpu_round_ratio": round(statistics.median(cpu_ratios), 4),
        "median_held_s": round(statistics.median(held), 5),
        "held_fraction_of_epoch": round(statistics.median(held) / without, 5),
        **_write_alone(model, directory / "alone", without),
    }


def _write_alone(model: keras.Model, directory: Path, epoch_s: float) -> dict[str, Any]:
    """A checkpoint written on the training thread (``save``), timed 10 times."""
    checkpoint = RunCheckpoint(directory)
    checkpoint.set_model(model)
    seconds = []
    for epochs_done in range(1, 11):
        start = time.perf_counter()
        path = checkpoint.save(epochs_done)
        seconds.append(time.perf_counter() - start)
    size = path.stat().st_size
    checkpoint.remove()
    write = statistics.median(seconds)
    return {
        "median_write_s": round(write, 5),
        "write_fraction_of_epoch": round(write / epoch_s, 5),
        "checkpoint_bytes": size,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit, each way")
    parser.add_argument("--directory", type=Path, help="where checkpoints go (default: a temp dir)")
    parser.add_argument("--quick", action="store_true", help="6,000 examples, 2 rounds")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    if args.quick:
        data, rounds, epochs = mnist_shaped(6_000, 1_000), 2, 2
    else:
        data, rounds, epochs = mnist_shaped(60_000, 10_000), args.rounds, args.epochs
    own = args.directory is None
    directory = Path(tempfile.mkdtemp(prefix="kerasweep-ckpt-")) if own else args.directory
    try:
        result = measure(data, rounds, epochs, directory)
    finally:
        if own:
            shutil.rmtree(directory, ignore_errors=True)
    result["examples"] = data.n_train
    result["directory"] = "temporary" if own else str(args.directory)
    print(
        f"{data.n_train} examples, batch {BATCH_SIZE}, {rounds} rounds of {epochs} epochs "
        f"each way\n"
        f"  median epoch without a checkpoint: {result['median_epoch_s_without']:.3f} s\n"
        f"  median epoch with a checkpoint:    {result['median_epoch_s_with']:.3f} s\n"
        f"  ratio with/without, median of the rounds: {result['median_round_ratio']:.4f} "
        f"(rounds: {', '.join(f'{x:.3f}' for x in result['round_ratios'])})\n"
        f"  the same in CPU time of the process: {result['median_cpu_round_ratio']:.4f} "
        f"(rounds: {', '.join(f'{x:.3f}' for x in result['cpu_round_ratios'])})\n"
        f"  training thread held at each epoch's end: {1000 * result['median_held_s']:.2f} ms, "
        f"{100 * result['held_fraction_of_epoch']:.2f}% of an epoch\n"
        f"  one whole checkpoint ({result['checkpoint_bytes']} bytes: state read, written, "
        f"flushed, renamed), on its own: {1000 * result['median_write_s']:.2f} ms, "
        f"{100 * result['write_fraction_of_epoch']:.2f}% of an epoch"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
