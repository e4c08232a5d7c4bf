#!/usr/bin/env python3
"""What the matmul JVP costs on this machine, as a ratio to the primal C = A @ B, written as JSON.

The code it times is the cost chapter's own: it loads the cells of book/06_cost.ipynb tagged `export` (the
methods, the jitted JAX functions, `round_robin`, `measure`, `gemms`, `dot_generals`, `cpu_peak_estimate`) and
calls them, so the table cannot drift from the page. For square n x n matrices it stores, per size and method:
the median over interleaved rounds of time(method) / time(primal) in the same round, the median and the fastest
seconds per call, and the method's flop count in primals, counted by the chapter's instrumented product (NumPy)
and its dot_general count (JAX). NumPy runs in float64, JAX (jitted, on its default device) in float32 unless
told otherwise. The provenance (machine, BLAS and threads, load before and after, versions, code) and the
chapter's ESTIMATE of the CPU's peak rate go with the numbers.

    python benchmarks/cost_table.py                      # n = 256 512 1024, 7 rounds -> ./cost_table_<device>.json
    python benchmarks/cost_table.py --sizes 256 1024 --repeats 9 --jax-dtype float64

The committed book/data/cost_table_cpu.json was measured with NumPy's BLAS on one thread and JAX with XLA's own
thread pool; the script refuses to replace an existing file unless told to (--force):

    OPENBLAS_NUM_THREADS=1 python benchmarks/cost_table.py --repeats 15 --out book/data/cost_table_cpu.json --force
"""
import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np

from provenance import (ROOT, add_output_options, finish, jax_provenance, machine_provenance, output_path, timing_rows,
                        write_json)

sys.path.insert(0, str(ROOT / "tests"))
from notebook_code import load_notebook_code  # noqa: E402  (the loader the tests use)

CHAPTER = ROOT / "book" / "06_cost.ipynb"
STATISTIC = "median over interleaved rounds of time(method) / time(primal of its family) in the same round"


def flop_counts(chapter, jax_dtype):
    """Each timed method's flops in primals: the chapter's counting product for NumPy, dot_generals for JAX."""
    rng = np.random.default_rng(0)
    small = [rng.standard_normal(shape) for shape in [(3, 4), (4, 5), (3, 4), (4, 5)]]  # m, n, o all different
    counts = {name: chapter["gemms"](f, *small) for name, f in chapter["NUMPY_TIMED"].items()}
    small_jax = [jnp.asarray(X, dtype=jax_dtype) for X in small]
    counts |= {name: chapter["dot_generals"](f, *small_jax) for name, f in chapter["JAX_METHODS"].items()}
    return {name: int(c) for name, c in counts.items()}


def print_summary(provenance, flop_count, results):
    """The table of ratios, the primals' measured rates and the estimated peak."""
    sizes, width = [r["n"] for r in results], max(map(len, flop_count)) + 2
    print(f"{provenance['cpu_model']}, {provenance['cpu_count']} CPUs; {provenance['load']}")
    print(f"time / time(primal), {STATISTIC}\n{'':{width}}{'flops':>8}" + "".join(f"{f'n={n}':>9}" for n in sizes))
    for name, c in flop_count.items():
        print(f"{name:<{width}}{c:8d}" + "".join(f"{r['median_ratio_to_primal'][name]:9.2f}" for r in results))
    for primal in (name for name in flop_count if "primal" in name):
        print(f"{primal}: 2 n^3 / median time = "
              + ", ".join(f"{2 * r['n']**3 / r['median_s'][primal] / 1e9:.1f}" for r in results) + " GFLOP/s")
    peak = provenance["peak_estimate"]
    if peak:
        print(f"ESTIMATED peak (not measured): {peak['float64_flops_per_cycle_per_core']} float64 flops/cycle x "
              f"{peak['clock_ghz']:.2f} GHz = {peak['gflops_float64_per_core']:.0f} GFLOP/s float64 per core"
              f" ({peak['gflops_float32_per_core']:.0f} float32), x {peak['cores']} cores = "
              f"{peak['gflops_float64']:.0f} ({peak['gflops_float32']:.0f})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024], help="square sizes n")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds per size (the median is taken)")
    parser.add_argument("--min-sample-s", type=float, default=0.02,
                        help="a call shorter than this is repeated within each sample (longer than a time slice)")
    parser.add_argument("--jax-dtype", default="float32", choices=["float32", "float64"])
    add_output_options(parser, "cost_table")
    args = parser.parse_args(argv)
    if min(args.sizes) < 1 or args.repeats < 1 or args.min_sample_s < 0:
        parser.error("sizes and repeats must be positive, --min-sample-s not negative")

    jax.config.update("jax_enable_x64", args.jax_dtype == "float64")
    provenance = {**machine_provenance(CHAPTER), **jax_provenance(), "numpy_dtype": "float64",
                  "jax_dtype": args.jax_dtype, "sizes": args.sizes, "repeats": args.repeats,
                  "min_sample_s": args.min_sample_s, "statistic": STATISTIC, "note": args.note}
    out = output_path(parser, args, "cost_table", provenance)

    chapter = load_notebook_code(CHAPTER)
    provenance["peak_estimate"] = chapter["cpu_peak_estimate"]()
    flop_count = flop_counts(chapter, args.jax_dtype)
    families = chapter["timed_families"](jnp.dtype(args.jax_dtype))
    table = chapter["measure"](args.sizes, args.repeats, families, args.min_sample_s)
    finish(provenance)
    results = timing_rows(table, flop_count, "median_ratio_to_primal")
    write_json(out, provenance=provenance, flop_count_primals=flop_count, results=results)
    print_summary(provenance, flop_count, results)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
