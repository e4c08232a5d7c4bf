"""Property-based tests of the chapter's own `matmul_jvp` (book/02_numpy.ipynb), loaded from the notebook.

Tolerances are componentwise rounding bounds, not guesses: a computed sum of n products, each of
size at most |x_j||y_j|, is off by at most about n*u*sum_j |x_j||y_j| (Higham 2002, section 3.1), with
u = eps/2. We allow 2*(n + 3)*eps times that scale (n + 3 covers forming A +- h A_dot, the sum of the
two products, the subtraction and the error of the reference itself), which for float64 is 1.3e-15 (n = 0)
to 3.6e-15 (n = 5) relative to the scale. hypothesis.target reports the worst error / bound seen.
Checks that do the same floating-point operations on both sides are exact: same shape, dtype and bytes
(np.array_equal would call 0.0 and -0.0 equal and NaN unequal to itself).
"""
import inspect
import re
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, target, strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

from project import ROOT
from notebook_code import load_notebook_code

jax.config.update("jax_enable_x64", True)

CHAPTER = load_notebook_code(ROOT / "book" / "02_numpy.ipynb")
matmul_jvp = CHAPTER["matmul_jvp"]
matmul_jvp_many = CHAPTER["matmul_jvp_many"]

DTYPES = (np.float32, np.float64, np.complex128)
LAYOUTS = ("C", "F", "strided", "transposed")
SAFETY = 2  # the factor in front of (n + 3) * eps


# ---------------------------------------------------------------------------------------------- strategies
def random_array(rng, shape, dtype, layout="C"):
    """Standard-normal array of `shape` and `dtype`, stored C- or F-ordered, as a strided view or a transpose."""
    def fresh(s):
        x = rng.standard_normal(s)
        if np.issubdtype(dtype, np.complexfloating):
            x = x + 1j * rng.standard_normal(s)
        return x.astype(dtype)

    if layout == "strided" and shape:
        x = fresh(shape[:-1] + (2 * shape[-1],))[..., ::2]
    elif layout == "transposed" and len(shape) >= 2:
        x = np.swapaxes(fresh(shape[:-2] + (shape[-1], shape[-2])), -1, -2)
    elif layout == "F":
        x = np.asfortranarray(fresh(shape))
    else:
        x = fresh(shape)
    assert x.shape == tuple(shape)
    return x


matmul_shapes = mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, min_side=0, max_side=5)


@st.composite
def problems(draw, allow_none=True, shapes=matmul_shapes):
    """(A, B, A_dot, B_dot): np.matmul-compatible shapes (vectors, batches, zero sizes), dtypes, layouts, Nones."""
    shape_A, shape_B = draw(shapes).input_shapes
    dtype_A, dtype_B = draw(st.sampled_from(DTYPES)), draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    A, A_dot = (random_array(rng, shape_A, dtype_A, draw(st.sampled_from(LAYOUTS))) for _ in range(2))
    B, B_dot = (random_array(rng, shape_B, dtype_B, draw(st.sampled_from(LAYOUTS))) for _ in range(2))
    missing = draw(st.sampled_from(["", "A_dot", "B_dot", "both"])) if allow_none else ""
    A_dot = None if missing in ("A_dot", "both") else A_dot
    B_dot = None if missing in ("B_dot", "both") else B_dot
    return A, B, A_dot, B_dot


def zeros_if_none(tangent, primal):
    """The tangent, or an explicit zero tangent where it is None."""
    return np.zeros_like(primal) if tangent is None else tangent


def inner(A):
    """The inner dimension n of A @ B."""
    return A.shape[-1]


def eps(*arrays):
    """Machine epsilon of the least precise of the arrays."""
    return max(np.finfo(a.dtype).eps for a in arrays)


def absmat(x, y):
    """|x| @ |y| in float64: the scale of the rounding error of x @ y."""
    return np.matmul(np.abs(x).astype(np.float64), np.abs(y).astype(np.float64))


def same_bits(x, y):
    """True when x and y have the same shape, dtype and bytes."""
    x, y = np.asarray(x), np.asarray(y)
    return x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes()


