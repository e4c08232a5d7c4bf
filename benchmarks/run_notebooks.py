#!/usr/bin/env python3
"""Run notebooks without Jupyter: every code cell in order, in one namespace, each notebook in a fresh Python.

It needs only the Python standard library and what the notebooks import (NumPy, Matplotlib, JAX): no nbformat,
nbclient, ipykernel or IPython. So it runs where Jupyter is not installed, such as the GPU machine of
benchmarks/gpu_run.py. Like a Jupyter kernel it runs a notebook in the notebook's own folder, under the name
"__main__", and after each cell it draws that cell's figures (Matplotlib's Agg backend, to PNG in memory) and
closes them; unlike nbval it compares no outputs, it only checks that the cells run. A cell tagged
`raises-exception` passes when it raises and fails when it does not; any other cell fails when it raises. As in
nbval, the cells after a failure still run. Cells are numbered among the code cells from 0, as nbval names them
("Cell 3").

Usage (from the repository root):
  python3 benchmarks/run_notebooks.py book/*.ipynb                     # one line per notebook
  python3 benchmarks/run_notebooks.py book/03_jax.ipynb --json out.json  # and each cell's result and output
The JSON is rewritten after each notebook, so a run that is stopped keeps what it finished. The exit status is 0
when every cell of every notebook passed, 1 otherwise.
"""
import argparse
import contextlib
import io
import json
import linecache
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

EXPECTED_EXCEPTION_TAG = "raises-exception"
STDERR_KEPT = 8000  # characters of a notebook's process stderr kept in the report (XLA's and CUDA's own messages)


def code_cells(path):
    """The source and tags of each code cell of the notebook at `path`, in order."""
    notebook = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            yield source, cell.get("metadata", {}).get("tags", [])


def run_cell(number, source, tags, namespace, notebook_name):
    """Execute one cell in `namespace` and draw its figures; return its status, seconds, output, figures, error."""
    result = {"cell": number, "tags": tags}
    magic = [line for line in source.splitlines() if line.lstrip().startswith(("%", "!"))]
    filename = f"<{notebook_name} Cell {number}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # readable tracebacks
    output, error, start = io.StringIO(), None, time.perf_counter()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            if magic:
                raise SyntaxError(f"IPython syntax, which plain Python cannot run: {magic[0].strip()!r}")
            exec(compile(source, filename, "exec"), namespace)
            result["figures"] = draw_and_close_figures()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001  (a cell's SystemExit is its failure too)
            error = exc
            draw_and_close_figures(draw=False)
    result["seconds"] = round(time.perf_counter() - start, 3)
    result["output"] = output.getvalue()
    expected = EXPECTED_EXCEPTION_TAG in tags
    if error is None:
        result["status"] = "failed: tagged raises-exception but raised nothing" if expected else "passed"
    else:
        result["status"] = "raised as expected" if expected else "failed"
        result["error"] = "".join(traceback.format_exception_only(type(error), error)).strip()
        if not expected:
            result["traceback"] = "".join(traceback.format_exception(error))
    return result


def draw_and_close_figures(draw=True):
    """Draw each open figure to PNG in memory, as Jupyter's inline backend does after a cell, then close them all;
    return how many there were. A figure that cannot be drawn raises, failing its cell."""
    if "matplotlib.pyplot" not in sys.modules:
        return 0
    plt = sys.modules["matplotlib.pyplot"]
    numbers = plt.get_fignums()
    try:
        for number in numbers if draw else []:
            plt.figure(number).savefig(io.BytesIO(), format="png", bbox_inches="tight")
    finally:
        plt.close("all")
    return len(numbers)


def run_notebook(path):
    """Run every code cell of one notebook in this process, in the notebook's folder; return the report."""
    path = pathlib.Path(path).resolve()
    os.chdir(path.parent)
    sys.path[0] = ""  # the notebook's folder, as in a kernel; not this script's folder
    warnings.filterwarnings("ignore", message=".*non-interactive, and thus cannot be shown")  # plt.show() on Agg
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    start = time.perf_counter()
    cells = [run_cell(number, source, tags, namespace, path.name)
             for number, (source, tags) in enumerate(code_cells(path))]
    failed = [c for c in cells if c["status"].startswith("failed")]
    return {"notebook": str(path), "status": "failed" if failed else "passed",
            "seconds": round(time.perf_counter() - start, 3), "cells": cells}


def run_in_fresh_python(path, timeout):
    """Run one notebook in a new Python process (a fresh JAX, as a fresh kernel has); return its report. On timeout
    the process is killed (benchmarks/gpu_run.py runs this script in a process group of its own, and kills the
    whole group when a step runs out of time)."""
    with tempfile.TemporaryDirectory() as tmp:
        report_file = pathlib.Path(tmp) / "report.json"
        proc = subprocess.Popen([sys.executable, __file__, "--one", str(path), str(report_file)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "MPLBACKEND": "Agg"})
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
            return {"notebook": str(path), "status": f"failed: no result within {timeout:g} s", "cells": [],
                    "stderr": stderr[-STDERR_KEPT:]}
        if report_file.exists():
            return json.loads(report_file.read_text()) | {"stderr": stderr[-STDERR_KEPT:]}
        return {"notebook": str(path), "status": f"failed: the Python running it exited with {proc.returncode}",
                "cells": [], "stderr": stderr[-STDERR_KEPT:]}


def summary(report):
    """A line for a notebook, and one for each failing cell."""
    cells = report["cells"]
    statuses = ("passed", "raised as expected")
    count = {status: sum(c["status"] == status for c in cells) for status in statuses}
    failed = [c for c in cells if c["status"].startswith("failed")]
    line = (f"{pathlib.Path(report['notebook']).name}: {report['status']} ({len(cells)} code cells: "
            f"{count['passed']} passed, {count['raised as expected']} raised as expected, {len(failed)} failed)")
    if "seconds" in report:
        line += f" in {report['seconds']:.1f} s"
    for cell in failed:
        line += f"\n  Cell {cell['cell']} {cell['status']}" + (f": {cell['error']}" if "error" in cell else "")
    if not cells and report.get("stderr"):
        line += "\n" + report["stderr"]
    return line


def write_atomically(path, text):
    """Replace the file at `path` with `text` in one step, so that a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="+", type=pathlib.Path)
    p.add_argument("--json", type=pathlib.Path, help="write every cell's result and printed output here")
    p.add_argument("--timeout", type=float, default=900, help="seconds allowed per notebook (default 900)")
    a = p.parse_args(argv)
    missing = [str(nb) for nb in a.notebooks if not nb.is_file()]
    if missing:
        p.error(f"no such notebook: {', '.join(missing)}")
    reports = []
    for notebook in a.notebooks:
        reports.append(run_in_fresh_python(notebook, a.timeout))
        print(summary(reports[-1]), flush=True)
        if a.json:
            write_atomically(a.json, json.dumps({"python": sys.version.split()[0], "notebooks": reports}, indent=1))
    return 0 if all(r["status"] == "passed" for r in reports) else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:  # the child: one notebook, its report to a file
        _, _, notebook, report_file = sys.argv
        report = run_notebook(notebook)
        pathlib.Path(report_file).write_text(json.dumps(report))
    else:
        sys.exit(main())
