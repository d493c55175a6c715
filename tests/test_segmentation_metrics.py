"""Segmentation metrics: known masks, parity with keras.metrics.MeanIoU, empty and absent classes, bad input."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cvlib.metrics import segmentation as S

RNG = np.random.default_rng(0)


def _noisy_prediction(truth, num_classes, keep=0.7, rng=RNG):
    return np.where(rng.random(truth.shape) < keep, truth, rng.integers(0, num_classes, truth.shape))


# --------------------------------------------------------------------------- known masks


def test_known_binary_masks():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2, :2] = True  # 4 pixels
    b[:2, :3] = True  # 6 pixels, 4 shared
    assert S.mask_iou(a, b) == pytest.approx(4 / 6)
    assert S.mask_dice(a, b) == pytest.approx(2 * 4 / (4 + 6))
    assert S.mask_iou(a, ~a) == 0.0 and S.mask_dice(a, ~a) == 0.0


def test_two_empty_masks_agree_perfectly():
    empty = np.zeros((5, 7), bool)
    assert S.mask_iou(empty, empty) == 1.0
    assert S.mask_dice(empty, empty) == 1.0
    full = np.ones((5, 7), bool)
    assert S.mask_dice(empty, full) == 0.0


def test_known_label_maps():
    truth = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2]])
    pred = np.array([[0, 0, 0, 1], [0, 0, 1, 1], [2, 2, 2, 1]])
    cm = S.confusion_matrix(truth, pred, 3)
    assert cm.tolist() == [[4, 0, 0], [1, 3, 0], [0, 1, 3]]
    iou = S.per_class_iou(truth, pred, num_classes=3)
    assert np.allclose(iou, [4 / 5, 3 / 5, 3 / 4])
    assert S.mean_iou(truth, pred, num_classes=3) == pytest.approx(np.mean([4 / 5, 3 / 5, 3 / 4]))
    assert np.allclose(S.per_class_dice(truth, pred, num_classes=3), [8 / 9, 6 / 8, 6 / 7])
    assert S.pixel_accuracy(truth, pred, num_classes=3) == pytest.approx(10 / 12)


def test_dice_is_two_iou_over_one_plus_iou_class_by_class():
    truth = RNG.integers(0, 4, (3, 20, 20))
    pred = _noisy_prediction(truth, 4)
    iou = S.per_class_iou(truth, pred, num_classes=4)
    assert np.allclose(S.per_class_dice(truth, pred, num_classes=4), 2 * iou / (1 + iou))


def test_binary_mask_functions_equal_the_two_class_label_functions():
    a, b = RNG.random((2, 9, 11)) < 0.4
    assert S.mask_iou(a, b) == pytest.approx(S.per_class_iou(a, b, num_classes=2)[1])
    assert S.mask_dice(a, b) == pytest.approx(S.per_class_dice(a, b, num_classes=2)[1])


def test_scores_are_argmaxed_and_tensors_accepted():
    truth = RNG.integers(0, 3, (2, 6, 6))
    scores = RNG.normal(size=(2, 6, 6, 3))
    labels = scores.argmax(-1)
    assert np.array_equal(S.confusion_matrix(truth, scores, 3), S.confusion_matrix(truth, labels, 3))
    as_tensors = S.confusion_matrix(keras.ops.convert_to_tensor(truth), keras.ops.convert_to_tensor(scores), 3)
    assert np.array_equal(as_tensors, S.confusion_matrix(truth, labels, 3))


def test_functions_accept_a_confusion_matrix():
    truth = RNG.integers(0, 5, (4, 8, 8))
    pred = _noisy_prediction(truth, 5)
    cm = S.confusion_matrix(truth, pred, 5)
    assert np.allclose(S.per_class_iou(cm), S.per_class_iou(truth, pred, num_classes=5))
    assert S.dice(cm) == pytest.approx(S.dice(truth, pred, num_classes=5))
    assert S.pixel_accuracy(cm) == pytest.approx(np.mean(truth == pred))


# --------------------------------------------------------------------------- parity with Keras


@pytest.mark.parametrize("seed", range(5))
def test_equal_to_keras_mean_iou(seed):
    rng = np.random.default_rng(seed)
    num_classes = int(rng.integers(2, 8))
    truth = rng.integers(0, num_classes, (3, 17, 13))
    pred = _noisy_prediction(truth, num_classes, keep=rng.uniform(0.2, 0.9), rng=rng)
    if seed % 2:  # a class absent from both: Keras leaves it out of the mean, so must we
        truth[truth == num_classes - 1] = 0
        pred[pred == num_classes - 1] = 0
    reference = keras.metrics.MeanIoU(num_classes=num_classes)
    reference.update_state(truth, pred)
    assert np.array_equal(S.confusion_matrix(truth, pred, num_classes), np.asarray(reference.total_cm))
    assert S.mean_iou(truth, pred, num_classes=num_classes) == pytest.approx(float(reference.result()), abs=1e-6)
    per_class = keras.metrics.IoU(num_classes=num_classes, target_class_ids=[0])
    per_class.update_state(truth, pred)
    assert S.per_class_iou(truth, pred, num_classes=num_classes)[0] == pytest.approx(float(per_class.result()))


def test_equal_to_keras_with_ignored_pixels():
    truth = RNG.integers(0, 4, (2, 10, 10))
    pred = _noisy_prediction(truth, 4)
    truth[:, :3] = 255
    reference = keras.metrics.MeanIoU(num_classes=4, ignore_class=255)
    reference.update_state(truth, pred)
    assert S.mean_iou(truth, pred, num_classes=4, ignore_index=255) == pytest.approx(float(reference.result()))
    assert S.confusion_matrix(truth, pred, 4, ignore_index=255).sum() == 2 * 10 * 7


# --------------------------------------------------------------------------- absent classes and empty inputs


def test_absent_class_is_nan_and_left_out_of_the_means():
    truth = np.array([[0, 1], [1, 0]])
    iou = S.per_class_iou(truth, truth, num_classes=3)
    assert iou[:2].tolist() == [1.0, 1.0] and np.isnan(iou[2])
    assert S.mean_iou(truth, truth, num_classes=3) == 1.0
    assert S.dice(truth, truth, num_classes=3) == 1.0


def test_missed_or_hallucinated_class_counts_as_zero():
    truth = np.array([[0, 1], [1, 0]])
    pred = np.array([[0, 2], [2, 0]])
    iou = S.per_class_iou(truth, pred, num_classes=3)
    assert iou.tolist() == [1.0, 0.0, 0.0]


def test_empty_inputs_give_zeros_and_nan():
    empty = np.zeros((0, 8, 8), int)
    assert S.confusion_matrix(empty, empty, 4).tolist() == [[0] * 4] * 4
    assert np.isnan(S.per_class_iou(empty, empty, num_classes=4)).all()
    assert np.isnan(S.mean_iou(empty, empty, num_classes=4))
    assert np.isnan(S.pixel_accuracy(empty, empty, num_classes=4))
    assert np.isnan(S.boundary_f1(empty, empty, 4))


# --------------------------------------------------------------------------- boundary F1


def _square(size, lo, hi, label=1):
    m = np.zeros((size, size), int)
    m[lo:hi, lo:hi] = label
    return m


def test_boundary_f1_perfect_and_tolerance():
    truth = _square(20, 5, 15)
    assert S.boundary_f1(truth, truth, 2) == 1.0
    shifted = np.roll(truth, 1, axis=1)
    assert S.boundary_f1(truth, shifted, 2, tolerance=1) == 1.0  # one pixel off is within tolerance
    strict = S.boundary_f1(truth, shifted, 2, tolerance=0)
    assert 0 < strict < 1


def test_boundary_f1_ranks_a_ragged_edge_below_a_clean_one():
    truth = _square(32, 8, 24)
    rough = truth.copy()
    rough[8:24:2, 24] = 1  # a ragged edge: every other pixel sticks out
    rough[8:24:2, 25] = 1
    assert S.boundary_f1(truth, rough, 2, tolerance=1) < 1.0
    # a one-pixel-larger square moves the whole outline, but within tolerance (corners move by sqrt 2)
    assert S.boundary_f1(truth, _square(32, 7, 25), 2, tolerance=1.5) == 1.0
    assert S.boundary_f1(truth, _square(32, 7, 25), 2, tolerance=1) < 1.0
    # IoU barely notices the ragged edge; the boundary score does
    assert S.mean_iou(truth, rough, num_classes=2) > 0.95


def test_boundary_f1_missed_object_scores_zero_for_that_class():
    truth = _square(16, 4, 10)
    assert S.boundary_f1(truth, np.zeros_like(truth), 2) == pytest.approx(0.0)


def test_boundary_f1_counts_the_image_border_as_no_edge():
    full = np.ones((10, 10), int)
    assert np.isnan(S.boundary_f1(full, full, 2))  # no outline anywhere: nothing to score


def _boundary_f1_by_distance_transform(truth, pred, tolerance, ignore_index=None):
    """The textbook definition, one image and one class at a time (scipy's Euclidean distance transform)."""
    from scipy import ndimage

    def outline(mask):
        return mask & ~ndimage.binary_erosion(mask, border_value=1)

    scores = []
    for t, p in zip(truth, pred):
        for c in np.union1d(np.unique(t), np.unique(p)):
            if c == ignore_index:
                continue
            bt, bp = outline(t == c), outline(p == c)
            if not bt.any() and not bp.any():
                continue
            if not bt.any() or not bp.any():
                scores.append(0.0)
                continue
            precision = (ndimage.distance_transform_edt(~bt) <= tolerance)[bp].mean()
            recall = (ndimage.distance_transform_edt(~bp) <= tolerance)[bt].mean()
            scores.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(scores)) if scores else float("nan")


