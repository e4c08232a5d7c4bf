"""Smoke tests of the benchmark scripts: each runs at tiny sizes, writes JSON with its provenance, refuses to
replace a file without --force, and times the chapters' own code (cells tagged `export`), never a copy of it.

Timings are not checked (a busy machine must not fail a test): only what the files contain and how they are named.
"""
import ast
import json
import os
import subprocess
import sys

import pytest

from project import ROOT

BENCHMARKS = ROOT / "benchmarks"
CHAPTERS = {"cost_table.py": ROOT / "book" / "06_cost.ipynb", "jax_matmul_jvp.py": ROOT / "book" / "03_jax.ipynb"}
TINY = {"cost_table.py": ["--sizes", "8", "16", "--repeats", "2", "--min-sample-s", "0.001"],
        "jax_matmul_jvp.py": ["--sizes", "8", "16", "--dtypes", "float32", "--repeats", "3", "--min-sample-s", "0.001"]}
DEFAULT_OUT = {"cost_table.py": "cost_table_cpu.json", "jax_matmul_jvp.py": "jax_matmul_jvp_cpu.json"}
# What the chapters and readers rely on in every file's provenance.
PROVENANCE = {"date_utc", "command", "code", "python", "numpy", "packages", "os", "cpu_model", "cpu_count",
              "cpus_usable", "memory_bytes", "numpy_blas", "blas_runtime", "thread_environment", "jax_environment",
              "loadavg_start", "loadavg_end", "load", "gpu", "jax", "jaxlib", "platform", "device_kind",
              "platform_version", "default_matmul_precision_config", "sizes", "repeats", "min_sample_s", "statistic"}


def run(script, *args, cwd):
    """Run a benchmark script on the CPU in a fresh Python, as a reader would; return the finished process."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def first_runs(tmp_path_factory):
    """One tiny run of each script, in a folder holding only a stale file of the default output name, which
    --force lets it replace: {script: (folder, process)}."""
    runs = {}
    for script in CHAPTERS:
        folder = tmp_path_factory.mktemp(script.removesuffix(".py"))
        (folder / DEFAULT_OUT[script]).write_text("stale")
        runs[script] = folder, run(script, *TINY[script], "--force", cwd=folder)
        assert runs[script][1].returncode == 0, runs[script][1].stderr
    return runs


@pytest.mark.parametrize("script", sorted(CHAPTERS))
def test_writes_json_with_provenance_to_the_current_folder(first_runs, script):
    folder, _ = first_runs[script]
    assert [p.name for p in folder.iterdir()] == [DEFAULT_OUT[script]]
    data = json.loads((folder / DEFAULT_OUT[script]).read_text())
    prov = data["provenance"]
    assert PROVENANCE <= prov.keys(), PROVENANCE - prov.keys()
    assert prov["platform"] == "cpu" and prov["sizes"] == [8, 16] and prov["command"].startswith(script)
    assert "--force" in prov["command"]  # the stale file was replaced
    assert prov["code"]["chapter"] == CHAPTERS[script].relative_to(ROOT).as_posix()
    assert len(prov["code"]["chapter_sha256"]) == 64 and prov["jax"] in prov["packages"].values()
    assert all(len(prov[k]) == 3 for k in ("loadavg_start", "loadavg_end")) and "on" in prov["load"]
    assert any(pool["user_api"] == "blas" and pool["num_threads"] >= 1 for pool in prov["blas_runtime"])
    assert [row["n"] for row in data["results"]] == [8, 16]


def test_cost_table_rows_and_counts(first_runs):
    folder, proc = first_runs["cost_table.py"]
    data = json.loads((folder / DEFAULT_OUT["cost_table.py"]).read_text())
    counts = {"primal": 1, "rule": 3, "one GEMM": 3, "dual block": 4, "forward diff": 2, "central diff": 3,
              "complex step": 4, "JAX primal": 1, "JAX jax.jvp": 3, "JAX custom_jvp": 3}  # book/06_cost.ipynb's
    assert data["flop_count_primals"] == counts
    for row in data["results"]:
        assert set(row) == {"n", "median_ratio_to_primal", "median_s", "fastest_s"}
        assert all(set(row[key]) == set(counts) for key in set(row) - {"n"})
        assert row["median_ratio_to_primal"]["primal"] == row["median_ratio_to_primal"]["JAX primal"] == 1
    prov = data["provenance"]
    assert prov["jax_dtype"] == "float32" and prov["numpy_dtype"] == "float64"
    assert prov["peak_estimate"] is None or {"cores", "clock_ghz", "gflops_float64_per_core"} <= prov["peak_estimate"].keys()
    assert "time / time(primal)" in proc.stdout


def test_jax_rows(first_runs):
    folder, _ = first_runs["jax_matmul_jvp.py"]
    data = json.loads((folder / DEFAULT_OUT["jax_matmul_jvp.py"]).read_text())
    functions = {"primal", "jvp_custom", "jvp_jax", "tangent_custom", "dispatch"}
    for row in data["results"]:
        assert row["dtype"] == "float32" and row["precision"] == "default"
        assert all(set(row[key]) == functions for key in ("calls_per_sample", "median_s", "q1_s", "q3_s"))
        assert set(row["tflops"]) == functions - {"dispatch"}
        assert {"median_ratio_jvp_custom_over_jvp_jax", "median_ratio_jvp_custom_over_primal"} <= row.keys()
    assert data["provenance"]["dtypes"] == ["float32"] and data["provenance"]["repeats"] == 3


@pytest.mark.parametrize("script", sorted(CHAPTERS))
def test_refuses_to_replace_a_file_without_force(first_runs, script):
    folder, _ = first_runs[script]
    out = folder / DEFAULT_OUT[script]
    before = out.read_bytes()
    refused = run(script, *TINY[script], cwd=folder)
    assert refused.returncode == 2 and "exists; pass --force" in refused.stderr
    assert out.read_bytes() == before


def export_names(notebook):
    """Names that a chapter's cells tagged `export` define (functions, classes, assigned names)."""
    cells = json.loads(notebook.read_text())["cells"]
    names = set()
    for cell in cells:
        if cell["cell_type"] == "code" and "export" in cell["metadata"].get("tags", []):
            for node in ast.parse("".join(cell["source"])).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    names.add(node.name)
                elif isinstance(node, ast.Assign):
                    names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


@pytest.mark.parametrize("script", sorted(CHAPTERS))
def test_scripts_load_the_chapters_code_and_copy_none_of_it(script):
    source = (BENCHMARKS / script).read_text()
    tree = ast.parse(source)
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    defined |= {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    copied = defined & set().union(*(export_names(nb) for nb in CHAPTERS.values()))
    assert not copied, f"{script} defines what a chapter exports: {copied}"
    assert "load_notebook_code(CHAPTER)" in source and CHAPTERS[script].name in source


@pytest.mark.parametrize("path", sorted(BENCHMARKS.glob("*.py")), ids=lambda p: p.name)
def test_no_benchmark_file_carries_a_rule(path):
    source = path.read_text()
    assert "custom_jvp" not in source and "defjvp" not in source and "def matmul" not in source
