"""Tests of benchmarks/: the timing scripts, the notebook runner that needs no Jupyter, and the GPU command.

- cost_table.py and machine_limits.py run at tiny sizes, write JSON with their provenance to the current folder,
  and refuse to replace a file without --force; every script runs the chapters' own code (cells tagged `export`),
  never a copy of it.
- run_notebooks.py runs small notebooks written here: passing, failing, raising as tagged, refusing IPython syntax.
- gpu_run.py does its dry run on the CPU: over one small notebook in every `make test`, and over every chapter in
  the test marked slow (`make test ALL=1`), the only test that executes the chapters a second time. Its files
  carry jax_matmul_jvp.py's and tangent_error.py's results, checked here.

Timings are not checked (a busy machine must not fail a test): only what the files contain and how they are named.
"""
import ast
import json
import os
import subprocess
import sys

import pytest

from project import NOTEBOOKS, ROOT

BENCHMARKS = ROOT / "benchmarks"
CHAPTERS = {"cost_table.py": ROOT / "book" / "06_cost.ipynb", "jax_matmul_jvp.py": ROOT / "book" / "03_jax.ipynb",
            "tangent_error.py": ROOT / "book" / "03_jax.ipynb"}
TINY_COST_TABLE = ["--sizes", "8", "16", "--repeats", "2", "--min-sample-s", "0.001"]
# What the chapters and readers rely on in every file's provenance.
PROVENANCE = {"date_utc", "command", "code", "python", "numpy", "packages", "os", "cpu_model", "cpu_count",
              "cpus_usable", "memory_bytes", "numpy_blas", "blas_runtime", "thread_environment", "jax_environment",
              "loadavg_start", "loadavg_end", "load", "gpu", "jax", "jaxlib", "platform", "device_kind",
              "platform_version", "default_matmul_precision_config", "sizes", "statistic"}
TIMINGS = {"repeats", "min_sample_s"}  # in the provenance of the scripts that time
DRY_RUN_FILES = {"device.json", "notebooks.json", "tangent_error.json", "jax_matmul_jvp_default.json",
                 "jax_matmul_jvp_highest.json", "run.json"}
JUPYTER_MODULES = ("IPython", "ipykernel", "nbformat", "nbclient", "jupyter_client")


