"""Jupyter widgets of the course: ``ClickDemo``, interactive segmentation by clicking (notebook 15).

The widget is a thin view over ``cvlib.models.interactive.ClickSession``, which holds the state (image, clicks,
mask) and runs the network. It takes clicks three ways, all ending in the same method ``click(x, y, positive)``:
- the mouse on the image: a left click adds a click of the selected mode (positive unless the toggle says
  negative); a click with Shift, Ctrl, Alt or Cmd held adds a negative one;
- the keyboard: the x / y boxes and the "add click" button;
- code and tests: ``demo.click(x, y)``, ``demo.undo()``, ``demo.reset()``, exactly what the mouse calls.
Clicks outside the image are ignored (``click`` returns False), never an error in front of the user.

Why ipyevents for the mouse: it attaches browser mouse events, with their modifier keys, to the existing
``ipywidgets.Image``, so the picture stays a PNG the widget can also render headless (in tests and
``nbclient``), and nothing else in the notebook changes. ipympl would need ``%matplotlib widget``, which switches
every figure of the notebook to its interactive backend, and redraws a whole matplotlib figure per click;
ipycanvas' mouse callbacks receive only the position, not the modifier keys. ipyevents is one small package with
a prebuilt JupyterLab 4 extension, kept up to date for ipywidgets 8.

The picture is the image itself, enlarged by a whole factor with NumPy (each image pixel a square of screen
pixels, so a screen position maps straight back to an image pixel), the mask tinted blue and outlined in
yellow, positive clicks green and negative clicks red. Drawing it takes about a millisecond, so what a user
waits for after a click is the network (notebook 15, section 12).
"""

from __future__ import annotations

import io

import numpy as np

__all__ = ["ClickDemo", "mask_outline", "render_session", "session_picture"]

MASK_TINT = np.array([26, 128, 255], np.float32)      # blue
OUTLINE_COLOUR = np.array([255, 210, 0], np.uint8)    # yellow: the mask's edge stays visible on a blue image
POSITIVE_COLOUR = np.array([40, 220, 40], np.uint8)   # green
NEGATIVE_COLOUR = np.array([235, 40, 40], np.uint8)   # red
MODIFIER_KEYS = ("shiftKey", "ctrlKey", "altKey", "metaKey")


def render_session(session, ax, alpha: float = 0.45):
    """Draw the session's image, its mask (tinted) and its clicks (green +, red x) on a matplotlib axis."""
    picture = session.image / 255.0
    if session.mask.any():
        tint = MASK_TINT / 255.0
        picture = np.where(session.mask[..., None], (1 - alpha) * picture + alpha * tint, picture)
    ax.imshow(np.clip(picture, 0, 1), interpolation="nearest")
    for x, y, positive in session.clicks:
        ax.plot(x, y, "P" if positive else "X", ms=9, mec="k", mfc="lime" if positive else "red")
    ax.set_axis_off()


def mask_outline(mask: np.ndarray, width: int = 2) -> np.ndarray:
    """The pixels of a bool mask (H, W) less than ``width`` pixels from its edge (the image border counts)."""
    padded = np.pad(mask, width, constant_values=False)
    inner = mask.copy()
    rows, cols = mask.shape
    for dy in range(-width, width + 1):
        for dx in range(-width, width + 1):
            if abs(dy) + abs(dx) <= width:             # a pixel is inner if its whole diamond is in the mask
                inner &= padded[width + dy:width + dy + rows, width + dx:width + dx + cols]
    return mask & ~inner


