"""Formulas in index notation: the seeds typed as formulas, errors with a caret,
the print/parse round trip, and fuzzing."""

import re
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.expr import Add, Call, Const, Contract, Var
from einsdiff.testing import bindings_for, expressions
from einsdiff.variables import children, topological, variables


def test_issue_examples():
    e = ed.parse("relu(W[i,j]*x[j] + b[i])", W=(3, 4), x=(4,), b=(3,))
    assert str(e) == "f[i] = relu(W[i,j] x[j] + b[i])"
    L = ed.parse("L = (A[i,j]*x[j] - y[i])*(A[i,k]*x[k] - y[i])", A=(2, 3), x=(3,), y=(2,))
    rng = np.random.default_rng(0)
    A, x, y = rng.normal(size=(2, 3)), rng.normal(size=3), rng.normal(size=2)
    assert L.shape == ()
    np.testing.assert_allclose(ed.evaluate(L, A=A, x=x, y=y), np.sum((A @ x - y) ** 2))


def test_seed_001_typed_as_a_formula():
    Z = ed.parse("Z[i,j] = A[i,k]*W[k,j] + B[j]", A=(2, 3), W=(3, 2), B=(2,))
    W = ed.var("W", (3, 2))
    values = dict(A=np.array([[1.0, 2, 3], [4, 5, 6]]), W=np.array([[7.0, 8], [10, 11], [12, 13]]), B=np.array([13.0, 14]))
    assert ed.evaluate(ed.jacobian_matrix(Z, W), **values).tolist() == [
        [1, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3], [4, 0, 5, 0, 6, 0], [0, 4, 0, 5, 0, 6]]
    S = ed.parse("S = sum[i,j](A[i,k]*W[k,j] + B[j])", A=(2, 3), W=(3, 2), B=(2,))
    assert ed.evaluate(ed.grad(S, W), **values).tolist() == [[5, 5], [7, 7], [9, 9]]


def test_seed_000_and_003_typed_as_formulas():
    act = ed.parse("a = relu(w[i]*x[i] + b)", w=(3,), x=(3,), b=())
    w = ed.var("w", (3,))
    values = dict(w=np.array([1.0, 0.5, 2.0]), x=np.array([2.0, -2.0, 1.5]), b=np.array(1.0))
    assert ed.evaluate(ed.grad(act, w), **values).tolist() == [2.0, -2.0, 1.5]
    f = ed.parse("f[i] = A[i,j] x[j]", A=(2, 3), x=(3,))
    assert str(ed.jacobian(f, ed.var("A", (2, 3)))) == "f[i,j,k] = δ[i,j] x[k]; i:2, j:2"
    q = ed.parse("x[i] A[i,j] x[j]", x=(3,), A=(3, 3))
    Av = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(ed.evaluate(ed.hessian(q, ed.var("x", (3,))), A=Av, x=np.ones(3)), Av + Av.T)


def test_numbers_stand_in_front_and_constant_divisors_fold():
    # Dividing by a number is multiplying by its reciprocal; a product's numbers lead it.
    f = ed.parse("C = sum[n]((y[n] - X[n,i]*w[i])^2) / 4", X=(4, 3), w=(3,), y=(4,))
    assert str(f) == "f = 0.25 Σ[i](square(y[i] - X[i,j] w[j]))"
    assert str(ed.grad(f, ed.var("w", (3,)))) == "f[i] = Σ[j](0.5 X[j,i] (X[j,k] w[k] - y[j]))"
    assert str(ed.parse("-2*A[i,j]*x[j]*3", A=(2, 3), x=(3,))) == "f[i] = -6 A[i,j] x[j]"
    assert str(ed.parse("-1*A[i,j]*x[j]", A=(2, 3), x=(3,))) == "f[i] = -A[i,j] x[j]"


