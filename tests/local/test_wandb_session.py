"""kerasweep.local._wandb_session: one wandb service for an agent's runs, fresh settings each."""

from __future__ import annotations

import os
import threading

import pytest
import wandb
from wandb.sdk import wandb_setup

from kerasweep.local import local_agent, local_sweep
from kerasweep.local._store import Store
from kerasweep.local._wandb_session import AgentSession, forget_settings, shared_package_list
from tests.conftest import fresh_python

GRID = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"a": {"values": [1, 2, 3]}},
}


def _service() -> str:
    """Which wandb service this process talks to (its token: the process id and address)."""
    return os.environ["WANDB_SERVICE"]


def _recording(seen: list[dict], fail_on: int | None = None):
    """A sweep function that notes what each run saw; raises for ``a == fail_on``."""

    def function():
        run = wandb.init(config={"a": 0})
        seen.append(
            {
                "id": run.id,
                "a": wandb.config.a,
                "group": run.group,
                "name": run.name,
                "notes": run.notes,
                "service": _service(),
            }
        )
        # changed by the function: the next run's wandb.init must read it again
        os.environ["WANDB_NOTES"] = f"after {run.id}"
        if wandb.config.a == fail_on:
            raise ValueError("planned failure")
        wandb.log({"val_loss": float(wandb.config.a)})

    return function


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_NOTES", raising=False)


@pytest.mark.slow
def test_runs_share_the_service_and_read_their_own_settings(db, offline):
    seen: list[dict] = []
    sweep_id = local_sweep(GRID, db=db)
    result = local_agent(sweep_id, _recording(seen), db=db)
    runs = Store(db).runs(sweep_id)
    assert [s["id"] for s in seen] == [r.id for r in runs] == result.run_ids
    assert [s["a"] for s in seen] == [1, 2, 3]
    assert all(s["group"] == f"sweep-{sweep_id}" for s in seen)
    assert [s["name"] for s in seen] == [r.name for r in runs]
    # settings come from the environment as it is at each run, not as at the first
    assert [s["notes"] for s in seen] == [None] + [f"after {s['id']}" for s in seen[:-1]]
    assert len({s["service"] for s in seen}) == 1
    assert wandb_setup._singleton is None  # torn down when the agent ended


@pytest.mark.slow
def test_a_disabled_run_has_the_local_runs_id_name_and_group(db):
    """``--wandb-mode disabled``: the function's wandb run still is the local run."""
    seen: list[tuple] = []

    def function():
        run = wandb.init(config={"a": 0})
        seen.append((run.id, run.name, run.group, wandb.config.a))
        wandb.log({"val_loss": float(wandb.config.a)})

    sweep_id = local_sweep(GRID, db=db)
    local_agent(sweep_id, function, db=db, wandb_mode="disabled")
    runs = Store(db).runs(sweep_id)
    assert seen == [(r.id, r.name, f"sweep-{sweep_id}", r.params["a"]) for r in runs]
    assert len(seen) == 3


@pytest.mark.slow
def test_a_wandb_init_after_the_agent_is_no_sweep_run(db, offline):
    sweep_id = local_sweep(GRID, db=db)
    result = local_agent(sweep_id, _recording([]), db=db, count=1)
    run = wandb.init(config={"a": 0})
    try:
        assert run.id not in result.run_ids
        assert run.config.a == 0 and not run.group
    finally:
        run.finish()
        wandb.teardown()


@pytest.mark.slow
def test_a_failed_run_gets_a_new_service_for_the_next(db, offline):
    seen: list[dict] = []
    sweep_id = local_sweep(GRID, db=db)
    result = local_agent(sweep_id, _recording(seen, fail_on=2), db=db)
    assert result.failed == 1
    assert [r.state for r in Store(db).runs(sweep_id)] == ["finished", "failed", "finished"]
    assert [s["a"] for s in seen] == [1, 2, 3]
    assert seen[0]["service"] == seen[1]["service"] != seen[2]["service"]


@pytest.mark.slow
def test_the_service_starts_while_the_agent_claims_its_first_run(db, offline, monkeypatch):
    started: list[tuple[str, str]] = []
    real_setup = wandb.setup

    def setup(*args, **kwargs):
        result = real_setup(*args, **kwargs)
        started.append((threading.current_thread().name, os.environ.get("WANDB_SERVICE", "")))
        return result

    monkeypatch.setattr(wandb, "setup", setup)
    seen: list[dict] = []
    sweep_id = local_sweep(GRID, db=db)
    local_agent(sweep_id, _recording(seen), db=db)
    # set up once, by the session's own thread; every run talked to that service
    assert [name for name, _ in started] == ["kerasweep-wandb-service"]
    assert {s["service"] for s in seen} == {started[0][1]}
    assert all(s["group"] == f"sweep-{sweep_id}" for s in seen)  # the runs' own settings


