"""NumPy's ufuncs on expressions (einsdiff/ir/numpy_ufuncs.py) and ed.symbolic (einsdiff/ir/symbolic.py):
the same values as numpy, derivatives that match finite differences, refusals that name the function."""

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.numpy_ufuncs import UFUNCS
from einsdiff.ir.variables import variables
from einsdiff.testing.oracles import check_jacobian

x, y = ed.var("x", (3,)), ed.var("y", (2, 3))
X0 = np.array([0.31, -0.47, 0.83])
Y0 = np.array([[0.52, 1.3, -0.2], [-0.9, 0.15, 0.66]])
POS = np.array([0.4, 1.7, 2.2])  # for functions defined on positive numbers
BIND = {"x": X0, "y": Y0}

# (ufunc, the value x is bound to): points inside the domain, away from kinks
UNARY = [
    (np.negative, X0), (np.positive, X0), (np.conjugate, X0), (np.reciprocal, X0), (np.square, X0),
    (np.sqrt, POS), (np.exp, X0), (np.exp2, X0), (np.expm1, X0), (np.log, POS), (np.log1p, X0),
    (np.log2, POS), (np.log10, POS), (np.tanh, X0), (np.sin, X0), (np.cos, X0), (np.tan, X0),
    (np.arcsin, X0), (np.arccos, X0), (np.arctan, X0), (np.absolute, X0), (np.fabs, X0), (np.sign, X0),
]


@pytest.mark.parametrize(("ufunc", "value"), UNARY, ids=lambda v: getattr(v, "__name__", ""))
def test_a_unary_ufunc_builds_the_numpy_value_and_derivative(ufunc, value):
    e = ufunc(x)
    assert isinstance(e, ed.Expr)
    np.testing.assert_allclose(ed.evaluate(e, {"x": value}), ufunc(value), rtol=1e-12, atol=1e-15)
    check_jacobian(e, x, {"x": value})


def test_scipy_special_expit_and_log_expit_build_expressions():
    special = pytest.importorskip("scipy.special")
    for fn, value in ((special.expit, X0), (special.log_expit, 40 * X0)):  # log_expit stays finite far out
        e = fn(x)
        np.testing.assert_allclose(ed.evaluate(e, {"x": value}), fn(value), rtol=1e-12)
        check_jacobian(e, x, {"x": value})
    with pytest.raises(ed.OperandError, match="the ufunc gammaln has no derivative einsdiff knows"):
        special.gammaln(x)


def test_expm1_keeps_its_precision_near_zero():
    tiny = np.array([1e-12, -3e-14, 2e-10])
    got = ed.evaluate(np.expm1(x), {"x": tiny})
    np.testing.assert_allclose(got, np.expm1(tiny), rtol=1e-15)  # exp(x) - 1 would be off in the 4th digit
    np.testing.assert_allclose(ed.evaluate(ed.grad(np.expm1(x).sum(), x), {"x": tiny}), np.exp(tiny))


A0 = np.array([[0.7, -1.1, 0.25], [1.9, 0.4, -0.6]])  # a constant of y's shape
ROW = np.array([0.2, -0.35, 1.4])  # a constant broadcast against y's rows

# (ufunc, a, b, the values bound): expressions mixed with arrays and numbers, broadcast
BINARY = [
    (np.add, x, y, BIND), (np.add, A0, x, BIND), (np.add, y, 2.5, BIND),
    (np.subtract, y, x, BIND), (np.subtract, ROW, y, BIND), (np.subtract, np.float64(1.5), x, BIND),
    (np.multiply, x, y, BIND), (np.multiply, A0, x, BIND), (np.multiply, np.float64(2.0), y, BIND),
    (np.divide, y, x, BIND), (np.divide, A0, x, BIND), (np.divide, x, ROW, BIND), (np.divide, 1.0, y, BIND),
    (np.power, x, 3, BIND), (np.power, x, np.float64(-2.0), BIND), (np.power, x, np.array(2.0), BIND),
    (np.power, x, np.full((2, 3), 3.0), BIND), (np.power, 1.7, x, BIND), (np.power, np.abs(A0), x, BIND),
    (np.power, x, y, {"x": POS, "y": Y0}), (np.float_power, x, 2.5, {"x": POS, "y": Y0}),
    (np.maximum, x, y, BIND), (np.maximum, x, 0.0, BIND), (np.minimum, A0, y, BIND), (np.fmax, y, ROW, BIND),
    (np.fmin, x, 0.1, BIND),
    (np.logaddexp, x, y, BIND), (np.logaddexp, 0.0, x, BIND), (np.logaddexp, y, ROW, BIND),
    (np.logaddexp, 400.0, x, BIND), (np.logaddexp2, x, y, BIND),
    (np.greater, x, y, BIND), (np.less, A0, y, BIND), (np.greater_equal, y, 0.3, BIND), (np.less_equal, x, ROW, BIND),
    (np.matmul, A0, x, BIND), (np.matmul, y, x, BIND), (np.matmul, x, A0.T, BIND), (np.matmul, y.T, A0, BIND),
]


