"""Tests of cvlib.data.formats: COCO JSON and PASCAL VOC XML, checked against pycocotools."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as coco_mask  # the reference implementation (test-only dependency)
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cvlib.data.formats import (
    coco_class_names,
    detections_to_coco,
    from_coco,
    load_coco,
    mask_to_rle,
    read_voc_xml,
    rle_to_mask,
    save_coco,
    to_coco,
    to_voc_xml,
    write_voc_dataset,
)
from cvlib.data.shapes import generate_scenes

# pycocotools 2.0 calls np.array(..., copy=False) on its own masks, which NumPy 2 warns about.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "fixtures"


@pytest.fixture(scope="module")
def scenes():
    return generate_scenes(40, (48, 56), seed=11)


def quiet_coco(dataset: dict) -> COCO:
    """A pycocotools COCO object built from a dict, without its progress prints."""
    with contextlib.redirect_stdout(io.StringIO()):
        api = COCO()
        api.dataset = dataset
        api.createIndex()
    return api


# --------------------------------------------------------------------------- RLE


def random_masks():
    rng = np.random.default_rng(0)
    yield np.zeros((5, 7), bool)
    yield np.ones((5, 7), bool)
    first = np.zeros((4, 3), bool)
    first[0, 0] = True  # a mask starting with a 1 needs a leading 0-length run
    yield first
    for _ in range(20):
        h, w = rng.integers(1, 40, 2)
        yield rng.random((h, w)) < rng.uniform(0.05, 0.95)
    yield generate_scenes(1, 64, seed=0).targets[0]["masks"][0]  # long runs: multi-character numbers


@pytest.mark.parametrize("mask", list(random_masks()))
def test_rle_matches_pycocotools(mask):
    h, w = mask.shape
    rle = mask_to_rle(mask)
    assert rle["size"] == [h, w] and sum(rle["counts"]) == h * w
    # Uncompressed: pycocotools reads it back as the same mask.
    assert np.array_equal(coco_mask.decode(coco_mask.frPyObjects(rle, h, w)).astype(bool), mask)
    # Compressed: the same string as pycocotools, and both decode to the mask.
    reference = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert mask_to_rle(mask, compressed=True)["counts"] == reference["counts"].decode()
    assert np.array_equal(rle_to_mask(reference), mask)
    assert np.array_equal(rle_to_mask(rle), mask)


def test_rle_by_hand():
    mask = np.array([[0, 1, 1], [0, 1, 0]], bool)  # column-major: 0 0 | 1 1 | 1 0
    assert mask_to_rle(mask) == {"counts": [2, 3, 1], "size": [2, 3]}
    assert mask_to_rle(mask.T)["counts"] == [1, 2, 1, 1, 1]  # column-major: 0 1 1 | 0 1 0
    assert np.array_equal(rle_to_mask({"counts": [0, 2, 4], "size": [2, 3]}), [[1, 0, 0], [1, 0, 0]])


def test_rle_bad_inputs():
    with pytest.raises(ValueError, match="RLE size mismatch"):
        rle_to_mask({"counts": [2, 3], "size": [2, 3]})
    with pytest.raises(ValueError, match="counts"):
        rle_to_mask({"counts": [2, -1, 5], "size": [2, 3]})
    with pytest.raises(ValueError, match="size"):
        rle_to_mask({"counts": [6], "size": [2]})
    with pytest.raises(ValueError, match="rle"):
        rle_to_mask([6])
    with pytest.raises(ValueError, match="mask"):
        mask_to_rle(np.zeros((2, 3, 4)))


# --------------------------------------------------------------------------- COCO


def test_coco_round_trip_is_exact(scenes):
    coco = to_coco(scenes.targets, scenes.image_size, scenes.class_names)
    back = from_coco(coco)
    assert coco_class_names(coco) == list(scenes.class_names)
    assert len(back) == len(scenes)
    for i, (t, b) in enumerate(zip(scenes.targets, back)):
        assert b["image_id"] == i + 1
        assert np.array_equal(b["boxes"], t["boxes"]) and b["boxes"].dtype == np.float32
        assert np.array_equal(b["labels"], t["labels"]) and b["labels"].dtype == np.int32
        assert np.array_equal(b["masks"], t["masks"])
        assert not b["iscrowd"].any()


def test_coco_dict_fields(scenes):
    coco = to_coco(scenes.targets[:3], (48, 56), scenes.class_names, file_names=["a.png", "b.png", "c.png"])
    assert coco["images"][1] == {"id": 2, "file_name": "b.png", "height": 48, "width": 56}
    assert [c["id"] for c in coco["categories"]] == list(range(1, len(scenes.class_names) + 1))
    anns = coco["annotations"]
    assert [a["id"] for a in anns] == list(range(1, len(anns) + 1))
    first = scenes.targets[0]
    a = anns[0]
    x1, y1, x2, y2 = first["boxes"][0].tolist()
    assert a["image_id"] == 1 and a["category_id"] == int(first["labels"][0]) + 1
    assert a["bbox"] == [x1, y1, x2 - x1, y2 - y1] and a["iscrowd"] == 0
    json.dumps(coco)  # plain Python types only


def test_coco_area_is_the_mask_area_and_pycocotools_agrees(scenes):
    coco = to_coco(scenes.targets, scenes.image_size, scenes.class_names)
    api = quiet_coco(coco)
    for image_id, target in enumerate(scenes.targets, start=1):
        anns = api.loadAnns(api.getAnnIds(imgIds=[image_id]))
        assert len(anns) == len(target["masks"])
        for ann, mask in zip(anns, target["masks"]):
            assert ann["area"] == mask.sum()
            assert np.array_equal(api.annToMask(ann).astype(bool), mask)


def test_coco_without_masks_uses_box_area():
    targets = [{"boxes": [[1, 2, 5, 10]], "labels": [0]}, {"boxes": np.zeros((0, 4)), "labels": []}]
    coco = to_coco(targets, [(20, 30), (40, 50)], ["thing"])
    (ann,) = coco["annotations"]
    assert ann["area"] == 32 and "segmentation" not in ann
    assert [(im["height"], im["width"]) for im in coco["images"]] == [(20, 30), (40, 50)]
    back = from_coco(coco)
    assert "masks" not in back[0] and back[1]["boxes"].shape == (0, 4)


def test_coco_keeps_scores_and_iscrowd():
    targets = [{"boxes": [[0, 0, 4, 4], [1, 1, 2, 3]], "labels": [1, 0], "scores": [0.9, 0.25], "iscrowd": [0, 1]}]
    coco = to_coco(targets, 8, ["a", "b"], scores=True)
    assert [a["score"] for a in coco["annotations"]] == [0.9, 0.25]
    (back,) = from_coco(coco)
    assert np.allclose(back["scores"], [0.9, 0.25]) and back["iscrowd"].tolist() == [False, True]


def test_perfect_detections_score_one_in_cocoeval(scenes):
    coco = to_coco(scenes.targets, scenes.image_size, scenes.class_names)
    predictions = [dict(t, scores=np.linspace(1, 0.5, len(t["labels"]))) for t in scenes.targets]
    results = detections_to_coco(predictions)
    assert set(results[0]) == {"image_id", "category_id", "bbox", "score", "segmentation"}
    gt = quiet_coco(coco)
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results)
        for iou_type in ("bbox", "segm"):
            evaluation = COCOeval(gt, dt, iou_type)
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
            assert evaluation.stats[0] == pytest.approx(1.0), iou_type


def test_detections_to_coco_ids():
    preds = [
        {"boxes": [[0, 0, 2, 3]], "labels": [1], "scores": [0.5]},
        {"boxes": np.zeros((0, 4)), "labels": [], "scores": []},
    ]
    assert detections_to_coco(preds) == [{"image_id": 1, "category_id": 2, "bbox": [0.0, 0.0, 2.0, 3.0], "score": 0.5}]
    (result,) = detections_to_coco(preds, image_ids=[42, 43], category_ids=[1, 3])
    assert result["image_id"] == 42 and result["category_id"] == 3
    assert detections_to_coco([]) == []


def test_save_and_load_coco(tmp_path, scenes):
    coco = to_coco(scenes.targets[:2], scenes.image_size, scenes.class_names)
    coco["extra"] = {"count": np.int64(3), "values": np.arange(3)}  # NumPy types are converted
    path = save_coco(tmp_path / "instances.json", coco)
    loaded = load_coco(path)
    assert loaded["extra"] == {"count": 3, "values": [0, 1, 2]}
    for t, b in zip(scenes.targets[:2], from_coco(loaded)):
        assert np.array_equal(t["masks"], b["masks"]) and np.array_equal(t["boxes"], b["boxes"])


def test_coco_fixture_reads_as_written():
    coco = load_coco(FIXTURES / "coco_example.json")
    assert coco_class_names(coco) == ["circle", "star"]
    first, second, empty = from_coco(coco)
    assert first["image_id"] == 7 and second["image_id"] == 9 and empty["image_id"] == 12
    assert first["boxes"].tolist() == [[1, 1, 3, 3], [3, 0, 6, 2]]
    assert first["labels"].tolist() == [1, 0]  # category ids 3 and 1 -> positions among sorted ids
    square = np.zeros((4, 6), bool)
    square[1:3, 1:3] = True
    bar = np.zeros((4, 6), bool)
    bar[0:2, 3:6] = True
    assert np.array_equal(first["masks"], [square, bar])
    assert second["iscrowd"].tolist() == [True] and second["masks"][0].sum() == 5 and second["masks"][0][:, 0].all()
    assert empty["boxes"].shape == (0, 4) and empty["masks"].shape == (0, 8, 8)
    # pycocotools reads the same masks (RLE and polygon) from the same file.
    with contextlib.redirect_stdout(io.StringIO()):
        api = COCO(str(FIXTURES / "coco_example.json"))
    masks = {7: first["masks"], 9: second["masks"]}
    for image_id, expected in masks.items():
        anns = api.loadAnns(api.getAnnIds(imgIds=[image_id]))
        assert np.array_equal([api.annToMask(a).astype(bool) for a in anns], expected)
        assert [a["area"] for a in anns] == [m.sum() for m in expected]


def test_polygons_are_close_to_pycocotools():
    rng = np.random.default_rng(1)
    for _ in range(5):
        n = int(rng.integers(3, 12))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(6, 25, n)
        polygon = np.stack([40 + radii * np.cos(angles), 32 + radii * np.sin(angles)], 1).ravel().tolist()
        coco = {
            "images": [{"id": 1, "height": 64, "width": 80}],
            "categories": [{"id": 1, "name": "blob"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "segmentation": [polygon]}
            ],
        }
        ours = from_coco(coco)[0]["masks"][0]
        reference = quiet_coco(coco).annToMask(coco["annotations"][0]).astype(bool)
        assert (ours & reference).sum() / (ours | reference).sum() > 0.9


def coco_with(**changes) -> dict:
    coco = {
        "images": [{"id": 1, "height": 4, "width": 6}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]}],
    }
    for key, value in changes.items():
        if key in coco:
            coco[key] = value
        else:
            coco["annotations"][0][key] = value
    return coco


@pytest.mark.parametrize(
    ("coco", "message"),
    [
        ({"images": []}, "categories"),
        (coco_with(images=[{"id": 1, "width": 6}]), r"images'\]\[0\]: missing key 'height'"),
        (coco_with(annotations=[{"id": 1, "image_id": 1, "bbox": [0, 0, 1, 1]}]), "category_id"),
        (coco_with(image_id=5), "image_id.*not in coco"),
        (coco_with(category_id=2), "category_id.*not in coco"),
        (coco_with(bbox=[0, 0, -1, 2]), "bbox.*negative"),
        (coco_with(segmentation={"counts": [20, 4], "size": [4, 6]}), None),  # valid: for contrast
        (coco_with(segmentation={"counts": [20, 4], "size": [6, 4]}), "RLE size mismatch"),
        (coco_with(segmentation={"counts": [20, 3], "size": [4, 6]}), "RLE size mismatch"),
    ],
)
def test_from_coco_bad_inputs(coco, message):
    if message is None:
        assert from_coco(coco)[0]["masks"].sum() == 4
        return
    with pytest.raises(ValueError, match=message):
        from_coco(coco)


def test_to_coco_bad_inputs():
    good = {"boxes": [[0, 0, 2, 2]], "labels": [0]}
    with pytest.raises(ValueError, match=r"targets\[0\]: missing key 'labels'"):
        to_coco([{"boxes": [[0, 0, 2, 2]]}], 8, ["a"])
    with pytest.raises(ValueError, match=r"labels.*label 3"):
        to_coco([{"boxes": [[0, 0, 2, 2]], "labels": [3]}], 8, ["a", "b"])
    with pytest.raises(ValueError, match=r"boxes.*negative"):
        to_coco([{"boxes": [[4, 0, 2, 2]], "labels": [0]}], 8, ["a"])
    with pytest.raises(ValueError, match=r"masks.*expected shape"):
        to_coco([dict(good, masks=np.zeros((1, 8, 9), bool))], 8, ["a"])
    with pytest.raises(ValueError, match="image_size"):
        to_coco([good, good], [(8, 8)] * 3, ["a"])
    with pytest.raises(ValueError, match="file_names"):
        to_coco([good], 8, ["a"], file_names=["x.png", "y.png"])
    with pytest.raises(ValueError, match="class_names"):
        to_coco([good], 8, [])
    with pytest.raises(ValueError, match="scores"):
        to_coco([good], 8, ["a"], scores=True)
    with pytest.raises(ValueError, match="targets"):
        to_coco(good, 8, ["a"])
    with pytest.raises(ValueError, match="scores"):
        detections_to_coco([good])
    with pytest.raises(ValueError, match="image_ids"):
        detections_to_coco([dict(good, scores=[1.0])], image_ids=[1, 2])


def test_load_coco_bad_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"images": [', encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken.json.*not valid JSON"):
        load_coco(path)


# --------------------------------------------------------------------------- VOC


def test_voc_round_trip_is_exact():
    target = {
        "boxes": np.array([[0, 0, 10, 12], [5.0, 7.0, 64.0, 48.0]], np.float32),
        "labels": np.array([2, 0]),
        "difficult": [0, 1],
        "truncated": [1, 0],
    }
    xml = to_voc_xml(target, "000001.jpg", (48, 64, 3), ["circle", "square", "star"])
    assert "<xmin>1</xmin>" in xml and "<xmax>10</xmax>" in xml  # 1-based inclusive
    back = read_voc_xml(xml, ["circle", "square", "star"])
    assert back["filename"] == "000001.jpg" and back["image_shape"] == (48, 64, 3)
    assert np.array_equal(back["boxes"], target["boxes"]) and back["boxes"].dtype == np.float32
    assert back["labels"].tolist() == [2, 0] and back["names"] == ["star", "circle"]
    assert back["difficult"].tolist() == [False, True] and back["truncated"].tolist() == [True, False]
    assert "labels" not in read_voc_xml(xml)


def test_voc_rounds_to_whole_pixels_and_round_trips_generated_boxes(scenes):
    back = read_voc_xml(to_voc_xml({"boxes": [[0.4, 1.6, 9.5, 7.2]], "labels": [0]}, "a.jpg", (16, 16), ["a"]))
    assert back["boxes"].tolist() == [[0, 2, 10, 7]]
    for t in scenes.targets[:10]:
        xml = to_voc_xml(t, "x.jpg", scenes.image_size, scenes.class_names)
        back = read_voc_xml(xml, scenes.class_names)
        assert np.array_equal(back["boxes"], t["boxes"]) and np.array_equal(back["labels"], t["labels"])


def test_voc_fixture_reads_as_written():
    ann = read_voc_xml(FIXTURES / "voc_example.xml", ["circle", "square", "star", "cross"])
    assert ann["filename"] == "2012_004321.jpg" and ann["image_shape"] == (120, 160, 3)
    assert ann["names"] == ["circle", "star", "cross"] and ann["labels"].tolist() == [0, 2, 3]
    assert ann["boxes"].tolist() == [[10, 20, 50, 60], [100, 0, 160, 45], [69, 79, 89, 119]]
    assert ann["difficult"].tolist() == [False, True, False]  # the cross has no <difficult>: 0
    assert ann["truncated"].tolist() == [False, True, False]
    assert read_voc_xml(str(FIXTURES / "voc_example.xml"))["names"] == ann["names"]


def test_write_voc_dataset(tmp_path, scenes):
    root = write_voc_dataset(tmp_path / "voc", scenes[:3])
    names = (root / "ImageSets" / "Main" / "trainval.txt").read_text().split()
    assert names == ["000000", "000001", "000002"]
    assert len(list((root / "JPEGImages").glob("*.jpg"))) == 3
    for name, t in zip(names, scenes.targets):
        back = read_voc_xml(root / "Annotations" / f"{name}.xml", scenes.class_names)
        assert back["filename"] == f"{name}.jpg" and np.array_equal(back["boxes"], t["boxes"])


def test_voc_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="malformed XML"):
        read_voc_xml("<annotation><object></annotation>")
    broken = tmp_path / "broken.xml"
    broken.write_text("<annotation><object>", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken.xml.*malformed XML"):
        read_voc_xml(broken)
    with pytest.raises(ValueError, match="<annotation> root"):
        read_voc_xml("<root/>")
    with pytest.raises(ValueError, match="no <name>"):
        read_voc_xml("<annotation><object><bndbox/></object></annotation>")
    with pytest.raises(ValueError, match="no <bndbox>"):
        read_voc_xml("<annotation><object><name>a</name></object></annotation>")
    no_ymax = (
        "<annotation><object><name>a</name>"
        "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>3</xmax></bndbox></object></annotation>"
    )
    with pytest.raises(ValueError, match="no <ymax>"):
        read_voc_xml(no_ymax)
    negative = no_ymax.replace("<xmax>3</xmax>", "<xmax>3</xmax><ymax>-5</ymax>")
    with pytest.raises(ValueError, match="negative size"):
        read_voc_xml(negative)
    with pytest.raises(ValueError, match="not a number"):
        read_voc_xml(no_ymax.replace("<xmax>3</xmax>", "<xmax>3</xmax><ymax>ten</ymax>"))
    fixture = FIXTURES / "voc_example.xml"
    with pytest.raises(ValueError, match=r"voc_example.xml.*unknown class name 'circle'"):
        read_voc_xml(fixture, ["square"])
    with pytest.raises(ValueError, match="source"):
        read_voc_xml(42)
    with pytest.raises(FileNotFoundError):
        read_voc_xml(tmp_path / "missing.xml")
    with pytest.raises(ValueError, match="labels"):
        to_voc_xml({"boxes": [[0, 0, 1, 1]], "labels": [4]}, "a.jpg", (8, 8), ["a"])
    with pytest.raises(ValueError, match="missing key 'boxes'"):
        to_voc_xml({"labels": [0]}, "a.jpg", (8, 8), ["a"])
    with pytest.raises(ValueError, match="empty after rounding"):
        to_voc_xml({"boxes": [[1.2, 0, 1.4, 3]], "labels": [0]}, "a.jpg", (8, 8), ["a"])
    with pytest.raises(ValueError, match="image_shape"):
        to_voc_xml({"boxes": [[0, 0, 1, 1]], "labels": [0]}, "a.jpg", (8,), ["a"])
