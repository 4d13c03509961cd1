"""Functions of whole tensors (inv, det, solve, logsumexp, where, ...) and softplus in index
notation and LaTeX: a table of canonical printings, and printed formulas that read back."""

import numpy as np
import pytest

import einsdiff as ed
from einsdiff.ir.variables import variables

X, A, S = ed.var("X", (3, 3)), ed.var("A", (3, 3)), ed.var("S", (2, 3, 3))
b, x, y = ed.var("b", (3,)), ed.var("x", (2, 4)), ed.var("y", (4,))
rng = np.random.default_rng(5)
VALUES = {  # matrices near 3 I: invertible, det > 0
    "X": rng.normal(size=(3, 3)) + 3 * np.eye(3), "A": rng.normal(size=(3, 3)) + 3 * np.eye(3),
    "S": rng.normal(size=(2, 3, 3)) + 3 * np.eye(3), "b": rng.normal(size=3), "x": rng.normal(size=(2, 4)),
    "y": rng.normal(size=4),
}

PRINTED = [
    (ed.inv(X), "f[i,j] = inv(X)[i,j]", r"f_{ij} = \left(X^{-1}\right)_{ij}"),
    (ed.det(X), "f = det(X)", r"f = \det X"),
    (ed.logdet(X), "f = logdet(X)", r"f = \log\det X"),
    (ed.logdet(X, absolute=True), "f = logabsdet(X)", r"f = \log\left\lvert\det X\right\rvert"),
    (ed.slogdet(X)[0], "f = detsign(X)", r"f = \operatorname{sign}\det X"),
    (ed.solve(X, b), "f[i] = solve(X, b)[i]", r"f_{i} = \left(X^{-1} b\right)_{i}"),
    (ed.det(S), "f[i] = det(S)[i]", r"f_{i} = \left(\det S\right)_{i}"),
    (ed.inv(S), "f[i,j,k] = inv(S)[i,j,k]", r"f_{ijk} = \left(S^{-1}\right)_{ijk}"),
    (ed.det(ed.inv(X)), "f = det(inv(X))", r"f = \det \left(X^{-1}\right)"),
    (ed.inv(A @ X), "f[i,j] = inv[k,l](A[k,m] X[m,l])[i,j]",
     r"f_{ij} = \left(\left[A_{km} X_{ml}\right]_{kl}^{-1}\right)_{ij}"),
    (ed.solve(A, X @ b), "f[i] = solve[j,k; l](A[j,k], X[l,m] b[m])[i]",
     r"f_{i} = \left(\left[A_{jk}\right]_{jk}^{-1} \left[X_{lm} b_{m}\right]_{l}\right)_{i}"),
    (ed.solve(S, b), "f[i,j] = solve[k,l,m; n,p](S[k,l,m], b[p])[i,j]; n:2",  # b serves both matrices
     r"f_{ij} = \left(\left[S_{klm}\right]_{klm}^{-1} \left[b_{p}\right]_{np}\right)_{ij}, \; n \in 1..2"),
    (ed.trace(ed.inv(X)), "f = inv(X)[i,i]", r"f = \left(X^{-1}\right)_{ii}"),
    (ed.logsumexp(x, 1), "f[i] = logsumexp[j](x[i,j])", r"f_{i} = \log\left(\sum_{j} \exp\left(x_{ij}\right)\right)"),
    (ed.logsumexp(x), "f = logsumexp(x)", r"f = \log\left(\sum_{i,j} \exp\left(x_{ij}\right)\right)"),
    (ed.where(y > 0, y, 0.1 * y), "f[i] = where(step(y[i]), y[i], 0.1 y[i])",
     r"f_{i} = \operatorname{where}\left(\operatorname{H}\left(y_{i}\right), y_{i}, 0.1 y_{i}\right)"),
    (ed.softplus(y), "f[i] = softplus(y[i])", r"f_{i} = \operatorname{softplus}\left(y_{i}\right)"),
    (ed.grad(ed.logdet(X), X), "f[i,j] = inv(X)[j,i]", r"f_{ij} = \left(X^{-1}\right)_{ji}"),
    (ed.jacobian(ed.inv(X), X), "f[i,j,k,l] = -inv(X)[i,k] inv(X)[l,j]",
     r"f_{ijkl} = -\left(X^{-1}\right)_{ik} \left(X^{-1}\right)_{lj}"),
    (ed.reshape(X, (9,)), "f[i] = reshape[j,k -> (9,)](X[j,k])[i]",
     r"f_{i} = \left[\operatorname{reshape}_{j,k \to (9,)}\left(X_{jk}\right)\right]_{i}"),
    (ed.inv(ed.reshape(ed.reshape(X, (9,)), (3, 3))), "f[i,j] = inv(reshape[k -> (3, 3)](reshape[l,m -> (9,)](X[l,m])[k]))[i,j]",
     r"f_{ij} = \left(\left[\operatorname{reshape}_{k \to (3, 3)}\left(\left[\operatorname{reshape}_{l,m \to (9,)}"
     r"\left(X_{lm}\right)\right]_{k}\right)\right]^{-1}\right)_{ij}"),
    (ed.maximum(y, 0.0), "f[i] = maximum(y[i], 0)", r"f_{i} = \max\left(y_{i}, 0\right)"),
    (ed.minimum(y, 2 * y + 1), "f[i] = minimum(y[i], 2 y[i] + 1)", r"f_{i} = \min\left(y_{i}, 2 y_{i} + 1\right)"),
    (ed.where(y > ed.var("c", ()), ed.var("c", ()), y), "f[i] = minimum(c, y[i])",  # a where that is a minimum
     r"f_{i} = \min\left(c, y_{i}\right)"),
    (ed.einsum("ij,j->i", np.eye(3), b), "f[i] = C0[i,j] b[j]; C0: constant (3, 3)",
     r"f_{i} = \mathrm{C0}_{ij} b_{j}, \; \mathrm{C0} \text{ a constant of shape } (3, 3)"),
]


