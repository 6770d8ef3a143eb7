"""kerasweep.local.cleanup: each run's garbage collected, survivors frozen only meanwhile."""

from __future__ import annotations

import gc
import weakref

from kerasweep.local.cleanup import run_cleanup


class _Node:
    """An object in a reference cycle: only the cyclic garbage collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_clean_up_collects_the_runs_garbage_and_freezes_the_survivors():
    with run_cleanup() as clean_up:
        garbage = _Node()
        gone = weakref.ref(garbage)
        del garbage
        clean_up()
        assert gone() is None
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_what_died_after_being_frozen_is_collected_after_the_block():
    with run_cleanup() as clean_up:
        survivor = _Node()  # alive at the clean-up, garbage later
        clean_up()
        gone = weakref.ref(survivor)
        del survivor
        clean_up()
    gc.collect()
    assert gone() is None


def test_a_process_that_froze_objects_itself_is_left_alone():
    gc.freeze()
    try:
        with run_cleanup() as clean_up:
            survivor = _Node()
            gone = weakref.ref(survivor)
            clean_up()  # collects, but does not freeze what survived
            del survivor
            gc.collect()
            assert gone() is None
        assert gc.get_freeze_count() > 0  # the process's own freeze stands
    finally:
        gc.unfreeze()
