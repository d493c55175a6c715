"""Jupyter widgets of the course: ``ClickDemo``, interactive segmentation by clicking (notebook 15).

The widget is a thin view over ``cvlib.models.interactive.ClickSession``, which holds the state (image, clicks,
mask) and runs the network. Its handlers are plain methods — ``click(x, y, positive=None)``, ``undo()``,
``reset()`` — so code and tests can drive it exactly as a mouse does, and it works headless: the picture is
rendered by matplotlib to PNG bytes shown in an ``ipywidgets.Image``.

Where the clicks come from in a live notebook:
- the x / y boxes and the "add click" button (any Jupyter front end);
- a mouse click on a matplotlib figure, with an interactive backend (``%matplotlib widget`` with ipympl
  installed, or a desktop backend): ``demo.connect(figure)`` forwards the figure's clicks to ``click``.
Clicks outside the image are ignored (``click`` returns False), never an error in front of the user.
"""

from __future__ import annotations

import io

import numpy as np

__all__ = ["ClickDemo", "render_session"]


def render_session(session, ax, alpha: float = 0.45):
    """Draw the session's image, its mask (tinted) and its clicks (green +, red x) on a matplotlib axis."""
    picture = session.image / 255.0
    if session.mask.any():
        tint = np.array([0.1, 0.5, 1.0])
        picture = np.where(session.mask[..., None], (1 - alpha) * picture + alpha * tint, picture)
    ax.imshow(np.clip(picture, 0, 1), interpolation="nearest")
    for x, y, positive in session.clicks:
        ax.plot(x, y, "P" if positive else "X", ms=9, mec="k", mfc="lime" if positive else "red")
    ax.set_axis_off()


class ClickDemo:
    """Click on an image, see the mask: an ipywidgets view of a ``ClickSession``.

    ``demo.widget`` is what a notebook displays. ``demo.mode`` (positive / negative) says what a click without
    an explicit sign adds.
    """

    def __init__(self, session, size: float = 4.0):
        import ipywidgets as widgets

        self.session = session
        self.size = float(size)
        height, width = session.shape
        self.image = widgets.Image(format="png")
        self.mode = widgets.ToggleButtons(options=["positive", "negative"], value="positive",
                                          description="next click")
        self.x = widgets.BoundedIntText(value=width // 2, min=0, max=width - 1, description="x")
        self.y = widgets.BoundedIntText(value=height // 2, min=0, max=height - 1, description="y")
        add = widgets.Button(description="add click")
        undo = widgets.Button(description="undo")
        reset = widgets.Button(description="reset")
        add.on_click(lambda _: self.click(self.x.value, self.y.value))
        undo.on_click(lambda _: self.undo())
        reset.on_click(lambda _: self.reset())
        self.status = widgets.HTML()
        self.widget = widgets.VBox([
            self.image,
            self.mode,
            widgets.HBox([self.x, self.y, add]),
            widgets.HBox([undo, reset]),
            self.status,
        ])
        self.redraw()

    def click(self, x, y, positive: bool | None = None) -> bool:
        """Add a click at (x, y) (pixel column, row); ``positive=None`` takes the mode. False if outside the image."""
        if x is None or y is None or not self.session.contains(x, y):
            return False
        sign = self.mode.value == "positive" if positive is None else bool(positive)
        self.session.add(x, y, positive=sign)
        self.redraw()
        return True

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
        """Render the session to the image widget and update the status line."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(self.size, self.size))
        render_session(self.session, fig.add_subplot(1, 1, 1))
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        self.image.value = buffer.getvalue()
        s = self.session
        chosen = "" if s.choice is None or s.probabilities is None or s.probabilities.shape[-1] == 1 else (
            f", output {s.choice} of {s.probabilities.shape[-1]}")
        self.status.value = (f"{len(s.clicks)} clicks ({len(s.positive)} positive, {len(s.negative)} negative); "
                             f"mask {int(s.mask.sum())} pixels{chosen}")
