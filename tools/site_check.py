"""The course website in Chromium: every internal link followed, no broken link, anchor or image, every figure shown.

``make test-browser`` calls :func:`check` after the JupyterLab steps; on its own:

    python tools/site_check.py [build/site]

The site is served from a loopback HTTP server (as a student's browser would get it from any web server);
requests to any other address are refused, so nothing leaves the machine and an external link is listed,
never followed. For each lesson page, the pictures the page shows are counted against the picture outputs
of the notebook it was made from (the site's own copy, which its download button offers): a page that lost a
figure fails.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urlparse

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "build" / "site"
LESSONS = "lessons"
PICTURES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")

# Every link, anchor and picture of the page, as the browser resolved them
LINKS_JS = """() => ({
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  resources: [...document.querySelectorAll('link[href]')].filter(l => l.rel !== 'canonical').map(l => l.href)
      .concat([...document.querySelectorAll('script[src]')].map(s => s.src)),
  images: [...document.querySelectorAll('img')].map(img => ({src: img.currentSrc || img.src,
      ok: img.complete && img.naturalWidth > 0, output: !!img.closest('.cell_output')})),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
})"""


class SiteBroken(Exception):
    """What is wrong with the site: every broken link, anchor or picture, one per line."""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the server says nothing: the crawl reports what is wrong
        pass


@contextmanager
def serve(folder: Path):
    """Serve ``folder`` over HTTP on 127.0.0.1 and a free port; yields the base URL (ending in '/')."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def expected_pictures(notebook: Path) -> int:
    """How many picture outputs the notebook a lesson page was made from holds (one <img> each on the page)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return sum(any(kind in output.get("data", {}) for kind in PICTURES)
               for cell in cells for output in cell.get("outputs", []))


def crawl(page, base: str, site: Path = SITE) -> dict:
    """Visit every page reachable from ``base + 'index.html'``; raise SiteBroken listing every fault found."""
    problems, external, statuses = [], set(), {}
    page.on("response", lambda response: statuses.__setitem__(urldefrag(response.url)[0], response.status))
    page.on("requestfailed", lambda request: statuses.__setitem__(urldefrag(request.url)[0], 0))
    # Only the local server may be reached: anything else is refused in the browser, and listed
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
    queue, visited, anchors, lessons, page_ids = [(base + "index.html", "the start")], set(), [], {}, {}
    while queue:
        url, referrer = queue.pop(0)
        if url in visited:
            continue
        visited.add(url)
        if not urlparse(url).path.endswith((".html", "/")):  # a download, a picture, a stylesheet: fetch it
            status = page.request.get(url).status
            if status >= 400:
                problems.append(f"{url} (linked from {referrer}): HTTP {status}")
            continue
        response = page.goto(url, wait_until="load")
        if response is None or not response.ok:
            problems.append(f"{url} (linked from {referrer}): HTTP {response.status if response else 'no response'}")
            continue
        found = page.evaluate(LINKS_JS)
        page_ids[url] = set(found["ids"])
        for link in found["links"] + found["resources"]:
            target, fragment = urldefrag(link)
            if not target.startswith(base):
                if urlparse(target).scheme in ("http", "https"):
                    external.add(target)
                continue
            if fragment:
                anchors.append((target, fragment, url))
            if target not in visited:
                queue.append((target, url))
        for image in found["images"]:
            if not image["ok"]:
                problems.append(f"{url}: picture {image['src']} does not load")
        relative = url[len(base):]
        if relative.startswith(f"{LESSONS}/") and relative.endswith(".html"):
            shown = sum(image["output"] and image["ok"] for image in found["images"])
            notebook = site / "_sources" / LESSONS / (Path(relative).stem + ".ipynb")
            expected = expected_pictures(notebook) if notebook.exists() else None
            lessons[Path(relative).stem] = {"pictures": shown, "expected": expected}
            if expected is None:
                problems.append(f"{url}: no notebook {notebook} to compare its pictures with")
            elif expected == 0:
                problems.append(f"{url}: its notebook has no picture output (was it executed?)")
            elif shown != expected:
                problems.append(f"{url}: shows {shown} of its notebook's {expected} pictures")
    for target, fragment, referrer in anchors:  # every page is known now
        if target in page_ids and fragment not in page_ids[target]:
            problems.append(f"{referrer}: link to {target}#{fragment}, which that page does not have")
    problems += [f"{address}: HTTP {status or 'failed'}" for address, status in statuses.items()
                 if address.startswith(base) and (status == 0 or status >= 400)]
    unreached = sorted({path.stem for path in (site / "_sources" / LESSONS).glob("*.ipynb")} - set(lessons))
    problems += [f"lesson {name}: no link from the home page leads to it" for name in unreached]
    if problems:
        raise SiteBroken("\n".join(sorted(set(problems))))
    return {"pages": len(visited), "lessons": lessons, "external_links_not_followed": len(external)}


def check(sync_playwright, chromium: str, site: Path = SITE, screenshots: Path | None = None,
          flags=(), viewport=None) -> dict:
    """Serve ``site`` and crawl it in ``chromium`` (headless); screenshots: home page, one lesson's top and figure."""
    if not (site / "index.html").exists():
        raise SiteBroken(f"{site / 'index.html'} is missing: run `make site` first")
    with serve(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=list(flags))
        try:
            page = browser.new_page(viewport=viewport or {"width": 1366, "height": 768})
            result = crawl(page, base, site)
            if screenshots is not None:
                screenshots.mkdir(parents=True, exist_ok=True)
                page.goto(base + "index.html")
                page.screenshot(path=str(screenshots / "site_home.png"))
                richest = max(result["lessons"], key=lambda name: result["lessons"][name]["pictures"])
                page.goto(f"{base}{LESSONS}/{richest}.html")
                page.screenshot(path=str(screenshots / "site_lesson.png"))  # its title and the box naming its run
                page.locator(".cell_output img").first.scroll_into_view_if_needed()
                page.screenshot(path=str(screenshots / "site_lesson_figure.png"))
                result["screenshot_lesson"] = richest
        finally:
            browser.close()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", type=Path, default=SITE, help="the built website's folder")
    site = parser.parse_args(argv).site
    import browser_test  # its Chromium and Playwright finders (it imports this module: not at the top)

    try:
        result = check(browser_test.ensure_playwright(), browser_test.ensure_chromium(), site,
                       screenshots=browser_test.SCREENSHOTS, flags=browser_test.CHROMIUM_FLAGS)
    except SiteBroken as broken:
        print(f"the course website is broken:\n{broken}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
