"""cvlib.widgets.ClickDemo: the mouse handler, the picture and the layout, without a browser (make test-browser
clicks the real widget in JupyterLab)."""

from __future__ import annotations

import io

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("ipyevents")

from PIL import Image

from cvlib.widgets import ClickDemo, mask_outline, session_picture


class DiskSession:
    """A stand-in for ``ClickSession`` without a network: the mask is the pixels within 3 of a positive click."""

    def __init__(self, height=16, width=20):
        self.image = np.full((height, width, 3), 100, np.float32)
        self.clicks = []
        self.probabilities = self.choice = None
        self.mask = np.zeros((height, width), bool)

    @property
    def shape(self):
        return self.image.shape[:2]

    @property
    def positive(self):
        return np.asarray([(x, y) for x, y, p in self.clicks if p]).reshape(-1, 2)

    @property
    def negative(self):
        return np.asarray([(x, y) for x, y, p in self.clicks if not p]).reshape(-1, 2)

    def contains(self, x, y):
        return bool(np.isfinite(x) and np.isfinite(y) and 0 <= x < self.shape[1] and 0 <= y < self.shape[0])

    def add(self, x, y, positive=True):
        self.clicks.append((int(x), int(y), bool(positive)))
        self._refresh()

    def undo(self):
        self.clicks = self.clicks[:-1]
        self._refresh()

    def reset(self):
        self.clicks = []
        self._refresh()

    def _refresh(self):
        rows, cols = np.mgrid[0:self.shape[0], 0:self.shape[1]]
        self.mask = np.zeros(self.shape, bool)
        for x, y in self.positive:
            self.mask |= np.hypot(cols - x, rows - y) <= 3


def mouse(x, y, width=200, height=160, **keys):
    """An ipyevents click event at screen position (x, y) on a picture shown width x height pixels."""
    return {"type": "click", "relativeX": x, "relativeY": y, "boundingRectWidth": width,
            "boundingRectHeight": height, "shiftKey": False, "ctrlKey": False, "altKey": False,
            "metaKey": False, **keys}


@pytest.fixture
def demo():
    return ClickDemo(DiskSession(16, 20), size=200)


def test_picture_is_a_whole_multiple_of_the_image_and_fits_beside_its_controls(demo):
    assert demo.scale == 10, "20 pixels wide shown in 200: each image pixel a 10 x 10 square"
    assert (demo.image.layout.width, demo.image.layout.height) == ("200px", "160px")
    png = Image.open(io.BytesIO(demo.image.value))
    assert png.size == (200, 160), "the PNG is drawn at the size it is shown, so the browser does not resample"
    assert demo.widget.children[0] is demo.image, "the controls sit beside the picture, not under it"
    assert ClickDemo(DiskSession(48, 48)).image.layout.height == "336px", "the default fits a laptop screen"


def test_a_plain_mouse_click_adds_a_positive_click_at_the_image_pixel_under_it(demo):
    assert demo.on_mouse(mouse(55, 38)) is True
    assert demo.session.clicks == [(5, 3, True)], "screen (55, 38) at 10 screen pixels per image pixel"
    assert demo.session.mask[3, 5] and "1 positive" in demo.status.value


@pytest.mark.parametrize("key", ["shiftKey", "ctrlKey", "altKey", "metaKey"])
def test_a_click_with_a_modifier_key_is_negative(demo, key):
    assert demo.on_mouse(mouse(55, 38, **{key: True})) is True
    assert demo.session.clicks == [(5, 3, False)] and "1 negative" in demo.status.value


def test_the_mode_toggle_makes_plain_clicks_negative(demo):
    demo.mode.value = "negative"
    demo.on_mouse(mouse(10, 10))
    demo.mode.value = "positive"
    demo.on_mouse(mouse(10, 10, shiftKey=True))
    assert [c[2] for c in demo.session.clicks] == [False, False]


def test_the_mouse_maps_the_displayed_size_back_to_image_pixels(demo):
    # the browser may show the picture smaller than drawn (a narrow window): the fraction of the width counts
    assert demo.on_mouse(mouse(199, 79, width=100, height=80)) is False, "past the right edge: outside"
    assert demo.on_mouse(mouse(99.9, 79.9, width=100, height=80)) is True
    assert demo.session.clicks[-1][:2] == (19, 15), "the bottom-right pixel"


@pytest.mark.parametrize("event", [
    mouse(-1, 10), mouse(10, -3), mouse(200, 10), mouse(10, 160),
    {"type": "click"}, mouse(10, 10, width=0), mouse(float("nan"), 10), mouse(None, 10),
])
def test_a_click_outside_the_image_or_a_broken_event_does_nothing(demo, event):
    before = demo.image.value
    assert demo.on_mouse(event) is False
    assert demo.session.clicks == [] and demo.image.value == before


def test_the_picture_shows_mask_and_clicks(demo):
    demo.click(5, 5)
    demo.click(15, 12, positive=False)
    picture = session_picture(demo.session, 4)
    assert picture.shape == (64, 80, 3) and picture.dtype == np.uint8
    inside, outside = picture[4 * 5 + 9, 4 * 5 + 1], picture[0, 0]
    assert inside[2] > inside[0] and tuple(outside) == (100, 100, 100), "the mask is tinted blue, the rest kept"
    assert tuple(picture[4 * 5 + 2, 4 * 5 + 2]) == (40, 220, 40), "a positive click is a green dot"
    assert tuple(picture[4 * 12 + 2, 4 * 15 + 2]) == (235, 40, 40), "a negative click is a red dot"
    assert (picture == (255, 210, 0)).all(axis=-1).sum() > 0, "the mask's edge is outlined in yellow"
    with pytest.raises(ValueError, match="scale"):
        session_picture(demo.session, 0)


def test_mask_outline_is_the_band_inside_the_edge():
    mask = np.zeros((9, 9), bool)
    mask[2:7, 2:7] = True
    edge = mask_outline(mask, width=1)
    assert edge.sum() == 16 and not edge[3:6, 3:6].any() and not (edge & ~mask).any()
    assert mask_outline(np.ones((3, 3), bool), width=1).sum() == 8, "the image border counts as an edge"
    assert not mask_outline(np.zeros((4, 4), bool)).any()


def test_keyboard_path_undo_and_reset_redraw(demo):
    demo.x.value, demo.y.value = 7, 8
    demo.widget.children[1].children[4].click()          # "add click"
    assert demo.session.clicks == [(7, 8, True)]
    first = demo.image.value
    demo.click(1, 1)
    assert demo.image.value != first
    demo.undo()
    assert demo.image.value == first
    demo.reset()
    assert demo.session.clicks == [] and "0 clicks" in demo.status.value
