"""jvp, vjp, hvp and the diagonals equal the full Jacobian or Hessian contracted, and their
networks stay the size of the result (no n × n intermediate for an elementwise function)."""

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
import einsdiff.calculus.directional as directional
from einsdiff.testing import bindings_for, describe, expressions
from einsdiff.ir.variables import variables

seeds = st.integers(0, 2**32 - 1)


def _close(got, want, what):
    scale = 1.0 + float(np.max(np.abs(want), initial=0.0))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * scale, err_msg=what)


def _full(f, x, b):
    """The full Jacobian as a matrix (f.size, x.size)."""
    return ed.evaluate(ed.jacobian(f, x), **b).reshape(f.size, x.size)


@settings(max_examples=60)  # each example differentiates up to twice per variable: keep CI short
@given(expressions(max_depth=3, max_size=3, smooth=True, functions=True), seeds)
def test_jvp_and_vjp_are_the_jacobian_contracted(expr, seed):
    b = bindings_for(variables(expr), seed)
    rng = np.random.default_rng(seed + 1)
    for x in variables(expr):
        v, u = rng.normal(size=x.shape), rng.normal(size=expr.shape)
        note(f"f = {describe(expr)}; x = {x.name}; bindings = {b}; v = {v!r}; u = {u!r}")
        J = _full(expr, x, b)
        _close(ed.evaluate(ed.jvp(expr, x, v), **b).ravel(), J @ v.ravel(), "jvp")
        _close(ed.evaluate(ed.vjp(expr, x, u), **b).ravel(), u.ravel() @ J, "vjp")


@settings(max_examples=25)  # distributing tiny tensors plans many small networks: slow per example
@given(expressions(max_depth=3, max_size=3, smooth=True, functions=True), seeds)
def test_hvp_and_diagonals_are_the_hessian_and_jacobian_read(expr, seed):
    b = bindings_for(variables(expr), seed)
    x = variables(expr)[0]
    loss = expr.sum()
    v = np.random.default_rng(seed + 1).normal(size=x.shape)
    note(f"f = {describe(expr)}; x = {x.name}; bindings = {b}; v = {v!r}")
    H = ed.evaluate(ed.hessian(loss, x), **b).reshape(x.size, x.size)
    _close(ed.evaluate(ed.hvp(loss, x, v), **b).ravel(), H @ v.ravel(), "hvp")
    g = loss * ed.tanh(x) + ed.exp(x) * x  # of x's shape: a Jacobian with a diagonal to read
    saved = directional.DENSE_BELOW, directional.MAX_TERMS
    directional.DENSE_BELOW, directional.MAX_TERMS = 0, 16  # distribute even tiny tensors: test that path
    try:
        hd, jd = ed.hessian_diagonal(loss, x), ed.jacobian_diagonal(g, x)
    finally:
        directional.DENSE_BELOW, directional.MAX_TERMS = saved
    _close(ed.evaluate(hd, **b).ravel(), np.diag(H), "hessian_diagonal")
    _close(ed.evaluate(jd, **b).ravel(), np.diag(_full(g, x, b)), "jacobian_diagonal")


def test_direction_may_be_a_variable_bound_at_evaluation():
    A, x, v = ed.var("A", (3, 3)), ed.var("x", (3,)), ed.var("v", (3,))
    f = ed.tanh(A @ x)
    jv = ed.compile([ed.jvp(f, x, v)])
    rng = np.random.default_rng(0)
    a0, x0 = rng.normal(size=(3, 3)), rng.normal(size=3)
    J = ed.evaluate(ed.jacobian(f, x), A=a0, x=x0)
    for _ in range(3):
        v0 = rng.normal(size=3)
        _close(jv(A=a0, x=x0, v=v0)[0], J @ v0, "jvp with v bound late")


def _largest(expr) -> int:
    return ed.compile([expr]).plan.largest_intermediate


def test_costs_are_those_of_the_result_not_the_dense_tensor():
    n = 1_000_000
    x = ed.var("x", (n,))
    f = ed.tanh(x) * 2 + ed.sin(x) * x
    loss = (f * f).sum()
    for expr in (ed.jacobian_diagonal(f, x), ed.hessian_diagonal(loss, x), ed.jvp(f, x, np.ones(n)),
                 ed.vjp(f, x, np.ones(n)), ed.hvp(loss, x, np.ones(n))):
        assert expr.shape == (n,)
        assert _largest(expr) <= n  # the dense Jacobian would be n² = 10¹² entries
    x0 = np.linspace(-2, 2, n)
    t = np.tanh(x0)
    want = 2 * (1 - t * t) + np.cos(x0) * x0 + np.sin(x0)
    _close(ed.evaluate(ed.jacobian_diagonal(f, x), x=x0), want, "diagonal of an elementwise Jacobian")


def test_matrix_variable_hessian_diagonal_against_closed_form():
    X, A = ed.var("X", (4, 3)), ed.var("A", (5, 4))
    loss = ((A @ X) ** 2).sum()  # H[(k,l),(k,l)] = 2 Σ_i A[i,k]²
    a0 = np.random.default_rng(1).normal(size=(5, 4))
    got = ed.evaluate(ed.hessian_diagonal(loss, X), X=np.zeros((4, 3)), A=a0)
    _close(got, np.repeat(2 * (a0**2).sum(axis=0)[:, None], 3, axis=1), "diag of a Kronecker Hessian")


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda x, y: ed.jvp(x * x, x, np.ones(2)), ed.ShapeError, ["direction v", "(2,)", "(3,)"]),
        (lambda x, y: ed.vjp(x * x, x, np.ones(2)), ed.ShapeError, ["cotangent u", "(2,)", "(3,)"]),
        (lambda x, y: ed.hvp(x * x, x, np.ones(3)), ed.NotScalarError, ["hvp", "(3,)"]),
        (lambda x, y: ed.jacobian_diagonal(x.sum(), x), ed.ShapeError, ["jacobian_diagonal", "()", "jvp"]),
        (lambda x, y: ed.hessian_diagonal(x, x), ed.NotScalarError, ["hessian_diagonal"]),
        (lambda x, y: ed.jvp(x * x, "x", np.ones(3)), ed.WrtError, ["x must be a variable"]),
    ],
)
def test_bad_input(make, error, words):
    with pytest.raises(error) as info:
        make(ed.var("x", (3,)), ed.var("y", (2,)))
    for word in words:
        assert word in str(info.value)
