"""Formulas in index notation: the seeds typed as formulas, errors with a caret,
the print/parse round trip, and fuzzing."""

import re
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.expr import Add, Call, Const, Contract, Var
from einsdiff.notation.parse import SYNTAX
from einsdiff.notation.printing import printed_constants
from einsdiff.testing import bindings_for, expressions
from einsdiff.ir.variables import children, topological, variables


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
    assert str(ed.grad(f, ed.var("w", (3,)))) == "f[i] = 0.5 Σ[j](X[j,i] (X[j,k] w[k] - y[j]))"
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
        ("inv(X)[i,j] + inv(X)", "inv(...) has shape (3, 3); name its axes, as in inv(...)[i,j]", 15),
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
_WORDS = ["tanh", "sum", "delta", "inv", "det", "solve", "logsumexp", "softmax", "where", "[k,l; k]", "(A, b)",
          "tr", "norm2", "maximum", "tahn", "reshape[i -> (3,)]", "; C0: constant (3, 3)", "C0", "(i,j)", "[-> ()]"]


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
    # Read as index notation: formulas without brackets are matrix notation by default (issue 15).
    with pytest.raises(ed.ParseError, match=re.escape(hint)):
        ed.parse(formula, A=(3, 3), x=(3,), notation="index")


# -- a name before a bracket is a call (issue 13, item 1) -----------------------------------------


def test_a_name_directly_before_a_bracket_is_a_call_never_a_product():
    # Before: tr(X) read as the product X·tr.
    with pytest.raises(ed.ParseError, match=r"trace: variable 'X' has shape \(\); it must be a square matrix"):
        ed.parse("tr(X)", tr=(), X=())
    X = MATRIX_VALUES["X"]
    for formula in ("tr(X)", "tr (X)", "trace(X)"):
        assert ed.evaluate(ed.parse(formula, X=(3, 3)), X=X) == pytest.approx(np.trace(X))
    with pytest.raises(ed.ParseError, match=re.escape("'s' is a variable, not a function: write a product with *, s*(...)")):
        ed.parse("s(x[i] + 1)", s=(), x=(3,))


def test_a_variable_a_space_and_a_bracket_is_a_product_as_printed():
    s, x = ed.var("s", ()), ed.var("x", (3,))
    e = s * (x + 1.0)
    assert str(e) == "f[i] = (x[i] + 1) s"
    values = {"s": np.array(2.0), "x": np.array([1.0, 2, 3])}
    for formula in ("s (x[i] + 1)", "(x[i] + 1) s", "s*(x[i] + 1)"):
        np.testing.assert_allclose(ed.evaluate(ed.parse(formula, s=(), x=(3,)), **values), [4.0, 6, 8])
    # A variable may share a function's name where it is not called: tr[i], norm2, maximum[i].
    got = ed.parse("tr[i] maximum[i] + norm2", tr=(3,), maximum=(3,), norm2=())
    assert ed.evaluate(got, tr=np.ones(3), maximum=np.arange(3.0), norm2=np.array(1.0)) == 4.0


@pytest.mark.parametrize(
    "formula, message",
    [
        ("tahn(x[i])", "unknown function 'tahn'; did you mean tanh? The functions are abs, arccos, arcsin, arctan, chol, cholesky, cos,"),
        ("tna(x[i])", "unknown function 'tna'; did you mean tan?"),
        ("asin(x[i])", "unknown function 'asin'; did you mean arcsin?"),
        ("tahn (x[i])", "unknown function 'tahn'; did you mean tanh? For a product, give tahn's shape."),
        ("ln(x[i])", "unknown function 'ln'; did you mean log?"),
        ("foo(x[i])", "unknown function 'foo'. The functions are abs, arccos, arcsin, arctan, chol, cholesky, cos, det, detsign,"),
        ("B(i,j) x[j]", "unknown function 'B'; to index a tensor, write B[i,j]."),
        ("A(i,j) x[j]", "'A' is a variable, not a function: index it with brackets, A[i,j]"),
        ("2 * tanh x[i]", "tanh is a function: call it with parentheses, as in tanh(...)"),
        ("tanh(x[i], x[i])", "tanh takes one argument, got 2"),
    ],
)
def test_an_unknown_function_is_named_with_what_it_likely_means(formula, message):
    with pytest.raises(ed.ParseError) as info:
        ed.parse(formula, A=(3, 3), x=(3,))
    text = str(info.value)
    assert message in text
    column = formula.index(message.split("'")[1] if "'" in message else "tanh") + 1
    assert f"(column {column})" in text


def test_an_unknown_name_before_a_spaced_bracket_or_with_indices_is_still_an_unknown_variable():
    with pytest.raises(ed.UnknownVariableError, match="unknown variable 'V'"):
        ed.parse("V (x[i] + 1)", x=(3,))
    with pytest.raises(ed.UnknownVariableError, match="unknown variable 'tr'") as info:
        ed.parse("tr[i,j] x[j]", x=(3,))  # a function's name used as a tensor's
    assert info.value.ndim == 2


