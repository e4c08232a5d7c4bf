"""Shared fixtures: the strict book build that the build and browser tests check."""
import fcntl
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from hypothesis import settings

from project import ROOT

# In CI (CI=true) every run draws the same examples, so a red build is reproducible, not a lucky draw.
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile("ci" if os.environ.get("CI") else "default")

JUPYTER_BOOK = pathlib.Path(sys.executable).with_name("jupyter-book")


@pytest.fixture(scope="session")
def book_build():
    """Build the book as published (stored outputs, MathJax from its CDN) with -W -n --keep-going, once.

    The build goes to BOOK_BUILD_DIR (default: the project root, as `make book`), so it is incremental: a warm
    run re-reads only what changed. A failed build drops Sphinx's saved state, so the next run re-reads every
    page and reports every warning again. Under pytest-xdist the first worker to ask builds, holding a lock,
    and the others read its result. Returns the HTML folder and the completed build process."""
    out = pathlib.Path(os.environ.get("BOOK_BUILD_DIR", ROOT))
    (out / "_build").mkdir(parents=True, exist_ok=True)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))
    with open(out / "_build" / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = out / "_build" / ".build-result.json"
        if result.exists() and json.loads(result.read_text())["run"] == run:
            done = json.loads(result.read_text())
            proc = subprocess.CompletedProcess(done["args"], done["returncode"], done["stdout"], done["stderr"])
        else:
            env = {k: v for k, v in os.environ.items() if k != "BOOK_MATHJAX_DIR"}
            proc = subprocess.run(
                [str(JUPYTER_BOOK), "build", str(ROOT), "--path-output", str(out),
                 "--warningiserror", "--nitpick", "--keep-going"],
                capture_output=True, text=True, cwd=ROOT, env=env,
            )
            if proc.returncode:
                shutil.rmtree(out / "_build" / ".doctrees", ignore_errors=True)
            result.write_text(json.dumps({"run": run, "args": proc.args, "returncode": proc.returncode,
                                          "stdout": proc.stdout, "stderr": proc.stderr}))
    return out / "_build" / "html", proc
