"""cvlib.boxes against the references: tf.image.non_max_suppression and keras.utils.bounding_boxes.

NMS must return the *same* indices as TensorFlow (ties and boundary cases included), so the
random sets below are built to hit them: duplicated boxes, tied scores, integer coordinates,
thresholds equal to an IoU, score thresholds equal to a score, and float64 inputs that
TensorFlow rounds to float32.
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from cvlib import boxes as boxes_module  # noqa: E402 - after the environment is set for TensorFlow
from cvlib.boxes import (  # noqa: E402
    _columns,
    _iou_one_to_many_float32,
    _suppression_graph,
    _x_sweep,
    batched_nms,
    clip,
    convert_format,
    decode_deltas,
    encode_deltas,
    iou,
    nms,
)

FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh")
SETS_PER_KIND = 150


def tf_nms(boxes, scores, max_output=None, iou_threshold=0.5, score_threshold=-np.inf):
    """The reference: TensorFlow's NMS on the same xyxy boxes given as yxyx."""
    boxes = np.asarray(boxes)
    limit = len(boxes) if max_output is None else max_output
    yxyx = boxes[:, [1, 0, 3, 2]]
    return tf.image.non_max_suppression(yxyx, scores, limit, iou_threshold, score_threshold).numpy()


def random_set(kind: str, rng: np.random.Generator):
    """Boxes (xyxy) and scores of one random test set of the given kind."""
    n = int(rng.integers(1, 60))
    if kind == "integer_grid":  # exact coordinates: IoUs hit simple fractions such as 1/2 and 1/3
        xy = rng.integers(0, 12, (n, 2))
        wh = rng.integers(0, 6, (n, 2))
    elif kind == "clustered":  # a detector's output: many jittered boxes around a few objects
        centres = rng.uniform(0, 200, (4, 2))[rng.integers(0, 4, n)]
        sizes = rng.uniform(20, 60, (n, 2))
        xy = centres + rng.normal(0, 5, (n, 2)) - sizes / 2
        wh = sizes * rng.uniform(0.8, 1.2, (n, 2))
    elif kind == "duplicates":  # a few distinct boxes, each repeated several times
        base = rng.uniform(0, 50, (max(n // 3, 1), 4))
        rows = base[rng.integers(0, len(base), n)]
        xy, wh = rows[:, :2], np.abs(rows[:, 2:]) / 2
    else:  # "uniform": scattered float boxes, some degenerate
        xy = rng.uniform(0, 100, (n, 2))
        wh = rng.uniform(0, 40, (n, 2)) * (rng.uniform(size=(n, 1)) > 0.1)
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(float)
    if rng.uniform() < 0.5:
        scores = rng.integers(0, 4, n) / 4  # many ties
    elif rng.uniform() < 0.5:
        scores = 0.5 + rng.integers(0, 3, n) * 1e-12  # distinct in float64, tied in float32
    else:
        scores = rng.uniform(size=n)
    if rng.uniform() < 0.5:  # half the sets in float32, half in float64 for TensorFlow to round
        boxes, scores = boxes.astype(np.float32), scores.astype(np.float32)
    return boxes, scores


def random_options(boxes, scores, rng: np.random.Generator) -> dict:
    """iou_threshold, score_threshold and max_output, often on a boundary."""
    pairs = np.asarray(iou(boxes, boxes))[np.triu_indices(len(boxes), 1)]
    iou_choices = [0.0, 0.5, 1.0, 1 / 3, float(rng.uniform())]
    if pairs.size:
        iou_choices.append(float(rng.choice(pairs)))  # an IoU that occurs: the strictness decides
    options = {"iou_threshold": float(rng.choice(iou_choices))}
    if rng.uniform() < 0.4:
        options["score_threshold"] = float(rng.choice([*scores.tolist(), -1.0, 0.25]))
    if rng.uniform() < 0.4:
        options["max_output"] = int(rng.integers(0, len(boxes) + 2))
    return options


@pytest.mark.parametrize("kind", ["uniform", "integer_grid", "clustered", "duplicates"])
def test_nms_matches_tensorflow(kind):
    rng = np.random.default_rng(list(b"nms" + kind.encode()))
    for _ in range(SETS_PER_KIND):
        boxes, scores = random_set(kind, rng)
        options = random_options(boxes, scores, rng)
        expected = tf_nms(boxes, scores, **options)
        kept = nms(boxes, scores, **options)
        assert kept.dtype == np.int64
        np.testing.assert_array_equal(kept, expected, err_msg=f"{kind}: {options}\n{boxes.tolist()}\n{scores.tolist()}")


def test_nms_matches_tensorflow_when_the_threshold_is_exactly_an_iou():
    # Arbitrary float32 boxes, the threshold set to their float32 IoU (as TensorFlow computes it)
    # and to the float32 just below it: the box must survive the first and be suppressed by the second.
    rng = np.random.default_rng(7)
    scores = np.float32([0.9, 0.8])
    checked = 0
    for _ in range(400):
        scale = 10.0 ** rng.integers(-3, 3)  # tiny to large boxes: every rounding step shows somewhere
        xy = rng.uniform(0, 10, (2, 2)) * scale
        boxes = np.concatenate([xy, xy + rng.uniform(0.1, 10, (2, 2)) * scale], axis=1).astype(np.float32)
        x1, y1, x2, y2 = boxes.T
        columns = np.stack([x1, y1, x2, y2, (y2 - y1) * (x2 - x1)])
        exact = _iou_one_to_many_float32(columns[:, 0], columns[:, 1:])[0]
        if not 0 < exact < 1:
            continue
        for threshold in (exact, np.nextafter(exact, np.float32(0))):
            expected = tf_nms(boxes, scores, iou_threshold=threshold)
            np.testing.assert_array_equal(nms(boxes, scores, iou_threshold=float(threshold)), expected)
        checked += 1
    assert checked > 150


def test_nms_matches_tensorflow_on_many_boxes():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 500, (3000, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (3000, 2))], axis=1)
    scores = rng.integers(0, 50, 3000) / 50
    for threshold in (0.3, 0.7):
        np.testing.assert_array_equal(nms(boxes, scores, threshold), tf_nms(boxes, scores, iou_threshold=threshold))


@pytest.mark.parametrize("pairs_per_box", [-1, math.inf], ids=["one_by_one", "graph"])
def test_both_ways_of_suppressing_match_tensorflow(pairs_per_box, monkeypatch):
    # nms chooses between a loop over kept boxes and a graph of overlapping pairs; each alone must match.
    monkeypatch.setattr(boxes_module, "_GRAPH_PAIRS_PER_BOX", pairs_per_box)
    rng = np.random.default_rng(11)
    for kind in ("uniform", "integer_grid", "clustered", "duplicates"):
        for _ in range(SETS_PER_KIND // 3):
            boxes, scores = random_set(kind, rng)
            options = random_options(boxes, scores, rng)
            np.testing.assert_array_equal(nms(boxes, scores, **options), tf_nms(boxes, scores, **options),
                                          err_msg=f"{kind}: {options}")
    xy = rng.uniform(0, 300, (2000, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0, 80, (2000, 2))], axis=1)
    scores = rng.integers(0, 20, 2000) / 20
    np.testing.assert_array_equal(nms(boxes, scores, 0.4), tf_nms(boxes, scores, iou_threshold=0.4))


@pytest.mark.parametrize("kind", ["uniform", "integer_grid", "clustered", "duplicates"])
def test_the_suppression_graph_holds_every_pair_above_the_threshold(kind):
    # The graph prunes pairs that cannot overlap enough; it must still hold exactly the pairs that a
    # brute-force float32 IoU of every pair puts above the threshold, whatever its chunk size.
    rng = np.random.default_rng(list(b"graph" + kind.encode()))
    for _ in range(SETS_PER_KIND // 3):
        boxes, _ = random_set(kind, rng)
        columns = _columns(boxes.astype(np.float32))
        i, j = np.triu_indices(columns.shape[1], 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            pair_iou = _iou_one_to_many_float32(columns[:, i], columns[:, j])
        occurring = pair_iou[np.isfinite(pair_iou)]
        for threshold in {0.0, 0.5, 1 / 3, *rng.choice(occurring, min(2, occurring.size)).tolist()}:
            threshold = np.float32(threshold)
            expected = sorted(zip(i[pair_iou > threshold].tolist(), j[pair_iou > threshold].tolist()))
            by_x1, counts = _x_sweep(columns, float(threshold))
            for chunk in (1, 7, 1 << 20):
                with np.errstate(divide="ignore", invalid="ignore"):
                    a, b = _suppression_graph(columns, threshold, by_x1, counts, chunk=chunk)
                assert sorted(zip(a.tolist(), b.tolist())) == expected, (kind, float(threshold), chunk)


def test_batched_nms_matches_tensorflow_per_class():
    rng = np.random.default_rng(11)
    for kind in itertools.islice(itertools.cycle(["uniform", "integer_grid", "clustered", "duplicates"]), 100):
        boxes, scores = random_set(kind, rng)
        labels = rng.integers(0, 4, len(boxes))
        options = random_options(boxes, scores, rng)
        limit = options.pop("max_output", None)
        merged = []
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            merged += members[tf_nms(boxes[members], scores[members], **options)].tolist()
        # all classes together by descending float32 score, equal scores lower index first
        score32 = np.asarray(scores, np.float32)
        expected = sorted(merged, key=lambda i: (-score32[i], i))[:limit]
        kept = batched_nms(boxes, scores, labels, max_output=limit, **options)
        np.testing.assert_array_equal(kept, np.array(expected, dtype=np.int64), err_msg=f"{options}, {limit}")


# --------------------------------------------------------------------------- keras.utils.bounding_boxes


def random_boxes(rng, n, fmt):
    xy = rng.uniform(-20, 80, (n, 2))
    wh = rng.uniform(0, 40, (n, 2)) * (rng.uniform(size=(n, 1)) > 0.1)  # some degenerate
    return convert_format(np.concatenate([xy, xy + wh], axis=1), "xyxy", fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_iou_matches_keras(fmt):
    # Keras works in float32 and divides by union + 1e-7: equal to within float32 rounding.
    rng = np.random.default_rng(list(fmt.encode()))
    for n, m in [(1, 1), (7, 13), (40, 25)]:
        a, b = random_boxes(rng, n, fmt), random_boxes(rng, m, fmt)
        expected = keras.ops.convert_to_numpy(
            keras.utils.bounding_boxes.compute_iou(a.astype("float32"), b.astype("float32"), fmt)
        )
        np.testing.assert_allclose(iou(a, b, fmt), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("source", "target"), list(itertools.product(FORMATS, FORMATS)))
def test_convert_format_matches_keras(source, target):
    boxes = random_boxes(np.random.default_rng(0), 20, source)
    expected = keras.ops.convert_to_numpy(
        keras.utils.bounding_boxes.convert_format(boxes.astype("float32"), source=source, target=target)
    )
    np.testing.assert_allclose(convert_format(boxes, source, target), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("variances", [None, (0.1, 0.1, 0.2, 0.2)])
def test_deltas_match_keras(fmt, variances):
    rng = np.random.default_rng(5)
    n = 50
    xy = rng.uniform(0, 100, (2 * n, 2))
    both = convert_format(np.concatenate([xy, xy + rng.uniform(1, 50, (2 * n, 2))], axis=1), "xyxy", fmt)
    anchors, boxes = both[:n], both[n:]
    bb = keras.utils.bounding_boxes
    expected = bb.encode_box_to_deltas(
        anchors.astype("float32"), boxes.astype("float32"), fmt, fmt, "center_xywh", variance=variances
    )
    deltas = encode_deltas(anchors, boxes, variances, format=fmt)
    np.testing.assert_allclose(deltas, keras.ops.convert_to_numpy(expected), rtol=1e-4, atol=1e-4)
    decoded = bb.decode_deltas_to_boxes(
        anchors.astype("float32"), deltas.astype("float32"), fmt, fmt, "center_xywh", variance=variances
    )
    np.testing.assert_allclose(
        decode_deltas(anchors, deltas, variances, format=fmt), keras.ops.convert_to_numpy(decoded), atol=1e-3
    )


# --------------------------------------------------------------------------- tensors in, NumPy out


def test_public_functions_accept_tensors():
    boxes = tf.constant([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0]])
    scores = tf.constant([0.9, 0.8, 0.7])
    labels = tf.constant([0, 1, 0])
    as_numpy = boxes.numpy()
    np.testing.assert_array_equal(nms(boxes, scores, tf.constant(0.5), max_output=tf.constant(5)), [0, 2])
    np.testing.assert_array_equal(batched_nms(boxes, scores, labels), [0, 1, 2])
    for out, expected in [
        (iou(boxes, boxes), iou(as_numpy, as_numpy)),
        (convert_format(boxes, "xyxy", "xywh"), convert_format(as_numpy, "xyxy", "xywh")),
        (clip(boxes, tf.constant([15, 25, 3])), clip(as_numpy, (15, 25, 3))),
        (encode_deltas(boxes, boxes[::-1]), encode_deltas(as_numpy, as_numpy[::-1])),
        (decode_deltas(boxes, tf.zeros((3, 4))), as_numpy),
    ]:
        assert isinstance(out, np.ndarray)
        np.testing.assert_allclose(out, expected)
