"""Notebook 06 on real CT scans: ``DATASET = "mosmeddata"`` reads MosMedData's folders with the same cells."""

from __future__ import annotations

import json
import re

import pytest
from miniatures import write_mosmed
from real_data_runs import NOTEBOOK_DIR, assert_runs, run_on_miniature

from cvlib.data.download import dataset_root

NOTEBOOK = "06_3d_cnn_ct"


def _offered() -> tuple[str, ...]:
    """The real data sets the notebook's ``dataset_root(DATASET, real=(...))`` call offers."""
    cells = json.loads((NOTEBOOK_DIR / f"{NOTEBOOK}.ipynb").read_text())["cells"]
    source = "".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    match = re.search(r"dataset_root\(DATASET, real=\(([^)]*)\)\)", source)
    assert match, "the notebook chooses its data with dataset_root(DATASET, real=(...))"
    return tuple(re.findall(r'"([^"]+)"', match.group(1)))


def test_the_notebook_offers_mosmeddata_and_names_it_for_an_unknown_data_set():
    assert _offered() == ("mosmeddata",)
    with pytest.raises(ValueError, match="known: 'synthetic', 'mosmeddata'"):
        dataset_root("lidc", _offered())


@pytest.mark.slow
def test_every_cell_runs_on_a_miniature_of_mosmeddata(tmp_path):
    # 24 scans (12 per class) in MosMedData's layout, with rotated affines and no lesion masks, as the real subset
    result = run_on_miniature(NOTEBOOK, "mosmeddata", lambda root: write_mosmed(root, extra=22), tmp_path)
    assert_runs(result, NOTEBOOK, "mosmeddata")
    figures = json.loads((tmp_path / "figures" / f"{NOTEBOOK}.json").read_text())
    assert figures["dataset"] == "mosmeddata" and figures["scans"] == 24
    assert "gradcam_lesion_lift" not in figures, "the subset has no masks, so no concentration is measured"
