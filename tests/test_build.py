"""The book builds strictly: no warnings, every page in the table of contents, MathJax on each page."""
import re

import yaml

from project import ROOT, toc_documents


def test_build_has_no_warnings(book_build):
    html, proc = book_build
    log = proc.stdout + proc.stderr
    log = re.sub(r"\x1b\[[0-9;]*m", "", log)  # Sphinx colours its messages
    warnings = [line for line in log.splitlines() if re.search(r"\b(WARNING|ERROR|CRITICAL|SEVERE):", line)]
    assert not warnings, "\n".join(warnings)
    assert proc.returncode == 0, log[-3000:]
    assert (html / "index.html").exists()


def test_build_publishes_stored_outputs_without_executing(book_build):
    """nbval executes each notebook once per test run; the build must not execute them a second time."""
    _, proc = book_build
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert "Executing notebook" not in proc.stdout + proc.stderr


MATH = re.compile(r'class="math[ "]')
MATHJAX_SCRIPT = re.compile(r'<script\b[^>]*\bsrc="[^"]*mathjax[^"]*/tex-[a-z-]+\.js"', re.IGNORECASE)


def test_mathjax_script_matches_math():
    """The script pattern finds a real MathJax tag and nothing else (a mention of MathJax is not a script)."""
    assert MATHJAX_SCRIPT.search('<script defer="defer" src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js">')
    assert not MATHJAX_SCRIPT.search('<script>window.MathJax = {tex: {}}</script> <a href="mathjax.html">')


def test_every_toc_page_is_built_and_loads_mathjax_where_it_has_math(book_build):
    html, _ = book_build
    with_math = []
    for doc in toc_documents():
        page = html / f"{doc}.html"
        assert page.exists(), f"{doc} is in _toc.yml but {page.name} was not built"
        text = page.read_text()
        if MATH.search(text):
            with_math.append(doc)
            assert MATHJAX_SCRIPT.search(text), f"{page.name} has math but loads no MathJax script"
    assert "book/01_derivation" in with_math, "the derivation's math was not found: is the MATH pattern stale?"