def _value(v, bindings):
    return ed.evaluate(v, bindings) if isinstance(v, ed.Expr) else v


@pytest.mark.parametrize(("ufunc", "a", "b", "bindings"), BINARY,
                         ids=[f"{u.__name__}-{k}" for k, (u, *_) in enumerate(BINARY)])
def test_a_binary_ufunc_broadcasts_mixed_operands_like_numpy(ufunc, a, b, bindings):
    e = ufunc(a, b)
    assert isinstance(e, ed.Expr)
    want = ufunc(_value(a, bindings), _value(b, bindings))
    np.testing.assert_allclose(ed.evaluate(e, bindings), want, rtol=1e-12, atol=1e-15)
    check_jacobian(e, tuple(variables(e)), bindings)


def test_every_supported_ufunc_is_tested():
    assert set(UFUNCS) == {u for u, _ in UNARY} | {u for u, *_ in BINARY}


def test_the_numpy_guide_lists_every_supported_ufunc():
    guide = (Path(__file__).resolve().parent.parent / "docs" / "guides" / "numpy.md").read_text(encoding="utf-8")
    section = guide.split("\n### Ufuncs that build expressions\n")[1].split("\nWhat else builds")[0]
    listed = set(re.findall(r"[a-z_0-9]+", section))
    assert {u.__name__ for u in UFUNCS} <= listed


def test_a_hessian_through_ufuncs_matches_finite_differences():
    e = (np.logaddexp(x, np.tanh(y)) * np.sqrt(np.square(x) + 1.0) + np.exp2(x) / np.cosh(0.3)).sum()
    check_jacobian(e, (x, y), BIND, order=2)


C = np.array([0.3, -0.8, 1.1])
M = 0.5 * np.array([[1.0, -0.4, 0.2], [0.3, 0.9, -1.2], [-0.7, 0.1, 0.6]])
# Steps smooth on all reals, that grow at most linearly: a chain of them stays finite and kink-free.
STEPS = [
    np.tanh, np.sin, np.cos, np.arctan, lambda v: np.exp(np.tanh(v)), lambda v: np.logaddexp(v, C),
    lambda v: C * v - C, lambda v: M @ v, lambda v: np.sqrt(np.square(v) + 1.0), lambda v: np.log1p(np.square(v)),
    lambda v: v / (2.0 + np.cos(v)), lambda v: np.power(np.square(v) + 0.5, 0.25),
    lambda v: np.logaddexp2(np.float64(0.5), v), lambda v: np.expm1(np.tanh(v)), lambda v: np.float64(2) * v + C,
]


@settings(max_examples=40)
@given(st.lists(st.sampled_from(range(len(STEPS))), min_size=1, max_size=5),
       st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3))
def test_a_chain_of_numpy_calls_on_an_expression_is_numpy_with_derivatives(steps, start):
    """The same code on an expression and on an array gives the same value, and its derivative
    matches finite differences."""
    e, want = x, np.array(start)
    for k in steps:
        e, want = STEPS[k](e), STEPS[k](want)
    assert isinstance(e, ed.Expr)
    np.testing.assert_allclose(ed.evaluate(e, {"x": np.array(start)}), want, rtol=1e-10, atol=1e-12)
    check_jacobian(e, x, {"x": np.array(start)})


def test_numpy_operators_with_an_array_or_a_numpy_scalar_on_the_left_build_expressions():
    cases = [
        (A0 + x, A0 + X0), (A0 - x, A0 - X0), (A0 * x, A0 * X0), (A0 / x, A0 / X0), (A0 @ x, A0 @ X0),
        (np.float64(2) * x, 2 * X0), (np.float32(2) + x, 2 + X0), (ROW ** np.float64(2) * x, ROW**2 * X0),
        (np.abs(A0) ** x, np.abs(A0) ** X0), (A0 > x, (A0 > X0).astype(float)), (-A0 <= x, (-A0 <= X0).astype(float)),
    ]
    for e, want in cases:
        assert isinstance(e, ed.Expr), type(e)
        np.testing.assert_allclose(ed.evaluate(e, BIND), want, rtol=1e-12)


