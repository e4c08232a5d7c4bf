"""The built book as readers see it: Chromium, driven by Playwright, opens every page of _toc.yml offline, once in
light and once in dark colour mode, and every check below reads those two loads.

MathJax's CDN is answered from the MathJax 3 files of the pinned django-static-mathjax package; every other
request that leaves the local server is refused and counted as an error. axe-core, bundled by the pinned
axe-playwright-python, runs every rule tagged WCAG 2.1 A or AA on each load. A screenshot of each page, light and
dark, goes to _build/screenshots/ beside the HTML, for a person to look at.

`make test` runs these on the markdown pages, and `make test ALL=1` on every page, when Chromium is installed
(CHROMIUM names another browser). When the browser or a package is missing they skip, saying which; with
REQUIRE_BROWSER_TESTS=1 (as in .ci/run) they fail instead.
"""
import functools
import http.server
import importlib.resources
import importlib.util
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

from project import ROOT, toc_documents

CHROMIUM = pathlib.Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/"
MODES = ("light", "dark")  # the system colour scheme the browser reports; the theme's "auto" mode follows it
# axe's rules for WCAG 2.1 A and AA, experimental ones included (label-content-name-mismatch is one).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING_IMPACTS = ("serious", "critical")

# Text that MathJax should have replaced: a macro of ours or a display-math fence left in the page.
RAW_TEX = re.compile(r"\\(mat|dmat|bmat|frac|underline|dot|mathcal)\b|\$\$")

# What these tests import, by module and package; MATHJAX_DIR is MathJax 3 as django-static-mathjax installs it,
# whose es5/ folder is what the CDN serves.
PACKAGES = {"mathjax": "django-static-mathjax", "playwright": "playwright",
            "axe_playwright_python": "axe-playwright-python"}
MATHJAX_DIR = (pathlib.Path(str(importlib.resources.files("mathjax") / "static" / "mathjax"))
               if importlib.util.find_spec("mathjax") else None)


def _missing():
    """What these tests need and do not find, in words; empty when nothing is missing."""
    missing = [f"the {package} package is not installed (pip install -r requirements.txt)"
               for module, package in PACKAGES.items() if importlib.util.find_spec(module) is None]
    if MATHJAX_DIR and not (MATHJAX_DIR / "es5" / "tex-mml-chtml.js").exists():
        missing.append(f"no MathJax at {MATHJAX_DIR / 'es5/tex-mml-chtml.js'}")
    if not CHROMIUM.exists():
        missing.append(f"no browser at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)")
    return "; ".join(missing)


@pytest.fixture(scope="session")
def browser():
    missing = _missing()
    if missing:
        if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
            pytest.fail(f"browser tests are required but cannot run: {missing}")
        pytest.skip(f"browser tests skipped: {missing}")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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
def screenshots(book_build):
    """This run's pictures, and pages.json with what each page showed: _build/screenshots/ beside the HTML."""
    folder = book_build[0].parent / "screenshots"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


class Visit:
    """One page in one colour mode, opened in a context of its own, with its console errors and refused requests
    recorded. The constructor returns once the page starts loading, so that two pages load side by side."""

    def __init__(self, browser, site, doc, mode):
        self.site, self.doc, self.mode, self.errors, self.recording = site, doc, mode, [], True
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=mode)
        # Only requests that leave the site come to Python: MathJax's CDN, answered locally, and refusals.
        self.context.route(re.compile(f"^(?!{re.escape(site)})"), self._leave_site)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self._error(f"console: {m.text} ({m.location['url']})"))
        self.page.on("pageerror", lambda e: self._error(f"page error: {e}"))
        self.page.goto(f"{site}{doc}.html", wait_until="commit")

    def _leave_site(self, route):
        url = route.request.url
        if url.startswith(MATHJAX_CDN):
            route.fulfill(path=MATHJAX_DIR / url[len(MATHJAX_CDN):].split("?")[0])
        else:
            self._error(f"request left the site: {url}")
            route.abort()

    def _error(self, message):
        if self.recording:
            self.errors.append(message)

    def finish_loading(self, screenshots):
        """Wait for the load event and for MathJax, check the theme shows this mode, save a full-page screenshot
        (JPEG: a third cheaper than PNG for a page 30,000 pixels tall)."""
        self.page.wait_for_load_state("load")
        self.page.evaluate("() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise")
        theme = self.page.evaluate("() => document.documentElement.dataset.theme")
        assert theme == self.mode, f"the theme shows {theme} mode where the system asks for {self.mode}"
        name = pathlib.PurePosixPath(self.doc).name + ("" if self.mode == "light" else f"-{self.mode}")
        self.page.screenshot(path=screenshots / f"{name}.jpg", full_page=True, type="jpeg", quality=85)

    def start_axe(self):
        """Start axe's WCAG rules on the page and return at once; axe_violations() waits for the result.

        What the browser logs meanwhile is axe's, not the page's, so it is not recorded: axe fetches the page's
        stylesheets again and resolves theme.css's @import against the page instead of the stylesheet (a 404)."""
        from axe_playwright_python.sync_playwright import Axe
        self.recording = False
        self.page.evaluate(Axe().axe_script)
        self.page.evaluate("""tags => { window.axeResults = new Promise(go => setTimeout(go)).then(() => axe.run(
            document, {runOnly: {type: "rule", values: axe.getRules(tags).map(r => r.ruleId)},
                       resultTypes: ["violations"]})); }""", WCAG_TAGS)

    def axe_violations(self):
        violations = self.page.evaluate("""() => window.axeResults.then(r => r.violations.map(v => ({
            rule: v.id, impact: v.impact, targets: v.nodes.map(n => n.target.join(" "))})))""")
        self.recording = True
        return violations