@pytest.mark.slow
def test_disabled_runs_start_no_service(db, monkeypatch):
    monkeypatch.delenv("WANDB_SERVICE", raising=False)
    calls = []
    monkeypatch.setattr(wandb, "setup", lambda *a, **k: calls.append(1))

    def function():
        wandb.init(config={"a": 0})
        wandb.log({"val_loss": float(wandb.config.a)})

    sweep_id = local_sweep(GRID, db=db)
    result = local_agent(sweep_id, function, db=db, wandb_mode="disabled")
    assert result.failed == 0 and calls == []
    assert "WANDB_SERVICE" not in os.environ


def test_the_early_service_starts_in_the_runs_mode(monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    seen = []
    monkeypatch.setattr(wandb, "setup", lambda settings=None: seen.append(settings.mode))
    AgentSession("offline").wait()
    assert seen == ["offline"]


@pytest.mark.slow
def test_a_service_that_fails_to_start_early_is_started_by_the_first_run(db, offline, monkeypatch):
    def failing_setup(*args, **kwargs):
        raise RuntimeError("no service today")

    monkeypatch.setattr(wandb, "setup", failing_setup)
    seen: list[dict] = []
    sweep_id = local_sweep(GRID, db=db)
    result = local_agent(sweep_id, _recording(seen), db=db)
    assert result.failed == 0 and [s["a"] for s in seen] == [1, 2, 3]
    assert len({s["service"] for s in seen}) == 1


def test_forget_settings_rereads_the_environment_and_keeps_the_service(offline, monkeypatch):
    monkeypatch.setenv("WANDB_RUN_GROUP", "first")
    wandb.teardown()  # a setup left by an earlier test (a disabled run's has no service)
    setup = wandb.setup()
    try:
        setup.ensure_service()
        service = _service()
        assert setup.settings.run_group == "first"
        monkeypatch.setenv("WANDB_RUN_GROUP", "second")
        forget_settings()
        assert wandb_setup.singleton().settings.run_group == "second"
        assert _service() == service
    finally:
        wandb.teardown()


@pytest.mark.slow
def test_the_package_list_is_read_once_per_agent(db, offline, monkeypatch):
    import wandb.util

    calls = []
    original = wandb.util.working_set

    def counted():
        calls.append(1)
        return original()

    monkeypatch.setattr(wandb.util, "working_set", counted)
    sweep_id = local_sweep(GRID, db=db)
    result = local_agent(sweep_id, _recording([]), db=db)
    assert len(calls) == 1
    assert wandb.util.working_set is counted  # put back
    files = [
        next(db.parent.glob(f"wandb/offline-run-*-{run_id}/files/requirements.txt"))
        for run_id in result.run_ids
    ]
    texts = {path.read_text() for path in files}
    assert len(files) == 3 and len(texts) == 1 and "wandb==" in texts.pop()


def test_shared_package_list_gives_the_same_packages_every_call():
    import wandb.util

    with shared_package_list():
        first = list(wandb.util.working_set())
        assert list(wandb.util.working_set()) == first and first


@pytest.mark.slow
def test_the_agents_runs_never_import_wandbs_launch_inputs(tmp_path):
    # a user's script in a new process: kerasweep only; each run's wandb.init would import
    # wandb.sdk.launch (slow once a run has imported TensorFlow) to apply staged inputs
    code = (
        "import sys\n"
        "from kerasweep import local_agent, local_sweep\n"
        "seen = []\n"
        "def function():\n"
        "    import wandb\n"
        "    wandb.init(config={'a': 0})\n"
        "    wandb.log({'val_loss': 1.0})\n"
        "    seen.append('wandb.sdk.launch.inputs.internal' in sys.modules)\n"
        f"sweep_id = local_sweep({GRID!r}, db='kerasweep.db')\n"
        "local_agent(sweep_id, function, count=2, db='kerasweep.db')\n"
        "print(seen)\n"
    )
    done = fresh_python("-c", code, cwd=tmp_path, WANDB_MODE="offline", WANDB_SILENT="true")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[False, False]"
