"""Synthetic tracking sequences and the OTB layout (cvlib.data.sequences)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from cvlib.data.sequences import Sequence, generate_sequences, read_otb, write_otb

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "fixtures" / "otb_example"
SMALL = dict(num_frames=12, frame_size=(90, 120), object_size=(16.0, 24.0))


def test_shapes_and_boxes_inside_frames():
    seqs = generate_sequences(2, seed=3, **SMALL)
    for s in seqs:
        assert isinstance(s, Sequence) and len(s) == 12
        assert s.frames.shape == (12, 90, 120, 3) and s.frames.dtype == np.uint8
        assert s.boxes.shape == (12, 4)
        x, y, w, h = s.boxes.T
        assert (w > 4).all() and (h > 4).all()
        assert (x >= 0).all() and (y >= 0).all() and (x + w <= 120).all() and (y + h <= 90).all()


def test_deterministic_per_seed():
    a = generate_sequences(2, seed=5, **SMALL)
    b = generate_sequences(2, seed=5, **SMALL)
    c = generate_sequences(2, seed=6, **SMALL)
    assert all(np.array_equal(p.frames, q.frames) and np.array_equal(p.boxes, q.boxes) for p, q in zip(a, b))
    assert not np.array_equal(a[0].frames, c[0].frames)


def test_boxes_follow_the_object():
    # With no noise, lighting change, occluder or distractor, only the target changes the image:
    # every changed pixel between two frames lies in the union of the two boxes (grown by the one
    # pixel of anti-aliased edge that covers less than half a pixel and so is outside the tight box).
    s = generate_sequences(1, seed=11, split="test", occlusion=False, illumination=False, distractors=0, noise=0.0,
                           speed=3.0, **SMALL)[0]
    moved = 0
    for t in range(len(s) - 1):
        changed = np.abs(s.frames[t + 1].astype(int) - s.frames[t].astype(int)).max(axis=-1) > 2
        inside = np.zeros_like(changed)
        for x, y, w, h in s.boxes[t : t + 2]:
            inside[max(0, int(y) - 1) : int(np.ceil(y + h)) + 1, max(0, int(x) - 1) : int(np.ceil(x + w)) + 1] = True
        assert not (changed & ~inside).any(), f"frame {t + 1}: pixels changed outside the target's boxes"
        moved += changed.sum()
    assert moved > 0, "the target must move"
    assert np.linalg.norm(np.diff(s.boxes[:, :2], axis=0), axis=1).mean() > 1.0


def test_difficulties_are_present():
    s = generate_sequences(1, num_frames=40, seed=2)[0]
    assert s.attributes["occluded"].any(), "an occlusion happens"
    assert s.attributes["scale"].max() / s.attributes["scale"].min() > 1.1, "the target changes scale"
    assert np.ptp(s.attributes["angle"]) > 1.0 and np.ptp(s.attributes["gain"]) > 0.05


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_sequences": -1}, "num_sequences"),
        ({"num_sequences": 1, "num_frames": 0}, "num_frames"),
        ({"num_sequences": 1, "split": "val"}, "split"),
        ({"num_sequences": 1, "object_size": (30, 200)}, "object_size"),
        ({"num_sequences": 1, "distractors": 1.5}, "distractors"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_sequences(**kwargs)


def test_reads_the_otb_fixture():
    s = read_otb(FIXTURE)
    assert s.name == "otb_example" and len(s) == 6
    assert s.frames.shape[1:] == (72, 96, 3) and s.frames.dtype == np.uint8
    first = [float(v) for v in (FIXTURE / "groundtruth_rect.txt").read_text().splitlines()[0].split(",")]
    assert np.allclose(s.boxes[0], [first[0] - 1, first[1] - 1, first[2], first[3]]), "1-based x, y become 0-based"


def test_write_read_round_trip_and_separators(tmp_path):
    s = generate_sequences(1, num_frames=4, frame_size=(60, 80), object_size=(10.0, 14.0), seed=1)[0]
    s.boxes = np.round(s.boxes)
    root = write_otb(tmp_path / "seq", s)
    back = read_otb(root)
    assert np.array_equal(back.boxes, s.boxes)
    assert np.abs(back.frames.astype(int) - s.frames).mean() < 8, "JPEG round trip keeps the frames"
    # Tabs and spaces separate values as well as commas do.
    gt = root / "groundtruth_rect.txt"
    gt.write_text(gt.read_text().replace(",", "\t", 2).replace(",", " "))
    assert np.array_equal(read_otb(root).boxes, s.boxes)


def test_missing_frame_names_the_path(tmp_path):
    root = tmp_path / "seq"
    shutil.copytree(FIXTURE, root)
    (root / "img" / "0003.jpg").unlink()
    with pytest.raises(ValueError, match=r"frames missing in .*img.*0003"):
        read_otb(root)


def test_count_mismatch_and_missing_files(tmp_path):
    root = tmp_path / "seq"
    shutil.copytree(FIXTURE, root)
    (root / "img" / "0006.jpg").unlink()
    with pytest.raises(ValueError, match=r"groundtruth_rect\.txt has 6 boxes but .* has 5 frames"):
        read_otb(root)
    (root / "groundtruth_rect.txt").unlink()
    with pytest.raises(ValueError, match=r"groundtruth_rect\.txt is missing"):
        read_otb(root)
    with pytest.raises(ValueError, match="not a folder"):
        read_otb(tmp_path / "nowhere")


def test_bad_groundtruth_line(tmp_path):
    root = tmp_path / "seq"
    shutil.copytree(FIXTURE, root)
    lines = (root / "groundtruth_rect.txt").read_text().splitlines()
    lines[2] = "1,2,3"
    (root / "groundtruth_rect.txt").write_text("\n".join(lines))
    with pytest.raises(ValueError, match="line 3"):
        read_otb(root)
