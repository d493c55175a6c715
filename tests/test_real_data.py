"""Every notebook with a ``DATASET`` switch, on its real data set: offered, refused when unknown, and run.

Each notebook's parameters cell defaults to ``DATASET = "synthetic"``, and its ``dataset_root(DATASET, real=(...))``
call names the real data sets it can switch to. A miniature of each data set, written in the published layout
(``miniatures.py``), must be what ``download`` accepts as that data set, and each notebook must run every cell
on it in fast mode (``real_data_runs.py``). The miniatures are sized for the notebooks' fast runs: batches,
splits and the pictures each notebook draws.
"""

from __future__ import annotations

import ast
import json
import shutil
from functools import partial
from pathlib import Path

import miniatures
import pytest
from real_data_runs import NOTEBOOK_DIR, assert_runs, run_on_miniature

from cvlib.data.download import DATASETS, SYNTHETIC, dataset_root, download


def _otb_without_david(root) -> Path:
    """The OTB miniature without David: it annotates David's frames 4-6 to test the loader's ``frames=``, while
    the loader knows the real David's evaluated range (300-770), so a notebook reads that sequence as it is."""
    miniatures.write_otb(root)
    shutil.rmtree(Path(root) / "David")
    return Path(root)


WRITERS = {  # data set -> the miniature a notebook's fast run needs
    "voc2007": partial(miniatures.write_voc, extra=80),
    "mosmeddata": partial(miniatures.write_mosmed, extra=22),  # 24 scans, no lesion masks, rotated affines
    "ibug300w": partial(miniatures.write_300w, layout="dlib", per_part=6),  # 12 training faces are plotted
    "omniglot": partial(miniatures.write_omniglot, n=12),
    "lfw": partial(miniatures.write_lfw, side=250, extra_people=16, extra_images=4),  # one batch: 16 people x 4
    "otb100": _otb_without_david,
    "oxford_pets": partial(miniatures.write_pets, n=24),
}
# notebook -> (its real data sets, parameters that fit its fast run to a miniature). Only that every cell runs on
# the data set's layout is checked, so training is cut to the fewest steps each notebook's cells accept.
NOTEBOOKS = {
    "02_localization": (("voc2007",), {"CLASSIFIER_EPOCHS": 1, "LOCALIZER_EPOCHS": 1}),
    "04_rcnn_family": (("voc2007",), {"FAST_RCNN_EPOCHS": 1, "FASTER_RCNN_EPOCHS": 2, "TIMING_IMAGES": 2,
                                      "REAL_IMAGES": 32}),  # 32 images of each split: four batches of 8
    "05_yolo": (("voc2007",), {"EPOCHS": 2}),  # one epoch of warm-up, one of decay
    "06_3d_cnn_ct": (("mosmeddata",), {"EPOCHS": 2}),
    "07_facial_keypoints": (("ibug300w",), {"EPOCHS": 1}),
    "08_siamese_losses": (("omniglot",), {"STEPS_PER_EPOCH": 10, "EPISODES": 50, "EPOCHS": 1}),
    "09_face_verification": (("lfw",), {"LANDMARK_EPOCHS": 1, "EMB_STEPS": 5}),
    "10_siamfc_tracking": (("otb100",), {"EPOCHS": 1, "STEPS_PER_EPOCH": 5}),
    "11_unet_segmentation": (("oxford_pets",), {"PETS_VAL": 4, "EPOCHS": 1, "SMALL_STEPS": 2}),
    "12_mask_rcnn": (("voc2007",), {"EPOCHS": 1, "PRETRAIN_EPOCHS": 1}),
}
RUNS = [(notebook, dataset) for notebook, (real, _) in NOTEBOOKS.items() for dataset in real]


def _offered(notebook: str) -> tuple[str, ...]:
    """The ``real=`` tuple of the notebook's one ``dataset_root(DATASET, real=...)`` call (its DATASET defaults to
    synthetic)."""
    cells = json.loads((NOTEBOOK_DIR / f"{notebook}.ipynb").read_text(encoding="utf-8"))["cells"]
    assert f'DATASET = "{SYNTHETIC}"' in "".join(cells[1]["source"]), f"{notebook}: the parameters cell sets DATASET"
    calls = [node for cell in cells if cell["cell_type"] == "code" and "dataset_root(" in "".join(cell["source"])
             for node in ast.walk(ast.parse("".join(cell["source"])))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dataset_root"]
    assert len(calls) == 1, f"{notebook}: expected one dataset_root(DATASET, real=...) call, found {len(calls)}"
    return next(ast.literal_eval(k.value) for k in calls[0].keywords if k.arg == "real")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_a_notebook_offers_its_data_sets_and_refuses_an_unknown_one_naming_them(notebook):
    real = _offered(notebook)
    assert real == NOTEBOOKS[notebook][0]
    assert dataset_root(SYNTHETIC, real) is None
    with pytest.raises(ValueError, match="'imagenet'") as err:
        dataset_root("imagenet", real)
    assert all(repr(name) in str(err.value) for name in (SYNTHETIC, *real)), str(err.value)


@pytest.mark.parametrize("dataset", WRITERS)
def test_each_miniature_is_what_download_takes_for_the_data_set(dataset, tmp_path):
    root = tmp_path / dataset
    WRITERS[dataset](root)
    assert download(dataset, root=root).root == root
    for pattern in DATASETS[dataset]["expected"]:
        assert list(root.glob(pattern)), f"{dataset}: nothing matches {pattern}"


@pytest.mark.slow
@pytest.mark.parametrize(("notebook", "dataset"), RUNS, ids=[f"{n}-{d}" for n, d in RUNS])
def test_every_cell_runs_on_a_miniature(notebook, dataset, tmp_path):
    result = run_on_miniature(notebook, dataset, WRITERS[dataset], tmp_path, params=NOTEBOOKS[notebook][1])
    assert_runs(result, notebook, dataset)
    figures = json.loads((tmp_path / "figures" / f"{notebook}.json").read_text())
    assert figures["dataset"] == dataset, "the run records the data set its figures were measured on"
    if dataset == "mosmeddata":
        assert figures["scans"] == 24 and "gradcam_lesion_lift" not in figures, "no lesion masks, no Grad-CAM ratio"
