#!/usr/bin/env python3
"""Time the matmul JVP in JAX on whatever device is present and write the medians as JSON.

For square n x n inputs it times four jitted functions, interleaved, each sample ending in
block_until_ready:

  primal          C = A @ B                                            (1 GEMM,  2 n^3 flops)
  jvp_custom      jax.jvp of our custom_jvp matmul -> (C, C_dot)       (3 GEMMs, 6 n^3 + n^2)
  jvp_jax         jax.jvp(jnp.matmul)              -> (C, C_dot)       (3 GEMMs, 6 n^3 + n^2)
  tangent_custom  only C_dot = A_dot @ B + A @ B_dot of our rule       (2 GEMMs, 4 n^3 + n^2)
  dispatch        one entry of A: what any jitted call costs beyond its arithmetic  (no GEMM)

Usage (from the repository root):
  python benchmarks/jax_matmul_jvp.py                      # default sizes for the device
  python benchmarks/jax_matmul_jvp.py --sizes 256 512 1024 --dtypes float32 --repeats 15
Needs only jax, numpy and the standard library (and provenance.py beside it). The output defaults to
jax_matmul_jvp_<device kind>.json in the current folder; the committed data in book/data/ is replaced only
when asked for (--out book/data/jax_matmul_jvp_cpu.json). Provenance (CPU, BLAS, threads, load, GPU driver
and clocks) is recorded with the results.
"""
import argparse
import json
import math
import os
import pathlib
import re
import statistics
import time

import jax
import jaxlib
import jax.numpy as jnp
import numpy as np

from provenance import load_note, machine_provenance

FUNCTIONS = ("primal", "jvp_custom", "jvp_jax", "tangent_custom", "dispatch")


def make_matmul(precision):
    """Our matmul with the pushforward rule C_dot = A_dot B + A B_dot attached via custom_jvp."""
    @jax.custom_jvp
    def matmul(A, B):
        return jnp.matmul(A, B, precision=precision)

    @matmul.defjvp
    def matmul_jvp(primals, tangents):
        A, B = primals
        A_dot, B_dot = tangents
        C = matmul(A, B)  # the primal first, then the tangent, as in the chapter's rule
        C_dot = jnp.matmul(A_dot, B, precision=precision) + jnp.matmul(A, B_dot, precision=precision)
        return C, C_dot

    return matmul


def make_functions(precision):
    """The four jitted functions, each taking (A, B, A_dot, B_dot)."""
    matmul = make_matmul(precision)
    ref = lambda A, B: jnp.matmul(A, B, precision=precision)
    return {
        "primal": jax.jit(lambda A, B, A_dot, B_dot: ref(A, B)),
        "jvp_custom": jax.jit(lambda A, B, A_dot, B_dot: jax.jvp(matmul, (A, B), (A_dot, B_dot))),
        "jvp_jax": jax.jit(lambda A, B, A_dot, B_dot: jax.jvp(ref, (A, B), (A_dot, B_dot))),
        "tangent_custom": jax.jit(lambda A, B, A_dot, B_dot: jax.jvp(matmul, (A, B), (A_dot, B_dot))[1]),
        "dispatch": jax.jit(lambda A, B, A_dot, B_dot: A[0, 0]),
    }


def flops(name, n):
    """Floating-point operations of one call: 2 n^3 per GEMM, n^2 for the tangent sum."""
    return {"primal": 2 * n**3, "jvp_custom": 6 * n**3 + n**2,
            "jvp_jax": 6 * n**3 + n**2, "tangent_custom": 4 * n**3 + n**2, "dispatch": 0}[name]


def run_once(f, args, calls):
    """Seconds per call for `calls` back-to-back calls, synchronised at the end."""
    t0 = time.perf_counter()
    for _ in range(calls):
        out = f(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - t0) / calls