def assert_within(actual, desired, bound, label):
    """Componentwise |actual - desired| <= bound; report the worst ratio to hypothesis.target."""
    diff = np.abs(np.asarray(actual, dtype=np.complex128) - np.asarray(desired, dtype=np.complex128))
    bound = np.asarray(bound) + np.finfo(np.float64).tiny
    target(float(np.max(diff / bound, initial=0.0)), label=label)
    assert np.all(diff <= bound), f"max |error| / bound = {np.max(diff / bound):.3g}"


def test_chapter_exports_the_functions_it_lists():
    """The chapter lists the functions of its export-tagged cells; this keeps that list exact."""
    functions = {name for name, value in CHAPTER.items() if inspect.isfunction(value)}
    assert functions == {"_as_pair", "_as_primal", "_check_matmul_shapes", "_check_tangent", "matmul_jvp",
                         "_check_many", "matmul_jvp_many"}


# -------------------------------------------------------------------------------------- agreement checks
@settings(max_examples=60, deadline=None)  # each new shape compiles: fewer examples than the NumPy-only checks
@given(problems())
def test_matches_jax_jvp(problem):
    A, B, A_dot, B_dot = problem
    C, C_dot = matmul_jvp((A, B), (A_dot, B_dot))
    A_dot0, B_dot0 = zeros_if_none(A_dot, A), zeros_if_none(B_dot, B)
    # precision="highest": on a GPU the default rounds float32 factors to TF32, far outside these bounds
    C_ref, C_dot_ref = jax.jvp(partial(jnp.matmul, precision="highest"), (A, B), (A_dot0, B_dot0))
    assert np.shape(C) == np.shape(C_dot) == C_ref.shape == C_dot_ref.shape
    assert C.dtype == C_dot.dtype == np.result_type(A, B) == C_ref.dtype
    assert np.array_equal(C, np.matmul(A, B))
    tol = SAFETY * (inner(A) + 3) * eps(C)
    assert_within(C, C_ref, tol * absmat(A, B), "C vs jax: error / bound")
    assert_within(C_dot, C_dot_ref, tol * (absmat(A_dot0, B) + absmat(A, B_dot0)), "C_dot vs jax: error / bound")


@settings(max_examples=150, deadline=None)
@given(problems(), st.sampled_from([0.5, 1.0, 2.0]))
def test_matches_central_difference(problem, h):
    """Exact for a bilinear map up to rounding of size eps*(|A| + h|A_dot|)(|B| + h|B_dot|)/h; h a power of 2."""
    A, B, A_dot, B_dot = problem
    A_dot0, B_dot0 = zeros_if_none(A_dot, A), zeros_if_none(B_dot, B)
    C_dot = matmul_jvp((A, B), (A_dot, B_dot))[1]
    fd = (np.matmul(A + h * A_dot0, B + h * B_dot0) - np.matmul(A - h * A_dot0, B - h * B_dot0)) / (2 * h)
    scale = absmat(np.abs(A) + h * np.abs(A_dot0), np.abs(B) + h * np.abs(B_dot0)) / h
    assert_within(C_dot, fd, SAFETY * (inner(A) + 3) * eps(A, B) * scale, "C_dot vs central difference: error / bound")


# Scalars for linear combinations: zero, or far enough from it that scaling a float32 array cannot underflow.
coefficients = st.floats(-2, 2, allow_nan=False).filter(lambda x: x == 0 or abs(x) > 1e-20)


