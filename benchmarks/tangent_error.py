#!/usr/bin/env python3
"""Measure the rounding error of the matmul tangent on whatever device JAX finds and write it as JSON.

The method is the JAX chapter's (book/03_jax.ipynb, section on precision), with its own code: the cells tagged
`export` give `exact_matrix` (entries k / 2**15, so that the float64 tangent computed by NumPy is exact), the
book's `matmul`, `shorten` and `round_bf16` (the simulations). For square n x n inputs it reports the relative
Frobenius error of the tangent A_dot B + A B_dot against the exact one, each measured error beside the
simulation it is to be compared with:

  float32 default                   jax.jvp of jnp.matmul at JAX's default precision (TF32 on recent NVIDIA GPUs)
  float32 highest                   the same at precision="highest" (true float32 products)
  simulated TF32 inputs, nearest    float32 inputs shortened to TF32 (rounded with ties away from zero, rounded
  simulated TF32 inputs, even         with ties to even, or truncated), exact arithmetic: what "float32 default"
  simulated TF32 inputs, truncate     is on a GPU that uses TF32
  bfloat16 data, jax.jvp            jax.jvp of the book's matmul on the inputs rounded to bfloat16
  simulated bfloat16 data, exact arithmetic           the rounded data alone: a floor for "bfloat16 data, jax.jvp"
  simulated bfloat16 data, products and sum rounded   each product and the sum rounded to bfloat16 too

Usage (from the repository root):
  python benchmarks/tangent_error.py --sizes 256 1024 4096
The output defaults to tangent_error_<device kind>.json in the current folder; an existing file is replaced only
with --force. Provenance as for the other benchmarks (benchmarks/provenance.py).
"""
import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np

from provenance import ROOT, add_output_options, finish, jax_provenance, machine_provenance, output_path, write_json

sys.path.insert(0, str(ROOT / "tests"))
from notebook_code import load_notebook_code  # noqa: E402  (the loader the tests use)

CHAPTER = ROOT / "book" / "03_jax.ipynb"
SIMULATED_TF32_DROP = 13  # mantissa bits dropped from float32's 23 to make TF32's 10
MAX_N = 2**22  # every partial sum of 2n products of entries k / 2**15 fits in float64's 53 bits: 2n 2**30 <= 2**53


def rel_err(got, want):
    """Relative Frobenius error of got against want, in float64."""
    return float(np.linalg.norm(np.asarray(got, dtype=np.float64) - want) / np.linalg.norm(want))


def tangent_errors(chapter, n, seed):
    """The errors of one size n, as a dict of the names above."""
    rng = np.random.default_rng(seed)
    A, B, A_dot, B_dot = (chapter["exact_matrix"](rng, (n, n)) for _ in range(4))
    exact = A_dot @ B + A @ B_dot  # NumPy float64: exact for these entries (see the chapter)
    args32 = [jnp.asarray(x, dtype=jnp.float32) for x in (A, B, A_dot, B_dot)]
    errors = {}
    for precision in ("default", "highest"):
        mm = lambda X, Y, p=precision: jnp.matmul(X, Y, precision=None if p == "default" else p)
        tangent = jax.jit(lambda A, B, A_dot, B_dot: jax.jvp(mm, (A, B), (A_dot, B_dot))[1])
        errors[f"float32 {precision}"] = rel_err(tangent(*args32), exact)
    args16 = [x.astype(jnp.bfloat16) for x in args32]
    errors["bfloat16 data, jax.jvp"] = rel_err(jax.jit(lambda *a: jax.jvp(chapter["matmul"], a[:2], a[2:])[1])(*args16),
                                               exact)
    for mode in ("nearest", "even", "truncate"):
        S = [chapter["shorten"](x, SIMULATED_TF32_DROP, mode) for x in (A, B, A_dot, B_dot)]
        errors[f"simulated TF32 inputs, {mode}"] = rel_err(S[2] @ S[1] + S[0] @ S[3], exact)
    r = chapter["round_bf16"]
    Ab, Bb, Ab_dot, Bb_dot = map(r, (A, B, A_dot, B_dot))
    errors["simulated bfloat16 data, exact arithmetic"] = rel_err(Ab_dot @ Bb + Ab @ Bb_dot, exact)
    errors["simulated bfloat16 data, products and sum rounded"] = rel_err(r(r(Ab_dot @ Bb) + r(Ab @ Bb_dot)), exact)
    return errors


def main(argv=None):
    on_cpu = jax.devices()[0].platform == "cpu"
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 256] if on_cpu else [256, 1024, 4096])
    p.add_argument("--seed", type=int, default=0)
    add_output_options(p, "tangent_error")
    a = p.parse_args(argv)
    if min(a.sizes) < 1 or max(a.sizes) > MAX_N:
        p.error(f"sizes must lie between 1 and {MAX_N} (beyond, the float64 tangent is no longer exact)")
    provenance = {**jax_provenance(), **machine_provenance(CHAPTER), "sizes": a.sizes, "seed": a.seed,
                  "statistic": "relative Frobenius error of the tangent against the exact one", "note": a.note}
    out = output_path(p, a, "tangent_error", provenance)

    chapter = load_notebook_code(CHAPTER)
    results = []
    for n in a.sizes:
        errors = tangent_errors(chapter, n, a.seed)
        results.append({"n": n, "relative_error": errors})
        print(f"n={n:5d}  " + "  ".join(f"{name} {err:.2e}" for name, err in errors.items()), flush=True)
    finish(provenance)
    write_json(out, provenance=provenance, results=results)
    print(f"wrote {out} on {provenance['device_kind']} ({provenance['platform']})")


if __name__ == "__main__":
    main()