def test_add_reduce_is_a_sum_over_the_axis():
    np.testing.assert_allclose(ed.evaluate(np.add.reduce(y), BIND), np.add.reduce(Y0))
    np.testing.assert_allclose(ed.evaluate(np.add.reduce(y, axis=1), BIND), np.add.reduce(Y0, axis=1))
    np.testing.assert_allclose(ed.evaluate(np.add.reduce(y, None), BIND), np.add.reduce(Y0, None))
    kept = np.add.reduce(y, axis=1, keepdims=True)
    assert kept.shape == (2, 1)
    np.testing.assert_allclose(ed.evaluate(kept, BIND), np.add.reduce(Y0, axis=1, keepdims=True))
    check_jacobian(kept, y, BIND)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_add_accumulate_is_a_running_sum_along_the_axis(axis):
    e = np.add.accumulate(y, axis=axis)
    np.testing.assert_allclose(ed.evaluate(e, BIND), np.add.accumulate(Y0, axis=axis), rtol=1e-12)
    check_jacobian(e, y, BIND)


@pytest.mark.parametrize("ufunc", [np.add, np.multiply, np.logaddexp, np.maximum, np.subtract])
def test_the_outer_method_puts_the_first_operands_axes_first(ufunc):
    for a, b in ((x, y), (A0, x), (y, ROW)):
        e = ufunc.outer(a, b)
        want = ufunc.outer(_value(a, BIND), _value(b, BIND))
        np.testing.assert_allclose(ed.evaluate(e, BIND), want, rtol=1e-12)
        check_jacobian(e, tuple(variables(e)), BIND)


# One refusal per class: an unknown ufunc, a method, a keyword, a base without a real power.
REFUSED = [
    (lambda: np.floor(x), "np.floor has no derivative einsdiff knows; its derivative is 0"),
    (lambda: np.mod(x, 2.0), "np.remainder has no derivative einsdiff knows"),
    (lambda: np.bitwise_and(x, x), "np.bitwise_and has no derivative einsdiff knows"),
    (lambda: np.equal(x, X0), "np.equal has no derivative einsdiff knows; einsdiff has no equality mask"),
    (lambda: A0 == x, "np.equal has no derivative"),
    (lambda: np.multiply.accumulate(x), "np.multiply.accumulate: einsdiff builds np.add.accumulate (a running sum)"),
    (lambda: np.add.accumulate(y, axis=None), "np.add.accumulate: axis=None runs over the flattened array"),
    (lambda: np.subtract.reduce(x), "np.subtract.reduce: einsdiff builds the reductions of np.add (a sum)"),
    (lambda: np.add.at(x, [0], 1.0), "np.add.at: it writes into an array in place"),
    (lambda: np.add.reduceat(x, [0, 2]), "np.add.reduceat: einsdiff has no segmented reduction"),
    (lambda: np.exp(x, out=np.zeros(3)), "np.exp: einsdiff cannot honor out=... on an expression"),
    (lambda: np.add(x, 1.0, where=X0 > 0), "np.add: einsdiff cannot honor where="),
    (lambda: _in_place(np.zeros(3), x), "write array = array + expression"),
    (lambda: np.add(x, 1.0, dtype=np.float32), "np.add: einsdiff cannot honor dtype="),
    (lambda: np.add.reduce(x, dtype=np.float32), "np.add.reduce: einsdiff cannot honor dtype="),
    (lambda: np.power(-2.0, x), "np.power: a constant base with entries <= 0"),
    (lambda: np.array([-1.0, 2.0, 3.0]) ** x, "np.power: a constant base with entries <= 0"),
    (lambda: np.power(x, np.array([2.0, 3.0, 2.0])), "not to an array of 2 different ones"),
    (lambda: np.add(x, np.array(["a", "b", "c"])), "np.add's operand 1 is a ndarray with dtype <U1"),
]


def _in_place(a, b):
    a += b
    return a


@pytest.mark.parametrize(("call", "message"), REFUSED, ids=[m.split(":")[0].split(" ")[0] + f"-{k}"
                                                            for k, (_, m) in enumerate(REFUSED)])
def test_what_einsdiff_cannot_build_is_refused_naming_the_numpy_function(call, message):
    with pytest.raises(ed.OperandError) as info:
        call()
    assert message in str(info.value)


def test_keywords_at_their_defaults_are_accepted():
    e = np.add(x, 1.0, casting="same_kind", order="K", where=True, dtype=None, subok=True)
    np.testing.assert_allclose(ed.evaluate(e, BIND), X0 + 1.0)


# -- ed.symbolic -----------------------------------------------------------------------------------