def test_the_spellings_of_matrix_calculus_texts():
    rng = np.random.default_rng(3)
    A, x, y, X = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=4), rng.normal(size=(3, 3))
    shapes = dict(A=(4, 3), x=(3,), y=(4,), X=(3, 3))
    cases = {
        "norm2(A[i,j] x[j] - y[i])": np.linalg.norm(A @ x - y),
        "norm2(A[i,j] x[j] - y[i])^2": np.sum((A @ x - y) ** 2),
        "norm2(x)": np.linalg.norm(x),
        "norm2(X)": np.linalg.norm(X, "fro"),  # as matrixcalculus.org: Frobenius for a matrix
        "norm1(A[i,j] x[j] - y[i])": np.sum(np.abs(A @ x - y)),
        "norm1(X)": np.sum(np.abs(X)),  # the elementwise 1-norm, not numpy's max column sum
        "f[i] = norm2[j](X[i,j])": np.linalg.norm(X, axis=1),
        "f[j] = norm1[i](X[i,j])": np.sum(np.abs(X), axis=0),
        "tr(X) + logdet[k,l](X[k,m] X[l,m] + delta[k,l])": np.trace(X) + np.linalg.slogdet(X @ X.T + np.eye(3))[1],
        "logsumexp(A[i,j] x[j])": np.log(np.sum(np.exp(A @ x))),
    }
    values = dict(A=A, x=x, y=y, X=X)
    for formula, want in cases.items():
        e = ed.parse(formula, **shapes)
        np.testing.assert_allclose(ed.evaluate(e, **values), want, rtol=1e-12, err_msg=formula)
        again = ed.parse(str(e), **shapes)  # and what they print reads back
        np.testing.assert_allclose(ed.evaluate(again, **values), want, rtol=1e-12, err_msg=str(e))


def test_a_reduction_of_every_index_names_an_index_also_used_outside():
    with pytest.raises(ed.ParseError, match="index 'i' is free both inside norm2.* name those it reduces, as in "
                                            r"norm2\[j\]\(A\[i,j\]\)"):
        ed.parse("f[i] = norm2(X[i,j])", X=(3, 3))


# -- every printed node reads back (item 4) ------------------------------------------------------

P, V, W = ed.var("P", (4,)), ed.var("V", (2,)), ed.var("W", (3, 3))
RESHAPES = {  # before, each printed as reshape[k -> (2, 2)](P[k]) without its own indices, which nothing read
    "f[i,j] = reshape[k -> (2, 2)](P[k])[i,j]": ed.reshape(P, (2, 2)),
    "f[i,j] = reshape[-> (1, 1)](s)[i,j]": ed.reshape(ed.var("s", ()), (1, 1)),
    "f[i] = reshape[k -> (2, 2)](P[k])[i,j] V[j]": ed.reshape(P, (2, 2)) @ V,
    "f = reshape[j -> (2, 2)](P[j])[i,i]": ed.trace(ed.reshape(P, (2, 2))),
    "f[i] = 2 reshape[j,k -> (9,)](tanh(W[j,k]))[i]": 2 * ed.reshape(ed.tanh(W), (9,)),
    "f[i,j,k] = reshape[l,m,n,p -> (2, 2, 4)](δ[l,n] δ[m,p])[i,j,k]; l:2, m:2": ed.jacobian(ed.reshape(P, (2, 2)), P),
    "f[i,j] = inv(reshape[k -> (2, 2)](P[k]))[i,j]": ed.inv(ed.reshape(P, (2, 2))),
    "f[i,j] = reshape[k -> (3, 3)](reshape[l,m -> (9,)](W[l,m])[k])[i,j]": ed.reshape(ed.reshape(W, (9,)), (3, 3)),
}


@pytest.mark.parametrize("text", sorted(RESHAPES))
def test_a_reshape_prints_its_own_indices_and_reads_back_as_itself(text):
    e = RESHAPES[text]
    assert str(e) == text
    again = ed.parse(text, **{v.name: v.shape for v in variables(e)})
    assert again == e


