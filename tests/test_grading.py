"""cvlib.grading.forbid: a check can prove the student's own code computed the answer."""

from __future__ import annotations

import numpy as np
import pytest

from cvlib import boxes, grading
from cvlib.grading import UsedForbiddenFunction

iou = boxes.iou  # a name bound in this module's globals, as `from cvlib.boxes import iou` would


def own_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def library_iou(a, b):
    return float(boxes.iou([a], [b])[0, 0])


def imported_iou(a, b):
    return float(iou([a], [b])[0, 0])


def test_own_code_passes_and_library_calls_fail_however_they_are_reached():
    with grading.forbid(boxes.iou):
        assert own_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
        with pytest.raises(UsedForbiddenFunction, match=r"cvlib\.boxes\.iou"):
            library_iou((0, 0, 10, 10), (5, 0, 15, 10))
        with pytest.raises(UsedForbiddenFunction):
            imported_iou((0, 0, 10, 10), (5, 0, 15, 10))


def test_everything_is_put_back_even_after_a_failure():
    original = boxes.iou
    with pytest.raises(UsedForbiddenFunction), grading.forbid(boxes.iou):
        library_iou((0, 0, 1, 1), (0, 0, 1, 1))
    assert boxes.iou is original and iou is original
    np.testing.assert_allclose(boxes.iou([[0, 0, 1, 1]], [[0, 0, 1, 1]]), [[1.0]])


def test_a_failure_is_an_assertion_error_so_graders_count_it_as_a_failed_check():
    assert issubclass(UsedForbiddenFunction, AssertionError)


def test_explicit_namespace_covers_names_bound_there():
    notebook = {"my_iou": boxes.iou}
    with grading.forbid(boxes.iou, namespace=notebook):
        with pytest.raises(UsedForbiddenFunction):
            notebook["my_iou"]([[0, 0, 1, 1]], [[0, 0, 1, 1]])
    assert notebook["my_iou"] is boxes.iou


@pytest.mark.parametrize("bad", [(), (3,), ("boxes.iou",)])
def test_bad_arguments_name_functions(bad):
    with pytest.raises(ValueError, match="functions"):
        with grading.forbid(*bad):
            pass


class Transform:
    """A class whose classmethod computes the answer, as skimage's SimilarityTransform.from_estimate does."""

    @classmethod
    def from_estimate(cls, points):
        return cls()


def test_a_forbidden_class_cannot_be_built_nor_reached_into():
    with grading.forbid(Transform, namespace=globals()):
        with pytest.raises(UsedForbiddenFunction, match=r"Transform\.from_estimate"):
            Transform.from_estimate(None)
        with pytest.raises(UsedForbiddenFunction, match="Transform"):
            Transform()
        assert "forbidden" in repr(Transform)
    assert isinstance(Transform.from_estimate(None), Transform)
