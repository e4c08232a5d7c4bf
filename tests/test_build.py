"""The book builds strictly: no warnings, every page in the table of contents, MathJax on each page."""
import re

import yaml

from conftest import ROOT


def toc_documents():
    """Every document named in _toc.yml, in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    docs = [toc["root"]]
    stack = list(toc.get("chapters", [])) + [c for p in toc.get("parts", []) for c in p["chapters"]]
    while stack:
        entry = stack.pop(0)
        docs.append(entry["file"])
        stack[:0] = entry.get("sections", [])
    return docs


def test_build_has_no_warnings(book_build):
    html, proc = book_build
    log = proc.stdout + proc.stderr
    log = re.sub(r"\x1b\[[0-9;]*m", "", log)  # Sphinx colours its messages
    warnings = [line for line in log.splitlines() if re.search(r"\b(WARNING|ERROR|CRITICAL|SEVERE):", line)]
    assert not warnings, "\n".join(warnings)
    assert proc.returncode == 0, log[-3000:]
    assert (html / "index.html").exists()


def test_every_toc_page_is_built_and_loads_mathjax(book_build):
    html, _ = book_build
    for doc in toc_documents():
        page = html / f"{doc}.html"
        assert page.exists(), f"{doc} is in _toc.yml but {page.name} was not built"
        text = page.read_text()
        assert "mathjax" in text.lower(), f"{page.name} does not load MathJax"
