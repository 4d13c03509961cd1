"""max, min and prod reductions (einsdiff.ir.functions.extrema) and the NumPy spellings that
build them: numpy's values, derivatives against finite differences and brute-force closed
forms (ties split evenly; a zero factor exact to every order), refusals, every printer."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.expr import is_zero
from einsdiff.ir.functions import FUNCTIONS
from einsdiff.testing import brute_force_jacobian, check_jacobian, kink_distance

RNG = np.random.default_rng(16)
X3 = RNG.standard_normal((2, 3, 4))  # no ties: the gaps are checked where derivatives are compared

# (id, the reduction written with numpy, the argument's shape); the same code runs on arrays and variables.
CASES = [
    ("max", lambda a: np.max(a), (2, 3, 4)),
    ("max-axis", lambda a: np.max(a, axis=1), (2, 3, 4)),
    ("max-neg-axis-keepdims", lambda a: np.max(a, axis=-1, keepdims=True), (2, 3, 4)),
    ("max-tuple", lambda a: np.max(a, axis=(0, 2)), (2, 3, 4)),
    ("amax-keepdims", lambda a: np.amax(a, axis=None, keepdims=True), (2, 3, 4)),
    ("min", lambda a: np.min(a), (2, 3, 4)),
    ("amin-axis", lambda a: np.amin(a, 0), (2, 3, 4)),
    ("min-tuple-keepdims", lambda a: np.min(a, axis=(-1, 1), keepdims=True), (2, 3, 4)),
    ("prod", lambda a: np.prod(a), (2, 3, 4)),
    ("prod-axis", lambda a: np.prod(a, axis=-2), (2, 3, 4)),
    ("prod-tuple-keepdims", lambda a: np.prod(a, axis=(0, 1), keepdims=True), (2, 3, 4)),
    ("method-max", lambda a: a.max(axis=1, keepdims=True), (2, 3, 4)),
    ("method-min", lambda a: a.min(-1), (2, 3, 4)),
    ("method-prod", lambda a: a.prod(axis=(0, 2)), (2, 3, 4)),
    ("maximum-reduce", lambda a: np.maximum.reduce(a), (2, 3, 4)),
    ("minimum-reduce-keepdims", lambda a: np.minimum.reduce(a, axis=2, keepdims=True), (2, 3, 4)),
    ("multiply-reduce-all", lambda a: np.multiply.reduce(a, axis=None), (2, 3, 4)),
    ("fmax-reduce", lambda a: np.fmax.reduce(a, axis=(0, 1)), (2, 3, 4)),
    ("size-one-axis", lambda a: np.max(a, axis=1), (3, 1)),
    ("max-of-expression", lambda a: np.max(np.tanh(a) * 2 + a, axis=0), (2, 3, 4)),
]


@pytest.mark.parametrize("name, fn, shape", CASES, ids=[c[0] for c in CASES])
def test_values_are_numpys(name, fn, shape):
    a = X3 if shape == X3.shape else RNG.standard_normal(shape)
    e = fn(ed.var("a", shape))
    want = fn(a)
    assert e.shape == np.shape(want)
    np.testing.assert_allclose(ed.evaluate(e, a=a), want, rtol=1e-13)


@pytest.mark.parametrize("name, fn, shape", CASES, ids=[c[0] for c in CASES])
def test_first_and_second_derivatives_match_finite_differences(name, fn, shape):
    a = X3 if shape == X3.shape else RNG.standard_normal(shape)
    v = ed.var("a", shape)
    e = fn(v)
    assert kink_distance(e, {"a": a}) > 1e-3  # away from ties
    check_jacobian(e, v, {"a": a}, order=2)


@settings(max_examples=25)
@given(st.sampled_from(["max", "min", "prod"]), st.lists(st.integers(-2, 2), min_size=6, max_size=6),
       st.sampled_from([None, 0, 1, (0, 1), -1]))
def test_jacobians_are_the_brute_force_ones_even_at_ties(fn, entries, axis):
    """Small integers tie often; the loop oracle splits a tie's derivative evenly by its own code."""
    x = ed.var("x", (2, 3))
    e = getattr(ed, fn)(x, axis)
    at = {"x": np.array(entries, dtype=float).reshape(2, 3)}
    want = brute_force_jacobian(e, x, at)
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(ed.evaluate(ed.jacobian(e, x, mode=mode), at), want, rtol=1e-14, atol=1e-14)


