"""make test-browser: notebooks 15 and 14 in JupyterLab in headless Chromium, clicked as a student would.

Steps, each named in the message when it does not happen:
1. find Chromium (installed from Debian's packages with apt-get when missing) and Playwright (from PyPI; it
   drives that Chromium, never a browser of its own);
2. start JupyterLab from .venv on a free loopback port with a random token, serving a copy of the two notebooks
   (the course's own files are never saved over) with autosave off;
3. notebook 15, fast mode: run all cells; check that the click widget and its controls fit on a laptop screen;
   click "reset", then click the picture at the object (a plain click: positive) and on the background (Shift:
   negative), and check from the page that the mask drawn on the picture changed after each; time each
   click to its new picture on screen; click beside the picture and check that nothing changed or failed;
4. notebook 14: run the cells up to the receptive-field explorer, drag its slider, check that the drawn field
   changed;
5. the course website (``make site``, in build/site/): served on 127.0.0.1, every internal link followed, every
   page, anchor, picture and file it links must be there, and every lesson page must show all its notebook's
   pictures (``site_check.py``); screenshots of the home page and of one lesson.
JupyterLab, its kernels, the site's server and Chromium are stopped in every case. Screenshots go to
build/screenshots/, the figures to build/browser.json. Nothing leaves the machine: the pages talk to 127.0.0.1 only.

    python tools/browser_test.py [--port 8899] [--timeout 240]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import site_check  # beside this file

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build"
SCREENSHOTS = BUILD / "screenshots"
RESULTS = BUILD / "browser.json"
SITE = BUILD / "site"
NOTEBOOK_15 = "15_interactive_segmentation.ipynb"
NOTEBOOK_14 = "14_receptive_fields.ipynb"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
# Chromium as root, with no network but loopback: background services would only try to reach the internet
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LAPTOP_SCREEN = {"width": 1366, "height": 768}
# JupyterLab's user settings for the test: never save the copies, render every cell (not only those in view,
# so the page holds every output), and no question about news, which would cover part of the page
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}
MAX_CLICK_MS = 300


class StepFailed(Exception):
    """A step of the test that did not happen; the message names it."""

    def __init__(self, step: str, message: str):
        super().__init__(f"{step}: {message}")
        self.step, self.message = step, message


CURRENT = {"step": "start"}


def log(message: str) -> None:
    print(f"[browser] {message}", flush=True)


def begin(step: str) -> str:
    """Note the step now running, so that an unexpected error can name it; returns the step."""
    CURRENT["step"] = step
    return step


# --- 1. Chromium and Playwright ---------------------------------------------------------------------------

def find_chromium() -> str | None:
    """The path of a Chromium on this machine (``CHROMIUM`` overrides the search), or None."""
    chosen = os.environ.get("CHROMIUM")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_chromium_message(apt_get: str | None) -> str:
    """What to tell a user who has no Chromium, with apt-get (``apt_get``, its path) or without it."""
    if apt_get is None:
        return ("Chromium is not installed and apt-get is not available to install it. Install Chromium with "
                "your system's package manager (Debian/Ubuntu: `sudo apt-get install chromium`; Fedora: "
                "`sudo dnf install chromium`; macOS: `brew install --cask chromium`), or point CHROMIUM at a "
                "Chromium or Chrome executable, then run `make test-browser` again.")
    return ("Chromium is not installed and `apt-get install chromium` did not install it (see its output "
            "above). Run `sudo apt-get update && sudo apt-get install chromium` yourself, or point CHROMIUM "
            "at a Chromium or Chrome executable, then run `make test-browser` again.")


def ensure_chromium() -> str:
    """Chromium's path; installs Debian's package with apt-get when it is missing."""
    found = find_chromium()
    if found:
        return found
    if os.environ.get("CHROMIUM"):
        raise StepFailed("find Chromium", f"CHROMIUM={os.environ['CHROMIUM']} is not a file: point it at a "
                                          "Chromium or Chrome executable, or unset it to use the system's")
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise StepFailed("find Chromium", missing_chromium_message(None))
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    log("Chromium is missing: installing Debian's package with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        if subprocess.run(prefix + command, env=env).returncode != 0:
            break
    found = find_chromium()
    if not found:
        raise StepFailed("install Chromium", missing_chromium_message(apt_get))
    return found


def ensure_playwright():
    """Playwright's sync API; installs the version pinned in requirements.txt from PyPI when it is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pin = next((line.strip() for line in (REPO / "requirements.txt").read_text().splitlines()
                    if line.startswith("playwright==")), "playwright")
        log(f"installing {pin} from PyPI (the Python package only: it drives the system's Chromium)")
        if subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", pin]).returncode != 0:
            raise StepFailed("install Playwright", f"`pip install {pin}` failed (see above)") from None
        from playwright.sync_api import sync_playwright
    return sync_playwright


