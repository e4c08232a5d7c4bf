"""Shared fixtures: the project root and one strict build of the book per test session."""
import os
import pathlib
import subprocess
import sys

import pytest
from hypothesis import settings

# In CI (CI=true) every run draws the same examples, so a red build is reproducible, not a lucky draw.
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile("ci" if os.environ.get("CI") else "default")

ROOT = pathlib.Path(__file__).resolve().parents[1]
JUPYTER_BOOK = pathlib.Path(sys.executable).with_name("jupyter-book")


@pytest.fixture(scope="session")
def book_build(tmp_path_factory):
    """Build the book as published (MathJax from its CDN) once, with -W -n --keep-going.

    Returns the HTML folder and the completed build process."""
    out = tmp_path_factory.mktemp("book")
    env = {k: v for k, v in os.environ.items() if k != "BOOK_MATHJAX_DIR"}
    proc = subprocess.run(
        [str(JUPYTER_BOOK), "build", str(ROOT), "--path-output", str(out),
         "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, cwd=ROOT, env=env,
    )
    return out / "_build" / "html", proc
