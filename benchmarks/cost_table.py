#!/usr/bin/env python3
"""What the matmul JVP costs on this machine, as a ratio to the primal C = A @ B, written as JSON.

For square n x n matrices it times every method of book/06_cost.ipynb (same names, same timing helper, same
statistic) and stores, per size and method: the median over interleaved rounds of time(method) / time(primal)
in the same round, the median and the fastest seconds per call, and the method's flop count in primals.
NumPy runs in float64; JAX (jitted, on its default device) in float32 unless told otherwise. The provenance
(CPU, BLAS, threads, load before and after) and an ESTIMATE of the CPU's peak rate go with the numbers.

    python benchmarks/cost_table.py                      # n = 256 512 1024, 7 rounds -> ./cost_table_<device>.json
    python benchmarks/cost_table.py --out book/data/cost_table_cpu.json   # replace the chapter's committed run
    python benchmarks/cost_table.py --sizes 256 1024 --repeats 9 --jax-dtype float64

The committed book/data/cost_table_cpu.json was measured with NumPy's BLAS on one thread (we expect a shared
machine to disturb one thread less than two that wait for each other; not measured), and JAX with XLA's own
thread pool (XLA has no switch that reliably keeps a CPU matmul on one thread); the provenance records it:

    OPENBLAS_NUM_THREADS=1 python benchmarks/cost_table.py --repeats 15 --out book/data/cost_table_cpu.json

Needs numpy, jax (optional), the standard library and provenance.py beside it.
"""
import argparse
import json
import math
import os
import pathlib
import re
import statistics
import time

import numpy as np

from provenance import load_note, machine_provenance

EPS = np.finfo(np.float64).eps  # 2u for float64
STATISTIC = "median over interleaved rounds of time(method) / time(primal of its family) in the same round"


def numpy_methods():
    """[(name, flop count in primals, f(A, B, A_dot, B_dot))] for the NumPy ways to get (C, C_dot); primal first."""
    def forward_diff(A, B, A_dot, B_dot, h=np.sqrt(EPS)):
        C = A @ B
        return C, ((A + h * A_dot) @ (B + h * B_dot) - C) / h

    def central_diff(A, B, A_dot, B_dot, h=EPS ** (1 / 3)):
        return A @ B, ((A + h * A_dot) @ (B + h * B_dot) - (A - h * A_dot) @ (B - h * B_dot)) / (2 * h)

    def complex_step(A, B, A_dot, B_dot, h=1e-20):
        Z = (A + 1j * h * A_dot) @ (B + 1j * h * B_dot)
        return Z.real, Z.imag / h

    def dual_block(A, B, A_dot, B_dot):
        m, n = A.shape
        D = np.zeros((2 * m, 2 * n))
        D[:m, :n], D[m:, :n], D[m:, n:] = A, A_dot, A
        S = D @ np.vstack([B, B_dot])
        return S[:m], S[m:]

    def one_gemm(A, B, A_dot, B_dot):
        return A @ B, np.hstack([A_dot, A]) @ np.vstack([B, B_dot])

    return [
        ("primal", 1, lambda A, B, A_dot, B_dot: A @ B),
        ("rule", 3, lambda A, B, A_dot, B_dot: (A @ B, A_dot @ B + A @ B_dot)),
        ("one GEMM", 3, one_gemm),
        ("dual block", 4, dual_block),
        ("forward diff", 2, forward_diff),
        ("central diff", 3, central_diff),
        ("complex step", 4, complex_step),
    ]


