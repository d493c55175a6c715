"""Pictures for the notebooks: boxes with labels and scores, mask overlays, precision/recall curves.

Functions draw on a Matplotlib ``Axes`` (a new one if ``ax`` is None) and return it,
so they compose into grids: ``fig, axes = plt.subplots(1, 3); show_boxes(img, b, ax=axes[0])``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import patches

from cvlib._checks import to_numpy, vector
from cvlib.boxes import xyxy

# Colour-blind-safe qualitative palette (Okabe & Ito), one colour per class.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")


def class_color(label: int) -> str:
    """The palette colour of class ``label`` (cycling when there are more classes than colours)."""
    return PALETTE[int(label) % len(PALETTE)]


def _image(image, name: str = "image") -> np.ndarray:
    arr = np.asarray(image.numpy() if hasattr(image, "numpy") else image)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4)):
        raise ValueError(f"{name}: expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {arr.shape}")
    return arr[..., 0] if arr.ndim == 3 and arr.shape[-1] == 1 else arr


def show_image(image, ax=None, title: str | None = None):
    """Show an image without axis ticks."""
    ax = ax or plt.subplots(figsize=(4, 4))[1]
    arr = _image(image)
    ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def show_boxes(
    image,
    boxes,
    labels=None,
    scores=None,
    class_names=None,
    ax=None,
    format: str = "xyxy",
    color: str | None = None,
    title: str | None = None,
    linestyle: str = "-",
):
    """Draw (N, 4) ``boxes`` on ``image`` with optional class ``labels`` (N,) and ``scores`` (N,).

    Each box is coloured by its class (or ``color``) and captioned "name 0.93".
    ``image`` may be None to draw on an existing axes.
    """
    b = xyxy(boxes, format)
    labels = None if labels is None else vector(labels, "labels", len(b), dtype=np.int64)
    scores = None if scores is None else vector(scores, "scores", len(b))
    if ax is None or image is not None:
        ax = show_image(image, ax=ax, title=title) if image is not None else ax
    for i, (x1, y1, x2, y2) in enumerate(b):
        c = color or (class_color(labels[i]) if labels is not None else PALETTE[0])
        ax.add_patch(
            patches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=c, linewidth=1.8, linestyle=linestyle)
        )
        caption = []
        if labels is not None:
            caption.append(class_names[labels[i]] if class_names is not None else str(labels[i]))
        if scores is not None:
            caption.append(f"{scores[i]:.2f}")
        if caption:
            ax.text(x1, y1, " ".join(caption), fontsize=7, color="black", va="bottom",
                    bbox={"facecolor": c, "edgecolor": "none", "pad": 1, "alpha": 0.85})
    return ax


def overlay_masks(image, masks, labels=None, alpha: float = 0.5) -> np.ndarray:
    """Blend (K, H, W) boolean ``masks`` onto an RGB ``image`` (H, W, 3); returns float RGB in [0, 1]."""
    arr = _image(image).astype(np.float64)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    arr = arr[..., :3] / (255.0 if arr.max() > 1 else 1.0)
    m = to_numpy(masks, "masks", dtype=bool)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3 or m.shape[1:] != arr.shape[:2]:
        raise ValueError(f"masks: expected shape (K, {arr.shape[0]}, {arr.shape[1]}) to match the image, got {m.shape}")
    labels = np.arange(len(m)) if labels is None else vector(labels, "labels", len(m), dtype=np.int64)
    out = arr.copy()
    for mask, label in zip(m, labels):
        rgb = np.array(plt.matplotlib.colors.to_rgb(class_color(label)))
        out[mask] = (1 - alpha) * out[mask] + alpha * rgb
    return out


def plot_pr_curves(curves: dict, ax=None, title: str = "Precision-recall"):
    """Plot precision against recall for each ``name -> (recall, precision)`` (or an object with those attributes)."""
    ax = ax or plt.subplots(figsize=(4.5, 4))[1]
    for name, curve in curves.items():
        recall, precision = (curve.recall, curve.precision) if hasattr(curve, "recall") else curve
        ax.plot(to_numpy(recall, "recall"), to_numpy(precision, "precision"), label=name, drawstyle="steps-post")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize=8)
    return ax