# --- 2. JupyterLab ------------------------------------------------------------------------------------------

def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as a server binds: a port whose last connections are closing (TIME_WAIT) is free, a listened one is not
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(preferred: int = 8899, host: str = "127.0.0.1") -> int:
    """``preferred`` if nothing listens there, else a port the system has free."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def lab_command(port: int, token: str, root: Path, settings: Path) -> list[str]:
    """The JupyterLab command line: loopback only, the given token, no browser, no calls home."""
    return [str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser", "--allow-root",
            "--expose-app-in-browser",           # lets the test run cells and read outputs through the app
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={settings / 'workspaces'}",
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly"]


def prepare_lab_folder(work: Path) -> tuple[Path, Path]:
    """A copy of the two notebooks and user settings with autosave off, under ``work``: (root, settings)."""
    shutil.rmtree(work, ignore_errors=True)
    root, settings = work / "notebooks", work / "settings"
    root.mkdir(parents=True)
    for name in (NOTEBOOK_15, NOTEBOOK_14):
        shutil.copy2(REPO / "notebooks" / name, root / name)
    for plugin, values in LAB_SETTINGS.items():
        path = settings / f"{plugin.replace(':', '/')}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return root, settings


@contextmanager
def jupyterlab(preferred_port: int, work: Path, timeout: float = 90):
    """Start JupyterLab, yield its base URL and token, and stop it (and its kernels) whatever happens."""
    root, settings = prepare_lab_folder(work)
    token = secrets.token_hex(24)
    env = {**os.environ, "CVLIB_FAST": "1", "PYTHONUNBUFFERED": "1"}
    logfile = open(work / "jupyterlab.log", "w")
    process = None
    try:
        for attempt in range(3):             # another program may take the port between the check and the bind
            port = free_port(preferred_port if attempt == 0 else 0)
            process = subprocess.Popen(lab_command(port, token, root, settings), cwd=root, env=env,
                                       stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)
            if wait_for_lab(process, port, token, timeout):
                break
            stop(process)
        else:
            raise StepFailed("start JupyterLab", f"it did not answer on 127.0.0.1; its log: {work / 'jupyterlab.log'}")
        log(f"JupyterLab on 127.0.0.1:{port} (pid {process.pid}), serving copies in {root}")
        yield f"http://127.0.0.1:{port}", token
    finally:
        if process is not None:
            stop(process)
            log("JupyterLab and its kernels stopped")
        logfile.close()


def wait_for_lab(process, port: int, token: str, timeout: float) -> bool:
    """True once JupyterLab answers its status API; False if it exits or the time runs out."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/api/status"
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))     # loopback, never a proxy
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with opener.open(request, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def stop(process) -> None:
    """Stop a process started in its own session, and everything it started (kernels), by its group id."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


# --- 3 and 4. The notebooks in the page ---------------------------------------------------------------------

# The notebook panel that is open, its kernel, and its cells' outputs, read through the app JupyterLab exposes.
NOTEBOOK_STATE_JS = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.sessionContext || !panel.content || !panel.content.model) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [];
  const model = panel.content.model.cells;
  for (let i = 0; i < model.length; i++) {
    const cell = model.get(i).toJSON();
    if (cell.cell_type !== 'code') continue;
    const source = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    const error = (cell.outputs || []).find(o => o.output_type === 'error');
    cells.push({index: i, count: cell.execution_count, source: source,
                error: error ? `${error.ename}: ${error.evalue}` : null});
  }
  return {path: panel.context ? panel.context.path : null, kernel: kernel ? kernel.status : null, cells};
}"""

# Every text the open notebook's cells printed, in order.
PRINTED_JS = """() => {
  const model = window.jupyterapp.shell.currentWidget.content.model.cells;
  const texts = [];
  for (let i = 0; i < model.length; i++)
    for (const o of model.get(i).toJSON().outputs || [])
      if (o.output_type === 'stream') texts.push(Array.isArray(o.text) ? o.text.join('') : o.text);
  return texts.join('');
}"""

PICTURE_JS = """(img) => {
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let hash = 2166136261, outline = 0, outlineHash = 2166136261;
  for (let i = 0; i < data.length; i += 4) {
    hash = Math.imul(hash ^ (data[i] | data[i + 1] << 8 | data[i + 2] << 16), 16777619) >>> 0;
    if (data[i] === 255 && data[i + 1] === 210 && data[i + 2] === 0) {     // the mask's yellow outline
      outline++;
      outlineHash = Math.imul(outlineHash ^ i, 16777619) >>> 0;
    }
  }
  return {hash, outline, outlineHash, width: canvas.width, height: canvas.height, src: img.src};
}"""

# Before a click: note when the mouse button goes down and when the picture's next PNG is decoded on screen.
ARM_TIMER_JS = """(img) => {
  window.__clickTimer = {down: null, shown: null};
  document.addEventListener('mousedown', () => { window.__clickTimer.down = performance.now(); },
                            {capture: true, once: true});
  const watch = new MutationObserver(() => {
    watch.disconnect();
    img.decode().then(() => { window.__clickTimer.shown = performance.now(); });
  });
  watch.observe(img, {attributes: true, attributeFilter: ['src']});
}"""


def run_notebook(page, base: str, token: str, name: str, timeout: float, until: str | None = None) -> float:
    """Open ``name`` in JupyterLab, run all its cells, wait until the last is done; returns the seconds taken.

    With ``until``, only the cells up to the first code cell whose source contains it.
    """
    step = begin(f"run {name}")
    page.goto(f"{base}/lab/tree/{name}?token={token}")
    try:
        # the notebook opened last session may be restored first: wait for this one to be the current tab
        page.wait_for_function(f"() => {{ const s = ({NOTEBOOK_STATE_JS})(); return s && s.kernel === 'idle' "
                               f"&& s.path && s.path.endsWith({json.dumps(name)}) && s.cells.length > 0; }}",
                               timeout=120_000)
    except Exception as error:
        raise StepFailed(step, f"the notebook did not open with an idle kernel within 120 s ({error})") from None
    start = time.monotonic()
    cells = page.evaluate(NOTEBOOK_STATE_JS)["cells"]
    if until is None:
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    else:
        last = next((c["index"] for c in cells if until in c["source"]), None)
        if last is None:
            raise StepFailed(step, f"no code cell contains {until!r}")
        page.evaluate("""async (last) => {
          const app = window.jupyterapp;
          app.shell.currentWidget.content.activeCellIndex = last;
          await app.commands.execute('notebook:run-all-above');
          await app.commands.execute('notebook:run-cell');
        }""", last)
        cells = [c for c in cells if c["index"] <= last]
    deadline = start + timeout
    while True:
        state = page.evaluate(NOTEBOOK_STATE_JS)
        failed = [c for c in state["cells"] if c["error"]]
        if failed:
            raise StepFailed(step, f"code cell {failed[0]['index']} raised {failed[0]['error']}")
        counts = {c["index"]: c["count"] for c in state["cells"]}
        if state["kernel"] == "idle" and all(counts[c["index"]] is not None for c in cells):
            return time.monotonic() - start
        if time.monotonic() > deadline:
            waiting = next((c["index"] for c in state["cells"] if c["count"] is None), None)
            raise StepFailed(step, f"not finished after {timeout:.0f} s (cell {waiting} had not run)")
        time.sleep(1)


STATUS = ".widget-hbox .widget-html-content"      # the widget's status line: an HTML widget beside the picture


def wait_for_status(page, before: str, step: str) -> None:
    """Wait until the widget's status line no longer reads ``before``."""
    try:
        page.wait_for_function(
            "([selector, before]) => [...document.querySelectorAll(selector)]"
            ".some(e => e.innerText.includes(' clicks (') && e.innerText !== before)",
            arg=[STATUS, before], timeout=10_000)
    except Exception:
        raise StepFailed(step, f"the widget's status line still reads {before!r} after 10 s") from None


def read_status(page, raw: bool = False):
    """The click widget's status line, parsed: clicks, positive, negative, mask pixels (``raw``: its text)."""
    text = page.locator(STATUS, has_text=" clicks (").first.inner_text()
    if raw:
        return text
    match = re.search(r"(\d+) clicks \((\d+) positive, (\d+) negative\); mask (\d+) pixels", text)
    if not match:
        raise StepFailed("read the widget's status", f"unexpected status line {text!r}")
    return dict(zip(("clicks", "positive", "negative", "mask"), map(int, match.groups())))


def click_picture(page, picture, x: int, y: int, size: int, modifiers=(), step="click",
                  mask_must_change: bool = False) -> dict:
    """Click image pixel (x, y) of the widget's picture; wait for the new picture; returns what changed.

    With ``mask_must_change``, the mask's outline drawn on the picture must have moved.
    """
    begin(step)
    before, status, status_text = picture.evaluate(PICTURE_JS), read_status(page), read_status(page, raw=True)
    box = picture.bounding_box()
    picture.evaluate(ARM_TIMER_JS)
    for key in modifiers:
        page.keyboard.down(key)
    page.mouse.click(box["x"] + (x + 0.5) * box["width"] / size, box["y"] + (y + 0.5) * box["height"] / size)
    for key in modifiers:
        page.keyboard.up(key)
    try:
        page.wait_for_function("() => window.__clickTimer.shown !== null", timeout=10_000)
    except Exception:
        raise StepFailed(step, f"the picture did not change within 10 s of a click at ({x}, {y})") from None
    timer = page.evaluate("() => window.__clickTimer")
    wait_for_status(page, status_text, step)
    after, new_status = picture.evaluate(PICTURE_JS), read_status(page)
    if after["hash"] == before["hash"]:
        raise StepFailed(step, "the picture's pixels are the same after the click")
    if mask_must_change and after["outlineHash"] == before["outlineHash"]:
        raise StepFailed(step, f"the mask overlay on the picture did not change (mask {status['mask']} -> "
                               f"{new_status['mask']} pixels)")
    return {"x": x, "y": y, "modifiers": list(modifiers), "ms": round(timer["shown"] - timer["down"], 1),
            "before": status, "after": new_status, "outline_before": before["outline"],
            "outline_after": after["outline"]}


def wait_visible(locator, step: str, missing: str, timeout_ms: float = 30_000) -> None:
    """Wait until ``locator`` is on screen, or fail ``step`` saying what is ``missing``."""
    try:
        locator.wait_for(state="visible", timeout=timeout_ms)
    except Exception:
        raise StepFailed(step, missing) from None


def check_click_widget(page, timings: dict) -> dict:
    """Notebook 15's ClickDemo: fits on the screen; clicks on the object and the background change the mask."""
    step = begin("find the click widget")
    picture = page.locator("img.widget-image").first
    wait_visible(picture, step, "no widget picture (img.widget-image) in notebook 15's outputs")
    match = re.search(r"first click: x=(\d+), y=(\d+) on the (\d+) x (\d+) image", page.evaluate(PRINTED_JS))
    if not match:
        raise StepFailed(step, "the cell did not print where the simulated user's first click was")
    x, y, width, height = map(int, match.groups())
    widget = picture.locator("xpath=ancestor::div[contains(@class, 'widget-hbox')][1]")
    widget.evaluate("element => element.scrollIntoView({block: 'center'})")
    page.mouse.move(5, 5)
    screen, box = page.viewport_size, widget.bounding_box()
    page.screenshot(path=str(SCREENSHOTS / "15_widget.png"))
    if box["height"] > screen["height"] - 100 or box["y"] < 0 or box["y"] + box["height"] > screen["height"]:
        raise StepFailed("fit the widget on a laptop screen",
                         f"the picture and its controls are {box['height']:.0f} px high, drawn at y = "
                         f"{box['y']:.0f} on a {screen['height']} px window")

    begin("click the widget's reset button")
    status_text = read_status(page, raw=True)
    page.get_by_role("button", name="reset").click()
    if not status_text.startswith("0 clicks"):
        wait_for_status(page, status_text, "click the widget's reset button")
    if read_status(page)["clicks"] != 0:
        raise StepFailed("click the widget's reset button", "the clicks were not removed")
    corner = (width - 2 if x < width / 2 else 1, height - 2 if y < height / 2 else 1)   # far from the object
    clicks = [click_picture(page, picture, x, y, width, step="click on the object", mask_must_change=True)]
    if clicks[0]["after"]["mask"] == 0:
        raise StepFailed("click on the object", "a positive click on the object gave an empty mask")
    page.screenshot(path=str(SCREENSHOTS / "15_after_object_click.png"))
    clicks.append(click_picture(page, picture, *corner, width, modifiers=["Shift"],
                                step="Shift + click on the background", mask_must_change=True))
    if clicks[1]["after"]["negative"] != 1:
        raise StepFailed("Shift + click on the background", f"it did not add a negative click: {clicks[1]['after']}")
    page.screenshot(path=str(SCREENSHOTS / "15_after_background_click.png"))
    for dx, dy in ((1, 0), (0, 1), (-1, 0)):                   # more clicks, to time a few
        clicks.append(click_picture(page, picture, x + dx, y + dy, width, step="timed click"))

    step = begin("click beside the picture")
    errors_before = len(timings["page_errors"])
    before, status = picture.evaluate(PICTURE_JS), read_status(page)
    box = picture.bounding_box()
    page.mouse.click(box["x"] + box["width"] + 4, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] + 4)
    page.wait_for_timeout(1500)
    if picture.evaluate(PICTURE_JS)["hash"] != before["hash"] or read_status(page) != status:
        raise StepFailed(step, "a click outside the picture changed the session")
    if len(timings["page_errors"]) > errors_before:
        raise StepFailed(step, f"the page raised {timings['page_errors'][errors_before:]}")
    return {"image_size": [width, height], "widget_px": [round(box["width"]), round(widget.bounding_box()["height"])],
            "clicks": clicks}