def bench_size(n, dtype, precision, repeats, min_sample_s, key):
    """Median seconds per call of each function at size n, with interleaved repeats."""
    keys = jax.random.split(key, 4)
    args = [jax.random.normal(k, (n, n), jnp.float32).astype(dtype) for k in keys]
    fns = make_functions(precision)
    for f in fns.values():  # compile and warm up
        jax.block_until_ready(f(*args))
    # Each function gets its own number of calls per sample, so that every sample lasts at least
    # min_sample_s: a short call (the empty "dispatch" one) timed only once or twice would mostly
    # measure the clock and the tail of the previous function's work.
    calls = {}
    for name, f in fns.items():
        t = statistics.median(run_once(f, args, 1) for _ in range(3))
        calls[name] = max(1, math.ceil(min_sample_s / max(t, 1e-9)))
    samples = {name: [] for name in fns}
    for r in range(repeats):  # rotate the order so no function always runs first
        order = FUNCTIONS[r % len(FUNCTIONS):] + FUNCTIONS[:r % len(FUNCTIONS)]
        for name in order:
            samples[name].append(run_once(fns[name], args, calls[name]))
    row = {"n": n, "dtype": dtype, "precision": precision or "default", "calls_per_sample": calls}
    row["median_s"] = {k: statistics.median(v) for k, v in samples.items()}
    row["q1_s"] = {k: float(np.percentile(v, 25)) for k, v in samples.items()}
    row["q3_s"] = {k: float(np.percentile(v, 75)) for k, v in samples.items()}
    row["tflops"] = {k: flops(k, n) / row["median_s"][k] / 1e12 for k in fns if flops(k, n)}
    # the paired ratio per repeat is less sensitive to load drifting during the run
    row["median_ratio_jvp_custom_over_jvp_jax"] = statistics.median(
        c / j for c, j in zip(samples["jvp_custom"], samples["jvp_jax"]))
    row["median_ratio_jvp_custom_over_primal"] = statistics.median(
        c / p for c, p in zip(samples["jvp_custom"], samples["primal"]))
    return row


def main(argv=None):
    dev = jax.devices()[0]
    on_cpu = dev.platform == "cpu"
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+",
                   default=[128, 256, 512, 1024] if on_cpu else [256, 512, 1024, 2048, 4096, 8192])
    p.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    p.add_argument("--precision", default=None, choices=["default", "high", "highest"],
                   help="precision= passed to every matmul; if omitted, JAX's default (TF32 on recent GPUs)")
    p.add_argument("--repeats", type=int, default=15 if on_cpu else 30)
    p.add_argument("--min-sample-s", type=float, default=0.02 if on_cpu else 0.005,
                   help="each sample repeats the call until it lasts at least this long")
    p.add_argument("--out", type=pathlib.Path, default=None)
    p.add_argument("--note", default="", help="free text stored with the provenance")
    a = p.parse_args(argv)
    kind = dev.device_kind
    out = a.out or pathlib.Path(f"jax_matmul_jvp_{re.sub(r'[^a-z0-9]+', '_', kind.lower()).strip('_')}.json")
    provenance = {
        "device_kind": kind, "platform": dev.platform, "device": str(dev),
        "device_count": jax.device_count(), "jax": jax.__version__, "jaxlib": jaxlib.__version__,
        **machine_provenance(),
        "precision": a.precision or "default",
        "default_matmul_precision_config": jax.config.jax_default_matmul_precision,
        "repeats": a.repeats, "min_sample_s": a.min_sample_s, "sizes": a.sizes, "dtypes": a.dtypes,
        "statistic": "median over interleaved repeats of seconds per call", "note": a.note,
    }
    results = []
    key = jax.random.key(0)
    for dtype in a.dtypes:
        for n in a.sizes:
            row = bench_size(n, dtype, a.precision, a.repeats, a.min_sample_s, key)
            results.append(row)
            m, t = row["median_s"], row["tflops"]
            print(f"{dtype:9s} n={n:5d}  primal {m['primal']*1e3:9.3f} ms {t['primal']:8.3f} TFLOP/s  "
                  f"jvp/primal {m['jvp_custom']/m['primal']:5.2f} (custom) {m['jvp_jax']/m['primal']:5.2f} (jax)  "
                  f"custom/jax {row['median_ratio_jvp_custom_over_jvp_jax']:.3f}  dispatch {m['dispatch']*1e6:.0f} us", flush=True)
    provenance["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    provenance["load"] = load_note(provenance)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"provenance": provenance, "results": results}, indent=1) + "\n")
    print(f"wrote {out} on {kind} ({dev.platform})")


if __name__ == "__main__":
    main()
