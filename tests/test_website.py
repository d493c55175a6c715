"""make site (tools/website.py): which run each page shows, what it hides, and a small site built by Sphinx.

The whole site, built from real runs, is crawled in Chromium by ``make test-browser`` (tools/site_check.py).
"""

from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import website as course_site

ROOT = Path(__file__).resolve().parent.parent

# a 1x1 PNG: the smallest picture output a notebook can hold
PIXEL = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cf"
    "c0f01f0005000201a5f6d2d80000000049454e44ae426082")).decode()


def executed(folder: Path, name: str, mode: str = "full", status: str = "ok", date: str = "2026-12-04 10:00",
             title: str = "A lesson") -> Path:
    """Write a small executed notebook: a title, a code cell with a picture output, and run metadata."""
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("plot()", execution_count=1)
    code.outputs = [nbformat.v4.new_output("display_data", data={"image/png": PIXEL, "text/plain": "<Figure>"})]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\nSome prose with $x^2$."), code]
    nb.metadata["cvlib_run"] = {"mode": mode, "status": status, "date": date, "seconds": 12.0,
                                "machine": "a test machine", "by": "make run"}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def test_the_lecture_order_is_the_readmes_and_holds_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(line for line in readme.splitlines() if line.startswith("01 · 02 · "))
    assert tuple(re.findall(r"\d\d", line)) == course_site.LECTURE_ORDER
    numbers = sorted(path.name[:2] for path in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(course_site.LECTURE_ORDER) == numbers


def test_in_lecture_order_puts_video_after_ct_and_unknown_numbers_last():
    names = ["99_new", "11_unet", "17_video", "06_ct", "12_mask"]
    assert course_site.in_lecture_order(names) == ["06_ct", "17_video", "12_mask", "11_unet", "99_new"]


def test_a_full_run_that_passed_beats_a_newer_fast_one_and_a_failed_one(tmp_path):
    executed(tmp_path / "run", "01_a", mode="full", date="2026-12-01 09:00")
    executed(tmp_path / "test", "01_a", mode="fast", date="2026-12-04 09:00")
    executed(tmp_path / "run", "02_b", mode="full", status="error", date="2026-12-04 09:00")
    executed(tmp_path / "test", "02_b", mode="fast", date="2026-12-01 09:00")
    runs, missing = course_site.choose_runs(["01_a", "02_b", "03_c"], (tmp_path / "run", tmp_path / "test"))
    assert missing == ["03_c"]
    assert (runs["01_a"].mode, runs["01_a"].path.parent.name) == ("full", "run")
    assert (runs["02_b"].mode, runs["02_b"].status) == ("fast", "ok")


def test_a_copy_without_run_metadata_says_so(tmp_path):
    path = executed(tmp_path, "01_a")
    nb = nbformat.read(path, as_version=4)
    del nb.metadata["cvlib_run"]
    nbformat.write(nb, path)
    run = course_site.Run.read(path)
    assert (run.mode, run.status) == ("not recorded", "not recorded")
    assert "not recorded" in course_site.run_box(run)


@pytest.mark.parametrize(("mode", "status", "words"), [
    ("full", "ok", "full-mode run"),
    ("fast", "ok", "fast-mode"),
    ("full", "timeout", "ended with **timeout**"),
])
def test_the_box_under_the_title_names_the_run(tmp_path, mode, status, words):
    run = course_site.Run.read(executed(tmp_path, "01_a", mode=mode, status=status))
    box = course_site.run_box(run)
    assert words in box and "2026-12-04 10:00" in box and box.startswith(":::{")


def test_pages_hide_solutions_hidden_tests_and_the_solutions_output(tmp_path):
    source = nbformat.read(ROOT / "notebooks" / "01_iou_and_map.ipynb", as_version=4)
    solution = next(i for i, c in enumerate(source.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    source.cells[solution].outputs = [nbformat.v4.new_output("stream", text="the answer is 0.5\n")]
    source.metadata["cvlib_run"] = {"mode": "fast", "status": "ok", "date": "2026-12-04 10:00"}
    nbformat.write(source, tmp_path / "01_iou_and_map.ipynb")
    run = course_site.Run.read(tmp_path / "01_iou_and_map.ipynb")

    page = course_site.page_notebook(run)
    text = "\n".join(cell.source for cell in page.cells)
    assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text
    assert "YOUR CODE HERE" in text
    shown = page.cells[solution]
    assert shown.metadata["nbgrader"]["solution"] and shown.outputs == []
    title = page.cells[0].source.split("\n")
    assert title[0].startswith("# ") and title[2].startswith(":::{important}")  # the run's box, under the title
    assert source.cells[0].source.split("\n", 1)[1].strip() in page.cells[0].source  # the introduction stays

    kept = course_site.page_notebook(run, solutions=True)
    assert "### BEGIN SOLUTION" in "\n".join(cell.source for cell in kept.cells)
    assert kept.cells[solution].outputs  # the instructor's site keeps it


def test_readme_links_point_to_lesson_pages_or_become_text():
    markdown = ("see [the YOLO notebook](notebooks/05_yolo.ipynb), [boxes](cvlib/boxes.py), "
                "[Keras](https://keras.io) and [a section](#results)")
    fixed = course_site.relink(markdown, {"05_yolo"})
    assert fixed == ("see [the YOLO notebook](lessons/05_yolo.ipynb), boxes, [Keras](https://keras.io) "
                     "and [a section](#results)")


def test_readme_section_stops_at_the_next_section_and_names_a_missing_one():
    text = "# T\n\nintro\n\n## Results\n\nrows\n\n### sub\n\nmore\n\n## Tests\n\nother\n"
    assert course_site.readme_section(text, "Results") == "rows\n\n### sub\n\nmore\n"
    with pytest.raises(ValueError, match="no section '## Nope'"):
        course_site.readme_section(text, "Nope")


def test_make_site_names_the_notebooks_it_has_no_run_of(tmp_path, capsys):
    assert course_site.main(["--executed", str(tmp_path), "--out", str(tmp_path / "site")]) == 2
    message = capsys.readouterr().err
    assert "01_iou_and_map" in message and "make run" in message and "make test" in message
    assert not (tmp_path / "site").exists()


def test_sphinx_builds_linked_pages_with_their_pictures_and_formulas(tmp_path):
    runs = {name: course_site.Run.read(executed(tmp_path / "executed", name, mode=mode, title=title))
            for name, mode, title in [("06_3d_cnn_ct", "full", "06 · CT"), ("17_3d_cnn_video", "fast", "17 · Video")]}
    course_site.write_sources(runs, tmp_path / "src")
    _, warnings = course_site.build(tmp_path / "src", tmp_path / "site")
    site = tmp_path / "site"

    home = (site / "index.html").read_text(encoding="utf-8")
    assert home.index('href="lessons/06_3d_cnn_ct.html"') < home.index('href="lessons/17_3d_cnn_video.html"')
    assert 'href="results.html"' in home and 'href="instructors.html"' in home
    video = (site / "lessons" / "17_3d_cnn_video.html").read_text(encoding="utf-8")
    assert "fast-mode" in video and 'href="06_3d_cnn_ct.html"' in video  # the previous lesson, as the lecture goes
    pictures = re.findall(r'<img[^>]+src="([^"]+)"', video)
    assert pictures and all((site / "lessons" / src).resolve().exists() for src in pictures)
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists()  # formulas render without a network
    assert "Results" in (site / "results.html").read_text(encoding="utf-8")
    assert json.loads((site / "_sources" / "lessons" / "06_3d_cnn_ct.ipynb").read_text())["cells"]
    assert not [w for w in warnings if "ERROR" in w], warnings
