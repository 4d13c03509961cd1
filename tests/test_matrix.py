"""The matrix-calculus builders: values against numpy, stability at large magnitudes,
branch-wise derivatives of where, solve without an inverse, and errors that name the operand."""

import numpy as np
import pytest

import einsdiff as ed

rng = np.random.default_rng(20261123)
X = ed.var("X", (3, 3))
S = ed.var("S", (2, 3, 3))
x = ed.var("x", (4,))
M = ed.var("M", (2, 4))
x0 = rng.normal(size=(3, 3)) + 3 * np.eye(3)
s0 = rng.normal(size=(2, 3, 3)) + 3 * np.eye(3)
v0 = rng.normal(size=4)
m0 = rng.normal(size=(2, 4))
VALUES = dict(X=x0, S=s0, x=v0, M=m0)


def _logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)), axis=axis)


VALUE_CASES = [
    ("inv", lambda: ed.inv(X), lambda: np.linalg.inv(x0)),
    ("inv batched", lambda: ed.inv(S), lambda: np.linalg.inv(s0)),
    ("det batched", lambda: ed.det(S), lambda: np.linalg.det(s0)),
    ("logdet absolute", lambda: ed.logdet(X - 6 * np.eye(3), absolute=True), lambda: np.linalg.slogdet(x0 - 6 * np.eye(3))[1]),
    ("slogdet sign", lambda: ed.slogdet(X - 6 * np.eye(3))[0], lambda: np.linalg.slogdet(x0 - 6 * np.eye(3))[0]),
    ("solve vector", lambda: ed.solve(X, v0[:3]), lambda: np.linalg.solve(x0, v0[:3])),
    # numpy 1.x reads a (3, 3) right-hand side beside a (2, 3, 3) stack as stacked vectors,
    # numpy 2 as one matrix: ed.solve means the matrix, as numpy 2, on both.
    ("solve batched matrices", lambda: ed.solve(S, s0[0]), lambda: np.linalg.solve(s0, np.broadcast_to(s0[0], s0.shape))),
    ("solve batched vector", lambda: ed.solve(S, v0[:3]), lambda: np.linalg.solve(s0, v0[:3][None, :, None])[..., 0]),
    ("trace batched", lambda: ed.trace(S), lambda: np.trace(s0, axis1=-2, axis2=-1)),
    ("diagonal batched", lambda: ed.diagonal(S), lambda: np.diagonal(s0, axis1=-2, axis2=-1)),
    ("diag of a vector", lambda: ed.diag(x), lambda: np.diag(v0)),
    ("diag of a matrix", lambda: ed.diag(X), lambda: np.diag(x0)),
    ("dot vectors", lambda: ed.dot(x, x), lambda: np.dot(v0, v0)),
    ("dot matrix vector", lambda: ed.dot(M, x), lambda: np.dot(m0, v0)),
    ("dot n-d", lambda: ed.dot(S, X), lambda: np.dot(s0, x0)),
    ("outer flattens", lambda: ed.outer(M, x), lambda: np.outer(m0, v0)),
    ("reshape with -1", lambda: ed.reshape(M, (-1, 2)), lambda: m0.reshape(-1, 2)),
    ("transpose axes", lambda: ed.transpose(S, (1, 0, 2)), lambda: np.transpose(s0, (1, 0, 2))),
    ("norm 2", lambda: ed.norm(x), lambda: np.linalg.norm(v0)),
    ("norm 1", lambda: ed.norm(x, 1), lambda: np.linalg.norm(v0, 1)),
    ("norm fro", lambda: ed.norm(X, "fro"), lambda: np.linalg.norm(x0, "fro")),
    ("norm fro batched", lambda: ed.norm(S, "fro"), lambda: np.linalg.norm(s0, "fro", axis=(-2, -1))),
    ("norm along an axis", lambda: ed.norm(M, 2, axis=1), lambda: np.linalg.norm(m0, 2, axis=1)),
    ("logsumexp all", lambda: ed.logsumexp(M), lambda: _logsumexp(m0, (0, 1))),
    ("logsumexp axis", lambda: ed.logsumexp(M, axis=0), lambda: _logsumexp(m0, 0)),
    ("softmax", lambda: ed.softmax(M), lambda: np.exp(m0) / np.exp(m0).sum(axis=-1, keepdims=True)),
    ("log_softmax", lambda: ed.log_softmax(M, axis=0), lambda: m0 - _logsumexp(m0, 0)[None]),
    ("where", lambda: ed.where(x > 0, x, 0.1 * x), lambda: np.where(v0 > 0, v0, 0.1 * v0)),
    ("maximum", lambda: ed.maximum(x, 0.2), lambda: np.maximum(v0, 0.2)),
    ("minimum broadcast", lambda: ed.minimum(M, x), lambda: np.minimum(m0, v0)),
    ("comparisons", lambda: (x >= 0) + (x <= 0) + (x < 0), lambda: (v0 >= 0) + (v0 <= 0) + (v0 < 0) * 1.0),
    ("pow", lambda: ed.pow(ed.abs(x), 1.5), lambda: np.abs(v0) ** 1.5),
    ("reciprocal", lambda: ed.reciprocal(x), lambda: 1 / v0),
    ("softplus", lambda: ed.softplus(x), lambda: np.log1p(np.exp(v0))),
]


