"""The course website (``make site``): the executed notebooks as a static site, in the lecture's order.

For each notebook in ``notebooks/`` it takes the best executed copy it finds: one from ``make run``
(``build/executed/``) or, where there is none or it failed, the fast run ``make test`` left in
``build/test-executed/``; a full-mode run that passed wins over a fast one, a newer over an older. Each page says
which run it shows (mode, date, machine, time) in a box under its title: a fast run's figures are below the
full ones the text quotes. Exercise solutions and hidden tests are taken out, as in the student version
(``make assignments``), unless ``--solutions`` is given.

Sphinx builds it with myst-nb (which reads the executed notebooks without running them) and
sphinx-book-theme, Jupyter Book's own theme, so the site looks and navigates like a Jupyter Book:

- a home page with the course map in the lecture's order, linking every lesson;
- one page per notebook, with its figures, and previous / next links in that order;
- the results page (the README's Results section: targets, figures, run times, benchmarks) and the
  instructors' guide (its For instructors section).

``build/site-src/`` holds the generated Sphinx sources, ``build/site/`` the website (open ``index.html``);
``make test-browser`` follows every link in it.

    python tools/website.py [--executed DIR ...] [--out build/site] [--solutions]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
EXECUTED = (ROOT / "build" / "executed", ROOT / "build" / "test-executed")  # make run's, then make test's
SOURCE = ROOT / "build" / "site-src"
OUT = ROOT / "build" / "site"
# The lecture's order (the README's course map gives it too, and a test keeps the two the same): 3D convolutions
# on video right after those on CT, DeepFace and DensePose before the Siamese losses, Mask R-CNN before U-Net.
LECTURE_ORDER = ("01", "02", "03", "04", "05", "06", "17", "07", "09", "16", "08", "10", "12", "11", "13", "14",
                 "15")
LESSONS = "lessons"  # the folder of the lesson pages in the site

CONF = '''\
# Written by tools/website.py (make site); edit that file, not this one.
project = "cvlib course"
author = "cvlib course"
extensions = ["myst_nb", "sphinx-mathjax-offline"]  # MathJax served by the site itself
exclude_patterns = ["_build"]
html_theme = "sphinx_book_theme"
html_title = "cvlib course"
html_theme_options = {{"show_toc_level": 2, "home_page_in_toc": True, "use_download_button": True}}
html_last_updated_fmt = ""
nb_execution_mode = "off"  # the pages show the runs the course recorded; nothing runs here
nb_output_stderr = "remove"  # TensorFlow's log lines are not part of the lesson
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]
copyright = "{year}"
'''


@dataclass
class Run:
    """One executed copy of a notebook and what its metadata says about the run that made it."""

    path: Path
    mode: str  # "full", "fast" or "not recorded"
    status: str  # "ok", "error", "timeout"... or "not recorded"
    date: str  # "2026-12-04 17:59"
    machine: str = ""
    seconds: float | None = None
    by: str = ""  # "make run", "make run FAST=1", "make test"

    @classmethod
    def read(cls, path: Path) -> Run:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("cvlib_run", {})
        modified = dt.datetime.fromtimestamp(path.stat().st_mtime)
        return cls(path, meta.get("mode", "not recorded"), meta.get("status", "not recorded"),
                   meta.get("date", f"{modified:%Y-%m-%d %H:%M}"), meta.get("machine", ""), meta.get("seconds"),
                   meta.get("by", ""))

    def rank(self) -> tuple:
        """Higher is better: a run that passed, then full mode, then the newer."""
        return self.status == "ok", self.mode == "full", self.date

    def summary(self) -> str:
        """A short phrase for the course map: 'full, 2026-12-04'."""
        return f"{self.mode}, {self.date.split()[0]}" + ("" if self.status == "ok" else f", {self.status}")


def choose_runs(names: list[str], executed: tuple[Path, ...] = EXECUTED) -> tuple[dict[str, Run], list[str]]:
    """The best executed copy of each notebook ``names`` (stems), and the names that have none."""
    chosen, missing = {}, []
    for name in names:
        runs = [Run.read(folder / f"{name}.ipynb") for folder in executed if (folder / f"{name}.ipynb").exists()]
        if runs:
            chosen[name] = max(runs, key=Run.rank)
        else:
            missing.append(name)
    return chosen, missing


def in_lecture_order(names: list[str]) -> list[str]:
    """``names`` (stems such as ``05_yolo``) sorted as the lecture takes them; unknown numbers go last, by name."""
    position = {number: i for i, number in enumerate(LECTURE_ORDER)}
    return sorted(names, key=lambda name: (position.get(name[:2], len(position)), name))


def run_box(run: Run) -> str:
    """The MyST admonition under a page's title that says which run the page shows."""
    machine = ", ".join(run.machine.split(", ")[:2])  # the CPU and its cores; the kernel and Python add little
    when = f"on {run.date}" + (f", {machine}" if machine else "")
    took = f" in {run.seconds:.0f} s" if run.seconds is not None else ""
    if run.status not in ("ok", "not recorded"):
        return (f":::{{warning}}\nThis run ({run.mode} mode, {run.by or 'make run'}, {when}) ended with "
                f"**{run.status}**: the outputs stop where it did.\n:::")
    if run.mode == "full":
        return f":::{{note}}\nThe outputs below are from a full-mode run (`{run.by or 'make run'}`, {when}{took}).\n:::"
    if run.mode == "fast":
        return (f":::{{important}}\nThe outputs below are from a **fast-mode** run (`CVLIB_FAST=1`, "
                f"`{run.by or 'make run FAST=1'}`, {when}{took}): smaller data sets and shorter training than the "
                "lesson's full mode, so its figures fall short of those the text quotes. The "
                "[results](../results.md) page has the full-mode figures.\n:::")
    return f":::{{note}}\nThe outputs below are from a run made {when}; its mode was not recorded.\n:::"


