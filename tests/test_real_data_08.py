"""Notebook 08 (Siamese losses) switched to Omniglot: the same cells run on a miniature in the published layout."""

from __future__ import annotations

import ast
import functools
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from miniatures import write_omniglot
from real_data_runs import NOTEBOOK_DIR, assert_runs, run_on_miniature

from cvlib.data.download import SYNTHETIC, dataset_root, download

NOTEBOOK = "08_siamese_losses"
REAL = ("omniglot",)
# two extra alphabets of 12 characters by all 20 drawers in each set: 24 training characters (a triplet batch takes
# 16), and the evaluation alphabets split into 12 validation and 12 test characters (the figure shows eight)
write_omniglot_for_notebook = functools.partial(write_omniglot, n=12)
PARAMS = {"STEPS_PER_EPOCH": 10, "EPISODES": 50}


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


def test_the_notebook_offers_omniglot_and_defaults_to_generated_data():
    nb = json.loads((NOTEBOOK_DIR / f"{NOTEBOOK}.ipynb").read_text(encoding="utf-8"))
    assert f'DATASET = "{SYNTHETIC}"' in "".join(nb["cells"][1]["source"]), "the parameters cell sets DATASET"
    assert _notebook_real() == REAL


def test_an_unknown_dataset_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="imagenet") as err:
        dataset_root("imagenet", real=_notebook_real())
    for name in (SYNTHETIC, *REAL):
        assert repr(name) in str(err.value)


def test_the_miniature_is_in_the_layout_download_expects(tmp_path):
    write_omniglot_for_notebook(tmp_path / "omniglot")
    assert download("omniglot", root=tmp_path / "omniglot").root == tmp_path / "omniglot"


@pytest.mark.slow
def test_runs_on_a_miniature_of_omniglot(tmp_path):
    result = run_on_miniature(NOTEBOOK, "omniglot", write_omniglot_for_notebook, tmp_path, params=PARAMS)
    assert_runs(result, NOTEBOOK, "omniglot")
