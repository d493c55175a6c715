"""Synthetic faces: exact landmarks on the drawn features, identities, flips, the YouTube Faces keypoint CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cvlib.data import faces

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "fixtures" / "youtube_faces"


def _plain(n=6, seed=0, **kwargs):
    """Faces without lighting, noise or clutter, so every pixel has its feature's colour."""
    return faces.render_faces(n, size=128, seed=seed, lighting=False, clutter=False, noise=0.0, **kwargs)


def _nearest_colour_distance(image, point, colour, radius=1):
    """Smallest max-channel distance (0-255) between ``colour`` and a pixel within ``radius`` of ``point``."""
    x, y = np.round(point).astype(int)
    patch = image[max(y - radius, 0):y + radius + 1, max(x - radius, 0):x + radius + 1] * 255.0
    return np.abs(patch - np.asarray(colour)).max(-1).min()


def test_render_shapes_types_and_determinism():
    a = faces.render_faces(5, size=48, seed=3)
    assert a.images.shape == (5, 48, 48, 3) and a.images.dtype == np.float32
    assert a.landmarks.shape == (5, 68, 2) and a.landmarks.dtype == np.float32
    assert 0.0 <= a.images.min() and a.images.max() <= 1.0
    assert a.pose.shape == (5, 3) and len(a) == 5
    b = faces.render_faces(5, size=48, seed=3)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    assert not np.array_equal(a.landmarks, faces.render_faces(5, size=48, seed=4).landmarks)
    assert faces.render_faces(0, size=32).images.shape == (0, 32, 32, 3)


def test_landmarks_lie_on_the_drawn_features():
    """Every landmark is a vertex of what is drawn: its pixel or a neighbour has that feature's colour."""
    f = _plain(8, seed=1, expression=True)
    checks = [
        ("nose", range(27, 30)),  # 30, the tip, is where the bridge meets the nostril line
        ("nostrils", range(31, 36)),
        ("eye_outline", range(36, 48)),
        ("lips", range(48, 60)),
        ("mouth", range(60, 68)),
    ]
    for i in range(len(f)):
        colours = faces.feature_colours(f.skin[i], np.zeros(3))  # these features do not depend on the hair
        for feature, index in checks:
            for k in index:
                d = _nearest_colour_distance(f.images[i], f.landmarks[i, k], colours[feature], radius=1)
                assert d < 40, f"face {i}: landmark {k} is not on the {feature} (colour distance {d:.0f})"
        for k in range(17):  # the jaw is the face's outline: skin on one side, something else on the other
            assert _nearest_colour_distance(f.images[i], f.landmarks[i, k], f.skin[i], 1) < 30, (i, k)
            x, y = np.round(f.landmarks[i, k]).astype(int)
            patch = f.images[i, max(y - 2, 0):y + 3, max(x - 2, 0):x + 3] * 255
            assert np.abs(patch - f.skin[i]).max(-1).max() > 30, f"face {i}: jaw point {k} is inside the face"


def test_brows_have_the_brow_colour():
    ident = faces.sample_identities(4, seed=5)
    f = faces.render_faces(4, size=128, seed=2, identities=ident, lighting=False, clutter=False, noise=0.0)
    for i in range(4):
        brow = faces.feature_colours(ident["skin"][i], ident["hair"][i])["brows"]
        for k in range(17, 27):
            d = _nearest_colour_distance(f.images[i], f.landmarks[i, k], brow, 0)
            assert d < 30, f"face {i}: brow landmark {k} is not on the brow (colour distance {d:.0f})"


def test_landmark_layout_follows_the_68_point_scheme():
    f = faces.render_faces(50, size=64, seed=0, roll=(-10, 10), yaw=(-25, 25))
    p = f.landmarks
    assert np.all(p[:, 36, 0] < p[:, 39, 0]) and np.all(p[:, 42, 0] < p[:, 45, 0]), "eye corners left to right"
    assert np.all(p[:, 39, 0] < p[:, 42, 0]), "the picture's left eye (36-41) is left of the right eye (42-47)"
    assert np.all(p[:, 0, 0] < p[:, 16, 0]) and np.all(p[:, 48, 0] < p[:, 54, 0])
    assert np.all(p[:, 8, 1] > p[:, 57, 1]) and np.all(p[:, 57, 1] > p[:, 30, 1]), "chin below lips below nose"
    assert np.all(p[:, 19, 1] < p[:, 37, 1]), "brows above the eyes"


def test_same_identity_same_shape_and_identities_differ():
    ident = faces.sample_identities(2, seed=9)
    frontal = {"yaw": (0, 0), "pitch": (0, 0), "roll": (0, 0), "scale": (0.3, 0.3), "shift": (0, 0),
               "expression": False}
    a = faces.render_faces(3, size=64, seed=1, identities=ident, identity=np.array([0, 0, 1]), **frontal)
    np.testing.assert_allclose(a.landmarks[0], a.landmarks[1], atol=1e-5)
    assert np.abs(a.landmarks[0] - a.landmarks[2]).max() > 1.0, "two identities must have different shapes"
    assert not np.array_equal(a.images[0], a.images[1]), "lighting and background still vary"