@pytest.mark.parametrize("tolerance", [0, 1, 1.5, 2, 3.2, 4, 6.5])
def test_boundary_f1_matches_the_distance_transform_definition(tolerance):
    rng = np.random.default_rng(int(tolerance * 10))
    from scipy import ndimage

    # blobby maps with 4 classes, one image where a class fills everything, one ignored label
    truth = ndimage.zoom(rng.integers(0, 4, (5, 6, 6)), (1, 6, 7), order=0)
    pred = np.where(rng.random(truth.shape) < 0.9, truth, rng.integers(0, 4, truth.shape))
    pred[1] = ndimage.shift(truth[1], (2, -1), order=0, mode="nearest")
    truth[2], pred[2] = 1, 1
    for ignore in (None, 3):
        expected = _boundary_f1_by_distance_transform(truth, pred, tolerance, ignore)
        got = S.boundary_f1(truth, pred, 4, tolerance=tolerance, ignore_index=ignore)
        assert got == pytest.approx(expected, abs=1e-12)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("truth", "pred", "num_classes", "match"),
    [
        (np.zeros((4, 4), int), np.zeros((4, 5), int), 3, "y_pred: expected the shape"),
        (np.zeros((2, 4, 4), int), np.zeros((4, 4), int), 3, "y_pred: expected the shape"),
        (np.full((4, 4), 3), np.zeros((4, 4), int), 3, r"y_true: labels must lie in \[0, 3\).*\[3\]"),
        (np.zeros((4, 4), int), np.full((4, 4), -1), 3, r"y_pred: labels must lie in \[0, 3\).*\[-1\]"),
        (np.full((4, 4), 0.5), np.zeros((4, 4), int), 3, "y_true: expected integer class labels"),
        (np.zeros((4, 4), int), np.zeros((4, 4), int), 0, "num_classes"),
        (np.zeros((4, 4), int), np.zeros((4, 4), int), 2.0, "num_classes"),
        ([["a"]], [[0]], 2, "y_true"),
    ],
)
def test_bad_label_maps(truth, pred, num_classes, match):
    with pytest.raises(ValueError, match=match):
        S.confusion_matrix(truth, pred, num_classes)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="mask_pred: expected the shape"):
        S.mask_dice(np.zeros((3, 3), bool), np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="mask_true: expected a binary mask"):
        S.mask_iou(np.full((3, 3), 2), np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="confusion: expected a square matrix"):
        S.per_class_iou(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="num_classes"):
        S.mean_iou(np.zeros((3, 3), int), np.zeros((3, 3), int))
    with pytest.raises(ValueError, match="tolerance"):
        S.boundary_f1(np.zeros((3, 3), int), np.zeros((3, 3), int), 2, tolerance=-1)
    with pytest.raises(ValueError, match="ignore_index"):
        S.confusion_matrix(np.zeros((3, 3), int), np.zeros((3, 3), int), 2, ignore_index=0.5)
    with pytest.raises(ValueError, match="y_true: expected label maps"):
        S.boundary_f1(np.zeros(5, int), np.zeros(5, int), 2)
