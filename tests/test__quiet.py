"""kerasweep._quiet: TensorFlow's start-up lines kept out of a notebook."""

from __future__ import annotations

import pytest

from kerasweep._quiet import in_notebook


def test_a_script_or_a_test_is_not_a_notebook():
    assert not in_notebook()


@pytest.mark.slow
def test_a_kerasweep_name_that_imports_tensorflow_first_quiets_it_in_a_notebook(tmp_path):
    from tests.notebook_kernel import code_cell, outputs, run_notebook

    nb = run_notebook(
        [
            code_cell("import os, sys\nimport kerasweep\nkerasweep.build_mlp"),
            code_cell('"tensorflow" in sys.modules, os.environ.get("TF_CPP_MIN_LOG_LEVEL")'),
        ],
        tmp_path,
    )
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "(True, '3')"
    assert not outputs(nb, "stderr")


@pytest.mark.slow
def test_a_log_level_the_user_set_is_kept(tmp_path):
    from tests.notebook_kernel import code_cell, run_notebook

    nb = run_notebook(
        [
            code_cell('import os\nos.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"\n'),
            code_cell("import kerasweep\nkerasweep.build_mlp\nos.environ['TF_CPP_MIN_LOG_LEVEL']"),
        ],
        tmp_path,
    )
    (result,) = [o for o in nb.cells[1].outputs if o["output_type"] == "execute_result"]
    assert result["data"]["text/plain"] == "'1'"  # and TensorFlow's lines show, as asked
