"""The real data sets' loaders, read back from miniatures in their published formats (tests/miniatures.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import miniatures

from cvlib.data import ct, landmarks300w, lfw, omniglot, otb, pets, voc
from cvlib.data.shapes import Scenes

# --------------------------------------------------------------------------- PASCAL VOC


@pytest.fixture
def voc_root(tmp_path):
    return miniatures.write_voc(tmp_path)


def _expected_voc(image_id):
    w, h, objects = miniatures.VOC_IMAGES[image_id]
    boxes = np.array([[x1 - 1, y1 - 1, x2, y2] for *_, (x1, y1, x2, y2) in objects], np.float32)
    labels = np.array([voc.VOC_CLASSES.index(o[0]) for o in objects])
    truncated = np.array([o[1] for o in objects], bool)
    difficult = np.array([o[2] for o in objects], bool)
    return w, h, boxes, labels, truncated, difficult


def test_voc_classes_are_the_devkit_order():
    assert voc.VOC_CLASSES == miniatures.VOC_CLASSES
    assert voc.VOC_CLASSES[0] == "aeroplane" and voc.VOC_CLASSES[14] == "person" and voc.VOC_CLASSES[-1] == "tvmonitor"


def test_voc_split_reads_boxes_labels_and_flags_exactly(voc_root):
    for root in (voc_root, voc_root.parent, voc_root.parent.parent):  # VOC2007, VOCdevkit or above
        split = voc.read_voc_split(root, "trainval")
        assert split.ids == ["000005", "000007", "000009"]
    assert [p.name for p in split.image_paths] == ["000005.jpg", "000007.jpg", "000009.jpg"]
    for image_id, target in zip(split.ids, split.targets):
        w, h, boxes, labels, truncated, difficult = _expected_voc(image_id)
        np.testing.assert_array_equal(target["boxes"], boxes)
        np.testing.assert_array_equal(target["labels"], labels)
        np.testing.assert_array_equal(target["truncated"], truncated)
        np.testing.assert_array_equal(target["difficult"], difficult)
        assert target["image_shape"] == (h, w, 3)
    first = split.targets[0]
    # 1-based inclusive (1, 1, 30, 80) is the continuous box (0, 0, 30, 80): the whole left strip
    np.testing.assert_array_equal(first["boxes"][2], [0, 0, 30, 80])
    assert voc.read_voc_split(voc_root, "test").ids == ["000010"]


def test_voc_drops_difficult_objects_on_request(voc_root):
    split = voc.read_voc_split(voc_root, "train", keep_difficult=False)
    first = split.targets[0]
    assert len(first["labels"]) == 2 and not first["difficult"].any()
    np.testing.assert_array_equal(first["objects"], [0, 2])  # the XML positions of the objects kept
    np.testing.assert_array_equal(first["truncated"], [False, True])


def test_voc_scenes_resize_images_and_scale_boxes(voc_root):
    scenes = voc.load_voc_scenes(voc_root, "trainval", size=64, keep_difficult=True)
    assert isinstance(scenes, Scenes) and scenes.images.shape == (3, 64, 64, 3) and scenes.images.dtype == np.uint8
    assert scenes.class_names == voc.VOC_CLASSES
    for image_id, target in zip(["000005", "000007", "000009"], scenes.targets):
        w, h, boxes, labels, _, difficult = _expected_voc(image_id)
        np.testing.assert_allclose(target["boxes"], boxes * [64 / w, 64 / h, 64 / w, 64 / h], rtol=1e-6)
        np.testing.assert_array_equal(target["labels"], labels)
        np.testing.assert_array_equal(target["difficult"], difficult)
    assert len(voc.load_voc_scenes(voc_root, "trainval", size=64).targets[0]["labels"]) == 2
    assert len(voc.load_voc_scenes(voc_root, "trainval", size=32, max_images=2)) == 2


def test_voc_instance_masks_follow_the_xml_order_and_leave_out_the_void_border(voc_root):
    masks = voc.read_instance_masks(voc_root, "000005", 3)
    assert masks.shape == (3, 80, 100)
    for mask, (r0, r1, c0, c1) in zip(masks, miniatures.VOC_REGIONS["000005"]):
        expected = np.zeros((80, 100), bool)
        expected[r0:r1, c0:c1] = True
        np.testing.assert_array_equal(mask, expected)  # the 255 ring around it belongs to no mask
    # A difficult object's mask goes with it: the kept masks are objects 0 and 2, not 0 and 1.
    scenes = voc.load_voc_scenes(voc_root, "trainval", size=100, masks=True)
    assert len(scenes) == 2  # the Segmentation split
    m = scenes.targets[0]["masks"]
    assert m.shape == (2, 100, 100)
    ys, xs = np.nonzero(m[1])
    # person: rows 62-77 of 80 and columns 2-7 of 100, resized to 100 x 100
    assert ys.min() == pytest.approx(62 * 100 / 80, abs=1.5) and xs.max() == pytest.approx(7, abs=1)
    all_masks = voc.load_voc_scenes(voc_root, "trainval", size=100, masks=True, keep_difficult=True)
    assert all_masks.targets[0]["masks"].shape == (3, 100, 100)


def test_voc_class_map_keeps_classes_and_void(voc_root):
    classes = voc.read_class_map(voc_root, "000009")
    assert classes.dtype == np.uint8 and classes.shape == (90, 120)
    assert set(np.unique(classes)) == {0, voc.VOC_CLASSES.index("dog") + 1, voc.VOC_CLASSES.index("cat") + 1, 255}
    r0, r1, c0, c1 = miniatures.VOC_REGIONS["000009"][1]
    assert (classes[r0:r1, c0:c1] == voc.VOC_CLASSES.index("cat") + 1).all()


def test_voc_missing_image_names_the_file(voc_root):
    (voc_root / "JPEGImages" / "000007.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"JPEGImages/000007\.jpg"):
        voc.read_voc_split(voc_root, "train")


def test_voc_missing_annotation_names_the_file(voc_root):
    (voc_root / "Annotations" / "000009.xml").unlink()
    with pytest.raises(FileNotFoundError, match=r"Annotations/000009\.xml.*ImageSets/Main/val\.txt"):
        voc.read_voc_split(voc_root, "val")


def test_voc_annotation_without_xmin_names_the_file_and_tag(voc_root):
    xml = voc_root / "Annotations" / "000005.xml"
    xml.write_text(xml.read_text().replace("<xmin>10</xmin>", "", 1))
    with pytest.raises(ValueError, match=r"^Annotations/000005\.xml: object 0 <bndbox> has no <xmin>"):
        voc.read_voc_split(voc_root, "train")


def test_voc_malformed_xml_names_the_file(voc_root):
    xml = voc_root / "Annotations" / "000007.xml"
    xml.write_text(xml.read_text()[:-30])
    with pytest.raises(ValueError, match=r"Annotations/000007\.xml: malformed XML"):
        voc.read_voc_split(voc_root, "train")


def test_voc_unknown_class_names_the_file_and_the_class(voc_root):
    xml = voc_root / "Annotations" / "000009.xml"
    xml.write_text(xml.read_text().replace("<name>cat</name>", "<name>unicorn</name>"))
    with pytest.raises(ValueError, match=r"Annotations/000009\.xml: unknown class name 'unicorn'"):
        voc.read_voc_split(voc_root, "val")


def test_voc_wrong_layout_and_missing_split(tmp_path, voc_root):
    (tmp_path / "elsewhere" / "JPEGImages").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"not a PASCAL VOC 2007 folder.*JPEGImages"):
        voc.read_voc_split(tmp_path / "elsewhere")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        voc.read_voc_split(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"ImageSets/Main/minival\.txt"):
        voc.read_voc_split(voc_root, "minival")
    with pytest.raises(FileNotFoundError, match=r"SegmentationObject/000007\.png"):
        voc.read_instance_masks(voc_root, "000007", 1)


def test_voc_mask_with_more_objects_than_the_xml_is_an_error(voc_root):
    with pytest.raises(ValueError, match=r"SegmentationObject/000005\.png: object index 3 .* 2 objects"):
        voc.read_instance_masks(voc_root, "000005", 2)


def test_voc_mask_that_is_not_a_palette_png_is_an_error(voc_root):
    path = voc_root / "SegmentationObject" / "000009.png"
    Image.open(path).convert("RGB").save(path)
    with pytest.raises(ValueError, match=r"SegmentationObject/000009\.png: expected a palette"):
        voc.load_voc_scenes(voc_root, "trainval", size=32, masks=True)


# --------------------------------------------------------------------------- 300-W


@pytest.fixture
def w300_root(tmp_path):
    return miniatures.write_300w(tmp_path)


def test_pts_are_read_zero_based(w300_root):
    pairs = landmarks300w.find_300w(w300_root)
    assert [(i.name, p.name) for i, p in pairs] == [
        ("indoor_001.png", "indoor_001.pts"),
        ("indoor_002.png", "indoor_002.pts"),
        ("outdoor_001.jpg", "outdoor_001.pts"),
    ]
    for (_, pts), expected in zip(pairs, miniatures.face_points_300w()):
        points = landmarks300w.read_pts(pts)
        assert points.shape == (68, 2)
        np.testing.assert_allclose(points, expected - 1, atol=1e-9)


def test_300w_crops_move_landmarks_with_the_pixels(w300_root):
    faces = landmarks300w.load_300w(w300_root, size=64, margin=0.2)
    assert faces.images.shape == (3, 64, 64, 3) and faces.images.dtype == np.float32
    assert faces.landmarks.shape == (3, 68, 2) and faces.landmarks.dtype == np.float32
    assert 0 <= faces.images.min() and faces.images.max() <= 1
    for k, expected in enumerate(miniatures.face_points_300w()):
        x0, y0, x2, y2 = faces.crops[k]
        assert x2 - x0 == y2 - y0  # square
        s = 64 / (x2 - x0)
        np.testing.assert_allclose(faces.landmarks[k], (expected - 1 - [x0, y0] + 0.5) * s - 0.5, atol=1e-4)
        assert (faces.landmarks[k] >= 0).all() and (faces.landmarks[k] <= 63).all()
        # the white dot drawn on the nose tip is where landmark 30 went
        grey = faces.images[k].mean(-1)
        y, x = np.unravel_index(np.argmax(grey), grey.shape)
        assert np.hypot(x - faces.landmarks[k, 30, 0], y - faces.landmarks[k, 30, 1]) <= 1.5
    assert faces.crops[1, 0] < 0  # the face at the left edge: its crop was padded


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda t: t.replace("n_points:  68", "n_points:  69"), "n_points is 69 but 68 points follow"),
        (lambda t: t.replace("{\n", "{\n1.0 abc\n", 1), r"line 4: expected two numbers 'x y'"),
        (lambda t: t.replace("}\n", ""), "no closing"),
        (lambda t: t.replace("version: 1\n", "version 1\n"), "line 1: expected 'version:'"),
    ],
)
def test_bad_pts_names_the_file_and_line(w300_root, edit, match):
    pts = w300_root / "01_Indoor" / "indoor_002.pts"
    pts.write_text(edit(pts.read_text()))
    with pytest.raises(ValueError, match=match) as info:
        landmarks300w.load_300w(w300_root)
    assert "indoor_002.pts" in str(info.value)


def test_300w_missing_image_and_empty_folder(w300_root, tmp_path):
    (w300_root / "02_Outdoor" / "outdoor_001.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"outdoor_001\.pts: no image beside it"):
        landmarks300w.load_300w(w300_root)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no \.pts files"):
        landmarks300w.load_300w(tmp_path / "empty")


def test_300w_rejects_other_point_schemes(w300_root):
    pts = w300_root / "01_Indoor" / "indoor_001.pts"
    lines = pts.read_text().splitlines()
    pts.write_text("\n".join(["version: 1", "n_points: 5", "{", *lines[3:8], "}"]) + "\n")
    assert landmarks300w.read_pts(pts).shape == (5, 2)
    with pytest.raises(ValueError, match="68-point scheme, got 5"):
        landmarks300w.load_300w(w300_root)


# --------------------------------------------------------------------------- Omniglot


@pytest.fixture
def omniglot_root(tmp_path):
    return miniatures.write_omniglot(tmp_path)


def test_omniglot_reads_classes_alphabets_and_drawers(omniglot_root):
    data = omniglot.load_omniglot(omniglot_root)
    assert data.images.shape == (9, 105, 105, 1) and data.images.dtype == np.float32
    assert data.alphabets == ["Alphabet_of_the_Magi", "Korean"]
    assert data.characters == [
        "Alphabet_of_the_Magi/character01",
        "Alphabet_of_the_Magi/character02",
        "Korean/character01",
    ]
    np.testing.assert_array_equal(data.labels, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(data.alphabet, [0, 0, 0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(data.drawers, [1, 2, 5, 1, 3, 20, 2, 4, 7])
    assert data.paths[0].name == "0709_01.png"
    # inverted to the course's polarity: ink 1 on 0, a thin minority of pixels
    assert set(np.unique(data.images)) == {0.0, 1.0} and 0 < data.images.mean() < 0.3
    plain = omniglot.load_omniglot(omniglot_root / "images_background", invert=False)
    np.testing.assert_array_equal(plain.images, 1 - data.images)


def test_omniglot_evaluation_set_resized_and_offset(omniglot_root):
    data = omniglot.load_omniglot(omniglot_root, "images_evaluation", size=28, first_class=1000)
    assert data.images.shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(data.labels, [1000, 1000])
    assert data.alphabets == ["Angelic"] and 0 <= data.images.min() and data.images.max() <= 1


def test_omniglot_bad_layouts_name_the_path(omniglot_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="images_background"):
        omniglot.load_omniglot(tmp_path / "nowhere")
    folder = omniglot_root / "images_background" / "Korean" / "character01"
    shutil.copy(folder / "1041_02.png", folder / "glyph.png")
    with pytest.raises(ValueError, match=r"glyph\.png: expected a file named <id>_<nn>\.png"):
        omniglot.load_omniglot(omniglot_root)
    (folder / "glyph.png").rename(folder / "1042_03.png")
    with pytest.raises(ValueError, match=r"1042_03\.png: character id 1042 differs from the folder's 1041"):
        omniglot.load_omniglot(omniglot_root)
    (folder / "1042_03.png").unlink()
    folder.rename(folder.parent / "letter01")
    with pytest.raises(ValueError, match="letter01: expected a folder named characterNN"):
        omniglot.load_omniglot(omniglot_root)


def test_omniglot_unreadable_image_names_the_file(omniglot_root):
    bad = omniglot_root / "images_evaluation" / "Angelic" / "character01" / "0965_02.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"0965_02\.png: cannot be read"):
        omniglot.load_omniglot(omniglot_root, "images_evaluation")


# --------------------------------------------------------------------------- LFW


@pytest.fixture
def lfw_root(tmp_path):
    return miniatures.write_lfw(tmp_path)


def test_lfw_pairs_ten_folds(lfw_root):
    pairs = lfw.read_pairs(lfw_root / "pairs.txt")
    assert len(pairs) == 20
    np.testing.assert_array_equal(pairs.fold, np.repeat(np.arange(10), 2))
    np.testing.assert_array_equal(pairs.same, np.tile([True, False], 10))
    images = lfw_root / "lfw"
    assert pairs.path_a[0] == images / "George_W_Bush" / "George_W_Bush_0001.jpg"
    assert pairs.path_b[0] == images / "George_W_Bush" / "George_W_Bush_0004.jpg"
    assert pairs.path_a[1] == images / "Zico" / "Zico_0001.jpg"
    assert pairs.path_b[1] == images / "Abdullah_Gul" / "Abdullah_Gul_0002.jpg"
    assert pairs.path_a[3] == images / "Aaron_Peirsol" / "Aaron_Peirsol_0002.jpg"
    # root may be the folder above lfw/ or lfw/ itself
    assert lfw.read_pairs(lfw_root / "pairs.txt", root=images).path_a == pairs.path_a


def test_lfw_dev_pairs_single_number_header(lfw_root):
    pairs = lfw.read_pairs(lfw_root / "pairsDevTrain.txt")
    np.testing.assert_array_equal(pairs.same, [True, True, False, False])
    np.testing.assert_array_equal(pairs.fold, [0, 0, 0, 0])
    assert pairs.path_b[2].name == "Aaron_Peirsol_0001.jpg"


def test_lfw_people_and_faces(lfw_root):
    paths, identity, names = lfw.list_people(lfw_root)
    assert names == sorted(miniatures.LFW_PEOPLE) and len(paths) == sum(miniatures.LFW_PEOPLE.values())
    np.testing.assert_array_equal(np.bincount(identity), [miniatures.LFW_PEOPLE[n] for n in names])
    paths2, _, names2 = lfw.list_people(lfw_root, min_images=2)
    assert "Zico" not in names2 and len(paths2) == 9
    faces = lfw.load_faces(paths[:3], size=32, crop=80)
    assert faces.shape == (3, 32, 32, 3) and faces.dtype == np.float32 and faces.max() <= 1


def test_lfw_missing_image_names_the_line(lfw_root):
    (lfw_root / "lfw" / "Zico" / "Zico_0001.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"pairs\.txt line 3: image .*Zico_0001\.jpg"):
        lfw.read_pairs(lfw_root / "pairs.txt")
    assert len(lfw.read_pairs(lfw_root / "pairs.txt", check=False)) == 20


@pytest.mark.parametrize(
    ("lineno", "text", "match"),
    [
        (2, "George_W_Bush\t1", r"line 2: expected 'name i j' \(a matched pair\)"),
        (3, "Zico\t1\tAbdullah_Gul", r"line 3: expected 'name1 i name2 j' \(a mismatched pair\)"),
        (3, "Zico\t1\t2", r"line 3: expected 'name1 i name2 j'"),  # a matched line where a mismatched one belongs
        (2, "George_W_Bush\tone\t4", "line 2: expected 'name i j'"),
        (1, "ten\t1", "line 1: expected 'folds<TAB>pairs' or 'pairs'"),
        (1, "10\t2", "promises 10 fold"),
    ],
)
def test_lfw_bad_pairs_lines_name_the_line(lfw_root, lineno, text, match):
    path = lfw_root / "pairs.txt"
    lines = path.read_text().splitlines()
    lines[lineno - 1] = text
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=match):
        lfw.read_pairs(path)


def test_lfw_wrong_layout(lfw_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such pairs file"):
        lfw.read_pairs(tmp_path / "none" / "pairs.txt")
    shutil.copy(lfw_root / "lfw" / "Zico" / "Zico_0001.jpg", lfw_root / "lfw" / "Zico" / "portrait.jpg")
    with pytest.raises(ValueError, match=r"portrait\.jpg: expected a file named Zico_NNNN\.jpg"):
        lfw.list_people(lfw_root)
    (tmp_path / "flat").mkdir()
    with pytest.raises(ValueError, match="no per-person folders"):
        lfw.list_people(tmp_path / "flat")


# --------------------------------------------------------------------------- OTB-100


@pytest.fixture
def otb_root(tmp_path):
    return miniatures.write_otb(tmp_path)


def _otb_expected(key):
    first, boxes, _ = miniatures.OTB_BOXES[key]
    xywh = np.array(boxes, np.float64)
    xywh[:, :2] -= 1
    return first, xywh


def test_otb_lists_every_target(otb_root):
    entries = {e.name: e for e in otb.list_sequences(otb_root)}
    assert sorted(entries) == ["Basketball", "BlurCar1", "David", "Human4.2", "Jogging.1", "Jogging.2"]
    assert entries["BlurCar1"].frames == (5, 7) and entries["BlurCar1"].num_boxes == 3
    assert entries["Jogging.2"].target == 2 and entries["Jogging.2"].groundtruth.name == "groundtruth_rect.2.txt"
    assert entries["David"].frames == (1, 6) and entries["David"].num_boxes == 3


@pytest.mark.parametrize(
    ("folder", "target", "key"),
    [
        ("Basketball", None, "Basketball"),  # comma-separated, read by sequences.read_otb
        ("BlurCar1", None, "BlurCar1"),  # tabs and a space, frames 0005-0007
        ("Jogging", 1, "Jogging.1"),
        ("Jogging", 2, "Jogging.2"),
        ("Human4", None, "Human4.2"),  # the only target file is .2
    ],
)
def test_otb_boxes_read_back_zero_based(otb_root, folder, target, key):
    seq = otb.read_sequence(otb_root / folder, target=target)
    first, boxes = _otb_expected(key)
    np.testing.assert_array_equal(seq.boxes, boxes)
    assert seq.frames.shape == (len(boxes), 48, 64, 3) and seq.frames.dtype == np.uint8
    assert seq.attributes["first_frame"] == first


def test_otb_two_targets_need_a_choice(otb_root):
    with pytest.raises(FileNotFoundError, match=r"groundtruth_rect\.txt: no such file .*groundtruth_rect\.[12]\.txt"):
        otb.read_sequence(otb_root / "Jogging")
    with pytest.raises(FileNotFoundError, match=r"groundtruth_rect\.3\.txt"):
        otb.read_sequence(otb_root / "Jogging", target=3)


def test_otb_partial_ground_truth(otb_root, monkeypatch):
    with pytest.raises(ValueError, match=r"3 boxes for frames 300-770 .*frames=\(first, last\)"):
        otb.read_sequence(otb_root / "David")  # the real David's range does not fit the miniature
    seq = otb.read_sequence(otb_root / "David", frames=(4, 6))
    _, boxes = _otb_expected("David")
    np.testing.assert_array_equal(seq.boxes, boxes)
    assert len(seq) == 3 and seq.attributes["first_frame"] == 4
    monkeypatch.setitem(otb.OTB_FRAME_RANGES, "David", (4, 6))
    assert otb.read_sequence(otb_root / "David").attributes["first_frame"] == 4


def test_otb_bad_line_names_the_file_and_line(otb_root):
    gt = otb_root / "Jogging" / "groundtruth_rect.1.txt"
    gt.write_text(gt.read_text().replace("41\t10\t10\t30", "41\t10\t10"))
    with pytest.raises(ValueError, match=r"Jogging/groundtruth_rect\.1\.txt line 2: expected four numbers"):
        otb.read_sequence(otb_root / "Jogging", target=1)
    gt = otb_root / "Basketball" / "groundtruth_rect.txt"
    gt.write_text(gt.read_text().replace("11,13", "11,x"))
    with pytest.raises(ValueError, match=r"groundtruth_rect\.txt line 2"):
        otb.read_sequence(otb_root / "Basketball")


def test_otb_missing_frame_and_wrong_layout(otb_root, tmp_path):
    (otb_root / "Jogging" / "img" / "0002.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="frame 2 is missing"):
        otb.read_sequence(otb_root / "Jogging", target=1)
    (otb_root / "Basketball" / "img" / "0003.jpg").unlink()
    with pytest.raises(ValueError, match=r"frames missing .*0003"):
        otb.read_sequence(otb_root / "Basketball")
    (otb_root / "Notes").mkdir()
    with pytest.raises(ValueError, match=r"Notes: no groundtruth_rect\.txt"):
        otb.list_sequences(otb_root)
    (tmp_path / "seq" / "x").mkdir(parents=True)
    (tmp_path / "seq" / "x" / "groundtruth_rect.txt").write_text("1,1,2,2\n")
    with pytest.raises(ValueError, match="no img/ folder"):
        otb.list_sequences(tmp_path / "seq")


# --------------------------------------------------------------------------- Oxford-IIIT Pet


@pytest.fixture
def pets_root(tmp_path):
    return miniatures.write_pets(tmp_path)


def test_pets_lists_skip_comments(pets_root):
    assert pets.read_pets_list(pets_root, "list") == [
        ("Abyssinian_1", 1, 1, 1),
        ("american_bulldog_10", 2, 2, 1),
        ("Bengal_3", 6, 1, 2),
    ]
    assert [r[0] for r in pets.read_pets_list(pets_root, "test")] == ["Bengal_3"]


def test_pets_label_maps_follow_keras_io(pets_root):
    data = pets.load_pets(pets_root, "trainval", size=80)  # the images' own size: maps compare exactly
    assert data.images.shape == (2, 80, 80, 3) and data.images.dtype == np.uint8
    assert data.masks.shape == (2, 80, 80) and data.masks.dtype == np.int32
    for name, mask in zip(data.names, data.masks):
        trimap = np.array(Image.open(pets_root / "annotations" / "trimaps" / f"{name}.png"))
        np.testing.assert_array_equal(mask, trimap.astype(np.int32) - 1)
        assert set(np.unique(mask)) == {0, 1, 2}  # pet, background, border
    np.testing.assert_array_equal(data.labels, [0, 1])
    np.testing.assert_array_equal(data.species, [0, 1])
    assert data.breeds[:2] == ["Abyssinian", "american_bulldog"] and len(data.breeds) == 37
    assert data.breeds[5] == "Bengal"  # named from list.txt, though not in this split
    # the pet's pixels were painted (200, 150, 90)
    assert np.abs(data.images[0][data.masks[0] == 0].mean(0) - [200, 150, 90]).max() < 8


def test_pets_resize_and_png_data_in_a_jpg(pets_root):
    data = pets.load_pets(pets_root, "test", size=32)  # Bengal_3.jpg holds PNG data, 96 x 72
    assert data.images.shape == (1, 32, 32, 3) and set(np.unique(data.masks)) == {0, 1, 2}
    np.testing.assert_array_equal(data.labels, [5])
    np.testing.assert_array_equal(data.species, [0])


def test_pets_bad_inputs_name_the_file(pets_root, tmp_path):
    (pets_root / "annotations" / "trimaps" / "Abyssinian_1.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"annotations/trimaps/Abyssinian_1\.png: no such file"):
        pets.load_pets(pets_root, size=32)
    trimap = np.full((80, 80), 2, np.uint8)
    trimap[10, 10] = 4
    Image.fromarray(trimap).save(pets_root / "annotations" / "trimaps" / "Abyssinian_1.png")
    with pytest.raises(ValueError, match=r"trimaps/Abyssinian_1\.png: value 4 is not a trimap value"):
        pets.load_pets(pets_root, size=32)
    trimap[10, 10] = 1
    Image.fromarray(trimap).save(pets_root / "annotations" / "trimaps" / "Abyssinian_1.png")
    (pets_root / "images" / "american_bulldog_10.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"images/american_bulldog_10\.jpg: no such file"):
        pets.load_pets(pets_root, "list", size=32)
    listing = pets_root / "annotations" / "test.txt"
    listing.write_text("Bengal_3 6 1\n")
    with pytest.raises(ValueError, match=r"annotations/test\.txt line 1: expected 'Image CLASS-ID SPECIES BREED-ID'"):
        pets.load_pets(pets_root, "test")
    (tmp_path / "flat").mkdir()
    with pytest.raises(ValueError, match="images/ is missing"):
        pets.load_pets(tmp_path / "flat")


# --------------------------------------------------------------------------- MosMedData (NIfTI, read by cvlib.data.ct)


def test_mosmed_miniature_with_rotated_affine(tmp_path):
    root = miniatures.write_mosmed(tmp_path)
    dataset = ct.load_dataset(root, verbose=False)
    assert [p.name for p in dataset.paths] == ["study_0001.nii.gz", "study_0002.nii.gz"]
    np.testing.assert_array_equal(dataset.labels, [0, 1])
    assert not dataset.skipped
    affine = miniatures.mosmed_affine()
    for path, (key, hu) in zip(dataset.paths, miniatures.mosmed_hu().items()):
        assert path.parent.name == key.split("/")[0]
        volume, read_affine = ct.load_volume(path, with_affine=True)
        np.testing.assert_array_equal(volume, hu)  # scl_inter applied: HU, not the stored values
        np.testing.assert_allclose(read_affine, affine, atol=1e-4)
        np.testing.assert_allclose(ct.voxel_spacing(read_affine), [0.7, 0.8, 5.0], atol=1e-5)


def test_pets_unreadable_image_names_the_file(pets_root):
    (pets_root / "images" / "Abyssinian_1.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(ValueError, match=r"images/Abyssinian_1\.jpg: cannot be read as an image"):
        pets.load_pets(pets_root, size=32)


def test_voc_boxes_on_the_border_stay_inside_the_resized_image(tmp_path):
    # Scaled in float32, a box touching the right or bottom border could land a hair past ``size``.
    from cvlib.data.voc import load_voc_scenes

    root = miniatures.write_voc(tmp_path, extra=80)  # some of its boxes touch the border: 3 of them used to cross it
    for size in (57, 64, 96, 100, 127, 128, 224):
        scenes = load_voc_scenes(root, "trainval", size=size, keep_difficult=True)
        boxes = np.concatenate([t["boxes"] for t in scenes.targets])
        assert boxes.min() >= 0 and boxes.max() <= size
