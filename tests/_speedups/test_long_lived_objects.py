"""long_lived_objects: no collections during imports, none over survivors at exit."""

from __future__ import annotations

import gc
import json
import sys
import weakref

import pytest

from kerasweep._speedups.long_lived_objects import imports_uncollected
from tests.conftest import fresh_python


@pytest.fixture
def unfrozen():
    """The test starts and ends with nothing frozen."""
    assert gc.get_freeze_count() == 0
    yield
    gc.unfreeze()


def test_no_collection_runs_within_the_block_and_the_collector_is_back_after_it(unfrozen):
    with imports_uncollected():
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0  # nothing named to freeze after


def test_a_collector_that_was_off_stays_off(unfrozen):
    gc.disable()
    try:
        with imports_uncollected():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_first_import_of_the_named_module_freezes_what_is_alive(
    unfrozen, tmp_path, monkeypatch
):
    (tmp_path / "kerasweep_probe_module.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "kerasweep_probe_module", raising=False)
    with imports_uncollected(freeze_new="kerasweep_probe_module"):
        import kerasweep_probe_module
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    with imports_uncollected(freeze_new="kerasweep_probe_module"):  # loaded already
        import kerasweep_probe_module  # noqa: F401
    assert gc.get_freeze_count() == 0


def test_an_error_in_the_block_still_turns_the_collector_back_on(unfrozen):
    with pytest.raises(ImportError), imports_uncollected(freeze_new="json"):
        import kerasweep_no_such_module  # noqa: F401
    assert gc.isenabled()


class _Node:
    """An object in a reference cycle: only the cyclic garbage collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_between_runs_survivors_stay_frozen_until_something_kept_is_let_go(unfrozen):
    from kerasweep._speedups.long_lived_objects import frozen_between_runs, let_go

    with frozen_between_runs() as collect:
        kept = _Node()  # kept across runs: frozen at the first collection
        collect(gc.collect)
        assert gc.get_freeze_count() > 0
        gone = weakref.ref(kept)
        del kept
        collect(gc.collect)
        assert gone() is not None  # frozen: the collection did not look at it
        let_go()  # its owner says it let it go
        collect(gc.collect)
        assert gone() is None
        assert gc.get_freeze_count() > 0  # and the survivors are frozen again
    assert gc.get_freeze_count() == 0


#: A process that froze objects itself, then runs an agent's between-runs block.
OWN_FREEZE_PROBE = """
import gc, json
from kerasweep._speedups.long_lived_objects import frozen_between_runs
class Node:
    def __init__(self):
        self.me = self
gc.freeze()
frozen = gc.get_freeze_count()
with frozen_between_runs() as collect:
    Node()
    collect(gc.collect)
    inside = gc.get_freeze_count()
print(json.dumps({"frozen": frozen, "inside": inside, "after": gc.get_freeze_count()}))
"""


def test_between_runs_nothing_is_frozen_where_the_process_froze_objects_itself():
    # in a process of its own: in the suite's, objects other tests froze may die meanwhile
    done = fresh_python("-c", OWN_FREEZE_PROBE)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["inside"] == counts["frozen"]
    assert counts["after"] == counts["frozen"]  # the process's own freeze stands


#: After every other exit handler: how many objects are left for the exit's collections.
EXIT_PROBE = """
import atexit, gc, json
atexit.register(lambda: print(json.dumps({{"tracked": len(gc.get_objects())}})))
from kerasweep._speedups.long_lived_objects import freeze_survivors_at_exit
garbage_later = [[] for _ in range(20_000)]  # objects alive at exit
if {call}:
    freeze_survivors_at_exit()
    freeze_survivors_at_exit()  # a second call changes nothing
"""


def _tracked_at_exit(call: bool) -> int:
    done = fresh_python("-c", EXIT_PROBE.format(call=call))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])["tracked"]


def test_the_exit_collections_find_nothing_alive_to_walk():
    assert _tracked_at_exit(call=False) > 20_000  # what Python's shutdown walks, each time
    assert _tracked_at_exit(call=True) < 100  # frozen by the handler: skipped