# -- ties ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_a_tie_splits_the_derivative_evenly(mode):
    x, X = ed.var("x", (4,)), ed.var("X", (2, 3))
    jac = lambda f, v, **b: ed.evaluate(ed.jacobian(f, v, mode=mode), b)  # noqa: E731
    np.testing.assert_array_equal(jac(ed.max(x), x, x=np.array([1.0, 3.0, 3.0, 2.0])), [0.0, 0.5, 0.5, 0.0])
    np.testing.assert_array_equal(jac(ed.min(x), x, x=np.array([1.0, 3.0, 1.0, 1.0])), [1 / 3, 0.0, 1 / 3, 1 / 3])
    np.testing.assert_array_equal(jac(np.max(x), x, x=np.full(4, 7.0)), np.full(4, 0.25))
    rows = np.array([[2.0, 2.0, -1.0], [0.0, 5.0, 1.0]])
    want = np.zeros((2, 2, 3))
    want[0, 0, :2] = 0.5
    want[1, 1, 1] = 1.0
    np.testing.assert_array_equal(jac(X.max(axis=1), X, X=rows), want)


def test_max_and_min_are_piecewise_linear_so_second_derivatives_are_zero():
    x = ed.var("x", (4,))
    assert is_zero(ed.hessian(ed.max(x), x)) and is_zero(ed.hessian(ed.min(x), x, mode="forward"))
    H = ed.hessian(ed.min(ed.exp(x)), x)  # the chain rule's term through exp, at the minimum only
    at = np.array([1.0, 3.0, 1.0, 2.0])
    np.testing.assert_allclose(ed.evaluate(H, x=at), np.diag([0.5, 0, 0.5, 0]) * np.e, rtol=1e-14)


def _log_softmax_ce(Y):
    """Cross-entropy of softmax(Z) against one-hot rows Y, written for numpy with the max trick."""
    def ce(Z):
        shifted = Z - Z.max(axis=1, keepdims=True)
        return -np.sum(Y * (shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))))

    return ce


@pytest.mark.parametrize("tie", [False, True])
def test_the_max_trick_leaves_the_softmax_cross_entropy_gradient(tie):
    Y = np.eye(3)[[0, 2, 1, 2]]
    z = RNG.standard_normal((4, 3))
    if tie:
        z[1, 0] = z[1, 2] = z[1].max() + 1.0  # two maxima in a row: the shift's derivative still cancels
    Z = ed.var("Z", (4, 3))
    f = _log_softmax_ce(Y)(Z)
    np.testing.assert_allclose(ed.evaluate(f, Z=z), _log_softmax_ce(Y)(z), rtol=1e-13)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    plain = -ed.sum(Y * ed.log_softmax(Z, axis=1))
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(ed.evaluate(ed.jacobian(f, Z, mode=mode), Z=z), p - Y, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ed.evaluate(ed.hessian(f, Z), Z=z), ed.evaluate(ed.hessian(plain, Z), Z=z),
                               rtol=1e-12, atol=1e-15)


# -- products with zero factors ----------------------------------------------------------------------
def _cofactor(x: np.ndarray, skip: tuple[int, ...]) -> float:
    """Π x_j over j not in ``skip`` (distinct), 0 when ``skip`` repeats an index: ∂^k Π x."""
    if len(set(skip)) < len(skip):
        return 0.0
    return math.prod(float(v) for j, v in enumerate(x) if j not in skip)


@pytest.mark.parametrize("x0", [[2.0, 0.0, 3.0, 0.5], [2.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 4.0]])
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_derivatives_of_a_product_are_exact_at_zero_factors_to_the_third_order(x0, mode):
    x0 = np.array(x0)
    x = ed.var("x", (4,))
    d = ed.prod(x)
    for order in range(1, 4):
        d = ed.jacobian(d, x, mode=mode)
        want = np.array([_cofactor(x0, k) for k in itertools.product(range(4), repeat=order)]).reshape((4,) * order)
        np.testing.assert_array_equal(ed.evaluate(d, x=x0), want)