def test_grammar_pieces():
    shapes = dict(x=(3,), y=(3,), A=(3, 3), s=())
    b = dict(x=np.array([1.0, 2, 3]), y=np.array([0.5, -1, 2]), A=np.arange(9.0).reshape(3, 3), s=np.array(2.0))
    cases = {
        "f[i] = x[i] * y[i]": b["x"] * b["y"],  # free on the left: not summed
        "x[i] * y[i]": b["x"] @ b["y"],  # repeated, no left side: summed
        "f[i] = x[i] / y[i]": b["x"] / b["y"],
        "x[i]^2": b["x"] ** 2,
        "x[i]**-1": 1 / b["x"],
        "-x[i] + 2": -b["x"] + 2,
        "A[i,i]": np.trace(b["A"]),
        "f[i] = A[i,i]": np.diag(b["A"]),
        "f[j,i] = A[i,j]": b["A"].T,
        "sum[i](x[i])": b["x"].sum(),
        "Σ[j](A[i,j])": b["A"].sum(1),
        "A[i,k] delta[k,j] x[j]": b["A"] @ b["x"],
        "f[i] = delta[i,j] x[j]; i:3": b["x"],
        "s * x[i] + s": b["s"] * b["x"] + b["s"],
        "tanh(A[i,j] x[j]) y[i]": np.tanh(b["A"] @ b["x"]) @ b["y"],
        "f[i,j] = x[i] + y[j]": b["x"][:, None] + b["y"][None, :],
        "f[i] = 1.5e-1 * sqrt(square(x[i]) + 1)": 0.15 * np.sqrt(b["x"] ** 2 + 1),
    }
    for formula, want in cases.items():
        got = ed.evaluate(ed.parse(formula, **shapes), **b)
        np.testing.assert_allclose(got, want, err_msg=formula)


@pytest.mark.parametrize(
    "formula, message, column",
    [
        ("relu(W[i,j]*x[j] + b[i]", "expected ')'", 24),
        ("W[i,j] x[j] +", "expected a number, a variable", 14),
        ("W[i] x[i]", "variable 'W' has shape (3, 4) (2 axes) but 1 indices", 1),
        ("V[i]", "unknown variable 'V'; pass its shape", 1),
        ("f[i] = W[i,j]", "index 'j' is free on the right side but not on the left", 1),
        ("x[j] $ 2", "unexpected character '$'", 6),
        ("x[i]^x[i]", "an exponent must be a constant number", 6),
        ("f[i,j] = delta[i,j]", "the size of index 'i' of this delta is not known", 10),
        ("f[i,i] = W[i,i]", "an index repeats on the left side", 1),
        ("W[i,i]", "index 'i' is used for axes of sizes 3 and 4", 1),
        ("W[i,j] b[j]", "index 'j' has sizes 4 and 3", 1),
        ("delta[i] x[i]", "a delta takes two indices", 1),
        ("x[j] )", "unexpected ')'", 6),
        ("f = x[i]; i:k", "expected a whole number", 13),
    ],
)
def test_errors_point_at_the_column(formula, message, column):
    with pytest.raises(ed.ParseError) as info:
        ed.parse(formula, W=(3, 4), x=(4,), b=(3,))
    text = str(info.value)
    assert message in text and f"(column {column})" in text
    caret_line = text.splitlines()[-1]
    assert caret_line.index("^") - 2 == column - 1  # the caret sits under the culprit


def _logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)), axis=axis)


rng = np.random.default_rng(7)
MATRIX_SHAPES = dict(X=(3, 3), S=(2, 3, 3), W=(3, 4), b=(3,), x=(2, 4), y=(4,))
MATRIX_VALUES = {"X": rng.normal(size=(3, 3)) + 3 * np.eye(3), "S": rng.normal(size=(2, 3, 3)) + 3 * np.eye(3),
                 "W": rng.normal(size=(3, 4)), "b": rng.normal(size=3), "x": rng.normal(size=(2, 4)),
                 "y": rng.normal(size=4)}
