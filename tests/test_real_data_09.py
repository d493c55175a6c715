"""Notebook 09 switched to Labeled Faces in the Wild (``DATASET = "lfw"``): it runs on a miniature of LFW.

The miniature (``miniatures.write_lfw``) holds LFW's 250 x 250 pictures, its 10-fold ``pairs.txt`` and, beside
the people named in the pairs, 16 more people with four pictures each, as a P x K batch of 16 people x 4
pictures needs, whom the notebook trains on since they appear in neither evaluated fold.
"""

from __future__ import annotations

import ast
import json
import re
from functools import partial
from pathlib import Path

import pytest
from miniatures import write_lfw
from real_data_runs import assert_runs, run_on_miniature

from cvlib.data.download import DATASETS, dataset_root, download

STEM = "09_face_verification"
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / f"{STEM}.ipynb"
write_lfw_for_training = partial(write_lfw, side=250, extra_people=16, extra_images=4)


def _real_names() -> tuple[str, ...]:
    """The ``real=`` tuple the notebook passes to ``dataset_root``, read from its source."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    parameters = "".join(cells[1]["source"])
    assert re.search(r'^DATASET = "synthetic" ', parameters, re.M), "the parameters cell must default to generated data"
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    found = re.findall(r"dataset_root\(DATASET, real=(\([^)]*\))\)", code)
    assert len(found) == 1, f"{NOTEBOOK.name}: expected one dataset_root(DATASET, real=(...)) call, found {found}"
    return ast.literal_eval(found[0])


def test_offers_lfw_and_refuses_an_unknown_data_set():
    real = _real_names()
    assert real == ("lfw",)
    with pytest.raises(ValueError, match="imagenet") as info:
        dataset_root("imagenet", real=real)
    assert "'synthetic'" in str(info.value) and "'lfw'" in str(info.value)
    assert dataset_root("synthetic", real=real) is None


def test_the_miniature_has_the_registry_layout(tmp_path):
    root = write_lfw_for_training(tmp_path / "lfw")
    assert download("lfw", root=root).root == root  # raises FileNotFoundError if a pattern matches nothing
    for pattern in DATASETS["lfw"]["expected"]:
        assert list(root.glob(pattern)), pattern


@pytest.mark.slow
def test_runs_on_an_lfw_miniature(tmp_path):
    assert_runs(run_on_miniature(STEM, "lfw", write_lfw_for_training, tmp_path), STEM, "lfw")