def page_notebook(run: Run, solutions: bool = False):
    """The executed notebook as its page shows it: the run's box under the title, solutions out unless asked."""
    nb = nbformat.read(run.path, as_version=4)
    if not solutions:
        resources = {"metadata": {"path": str(run.path.parent)}, "nbgrader": {}}
        nb, resources = ClearSolutions().preprocess(nb, resources)
        nb, _ = ClearHiddenTests().preprocess(nb, resources)
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                cell.outputs, cell.execution_count = [], None  # the solution's output would give it away
    box = run_box(run)
    title = next((cell for cell in nb.cells if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# ")),
                 None)
    if title is None:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(box))
    else:  # right under the title line, before the lesson's introduction
        heading, _, rest = title.source.lstrip().partition("\n")
        title.source = f"{heading}\n\n{box}\n\n{rest.lstrip()}"
    nb.metadata.pop("widgets", None)  # widget state of a headless run: nothing a static page can drive
    return nb


def notebook_title(path: Path) -> str:
    """The first level-1 heading of a notebook, without '#'."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def readme_section(text: str, heading: str) -> str:
    """The body of the README's level-2 section ``heading`` (to the next level-2 heading), without its title."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    if not match:
        raise ValueError(f"README.md has no section '## {heading}'")
    return match.group(1).strip() + "\n"


def relink(markdown: str, pages: set[str]) -> str:
    """README links made right for the site: notebooks to their lesson pages, other repository files to text."""
    def fix(match: re.Match) -> str:
        text, target = match.group(1), match.group(2)
        if re.match(r"[a-z]+://|#|mailto:", target):
            return match.group(0)
        stem = Path(target).stem
        if target.startswith("notebooks/") and stem in pages:
            return f"[{text}]({LESSONS}/{stem}.ipynb)"
        return text  # a file of the repository: the site has no page for it
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", fix, markdown)


def course_map(readme: str, runs: dict[str, Run], titles: dict[str, str]) -> str:
    """The home page's course map: the README's table re-ordered as the lecture goes, with the run each page shows."""
    rows = {}
    for line in readme_section(readme, "Course map").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"\d\d", cells[0]):
            rows[cells[0]] = cells
    lines = ["| lesson | what it covers | run shown |", "|---|---|---|"]
    for name in in_lecture_order(list(runs)):
        topic = rows[name[:2]][1] if name[:2] in rows else ""
        lines.append(f"| [{titles[name]}]({LESSONS}/{name}.ipynb) | {topic} | {runs[name].summary()} |")
    return "\n".join(lines)