_X, _S, _b, _x, _y = (MATRIX_VALUES[k] for k in "XSbxy")
TYPED_FUNCTIONS = {
    "L = logdet(X) - trace(X)": np.linalg.slogdet(_X)[1] - np.trace(_X),
    "inv(X)[i,j]": np.linalg.inv(_X),
    "f[i,j] = inv(X)[j,i]": np.linalg.inv(_X).T,
    "inv(X)[i,i]": np.trace(np.linalg.inv(_X)),
    "det(X) + logabsdet(X) * detsign(X)": np.linalg.det(_X) + np.linalg.slogdet(_X)[1] * np.linalg.slogdet(_X)[0],
    "det(S)[k]": np.linalg.det(_S),
    "det(inv(X))": 1 / np.linalg.det(_X),
    "solve(X, b)[i]": np.linalg.solve(_X, _b),
    "solve(X, W)[i,j]": np.linalg.solve(_X, MATRIX_VALUES["W"]),
    "solve(S, b)[k,i]": np.linalg.solve(_S, _b[None, :, None])[..., 0],
    "solve[k,l; k](X[l,k], b[k])[i]": np.linalg.solve(_X.T, _b),
    "inv[k,l](X[k,m] X[m,l])[i,j]": np.linalg.inv(_X @ _X),
    "logsumexp[j](x[i,j])": _logsumexp(_x, 1),
    "logsumexp(x)": _logsumexp(_x, (0, 1)),
    "softmax[j](x[i,j])": np.exp(_x) / np.exp(_x).sum(1, keepdims=True),
    "f[j,i] = log_softmax[i](x[i,j])": (_x - _logsumexp(_x, 0)).T,
    "where(y[i] > 0, y[i], 0.1*y[i])": np.where(_y > 0, _y, 0.1 * _y),
    "where(y[i] <= 0.5, softplus(y[i]), -y[i])": np.where(_y <= 0.5, np.log1p(np.exp(_y)), -_y),
    "f[i,j] = (x[i,j] >= 0) * x[i,j]": np.where(_x >= 0, _x, 0.0),
}


@pytest.mark.parametrize("formula", sorted(TYPED_FUNCTIONS))
def test_functions_of_whole_tensors_typed_as_formulas(formula):
    got = ed.evaluate(ed.parse(formula, **MATRIX_SHAPES), **MATRIX_VALUES)
    np.testing.assert_allclose(got, TYPED_FUNCTIONS[formula], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "formula, message, column",
    [
        ("det(W)", "det: variable 'W' has shape (3, 4); it must be a square matrix", 1),
        ("1 + inv(X[i,j])[i,j]", "inv takes whole tensors: write inv(X) and index the result", 9),
        ("inv(X)", "inv(...) has shape (3, 3); name its axes, as in inv(...)[i,j]", 1),
        ("inv(X)[i,j,k]", "inv(...) has shape (3, 3) (2 axes) but 3 indices", 1),
        ("solve(X)[i]", "solve takes 2 arguments, got 1", 1),
        ("solve(X, x)[i,j]", "b's leading axes must be (3,)", 1),
        ("inv[k](X[k,l])[i,j]", "index 'l' is free in an argument of inv but not among the indices it binds (k)", 8),
        ("inv[k,l; m](X[k,l])[i,j]", "binds 2 groups of indices for 1 arguments", 1),
        ("inv[k,k](X[k,k])[i,j]", "an index repeats in the indices inv[...] binds", 1),
        ("where(y[i], y[i])", "where takes 3 arguments (a mask, then a and b), got 2", 1),
        ("softmax(x)[i,j]", "softmax works along axes; name them, as in softmax[j](x[i,j])", 1),
        ("logsumexp[q](y[i])", "logsumexp over 'q', which its body does not use", 1),
        ("inv(V)[i,j]", "unknown variable 'V'", 5),
        ("y[i] > 0 > y[i]", "unexpected '>'", 10),
    ],
)
def test_function_errors_point_at_the_column(formula, message, column):
    with pytest.raises(ed.ParseError) as info:
        ed.parse(formula, **MATRIX_SHAPES)
    assert message in str(info.value) and f"(column {column})" in str(info.value)