@settings(max_examples=150, deadline=None)
@given(problems(allow_none=False), st.integers(0, 2**32 - 1), coefficients, coefficients)
def test_linear_in_the_tangents(problem, seed, alpha, beta):
    """Rules out rules that are not linear in the tangents (A_dot @ B_dot); a wrong linear rule would pass."""
    A, B, A_dot, B_dot = problem
    rng = np.random.default_rng(seed)
    A_dot2, B_dot2 = random_array(rng, A.shape, A.dtype), random_array(rng, B.shape, B.dtype)
    lhs = matmul_jvp((A, B), (alpha * A_dot + beta * A_dot2, alpha * B_dot + beta * B_dot2))[1]
    rhs = alpha * matmul_jvp((A, B), (A_dot, B_dot))[1] + beta * matmul_jvp((A, B), (A_dot2, B_dot2))[1]
    A_mix = abs(alpha) * np.abs(A_dot) + abs(beta) * np.abs(A_dot2)
    B_mix = abs(alpha) * np.abs(B_dot) + abs(beta) * np.abs(B_dot2)
    bound = SAFETY * (inner(A) + 3) * eps(A, B) * (absmat(A_mix, B) + absmat(A, B_mix))
    assert_within(lhs, rhs, bound, "linearity: error / bound")


@settings(max_examples=100, deadline=None)
@given(problems(allow_none=False), st.integers(0, 2**32 - 1), coefficients)
def test_bilinear_in_primal_tangent_pairs(problem, seed, alpha):
    """C_dot is linear in (A, A_dot) for fixed (B, B_dot), and in (B, B_dot) for fixed (A, A_dot)."""
    A, B, A_dot, B_dot = problem
    rng = np.random.default_rng(seed)
    A2, A_dot2 = random_array(rng, A.shape, A.dtype), random_array(rng, A.shape, A.dtype)
    B2, B_dot2 = random_array(rng, B.shape, B.dtype), random_array(rng, B.shape, B.dtype)
    tol = SAFETY * (inner(A) + 3) * eps(A, B)
    lhs = matmul_jvp((A + alpha * A2, B), (A_dot + alpha * A_dot2, B_dot))[1]
    rhs = matmul_jvp((A, B), (A_dot, B_dot))[1] + alpha * matmul_jvp((A2, B), (A_dot2, B_dot))[1]
    A_mix, A_dot_mix = np.abs(A) + abs(alpha) * np.abs(A2), np.abs(A_dot) + abs(alpha) * np.abs(A_dot2)
    assert_within(lhs, rhs, tol * (absmat(A_dot_mix, B) + absmat(A_mix, B_dot)), "bilinear, first slot: error / bound")
    lhs = matmul_jvp((A, B + alpha * B2), (A_dot, B_dot + alpha * B_dot2))[1]
    rhs = matmul_jvp((A, B), (A_dot, B_dot))[1] + alpha * matmul_jvp((A, B2), (A_dot, B_dot2))[1]
    B_mix, B_dot_mix = np.abs(B) + abs(alpha) * np.abs(B2), np.abs(B_dot) + abs(alpha) * np.abs(B_dot2)
    assert_within(lhs, rhs, tol * (absmat(A_dot, B_mix) + absmat(A, B_dot_mix)), "bilinear, second slot: error / bound")


@settings(max_examples=150, deadline=None)
@given(problems(allow_none=False))
def test_none_tangents_are_structural_zeros(problem):
    """Exact: a None skips its product, even where a primal is infinite (inf * 0 would be NaN); the full
    result is the two products added; both None gives zeros."""
    A, B, A_dot, B_dot = problem
    only_A = matmul_jvp((A, B), (A_dot, None))[1]
    only_B = matmul_jvp((A, B), (None, B_dot))[1]
    assert same_bits(only_A, np.matmul(A_dot, B)) and same_bits(only_B, np.matmul(A, B_dot))
    assert same_bits(matmul_jvp((A, B), (A_dot, B_dot))[1], only_A + only_B)
    C, C_dot = matmul_jvp((A, B), (None, None))
    assert np.shape(C_dot) == np.shape(C) and C_dot.dtype == C.dtype and not np.any(C_dot)
    assert only_A.dtype == only_B.dtype == C.dtype
    A_inf, B_inf = A.copy(), B.copy()
    A_inf.reshape(-1)[:1], B_inf.reshape(-1)[:1] = np.inf, np.inf  # first entry infinite (if there is one)
    with np.errstate(invalid="ignore"):  # the primal C may hold NaN (inf * 0 in a complex product)
        assert same_bits(matmul_jvp((A_inf, B), (A_dot, None))[1], np.matmul(A_dot, B))
        assert same_bits(matmul_jvp((A, B_inf), (None, B_dot))[1], np.matmul(A, B_dot))