def home_page(readme: str, runs: dict[str, Run], titles: dict[str, str]) -> str:
    """index.md: the course's introduction, its map in the lecture's order, and the site's navigation."""
    intro = readme.split("\n## ", 1)[0].split("\n", 1)[1].strip()  # the paragraphs under the README's title
    order = in_lecture_order(list(runs))
    fast = [name for name in order if runs[name].mode != "full"]
    shown = ("Every page shows a full-mode run." if not fast else
             f"{len(order) - len(fast)} of {len(order)} pages show a full-mode run; the others show the run "
             "named in the last column (a fast run's figures fall short of the full ones).")
    return "\n".join([
        "# cvlib course: advanced computer vision with Keras 3", "",
        relink(intro, set(runs)), "",
        "## Course map", "",
        "The lessons in the order of the lecture. Each page is an executed notebook; to run one yourself, "
        "clone the course and type `make lab`.", "",
        course_map(readme, runs, titles), "",
        shown, "",
        "```{toctree}", ":hidden:", ":caption: Lessons", "",
        *[f"{LESSONS}/{name}" for name in order], "```", "",
        "```{toctree}", ":hidden:", ":caption: The course", "", "results", "instructors", "```", "",
    ])


def write_sources(runs: dict[str, Run], source: Path, solutions: bool = False) -> None:
    """Write the Sphinx project into ``source`` (emptied first): conf.py, the pages and the lesson notebooks."""
    if source.exists():
        shutil.rmtree(source)
    (source / LESSONS).mkdir(parents=True)
    readme = README.read_text(encoding="utf-8")
    titles = {name: notebook_title(run.path) for name, run in runs.items()}
    pages = set(runs)
    (source / "conf.py").write_text(CONF.format(year=dt.date.today().year), encoding="utf-8")
    (source / "index.md").write_text(home_page(readme, runs, titles), encoding="utf-8")
    (source / "results.md").write_text("# Results\n\n" + relink(readme_section(readme, "Results"), pages),
                                       encoding="utf-8")
    (source / "instructors.md").write_text(
        "# For instructors\n\n" + relink(readme_section(readme, "For instructors"), pages), encoding="utf-8")
    for name, run in runs.items():
        nbformat.write(page_notebook(run, solutions), source / LESSONS / f"{name}.ipynb")


def build(source: Path, out: Path) -> tuple[float, list[str]]:
    """Run Sphinx's HTML builder from ``source`` into ``out``; returns (seconds, warning lines)."""
    if out.exists():
        shutil.rmtree(out)
    warnings = source / "warnings.txt"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-w", str(warnings),
                    str(source), str(out), "-d", str(source / "_doctrees")], check=True)
    lines = [line for line in warnings.read_text(encoding="utf-8").splitlines() if line.strip()]
    return time.monotonic() - started, lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executed", action="append", type=Path,
                        help=f"a folder of executed notebooks, best first (default: {', '.join(map(str, EXECUTED))})")
    parser.add_argument("--out", type=Path, default=OUT, help="where the website goes")
    parser.add_argument("--source", type=Path, default=SOURCE, help="where the generated Sphinx sources go")
    parser.add_argument("--solutions", action="store_true", help="keep the exercises' solutions and hidden tests")
    args = parser.parse_args(argv)
    names = [path.stem for path in sorted(NOTEBOOKS.glob("*.ipynb"))]
    runs, missing = choose_runs(names, tuple(args.executed or EXECUTED))
    if missing:
        print(f"make site: no executed copy of {', '.join(missing)}. Run `make run` (full mode, the site's "
              "intended content) or `make test` (fast mode) first; `make run NB=05` runs one notebook.",
              file=sys.stderr)
        return 2
    write_sources(runs, args.source, args.solutions)
    try:
        seconds, warnings = build(args.source, args.out)
    except subprocess.CalledProcessError as err:
        print(f"make site: Sphinx failed ({err}); its sources are in {args.source}", file=sys.stderr)
        return 1
    modes = {mode: sum(run.mode == mode for run in runs.values()) for mode in ("full", "fast")}
    print(f"website: {args.out / 'index.html'} ({len(runs)} lessons: {modes['full']} full-mode runs, "
          f"{modes['fast']} fast; built in {seconds:.0f} s)")
    for line in warnings:
        print(f"  sphinx: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
