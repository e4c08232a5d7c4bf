#!/usr/bin/env python3
"""What the matmul JVP costs on this machine, as a ratio to the primal C = A @ B.

For square n x n matrices it prints one table, methods x sizes: the median over interleaved rounds of
time(method) / time(primal) in the same round, next to the method's flop count in primals; then the primal's
GFLOP/s, the best of which we take as the machine's GEMM rate; then each method's share of that rate on the
6 n^3 flops that (C, C_dot) needs (100% = three products at the machine's rate); last, the largest n whose
explicit Jacobian fits in this machine's memory. NumPy runs in float64; JAX (jitted, on its default device)
in float32 unless told otherwise. The chapter book/06_cost.ipynb explains every row; the method names, the
timing helper and the statistic are the chapter's.

    python benchmarks/cost_table.py                          # n = 256 512 1024 2048, 5 rounds
    python benchmarks/cost_table.py --sizes 256 1024 --repeats 9 --jax-dtype float64

Self-contained: numpy, jax (optional) and the standard library.
"""
import argparse
import math
import os
import statistics
import time

import numpy as np

EPS = np.finfo(np.float64).eps


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


def timed(f):
    """Seconds taken by one call of f()."""
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def round_robin(calls, repeats, min_sample_s=0.005):
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


def measure(families, sizes, repeats, seed=0):
    """{n: {name: (median ratio to its family's primal, median seconds, fastest seconds)}}.

    NumPy and JAX run in separate rounds: both keep worker threads spinning for a moment after a call."""
    rng = np.random.default_rng(seed)
    table = {}
    # Largest first: once a large temporary has been freed, glibc's malloc serves later multi-MB temporaries
    # from its heap; in ascending order the packings at small n would also time fresh page-faulting memory.
    for n in sorted(sizes, reverse=True):
        data = [rng.standard_normal((n, n)) for _ in range(4)]
        table[n] = {}
        for family, convert in families:
            args = [convert(X) for X in data]
            times = round_robin({name: (lambda f=f: f(*args)) for name, _, f in family}, repeats)
            primal = family[0][0]
            for name, ts in times.items():
                ratio = statistics.median(t / p for t, p in zip(ts, times[primal]))
                table[n][name] = (ratio, statistics.median(ts), min(ts))
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048], help="square sizes n")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds per size (the median is taken)")
    parser.add_argument("--jax-dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args()

    families = [(numpy_methods(), lambda X: X)]
    jax_family, convert = jax_methods(args.jax_dtype)
    if jax_family:
        import jax
        families.append((jax_family, convert))
        jax_info = f"JAX {jax.__version__} {args.jax_dtype} on {jax.default_backend()}"
    else:
        jax_info = "JAX not installed"
    print(f"{os.cpu_count()} CPUs; NumPy {np.__version__} float64; {jax_info}")
    table = measure(families, args.sizes, args.repeats)
    flop_count = {name: c for family, _ in families for name, c, _ in family}
    names = list(flop_count)
    primals = [name for name in names if "primal" in name]
    primal_of = lambda name: primals[-1] if name.startswith("JAX") else primals[0]
    rate = {p: max(2 * n**3 / table[n][p][2] for n in args.sizes) / 1e9 for p in primals}
    width = max(map(len, names)) + 2
    header = " " * width + "".join(f"{f'n={n}':>10}" for n in args.sizes)

    print(f"\ntime / time(primal): median over {args.repeats} interleaved rounds, n x n matrices;"
          f" model = flop count in primals\n{' ' * width}{'model':>10}" + header[width:])
    for name in names:
        print(f"{name:<{width}}{flop_count[name]:10d}" + "".join(f"{table[n][name][0]:10.2f}" for n in args.sizes))
    print(f"\nprimal GFLOP/s: 2 n^3 / median time; the best sample at any n is the machine's GEMM rate\n{header}")
    for p in primals:
        print(f"{p:<{width}}" + "".join(f"{2 * n**3 / table[n][p][1] / 1e9:10.1f}" for n in args.sizes)
              + f"   rate {rate[p]:.1f}")
    print(f"\nshare of the GEMM rate: 6 n^3 flops / median time / rate (100% = three products at the rate)\n{header}")
    for name in names:
        if name not in primals:
            print(f"{name:<{width}}" + "".join(
                f"{6 * n**3 / table[n][name][1] / 1e9 / rate[primal_of(name)]:10.0%}" for n in args.sizes))

    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    jac = lambda n: n * n * (n * n + n * n) * 8  # m o (m n + n o) 8 bytes with m = n = o
    n_fit = max(n for n in range(1, 4096) if jac(n) <= ram)
    print(f"\nexplicit Jacobian (16 n^4 bytes in float64): fits in this machine's {ram / 2**30:.1f} GiB up to n = {n_fit}")


if __name__ == "__main__":
    main()