def test_a_constant_array_is_declared_in_the_legend_and_bound_by_name():
    C = np.arange(6.0).reshape(2, 3)
    x = ed.var("x", (3,))
    e = ed.einsum("ij,j->i", C, x)
    text = "f[i] = C0[i,j] x[j]; C0: constant (2, 3)"
    assert str(e) == text
    assert ed.parse(text, C0=C, x=(3,)) == e
    assert ed.parse(text, C0=C, x=3) == e  # an int is a vector's shape, an array a constant
    with pytest.raises(ed.ParseError, match=re.escape("'C0' is a constant of shape (2, 3) (as the text after ';' says); "
                                                      "pass its value, as in ed.parse(text, C0=array)")):
        ed.parse(text, x=(3,))
    with pytest.raises(ed.ParseError, match=r"'C0' is a constant of shape \(2, 3\) here, but what was given for it has "
                                            r"shape \(3, 3\) \(column 22\)"):
        ed.parse(text, C0=np.ones((3, 3)), x=(3,))
    with pytest.raises(ed.ParseError, match="give a shape .* for a variable, or a numpy array for a constant"):
        ed.parse(text, C0=C, x="three")


def test_constant_labels_avoid_variables_and_name_one_array_alike_on_every_line():
    C = np.arange(9.0).reshape(3, 3)
    c0 = ed.var("C0", (3,))
    e = ed.einsum("ij,j->i", C, c0)
    assert str(e) == "f[i] = C1[i,j] C0[j]; C1: constant (3, 3)"
    assert ed.parse(str(e), C0=(3,), C1=C) == e
    t = ed.tanh(ed.einsum("ij,j->i", C, ed.var("x", (3,))))
    shared = ed.to_index_notation(t * t + t, share=True)
    assert shared.splitlines()[0].endswith("; C0: constant (3, 3)")
    assert "C1" not in shared
    assert set(printed_constants(t * t + t, share=True)) == {"C0"}


@st.composite
def _reshaped(draw):
    """A drawn expression (with constant arrays) reshaped to a drawn factorization of its size,
    then used by a product, so Jacobians carry reshapes inside contractions."""
    expr = draw(expressions(max_depth=3, functions=True))
    n, dims = expr.size, []
    while n > 1 and len(dims) < 2:
        d = draw(st.sampled_from([k for k in range(1, n + 1) if n % k == 0]))
        dims.append(d)
        n //= d
    shape = tuple(dims) + ((n,) if n > 1 or not dims else ())
    shaped = ed.reshape(expr, shape)
    return shaped * ed.tanh(shaped) if draw(st.booleans()) else shaped


@settings(max_examples=30, deadline=None)
@given(_reshaped(), seeds)
def test_print_then_parse_reads_reshapes_and_binds_constants(expr, seed):
    b = bindings_for(variables(expr), seed)
    shapes = {v.name: v.shape for v in variables(expr)}
    for e in (expr, *(ed.jacobian(expr, v) for v in variables(expr))):
        text = str(e)
        note(text)
        again = ed.parse(text, **shapes, **printed_constants(e))
        assert again.shape == e.shape
        want = ed.evaluate(e, **b)
        scale = 1 + np.abs(want).max(initial=0)
        np.testing.assert_allclose(ed.evaluate(again, **b), want, rtol=1e-10, atol=1e-10 * scale)


# -- a delta sized by any tensor of the formula (item 7) -----------------------------------------


def test_a_delta_takes_its_size_from_any_tensor_of_the_formula():
    rng = np.random.default_rng(11)
    Y, A, x = rng.normal(size=(3, 3)), rng.normal(size=(3, 3)), rng.normal(size=3)
    shapes, values = dict(Y=(3, 3), A=(3, 3), x=(3,)), dict(Y=Y, A=A, x=x)
    cases = {
        "sum[i,j]((Y[i,k]*Y[j,k] - delta[i,j])^2)": np.sum((Y @ Y.T - np.eye(3)) ** 2),
        "sum[i,j](tanh(delta[i,j]) * A[i,j])": np.tanh(1.0) * np.trace(A) + 0.0,
        "f[i] = sum[j](where(x[j] > 0, delta[i,j], 0.5))": np.array([np.sum(np.where(x > 0, np.eye(3)[i], 0.5))
                                                                     for i in range(3)]),
        "logdet[k,l](A[k,m] A[l,m] + delta[k,l])": np.linalg.slogdet(A @ A.T + np.eye(3))[1],
        "L = sum[i](x[i] + delta[i,j] x[j])": 2 * np.sum(x),
    }
    for formula, want in cases.items():
        np.testing.assert_allclose(ed.evaluate(ed.parse(formula, **shapes), **values), want, rtol=1e-12, err_msg=formula)


def test_a_delta_index_with_two_sizes_in_the_formula_still_asks_for_its_size():
    with pytest.raises(ed.ParseError, match="the size of index 'i' of this delta is not known"):
        ed.parse("sum[i](x[i]) + sum[i](y[i]) + sum[i,j](delta[i,j])", x=(3,), y=(4,))


# -- errors that say more (item 11) --------------------------------------------------------------


