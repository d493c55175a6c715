"""A model that learned nothing fails its notebook's fast-mode floor.

Each case runs one notebook in fast mode with a cell inserted that breaks learning (the training
labels shuffled, the targets replaced by constants...), and expects the run to fail at the check
of the named floor (``cvlib.report.check``), while the notebooks' own fast runs (``make test``)
show the unbroken model passing the same floor.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import execution

ROOT = Path(__file__).resolve().parent.parent

# (notebook, a line that occurs once in its code cells, code inserted after that cell, floor figure that must fail)
BROKEN = [
    (
        "17_3d_cnn_video",
        "x_train, y_train, CLASSES = generate_clips(N_TRAIN, frames=FRAMES, size=SIZE, seed=SEED)",
        "# every training clip gets another clip's motion class\n"
        "y_train[:] = y_train[np.random.default_rng(0).permutation(len(y_train))]",
        "test_accuracy_3d",
    ),
    (
        "07_facial_keypoints",
        "test = faces.render_faces(N_TEST, size=SIZE, seed=3)",
        "# every training face gets another face's landmarks\n"
        "train.landmarks[:] = train.landmarks[np.random.default_rng(0).permutation(N_TRAIN)]",
        "nme_regressor",
    ),
    (
        "13_dilated_convolutions",
        'assert (rf["dilated"] - 1) // 2 >= IMAGE_SIZE - 1, "the dilated network must see the whole image',
        "# each image's objects get a random class, whatever its beacon says\n"
        "broken = np.random.default_rng(0)\n"
        "for labels in train.labels:\n"
        "    labels[labels > 0] = broken.integers(1, NUM_LABELS)",
        "dilated_object_accuracy",
    ),
]


def insert_after(nb, anchor: str, code: str) -> int:
    """Insert a code cell holding ``code`` after the one code cell containing ``anchor``; return its index."""
    found = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and anchor in cell.source]
    if len(found) != 1:
        raise ValueError(f"anchor: expected once in the notebook's code cells, found {len(found)} times: {anchor!r}")
    nb.cells.insert(found[0] + 1, nbformat.v4.new_code_cell(code))
    return found[0] + 1


def test_insert_after_needs_a_unique_anchor():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in ("fit(x)", "fit(y)")])
    with pytest.raises(ValueError, match="found 2 times"):
        insert_after(nb, "fit(", "x = 0")
    assert insert_after(nb, "fit(y)", "y = 0") == 2 and nb.cells[2].source == "y = 0"


@pytest.mark.slow
@pytest.mark.parametrize(("notebook", "anchor", "breaking", "figure"), BROKEN, ids=[case[0] for case in BROKEN])
def test_a_broken_model_fails_the_fast_floor(notebook, anchor, breaking, figure, tmp_path):
    path = ROOT / "notebooks" / f"{notebook}.ipynb"
    nb = nbformat.read(path, as_version=4)
    insert_after(nb, anchor, breaking)
    env = {**os.environ, "CVLIB_FAST": "1", "CVLIB_REPORT_DIR": str(tmp_path)}
    result = execution.execute(nb, path.parent, cell_timeout=300, timeout=600, env=env)
    assert result.status == execution.FAILED, f"{notebook} with a broken model still passed: {result.detail}"
    assert f"{figure} = " in result.detail and "MISSED" in result.detail and "fast mode" in result.detail, (
        f"{notebook} must fail at its fast floor on {figure}, failed with: {result.detail}")
