"""kerasweep's speed-ups, one module each, kept out of the tutorial's core.

The core (:mod:`kerasweep._model`, :mod:`kerasweep.train`) reads as W&B's tutorial; each
module here makes one part of it faster and says in its docstring what it buys (the numbers
are in ``benchmarks/RESULTS.md``):

- :mod:`.stacked_fit`: several optimizer steps per compiled call, ``fit(StackedBatches)``
  (a mixin of :class:`~kerasweep.GradientTapeModel`);
- :mod:`.stacked_batches`: the batches that loop takes, and the resident arrays it reads;
- :mod:`.compiled_models`: compiled models reused across the runs of a process;
- :mod:`.xla_cache`: XLA executables kept on disk for the next process;
- :mod:`.long_lived_objects`: the garbage collector kept off long-lived objects, the one
  owner of ``gc.freeze``;
- :mod:`.traced_gradients`: what a run's tracing pinned in TensorFlow, dropped after it;
- :mod:`.program_mode`: a process made for one run (``python -m kerasweep.train``).

``sweep_train`` reaches them through one seam, :class:`.run.RunSpeedups`, entered before
its run and left after it. This package imports nothing heavy itself.
"""
