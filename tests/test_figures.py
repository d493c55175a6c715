"""cvlib.data.figures: the renderer's part and UV maps against an independent per-pixel computation."""

from __future__ import annotations

import numpy as np
import pytest

from cvlib.data.figures import DRAW_ORDER, NUM_PARTS, PART_NAMES, Part, generate_figures


@pytest.fixture(scope="module")
def single():
    return generate_figures(12, 64, seed=3)


@pytest.fixture(scope="module")
def crowd():
    return generate_figures(8, 96, figures_per_image=(2, 3), figure_size=(0.4, 0.7), seed=5)


def _reference(part: Part, x: float, y: float):
    """Whether pixel centre (x, y) lies in the part, and its (U, V), written out point by point from the docstring."""
    (x0, y0), (x1, y1), r = part.p0, part.p1, part.r
    length = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
    ax, ay = (x1 - x0) / length, (y1 - y0) / length
    s = (x - x0) * ax + (y - y0) * ay            # along the axis from the proximal end
    w = -(x - x0) * ay + (y - y0) * ax           # across it
    if part.kind == "ellipse":
        inside = ((s - length / 2) / (length / 2)) ** 2 + (w / r) ** 2 <= 1
        return inside, s / length, (w + r) / (2 * r)
    t = min(max(s, 0.0), length)
    inside = (x - (x0 + t * ax)) ** 2 + (y - (y0 + t * ay)) ** 2 <= r * r
    return inside, (s + r) / (length + 2 * r), (w + r) / (2 * r)


def _check_against_reference(figures, index):
    h, w = figures.image_size
    expected_parts = np.zeros((h, w), int)
    expected_uv = np.zeros((h, w, 2))
    expected_owner = np.zeros((h, w), int)
    for k, body in enumerate(figures.geometry[index]):
        for label in DRAW_ORDER:                    # back to front: the last part painted wins
            part = body[label - 1]
            for row in range(h):
                for col in range(w):
                    inside, u, v = _reference(part, col + 0.5, row + 0.5)
                    if inside:
                        expected_parts[row, col] = label
                        expected_uv[row, col] = (u, v)
                        expected_owner[row, col] = k + 1
    np.testing.assert_array_equal(figures.parts[index], expected_parts)
    np.testing.assert_array_equal(figures.instances[index], expected_owner)
    np.testing.assert_allclose(figures.uv[index], np.clip(expected_uv, 0, 1), atol=1e-5)


def test_shapes_and_types(single):
    assert len(single) == 12 and single.image_size == (64, 64)
    assert single.images.shape == (12, 64, 64, 3) and single.images.dtype == np.uint8
    assert single.parts.shape == (12, 64, 64) and single.uv.shape == (12, 64, 64, 2)
    assert single.uv.dtype == np.float32 and single.instances.shape == (12, 64, 64)
    assert len(PART_NAMES) == NUM_PARTS == 10 and sorted(DRAW_ORDER) == list(range(1, 11))
    assert all(b.shape == (1, 4) for b in single.boxes)


def test_part_map_and_uv_match_an_independent_rendering(single, crowd):
    for i in range(3):
        _check_against_reference(single, i)
    _check_against_reference(crowd, 0)


def _covered(part: Part, xs, ys):
    """Coverage by another route: a capsule is the union of two discs and a rotated rectangle; an ellipse is
    ``d^T R diag(1/a^2, 1/r^2) R^T d <= 1`` around its centre."""
    p0, p1 = np.array(part.p0), np.array(part.p1)
    if part.kind == "ellipse":
        centre, half = (p0 + p1) / 2, np.linalg.norm(p1 - p0) / 2
        c, s = (p1 - p0) / (2 * half)
        rotation = np.array([[c, -s], [s, c]])
        form = rotation @ np.diag([1 / half**2, 1 / part.r**2]) @ rotation.T
        d = np.stack([xs - centre[0], ys - centre[1]], -1)
        return np.einsum("...i,ij,...j->...", d, form, d) <= 1 + 1e-9
    discs = [(xs - q[0]) ** 2 + (ys - q[1]) ** 2 <= part.r**2 + 1e-9 for q in (p0, p1)]
    length = np.linalg.norm(p1 - p0)
    along = ((xs - p0[0]) * (p1 - p0)[0] + (ys - p0[1]) * (p1 - p0)[1]) / length
    across = np.abs((xs - p0[0]) * (p1 - p0)[1] - (ys - p0[1]) * (p1 - p0)[0]) / length
    return discs[0] | discs[1] | ((along >= 0) & (along <= length) & (across <= part.r + 1e-9))


