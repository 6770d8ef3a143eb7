"""examples/tensorflow-sweeps.ipynb: the tutorial notebook, run end to end in a real kernel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "tensorflow-sweeps.ipynb"

# what a noisy run shows: TensorFlow's C++ log lines, absl, wandb's banner and run summary
NOISE = re.compile(
    r"^[IWEF]\d{4} |oneDNN|cuInit|absl::|TF_ENABLE_ONEDNN_OPTS|"
    r"wandb: (Tracking run|Run history|Run summary|Syncing|View run|Find logs)|"
    r"Epoch \d+/\d+|\d+/\d+ \[[=>.]+\]|/step - ",
    re.MULTILINE,
)


def _texts(out: dict) -> str:
    if out["output_type"] == "stream":
        return out["text"]
    if out["output_type"] == "error":
        return "\n".join(out["traceback"])
    return "\n".join(str(v) for k, v in out.get("data", {}).items() if k.startswith("text/"))


def test_the_notebook_is_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.slow
def test_the_tutorial_notebook_runs_offline_quietly_and_shows_the_leaderboard(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from tests.notebook_kernel import outputs, run_notebook

    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = {"KERASWEEP_NOTEBOOK_RUNS": "2", "KERASWEEP_NOTEBOOK_EPOCHS": "3"}
    run_notebook(nb, tmp_path, env=env)
    (tmp_path / "executed.ipynb").write_text(nbformat.writes(nb))  # to look at on failure
    assert not outputs(nb, "stderr")
    everything = "\n".join(_texts(out) for out in outputs(nb))
    assert not NOISE.search(everything), NOISE.search(everything)

    displays = [out for out in outputs(nb) if out["output_type"] == "display_data"]
    assert len(displays) == 1  # the agent's one display, updated in place
    board = displays[0]["data"]
    assert "leaderboard" in board["text/html"] and board["text/html"].count("<tr>") == 3
    assert "2 runs; agent done" in board["text/plain"]

    results = {
        i: out["data"]
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if out["output_type"] == "execute_result"
    }
    sweep_cell = next(i for i, c in enumerate(nb.cells) if c.source.endswith("\nsweep"))
    assert results[sweep_cell]["text/plain"].startswith("<Sweep ")
    assert 'class="kerasweep-runs"' in results[sweep_cell]["text/html"]
    report_cell = next(i for i, c in enumerate(nb.cells) if "kerasweep.report(" in c.source)
    assert results[report_cell]["text/html"].startswith("<iframe srcdoc=")
    assert "Not logged in to W&B" in everything
