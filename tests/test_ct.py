"""cvlib.data.ct (phantoms, NIfTI loading, preprocessing, augmentation) and cvlib.data.download."""

from __future__ import annotations

import gzip
import json
import os

import nibabel as nib
import numpy as np
import pytest

from cvlib.data import ct, download
from cvlib.data.download import instructions

SMALL = (64, 64, 24)  # phantoms at half the native size keep the tests fast


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    root = tmp_path_factory.mktemp("ct") / "phantoms"
    return ct.write_phantoms(root, n=4, seed=3, shape=SMALL, verbose=False)


# ----------------------------------------------------------------------------- phantoms, round trip

def test_phantom_round_trip_shape_affine_spacing_and_hu(phantoms):
    dataset = ct.load_dataset(phantoms)
    assert len(dataset) == 4 and dataset.counts() == {"CT-0": 2, "CT-23": 2} and not dataset.skipped
    assert sorted(dataset.labels.tolist()) == [0, 0, 1, 1]
    for path, label in zip(dataset.paths, dataset.labels):
        volume, affine = ct.load_volume(path, with_affine=True)
        assert volume.shape == SMALL and volume.dtype == np.float32
        spacing = ct.voxel_spacing(affine)
        np.testing.assert_allclose(spacing, nib.load(str(path)).header.get_zooms(), rtol=1e-6)
        assert 4.6 <= spacing[0] <= 5.6 and spacing[0] == spacing[1] and 9.0 <= spacing[2] <= 11.0
        assert volume.min() >= -1024 and volume.max() <= 3071, "HU must stay in the int16 CT range"
        assert volume.min() <= -1000, "air outside the body"
        assert volume.max() >= 400, "the spine is bone, above the window"
        lung = np.mean((volume > -950) & (volume < -700))
        assert 0.03 < lung < 0.3, f"lungs should fill a few percent of the volume, got {lung:.3f}"
        mask = ct.load_mask(path)
        if label:
            assert mask is not None and mask.shape == SMALL and mask.any(), "positives carry a lesion mask"
            assert np.median(volume[mask]) > -750, "lesions are denser than lung"
        else:
            assert mask is None


def test_phantom_generation_matches_saved_volume_and_is_deterministic(phantoms):
    volume, spacing, _ = ct.phantom(1, seed=[3, 0], shape=SMALL)
    loaded, affine = ct.load_volume(phantoms / "CT-23" / "study_0000.nii.gz", with_affine=True)
    np.testing.assert_array_equal(loaded, np.rint(volume))  # the file holds the volume, rounded to int16
    np.testing.assert_allclose(ct.voxel_spacing(affine), spacing, rtol=1e-5)
    again, _, _ = ct.phantom(1, seed=[3, 0], shape=SMALL)
    np.testing.assert_array_equal(volume, again)
    negative = ct.phantom(0, seed=[3, 1], shape=SMALL)[2]
    assert not negative.any(), "a negative has no lesion"


def test_write_phantoms_writes_once(phantoms):
    manifest = phantoms / "manifest.json"
    stamp = manifest.stat().st_mtime_ns
    assert ct.write_phantoms(phantoms, n=4, seed=3, shape=SMALL, verbose=False) == phantoms
    assert manifest.stat().st_mtime_ns == stamp, "a complete set must be reused, not rewritten"


def test_write_phantoms_rewrites_a_set_from_another_generator_version(tmp_path):
    root = ct.write_phantoms(tmp_path / "set", n=2, seed=3, shape=SMALL, verbose=False)
    manifest = root / "manifest.json"
    spec = json.loads(manifest.read_text())
    spec["spec"]["generator"] = "cvlib.data.ct.phantom/1"  # as written before lesions kept their thickness
    manifest.write_text(json.dumps(spec))
    ct.write_phantoms(root, n=2, seed=3, shape=SMALL, verbose=False)
    assert json.loads(manifest.read_text())["spec"]["generator"] != "cvlib.data.ct.phantom/1"