def jax_methods(dtype):
    """([(name, flop count, f)], convert) for jitted JAX: primal, jax.jvp of jnp.matmul, our custom_jvp rule."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return [], None
    jax.config.update("jax_enable_x64", dtype == "float64")

    @jax.custom_jvp
    def matmul(A, B):
        return A @ B

    @matmul.defjvp
    def matmul_jvp(primals, tangents):
        (A, B), (A_dot, B_dot) = primals, tangents
        return A @ B, A_dot @ B + A @ B_dot

    fns = [("primal", 1, lambda A, B, A_dot, B_dot: A @ B),
           ("jax.jvp", 3, lambda A, B, A_dot, B_dot: jax.jvp(jnp.matmul, (A, B), (A_dot, B_dot))),
           ("custom_jvp", 3, lambda A, B, A_dot, B_dot: jax.jvp(matmul, (A, B), (A_dot, B_dot)))]
    methods = [(f"JAX {name}", c, lambda *xs, f=jax.jit(f): jax.block_until_ready(f(*xs))) for name, c, f in fns]
    return methods, lambda X: jnp.asarray(X, dtype=dtype)


def cpu_peak_estimate():
    """An ESTIMATE of the CPU's peak GFLOP/s: physical cores x flops per cycle per core x clock, from /proc/cpuinfo.

    Assumptions: two FMA units per core, each 4 float64 lanes wide with AVX2+FMA, 8 with AVX-512; an FMA is 2 flops;
    the clock is the "cpu MHz" the kernel reports (in a virtual machine often the nominal clock; boost runs faster)."""
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    first = dict(line.split(":", 1) for line in text.split("\n\n")[0].splitlines() if ":" in line)
    first = {k.strip(): v.strip() for k, v in first.items()}
    flags = set(first.get("flags", "").split())
    lanes = 8 if "avx512f" in flags else 4 if {"avx2", "fma"} <= flags else None
    if lanes is None or "cpu MHz" not in first:
        return None
    smt = int(first.get("siblings", 1)) // int(first.get("cpu cores", 1)) or 1
    cores, ghz, per_cycle = os.cpu_count() // smt, float(first["cpu MHz"]) / 1e3, 2 * 2 * lanes
    return {"cores": cores, "clock_ghz": ghz, "float64_flops_per_cycle_per_core": per_cycle,
            "gflops_float64_per_core": per_cycle * ghz, "gflops_float32_per_core": 2 * per_cycle * ghz,
            "gflops_float64": cores * per_cycle * ghz, "gflops_float32": 2 * cores * per_cycle * ghz,
            "assumptions": " ".join(cpu_peak_estimate.__doc__.split("\n\n", 1)[1].split())}


def timed(f):
    """Seconds taken by one call of f()."""
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def round_robin(calls, repeats, min_sample_s=0.02):
    """Seconds per call of each zero-argument callable, timed in turn `repeats` times after a warm-up.

    A call shorter than `min_sample_s` is repeated within each of its samples, and the sample divided."""
    reps = {}
    for name, f in calls.items():
        f()
        reps[name] = max(1, math.ceil(min_sample_s / min(timed(f) for _ in range(3))))
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, f in calls.items():
            if reps[name] > 1:  # a short call: one untimed call first, to wake threads and warm caches
                f()
            t0 = time.perf_counter()
            for _ in range(reps[name]):
                f()
            times[name].append((time.perf_counter() - t0) / reps[name])
    return times


def measure(families, sizes, repeats, min_sample_s=0.02, seed=0):
    """{n: {name: (median ratio to its family's primal, median seconds, fastest seconds)}}.

    NumPy and JAX run in separate rounds, so that their thread pools never compete within a round."""
    rng = np.random.default_rng(seed)
    table = {}
    # Largest first: once a large temporary has been freed, glibc's malloc serves later multi-MB temporaries
    # from its heap; in ascending order the packings at small n would also time fresh page-faulting memory.
    for n in sorted(sizes, reverse=True):
        data = [rng.standard_normal((n, n)) for _ in range(4)]
        table[n] = {}
        for family, convert in families:
            args = [convert(X) for X in data]
            times = round_robin({name: (lambda f=f: f(*args)) for name, _, f in family}, repeats, min_sample_s)
            primal = family[0][0]
            for name, ts in times.items():
                ratio = statistics.median(t / p for t, p in zip(ts, times[primal]))
                table[n][name] = (ratio, statistics.median(ts), min(ts))
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024], help="square sizes n")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds per size (the median is taken)")
    parser.add_argument("--min-sample-s", type=float, default=0.02,
                        help="a call shorter than this is repeated within each sample (longer than a time slice)")
    parser.add_argument("--jax-dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--out", type=pathlib.Path, default=None, help="default: ./cost_table_<device>.json")
    parser.add_argument("--note", default="", help="free text stored with the provenance")
    args = parser.parse_args(argv)

    provenance = {**machine_provenance(), "numpy_dtype": "float64", "sizes": args.sizes, "repeats": args.repeats,
                  "min_sample_s": args.min_sample_s, "statistic": STATISTIC,
                  "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
                  "peak_estimate": cpu_peak_estimate(), "note": args.note}
    families = [(numpy_methods(), lambda X: X)]
    jax_family, convert = jax_methods(args.jax_dtype)
    kind = "cpu"
    if jax_family:
        import jax
        families.append((jax_family, convert))
        dev = jax.devices()[0]
        kind = re.sub(r"[^a-z0-9]+", "_", dev.device_kind.lower()).strip("_")
        provenance |= {"jax": jax.__version__, "jax_dtype": args.jax_dtype, "platform": dev.platform,
                       "device_kind": dev.device_kind,
                       "default_matmul_precision_config": jax.config.jax_default_matmul_precision}
    out = args.out or pathlib.Path(f"cost_table_{kind}.json")
    table = measure(families, args.sizes, args.repeats, args.min_sample_s)
    provenance["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    provenance["load"] = load_note(provenance)
    flop_count = {name: c for family, _ in families for name, c, _ in family}
    results = [{"n": n,
                "median_ratio_to_primal": {k: table[n][k][0] for k in flop_count},
                "median_s": {k: table[n][k][1] for k in flop_count},
                "fastest_s": {k: table[n][k][2] for k in flop_count}} for n in args.sizes]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"provenance": provenance, "flop_count_primals": flop_count,
                               "results": results}, indent=1) + "\n")

    width = max(map(len, flop_count)) + 2
    print(f"{provenance['cpu_model']}, {provenance['cpu_count']} CPUs; {provenance['load']}")
    print(f"time / time(primal), {STATISTIC}\n{'':{width}}{'flops':>8}"
          + "".join(f"{f'n={n}':>9}" for n in args.sizes))
    for name, c in flop_count.items():
        print(f"{name:<{width}}{c:8d}" + "".join(f"{table[n][name][0]:9.2f}" for n in args.sizes))
    primals = [name for name in flop_count if "primal" in name]
    for p in primals:
        print(f"{p}: 2 n^3 / median time = "
              + ", ".join(f"{2 * n**3 / table[n][p][1] / 1e9:.1f}" for n in args.sizes) + " GFLOP/s")
    peak = provenance["peak_estimate"]
    if peak:
        print(f"ESTIMATED peak (not measured): {peak['float64_flops_per_cycle_per_core']} float64 flops/cycle x "
              f"{peak['clock_ghz']:.2f} GHz = {peak['gflops_float64_per_core']:.0f} GFLOP/s float64 per core"
              f" ({peak['gflops_float32_per_core']:.0f} float32), x {peak['cores']} cores = "
              f"{peak['gflops_float64']:.0f} ({peak['gflops_float32']:.0f})")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    jac = lambda n: n * n * (n * n + n * n) * 8  # m o (m n + n o) 8 bytes with m = n = o
    n_fit = max(n for n in range(1, 4096) if jac(n) <= ram)
    print(f"explicit Jacobian (16 n^4 bytes in float64): fits in this machine's {ram / 2**30:.1f} GiB up to n = {n_fit}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
