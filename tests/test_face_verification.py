"""Haar detection and crops, similarity alignment, the face embedding, verification metrics (notebooks 07, 09)."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest
from skimage import data as skdata

from cvlib import align
from cvlib.data import faces
from cvlib.metrics import verification as V
from cvlib.models import face_detection as fd
from cvlib.models.faces import build_face_embedding


def _similarity(angle_deg, scale, tx, ty):
    a = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])


# --------------------------------------------------------------------------- detection


def test_haar_cascade_finds_the_astronaut_and_nothing_in_a_flat_image():
    found = fd.detect_faces(skdata.astronaut())
    assert found["boxes"].shape[1] == 4 and len(found["boxes"]) >= 1
    x0, y0, x1, y1 = found["boxes"][0]
    # Eileen Collins' face in the 512 x 512 photo: centre about (222, 112), some 90 px wide
    assert abs((x0 + x1) / 2 - 222) < 25 and abs((y0 + y1) / 2 - 112) < 25 and 60 < x1 - x0 < 130
    assert np.all(np.diff(found["scores"]) <= 0), "best detection first"
    empty = fd.detect_faces(np.full((120, 160, 3), 128, np.uint8))
    assert empty["boxes"].shape == (0, 4) and empty["scores"].shape == (0,)
    # float input in [0, 1] and grey input give the same detections as uint8 RGB
    grey = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2GRAY)
    np.testing.assert_array_equal(fd.detect_faces(grey)["boxes"], found["boxes"])
    np.testing.assert_array_equal(fd.detect_faces(skdata.astronaut() / 255.0)["boxes"], found["boxes"])


def test_detection_bad_inputs():
    with pytest.raises(ValueError, match=r"image.*RGB"):
        fd.detect_faces(np.zeros((50, 50, 4)))
    with pytest.raises(ValueError, match="image"):
        fd.detect_faces(np.zeros((2, 50, 50, 3)))
    with pytest.raises(ValueError, match="scale_factor"):
        fd.detect_faces(np.zeros((50, 50)), scale_factor=1.0)
    with pytest.raises(ValueError, match="name"):
        fd.load_cascade("no_such_cascade.xml")
    nan = np.zeros((40, 40), float)
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="image: contains NaN"):
        fd.detect_faces(nan)


def test_crop_and_uncrop_are_inverse():
    photo = skdata.astronaut()
    boxes = np.array([[177.0, 67.0, 270.0, 160.0], [10.0, 20.0, 40.0, 80.0]])
    crops, squares = fd.crop_faces(photo, boxes, size=64, margin=0.25)
    assert crops.shape == (2, 64, 64, 3) and crops.dtype == np.float32 and crops.max() <= 1.0
    side = squares[:, 2] - squares[:, 0]
    np.testing.assert_allclose(side, 1.5 * np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]))
    np.testing.assert_allclose(squares[:, 3] - squares[:, 1], side)
    # a point in the crop maps back onto the photo pixel the crop shows there
    in_crop = np.array([[[32.0, 20.0], [5.0, 50.0]]] * 2)
    back = fd.uncrop_landmarks(in_crop, squares, 64)
    for i in range(1):
        for (cx, cy), (px, py) in zip(in_crop[i], back[i]):
            assert np.abs(crops[i, int(cy), int(cx)] * 255 - photo[round(py), round(px)]).max() < 40
    crop_again = (back[0] + 0.5 - squares[0, :2]) * 64 / side[0] - 0.5
    np.testing.assert_allclose(crop_again, in_crop[0], atol=1e-9)
    empty, sq = fd.crop_faces(photo, np.zeros((0, 4)))
    assert empty.shape == (0, 64, 64, 3) and sq.shape == (0, 4)


# --------------------------------------------------------------------------- alignment


def test_alignment_maps_template_points_to_the_template():
    dst = align.template_points(64)
    for angle, scale, tx, ty in [(0, 1, 0, 0), (25, 0.6, 10, -4), (-170, 2.5, 100, 30)]:
        m = _similarity(angle, scale, tx, ty)
        src = align.transform_points(m, dst)  # the template moved by a known similarity
        estimated = align.similarity_matrix(src, dst)
        np.testing.assert_allclose(align.transform_points(estimated, src), dst, atol=1e-9)
        inverse = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
        np.testing.assert_allclose(estimated, inverse, atol=1e-9)


def test_align_faces_puts_the_fiducial_points_on_the_template():
    f = faces.render_faces(6, size=96, seed=2, roll=(-30, 30), scale=(0.22, 0.34), shift=(-0.1, 0.1),
                           yaw=(-10, 10), pitch=(-5, 5))
    aligned, matrices = align.align_faces(f.images, f.landmarks, size=48)
    assert aligned.shape == (6, 48, 48, 3) and matrices.shape == (6, 2, 3)
    spread = []
    for i in range(6):
        moved = align.five_points(align.transform_points(matrices[i], f.landmarks[i]))
        # 5 points, 4 degrees of freedom: a least-squares fit, close to the template for near-frontal faces
        assert np.abs(moved - align.template_points(48)).max() < 3.0, f"face {i}"
        spread.append(align.five_points(f.landmarks[i])[:2])
    eyes_before = np.array(spread)
    assert eyes_before.std(0).max() > 3, "the raw faces must differ in position for the test to mean anything"
    # the pixels moved with the points: the aligned eye centre is on the eye (white or iris, not skin)
    for i in range(6):
        x, y = np.round(align.template_points(48)[0]).astype(int)
        assert np.abs(aligned[i, y - 1:y + 2, x - 1:x + 2] * 255 - f.skin[i]).max() > 25


def test_five_points_and_alignment_bad_inputs():
    pts = faces.render_faces(1, size=64, seed=0).landmarks[0]
    five = align.five_points(pts)
    np.testing.assert_allclose(five[0], pts[36:42].mean(0), rtol=1e-6)
    np.testing.assert_allclose(five[2:], pts[[30, 48, 54]], rtol=1e-6)
    with pytest.raises(ValueError, match=r"landmarks.*68"):
        align.five_points(pts[:10])
    with pytest.raises(ValueError, match="src"):
        align.similarity_matrix(np.zeros((5, 2)), align.TEMPLATE)
    with pytest.raises(ValueError, match="src, dst"):
        align.similarity_matrix(align.TEMPLATE[:3], align.TEMPLATE)
    with pytest.raises(ValueError, match="images"):
        align.align_faces(np.zeros((1, 64, 64, 2)), pts[None])
    bad = pts.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="landmarks: contains NaN"):
        align.align_faces(np.zeros((1, 64, 64, 3)), bad[None])
    with pytest.raises(ValueError, match="matrix"):
        align.transform_points(np.eye(3), pts)


# --------------------------------------------------------------------------- embedding and verification


def test_face_embedding_is_unit_length_and_saves(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_face_embedding((32, 32, 3), embedding_dim=16, widths=(8, 16), dense=32)
    x = faces.render_faces(4, size=32, seed=0).images
    e = model.predict(x, verbose=0)
    assert e.shape == (4, 16)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    model.save(tmp_path / "embedding.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "embedding.keras").predict(x, verbose=0), e,
                               atol=1e-6)
    with pytest.raises(ValueError, match="input_shape"):
        build_face_embedding((4, 4, 3), widths=(8, 8, 8))


def test_best_threshold_and_accuracy_known_cases():
    d = np.array([0.1, 0.2, 0.3, 0.8, 0.9, 1.0])
    same = np.array([1, 1, 1, 0, 0, 0])
    threshold, acc = V.best_threshold(d, same)
    assert acc == 1.0 and 0.3 < threshold < 0.8
    assert V.verification_accuracy(d, same, threshold) == 1.0
    assert V.verification_accuracy(d, same, 0.15) == pytest.approx(4 / 6)
    # overlapping: the best cut misclassifies exactly one pair
    d2 = np.array([0.1, 0.5, 0.4, 0.9])
    t2, a2 = V.best_threshold(d2, np.array([1, 1, 0, 0]))
    assert a2 == 0.75 and V.verification_accuracy(d2, [1, 1, 0, 0], t2) == 0.75
    # against brute force over many thresholds on random data
    rng = np.random.default_rng(0)
    d3, s3 = rng.uniform(size=200), rng.integers(0, 2, 200)
    t3, a3 = V.best_threshold(d3, s3)
    brute = max(V.verification_accuracy(d3, s3, t) for t in np.linspace(-0.01, 1.01, 5001))
    assert a3 == pytest.approx(brute) and V.verification_accuracy(d3, s3, t3) == pytest.approx(a3)
    roc = V.verification_roc(d, same)
    assert roc.auc == 1.0 and roc.tpr[-1] == 1.0 and roc.fpr[-1] == 1.0


def test_verification_bad_inputs():
    with pytest.raises(ValueError, match="distances, same"):
        V.best_threshold(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="same"):
        V.best_threshold(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="both"):
        V.verification_roc(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="distances: contains NaN"):
        V.verification_accuracy(np.array([np.nan, 1.0]), np.array([0, 1]), 0.5)
    with pytest.raises(ValueError, match="first, second"):
        V.pair_distances(np.zeros((3, 4)), np.zeros((3, 5)))
    np.testing.assert_allclose(V.pair_distances([[0, 0], [1, 1]], [[3, 4], [1, 1]]), [5, 0])