# The chapter pages take minutes in all (MathJax typesets thousands of formulas; axe checks the contrast of every
# highlighted code token), so they are marked slow: `make test` opens the two markdown pages, which exercise the
# same theme, templates and checks, and `make test ALL=1` (as .ci/run runs it) opens every page.
PAGES = [pytest.param(doc, marks=pytest.mark.slow) if (ROOT / f"{doc}.ipynb").exists() else doc
         for doc in toc_documents()]


@pytest.fixture(scope="module", params=PAGES, ids=lambda doc: pathlib.Path(doc).name)
def visits(request, browser, site, screenshots):
    """Each page loaded once per colour mode, both loads side by side; the tests below read these two loads."""
    visits = {mode: Visit(browser, site, request.param, mode) for mode in MODES}
    for visit in visits.values():
        visit.finish_loading(screenshots)
    yield visits
    for visit in visits.values():
        visit.context.close()


@pytest.mark.parametrize("mode", MODES)
def test_all_math_is_typeset(visits, mode, screenshots):
    stats = visits[mode].page.evaluate("""() => {
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
    _record(screenshots, visits[mode].doc, formulas=stats["formulas"])


@pytest.mark.parametrize("mode", MODES)
def test_every_image_loads_with_meaningful_alt_text(visits, mode, screenshots):
    images = visits[mode].page.evaluate("""() => [...document.querySelectorAll('img')].map(i => ({
        src: i.getAttribute('src'), alt: (i.getAttribute('alt') || '').trim(),
        loaded: i.complete && i.naturalWidth > 0}))""")
    for image in images:
        name = pathlib.PurePosixPath(image["src"]).name
        assert image["loaded"], f"image did not load: {image['src']}"
        assert len(image["alt"]) >= 8 and image["alt"] not in (name, pathlib.PurePosixPath(name).stem), \
            f"image {image['src']} has no meaningful alt text: {image['alt']!r}"
    _record(screenshots, visits[mode].doc, images=len(images))


def test_launch_and_download_buttons_point_at_the_notebook(visits):
    doc = visits["light"].doc
    path = f"{doc}.ipynb"
    hrefs = visits["light"].page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.href)")
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


def test_figures_stay_readable_in_dark_mode(visits):
    """Each figure, as the dark page shows it, keeps a light ground and dark ink."""
    from PIL import Image
    figures = visits["dark"].page.locator("article .cell_output img")
    for i in range(figures.count()):
        pixels = Image.open(io.BytesIO(figures.nth(i).screenshot())).convert("L")
        darkest, _ = pixels.getextrema()
        mean = sum(pixels.histogram()[g] * g for g in range(256)) / (pixels.width * pixels.height)
        assert mean > 150 and darkest < 100, \
            f"figure {i + 1} in dark mode: mean grey {mean:.0f}, darkest {darkest} (want a light ground, dark ink)"


@pytest.fixture(scope="module")
def axe_violations(visits):
    """axe's violations of WCAG 2.1 A and AA rules on each colour mode's load, both run side by side."""
    for visit in visits.values():
        visit.start_axe()
    return {mode: visit.axe_violations() for mode, visit in visits.items()}


@pytest.mark.parametrize("mode", MODES)
def test_no_serious_accessibility_violations(axe_violations, visits, mode, screenshots):
    """No serious or critical violation of an axe rule for WCAG 2.1 A or AA; milder ones go to pages.json."""
    violations = axe_violations[mode]
    _record(screenshots, visits[mode].doc, **{f"axe_{mode}": {v["rule"]: v["impact"] for v in violations}})
    failing = [f"{v['rule']} ({v['impact']}): {', '.join(v['targets'])}"
               for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"{mode} mode:\n" + "\n".join(failing)


def test_colour_mode_button_switches_to_dark(visits):
    """The theme's button cycles light -> dark -> auto; after the other checks, as it changes the light load."""
    page = visits["light"].page
    for _ in range(3):
        if page.evaluate("() => document.documentElement.dataset.theme") == "dark":
            break
        page.locator("button.theme-switch-button").first.click()
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"


@pytest.mark.parametrize("mode", MODES)
def test_page_has_no_console_errors(visits, mode):
    """No console error, page error or request leaving the site from the load through every check above
    (axe's own requests aside: Visit.start_axe)."""
    assert visits[mode].errors == []


def _record(screenshots, doc, **figures):
    """Keep what each page showed in pages.json beside the screenshots, for a person to read."""
    path = screenshots / "pages.json"
    seen = json.loads(path.read_text()) if path.exists() else {}
    seen.setdefault(doc, {}).update(figures)
    path.write_text(json.dumps(seen, indent=1, sort_keys=True))