@settings(max_examples=100, deadline=None)
@given(problems(allow_none=False), st.sampled_from([0.25, 0.5, 2.0, 4.0]))
def test_homogeneous_exactly_under_power_of_two_scaling(problem, scale):
    """Scaling by a power of two is exact, so C_dot scales bit for bit (same contiguous layout on both sides).

    Any code linear in the tangents passes the first check; the second needs C_dot linear in (A, A_dot)."""
    A, B, A_dot, B_dot = (np.ascontiguousarray(x) for x in problem)
    C_dot = matmul_jvp((A, B), (A_dot, B_dot))[1]
    assert same_bits(matmul_jvp((A, B), (scale * A_dot, scale * B_dot))[1], scale * C_dot)
    assert same_bits(matmul_jvp((scale * A, B), (scale * A_dot, B_dot))[1], scale * C_dot)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 6), st.integers(0, 5), st.integers(0, 5), st.integers(0, 5),
       st.sampled_from(DTYPES), st.integers(0, 2**32 - 1))
def test_many_tangents_match_one_at_a_time(k, m, n, o, dtype, seed):
    rng = np.random.default_rng(seed)
    A, B = random_array(rng, (m, n), dtype), random_array(rng, (n, o), dtype)
    A_dots, B_dots = random_array(rng, (k, m, n), dtype), random_array(rng, (k, n, o), dtype)
    C, C_dots = matmul_jvp_many((A, B), (A_dots, B_dots))
    assert np.array_equal(C, np.matmul(A, B)) and C_dots.shape == (k, m, o) and C_dots.dtype == C.dtype
    one_at_a_time = np.array([matmul_jvp((A, B), (A_dots[i], B_dots[i]))[1] for i in range(k)]).reshape(k, m, o)
    scale = absmat(A_dots, B) + absmat(A, B_dots)
    assert_within(C_dots, one_at_a_time, SAFETY * (n + 3) * eps(A) * scale, "many vs one at a time: error / bound")


# ---------------------------------------------------------------------------------------------- bad input
def names_shapes(*shapes):
    """A regex that requires every shape's repr somewhere in the message."""
    return "".join(f"(?=.*{re.escape(str(tuple(s)))})" for s in shapes)


@settings(max_examples=100, deadline=None)
@given(matmul_shapes, st.sampled_from(["A_dot", "B_dot"]), array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
       st.booleans())
def test_tangent_of_another_shape_raises(shapes, which, wrong_shape, other_is_none):
    shape_A, shape_B = shapes.input_shapes
    A, B = np.ones(shape_A), np.ones(shape_B)
    good = {"A_dot": None if other_is_none else np.ones(shape_A), "B_dot": None if other_is_none else np.ones(shape_B)}
    primal_shape = shape_A if which == "A_dot" else shape_B
    if tuple(wrong_shape) == tuple(primal_shape):
        wrong_shape = tuple(wrong_shape) + (1,)
    good[which] = np.ones(wrong_shape)
    with pytest.raises(ValueError, match=names_shapes(wrong_shape, primal_shape)):
        matmul_jvp((A, B), (good["A_dot"], good["B_dot"]))


@pytest.mark.parametrize("which, shape", [
    ("A_dot", (3,)), ("A_dot", (1, 3)), ("A_dot", (2, 1)), ("A_dot", (1, 2, 3)), ("A_dot", (4, 2, 3)),
    ("B_dot", (4,)), ("B_dot", (1, 4)), ("B_dot", (3, 1)), ("B_dot", (5, 3, 4)),
])
def test_tangent_that_would_broadcast_raises(which, shape):
    A, B = np.ones((2, 3)), np.ones((3, 4))
    tangents = (np.ones(shape), None) if which == "A_dot" else (None, np.ones(shape))
    primal_shape = A.shape if which == "A_dot" else B.shape
    with pytest.raises(ValueError, match=names_shapes(shape, primal_shape)):
        matmul_jvp((A, B), tangents)


