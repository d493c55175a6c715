"""SiamFC: cross-correlation layer, score-map geometry, logistic loss, crops, tracker, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cvlib.data.sequences import Sequence
from cvlib.layers import CrossCorrelation
from cvlib.layers.correlation import cross_correlation_reference
from cvlib.losses import SiamFCLogisticLoss, balanced_weights, siamfc_label_map, siamfc_logistic_loss
from cvlib.metrics import tracking as T
from cvlib.models import siamfc as S

RNG = np.random.default_rng(0)


# --------------------------------------------------------------------------- cross-correlation


def test_cross_correlation_equals_a_direct_loop():
    z = RNG.normal(size=(3, 4, 5, 6)).astype("float32")
    x = RNG.normal(size=(3, 11, 9, 6)).astype("float32")
    layer = CrossCorrelation(scale=0.5, use_bias=False)
    out = np.asarray(layer([z, x]))
    assert out.shape == (3, 8, 5, 1)
    assert np.allclose(out[..., 0], 0.5 * cross_correlation_reference(z, x), atol=1e-4)


def test_each_pair_uses_its_own_exemplar():
    z = RNG.normal(size=(2, 3, 3, 2)).astype("float32")
    x = RNG.normal(size=(2, 7, 7, 2)).astype("float32")
    layer = CrossCorrelation(scale=1.0, use_bias=False)
    both = np.asarray(layer([z, x]))
    alone = np.asarray(layer([z[1:], x[1:]]))
    assert np.allclose(both[1:], alone, atol=1e-5)


def test_cross_correlation_bias_scale_and_config():
    layer = CrossCorrelation(scale=2.0, trainable_scale=True, use_bias=True)
    z, x = np.ones((1, 2, 2, 1), "float32"), np.ones((1, 3, 3, 1), "float32")
    layer([z, x])
    assert len(layer.trainable_weights) == 2
    layer.bias.assign(1.0)
    assert np.allclose(np.asarray(layer([z, x])), 2.0 * 4 + 1.0)
    clone = CrossCorrelation.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        (((1, 3, 3, 2), (1, 7, 7, 3)), "channels"),
        (((1, 9, 9, 2), (1, 7, 7, 2)), "larger"),
        (((1, 9, 2), (1, 7, 7, 2)), "4-D"),
    ],
)
def test_cross_correlation_bad_shapes(shapes, match):
    z, x = (np.zeros(s, "float32") for s in shapes)
    with pytest.raises(ValueError, match=match):
        CrossCorrelation()([z, x])
    with pytest.raises(ValueError, match="scale"):
        CrossCorrelation(scale=0.0)


# --------------------------------------------------------------------------- geometry


@pytest.mark.parametrize(
    ("variant", "z", "x", "ez", "ex", "score", "stride"),
    [("paper", 127, 255, 6, 22, 17, 8.0), ("small", 63, 127, 6, 22, 17, 4.0), ("small", 63, 255, 6, 54, 49, 4.0)],
)
def test_score_map_geometry(variant, z, x, ez, ex, score, stride):
    g = S.score_geometry(S.build_embedding(variant), z, x)
    assert g == {"exemplar_embedding": ez, "search_embedding": ex, "score": score, "stride": stride}
    assert score == (x - z) // stride + 1, "score size = (search - exemplar) / stride + 1"


def test_training_model_output_shape():
    model = S.build_siamfc()
    out = model([np.zeros((2, 63, 63, 3), "float32"), np.zeros((2, 127, 127, 3), "float32")])
    assert tuple(out.shape) == (2, 17, 17, 1)
    with pytest.raises(ValueError, match="variant"):
        S.build_embedding("vgg")


# --------------------------------------------------------------------------- loss


def test_label_map_of_the_paper():
    labels, weights = siamfc_label_map(17, radius=16, stride=8)
    assert (labels > 0).sum() == 13, "cells within 2 cells (16 px at stride 8) of the centre: 13"
    assert labels[8, 8] == 1 and labels[8, 10] == 1 and labels[9, 10] == -1
    assert np.isclose(weights[labels > 0].sum(), 0.5) and np.isclose(weights[labels < 0].sum(), 0.5)
    with pytest.raises(ValueError, match="stride"):
        siamfc_label_map(17, 16, 0)


def _loss_numpy(y, v, w=None):
    cell = np.log1p(np.exp(-np.where(y > 0, 1.0, -1.0) * v))
    axes = tuple(range(1, v.ndim))
    return cell.mean(axis=axes) if w is None else (w * cell).sum(axis=axes)


def test_loss_matches_numpy_transcription():
    labels, weights = siamfc_label_map(9, radius=4, stride=2)
    y = np.repeat(labels[None, ..., None], 3, axis=0)
    v = RNG.normal(0, 3, size=y.shape).astype("float32")
    w = np.repeat(weights[None, ..., None], 3, axis=0)
    assert np.allclose(np.asarray(siamfc_logistic_loss(y, v)), _loss_numpy(y, v), atol=1e-5)
    assert np.allclose(np.asarray(siamfc_logistic_loss(y, v, w)), _loss_numpy(y, v, w), atol=1e-5)
    assert np.allclose(np.asarray(balanced_weights(y)), w, atol=1e-7)
    loss = SiamFCLogisticLoss()
    assert np.isclose(float(loss(y, v)), _loss_numpy(y, v, w).mean(), atol=1e-5)
    assert np.isclose(float(SiamFCLogisticLoss(balanced=False)(y, v)), _loss_numpy(y, v).mean(), atol=1e-5)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, SiamFCLogisticLoss) and again.balanced
    big = np.where(y > 0, -1e4, 1e4).astype("float32")
    assert np.isfinite(np.asarray(siamfc_logistic_loss(y, big))).all(), "softplus must not overflow"


# --------------------------------------------------------------------------- crops and tracker


def test_crop_centres_the_requested_point():
    image = np.zeros((50, 60, 3), np.float32)
    image[20, 30] = 1.0  # the pixel spanning [30, 31) x [20, 21), centred at (30.5, 20.5)
    out = S.crop(image, (30.5, 20.5), 9, 9, pad=(0, 0, 0))
    assert np.unravel_index(out[..., 0].argmax(), (9, 9)) == (4, 4) and np.isclose(out[4, 4, 0], 1.0)
    padded = S.crop(np.full((10, 10, 3), 100, np.uint8), (0, 0), 10, 10)
    assert np.allclose(padded[0, 0], 100), "outside the image the crop takes the mean colour"
    assert np.isclose(S.context_size(20, 10), np.sqrt(35 * 25)), "p = (w + h) / 4; s = sqrt((w + 2p)(h + 2p))"


def _high_pass_embedding() -> keras.Model:
    """A hand-set phi: per-channel Laplacian-like high-pass, then 2 x 2 average pooling (stride 2)."""
    kernel = np.zeros((3, 3, 3, 3), "float32")
    for c in range(3):
        kernel[:, :, c, c] = -1 / 9
        kernel[1, 1, c, c] += 1
    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 3, use_bias=False),
                              keras.layers.AveragePooling2D(2)])
    model.layers[0].set_weights([kernel])
    return model


def _easy_sequence(frames: int = 15) -> Sequence:
    rng = np.random.default_rng(1)
    texture = rng.integers(0, 256, (24, 30, 3)).astype(np.uint8)
    video = np.full((frames, 120, 160, 3), 128, np.uint8)
    boxes = []
    for t in range(frames):
        x, y = 20 + 4 * t, 30 + 2 * t
        video[t, y : y + 24, x : x + 30] = texture
        boxes.append([x, y, 30, 24])
    return Sequence(video, np.array(boxes, dtype=float), "easy")


def test_tracker_follows_an_easy_target():
    seq = _easy_sequence()
    tracker = S.Tracker(_high_pass_embedding())
    assert tracker.score_size == 33 and tracker.stride == 2.0
    boxes, fps = tracker.track(seq.frames, seq.boxes[0])
    iou = T.overlaps(boxes, seq.boxes)
    assert iou.min() > 0.85 and iou.mean() > 0.9, f"IoU per frame {np.round(iou, 2)}"
    assert fps > 0


def test_tracker_scores_each_scale_by_cross_correlation_with_the_exemplar():
    embedding, seq = _high_pass_embedding(), _easy_sequence(3)
    tracker = S.Tracker(embedding, scale_num=3, scale_step=1.1)
    tracker.init(seq.frames[0], seq.boxes[0])
    scores = tracker.responses(seq.frames[1])
    frame = seq.frames[1].astype(np.float32)
    crops = np.stack([S.crop(frame, tracker.center, tracker.x_size * f, tracker.search_size, tracker.mean_colour)
                      for f in tracker.scale_factors])
    search = keras.ops.convert_to_numpy(embedding(crops))
    exemplar = np.repeat(tracker.z_embedding, len(crops), axis=0)
    expected = cross_correlation_reference(exemplar, search)
    assert scores.shape == expected.shape == (3, 33, 33)
    assert np.allclose(scores, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())


def test_trackers_on_one_embedding_share_its_compiled_forward_pass():
    embedding, seq = _high_pass_embedding(), _easy_sequence(4)
    first, second = S.Tracker(embedding), S.Tracker(embedding, window_influence=0.4)
    assert first._embed is second._embed, "one compiled forward pass per embedding"
    assert S.Tracker(_high_pass_embedding())._embed is not first._embed
    a, _ = first.track(seq.frames, seq.boxes[0])
    b, _ = S.Tracker(embedding).track(seq.frames, seq.boxes[0])
    assert np.allclose(a, b), "sharing the forward pass changes no result"


def test_baselines():
    seq = _easy_sequence()
    still, _ = S.StaticTracker().track(seq.frames, seq.boxes[0])
    assert np.allclose(still, seq.boxes[0])
    ncc, _ = S.TemplateMatchingTracker().track(seq.frames, seq.boxes[0])
    assert np.allclose(ncc, seq.boxes), "NCC finds an unchanged template exactly"


@pytest.mark.parametrize("box", [[150, 30, 30, 24], [-5, 10, 20, 20], [10, 10, 0, 5], [1, 2, 3]])
def test_exemplar_box_outside_the_first_frame(box):
    seq = _easy_sequence(2)
    for tracker in (S.Tracker(_high_pass_embedding()), S.StaticTracker(), S.TemplateMatchingTracker()):
        with pytest.raises(ValueError, match="box"):
            tracker.init(seq.frames[0], box)


def test_pairs_are_labelled_batches():
    seq = _easy_sequence(6)
    ds = S.PairSequence([seq], batch_size=4, steps=2, max_gap=3)
    (z, x), y = ds[0]
    assert z.shape == (4, 63, 63, 3) and x.shape == (4, 127, 127, 3) and y.shape == (4, 17, 17, 1)
    (z2, _), _ = ds[0]
    assert np.array_equal(z, z2), "the same batch index draws the same pairs within an epoch"


# --------------------------------------------------------------------------- saving


def test_model_saves_and_loads(tmp_path):
    model = S.build_siamfc()
    z = RNG.uniform(0, 255, (2, 63, 63, 3)).astype("float32")
    x = RNG.uniform(0, 255, (2, 127, 127, 3)).astype("float32")
    model.get_layer("xcorr").bias.assign(0.25)
    path = tmp_path / "siamfc.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("xcorr"), CrossCorrelation)
    assert np.allclose(np.asarray(model([z, x])), np.asarray(loaded([z, x])), atol=1e-5)
