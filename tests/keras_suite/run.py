"""Keras' own model and trainer tests, with keras.Model swapped for GradientTapeModel.

The installed keras wheel ships its tests. This runs ``keras/src/models/*_test.py`` and
``keras/src/trainers/trainer_test.py``, all files in one pytest process in a shuffled order,
with GradientTapeModel in place of ``keras.Model`` (and its step methods in trainer_test's
Trainer; see ``swap.py``). Then, in a second process and in the same order, it runs as
shipped the tests that did not pass swapped (a test that passes swapped needs no baseline;
the rest are the few that need a backend or package this machine lacks). Every test that
passes as shipped must pass swapped, except those listed in :data:`NOT_APPLICABLE`, each
with the reason it cannot apply.

Usage::

    python -m tests.keras_suite.run [--seed N]

Exit status 0 when no test that passes as shipped fails swapped, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Tests that pass as shipped but test something a GradientTapeModel is not meant to be,
#: by node id (the part after "::"), with the reason.
NOT_APPLICABLE: dict[str, str] = {
    "FunctionalTest::test_basic_flow_multi_input": (
        "builds Keras' own Functional class directly, not through Model, then checks that it "
        "is a Model: swapped, that asks whether a keras Functional is a GradientTapeModel"
    ),
}


def keras_test_files() -> list[Path]:
    """The installed keras wheel's tests of keras/src/models/ and of the trainer."""
    import importlib.util

    spec = importlib.util.find_spec("keras")
    if spec is None or spec.origin is None:
        raise SystemExit("keras is not installed")
    src = Path(spec.origin).parent / "src"
    files = [*sorted((src / "models").glob("*_test.py")), src / "trainers" / "trainer_test.py"]
    missing = [str(f) for f in files if not f.exists()]
    if missing or len(files) < 2:
        raise SystemExit(f"the keras wheel does not ship its tests: {missing or src}")
    return files


def _pytest(
    files: list[Path], outcomes: Path, seed: int, swap: bool, only: Path | None = None
) -> int:
    """Run pytest on ``files``; its exit status (1: some tests failed)."""
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "tests.keras_suite.swap",
        "-W",
        "ignore",
        "--no-header",
        "--durations=10",
        "-o",
        "addopts=",
        # option=value: pytest takes a path given as its own argument for a test path when
        # it exists, and would find another rootdir, giving the tests other node ids
        f"--outcomes={outcomes}",
        "--shuffle",
        str(seed),
        *(["--swap"] if swap else []),
        *([f"--only={only}"] if only else []),
        *map(str, files),
    ]
    with open(outcomes.with_suffix(".log"), "w") as log:
        return subprocess.run(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        ).returncode


def _short(node_id: str) -> str:
    path, _, name = node_id.partition("::")
    return f"{Path(path).name}::{name}"


def compare(plain: dict[str, str], swapped: dict[str, str]) -> tuple[list[str], list[str]]:
    """(regressions, not applicable): tests that pass as shipped and not swapped."""
    regressions, not_applicable = [], []
    for node_id, outcome in sorted(plain.items()):
        if outcome != "passed" or swapped.get(node_id) == "passed":
            continue
        name = node_id.partition("::")[2]
        (not_applicable if name in NOT_APPLICABLE else regressions).append(node_id)
    return regressions, not_applicable


def _finished(outcomes: Path, status: int, name: str) -> bool:
    """True if a run wrote its outcomes and pytest ran its tests (status 0 or 1)."""
    if outcomes.exists() and status in (0, 1):
        return True
    print(outcomes.with_suffix(".log").read_text()[-3000:])
    print(f"keras suite: the {name} run did not finish (pytest exit status {status})")
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="the order both runs share")
    parser.add_argument("--keep", default=None, help="a folder for the outcomes and logs")
    args = parser.parse_args(argv)
    files = keras_test_files()
    out = Path(args.keep or tempfile.mkdtemp(prefix="keras-suite-"))
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    swapped_path, plain_path, only = out / "swapped.json", out / "plain.json", out / "only.json"
    status = _pytest(files, swapped_path, args.seed, swap=True)
    if not _finished(swapped_path, status, "swapped"):
        return 1
    swapped = json.loads(swapped_path.read_text())
    not_passing = sorted(node_id for node_id, outcome in swapped.items() if outcome != "passed")
    plain: dict[str, str] = {}
    if not_passing:
        only.write_text(json.dumps(not_passing))
        status = _pytest(files, plain_path, args.seed, swap=False, only=only)
        if not _finished(plain_path, status, "as-shipped"):
            return 1
        plain = json.loads(plain_path.read_text())
        if missing := sorted(set(not_passing) - set(plain)):
            print(f"keras suite: not run as shipped: {', '.join(map(_short, missing))}")
            return 1
    regressions, not_applicable = compare(plain, swapped)
    print(
        f"keras suite ({len(files)} files, seed {args.seed}, {time.monotonic() - started:.0f} s): "
        f"swapped, {len(swapped) - len(not_passing)} of {len(swapped)} tests pass; of the "
        f"{len(not_passing)} that do not, {len(regressions)} pass as shipped (regressions), "
        f"{len(not_applicable)} pass as shipped but do not apply, the rest fail or skip as "
        "shipped too"
    )
    for node_id in not_applicable:
        print(f"  not applicable: {_short(node_id)}: {NOT_APPLICABLE[node_id.partition('::')[2]]}")
    for node_id in regressions:
        print(f"  FAILS SWAPPED: {_short(node_id)}")
    if regressions:
        print(f"  (logs: {out})")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
