"""tools/browser_test.py's helpers, without a browser: the port, the missing-Chromium messages, JupyterLab's
command line and folder (make test-browser runs the browser itself)."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import browser_test


def test_free_port_keeps_a_free_preferred_port_and_picks_another_when_it_is_taken():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert browser_test.free_port(port) == port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        other = browser_test.free_port(port)
        assert other != port and browser_test.port_is_free(other)


def test_chromium_from_the_environment_or_nowhere(monkeypatch, tmp_path):
    fake = tmp_path / "chromium"
    fake.write_text("")
    monkeypatch.setenv("CHROMIUM", str(fake))
    assert browser_test.find_chromium() == str(fake)
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "missing"))
    assert browser_test.find_chromium() is None
    with pytest.raises(browser_test.StepFailed, match=r"CHROMIUM=.* is not a file"):
        browser_test.ensure_chromium()          # a wrong path is reported, not installed over


def test_missing_chromium_without_apt_get_says_so_and_how_to_install_it(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setattr(browser_test, "SCREENSHOTS", tmp_path / "screenshots")
    monkeypatch.setattr(browser_test, "RESULTS", tmp_path / "browser.json")
    monkeypatch.setattr(browser_test, "find_chromium", lambda: None)
    monkeypatch.setattr(browser_test.shutil, "which", lambda name: None)
    with pytest.raises(browser_test.StepFailed, match="apt-get is not available") as failure:
        browser_test.ensure_chromium()
    assert failure.value.step == "find Chromium" and "apt-get install chromium" in str(failure.value)
    assert browser_test.main([]) == 1, "a missing browser fails the run"
    assert "FAILED at step 'find Chromium'" in capsys.readouterr().err


def test_missing_chromium_after_apt_get_tells_what_to_run():
    message = browser_test.missing_chromium_message("/usr/bin/apt-get")
    assert "did not install it" in message and "CHROMIUM" in message


def test_jupyterlab_listens_on_loopback_with_the_token_and_never_calls_home(tmp_path):
    command = browser_test.lab_command(8123, "secret", tmp_path / "nb", tmp_path / "settings")
    assert "--ServerApp.ip=127.0.0.1" in command and "--ServerApp.port=8123" in command
    assert "--IdentityProvider.token=secret" in command and "--ServerApp.port_retries=0" in command
    assert "--LabApp.news_url=None" in command and "--no-browser" in command
    assert "--LabApp.extension_manager=readonly" in command, "no extension listing from PyPI"


def test_the_lab_folder_holds_copies_of_the_notebooks_with_autosave_off(tmp_path):
    root, settings = browser_test.prepare_lab_folder(tmp_path / "work")
    assert sorted(p.name for p in root.iterdir()) == sorted([browser_test.NOTEBOOK_15, browser_test.NOTEBOOK_14])
    plugin = settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings"
    assert json.loads(plugin.read_text()) == {"autosave": False}


def test_step_failures_name_their_step():
    failure = browser_test.StepFailed("click on the object", "the picture did not change")
    assert str(failure) == "click on the object: the picture did not change"


def test_median():
    assert browser_test.median([3, 1, 2]) == 2 and browser_test.median([4, 1, 2, 3]) == 2.5


def test_site_check_counts_the_picture_outputs_a_lesson_page_must_show(tmp_path):
    import site_check

    picture = {"output_type": "display_data", "data": {"image/png": "AAAA", "text/plain": "<Figure>"}}
    text = {"output_type": "stream", "name": "stdout", "text": "hello"}
    svg = {"output_type": "execute_result", "data": {"image/svg+xml": "<svg/>"}, "execution_count": 2}
    notebook = tmp_path / "01_a.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": [picture, text]},
                                              {"cell_type": "markdown", "source": "![a](b.png)"},
                                              {"cell_type": "code", "outputs": [svg, picture]}]}))
    assert site_check.expected_pictures(notebook) == 3


def test_site_check_serves_the_site_on_loopback_only_while_asked(tmp_path):
    import urllib.error
    import urllib.request

    import site_check

    (tmp_path / "index.html").write_text("<p>home</p>")
    with site_check.serve(tmp_path) as base:
        assert base.startswith("http://127.0.0.1:")
        assert urllib.request.urlopen(base + "index.html", timeout=10).read() == b"<p>home</p>"
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(base + "missing.html", timeout=10)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(base + "index.html", timeout=2)


def test_site_check_refuses_a_site_that_was_never_built(tmp_path):
    import site_check

    with pytest.raises(site_check.SiteBroken, match="make site"):
        site_check.check(None, "chromium", tmp_path / "site")