@pytest.mark.parametrize(
    "formula, message",
    [
        ("A[i,j] x[j]", "index 'j' has sizes 4 and 3 here: A[i,j] has j:4, x[j] has j:3"),
        ("x[i] + y[i]", "index 'i' has sizes 3 and 5 here: x[i] has i:3, y[i] has i:5"),
        ("maximum(y[i], tanh(x[i]))", "index 'i' has sizes 5 and 3 here: y[i] has i:5, x[i] has i:3"),
    ],
)
def test_a_size_conflict_names_the_tensors(formula, message):
    with pytest.raises(ed.ParseError, match=re.escape(message)):
        ed.parse(formula, A=(2, 4), x=(3,), y=(5,))


@pytest.mark.parametrize(
    "formula, suggestion",
    [("sum(x[i])", "sum[i](x[i])"), ("sum(A[i,j] y[j])", "sum[i](A[i,j] y[j])"), ("Σ(A[i,i])", "Σ[i](A[i,i])")],
)
def test_a_sum_without_indices_says_how_to_write_it(formula, suggestion):
    shapes = dict(x=(3,), y=(3,), A=(3, 3))
    with pytest.raises(ed.ParseError, match=re.escape(f"names the indices it sums: write {suggestion} (column 1)")):
        ed.parse(formula, **shapes)
    ed.parse(suggestion, **shapes)  # and the suggestion reads


def test_maximum_and_minimum_in_formulas_print_as_themselves_and_read_back():
    x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    values = {"x": np.array([-1.0, 0.5, 2.0]), "y": np.array([0.0, 1.0, 1.0]), "A": np.arange(6.0).reshape(2, 3) - 2}
    cases = {
        "maximum(x[i], 0)": (ed.maximum(x, 0), np.maximum(values["x"], 0)),
        "minimum(x[i], y[i])": (ed.minimum(x, y), np.minimum(values["x"], values["y"])),
        "maximum(A[i,j], 2 x[j])": (ed.maximum(A, 2 * x), np.maximum(values["A"], 2 * values["x"])),
        "minimum(x[i], 0.5)": (ed.minimum(x, 0.5), np.minimum(values["x"], 0.5)),
    }
    for formula, (built, want) in cases.items():
        parsed = ed.parse(formula, x=(3,), y=(3,), A=(2, 3))
        assert str(parsed) == str(built) == f"f[{'i' if built.ndim == 1 else 'i,j'}] = {formula}"
        np.testing.assert_array_equal(ed.evaluate(parsed, **values), want)
    assert ed.to_latex(ed.maximum(x, y)) == r"f_{i} = \max\left(x_{i}, y_{i}\right)"
    with pytest.raises(ed.ParseError, match=re.escape("maximum takes 2 arguments (a and b), got 1")):
        ed.parse("maximum(x[i])", x=(3,))


@pytest.mark.parametrize("name", sorted(name for name, syntax in SYNTAX.items() if syntax.form == "whole"))
def test_the_example_each_function_suggests_reads(name):
    shapes = dict(X=(3, 3), A=(3, 3), B=(3, 3), b=(3,), c=(3, 2), d=(2,), x=(2, 3))
    for example in SYNTAX[name].example.format(name=name).split(" or "):
        ed.parse(example, **shapes)


def test_the_hint_for_a_scalar_function_does_not_index_its_result():
    with pytest.raises(ed.ParseError) as info:
        ed.parse("trace(X[i,j])", X=(3, 3))
    assert "write trace(X), as in trace(X) or trace[k,l](A[k,m] B[m,l])" in str(info.value)
    assert "trace(X)[i,j]" not in str(info.value)


def test_reading_a_deeply_nested_formula_is_linear_in_its_depth(monkeypatch):
    from einsdiff.notation.parse import _Lowering
    from einsdiff.testing import nested_tanh_formula as nested

    calls = []
    original = _Lowering._free
    monkeypatch.setattr(_Lowering, "_free", lambda self, node, p: calls.append(1) or original(self, node, p))
    work = {}
    for depth in (10, 20, 30):
        calls.clear()
        ed.parse(nested(depth), A=(3, 3), x=(3,))
        work[depth] = len(calls)
    assert work[30] < 4 * work[10], work  # it doubled with each level before: 2^30 calls at depth 30


def test_the_list_of_functions_offers_no_node_only_derivatives_make():
    """Φ and the divided-difference matrices print in derivatives and read back, but a learner
    who mistypes a name is not offered them."""
    with pytest.raises(ed.ParseError) as info:
        ed.parse("foo(x[i])", x=(3,))
    listed = str(info.value).split("The functions are ")[1].split(" (column")[0].split(", ")
    assert "tanh" in listed and "eigvecs" in listed and "dexpm" in listed
    assert not {"tril_half", "eiggap", "svdgap", "svdinv"} & set(listed)
    assert str(ed.parse("tril_half(X)[i,j] + eiggap(w)[i,j]", X=(3, 3), w=(3,))) == \
        "f[i,j] = tril_half(X)[i,j] + eiggap(w)[i,j]"
