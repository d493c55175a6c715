"""Notebook 07 switched to iBUG 300-W (``DATASET = "ibug300w"``): it runs on a miniature in dlib's layout.

The miniature (``miniatures.write_300w(..., layout="dlib")``) holds a few faces in each of the six parts
the notebook reads (AFW, HELEN and LFPW training sets; HELEN and LFPW test sets; iBUG), so its split,
its held-out validation photographs and its per-subset figures all have something to work on.
"""

from __future__ import annotations

import ast
import json
import re
from functools import partial
from pathlib import Path

import pytest
from miniatures import write_300w
from real_data_runs import assert_runs, run_on_miniature

from cvlib.data.download import DATASETS, dataset_root, download

STEM = "07_facial_keypoints"
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / f"{STEM}.ipynb"
write_dlib_300w = partial(write_300w, layout="dlib", per_part=6)  # 12 training faces are plotted


def _real_names() -> tuple[str, ...]:
    """The ``real=`` tuple the notebook passes to ``dataset_root``, read from its source."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    parameters = "".join(cells[1]["source"])
    assert re.search(r'^DATASET = "synthetic" ', parameters, re.M), "the parameters cell must default to generated data"
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    found = re.findall(r"dataset_root\(DATASET, real=(\([^)]*\))\)", code)
    assert len(found) == 1, f"{NOTEBOOK.name}: expected one dataset_root(DATASET, real=(...)) call, found {found}"
    return ast.literal_eval(found[0])


def test_offers_300w_and_refuses_an_unknown_data_set():
    real = _real_names()
    assert real == ("ibug300w",)
    with pytest.raises(ValueError, match="imagenet") as info:
        dataset_root("imagenet", real=real)
    assert "'synthetic'" in str(info.value) and "'ibug300w'" in str(info.value)
    assert dataset_root("synthetic", real=real) is None


def test_the_miniature_has_the_registry_layout(tmp_path):
    root = write_dlib_300w(tmp_path / "ibug300w")
    found = download("ibug300w", root=root)  # raises FileNotFoundError if a pattern matches nothing
    assert found.root == root
    for pattern in DATASETS["ibug300w"]["expected"]:
        assert list(root.glob(pattern)), pattern


@pytest.mark.slow
def test_runs_on_a_300w_miniature(tmp_path):
    assert_runs(run_on_miniature(STEM, "ibug300w", write_dlib_300w, tmp_path), STEM, "ibug300w")