@settings(max_examples=100, deadline=None)
@given(matmul_shapes, st.integers(0, 6))
def test_mismatched_inner_dimensions_raise(shapes, new_inner):
    shape_A, shape_B = (list(s) for s in shapes.input_shapes)
    axis = -2 if len(shape_B) >= 2 else 0
    if new_inner == shape_B[axis]:
        new_inner += 1
    shape_B[axis] = new_inner
    with pytest.raises(ValueError, match=names_shapes(shape_A, shape_B)):
        matmul_jvp((np.ones(shape_A), np.ones(shape_B)), (None, None))


@pytest.mark.parametrize("shape_A, shape_B", [
    ((2, 3, 4), (3, 4, 5)), ((2, 1, 3, 4), (3, 3, 4, 5)), ((4, 2, 3), (2, 3, 2)), ((0, 2, 2), (3, 2, 2)),
])
def test_batch_dimensions_that_do_not_broadcast_raise(shape_A, shape_B):
    with pytest.raises(ValueError, match=names_shapes(shape_A, shape_B)):
        matmul_jvp((np.ones(shape_A), np.ones(shape_B)), (np.ones(shape_A), np.ones(shape_B)))


@pytest.mark.parametrize("A, B", [(np.float64(2.0), np.ones(3)), (np.ones(3), np.array(2.0)), (1.0, 2.0)])
def test_zero_dimensional_input_raises(A, B):
    with pytest.raises(ValueError, match="0-d"):
        matmul_jvp((A, B), (None, None))


@pytest.mark.parametrize("dtype", [np.str_, np.bytes_, object])
@pytest.mark.parametrize("side", ["A", "B"])
def test_non_numeric_arrays_raise(dtype, side):
    bad = np.ones((3, 3)).astype(dtype)
    primals = (bad, np.ones((3, 3))) if side == "A" else (np.ones((3, 3)), bad)
    with pytest.raises(TypeError, match=rf"{side} has dtype {re.escape(str(bad.dtype))}"):
        matmul_jvp(primals, (None, None))


@pytest.mark.parametrize("primal_dtype, tangent_dtype", [
    (np.float32, np.float64), (np.float64, np.float32), (np.complex128, np.float64), (np.float64, np.complex128),
    (np.float64, np.int64), (np.float64, object),
])
def test_tangent_of_another_dtype_raises(primal_dtype, tangent_dtype):
    A, B = np.ones((2, 3), primal_dtype), np.ones((3, 4), primal_dtype)
    with pytest.raises(TypeError, match=rf"B_dot has dtype {np.dtype(tangent_dtype)} but B has dtype {np.dtype(primal_dtype)}"):
        matmul_jvp((A, B), (None, np.ones((3, 4)).astype(tangent_dtype)))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("side", ["A", "B"])
def test_integer_primals_are_held_fixed(dtype, side):
    """An integer or boolean primal takes only a None tangent (JAX's float0); given a tangent array it is refused."""
    ints, floats = np.arange(9).reshape(3, 3).astype(dtype), np.linspace(-1, 1, 9).reshape(3, 3)
    primals = (ints, floats) if side == "A" else (floats, ints)
    tangents = (None, floats) if side == "A" else (floats, None)
    C, C_dot = matmul_jvp(primals, tangents)
    want = np.matmul(ints, floats) if side == "A" else np.matmul(floats, ints)
    assert same_bits(C, want) and same_bits(C_dot, want)
    assert same_bits(matmul_jvp_many(primals, tuple(None if t is None else t[None] for t in tangents))[1][0], want)
    message = rf"{side} has dtype {np.dtype(dtype)}, and an integer or boolean array has no derivative"
    with pytest.raises(TypeError, match=message):
        matmul_jvp(primals, (floats, floats))
    with pytest.raises(TypeError, match=message):
        matmul_jvp_many(primals, (floats[None], floats[None]))


@pytest.mark.parametrize("dtype_A, dtype_B", [(np.int64, np.int64), (np.uint8, np.int32), (np.bool_, np.bool_),
                                              (np.bool_, np.int64)])
