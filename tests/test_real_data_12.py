"""Notebook 12 on PASCAL VOC 2007: the cells that load, train and evaluate run on a miniature of the real layout.

The miniature (``miniatures.write_voc``) has VOC's tree, XML and splits; 80 extra segmented images give the fast run
enough images for its batches, plots and test pictures. The unknown-name check reads the
notebook's own ``real=`` tuple, so it tests exactly what the notebook offers.
"""

from __future__ import annotations

import ast
import json
import re
from functools import partial

import miniatures
import pytest
from real_data_runs import NOTEBOOK_DIR, assert_runs, run_on_miniature

from cvlib.data.download import DATASETS, dataset_root, download

NOTEBOOK = "12_mask_rcnn"
REAL = ("voc2007",)


def _source() -> str:
    cells = json.loads((NOTEBOOK_DIR / f"{NOTEBOOK}.ipynb").read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_the_notebook_offers_voc2007_and_refuses_an_unknown_data_set_naming_the_known_ones():
    source = _source()
    assert re.search(r'^DATASET = "synthetic"', source, re.M), "the parameters cell must default to the generated data"
    real = ast.literal_eval(re.search(r"dataset_root\(DATASET, real=(\(.*?\))\)", source).group(1))
    assert real == REAL
    assert dataset_root("synthetic", real) is None
    with pytest.raises(ValueError, match="imagenet") as err:
        dataset_root("imagenet", real)
    assert all(repr(name) in str(err.value) for name in ("synthetic", *REAL)), str(err.value)


def test_the_miniature_has_the_registry_layout(tmp_path):
    root = tmp_path / "voc2007"
    miniatures.write_voc(root, extra=80)
    assert download("voc2007", root=root).root == root  # raises FileNotFoundError if a pattern matches nothing
    for pattern in DATASETS["voc2007"]["expected"]:
        assert list(root.glob(pattern)), pattern


@pytest.mark.slow
def test_runs_on_a_voc2007_miniature(tmp_path):
    result = run_on_miniature(NOTEBOOK, "voc2007", partial(miniatures.write_voc, extra=80), tmp_path)
    assert_runs(result, NOTEBOOK, "voc2007")
