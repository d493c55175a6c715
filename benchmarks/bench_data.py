"""Speed of the synthetic data generators: figures with dense targets (notebook 16) and faces (07, 09).

Run ``python benchmarks/bench_data.py``. The generator rows are throughput figures at the notebooks' image sizes
and settings (what a student waits for; the note gives the time per image and for the notebook's full-mode
count). The painting row compares the renderer's per-part boxes with painting every part over the whole image,
after checking that both give the same bits.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _harness when run as a script

from _harness import Row, format_seconds, median_seconds

from cvlib.data import faces, figures

# notebook 09's framing of the detector crops
FRAMING = {"yaw": (-20, 20), "pitch": (-10, 10), "roll": (-25, 25), "scale": (0.24, 0.36), "shift": (-0.08, 0.08)}


def _throughput(task: str, make, count: int, full_count: int, where: str) -> Row:
    seconds = median_seconds(make, repeat=3)
    per_image = seconds / count
    return Row(task, seconds, note=f"{format_seconds(per_image)} per image; {where}'s {full_count:,}: "
                                   f"{format_seconds(per_image * full_count)}")


def _paint_whole_image(parts, ys, xs):
    """Every part over every pixel, back to front: the straightforward painter."""
    labels = np.zeros(xs.shape, np.int32)
    uv = np.zeros((*xs.shape, 2))
    for label in figures.DRAW_ORDER:
        inside, u, v = figures.part_fields(parts[label - 1], xs, ys)
        labels[inside] = label
        uv[inside, 0], uv[inside, 1] = u[inside], v[inside]
    return labels, np.clip(uv, 0.0, 1.0)


def run() -> list[Row]:
    rows = [
        _throughput("figures: 400 of 64x64, one figure", lambda: figures.generate_figures(400, 64, seed=16),
                    400, 2300, "notebook 16 (train + test)"),
        _throughput("figures: 100 of 96x96, two figures",
                    lambda: figures.generate_figures(100, 96, figures_per_image=2, figure_size=(0.45, 0.7),
                                                     min_visible=0.6, seed=2016),
                    100, 1000, "notebook 16 (crowd)"),
        _throughput("faces: 1000 of 64x64, defaults", lambda: faces.render_faces(1000, size=64, seed=1),
                    1000, 4300, "notebook 07"),
        _throughput("faces: 1000 of 64x64, framing, people",
                    lambda: faces.render_faces(1000, size=64, seed=40, **FRAMING), 1000, 6980, "notebook 09"),
    ]
    # One figure's part and UV maps: per-part boxes (the renderer) against every part over the whole image.
    size = 64
    sample = figures.generate_figures(50, size, seed=16)
    bodies = [g[0] for g in sample.geometry]
    centres = np.arange(size) + 0.5
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    for parts in bodies:
        window, labels, uv = figures._paint(parts, centres)
        full_labels, full_uv = np.zeros((size, size), np.int32), np.zeros((size, size, 2))
        full_labels[window], full_uv[window] = labels, uv
        ref_labels, ref_uv = _paint_whole_image(parts, ys, xs)
        assert np.array_equal(full_labels, ref_labels) and full_uv.tobytes() == ref_uv.tobytes()
    ours = median_seconds(lambda: [figures._paint(p, centres) for p in bodies], repeat=5) / len(bodies)
    reference = median_seconds(lambda: [_paint_whole_image(p, ys, xs) for p in bodies], repeat=5) / len(bodies)
    rows.append(Row("paint one figure, 64x64", ours, reference, "whole-image painting",
                    note="same bits; each part over its own box"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