def test_lesions_occupy_the_same_share_of_the_volume_at_any_resolution():
    """Half the voxels along every axis (slices included) must not make the lesions thinner than they are wide."""
    def share(shape):
        return np.mean([ct.phantom(1, seed=[5, i], shape=shape)[2].mean() for i in range(8)])

    ratio = share(SMALL) / share(ct.NATIVE_SHAPE)
    assert 0.75 < ratio < 1.33, f"lesions fill {ratio:.2f} times the share at {SMALL} that they fill at full size"


def test_default_phantom_dir_is_keyed_by_seed_count_and_shape(tmp_path, monkeypatch):
    monkeypatch.setenv("CVLIB_DATA", str(tmp_path))
    a, b = ct.phantom_dir(100, seed=0), ct.phantom_dir(600, seed=0, shape=SMALL)
    assert a != b and a.parent == b.parent == tmp_path / "ct_phantoms"


def test_phantom_bad_arguments():
    with pytest.raises(ValueError, match=r"label"):
        ct.phantom(2)
    with pytest.raises(ValueError, match=r"shape"):
        ct.phantom(1, shape=(64, 64))
    with pytest.raises(ValueError, match=r"n:"):
        ct.write_phantoms("unused", n=1)


def test_confounders_match_the_lesion_hu_budget():
    """A negative spends exactly the dense-voxel budget its unpainted lesion set would have."""
    rng = np.random.default_rng(0)
    scan = ct._Scan(rng, SMALL)
    scan.body()
    scan.lungs_()
    n_ggo, n_cons = scan.budget(scan.lesions())
    before = scan.hu.copy()
    scan.confounders(n_ggo, n_cons)
    raised = scan.lung & (scan.hu - before > 100)
    v = scan.hu[raised]
    assert abs(np.count_nonzero((v >= -300) & (v < 150)) - n_cons) <= max(2, 0.05 * n_cons)
    assert abs(np.count_nonzero((v >= -750) & (v < -300)) - n_ggo) <= 0.25 * n_ggo + 10


# ----------------------------------------------------------------------------- loader errors

def test_missing_and_empty_data_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist.*write_phantoms"):
        ct.load_dataset(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty: no usable NIfTI scans.*download\('mosmeddata'\)"):
        ct.load_dataset(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"no such file"):
        ct.load_volume(tmp_path / "missing.nii.gz")


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(array, dtype=np.float32), np.eye(4)), str(path))
    return path


