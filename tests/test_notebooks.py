"""Notebook hygiene: what nbval strict and readers rely on, checked for every notebook under book/."""
import ast
import json
import re

import pytest

from project import NOTEBOOKS, ROOT, toc_documents
from prose_numbers import backed, cell_numbers, prose_numbers
from timing_taint import timed_assertions


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
def test_nbval_is_steered_by_cell_tags_and_no_timestamps_are_stored(path):
    """Readers never see an nbval comment marker (the tag nbval-ignore-output does that job), and a re-run
    changes no metadata: `make execute` strips the per-cell execution timestamps."""
    nb, cells = code_cells(path)
    for number, cell in enumerate(cells, 1):
        assert not re.search(r"#\s*NBVAL_", "".join(cell["source"])), f"code cell {number}: use a cell tag instead"
    stamped = [i for i, cell in enumerate(nb["cells"]) if "execution" in cell["metadata"]]
    assert not stamped, f"cells {stamped} store execution timestamps: run `make execute NB=book/{path.name}`"


def plain_python(source):
    """A cell's source without IPython's magics and shell lines, so `ast` can read it."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


@pytest.mark.parametrize("source, flagged", [
    ("import time\nts = []\nfor _ in range(3):\n    t0 = time.perf_counter()\n    ts.append(time.perf_counter() - t0)\n"
     "assert max(ts) < 1", True),
    ("import time\ndef med(f):\n    t0 = time.perf_counter(); f(); return time.perf_counter() - t0\n"
     "ratio = med(print) / med(print)\nnp.testing.assert_array_less(ratio, 2)", True),
    ("import time, tracemalloc\nstart = time.perf_counter()\ntracemalloc.start()\n"
     "peak = tracemalloc.get_traced_memory()[1]\nassert peak > 0", False),
])
def test_timing_check_tells_timed_from_untimed_assertions(source, flagged):
    assert bool(timed_assertions([source])) == flagged


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


def summary_text(nb):
    """The markdown under a notebook's '## Summary' heading, up to the next heading of that level."""
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    found = re.search(r"^## Summary\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    return found[1] if found else ""


def cell_texts(nb):
    """Each code cell's source and its stored text outputs."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            yield "".join(cell["source"])
            for out in cell["outputs"]:
                yield "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))


@pytest.mark.parametrize("summary, cell_output, unbacked", [
    ("costs 2.7 to 3.8 primals at 75 to 100% of the rate", "ratios 2.9 3.81; share 1.0", ["2.7", "75 to"]),
    ("an error of about $3\\times10^{-4}$, below $10^{-6}$ in float64", "err 2.6e-04\nassert e < 1e-6", []),
])
def test_summary_check_finds_unbacked_numbers(summary, cell_output, unbacked):
    candidates = cell_numbers([cell_output])
    found = {w.strip() for w, value, digits in prose_numbers(summary) if not backed(value, digits, candidates)}
    assert found == set(unbacked)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_summary_numbers_come_from_cells(path):
    """Each decimal, power of ten or percentage in the summary is printed or checked by a cell of the chapter."""
    nb = json.loads(path.read_text())
    summary = summary_text(nb)
    assert summary, f"{path.name} has no '## Summary' section"
    candidates = cell_numbers(cell_texts(nb))
    unbacked = [written for written, value, digits in prose_numbers(summary)
                if not backed(value, digits, candidates)]
    assert not unbacked, f"{path.name}: summary numbers that no cell prints or checks: {unbacked}"


# One spelling per idea: a helper that several chapters define has the same name and signature in each.
SIGNATURES = {
    "rel_err": "got, want",
    "rand": "rng, shape, dtype=np.float64",
    "matmul_jvp": "primals, tangents",
    "matmul": "A, B",
}


def definitions(sources, names):
    """(name, signature) of each function named in `names` that the sources define."""
    found = []
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and node.name in names:
                found.append((node.name, ast.unparse(node.args)))
    return found


def test_definitions_finds_a_wrong_signature():
    found = definitions(["def rel_err(x, ref):\n    pass\ndef other(got, want): pass"], SIGNATURES)
    assert found == [("rel_err", "x, ref")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_shared_helpers_have_one_signature(path):
    _, cells = code_cells(path)
    sources = [plain_python("".join(c["source"])) for c in cells]
    wrong = [(name, args) for name, args in definitions(sources, SIGNATURES) if args != SIGNATURES[name]]
    assert not wrong, f"{path.name}: {wrong}; the book spells these {SIGNATURES}"
