"""The built book as readers see it: Debian's Chromium, driven by Playwright, visits every page offline.

MathJax's CDN is answered from a local copy of the npm package (MATHJAX_DIR, fetched by `make mathjax`);
every other request that leaves the local server is refused and counted as an error. A screenshot of each
page, light and dark, goes to _build/screenshots/ for a person to look at.

`make test` runs these when Chromium is installed and skips them, saying why, when it is not; with
REQUIRE_BROWSER_TESTS=1 (as in .ci/run) a missing browser fails instead.
"""
import functools
import http.server
import io
import json
import os
import pathlib
import re
import shutil
import threading
import urllib.request

import pytest
import yaml

from conftest import ROOT
from test_build import toc_documents

CHROMIUM = pathlib.Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
MATHJAX_DIR = pathlib.Path(os.environ.get("MATHJAX_DIR", ROOT / "_build/mathjax/node_modules/mathjax"))
MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]

# Text that MathJax should have replaced: a macro of ours or a display-math fence left in the page.
RAW_TEX = re.compile(r"\\(mat|dmat|bmat|frac|underline|dot|mathcal)\b|\$\$")


def _missing():
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if not (MATHJAX_DIR / "es5" / "tex-mml-chtml.js").exists():
        return f"no local MathJax at {MATHJAX_DIR} (make mathjax)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


@pytest.fixture(scope="session")
def site(book_build):
    """Serve the strict build on a loopback port; yield its base URL."""
    html, proc = book_build
    assert proc.returncode == 0, proc.stderr[-2000:]
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def browser():
    missing = _missing()
    if missing:
        if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
            pytest.fail(f"browser tests are required but cannot run: {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    from playwright.sync_api import sync_playwright
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # this run's pictures only
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Visit:
    """One page opened in a fresh context, with its console errors and refused requests recorded."""

    def __init__(self, browser, site, doc):
        self.site, self.doc, self.errors = site, doc, []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.goto(f"{site}{doc}.html", wait_until="load")
        self.page.evaluate("() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise")

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.site):
            route.continue_()
        elif url.startswith(MATHJAX_CDN):
            route.fulfill(path=MATHJAX_DIR / url[len(MATHJAX_CDN):].split("?")[0])
        else:
            self.errors.append(f"request left the site: {url}")
            route.abort()

    def screenshot(self, suffix=""):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / f"{pathlib.Path(self.doc).name}{suffix}.png", full_page=True)


@pytest.fixture(scope="module", params=toc_documents(), ids=lambda doc: pathlib.Path(doc).name)
def visit(request, browser, site):
    """One visit per page, shared by the tests below in file order (the dark-mode test comes last)."""
    v = Visit(browser, site, request.param)
    yield v
    v.context.close()


def test_page_has_no_console_errors(visit):
    visit.screenshot()
    assert visit.errors == []


def test_all_math_is_typeset(visit):
    stats = visit.page.evaluate("""() => {
        const article = document.querySelector('article').cloneNode(true);
        article.querySelectorAll('pre, code, .highlight, mjx-container').forEach(e => e.remove());
        return {
            formulas: document.querySelectorAll('article mjx-container').length,
            untypeset: [...document.querySelectorAll('article .math')]
                .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80)),
            errors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent),
            text: article.innerText,
        };
    }""")
    assert stats["errors"] == [], f"MathJax errors: {stats['errors']}"
    assert stats["untypeset"] == [], f"math left as TeX: {stats['untypeset']}"
    assert not RAW_TEX.findall(stats["text"]), f"raw TeX visible: {RAW_TEX.findall(stats['text'])[:5]}"
    _record(visit.doc, formulas=stats["formulas"])


def test_every_image_loads_with_meaningful_alt_text(visit):
    images = visit.page.evaluate("""() => [...document.querySelectorAll('img')].map(i => ({
        src: i.getAttribute('src'), alt: (i.getAttribute('alt') || '').trim(),
        loaded: i.complete && i.naturalWidth > 0}))""")
    for image in images:
        name = pathlib.PurePosixPath(image["src"]).name
        assert image["loaded"], f"image did not load: {image['src']}"
        assert len(image["alt"]) >= 8 and image["alt"] not in (name, pathlib.PurePosixPath(name).stem), \
            f"image {image['src']} has no meaningful alt text: {image['alt']!r}"
    _record(visit.doc, images=len(images))


def test_launch_and_download_buttons_point_at_the_notebook(visit):
    path = f"{visit.doc}.ipynb"
    hrefs = visit.page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.href)")
    if not (ROOT / path).exists():  # a markdown page: nothing to launch
        assert not [h for h in hrefs if "colab.research.google.com" in h or "mybinder.org" in h]
        return
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    repo, branch = config["url"].removeprefix("https://github.com/").rstrip("/"), config["branch"]
    assert f"https://colab.research.google.com/github/{repo}/blob/{branch}/{path}" in hrefs
    assert f"https://mybinder.org/v2/gh/{repo}/{branch}?urlpath=lab/tree/{path}" in hrefs
    download = next(h for h in hrefs if h.endswith(f"_sources/{path}"))
    with urllib.request.urlopen(download) as response:
        assert json.load(response)["metadata"]["kernelspec"]["name"] == "python3"


def test_figures_stay_readable_in_dark_mode(visit):
    page = visit.page
    for _ in range(3):  # the theme's toggle cycles light -> dark -> auto
        if page.evaluate("() => document.documentElement.dataset.theme") == "dark":
            break
        page.locator("button.theme-switch-button").first.click()
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    visit.screenshot("-dark")
    from PIL import Image
    figures = page.locator("article .cell_output img")
    for i in range(figures.count()):
        pixels = Image.open(io.BytesIO(figures.nth(i).screenshot())).convert("L")
        darkest, _ = pixels.getextrema()
        mean = sum(pixels.histogram()[g] * g for g in range(256)) / (pixels.width * pixels.height)
        assert mean > 150 and darkest < 100, \
            f"figure {i + 1} in dark mode: mean grey {mean:.0f}, darkest {darkest} (want a light ground, dark ink)"
    assert visit.errors == [], "errors after switching to dark mode"


def _record(doc, **figures):
    """Keep what each page showed in _build/screenshots/pages.json, for a person to read."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "pages.json"
    seen = json.loads(path.read_text()) if path.exists() else {}
    seen.setdefault(doc, {}).update(figures)
    path.write_text(json.dumps(seen, indent=1, sort_keys=True))