def test_a_product_over_several_axes_with_zeros_is_exact():
    a = np.array([[[1.5, 0.0], [2.0, -1.0], [0.5, 3.0]], [[0.0, 2.0], [1.0, 1.0], [-2.0, 0.0]]])  # (2, 3, 2)
    A = ed.var("A", a.shape)
    e = np.prod(A, axis=(0, 2))  # one product per middle index, over 4 entries
    for mode in ("forward", "reverse"):
        J = ed.evaluate(ed.jacobian(e, A, mode=mode), A=a)
        want = np.zeros((3,) + a.shape)
        for i, j, k in np.ndindex(*a.shape):
            want[j, i, j, k] = _cofactor(a[:, j, :].ravel(), (2 * i + k,))
        np.testing.assert_array_equal(J, want)
    H = ed.evaluate(ed.hessian(ed.sum(e), A), A=a)
    for (i, j, k), (p, q, r) in itertools.product(np.ndindex(*a.shape), repeat=2):
        want = _cofactor(a[:, j, :].ravel(), (2 * i + k, 2 * p + r)) if j == q else 0.0
        assert H[i, j, k, p, q, r] == want


# -- refusals -------------------------------------------------------------------------------------
X = ed.var("X", (2, 3))


@pytest.mark.parametrize("call, name, arg", [
    (lambda: np.max(X, out=np.zeros(2)), "np.max", "out"),
    (lambda: np.amax(X, initial=0.0), "np.a?max", "initial"),  # numpy 1.x's amax is its max
    (lambda: np.min(X, where=np.ones((2, 3), bool), initial=1.0), "np.min", "initial"),
    (lambda: X.min(where=np.ones((2, 3), bool)), "np.min", "where"),
    (lambda: np.prod(X, initial=2.0), "np.prod", "initial"),
    (lambda: X.prod(dtype=np.float32), "np.prod", "dtype"),
    (lambda: X.max(axis=0, out=np.zeros(3)), "np.max", "out"),
])
def test_what_einsdiff_cannot_honor_is_refused_naming_the_function(call, name, arg):
    with pytest.raises(ed.OptionError, match=f"^{name}: einsdiff does not take {arg}="):
        call()


def test_ufunc_reductions_refuse_initial_and_where_and_other_reductions():
    with pytest.raises(ed.OperandError, match="np.maximum.reduce: einsdiff cannot honor initial="):
        np.maximum.reduce(X, initial=0.0)
    with pytest.raises(ed.OperandError, match="np.multiply.reduce: einsdiff cannot honor where="):
        np.multiply.reduce(X, where=np.ones((2, 3), bool))
    with pytest.raises(ed.OperandError, match="np.subtract.reduce: .*np.multiply .a product., np.maximum"):
        np.subtract.reduce(X)
    with pytest.raises(ed.OperandError, match="np.multiply.accumulate"):
        np.multiply.accumulate(X)


def test_bad_axes_and_empty_axes_are_shape_errors_naming_the_function():
    with pytest.raises(ed.ShapeError, match="np.max: axis 2 is out of range"):
        np.max(X, axis=2)
    with pytest.raises(ed.ShapeError, match="^prod: axis 0 names an axis twice|prod: axis .* twice"):
        ed.prod(X, axis=(0, -2))
    with pytest.raises(ed.ShapeError, match="^max: variable 'e' has shape .2, 0., and an empty axis has no maximum"):
        ed.max(ed.var("e", (2, 0)), axis=1)
    assert ed.evaluate(ed.prod(ed.var("e", (2, 0)), axis=1), e=np.zeros((2, 0))).tolist() == [1.0, 1.0]
    with pytest.raises(ed.NoMethodError, match="argmax"):
        X.argmax()


# -- printing and reading back --------------------------------------------------------------------
x, A = ed.var("x", (3,)), ed.var("A", (4, 3))
VALUES = {"x": np.array([0.5, -1.5, 2.0]), "A": RNG.standard_normal((4, 3))}
PRINTED = [  # the expression, index notation, LaTeX, matrix notation (None: not a matrix formula)
    (ed.max(x), "f = max(x)", r"f = \max_{i}\left(x_{i}\right)", "f = max(x)"),
    (ed.min(A, 1), "f[i] = min[j](A[i,j])", r"f_{i} = \min_{j}\left(A_{ij}\right)", None),
    (ed.prod(A @ x), "f = prod[i](A[i,j] x[j])", r"f = \prod_{i}\left(A_{ij} x_{j}\right)", "f = prod(A x)"),
    (ed.prod(A, (0, 1)) + ed.max(x), "f = prod(A) + max(x)",
     r"f = \prod_{i,j}\left(A_{ij}\right) + \max_{j}\left(x_{j}\right)", "f = prod(A) + max(x)"),
]


