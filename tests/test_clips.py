"""Synthetic motion clips (cvlib.data.clips): seeded, balanced, and their labels live only in time.

No model is trained here. Image statistics (``frame_statistics``) of one frame at a random time (brightness, centroid,
area, orientation moments) have the same distribution in every class, and those of a clip's
frame average the same in both classes of a time-reversed pair; the same statistics followed
from the first frame to the last name every clip's class without a single mistake.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cvlib.data.clips import CLASS_NAMES, MOTIONS, frame_statistics, generate_clips

PAIRS = [("left", "right"), ("clockwise", "anticlockwise"), ("approach", "recede")]
N = 1200  # 200 clips per class
ALPHA = 0.01 / 60  # Bonferroni: one false alarm in a hundred runs over all the KS tests below


@pytest.fixture(scope="module")
def data():
    return generate_clips(N, seed=0)


def moments(frames: np.ndarray) -> dict[str, np.ndarray]:
    """``frame_statistics`` plus the orientation moment ``mu20 - mu02``."""
    out = frame_statistics(frames)
    out["mu20_minus_mu02"] = out["mu20"] - out["mu02"]
    return out


def test_frame_statistics_of_a_known_image():
    image = np.full((20, 30), 0.1)
    image[5:9, 10:20] = 0.9  # a bar 10 wide and 4 high, centred at x = 15, y = 7
    m = frame_statistics(image[..., None])
    assert m["cx"] == pytest.approx(15.0) and m["cy"] == pytest.approx(7.0)
    assert m["area"] == 40 and m["mass"] == pytest.approx(40 * 0.65)
    assert m["mu11"] == pytest.approx(0.0) and m["mu20"] > m["mu02"] and m["angle"] == pytest.approx(0.0)
    assert frame_statistics(image.T)["angle"] == pytest.approx(np.pi / 2), "a vertical bar"
    diagonal = np.zeros((30, 30))
    for i in range(-8, 9):
        diagonal[15 + i, 15 + i] = 1.0  # down and to the right: clockwise from the x axis on screen
    assert frame_statistics(diagonal)["angle"] == pytest.approx(np.pi / 4)
    batch = frame_statistics(np.stack([image, image[::-1]])[None])
    assert batch["cx"].shape == (1, 2)
    assert frame_statistics(np.zeros((0, 5, 5)))["cx"].shape == (0,)
    for bad in (np.zeros(5), np.full((4, 4), np.nan)):
        with pytest.raises(ValueError, match=r"^frames:"):
            frame_statistics(bad)


def test_shapes_dtypes_range_and_balance(data):
    clips, labels, names = data
    assert clips.shape == (N, 16, 32, 32, 1) and clips.dtype == np.float32
    assert labels.shape == (N,) and np.issubdtype(labels.dtype, np.integer)
    assert names == CLASS_NAMES and len(names) == 6
    assert 0.0 <= clips.min() and clips.max() <= 1.0
    assert np.bincount(labels, minlength=6).tolist() == [N // 6] * 6

    small, small_labels, small_names = generate_clips(7, frames=5, size=20, classes=("recede", "left"), seed=3)
    assert small.shape == (7, 5, 20, 20, 1) and small_names == ("recede", "left")
    assert sorted(np.bincount(small_labels).tolist()) == [3, 4], "counts differ by at most one"
    empty, empty_labels, _ = generate_clips(0)
    assert empty.shape == (0, 16, 32, 32, 1) and empty_labels.shape == (0,)


def test_seeded():
    a, la, _ = generate_clips(12, frames=6, seed=4)
    b, lb, _ = generate_clips(12, frames=6, seed=4)
    c, _, _ = generate_clips(12, frames=6, seed=5)
    assert np.array_equal(a, b) and np.array_equal(la, lb), "the same seed gives the same clips"
    assert not np.array_equal(a, c), "another seed gives other clips"


def test_a_frame_at_a_random_time_carries_no_label(data):
    clips, labels, names = data
    t = np.random.default_rng(1).integers(0, clips.shape[1], len(clips))
    frame = moments(clips[np.arange(len(clips)), t, ..., 0])
    for stat in ("mean", "cx", "cy", "area", "mu20_minus_mu02", "mu11"):
        for k, name in enumerate(names):
            p = stats.ks_2samp(frame[stat][labels == k], frame[stat][labels != k]).pvalue
            assert p > ALPHA, f"{stat} of a random frame differs between {name} and the other classes (KS p={p:.2g})"


def test_the_frame_average_is_the_same_for_a_motion_and_its_reversal(data):
    clips, labels, names = data
    average = moments(clips[..., 0].mean(axis=1))
    for a, b in PAIRS:
        ia, ib = labels == names.index(a), labels == names.index(b)
        for stat in ("mean", "cx", "cy", "area", "mu20_minus_mu02", "mu11"):
            p = stats.ks_2samp(average[stat][ia], average[stat][ib]).pvalue
            assert p > ALPHA, f"{stat} of the frame average differs between {a} and {b} (KS p={p:.2g})"
    # between pairs the average does differ: a horizontal translation leaves a streak along x
    spread = average["mu20_minus_mu02"]
    translating = np.isin(labels, [names.index("left"), names.index("right")])
    assert spread[translating].mean() > spread[~translating].mean() + 3, "the average shows the axis of motion"


def test_a_known_time_would_tell_and_the_test_sees_it(data):
    # The statistics are sharp enough to see a difference where one exists: a frame at a known time
    # (the first) shows a smaller shape in "approach" clips than in "recede" clips.
    clips, labels, names = data
    first = moments(clips[:, 0, ..., 0])["mass"]
    p = stats.ks_2samp(first[labels == names.index("approach")], first[labels == names.index("recede")]).pvalue
    assert p < 1e-10


def motion_rule(clips: np.ndarray, span: int = 4) -> np.ndarray:
    """Name each clip's motion from its frames alone: how its centroid, orientation and area change.

    Each change is measured between the first and the last ``span`` frames (their averaged moments),
    in units of the motions' amplitudes; the largest names the attribute that moves, its sign the direction.
    """
    early = moments(clips[:, :span, ..., 0])
    late = moments(clips[:, -span:, ..., 0])

    def orientation(m):  # the doubled angle as a complex number: orientation is defined mod 180 degrees
        return (m["mu20_minus_mu02"] + 2j * m["mu11"]).mean(axis=1)

    shift = late["cx"].mean(axis=1) - early["cx"].mean(axis=1)
    turn = np.angle(orientation(late) * np.conj(orientation(early))) / 2
    zoom = np.log(late["mass"].mean(axis=1) / early["mass"].mean(axis=1))
    scores = np.stack([shift / (0.3 * clips.shape[3]),  # x moves by 0.3 of the side
                       turn / (np.pi / 2),              # the angle turns by 90 degrees
                       zoom / np.log(4.0)], axis=1)     # the area quadruples or falls to a quarter
    axis = np.abs(scores).argmax(axis=1)
    sign = np.sign(scores[np.arange(len(scores)), axis])
    lookup = {(("x", "angle", "size").index(attr), sign): name for name, (attr, sign) in MOTIONS.items()}
    return np.array([lookup[(a, s)] for a, s in zip(axis, sign)])


def test_the_motion_names_the_class(data):
    clips, labels, names = data
    predicted = motion_rule(clips)
    truth = np.array(names)[labels]
    wrong = np.flatnonzero(predicted != truth)
    assert wrong.size == 0, f"{wrong.size} clips misread, e.g. {truth[wrong[:3]]} read as {predicted[wrong[:3]]}"


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"num_clips": -1}, "num_clips"),
    ({"num_clips": 2.5}, "num_clips"),
    ({"num_clips": 4, "frames": 1}, "frames"),
    ({"num_clips": 4, "size": 8}, "size"),
    ({"num_clips": 4, "size": True}, "size"),
    ({"num_clips": 4, "classes": ()}, "classes"),
    ({"num_clips": 4, "classes": "left"}, "classes"),
    ({"num_clips": 4, "classes": ("left", "up")}, "classes"),
    ({"num_clips": 4, "classes": ("left", "left")}, "classes"),
    ({"num_clips": 4, "seed": -3}, "seed"),
])
def test_bad_input_names_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"^{argument}:"):
        generate_clips(**kwargs)