def test_symbolic_makes_variables_of_shapes_constants_of_arrays_and_keeps_numbers():
    def fn(w, A, c, b, *, scale):
        return scale * np.tanh(A @ w + c * b)

    A = ed.var("A", (2, 3))
    b0 = np.array([0.5, -1.0])
    e = ed.symbolic(fn, 3, A, 2.0, b0, scale=1.5)
    assert {v.name: v.shape for v in variables(e)} == {"w": (3,), "A": (2, 3)}
    w0, a0 = X0, A0
    np.testing.assert_allclose(ed.evaluate(e, {"w": w0, "A": a0}), 1.5 * np.tanh(a0 @ w0 + 2.0 * b0))


def test_symbolic_names_variables_by_parameter_and_returns_tuples():
    both = ed.symbolic(lambda u, *rest, **named: (u.sum(), rest[0] * named["k"]), (), (2, 2), k=[2])
    assert isinstance(both, tuple)
    assert [sorted((v.name, v.shape) for v in variables(e)) for e in both] == [[("u", ())], [("k", (2,)), ("rest0", (2, 2))]]


def _object_array(w):
    """An object array holding expressions, made without asking numpy for their values."""
    out = np.empty(2, dtype=object)
    out[0], out[1] = w, w
    return out


@pytest.mark.parametrize(("fn", "args", "message"), [
    (lambda w: 3.0, {"w": (2,)}, "returned a float, not an einsdiff expression"),
    (lambda w: (w, np.ones(2)), {"w": (2,)}, "item 1 of what"),
    (lambda w: np.array([w, w], dtype=object), {"w": (2,)}, "no array value until it is evaluated"),
    (lambda w: _object_array(w), {"w": (2,)}, "an object array"),
    (lambda w: w, {"v": (2,)}, "the arguments do not fit"),
    (lambda w: w, {"w": (2, -1)}, "a negative size"),
])
def test_symbolic_refuses_what_is_not_an_expression(fn, args, message):
    with pytest.raises(ed.EinsdiffError) as info:
        ed.symbolic(fn, **args)
    assert message in str(info.value)


# -- NumPy-written losses, differentiated -------------------------------------------------------

def least_squares(w, X, y):
    r = X @ w - y
    return 0.5 * np.square(r).sum()


def logistic(w, X, y):
    return np.add.reduce(np.logaddexp(0, -y * (X @ w)))


RNG = np.random.default_rng(16)
DATA = {"w": RNG.normal(size=3), "X": RNG.normal(size=(5, 3)), "y": np.sign(RNG.normal(size=5))}


@pytest.mark.parametrize(("loss", "printed"), [
    (least_squares, ("f = 0.5 ‖X w − y‖²", "f = Xᵀ (X w − y)", "f = Xᵀ X")),
    (logistic, ("f = sum(softplus(−(y ⊙ (X w))))", "f = −Xᵀ (y ⊙ sigmoid(−(y ⊙ (X w))))",
                "f = Xᵀ diag(𝟙 − sigmoid(−(y ⊙ (X w)))) diag(y) diag(sigmoid(−(y ⊙ (X w)))) diag(y) X")),
])
def test_a_numpy_written_loss_differentiates_via_symbolic(loss, printed):
    X, y = ed.var("X", (5, 3)), ed.var("y", (5,))
    f = ed.symbolic(loss, w=(3,), X=X, y=y)
    w = ed.var("w", (3,))
    np.testing.assert_allclose(ed.evaluate(f, DATA), loss(DATA["w"], DATA["X"], DATA["y"]), rtol=1e-12)
    check_jacobian(f, w, DATA, order=2)
    g, H = ed.grad(f, w), ed.hessian(f, w)
    assert tuple(ed.to_matrix_notation(e) for e in (f, g, H)) == printed


def test_a_constant_array_exponent_of_one_value_is_a_power_not_exp_of_log():
    """x ** np.array(2.0) squares (no NaN for x < 0, as exp(2 log x) would give); an array of
    several exponents and a non-positive constant base under an expression exponent are refused."""
    x = ed.var("x", (3,))
    v = np.array([-2.0, 1.0, 3.0])
    for e in (x ** np.array(2.0), x ** np.full(3, 2.0), np.power(x, np.full(3, 2.0))):
        np.testing.assert_array_equal(ed.evaluate(e, x=v), v ** 2)
    for call in (lambda: x ** np.array([1.0, 2.0, 3.0]), lambda: (-2.0) ** x, lambda: np.power(np.array([-1.0, 2.0, 3.0]), x)):
        with pytest.raises(ed.OperandError, match="exponent|positive base"):
            call()