def test_integer_products_have_no_tangent(dtype_A, dtype_B):
    """Both factors integer or boolean, both tangents None: C_dot is None (JAX's float0), and it can be passed on."""
    M, N = np.arange(12).reshape(3, 4).astype(dtype_A), np.arange(8).reshape(4, 2).astype(dtype_B)
    C, C_dot = matmul_jvp((M, N), (None, None))
    assert same_bits(C, np.matmul(M, N)) and C_dot is None
    W, W_dot = np.linspace(-1, 1, 10).reshape(2, 5), np.linspace(1, 2, 10).reshape(2, 5)
    assert same_bits(matmul_jvp((C, W), (C_dot, W_dot))[1], np.matmul(C, W_dot))
    with pytest.raises(ValueError, match="both None"):  # a documented difference: matmul_jvp_many needs a stack
        matmul_jvp_many((M, N), (None, None))


A3, B3 = np.ones((2, 3)), np.ones((3, 2))


@pytest.mark.parametrize("primals, tangents, name", [
    ((A3,), (None, None), "primals"), ((A3, B3, B3), (None, None), "primals"), ([], (None, None), "primals"),
    (A3, (None, None), "primals"), (None, (None, None), "primals"), ("AB", (None, None), "primals"),
    ((A3, B3), (None,), "tangents"), ((A3, B3), (None, None, None), "tangents"), ((A3, B3), None, "tangents"),
    ((A3, B3), np.ones((2, 3)), "tangents"), ([A3, B3], (None, None), "primals"), ((A3, B3), [None, None], "tangents"),
    ([[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]], "primals"),  # nested lists would unpack into two vectors
])
def test_wrong_number_or_kind_of_arguments_raises(primals, tangents, name):
    with pytest.raises(TypeError, match=rf"^{name} must"):
        matmul_jvp(primals, tangents)


def test_many_rejects_bad_stacks_with_shapes_in_the_message():
    A, B = np.ones((2, 3)), np.ones((3, 4))
    with pytest.raises(ValueError, match=names_shapes((5, 3, 2), (5, 3, 4), (5, 2, 3))):
        matmul_jvp_many((A, B), (np.ones((5, 3, 2)), np.ones((5, 3, 4))))
    with pytest.raises(ValueError, match=names_shapes((5, 2, 3), (4, 3, 4), (5, 3, 4))):
        matmul_jvp_many((A, B), (np.ones((5, 2, 3)), np.ones((4, 3, 4))))
    with pytest.raises(ValueError, match=names_shapes((5, 4, 4), (5, 3, 4)) + r".*A_dots is None"):
        matmul_jvp_many((A, B), (None, np.ones((5, 4, 4))))
    assert same_bits(matmul_jvp_many((A, B), (None, np.ones((5, 3, 4))))[1], np.stack([A @ np.ones((3, 4))] * 5))
    with pytest.raises(ValueError, match="both None"):
        matmul_jvp_many((A, B), (None, None))
    with pytest.raises(ValueError, match=r"A_dots has shape \(\).*must have shape \(k, 2, 3\)"):  # no k to read
        matmul_jvp_many((A, B), (np.float64(1.0), None))
    with pytest.raises(ValueError, match=names_shapes((2, 3), (3,))):
        matmul_jvp_many((A, np.ones(3)), (np.ones((1, 2, 3)), np.ones((1, 3))))


# ---------------------------------------------------------------------------------------------------- cost
@pytest.mark.parametrize("tangents, products", [
    ((True, True), 3), ((True, False), 2), ((False, True), 2), ((False, False), 1),
])
def test_number_of_matrix_products(monkeypatch, tangents, products):
    """Deterministic: exactly the products the rule needs, one fewer per None tangent."""
    A, B = np.ones((4, 5)), np.ones((5, 6))
    calls, real_matmul = [], np.matmul

    def counting_matmul(*args, **kwargs):
        calls.append(args)
        return real_matmul(*args, **kwargs)

    monkeypatch.setattr(np, "matmul", counting_matmul)
    matmul_jvp((A, B), (np.ones((4, 5)) if tangents[0] else None, np.ones((5, 6)) if tangents[1] else None))
    assert len(calls) == products
