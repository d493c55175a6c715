"""Notebook 11 (U-Net) switched to Oxford-IIIT Pet: the same cells run on a miniature in the published layout."""

from __future__ import annotations

import ast
import functools
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from miniatures import write_pets
from real_data_runs import NOTEBOOK_DIR, assert_runs, run_on_miniature

from cvlib.data.download import SYNTHETIC, dataset_root, download

NOTEBOOK = "11_unet_segmentation"
REAL = ("oxford_pets",)
# 24 extra photos: 18 in the trainval list (4 for validation, 14 for training), 9 in the test list, so every
# figure of six photos and every batch has what it needs
write_pets_for_notebook = functools.partial(write_pets, n=24)
PARAMS = {"PETS_VAL": 4}


def _notebook_real() -> tuple[str, ...]:
    """The ``real=`` tuple of the notebook's ``dataset_root(DATASET, real=...)`` call."""
    nb = json.loads((NOTEBOOK_DIR / f"{NOTEBOOK}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or "dataset_root(" not in "".join(cell["source"]):
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dataset_root":
                return next(ast.literal_eval(k.value) for k in node.keywords if k.arg == "real")
    raise AssertionError(f"{NOTEBOOK}: no dataset_root(DATASET, real=...) call")


def test_the_notebook_offers_oxford_pets_and_defaults_to_generated_data():
    nb = json.loads((NOTEBOOK_DIR / f"{NOTEBOOK}.ipynb").read_text(encoding="utf-8"))
    assert f'DATASET = "{SYNTHETIC}"' in "".join(nb["cells"][1]["source"]), "the parameters cell sets DATASET"
    assert _notebook_real() == REAL


def test_an_unknown_dataset_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="imagenet") as err:
        dataset_root("imagenet", real=_notebook_real())
    for name in (SYNTHETIC, *REAL):
        assert repr(name) in str(err.value)


def test_the_miniature_is_in_the_layout_download_expects(tmp_path):
    write_pets_for_notebook(tmp_path / "oxford_pets")
    assert download("oxford_pets", root=tmp_path / "oxford_pets").root == tmp_path / "oxford_pets"


@pytest.mark.slow
def test_runs_on_a_miniature_of_oxford_pets(tmp_path):
    result = run_on_miniature(NOTEBOOK, "oxford_pets", write_pets_for_notebook, tmp_path, params=PARAMS)
    assert_runs(result, NOTEBOOK, "oxford_pets")