def test_flip_swaps_left_and_right_indices():
    """A flipped face is the mirror pose of the same (symmetric) person: landmarks must match index by index."""
    assert np.array_equal(faces.FLIP_PERMUTATION[faces.FLIP_PERMUTATION], np.arange(68)), "a flip undoes itself"
    ident = faces.sample_identities(1, seed=4)
    common = {"identities": ident, "identity": np.array([0]), "pitch": (5, 5), "scale": (0.32, 0.32),
              "shift": (0, 0), "expression": False}
    face = faces.render_faces(1, size=64, seed=0, yaw=(20, 20), roll=(8, 8), **common)
    mirror = faces.render_faces(1, size=64, seed=0, yaw=(-20, -20), roll=(-8, -8), **common)
    images, flipped = faces.flip_horizontal(face.images, face.landmarks)
    np.testing.assert_allclose(flipped, mirror.landmarks, atol=1e-3)
    assert np.abs(face.landmarks - mirror.landmarks).max() > 5, "the test must not pass trivially"
    np.testing.assert_array_equal(images[0], face.images[0, :, ::-1])
    # Mirroring x without the index swap would put point 36 (left-most eye corner) on the right.
    naive = face.landmarks.copy()
    naive[..., 0] = 63 - naive[..., 0]
    assert naive[0, 36, 0] > naive[0, 45, 0] and flipped[0, 36, 0] < flipped[0, 45, 0]
    back_images, back = faces.flip_horizontal(images, flipped)
    np.testing.assert_allclose(back, face.landmarks, atol=1e-4)
    np.testing.assert_array_equal(back_images, face.images)


def test_mean_shape_is_symmetric_under_the_flip_permutation():
    m = faces.mean_shape()
    mirrored = m[faces.FLIP_PERMUTATION] * [-1, 1]
    np.testing.assert_allclose(mirrored, m, atol=1e-9)


def test_keypoint_csv_fixture_reads_in_the_youtube_faces_format():
    names, pts = faces.read_keypoints_csv(FIXTURE / "keypoints.csv")
    assert names == [f"synthetic_face_{i}.png" for i in range(3)] and pts.shape == (3, 68, 2)
    # The fixture holds the first two faces of render_faces(3, 48, seed=7) as x0, y0, x1, y1, ... to 0.1 px.
    expected = faces.render_faces(3, size=48, seed=7).landmarks
    np.testing.assert_allclose(pts[:2], expected[:2], atol=0.051)
    images, _ = faces.load_keypoint_dataset(FIXTURE / "keypoints.csv", FIXTURE)
    assert [im.shape for im in images] == [(48, 48, 3), (48, 48, 3), (40, 60, 3)], "images keep their own sizes"
    stacked, resized = faces.load_keypoint_dataset(FIXTURE / "keypoints.csv", FIXTURE, size=48)
    assert stacked.shape == (3, 48, 48, 3) and stacked.dtype == np.uint8
    np.testing.assert_allclose(resized[2], expected[2], atol=0.1)  # resizing 60 x 40 back to 48 x 48 undoes it


def test_keypoint_csv_round_trip_and_bad_files(tmp_path):
    pts = faces.render_faces(2, size=40, seed=1).landmarks
    path = faces.write_keypoints_csv(tmp_path / "k.csv", ["a.jpg", "b.jpg"], pts)
    names, back = faces.read_keypoints_csv(path)
    assert names == ["a.jpg", "b.jpg"]
    np.testing.assert_allclose(back, pts, atol=0.051)
    with pytest.raises(ValueError, match="path"):
        faces.read_keypoints_csv(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text(",0,1\nimg.jpg,1.0,2.0\n")
    with pytest.raises(ValueError, match="137"):
        faces.read_keypoints_csv(bad)
    bad.write_text(",0\nimg.jpg," + ",".join(["nan"] * 136) + "\n")
    with pytest.raises(ValueError, match="NaN"):
        faces.read_keypoints_csv(bad)
    with pytest.raises(ValueError, match="image_dir"):
        faces.load_keypoint_dataset(path, tmp_path)
    with pytest.raises(ValueError, match="names"):
        faces.write_keypoints_csv(tmp_path / "x.csv", ["a.jpg"], pts)


def test_bad_inputs_name_the_argument():
    f = faces.render_faces(2, size=32, seed=0)
    with pytest.raises(ValueError, match=r"landmarks.*68"):
        faces.flip_horizontal(f.images, f.landmarks[:, :10])
    nan = f.landmarks.copy()
    nan[0, 3, 0] = np.nan
    with pytest.raises(ValueError, match="landmarks: contains NaN"):
        faces.flip_horizontal(f.images, nan)
    with pytest.raises(ValueError, match=r"images.*channels"):
        faces.flip_horizontal(f.images[..., :2], f.landmarks)
    with pytest.raises(ValueError, match="landmarks: expected one set per image"):
        faces.flip_horizontal(f.images, f.landmarks[:1])
    with pytest.raises(ValueError, match="n:"):
        faces.render_faces(-1)
    with pytest.raises(ValueError, match="size"):
        faces.render_faces(2, size=8)
    with pytest.raises(ValueError, match="yaw"):
        faces.render_faces(2, yaw=(10, -10))
    with pytest.raises(ValueError, match="identity"):
        faces.render_faces(2, identities=faces.sample_identities(3), identity=np.array([0, 5]))
    with pytest.raises(ValueError, match="identities"):
        faces.render_faces(2, identities={"skin": np.zeros((2, 3))})
