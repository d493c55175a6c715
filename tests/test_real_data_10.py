"""Notebook 10 (SiamFC) switched to OTB-100: the same cells run on a miniature in the published layout."""

from __future__ import annotations

import ast
import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from miniatures import write_otb
from real_data_runs import NOTEBOOK_DIR, assert_runs, run_on_miniature

from cvlib.data.download import SYNTHETIC, dataset_root, download

NOTEBOOK = "10_siamfc_tracking"
REAL = ("otb100",)


def write_otb_for_notebook(root: Path) -> Path:
    """The OTB miniature without David: its David annotates frames 4-6 of six to test the loader's ``frames=``,
    where the real David's range (300-770) is one the loader knows, so the notebook reads the real one as it is."""
    write_otb(root)
    shutil.rmtree(Path(root) / "David")
    return Path(root)


PARAMS = None


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


def test_the_notebook_offers_otb100_and_defaults_to_generated_data():
    nb = json.loads((NOTEBOOK_DIR / f"{NOTEBOOK}.ipynb").read_text(encoding="utf-8"))
    assert f'DATASET = "{SYNTHETIC}"' in "".join(nb["cells"][1]["source"]), "the parameters cell sets DATASET"
    assert _notebook_real() == REAL


def test_an_unknown_dataset_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="imagenet") as err:
        dataset_root("imagenet", real=_notebook_real())
    for name in (SYNTHETIC, *REAL):
        assert repr(name) in str(err.value)


def test_the_miniature_is_in_the_layout_download_expects(tmp_path):
    write_otb_for_notebook(tmp_path / "otb100")
    assert download("otb100", root=tmp_path / "otb100").root == tmp_path / "otb100"


@pytest.mark.slow
def test_runs_on_a_miniature_of_otb100(tmp_path):
    result = run_on_miniature(NOTEBOOK, "otb100", write_otb_for_notebook, tmp_path, params=PARAMS)
    assert_runs(result, NOTEBOOK, "otb100")
