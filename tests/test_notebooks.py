"""Notebook hygiene: what nbval strict and readers rely on, checked for every notebook under book/."""
import json
import re

import pytest

from conftest import ROOT
from test_build import toc_documents
from timing_taint import timed_assertions

NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def code_cells(path):
    """The non-empty code cells of a stored notebook."""
    nb = json.loads(path.read_text())
    return nb, [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def test_every_toc_document_exists():
    for doc in toc_documents():
        assert any((ROOT / f"{doc}{suffix}").exists() for suffix in (".md", ".ipynb")), doc


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_listed_in_toc(path):
    assert path.relative_to(ROOT).with_suffix("").as_posix() in toc_documents()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_executed_top_to_bottom(path):
    nb, cells = code_cells(path)
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"run `jupyter execute --inplace {path.name}`: {counts}"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_stores_no_unexpected_errors(path):
    _, cells = code_cells(path)
    for number, cell in enumerate(cells, 1):
        expected = "raises-exception" in cell["metadata"].get("tags", [])
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        assert bool(errors) == expected, f"code cell {number}: stored error {errors and errors[0]['ename']}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nbval_markers_are_spelled_exactly(path):
    """nbval honours a marker only when the comment is the bare marker, e.g. `# NBVAL_IGNORE_OUTPUT`."""
    _, cells = code_cells(path)
    for number, cell in enumerate(cells, 1):
        for line in "".join(cell["source"]).splitlines():
            if re.match(r"\s*#\s*NBVAL_", line):
                assert re.fullmatch(r"\s*#\s*NBVAL_[A-Z_]+\s*", line), f"code cell {number}: {line.strip()!r}"


def plain_python(source):
    """A cell's source without IPython's magics and shell lines, so `ast` can read it."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


@pytest.mark.parametrize("path", NOTEBOOKS + sorted((ROOT / "tests").glob("test_*.py")), ids=lambda p: p.name)
def test_no_assertion_reads_a_live_timing(path):
    """A busy machine must not fail a check: timings are shown to readers, cost claims use counts or data."""
    if path.suffix == ".ipynb":
        _, cells = code_cells(path)
        sources = [plain_python("".join(c["source"])) for c in cells]
    else:
        sources = [path.read_text()]
    assert not timed_assertions(sources), (
        f"{path.name}: assertions on live timings (cell, statement): {timed_assertions(sources)}")