def test_part_map_matches_the_silhouette(single, crowd):
    """Every pixel covered by some part of some figure is labelled, no other pixel is, and each part's pixels lie
    inside that part."""
    for figures in (single, crowd):
        h, w = figures.image_size
        ys, xs = np.mgrid[0:h, 0:w] + 0.5
        for i in range(len(figures)):
            silhouette = np.zeros((h, w), bool)
            for k, body in enumerate(figures.geometry[i]):
                for part in body:
                    covered = _covered(part, xs, ys)
                    silhouette |= covered
                    mine = (figures.parts[i] == part.label) & (figures.instances[i] == k + 1)
                    assert np.all(covered[mine]), f"a pixel labelled {PART_NAMES[part.label - 1]} lies outside it"
            np.testing.assert_array_equal(figures.parts[i] > 0, silhouette)
            np.testing.assert_array_equal(figures.instances[i] > 0, silhouette)


def test_every_part_is_visible_in_most_images():
    figures = generate_figures(50, 64, seed=1)
    seen = np.array([[np.any(p == k) for k in range(1, 11)] for p in figures.parts])
    assert seen.mean() > 0.9


def test_uv_in_range_and_zero_on_background(single, crowd):
    for figures in (single, crowd):
        figure = figures.parts > 0
        assert figures.uv[figure].min() >= 0 and figures.uv[figure].max() <= 1
        assert not figures.uv[~figure].any()
        # U and V use their whole range: 0 near the proximal end, 1 at the distal end
        assert figures.uv[figure].min() < 0.1 and figures.uv[figure].max() > 0.9


def test_uv_is_continuous_inside_a_part(single):
    """Between 4-neighbours of the same part, U and V change by at most one pixel's worth of the part's chart."""
    for i in range(len(single)):
        parts, uv = single.parts[i], single.uv[i].astype(float)
        body = single.geometry[i][0]
        for axis in (0, 1):
            a = [slice(None), slice(None)]
            b = [slice(None), slice(None)]
            a[axis], b[axis] = slice(None, -1), slice(1, None)
            same = (parts[tuple(a)] == parts[tuple(b)]) & (parts[tuple(a)] > 0)
            step = np.abs(uv[tuple(a)] - uv[tuple(b)])
            for label in range(1, 11):
                part = body[label - 1]
                length = np.hypot(part.p1[0] - part.p0[0], part.p1[1] - part.p0[1])
                du = 1 / length if part.kind == "ellipse" else 1 / (length + 2 * part.r)
                dv = 1 / (2 * part.r)
                here = same & (parts[tuple(a)] == label)
                assert np.all(step[here][:, 0] <= du + 1e-5), f"U jumps inside {PART_NAMES[label - 1]}"
                assert np.all(step[here][:, 1] <= dv + 1e-5), f"V jumps inside {PART_NAMES[label - 1]}"
        # and a jump of U or V far larger than a pixel happens only across part boundaries
        jump = np.abs(np.diff(uv[..., 0], axis=1)) > 0.5
        assert np.all(parts[:, :-1][jump] != parts[:, 1:][jump])


def test_boxes_are_tight_around_each_visible_figure(crowd):
    for i in range(len(crowd)):
        assert len(crowd.boxes[i]) == len(crowd.geometry[i]) in (2, 3)
        for j, box in enumerate(crowd.boxes[i]):
            rows, cols = np.nonzero(crowd.instances[i] == j + 1)
            np.testing.assert_array_equal(box, [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])


def test_deterministic_and_prefix_stable():
    a = generate_figures(6, 64, seed=9)
    b = generate_figures(3, 64, seed=9)
    c = generate_figures(3, 64, seed=10)
    np.testing.assert_array_equal(a.images[:3], b.images)
    np.testing.assert_array_equal(a.uv[:3], b.uv)
    assert not np.array_equal(b.images, c.images)


def test_empty():
    f = generate_figures(0, 48)
    assert f.images.shape == (0, 48, 48, 3) and f.uv.shape == (0, 48, 48, 2) and f.boxes == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_images": -1}, "num_images"),
        ({"num_images": 2.5}, "num_images"),
        ({"num_images": 1, "image_size": 16}, "image_size"),
        ({"num_images": 1, "figures_per_image": (3, 1)}, "figures_per_image"),
        ({"num_images": 1, "figures_per_image": 0}, "figures_per_image"),
        ({"num_images": 1, "figure_size": (0.9, 0.5)}, "figure_size"),
        ({"num_images": 1, "figure_size": (0.5, 1.5)}, "figure_size"),
        ({"num_images": 1, "min_visible": 1.5}, "min_visible"),
        ({"num_images": 1, "noise": -1}, "noise"),
        ({"num_images": 1, "seed": -3}, "seed"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_figures(**kwargs)