def test_truncated_nifti_names_the_file(tmp_path):
    good = _save(tmp_path / "CT-0" / "good.nii.gz", np.zeros((8, 8, 8)))
    data = good.read_bytes()
    bad = tmp_path / "CT-23" / "cut.nii.gz"
    bad.parent.mkdir()
    bad.write_bytes(gzip.compress(gzip.decompress(data)[:400]))  # header intact, voxels cut short
    with pytest.raises(ValueError, match=r"cut.nii.gz: cannot be read as NIfTI"):
        ct.load_volume(bad)
    half = tmp_path / "CT-23" / "half.nii.gz"
    half.write_bytes(data[: len(data) // 2])  # a download that stopped half way: a broken gzip stream
    with pytest.raises(ValueError, match=r"half.nii.gz: cannot be read"):
        ct.load_volume(half)


def test_non_nifti_files_name_the_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a scan")
    with pytest.raises(ValueError, match=r"notes.txt: not a NIfTI file"):
        ct.load_volume(text)
    fake = tmp_path / "fake.nii.gz"
    fake.write_text("not a scan either")
    with pytest.raises(ValueError, match=r"fake.nii.gz: cannot be read as NIfTI"):
        ct.load_volume(fake)


@pytest.mark.parametrize("shape", [(16, 16), (8, 8, 8, 3)], ids=["2-D", "4-D"])
def test_wrong_dimensions_name_the_file(tmp_path, shape):
    path = _save(tmp_path / "scan.nii.gz", np.zeros(shape))
    with pytest.raises(ValueError, match=r"scan.nii.gz: expected a 3-D volume \(X, Y, Z\)"):
        ct.load_volume(path)


def test_four_d_with_one_volume_is_accepted(tmp_path):
    path = _save(tmp_path / "scan.nii.gz", np.zeros((8, 8, 8, 1)))
    assert ct.load_volume(path).shape == (8, 8, 8)


def test_nan_in_volume_names_the_file(tmp_path):
    volume = np.zeros((8, 8, 8))
    volume[1, 2, 3] = np.nan
    path = _save(tmp_path / "nan.nii.gz", volume)
    with pytest.raises(ValueError, match=r"nan.nii.gz: contains 1 NaN or infinite voxels"):
        ct.load_volume(path)


def test_load_dataset_reports_skipped_files_with_reasons(tmp_path, capsys):
    _save(tmp_path / "CT-0" / "a.nii.gz", np.zeros((8, 8, 8)))
    _save(tmp_path / "CT-23" / "b.nii", np.ones((8, 8, 8)))
    _save(tmp_path / "CT-23" / "flat.nii.gz", np.zeros((8, 8)))
    (tmp_path / "CT-0" / "readme.txt").write_text("hello")
    (tmp_path / "CT-0" / "broken.nii.gz").write_bytes(b"\x1f\x8b garbage")
    (tmp_path / "CT-23" / "empty.nii.gz").write_bytes(b"")
    (tmp_path / "CT-23" / "folder").mkdir()
    (tmp_path / "CT-4").mkdir()  # not one of the requested classes: ignored
    dataset = ct.load_dataset(tmp_path)
    assert [p.name for p in dataset.paths] == ["a.nii.gz", "b.nii"] and dataset.labels.tolist() == [0, 1]
    reasons = {p.name: r for p, r in dataset.skipped}
    assert reasons["readme.txt"].startswith("not a NIfTI file name")
    assert reasons["broken.nii.gz"].startswith("unreadable")
    assert reasons["empty.nii.gz"] == "empty file"
    assert reasons["flat.nii.gz"].startswith("not a 3-D volume")
    assert reasons["folder"] == "a directory, not a file"
    out = capsys.readouterr().out
    assert "skipped 5 file(s)" in out and "broken.nii.gz: unreadable" in out


def test_load_dataset_reads_the_full_mosmeddata_layout(tmp_path):
    for folder in ("CT-0", "CT-1", "CT-3"):
        _save(tmp_path / "studies" / folder / f"{folder}.nii.gz", np.zeros((8, 8, 8)))
    dataset = ct.load_dataset(tmp_path, classes=ct.MOSMED_FOLDERS)
    assert dataset.labels.tolist() == [0, 1, 1] and dataset.folders == ["CT-0", "CT-1", "CT-3"]


# ----------------------------------------------------------------------------- preprocessing

def test_normalize_window_and_range():
    hu = np.array([-2000, -1000, -300, 400, 3000], dtype=np.float32).reshape(1, 1, 5) * np.ones((2, 2, 1))
    out = ct.normalize(hu)
    np.testing.assert_allclose(out[0, 0], [0, 0, 0.5, 1, 1], atol=1e-6)
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match=r"window"):
        ct.normalize(hu, window=(400, -1000))


def test_preprocess_shape_dtype_range():
    volume = ct.phantom(1, seed=0, shape=SMALL)[0]
    out = ct.preprocess(volume, (32, 32, 16))
    assert out.shape == (32, 32, 16) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 and out.max() > 0.9 and out.min() < 0.05
    assert ct.resize_volume(volume, (40, 30, 20)).shape == (40, 30, 20)
    with pytest.raises(ValueError, match=r"shape"):
        ct.resize_volume(volume, (32, 32))


@pytest.mark.parametrize("bad,match", [
    (np.zeros((4, 4)), "expected a 3-D volume"),
    (np.zeros((4, 4, 4, 2)), "expected a 3-D volume"),
    (np.full((4, 4, 4), np.nan), "NaN"),
])
def test_preprocess_rejects_bad_volumes(bad, match):
    with pytest.raises(ValueError, match=match):
        ct.preprocess(bad, (4, 4, 4))


def test_intensity_features():
    volume = ct.phantom(0, seed=1, shape=SMALL)[0]
    feats = ct.intensity_features(volume)
    assert feats.shape == (len(ct.FEATURE_NAMES),) and np.all(np.isfinite(feats))
    assert abs(feats[-6:].sum() - 1.0) < 1e-9, "the HU-band fractions cover every voxel"


# ----------------------------------------------------------------------------- augmentation

@pytest.mark.parametrize("shape", [(16, 16, 8), (16, 16, 8, 1)])
def test_augment_keeps_shape_dtype_and_range(shape):
    volume = np.random.default_rng(0).random(shape).astype(np.float32)
    out = ct.augment(volume, max_angle=15, seed=(1, 2)).numpy()
    assert out.shape == shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(out, ct.augment(volume, max_angle=15, seed=(1, 2)).numpy())


def test_augment_flips_only():
    volume = np.random.default_rng(1).random((8, 6, 4)).astype(np.float32)
    flips = [volume, volume[::-1], volume[:, ::-1], volume[::-1, ::-1]]
    seen = set()
    for s in range(40):
        out = ct.augment(volume, max_angle=0, seed=(s, 7)).numpy()
        match = {i for i, f in enumerate(flips) if np.array_equal(out, f)}
        assert match, "without rotation the output must be a flip of the input"
        seen |= match
    assert seen == {0, 1, 2, 3}, "each flip appears, and nothing else happens without rotation"


def test_make_tf_dataset_batches():
    volumes = np.random.default_rng(2).random((5, 16, 16, 8)).astype(np.float32)
    ds = ct.make_tf_dataset(volumes, [0, 1, 0, 1, 1], batch_size=2, training=True, max_angle=10)
    batches = list(ds)
    assert [b[0].shape[0] for b in batches] == [2, 2, 1]
    assert batches[0][0].shape[1:] == (16, 16, 8, 1) and batches[0][0].dtype.name == "float32"
    with pytest.raises(ValueError, match=r"labels"):
        ct.make_tf_dataset(volumes, [0, 1])


def test_make_tf_dataset_repeats_for_a_seed_and_varies_between_epochs():
    volumes = np.random.default_rng(3).random((6, 16, 16, 8)).astype(np.float32)

    def epochs(seed, n=2):
        ds = ct.make_tf_dataset(volumes, np.arange(6) % 2, batch_size=3, training=True, seed=seed, max_angle=10)
        return [np.concatenate([b[0].numpy() for b in ds]) for _ in range(n)]

    first, again, other = epochs(0), epochs(0), epochs(1)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b, err_msg="the same seed must give the same epochs")
    assert not np.array_equal(first[0], first[1]), "each epoch must be shuffled and augmented anew"
    assert not np.array_equal(first[0], other[0]), "another seed must give other epochs"


# ----------------------------------------------------------------------------- download

def test_download_missing_data_set_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        download("mosmeddata", root=tmp_path / "mosmed")
    message = str(err.value)
    for needle in ("CT-0.zip", "CT-23.zip", "https://", str(tmp_path / "mosmed"), "fetch=True", "not yet recorded"):
        assert needle in message, f"the instructions should mention {needle!r}"
    with pytest.raises(ValueError, match=r"unknown data set"):
        download("imagenet", root=tmp_path)


def test_download_finds_an_unpacked_copy_without_network(tmp_path, monkeypatch):
    monkeypatch.setattr("socket.socket", None)  # any connection attempt would fail loudly
    for folder in ("CT-0", "CT-23"):
        _save(tmp_path / folder / "study_0001.nii.gz", np.zeros((8, 8, 8)))
    found = download("mosmeddata", root=tmp_path)
    assert found.root == tmp_path and not found.verified and os.fspath(found) == str(tmp_path)
    assert "CT-0: 1" in found.note
    assert "mosmed.ai" in instructions("mosmeddata")