def check_field_explorer(page) -> dict:
    """Notebook 14's receptive-field explorer: dragging the slider redraws the field."""
    step = begin("find the receptive-field slider")
    handle = page.locator(".widget-slider .noUi-handle").first
    wait_visible(handle, step, "no slider in notebook 14's outputs")
    explorer = handle.locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][1]")
    explorer.scroll_into_view_if_needed()
    figure = explorer.locator(".widget-output img").first
    wait_visible(figure, step, "the explorer shows no figure under its slider", timeout_ms=10_000)
    before = figure.get_attribute("src")
    readout = explorer.locator(".widget-readout").first.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "14_explorer_before.png"))
    box, track = handle.bounding_box(), explorer.locator(".widget-slider .noUi-target").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + 0.4 * track["width"], box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    step = begin("move the receptive-field slider")
    try:
        page.wait_for_function(
            "([root, before]) => { const img = root.querySelector('.widget-output img');"
            " return img && img.complete && img.getAttribute('src') !== before; }",
            arg=[explorer.element_handle(), before], timeout=20_000)
    except Exception:
        raise StepFailed(step, f"the drawn field did not change (slider {readout!r} -> "
                               f"{explorer.locator('.widget-readout').first.inner_text()!r})") from None
    after_readout = explorer.locator(".widget-readout").first.inner_text()
    if after_readout == readout:
        raise StepFailed(step, f"the slider still reads {readout!r}")
    page.screenshot(path=str(SCREENSHOTS / "14_explorer_after.png"))
    return {"slider_before": readout, "slider_after": after_readout}