@pytest.mark.parametrize("name, build, want", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_values_match_numpy(name, build, want):
    np.testing.assert_allclose(ed.evaluate(build(), **VALUES), want(), rtol=1e-12, atol=1e-12)


def test_large_magnitudes_do_not_overflow():
    z = ed.var("z", (4,))
    z0 = np.array([-1e3, -30.0, 30.0, 1e3])
    for f, want, dwant in [
        (ed.sigmoid(z), [0.0, 1 / (1 + np.exp(30)), 1 / (1 + np.exp(-30)), 1.0], None),
        (ed.softplus(z), [0.0, np.log1p(np.exp(-30)), 30 + np.log1p(np.exp(-30)), 1e3], None),
        (ed.log1p(ed.abs(z)), np.log1p(np.abs(z0)), None),
    ]:
        with np.errstate(over="raise", invalid="raise", divide="raise"):  # not even an intermediate overflow
            np.testing.assert_allclose(ed.evaluate(f, z=z0), want, rtol=1e-14)
            jac = ed.evaluate(ed.jacobian(f, z), z=z0)
        assert np.all(np.isfinite(jac))
    big = np.array([[1e3, 1e3, -1e3, 0.0]])
    w = ed.var("w", (1, 4))
    with np.errstate(over="raise"):
        np.testing.assert_allclose(ed.evaluate(ed.logsumexp(w, axis=1), w=big), [1e3 + np.log(2)], rtol=1e-15)
        np.testing.assert_allclose(ed.evaluate(ed.softmax(w), w=big), [[0.5, 0.5, 0.0, 0.0]], atol=1e-300)
        np.testing.assert_allclose(ed.evaluate(ed.grad(ed.logsumexp(w), w), w=big), [[0.5, 0.5, 0.0, 0.0]], atol=1e-300)
    np.testing.assert_array_equal(ed.evaluate(ed.logsumexp(w), w=np.full((1, 4), -np.inf)), -np.inf)


def test_where_differentiates_branch_by_branch():
    """d/dx where(x > 0, log x, 0) is 1/x where chosen and exactly 0 elsewhere, no nan from
    log(-x), in both modes: a reverse-mode adjoint is masked after, not before, the product."""
    f = ed.where(x > 0, ed.log(x), 0.0)
    point = np.array([-1.0, 2.0, 0.0, 4.0])
    for mode in ("forward", "reverse"):
        with np.errstate(all="ignore"):
            got = ed.evaluate(ed.jacobian(f, x, mode=mode), x=point)
            hess = ed.evaluate(ed.hessian(f.sum(), x, mode=mode), x=point)
            grad = ed.evaluate(ed.grad((f * np.arange(4.0)).sum(), x, mode=mode), x=point)
        np.testing.assert_array_equal(grad, [0.0, 0.5, 0.0, 0.75])
        np.testing.assert_array_equal(got, np.diag([0.0, 0.5, 0.0, 0.25]))
        np.testing.assert_array_equal(hess, np.diag([0.0, -0.25, 0.0, -1 / 16]))


def test_where_of_finite_branches_in_both_modes():
    f = ed.where(x > 0, x * x, -0.5 * x)
    point = np.array([-1.0, 2.0, 0.0, 4.0])
    for mode in ("forward", "reverse"):
        np.testing.assert_array_equal(ed.evaluate(ed.jacobian(f, x, mode=mode), x=point), np.diag([-0.5, 4.0, -0.5, 8.0]))


def test_maximum_ties_follow_b_as_relu():
    point = np.array([-1.0, 0.0, 2.0, 0.0])
    np.testing.assert_array_equal(ed.evaluate(ed.grad(ed.maximum(x, 0.0).sum(), x), x=point),
                                  ed.evaluate(ed.grad(ed.relu(x).sum(), x), x=point))


def test_solve_and_its_derivatives_never_form_an_inverse(monkeypatch):
    A, b = ed.var("A", (3, 3)), ed.var("b", (3,))
    u = ed.solve(A, b)
    loss = (u * u).sum()
    outs = ed.compile([u, *ed.grad(loss, (A, b)), ed.jacobian(u, A, mode="forward")])
    inv = np.linalg.inv(x0)  # for the closed forms, before inv is patched
    hessian = ed.evaluate(ed.hessian(loss, b), A=x0, b=v0[:3])  # 2 A⁻ᵀ A⁻¹: an inverse by nature
    monkeypatch.setattr(np.linalg, "inv", lambda *a, **k: pytest.fail("solve formed an inverse"))
    got = outs(A=x0, b=v0[:3])
    sol = inv @ v0[:3]
    g = inv.T @ (2 * sol)
    np.testing.assert_allclose(got[0], sol, rtol=1e-12)
    np.testing.assert_allclose(got[1], -np.outer(g, sol), rtol=1e-10)
    np.testing.assert_allclose(got[2], g, rtol=1e-10)
    np.testing.assert_allclose(got[3], -np.einsum("ik,l->ikl", inv, sol), rtol=1e-10)
    np.testing.assert_allclose(hessian, 2 * inv.T @ inv, rtol=1e-10)


def test_derivative_formulas_read_as_the_cookbook():
    assert str(ed.grad(ed.logdet(X), X)) == ed.to_index_notation(ed.transpose(ed.inv(X)))
    jac = ed.jacobian(ed.inv(X), X)
    point = ed.evaluate(ed.inv(X), X=x0)
    np.testing.assert_allclose(ed.evaluate(jac, X=x0), -np.einsum("ik,lj->ijkl", point, point), rtol=1e-12)
    np.testing.assert_allclose(ed.evaluate(ed.grad(ed.det(X), X), X=x0), np.linalg.det(x0) * point.T, rtol=1e-12)


BAD = [
    (lambda: ed.det(M), ed.ShapeError, ["det", "variable 'M'", "(2, 4)", "square"]),
    (lambda: ed.inv(x), ed.ShapeError, ["inv", "variable 'x'", "(4,)"]),
    (lambda: ed.trace(M), ed.ShapeError, ["trace", "(2, 4)"]),
    (lambda: ed.solve(X, x), ed.ShapeError, ["solve", "(3, 3)", "(4,)", "length 3"]),
    (lambda: ed.solve(M, x), ed.ShapeError, ["solve", "matrix a", "(2, 4)"]),
    (lambda: ed.solve(S, M), ed.ShapeError, ["(2, 3, 3)", "(2, 4)"]),
    (lambda: ed.logdet(X, absolute="yes"), ed.OptionError, ["absolute", "'yes'"]),
    (lambda: ed.norm(X, 1), ed.OptionError, ["max column sum", "'fro'"]),
    (lambda: ed.norm(x, "nuc"), ed.ShapeError, ["'nuc' needs a matrix", "(4,)"]),
    (lambda: ed.norm(x, "fro"), ed.ShapeError, ["'fro' needs a matrix", "(4,)"]),
    (lambda: ed.reshape(M, (3, -1)), ed.ShapeError, ["(2, 4)", "(3, -1)"]),
    (lambda: ed.reshape(M, (3, 3)), ed.ShapeError, ["(2, 4)", "(3, 3)"]),
    (lambda: ed.logsumexp(M, axis=2), ed.ShapeError, ["logsumexp", "axis 2", "(2, 4)"]),
    (lambda: ed.where(x > 0, M, X), ed.ShapeError, ["(4,)", "(2, 4)", "(3, 3)"]),
    (lambda: ed.dot(M, X), ed.ShapeError, ["dot", "(2, 4)", "(3, 3)"]),
    (lambda: ed.diag(S), ed.ShapeError, ["diag", "(2, 3, 3)", "diagonal"]),
    (lambda: ed.inv("X"), ed.OperandError, ["inv's argument"]),
]


@pytest.mark.parametrize("make, error, words", BAD, ids=[str(k) for k in range(len(BAD))])
def test_bad_input_names_the_operand_and_shape(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_evaluation_errors_name_the_matrix():
    singular = np.ones((3, 3))
    for f, words in [
        (ed.inv(X), ["inv", "variable 'X'", "(3, 3)", "singular"]),
        (ed.solve(X, x0[0]), ["solve", "variable 'X'", "singular"]),
        (ed.logdet(X), ["logdet", "variable 'X'", "zero", "absolute=True"]),
        (ed.grad(ed.logdet(X), X), ["inv", "singular"]),
    ]:
        with pytest.raises(ed.EvaluationError) as info:
            ed.evaluate(f, X=singular)
        for word in words:
            assert word in str(info.value)
    with pytest.raises(ed.EvaluationError, match="negative"):
        ed.evaluate(ed.logdet(X), X=np.diag([1.0, -2.0, 3.0]))
    assert ed.evaluate(ed.logdet(X, absolute=True), X=np.diag([1.0, -2.0, 3.0])) == pytest.approx(np.log(6))
