#!/usr/bin/env python3
"""This machine's limits for the cost chapter, written as JSON: its memory bandwidth, its estimated peak, and the
GEMM with beta = 1 against the rule's three products and separate add.

Like cost_table.py it runs the chapter's own code, the cells of book/06_cost.ipynb tagged `export`: it stores
`cpu_peak_estimate()` (an ESTIMATE, with its assumptions), measures `stream_bandwidth()` (one core's: NumPy's copy and add on
float64 arrays larger than a typical last-level cache, one thread, bytes counted as read + written, median of interleaved rounds), and
times the chapter's `BETA1_TIMED` forms with `measure()` at each size: the rule (three products, then the sum) and
the beta = 1 form (the sum folded into the second GEMM), both on SciPy's BLAS, the rule on NumPy's BLAS, the primal
and the add pass alone. Each is stored as the median over interleaved rounds of its time over the time of the rule
on SciPy's BLAS in the same round, with median and fastest seconds, beside the provenance (machine, both BLAS
libraries and their threads, load before and after).

    python benchmarks/machine_limits.py                  # n = 1024, 21 rounds -> ./machine_limits_<device>.json

The committed book/data/machine_limits_cpu.json ran with the BLAS on one thread, as the committed cost table did;
the script refuses to replace an existing file unless told to (--force):

    OPENBLAS_NUM_THREADS=1 python benchmarks/machine_limits.py --out book/data/machine_limits_cpu.json --force
"""
import argparse
import sys

import numpy as np

from provenance import (ROOT, add_output_options, blas_runtime, finish, jax_provenance, machine_provenance, output_path,
                        timing_rows, write_json)

sys.path.insert(0, str(ROOT / "tests"))
from notebook_code import load_notebook_code  # noqa: E402  (the loader the tests use)

CHAPTER = ROOT / "book" / "06_cost.ipynb"
STATISTIC = "median over interleaved rounds of time(form) / time(first form: the rule on SciPy's BLAS) in the same round"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024], help="square sizes n of the GEMM timings")
    parser.add_argument("--repeats", type=int, default=21, help="interleaved rounds per size (the median is taken)")
    parser.add_argument("--min-sample-s", type=float, default=0.02,
                        help="a call shorter than this is repeated within each sample (longer than a time slice)")
    parser.add_argument("--stream-mib", type=int, default=64, help="MiB per array of the bandwidth kernels")
    parser.add_argument("--stream-repeats", type=int, default=7, help="interleaved rounds of the bandwidth kernels")
    add_output_options(parser, "machine_limits")
    args = parser.parse_args(argv)
    if min(args.sizes) < 1 or min(args.repeats, args.stream_mib, args.stream_repeats) < 1 or args.min_sample_s < 0:
        parser.error("sizes, repeats and --stream-mib must be positive, --min-sample-s not negative")

    provenance = {**machine_provenance(CHAPTER), **jax_provenance(), "dtype": "float64", "sizes": args.sizes,
                  "repeats": args.repeats, "min_sample_s": args.min_sample_s, "stream_mib": args.stream_mib,
                  "stream_repeats": args.stream_repeats, "statistic": STATISTIC, "note": args.note}
    out = output_path(parser, args, "machine_limits", provenance)

    chapter = load_notebook_code(CHAPTER)
    provenance["blas_runtime"] = blas_runtime()  # again, now that the chapter has loaded SciPy's BLAS beside NumPy's
    provenance["peak_estimate"] = chapter["cpu_peak_estimate"]()
    bandwidth = chapter["stream_bandwidth"](args.stream_mib, args.stream_repeats, args.min_sample_s)
    forms = chapter["BETA1_TIMED"]
    table = chapter["measure"](args.sizes, args.repeats, [(forms, np.asarray)], args.min_sample_s)
    finish(provenance)
    results = timing_rows(table, forms, "median_ratio_to_rule_scipy")
    write_json(out, provenance=provenance, bandwidth_bytes_per_s=bandwidth, results=results)

    print(f"{provenance['cpu_model']}, {provenance['cpu_count']} CPUs; {provenance['load']}")
    print("bandwidth (bytes read + written, median): "
          + ", ".join(f"{k} {v / 1e9:.1f} GB/s" for k, v in bandwidth.items()))
    peak = provenance["peak_estimate"]
    if peak:
        print(f"ESTIMATED peak (not measured): {peak['gflops_float64_per_core']:.0f} GFLOP/s float64 per core, "
              f"x {peak['cores']} cores = {peak['gflops_float64']:.0f}")
    for row in results:
        print(f"n = {row['n']}, time / time({next(iter(forms))}), {args.repeats} rounds: "
              + ", ".join(f"{k} {r:.3f}" for k, r in row["median_ratio_to_rule_scipy"].items()))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
