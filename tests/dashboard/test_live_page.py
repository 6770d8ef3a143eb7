"""The live dashboard in headless Chromium, beside a running agent: the page follows the sweep.

The agent runs ``crafted_paced``, which logs an epoch only when the test allows it (the file
``$TEST_GATE``), so the test knows what the store holds when it looks at the page. On a
failure the page's screenshot is saved under ``test-artifacts/`` (or ``$TEST_ARTIFACTS``) and
its path is in the failure message.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chromium import Browser, find_chromium
from tests.conftest import ROOT, subprocess_env
from tests.dashboard.conftest import CRAFTED_SWEEP, kerasweep, write_config
from tests.local.helpers import function

CHROMIUM = find_chromium()
# screenshots of failures: kept after the run ($TEST_ARTIFACTS, else test-artifacts/)
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS") or Path(ROOT) / "test-artifacts")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)"),
]

# [run name, state, epochs] per leaderboard row, read as the user sees the table
BOARD = """(function () {
  var board = document.getElementById("leaderboard");
  if (!board) { return null; }
  var heads = [].map.call(board.tHead.rows[0].cells, function (c) { return c.textContent; });
  var state = heads.indexOf("State"), epochs = heads.indexOf("Epochs");
  return [].map.call(board.tBodies[0].rows, function (r) {
    return [r.cells[1].querySelector(".run-name").textContent,
            r.cells[state].textContent, Number(r.cells[epochs].textContent)];
  });
})()"""
STOP_MARKS = """(function () {
  var curves = document.getElementById("curves");
  var marks = (curves.data || []).filter(function (t) {
    return t.name === "stopped by hyperband";
  });
  return marks.length ? marks[0].x.length : 0;
})()"""

RENDERED = "document.documentElement.getAttribute('data-rendered') === 'true'"
# what a failure message shows of the page: its address, script state and requests
PAGE_STATE = """JSON.stringify({url: location.href,
  rendered: document.documentElement.getAttribute("data-rendered"),
  updates: document.documentElement.getAttribute("data-updates"),
  live: (document.getElementById("kw-live") || {}).textContent,
  requests: performance.getEntriesByType("resource").map(function (e) {
    return [e.name, Math.round(e.startTime), Math.round(e.duration), e.responseStatus];
  })})"""


def _start(args: list[str], cwd: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kerasweep", *args],
        cwd=cwd,
        env=subprocess_env(WANDB_MODE="disabled", **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _epochs_of(rows: list | None, run: str) -> int | None:
    return next((epochs for name, _, epochs in rows or [] if name == run), None)


@pytest.mark.slow
def test_the_page_follows_a_running_agent_without_a_reload(tmp_path):
    db = tmp_path / "kerasweep.db"
    created = kerasweep(
        "sweep", str(write_config(tmp_path, CRAFTED_SWEEP)), "--db", str(db), cwd=tmp_path
    )
    sweep_id = created.stdout.strip()  # `kerasweep sweep` prints the id alone
    gate = tmp_path / "gate"
    gate.write_text("1")  # the first run may log one epoch

    server = _start(["serve", sweep_id, "--db", str(db), "--port", "0"], tmp_path)
    agent = None
    browser = Browser(CHROMIUM, tmp_path / "profile")
    shot = ARTIFACTS / f"dashboard-{sweep_id}.png"
    try:
        url = re.search(r"(http://\S+)", server.stdout.readline()).group(1)
        agent = _start(
            ["agent", sweep_id, "--db", str(db), "--function", function("crafted_paced")],
            tmp_path,
            TEST_GATE=str(gate),
        )
        # the agent says where the dashboard is: the one serving its store
        assert agent.stdout.readline().strip() == f"Dashboard: {url}"

        browser.goto(url)
        browser.wait_for(RENDERED)
        first = f"{sweep_id}-1"
        rows = browser.wait_for(f"(function(r){{return r && r.length && r}})({BOARD})")
        browser.wait_for(f"{BOARD}[0][2] === 1")
        # marks that a reload or a redraw would wipe out
        browser.evaluate("window.kwSameDocument = true")
        browser.evaluate("document.querySelector('[data-part=config] pre').kwKept = true")
        browser.evaluate("document.querySelector('#leaderboard').kwKept = true")

        gate.write_text("3")  # the first run logs epochs 2 and 3
        browser.wait_for(f"{BOARD}[0][2] === 3", timeout=60)
        rows = browser.evaluate(BOARD)
        assert rows[0][:2] == [first, "running"], rows
        assert browser.evaluate("window.kwSameDocument === true")  # no reload
        # the leaderboard was redrawn, the unchanged config was not
        assert browser.evaluate("document.querySelector('#leaderboard').kwKept") is None
        assert browser.evaluate("document.querySelector('[data-part=config] pre').kwKept")

        gate.write_text("100")  # the rest of the sweep: the second run falls behind at band 2
        browser.wait_for(f"{STOP_MARKS} >= 1", timeout=90)
        some_stopped = "r.some(function (x) { return x[1] === 'stopped'; }) && r"
        rows = browser.wait_for(f"(function (r) {{ return {some_stopped}; }})({BOARD})")
        stopped = [name for name, state, _ in rows if state == "stopped"]
        assert f"{sweep_id}-2" in stopped, rows
        assert _epochs_of(rows, f"{sweep_id}-2") == 2
        assert browser.evaluate("window.kwSameDocument === true")
        assert agent.wait(timeout=120) == 0
        assert browser.wait_for(f"{BOARD}.every(function (r) {{ return r[1] !== 'running'; }})")
        assert (
            browser.evaluate("document.documentElement.getAttribute('data-render-error')") is None
        )
        # the list of sweeps: this one, finished
        browser.goto(url.split("/sweeps/")[0] + "/")
        listed = "document.getElementById('sweeps').innerText"
        text = browser.wait_for(
            f"(function (t) {{ return t.indexOf('finished') >= 0 && t; }})({listed})"
        )
        assert sweep_id in text
        polled = "document.getElementById('kw-live').textContent.indexOf('live · checked') === 0"
        browser.wait_for(f"{RENDERED} && {polled}")  # its script runs and has polled
        # the dashboard goes away: the page says so and keeps what it showed
        server.terminate()
        assert server.wait(timeout=30) == 0
        status = "document.getElementById('kw-live')"
        browser.wait_for(f"{status}.className === 'live bad'", timeout=30)
        assert browser.evaluate(f"{status}.textContent").startswith("not reachable, retrying")
        assert sweep_id in browser.evaluate(listed)
    except Exception as err:
        try:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            browser.screenshot(shot)
            shot = f"{shot}\npage: {browser.evaluate(PAGE_STATE)}"
        except Exception as shot_err:  # the browser itself broke
            shot = f"no screenshot: {shot_err!r}"
        output = ""
        for proc in (server, agent):
            if proc is not None and proc.poll() is not None:
                output += proc.stdout.read()
        raise AssertionError(f"{err}\nscreenshot: {shot}\noutput:\n{output[-3000:]}") from err
    finally:
        browser.close()
        for proc in (agent, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