seeds = st.integers(0, 2**32 - 1)


@given(expressions(max_depth=4), seeds)
def test_print_then_parse_gives_back_an_equivalent_expression(expr, seed):
    vs = variables(expr)
    shapes = {v.name: v.shape for v in vs}
    b = bindings_for(vs, seed)
    for e in (expr, *(ed.jacobian(expr, v) for v in vs)):
        text = str(e)
        note(text)
        again = ed.parse(text, **shapes)
        assert again.shape == e.shape
        want = ed.evaluate(e, **b)
        np.testing.assert_allclose(ed.evaluate(again, **b), want, rtol=1e-12, atol=1e-12 * (1 + np.abs(want).max(initial=0)))


def _constants_as_variables(expr):
    """``expr`` with each constant array a variable K0, K1, ... (a formula has no constant arrays), and their values."""
    values, done = {}, {}
    for node in topological([expr]):
        if isinstance(node, Const) and node.ndim:
            values[f"K{len(values)}"] = node.value
            done[node] = Var(f"K{len(values) - 1}", node.shape)
        elif children(node):
            new = tuple(done[c] for c in children(node))
            field = {Contract: "operands", Add: "terms", Call: "args"}.get(type(node))
            done[node] = replace(node, **({field: new} if field else {"arg": new[0]}))
        else:
            done[node] = node
    return done[expr], values


@settings(max_examples=80)  # each example prints, parses and evaluates Jacobians of matrix functions
@given(expressions(max_depth=3, functions=True), seeds)
def test_print_then_parse_gives_back_functions_of_whole_tensors(drawn, seed):
    expr, constants = _constants_as_variables(drawn)
    b = bindings_for(variables(drawn), seed) | constants
    for e in (expr, *(ed.jacobian(expr, v) for v in variables(drawn))):
        note(str(e))
        again = ed.parse(str(e), **{v.name: v.shape for v in variables(expr)})
        assert again.shape == e.shape
        want = ed.evaluate(e, **b)
        scale = 1 + np.abs(want).max(initial=0)
        np.testing.assert_allclose(ed.evaluate(again, **b), want, rtol=1e-10, atol=1e-10 * scale)


_ALPHABET = "xyAWb[]ij,()+-*/^=;:<>0123 .eΣδ" + "".join(["tanh", "sum", "delta"])
_WORDS = ["tanh", "sum", "delta", "inv", "det", "solve", "logsumexp", "softmax", "where", "[k,l; k]", "(A, b)"]


@given(st.text(alphabet=_ALPHABET, max_size=40)
       | st.lists(st.sampled_from(list(_ALPHABET) + _WORDS), max_size=16).map("".join))
def test_fuzzed_text_raises_only_einsdiff_errors(text):
    try:
        ed.parse(text, x=(3,), y=(3,), A=(3, 3), W=(3, 4), b=(3,))
    except ed.EinsdiffError:
        pass


@pytest.mark.parametrize(
    "formula, hint",
    [
        ("A @ x", "write a matrix product with indices: A[i,j]*x[j] for A @ x"),
        ("x^T A x", "write a transpose by swapping indices: x[i]*A[i,j]*x[j] for xᵀAx"),
        ("A' x", "write a transpose by swapping indices: A[j,i] for A'"),
        ("np.tanh(x)", "write functions without a module (tanh(x[i]), not np.tanh)"),
        ("ij,j->i", "an einsum equation like ij,j->i is written A[i,j]*x[j] here"),
    ],
)
def test_matrix_and_code_notation_get_a_hint(formula, hint):
    with pytest.raises(ed.ParseError, match=re.escape(hint)):
        ed.parse(formula, A=(3, 3), x=(3,))