@pytest.mark.parametrize("e, text, latex, matrix", PRINTED)
def test_every_printer_writes_the_reductions(e, text, latex, matrix):
    assert ed.to_index_notation(e) == text
    assert ed.to_latex(e) == latex
    assert "<munder>" in ed.to_mathml(e) and ("<mi>max</mi>" in ed.to_mathml(e) or "∏" in ed.to_mathml(e)
                                                or "<mi>min</mi>" in ed.to_mathml(e))
    if matrix is None:
        with pytest.raises(ed.OptionError, match="no matrix notation"):
            ed.to_matrix_notation(e)
        return
    assert ed.to_matrix_notation(e) == matrix
    assert ed.to_matrix_notation(e, format="latex").count(r"\left(") >= 1
    assert ed.to_matrix_notation(e, format="mathml").startswith("<math")
    again = ed.parse(matrix.removeprefix("f = "), notation="matrix", x=x, A=A)
    np.testing.assert_allclose(ed.evaluate(again, VALUES), ed.evaluate(e, VALUES), rtol=1e-13)


@pytest.mark.parametrize("e", [p[0] for p in PRINTED] + [
    ed.max(A * x, 1).sum() - ed.min(ed.exp(A), 0) @ x,
    ed.grad(ed.max(A @ x), x), ed.grad(ed.prod(x), x), ed.hessian(ed.prod(x), x)])
def test_index_notation_reads_back_with_the_same_value(e):
    again = ed.parse(ed.to_index_notation(e), x=x, A=A)
    np.testing.assert_allclose(ed.evaluate(again, VALUES), ed.evaluate(e, VALUES), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("e", [p[0] for p in PRINTED])
def test_index_notation_reads_back_as_the_same_expression(e):
    assert ed.parse(ed.to_index_notation(e), x=x, A=A) == e


def test_formulas_reduce_along_named_axes_and_point_max_of_two_to_maximum():
    X = ed.var("X", (2, 3))
    assert ed.parse("f[i] = max[j](X[i,j])", X=X) == ed.max(X, 1)
    assert ed.parse("f[j] = prod[i](X[i,j] X[i,j])", X=X) == ed.prod(X * X, 0)
    assert ed.parse("f = min(X)", X=X) == ed.min(X)
    with pytest.raises(ed.ParseError, match="max takes one argument, got 2; did you mean maximum?"):
        ed.parse("f[i] = max(x[i], 0)", x=x)
    with pytest.raises(ed.ParseError, match="min takes 1 argument, got 2; did you mean minimum?"):
        ed.parse("min(x, x)", notation="matrix", x=x)


def test_explain_writes_each_rule():
    assert "max rule: " in ed.explain(ed.max(x), x) and "ties split evenly" in ed.explain(ed.max(x), x)
    assert "product rule of prod: " in ed.explain(ed.prod(x), x)
    assert r"\prod_{j \neq k}" in ed.explain(ed.prod(x), x, latex=True)


def test_generated_numpy_code_runs_and_matches():
    exprs = {"m": X.max(axis=1), "g": ed.grad(ed.min(X), X), "h": ed.hessian(ed.prod(X), X),
             "j": ed.jacobian(np.multiply.reduce(X, axis=0, keepdims=True), X)}
    at = np.array([[1.0, 0.0, 2.0], [-1.0, 2.0, -1.0]])  # a zero factor, a tie at the minimum
    for name, e in exprs.items():
        namespace = {}
        exec(ed.to_numpy_code(e, name="f"), namespace)  # noqa: S102 - our own generated code
        np.testing.assert_allclose(namespace["f"](at), ed.evaluate(e, X=at), rtol=1e-14, err_msg=name)


def test_the_values_other_backends_compute_are_numpys():
    """Each entry's ``array`` form, run against numpy's namespace (torch and jax share these names)."""
    a = RNG.standard_normal((2, 3, 4))
    v = ed.var("a", a.shape)
    for e in (ed.max(v, (0, 2)), ed.min(v, 1), ed.prod(v, (2, 0))):
        entry = FUNCTIONS[e.fn]
        np.testing.assert_allclose(entry.array(np, e, [a]), entry.numpy(e, [a]), rtol=1e-14)