@pytest.mark.parametrize("expr, text, latex", PRINTED, ids=[t for _, t, _ in PRINTED])
def test_canonical_printings(expr, text, latex):
    assert str(expr) == text
    assert ed.to_latex(expr) == latex


def _round_trip_cases():
    quadratic = ed.solve(X, b) @ b
    leaky = ed.where(y > 0.1, ed.softplus(y), 0.1 * y)
    cases = {
        "logdet and trace": ed.logdet(X) - ed.trace(ed.inv(X) @ A),
        "hessian of logdet": ed.hessian(ed.logdet(A @ X), X),
        "hessian of a solve": ed.hessian(quadratic, X),
        "solve by both arguments": ed.jacobian(ed.solve(X, X @ b), X),
        "batched": ed.jacobian(ed.det(S) * ed.logdet(S, absolute=True), S),
        "batched solve": ed.jacobian(ed.solve(S, b), S),
        "calls of calls": ed.grad(ed.det(ed.inv(X @ X)) + ed.slogdet(ed.inv(A))[1], X),
        "where": ed.jacobian(leaky, y),
        "maximum of a call": ed.grad(ed.maximum(ed.solve(X, b), 0.0).sum(), X),
        "logsumexp": ed.hessian(ed.logsumexp(x, 1).sum(), x),
        "softmax": ed.jacobian(ed.softmax(x, 0), x),
        "logsumexp of a call": ed.grad(ed.logsumexp(ed.inv(X) @ A), A),
        "reshape": ed.jacobian(ed.inv(ed.reshape(ed.reshape(X @ A, (9,)), (3, 3))), X),
        "minimum of a reshape": ed.grad(ed.minimum(ed.reshape(x, (8,)), 0.5).sum(), x),
        "maximum of a reshape and a vector": ed.jacobian(ed.maximum(ed.reshape(ed.reshape(x, (8,)), (2, 4)), ed.tanh(y)), y),
    }
    return cases


ROUND_TRIP = _round_trip_cases()


@pytest.mark.parametrize("case", sorted(ROUND_TRIP))
def test_printed_formulas_read_back_with_the_same_values_and_derivatives(case):
    expr = ROUND_TRIP[case]
    vs = variables(expr)
    again = ed.parse(str(expr), **{v.name: v.shape for v in vs})
    assert again.shape == expr.shape
    np.testing.assert_allclose(ed.evaluate(again, **VALUES), ed.evaluate(expr, **VALUES), rtol=1e-10, atol=1e-12)
    for v in vs:
        want = ed.evaluate(ed.jacobian(expr, v), **VALUES)
        np.testing.assert_allclose(ed.evaluate(ed.jacobian(again, v), **VALUES), want, rtol=1e-9, atol=1e-11)


def test_latex_of_every_round_trip_case_is_balanced_and_text_free():
    for case, expr in ROUND_TRIP.items():
        text = ed.to_latex(expr)
        assert text.count("{") == text.count("}"), case
        assert text.count(r"\left") == text.count(r"\right"), case
        assert not any(ch in text for ch in "δΣ∂⁻"), case


def test_printing_is_the_same_for_equal_expressions():
    first = str(ed.hessian(ed.logdet(A @ X), X))
    assert first == str(ed.hessian(ed.logdet(A @ X), X))
