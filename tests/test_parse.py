"""Formulas in index notation: the seeds typed as formulas, errors with a caret,
the print/parse round trip, and fuzzing."""

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.testing import bindings_for, expressions
from einsdiff.variables import variables


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


_ALPHABET = "xyAWb[]ij,()+-*/^=;:0123 .eΣδ" + "".join(["tanh", "sum", "delta"])


@given(st.text(alphabet=_ALPHABET, max_size=40))
def test_fuzzed_text_raises_only_einsdiff_errors(text):
    try:
        ed.parse(text, x=(3,), y=(3,), A=(3, 3), W=(3, 4), b=(3,))
    except ed.EinsdiffError:
        pass
