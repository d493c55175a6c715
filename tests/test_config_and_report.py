"""cvlib.config (fast mode, seeding, data directory) and cvlib.report (headline figures)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cvlib import config, report


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("ON", True), ("0", False), ("", False)])
def test_fast_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("CVLIB_FAST", value)
    assert config.fast_mode() is expected


def test_fast_mode_defaults_to_full(monkeypatch):
    monkeypatch.delenv("CVLIB_FAST", raising=False)
    assert config.fast_mode() is False


def test_fast_mode_rejects_unclear_values(monkeypatch):
    monkeypatch.setenv("CVLIB_FAST", "maybe")
    with pytest.raises(ValueError, match="CVLIB_FAST"):
        config.fast_mode()


def test_setup_makes_numpy_and_keras_repeatable():
    import keras

    config.setup(seed=3)
    first = np.random.rand(3), keras.random.uniform((3,)).numpy()  # noqa: NPY002 - the global state is the point
    config.setup(seed=3)
    second = np.random.rand(3), keras.random.uniform((3,)).numpy()  # noqa: NPY002
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_setup_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed"):
        config.setup(seed=seed)


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CVLIB_DATA", str(tmp_path / "d"))
    path = config.data_dir("ct")
    assert path == tmp_path / "d" / "ct" and path.is_dir()


def test_data_dir_defaults_to_the_repository(monkeypatch):
    monkeypatch.delenv("CVLIB_DATA", raising=False)
    assert config.data_dir() == config.REPO_ROOT / "data"


def test_record_writes_json_under_make_run(monkeypatch, tmp_path):
    monkeypatch.setenv(report.REPORT_DIR_ENV, str(tmp_path))
    report.record("99_test", mAP=np.float32(0.5), images=np.int64(10))
    report.record("99_test", mAP=0.75, note="second call merges")
    on_disk = json.loads((tmp_path / "99_test.json").read_text())
    assert on_disk == {"mAP": 0.75, "images": 10, "note": "second call merges"}
    assert report.load(tmp_path)["99_test"] == on_disk
    assert report.recorded("99_test")["mAP"] == 0.75


def test_record_is_harmless_interactively(monkeypatch, tmp_path):
    monkeypatch.delenv(report.REPORT_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert report.record("98_test", AP=0.1) == {"AP": 0.1}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "figures", "match"),
    [
        (("",), {"AP": 1.0}, "notebook"),
        (("01",), {}, "figures"),
        (("01",), {"AP": float("nan")}, "AP"),
        (("01",), {"AP": [1, 2]}, "AP"),
    ],
)
def test_record_rejects_bad_figures(args, figures, match):
    with pytest.raises(ValueError, match=match):
        report.record(*args, **figures)


def test_importing_config_imports_tensorflow_without_its_banner():
    import os
    import subprocess
    import sys

    script = "import cvlib.config, keras; print(keras.layers.Dense(2)(keras.ops.ones((1, 3))).shape)"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.strip() == "(1, 2)", "keras must import and run a layer"
    for noise in ("oneDNN", "absl::InitializeLog", "cuInit"):
        assert noise not in done.stderr, done.stderr


@pytest.mark.parametrize(("setting", "expected"), [(None, True), ("0", False), ("1", True)])
def test_importing_config_turns_on_onednn_unless_the_environment_says_otherwise(setting, expected):
    import os
    import subprocess
    import sys

    script = ("import cvlib.config\n"
              "from tensorflow.python.util import _pywrap_util_port\n"
              "print(_pywrap_util_port.IsMklEnabled())")  # TensorFlow's own answer: are its oneDNN kernels on?
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.strip() == str(expected), done.stderr


def test_machine_names_the_cores_and_python():
    import os
    import platform

    text = report.machine()
    assert f"{os.cpu_count()} cores" in text and platform.python_version() in text


@pytest.fixture
def fresh_targets(monkeypatch):
    """Targets and figures declared by one test do not leak into another."""
    monkeypatch.setattr(report, "_targets", {})
    monkeypatch.setattr(report, "_recorded", {})
    monkeypatch.delenv(report.REPORT_DIR_ENV, raising=False)


@pytest.mark.parametrize(("mode", "fast", "checked"), [("full", "0", True), ("full", "1", False), ("fast", "1", True),
                                                        ("fast", "0", False), ("both", "0", True), ("both", "1", True)])
def test_check_applies_a_target_in_its_mode_only(fresh_targets, monkeypatch, mode, fast, checked):
    monkeypatch.setenv("CVLIB_FAST", fast)
    report.target("97_t", "AP50", ">=", 0.9, mode=mode)
    report.record("97_t", AP50=0.5)
    if checked:
        with pytest.raises(AssertionError, match=r"97_t: AP50 = 0.5 MISSED AP50 >= 0.9"):
            report.check("97_t")
    else:
        assert report.check("97_t") == []


@pytest.mark.parametrize(("comparison", "value", "met"), [(">=", 0.5, True), (">", 0.5, False), ("<=", 0.5, True),
                                                          ("<", 0.5, False), ("<", 0.6, True), (">", 0.4, True)])
def test_comparisons(comparison, value, met):
    assert report.make_target("AP", comparison, value).met_by(0.5) is met


def test_nan_and_strings_never_meet_a_target():
    target = report.make_target("AP", ">=", 0.0)
    assert not target.met_by(float("nan")) and not target.met_by("0.9") and not target.met_by(True)


def test_check_names_a_figure_never_recorded(fresh_targets, monkeypatch):
    monkeypatch.setenv("CVLIB_FAST", "0")
    report.target("96_t", "mask_AP50", ">=", 0.8)
    report.record("96_t", box_AP50=0.9)
    with pytest.raises(AssertionError, match="'mask_AP50', which the notebook never records"):
        report.check("96_t")


def test_check_of_named_figures_only_and_unknown_names(fresh_targets, monkeypatch):
    monkeypatch.setenv("CVLIB_FAST", "0")
    report.target("95_t", "AP50", ">=", 0.8)
    report.target("95_t", "AP", ">=", 0.5)
    report.record("95_t", AP50=0.9, AP=0.1)
    assert [o.target.figure for o in report.check("95_t", "AP50")] == ["AP50"]
    with pytest.raises(AssertionError, match=r"AP = 0\.1 MISSED"):
        report.check("95_t")
    with pytest.raises(ValueError, match="figures: no target is declared for 'AP75'"):
        report.check("95_t", "AP75")


def test_targets_are_not_checked_on_a_real_data_set_but_still_on_synthetic_data(fresh_targets, monkeypatch, capsys):
    monkeypatch.setenv("CVLIB_FAST", "0")
    report.target("93_t", "AP50", ">=", 0.8)
    report.record("93_t", dataset="voc2007", AP50=0.4)
    assert report.check("93_t") == [] and report.check("93_t", "AP50") == []
    assert "on voc2007 the figures are not checked" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no target is declared for 'AP'"):
        report.check("93_t", "AP")  # a misspelt figure is still an error
    report.record("93_t", dataset=report.SYNTHETIC)
    with pytest.raises(AssertionError, match=r"AP50 = 0\.4 MISSED"):
        report.check("93_t")


def test_declaring_again_replaces_and_targets_are_written_for_the_runner(fresh_targets, monkeypatch, tmp_path):
    monkeypatch.setenv(report.REPORT_DIR_ENV, str(tmp_path))
    report.target("94_t", "AP50", ">=", 0.7)
    report.target("94_t", "AP50", ">=", 0.8)          # a re-run cell, or a corrected value
    report.target("94_t", "AP50", ">=", 0.3, mode="fast")
    report.record("94_t", AP50=0.85)
    assert [(t.value, t.mode) for t in report.targets("94_t")] == [(0.8, "full"), (0.3, "fast")]
    assert [(t.value, t.mode) for t in report.load_targets(tmp_path)["94_t"]] == [(0.8, "full"), (0.3, "fast")]
    assert report.load(tmp_path) == {"94_t": {"AP50": 0.85}}, "figures and targets are read apart"


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("", "AP", ">=", 0.5), {}, "notebook"),
        (("01", "not a name", ">=", 0.5), {}, "figure"),
        (("01", "AP", "=>", 0.5), {}, "comparison"),
        (("01", "AP", "==", 0.5), {}, "comparison"),
        (("01", "AP", ">=", "0.5"), {}, "value"),
        (("01", "AP", ">=", float("inf")), {}, "value"),
        (("01", "AP", ">=", True), {}, "value"),
        (("01", "AP", ">=", 0.5), {"mode": "quick"}, "mode"),
    ],
)
def test_malformed_targets_are_value_errors_naming_the_argument(fresh_targets, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        report.target(*args, **kwargs)


def test_a_damaged_targets_file_names_the_file(tmp_path):
    (tmp_path / "93_t.targets.json").write_text('[{"figure": "AP", "comparison": "~", "value": 1}]')
    with pytest.raises(ValueError, match=r"93_t.targets.json: malformed targets \(comparison"):
        report.load_targets(tmp_path)
