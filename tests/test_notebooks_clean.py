"""Every committed notebook follows the course's conventions (see DESIGN.md).

Outputs and execution counts cleared; cell 1 a markdown title with its recorded run times (the
sentence between ``<!-- runtime:begin -->`` and ``<!-- runtime:end -->``, written by ``make results``);
cell 2 the ``parameters`` cell reading ``fast_mode()``; at least one assert cell;
headline figures recorded under the notebook's own name; exercises marked for nbgrader.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request):
    path = request.param
    return path, json.loads(path.read_text(encoding="utf-8"))


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def test_committed_without_outputs(notebook):
    path, nb = notebook
    dirty = [
        i for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; clear them before committing"


def test_valid_nbformat_with_unique_cell_ids(notebook):
    path, nb = notebook
    ids = [cell.get("id") for cell in nb["cells"]]
    missing = [i for i, cell_id in enumerate(ids) if not cell_id]
    assert not missing, f"{path.name}: cells {missing} have no id (nbformat 4.5 asks one per cell)"
    assert len(set(ids)) == len(ids), f"{path.name}: cell ids repeat"
    nbformat.validate(copy.deepcopy(nb))  # raises on a malformed notebook (and would fill in missing ids silently)


def test_title_and_parameters_cells(notebook):
    path, nb = notebook
    first, second = nb["cells"][0], nb["cells"][1]
    assert first["cell_type"] == "markdown", f"{path.name}: cell 1 must be the markdown title"
    assert _source(first).startswith("# "), f"{path.name}: cell 1 must start with a '# ' title"
    assert re.search(r"^<!-- runtime:begin -->\n\*\*Run time\*\*.*full mode.*fast mode.*\n<!-- runtime:end -->$",
                     _source(first), flags=re.M), (
        f"{path.name}: cell 1 must state its recorded run times in full and fast mode (make results writes them), "
        "on a line of its own between the two markers (a line that starts with a comment is not read as Markdown)"
    )
    assert second["cell_type"] == "code", f"{path.name}: cell 2 must be the parameters code cell"
    tags = second.get("metadata", {}).get("tags", [])
    assert "parameters" in tags, f"{path.name}: cell 2 must be tagged 'parameters'"
    assert "fast_mode()" in _source(second), f"{path.name}: cell 2 must derive its knobs from cvlib.config.fast_mode()"


def test_checks_itself_and_records_figures(notebook):
    path, nb = notebook
    code = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "code")
    assert "assert " in code, f"{path.name}: no assert cell checks the results"
    recorded = re.search(rf'record\(\s*"{re.escape(path.stem)}"', code)
    assert recorded, f'{path.name}: record headline figures as record("{path.stem}", ...)'


def test_has_nbgrader_exercises(notebook):
    path, nb = notebook
    solutions = [c for c in nb["cells"] if "### BEGIN SOLUTION" in _source(c)]
    assert solutions, f"{path.name}: no exercise marked with ### BEGIN SOLUTION / ### END SOLUTION"
    for cell in solutions:
        assert "### END SOLUTION" in _source(cell), f"{path.name}: a BEGIN SOLUTION without its END SOLUTION"