def session_picture(session, scale: int, alpha: float = 0.45) -> np.ndarray:
    """The session drawn as uint8 RGB (H * scale, W * scale, 3): image, tinted and outlined mask, clicks as dots."""
    if int(scale) < 1:
        raise ValueError(f"scale: expected a whole number >= 1, got {scale!r}")
    scale = int(scale)
    picture = np.clip(session.image, 0, 255).astype(np.float32)
    mask = session.mask[..., None]
    picture = np.where(mask, (1 - alpha) * picture + alpha * MASK_TINT, picture)
    picture = np.repeat(np.repeat(picture.round().astype(np.uint8), scale, axis=0), scale, axis=1)
    screen_mask = np.repeat(np.repeat(session.mask, scale, axis=0), scale, axis=1)
    picture[mask_outline(screen_mask, width=max(1, scale // 4))] = OUTLINE_COLOUR
    rows, cols = np.mgrid[0:picture.shape[0], 0:picture.shape[1]] + 0.5
    radius = max(2.0, 0.8 * scale)
    for x, y, positive in session.clicks:
        distance = np.hypot(cols - (x + 0.5) * scale, rows - (y + 0.5) * scale)
        picture[distance <= radius + 1.5] = 0                   # a black ring keeps the dot visible on any colour
        picture[distance <= radius] = POSITIVE_COLOUR if positive else NEGATIVE_COLOUR
    return picture


def _png(picture: np.ndarray) -> bytes:
    from PIL import Image  # Pillow, installed with matplotlib

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


class ClickDemo:
    """Click on an image, see the mask: an ipywidgets view of a ``ClickSession``.

    ``demo.widget`` is what a notebook displays: the picture, ``size`` screen pixels on its longer side (rounded
    to a whole multiple of the image), with the controls beside it, so both fit on a laptop screen.
    ``demo.mode`` (positive / negative) says what a plain click adds; a click with a modifier key is negative.
    """

    def __init__(self, session, size: int = 336):
        import ipywidgets as widgets
        from ipyevents import Event

        self.session = session
        height, width = session.shape
        self.scale = max(1, round(size / max(height, width)))
        self.image = widgets.Image(format="png", layout=widgets.Layout(
            width=f"{width * self.scale}px", height=f"{height * self.scale}px", object_fit="fill"))
        self.mouse = Event(source=self.image, watched_events=["click"], prevent_default_action=True)
        self.mouse.on_dom_event(self.on_mouse)
        narrow = widgets.Layout(width="150px")
        self.mode = widgets.ToggleButtons(options=["positive", "negative"], value="positive",
                                          description="plain click", style={"button_width": "84px"})
        self.x = widgets.BoundedIntText(value=width // 2, min=0, max=width - 1, description="x", layout=narrow)
        self.y = widgets.BoundedIntText(value=height // 2, min=0, max=height - 1, description="y", layout=narrow)
        add = widgets.Button(description="add click", layout=narrow)
        undo = widgets.Button(description="undo", layout=widgets.Layout(width="72px"))
        reset = widgets.Button(description="reset", layout=widgets.Layout(width="72px"))
        add.on_click(lambda _: self.click(self.x.value, self.y.value))
        undo.on_click(lambda _: self.undo())
        reset.on_click(lambda _: self.reset())
        self.status = widgets.HTML(layout=widgets.Layout(width="330px"))
        hint = widgets.HTML("<small>Click the picture: a click of the mode above.<br>"
                            "Shift + click: always a negative click.</small>")
        controls = widgets.VBox([self.mode, hint, self.x, self.y, add, widgets.HBox([undo, reset]), self.status],
                                layout=widgets.Layout(margin="0 0 0 12px"))
        self.widget = widgets.HBox([self.image, controls])
        self.redraw()

    def click(self, x, y, positive: bool | None = None) -> bool:
        """Add a click at (x, y) (pixel column, row); ``positive=None`` takes the mode. False if outside the image."""
        if x is None or y is None or not self.session.contains(x, y):
            return False
        sign = self.mode.value == "positive" if positive is None else bool(positive)
        self.session.add(x, y, positive=sign)
        self.redraw()
        return True

    def on_mouse(self, event: dict) -> bool:
        """Turn a browser click event on the picture (ipyevents' dict) into ``click``; False if it added none.

        The position comes as ``relativeX`` / ``relativeY``, screen pixels from the picture's top-left corner,
        and the picture's displayed size as ``boundingRectWidth`` / ``boundingRectHeight``; any modifier key
        makes the click negative.
        """
        try:
            height, width = self.session.shape
            x = int(np.floor(event["relativeX"] / event["boundingRectWidth"] * width))
            y = int(np.floor(event["relativeY"] / event["boundingRectHeight"] * height))
        except (KeyError, TypeError, ValueError, ZeroDivisionError, OverflowError):
            return False
        negative = any(event.get(key) for key in MODIFIER_KEYS)
        return self.click(x, y, positive=False if negative else None)

    def undo(self) -> None:
        """Remove the last click."""
        self.session.undo()
        self.redraw()

    def reset(self) -> None:
        """Remove every click."""
        self.session.reset()
        self.redraw()

    def connect(self, figure):
        """Forward mouse clicks on a matplotlib ``figure`` (an interactive backend) to ``click``; returns the id."""
        return figure.canvas.mpl_connect("button_press_event", lambda event: self.click(event.xdata, event.ydata))

    def redraw(self) -> None:
        """Render the session to the picture and update the status line."""
        self.image.value = _png(session_picture(self.session, self.scale))
        s = self.session
        chosen = "" if s.choice is None or s.probabilities is None or s.probabilities.shape[-1] == 1 else (
            f", output {s.choice} of {s.probabilities.shape[-1]}")
        self.status.value = (f"{len(s.clicks)} clicks ({len(s.positive)} positive, {len(s.negative)} negative); "
                             f"mask {int(s.mask.sum())} pixels{chosen}")