def browse(sync_playwright, chromium: str, base: str, token: str, timeout: float) -> dict:
    """Steps 3 and 4 in one Chromium, which is closed whatever happens."""
    results = {"page_errors": []}
    with sync_playwright() as playwright:
        begin("start Chromium")
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport=LAPTOP_SCREEN)
            page.on("pageerror", lambda error: results["page_errors"].append(str(error)))
            results["chromium"] = browser.version
            try:
                results["run_seconds_15"] = round(run_notebook(page, base, token, NOTEBOOK_15, timeout), 1)
                log(f"notebook 15 ran in {results['run_seconds_15']:.0f} s")
                results["click_widget"] = check_click_widget(page, results)
                page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
                results["run_seconds_14"] = round(run_notebook(page, base, token, NOTEBOOK_14, timeout,
                                                               until="field_explorer(vgg_fields, image)"), 1)
                log(f"notebook 14 ran in {results['run_seconds_14']:.0f} s")
                results["field_explorer"] = check_field_explorer(page)
            except BaseException:
                page.screenshot(path=str(SCREENSHOTS / "failure.png"))
                raise
        finally:
            browser.close()
    return results


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8899, help="JupyterLab's port if free (else another)")
    parser.add_argument("--timeout", type=float, default=240, help="seconds for each notebook's run")
    args = parser.parse_args(argv)
    started = time.monotonic()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):        # a run's pictures only, never an earlier run's failure
        old.unlink()
    RESULTS.unlink(missing_ok=True)
    try:
        begin("find Chromium")
        chromium = ensure_chromium()
        begin("find Playwright")
        sync_playwright = ensure_playwright()
        begin("start JupyterLab")
        log(f"Chromium: {chromium}")
        with jupyterlab(args.port, BUILD / "browser") as (base, token):
            results = browse(sync_playwright, chromium, base, token, args.timeout)
        begin("the course website")
        try:
            results["site"] = site_check.check(sync_playwright, chromium, SITE, SCREENSHOTS, CHROMIUM_FLAGS,
                                               LAPTOP_SCREEN)
        except site_check.SiteBroken as broken:
            raise StepFailed("the course website", str(broken)) from None
    except StepFailed as failure:
        print(f"make test-browser FAILED at step '{failure.step}': {failure.message}", file=sys.stderr)
        return 1
    except Exception as error:                  # Playwright's own errors, a closed page...: name the step
        print(f"make test-browser FAILED at step '{CURRENT['step']}': {type(error).__name__}: {error}",
              file=sys.stderr)
        return 1
    clicks = results["click_widget"]["clicks"]
    click_ms = median([c["ms"] for c in clicks])
    results.update(click_to_mask_ms=click_ms, max_click_ms=MAX_CLICK_MS,
                   wall_seconds=round(time.monotonic() - started, 1), load_average=os.getloadavg()[0])
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for c in clicks:
        log(f"click at ({c['x']}, {c['y']}){' + ' + '+'.join(c['modifiers']) if c['modifiers'] else ''}: "
            f"mask {c['before']['mask']} -> {c['after']['mask']} pixels, on screen after {c['ms']:.0f} ms")
    log(f"field explorer: slider {results['field_explorer']['slider_before']} -> "
        f"{results['field_explorer']['slider_after']}, field redrawn")
    site = results["site"]
    log(f"course website: {site['pages']} pages and files followed, none broken; every lesson page shows its "
        f"notebook's {sum(lesson['pictures'] for lesson in site['lessons'].values())} pictures; "
        f"{site['external_links_not_followed']} external links not followed")
    log(f"click to mask on screen: median {click_ms:.0f} ms over {len(clicks)} clicks (limit {MAX_CLICK_MS} ms); "
        f"screenshots in {SCREENSHOTS.relative_to(REPO)}/, figures in {RESULTS.relative_to(REPO)}")
    if click_ms >= MAX_CLICK_MS:
        print(f"make test-browser FAILED at step 'click response time': median {click_ms:.0f} ms from a click to "
              f"its mask on screen, limit {MAX_CLICK_MS} ms", file=sys.stderr)
        return 1
    log(f"passed in {results['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
