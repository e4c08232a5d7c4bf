#!/usr/bin/env python3
"""Time the matmul JVP in JAX on whatever device is present and write the medians as JSON.

The code it times is the JAX chapter's own: it loads the cells of book/03_jax.ipynb tagged `export` (the book's
`matmul` with its rule attached, the five functions below and the timing helpers `time_samples` and `time_run`)
and calls them, so the timings cannot drift from the page. For square n x n inputs it times, jitted and
interleaved, each sample ending in block_until_ready:

  primal          C = A @ B                                 (1 GEMM,  2 n^3 flops)
  jvp_custom      jax.jvp of the book's matmul: (C, C_dot)  (3 GEMMs, 6 n^3 flops and n^2 adds)
  jvp_jax         jax.jvp(jnp.matmul): (C, C_dot)           (3 GEMMs, 6 n^3 flops and n^2 adds)
  tangent_custom  only C_dot of the book's rule             (2 GEMMs, 4 n^3 flops and n^2 adds)
  dispatch        one entry of A: what any jitted call costs beyond its arithmetic (no GEMM)

TFLOP/s count the GEMMs' flops (the chapter's FLOPS), not the n^2 adds. For each dtype it also compiles
tangent_custom at the largest n and records, from the compiled HLO, how many GEMMs it has and where the tangent's
add went (benchmarks/compiled_hlo.py): "fused into a GEMM (beta = 1)" (cuBLAS accumulating into the other product),
"fused into a GEMM" (a GEMM fusion that also adds), "separate" (its own pass over memory) or "unrecognised". The
compiled text is kept in the JSON, to be read again later.

Usage (from the repository root):
  python benchmarks/jax_matmul_jvp.py                      # default sizes for the device
  python benchmarks/jax_matmul_jvp.py --sizes 256 512 1024 --dtypes float32 --repeats 15
The output defaults to jax_matmul_jvp_<device kind>.json in the current folder; an existing file is replaced
only with --force (e.g. --out book/data/jax_matmul_jvp_cpu.json --force). Provenance (device, CPU, BLAS and
threads, load, versions, code; on a GPU the driver, CUDA, clocks and power) is recorded with the results.
"""
import argparse
import sys

import jax
import jax.numpy as jnp

from compiled_hlo import gemm_count, tangent_add
from provenance import ROOT, add_output_options, finish, jax_provenance, machine_provenance, output_path, write_json

sys.path.insert(0, str(ROOT / "tests"))
from notebook_code import load_notebook_code  # noqa: E402  (the loader the tests use)

CHAPTER = ROOT / "book" / "03_jax.ipynb"


def compiled_tangent(chapter, n, dtype):
    """The compiled HLO of the book's tangent at size n: its GEMM count, where its add went, and the text."""
    args = [jnp.zeros((n, n), dtype)] * 4
    hlo = jax.jit(chapter["tangent_custom"]).lower(*args).compile().as_text()
    return {"n": n, "dtype": jnp.dtype(dtype).name, "gemms": gemm_count(hlo), "add": tangent_add(hlo), "hlo": hlo}


def main(argv=None):
    on_cpu = jax.devices()[0].platform == "cpu"
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+",
                   default=[128, 256, 512, 1024] if on_cpu else [256, 512, 1024, 2048, 4096, 8192])
    p.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    p.add_argument("--precision", default=None, choices=["default", "high", "highest"],
                   help="JAX's default matmul precision for the run; if omitted, JAX's default (TF32 on recent GPUs)")
    p.add_argument("--repeats", type=int, default=15 if on_cpu else 30)
    p.add_argument("--min-sample-s", type=float, default=0.02 if on_cpu else 0.005,
                   help="each sample repeats the call until it lasts at least this long")
    add_output_options(p, "jax_matmul_jvp")
    a = p.parse_args(argv)
    if min(a.sizes) < 1 or a.repeats < 1 or a.min_sample_s < 0:
        p.error("sizes and repeats must be positive, --min-sample-s not negative")

    if a.precision:  # every matmul of the run, the chapter's included
        jax.config.update("jax_default_matmul_precision", a.precision)
    provenance = {**jax_provenance(), **machine_provenance(CHAPTER), "precision": a.precision or "default",
                  "repeats": a.repeats, "min_sample_s": a.min_sample_s, "sizes": a.sizes, "dtypes": a.dtypes,
                  "statistic": "median over interleaved repeats of seconds per call", "note": a.note}
    out = output_path(p, a, "jax_matmul_jvp", provenance)

    chapter = load_notebook_code(CHAPTER)
    results, compiled = [], []
    for dtype in a.dtypes:
        compiled.append(compiled_tangent(chapter, max(a.sizes), jnp.dtype(dtype)))
        print(f"{dtype:9s} n={max(a.sizes):5d}  compiled tangent: {compiled[-1]['gemms']} GEMMs, "
              f"add {compiled[-1]['add']}", flush=True)
        for n in a.sizes:  # one size at a time, the file rewritten after each: a run stopped early keeps its rows
            row, = chapter["time_run"]([n], jnp.dtype(dtype), a.repeats, a.min_sample_s)
            row["precision"] = provenance["precision"]
            results.append(row)
            write(out, provenance, results, compiled)
            m, t = row["median_s"], row["tflops"]
            print(f"{dtype:9s} n={row['n']:5d}  primal {m['primal']*1e3:9.3f} ms {t['primal']:8.3f} TFLOP/s  "
                  f"jvp/primal {m['jvp_custom']/m['primal']:5.2f} (custom) {m['jvp_jax']/m['primal']:5.2f} (jax)  "
                  f"custom/jax {row['median_ratio_jvp_custom_over_jvp_jax']:.3f}  "
                  f"dispatch {m['dispatch']*1e6:.0f} us", flush=True)
    finish(provenance)
    write(out, provenance, results, compiled)
    print(f"wrote {out} on {provenance['device_kind']} ({provenance['platform']})")


def write(out, provenance, results, compiled):
    """The JSON file: provenance, one row per (dtype, n) measured so far, and the compiled tangents."""
    write_json(out, provenance=provenance, results=results, compiled_tangent=compiled)


if __name__ == "__main__":
    main()
