"""Load a chapter's own code from its stored notebook, so the tests exercise exactly what readers see.

A chapter marks the code cells that define its functions with a cell tag (by default ``export``);
``load_notebook_code`` runs those cells, in notebook order, in a fresh namespace and returns it.
No function is copied into the tests, so a change in the notebook is a change in what is tested.
"""
import json
import linecache
import pathlib


def load_notebook_code(path, tag="export"):
    """Execute the code cells of the notebook at `path` that carry `tag`, in order; return their namespace."""
    path = pathlib.Path(path)
    notebook = json.loads(path.read_text())
    cells = [cell for cell in notebook["cells"]
             if cell["cell_type"] == "code" and tag in cell.get("metadata", {}).get("tags", [])]
    if not cells:
        raise LookupError(f"{path.name} has no code cell tagged {tag!r}")
    namespace = {"__name__": f"notebook_{path.stem}"}
    for number, cell in enumerate(cells, 1):
        source = "".join(cell["source"])
        if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
            raise ValueError(f"{path.name}: cell {number} tagged {tag!r} uses IPython syntax; keep exported cells plain Python")
        filename = f"<{path.name}: {tag} cell {number}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # readable tracebacks
        exec(compile(source, filename, "exec"), namespace)
    return namespace
