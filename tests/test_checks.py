"""The shared input checks behind every public function: empty is fine, a wrong shape is not."""

from __future__ import annotations

import numpy as np
import pytest

from cvlib import _checks, boxes


@pytest.mark.parametrize("empty", [[], np.zeros((0, 4))])
def test_no_boxes_is_an_empty_result(empty):
    assert boxes.iou(empty, [[0, 0, 1, 1]]).shape == (0, 1)
    assert boxes.area(empty).shape == (0,)


@pytest.mark.parametrize("shape", [(5, 0), (0, 3), (0, 4, 1), (4,)])
def test_empty_or_flat_arrays_of_the_wrong_shape_are_rejected(shape):
    with pytest.raises(ValueError, match="boxes1"):
        boxes.iou(np.zeros(shape), [[0, 0, 1, 1]])


def test_vector_rejects_two_dimensional_input_even_when_empty():
    with pytest.raises(ValueError, match="scores: expected a 1-D array"):
        _checks.vector(np.zeros((1, 0)), "scores")


@pytest.mark.parametrize("value", [0, 0.5, 1, np.float32(0.25), np.array(0.75)])
def test_probability_accepts_numbers_and_0d_arrays(value):
    assert _checks.probability(value, "p") == pytest.approx(float(value))


@pytest.mark.parametrize("value", [-0.1, 1.5, np.nan, "0.5", [0.5], np.array([0.5])])
def test_probability_rejects_everything_else(value):
    with pytest.raises(ValueError, match="p: expected a number in"):
        _checks.probability(value, "p")