def run(script, *args, cwd=ROOT, timeout=300):
    """Run a script of benchmarks/ on the CPU in a fresh Python, as a reader would; return the finished process."""
    return subprocess.run([sys.executable, str(BENCHMARKS / script), *map(str, args)], cwd=cwd,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"}, capture_output=True, text=True, timeout=timeout)


def write_notebook(path, *cells):
    """A notebook of code cells, each given as source or as (source, tags), after one markdown cell."""
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "outputs": [],
              "metadata": {"tags": c[1]} if isinstance(c, tuple) else {},
              "source": c[0] if isinstance(c, tuple) else c} for i, c in enumerate(cells)]
    cells.insert(0, {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# A title"})
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


@pytest.fixture(scope="module")
def cost_table_run(tmp_path_factory):
    """One tiny run of cost_table.py in a folder holding only a stale file of the default output name, which --force
    lets it replace: (folder, process)."""
    folder = tmp_path_factory.mktemp("cost_table")
    (folder / "cost_table_cpu.json").write_text("stale")
    proc = run("cost_table.py", *TINY_COST_TABLE, "--force", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return folder, proc


@pytest.fixture(scope="module")
def passing(tmp_path_factory):
    """A notebook that passes, run by the runner with its report: (notebook, process, report)."""
    folder = tmp_path_factory.mktemp("passing")
    nb = write_notebook(
        folder / "good.ipynb",
        "import os, sys\nx = 41",
        "x += 1\nprint('x is', x)",
        ("raise ValueError(f'x is {x}')", ["raises-exception"]),
        f"loaded = [m for m in {JUPYTER_MODULES!r} if m in sys.modules]\nassert not loaded, loaded\n"
        "assert __name__ == '__main__' and os.getcwd() == " + repr(str(folder)),
        "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()",
        "assert not plt.get_fignums()  # the previous cell's figure was closed",
    )
    proc = run("run_notebooks.py", nb, "--json", folder / "report.json")
    return nb, proc, json.loads((folder / "report.json").read_text())


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory, passing):
    """gpu_run.py's dry run on the CPU over the small passing notebook: (folder, process)."""
    out = tmp_path_factory.mktemp("dry_run") / "out"
    return out, run("gpu_run.py", out, "--notebooks", passing[0], timeout=600)


def check_dry_run(out, proc, notebooks):
    """What every dry run of gpu_run.py leaves in `out`, whatever notebooks it ran."""
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "backend: cpu; a dry run on the CPU" in proc.stdout and "5 of 5 steps succeeded" in proc.stdout
    assert {p.name for p in out.iterdir()} == DRY_RUN_FILES
    assert json.loads((out / "device.json").read_text())["platform"] == "cpu"
    ran = json.loads((out / "notebooks.json").read_text())["notebooks"]
    assert [(r["notebook"], r["status"]) for r in ran] == [(str(nb), "passed") for nb in notebooks]
    steps = json.loads((out / "run.json").read_text())["steps"]
    assert [s["exit_status"] for s in steps] == [0] * 5


def test_writes_json_with_provenance_to_the_current_folder(cost_table_run):
    folder, _ = cost_table_run
    assert [p.name for p in folder.iterdir()] == ["cost_table_cpu.json"]
    prov = json.loads((folder / "cost_table_cpu.json").read_text())["provenance"]
    assert prov["command"].startswith("cost_table.py") and "--force" in prov["command"]  # the stale file was replaced
    assert prov["sizes"] == [8, 16]


@pytest.mark.parametrize("name", ["cost_table_cpu.json", "jax_matmul_jvp_default.json",
                                  "jax_matmul_jvp_highest.json", "tangent_error.json"])
def test_every_file_records_its_provenance(cost_table_run, dry_run, name):
    folder = cost_table_run[0] if name.startswith("cost_table") else dry_run[0]
    prov = json.loads((folder / name).read_text())["provenance"]
    script = prov["command"].split()[0]
    expected = PROVENANCE | (set() if script == "tangent_error.py" else TIMINGS)
    assert expected <= prov.keys(), expected - prov.keys()
    assert prov["platform"] == "cpu" and prov["code"]["chapter"] == CHAPTERS[script].relative_to(ROOT).as_posix()
    assert len(prov["code"]["chapter_sha256"]) == 64 and prov["jax"] in prov["packages"].values()
    assert all(len(prov[k]) == 3 for k in ("loadavg_start", "loadavg_end")) and "on" in prov["load"]
    assert any(pool["user_api"] == "blas" and pool["num_threads"] >= 1 for pool in prov["blas_runtime"])


def test_cost_table_rows_and_counts(cost_table_run):
    folder, proc = cost_table_run
    data = json.loads((folder / "cost_table_cpu.json").read_text())
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


def test_jax_rows_and_compiled_tangent(dry_run):
    functions = {"primal", "jvp_custom", "jvp_jax", "tangent_custom", "dispatch"}
    for precision, dtypes in (("default", {"float32", "bfloat16"}), ("highest", {"float32"})):
        data = json.loads((dry_run[0] / f"jax_matmul_jvp_{precision}.json").read_text())
        assert data["provenance"]["precision"] == precision and set(data["provenance"]["dtypes"]) == dtypes
        for row in data["results"]:
            assert row["dtype"] in dtypes and row["precision"] == precision
            assert all(set(row[key]) == functions for key in ("calls_per_sample", "median_s", "q1_s", "q3_s"))
            assert set(row["tflops"]) == functions - {"dispatch"}
            assert {"median_ratio_jvp_custom_over_jvp_jax", "median_ratio_jvp_custom_over_primal"} <= row.keys()
        assert {c["dtype"] for c in data["compiled_tangent"]} == dtypes
        for compiled in data["compiled_tangent"]:  # XLA's CPU backend: two dots, and the add in a loop of its own
            assert compiled["gemms"] == 2 and compiled["add"] == "separate", compiled["add"]


# Compiled HLO in the forms XLA's GPU backend writes (abridged), for the tangent of two 8 x 8 products.
F = "f32[8,8]{1,0}"
GEMM_CALL = ('%{name} = ({F}, s8[4]{{0}}) custom-call({args}), custom_call_target="__cublas$gemm", '
             'backend_config={{"gemm_backend_config":{{"alpha_real":1,"beta":{beta},"epilogue":"DEFAULT"}}}}')
ENTRY = "ENTRY %main (a: {F}, b: {F}, c: {F}, d: {F}) -> {F} {{\n"
HLO = {
    "fused into a GEMM (beta = 1)": ENTRY + "  " + GEMM_CALL.format(name="g1", F=F, args="%c, %b", beta=0) + "\n"
    f"  %p1 = {F} get-tuple-element(%g1), index=0\n"
    + "  " + GEMM_CALL.format(name="g2", F=F, args="%a, %d, %p1", beta=1) + "\n"
    f"  ROOT %out = {F} get-tuple-element(%g2), index=0\n}}\n",
    "fused into a GEMM": f"%inner (q0: {F}, q1: {F}) -> {F} {{\n  ROOT %dot.1 = {F} dot(%q0, %q1)\n}}\n\n"
    f"%gemm_fusion (p0: {F}, p1: {F}, p2: {F}) -> {F} {{\n  %i = {F} fusion(%p0, %p1), kind=kCustom, calls=%inner\n"
    f"  ROOT %add.1 = {F} add(%i, %p2)\n}}\n\n" + ENTRY
    + "  " + GEMM_CALL.format(name="g1", F=F, args="%c, %b", beta=0) + "\n"
    f"  %p1 = {F} get-tuple-element(%g1), index=0\n"
    f"  ROOT %f = {F} fusion(%a, %d, %p1), kind=kCustom, calls=%gemm_fusion\n}}\n",
    "separate": ENTRY + f"  %dot.1 = {F} dot(%c, %b)\n  %dot.2 = {F} dot(%a, %d)\n"
    f"  ROOT %add.1 = {F} add(%dot.1, %dot.2)\n}}\n",
    "unrecognised": ENTRY + f"  ROOT %m = {F} multiply(%a, %b)\n}}\n",
}
# The form the H200 run wrote: two cuBLAS calls, then the add in a loop fusion of its own.
WRAPPED_ADD = (f"%wrapped_add_computation (q0: {F}, q1: {F}) -> {F} {{\n  ROOT %add.0 = {F} add(%q0, %q1)\n}}\n\n"
               + ENTRY + "  " + GEMM_CALL.format(name="g1", F=F, args="%c, %b", beta=0) + "\n"
               + "  " + GEMM_CALL.format(name="g2", F=F, args="%a, %d", beta=0) + "\n"
               f"  %p1 = {F} get-tuple-element(%g1), index=0\n  %p2 = {F} get-tuple-element(%g2), index=0\n"
               f"  ROOT %wrapped_add = {F} fusion(%p1, %p2), kind=kLoop, calls=%wrapped_add_computation\n}}\n")


@pytest.mark.parametrize("where", sorted(HLO))
def test_compiled_hlo_tells_where_the_add_went(where):
    sys.path.insert(0, str(BENCHMARKS))
    from compiled_hlo import gemm_count, tangent_add
    assert tangent_add(HLO[where]) == where
    assert gemm_count(HLO[where]) == (0 if where == "unrecognised" else 2)


def test_an_add_fusion_is_separate_only_over_two_gemms():
    sys.path.insert(0, str(BENCHMARKS))
    from compiled_hlo import tangent_add
    assert tangent_add(WRAPPED_ADD) == "separate"
    assert tangent_add(WRAPPED_ADD.replace('"__cublas$gemm"', '"__some$kernel"')) == "unrecognised"


def test_tangent_error_orders_the_formats(dry_run):
    """On a CPU the default precision is true float32; TF32 inputs and bfloat16 data are far coarser, and the real
    bfloat16 JVP lies between the chapter's two bfloat16 simulations (within its 25% margin)."""
    for row in json.loads((dry_run[0] / "tangent_error.json").read_text())["results"]:
        e = row["relative_error"]
        assert e["float32 default"] == e["float32 highest"] < 1e-6 < e["simulated TF32 inputs, nearest"]
        assert e["simulated TF32 inputs, nearest"] < e["simulated TF32 inputs, truncate"] < 1e-3
        data = e["simulated bfloat16 data, exact arithmetic"]
        rounded = e["simulated bfloat16 data, products and sum rounded"]
        assert 1e-3 < data < e["bfloat16 data, jax.jvp"] < 1.25 * rounded


def test_refuses_to_replace_a_file_without_force(cost_table_run):
    folder, _ = cost_table_run
    out = folder / "cost_table_cpu.json"
    before = out.read_bytes()
    refused = run("cost_table.py", *TINY_COST_TABLE, cwd=folder)
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
    # the refusal to replace a file (provenance.output_path) comes before anything is loaded or measured
    assert source.index(" = output_path(") < source.index("load_notebook_code(CHAPTER)")


@pytest.mark.parametrize("path", sorted(BENCHMARKS.glob("*.py")), ids=lambda p: p.name)
def test_no_benchmark_file_carries_a_rule(path):
    source = path.read_text()
    assert "custom_jvp" not in source and "defjvp" not in source and "def matmul" not in source


def test_a_passing_notebook_exits_0_with_every_cell_reported(passing):
    nb, proc, report = passing
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("good.ipynb: passed (6 code cells: 5 passed, 1 raised as expected, 0 failed) in ")
    cells = report["notebooks"][0]["cells"]
    assert [c["status"] for c in cells] == ["passed", "passed", "raised as expected", "passed", "passed", "passed"]
    assert [c["cell"] for c in cells] == list(range(6))  # numbered among the code cells, as nbval does
    assert cells[1]["output"] == "x is 42\n" and cells[2]["error"] == "ValueError: x is 42"
    assert cells[4]["figures"] == 1 and cells[4]["output"] == ""  # plt.show() on Agg, its warning silenced


def test_failing_cells_are_named_and_the_run_goes_on(tmp_path, passing):
    bad = write_notebook(tmp_path / "bad.ipynb", "x = 1", "assert x == 2, f'x is {x}'", "print('after it')",
                         "import sys; sys.exit(3)")
    quiet = write_notebook(tmp_path / "quiet.ipynb", ("x = 1", ["raises-exception"]))
    dies = write_notebook(tmp_path / "dies.ipynb", "import os; os._exit(7)")
    proc = run("run_notebooks.py", bad, quiet, dies, passing[0], "--json", tmp_path / "report.json")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("bad.ipynb: failed (4 code cells: 2 passed, 0 raised as expected, 2 failed) in ")
    assert lines[1:3] == ["  Cell 1 failed: AssertionError: x is 1", "  Cell 3 failed: SystemExit: 3"]
    assert lines[3].startswith("quiet.ipynb: failed (1 code cells: 0 passed, 0 raised as expected, 1 failed)")
    assert lines[4] == "  Cell 0 failed: tagged raises-exception but raised nothing"
    assert lines[5] == "dies.ipynb: failed: the Python running it exited with 7 (0 code cells: 0 passed, " \
                       "0 raised as expected, 0 failed)"
    report = json.loads((tmp_path / "report.json").read_text())["notebooks"]
    statuses = [r["status"] for r in report]
    assert statuses == ["failed", "failed", "failed: the Python running it exited with 7", "passed"]
    assert report[0]["cells"][2]["output"] == "after it\n"  # as in nbval, the cells after a failure run
    assert "line 1, in <module>" in report[0]["cells"][1]["traceback"]


def test_a_notebook_that_runs_too_long_is_stopped(tmp_path):
    slow = write_notebook(tmp_path / "slow.ipynb", "import time; time.sleep(60)")
    proc = run("run_notebooks.py", slow, "--timeout", "2", "--json", tmp_path / "report.json", timeout=30)
    assert proc.returncode == 1 and proc.stdout.startswith("slow.ipynb: failed: no result within 2 s")
    assert json.loads((tmp_path / "report.json").read_text())["notebooks"][0]["cells"] == []


def test_a_figure_that_cannot_be_drawn_fails_its_cell(tmp_path):
    nb = write_notebook(tmp_path / "figure.ipynb",
                        "import matplotlib.pyplot as plt\nplt.title(r'$\\frac{1}{$')  # unbalanced math text")
    proc = run("run_notebooks.py", nb)
    assert proc.returncode == 1 and "Cell 0 failed: ValueError" in proc.stdout


def test_ipython_syntax_is_refused_by_name(tmp_path):
    nb = write_notebook(tmp_path / "magic.ipynb", "%timeit 1 + 1")
    proc = run("run_notebooks.py", nb)
    assert proc.returncode == 1 and "IPython syntax, which plain Python cannot run: '%timeit 1 + 1'" in proc.stdout


def test_a_missing_notebook_is_named(tmp_path):
    proc = run("run_notebooks.py", tmp_path / "nowhere.ipynb")
    assert proc.returncode == 2 and "no such notebook" in proc.stderr and "nowhere.ipynb" in proc.stderr


def test_gpu_run_dry_run_on_one_small_notebook(dry_run, passing):
    check_dry_run(*dry_run, [passing[0]])


@pytest.mark.slow
def test_gpu_run_dry_run_over_every_chapter(tmp_path):
    """The rehearsal of the device run: every chapter through the runner on the CPU, the benchmarks at small sizes."""
    out = tmp_path / "out"
    proc = run("gpu_run.py", out, timeout=900)
    check_dry_run(out, proc, NOTEBOOKS)
    print(proc.stdout)


TINY_LIMITS = ["--sizes", "8", "--repeats", "2", "--min-sample-s", "0.001", "--stream-mib", "1", "--stream-repeats", "2"]


def test_machine_limits_replaces_a_stale_file_with_force(tmp_path):
    """machine_limits.py at tiny sizes: the bandwidth, the estimated peak and the beta = 1 timings, with provenance.

    One run, with --force over a stale file; the refusal without it is provenance.output_path's, tested above with
    cost_table.py, and the next test checks that this script asks it before measuring anything."""
    out = tmp_path / "machine_limits_cpu.json"
    out.write_text("stale")
    proc = run("machine_limits.py", *TINY_LIMITS, "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    prov = data["provenance"]
    assert PROVENANCE | TIMINGS <= prov.keys() and prov["code"]["chapter"] == "book/06_cost.ipynb"
    assert prov["command"].startswith("machine_limits.py") and "--force" in prov["command"]
    assert prov["peak_estimate"] is None or {"cores", "gflops_float64_per_core"} <= prov["peak_estimate"].keys()
    assert any(pool["user_api"] == "blas" for pool in prov["blas_runtime"])
    assert set(data["bandwidth_bytes_per_s"]) == {"copy", "add"} and min(data["bandwidth_bytes_per_s"].values()) > 0
    (row,) = data["results"]
    forms = {"rule (SciPy)", "beta = 1 (SciPy)", "rule (NumPy)", "primal (SciPy)", "add pass"}
    assert row["n"] == 8 and all(set(row[key]) == forms for key in ("median_ratio_to_rule_scipy", "median_s", "fastest_s"))
    assert row["median_ratio_to_rule_scipy"]["rule (SciPy)"] == 1 and "bandwidth" in proc.stdout


def test_machine_limits_loads_the_chapters_code_and_copies_none_of_it(monkeypatch):
    monkeypatch.setitem(CHAPTERS, "machine_limits.py", ROOT / "book" / "06_cost.ipynb")
    test_scripts_load_the_chapters_code_and_copy_none_of_it("machine_limits.py")
