"""scipy_objective and scipy_residuals: flat-vector callables that match the closed forms."""

import numpy as np
import pytest

import einsdiff as ed

pytest.importorskip("scipy")

rng = np.random.default_rng(11)
A_val, b_val = rng.normal(size=(5, 3)), rng.normal(size=5)
x = ed.var("x", (3,))
A, b = ed.var("A", (5, 3)), ed.var("b", (5,))
LOSS = ((A @ x - b) ** 2).sum()


def test_objective_matches_least_squares_closed_forms():
    obj = ed.scipy_objective(LOSS, x, A=A_val, b=b_val)
    z, p = rng.normal(size=3), rng.normal(size=3)
    r = A_val @ z - b_val
    assert obj.fun(z) == pytest.approx(r @ r, rel=1e-13)
    np.testing.assert_allclose(obj.jac(z), 2 * A_val.T @ r, rtol=1e-12)
    np.testing.assert_allclose(obj.hess(z), 2 * A_val.T @ A_val, rtol=1e-12)
    np.testing.assert_allclose(obj.hessp(z, p), 2 * A_val.T @ A_val @ p, rtol=1e-12)
    sparse_obj = ed.scipy_objective(LOSS, x, hess_format="sparse", A=A_val, b=b_val)
    np.testing.assert_allclose(sparse_obj.hess(z).toarray(), 2 * A_val.T @ A_val, rtol=1e-12)


def test_minimize_reaches_the_normal_equations_solution():
    from scipy.optimize import minimize

    obj = ed.scipy_objective(LOSS, x, A=A_val, b=b_val)
    want = np.linalg.lstsq(A_val, b_val, rcond=None)[0]
    for kwargs in (dict(method="Newton-CG", hessp=obj.hessp), dict(method="trust-exact", hess=obj.hess)):
        result = minimize(obj.fun, np.zeros(3), jac=obj.jac, **kwargs)
        np.testing.assert_allclose(result.x, want, atol=1e-7)


def test_matrix_variable_is_flattened_row_major():
    W = ed.var("W", (2, 3))
    obj = ed.scipy_objective((W * W * np.arange(6.0).reshape(2, 3)).sum(), W)
    z = np.arange(1.0, 7.0)
    np.testing.assert_allclose(obj.jac(z), 2 * z * np.arange(6.0))
    np.testing.assert_allclose(obj.hess(z), np.diag(2 * np.arange(6.0)))


def test_residuals_dense_and_sparse_jacobians_and_pattern():
    res = ed.scipy_residuals(A @ x - b, x, A=A_val, b=b_val)
    sparse_res = ed.scipy_residuals(A @ x - b, x, jac_format="sparse", A=A_val, b=b_val)
    z = rng.normal(size=3)
    np.testing.assert_allclose(res.fun(z), A_val @ z - b_val, rtol=1e-13)
    np.testing.assert_allclose(res.jac(z), A_val, rtol=1e-13)
    np.testing.assert_allclose(sparse_res.jac(z).toarray(), A_val, rtol=1e-13)
    U, V = ed.var("U", (4, 2)), ed.var("V", (3, 2))
    pattern = ed.scipy_residuals(U @ V.T, U, V=np.ones((3, 2))).jac_sparsity
    want = np.kron(np.eye(4), np.ones((3, 2)))  # row (i,j) depends on U[i,:] only
    np.testing.assert_array_equal(pattern.toarray(), want)


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: ed.scipy_objective(A @ x, x, A=A_val), ed.NotScalarError, ["scalar", "(5,)"]),
        (lambda: ed.scipy_objective(LOSS, x, A=A_val), ed.BindingError, ["'b'"]),
        (lambda: ed.scipy_objective(LOSS, x, hess_format="csr", A=A_val, b=b_val), ed.OptionError, ["'csr'"]),
        (lambda: ed.scipy_objective(LOSS, x, A=A_val, b=b_val).fun(np.zeros(4)), ed.OptionError, ["size 4", "'x'"]),
        (lambda: ed.scipy_residuals(A @ x, x, jac_format="coo", A=A_val), ed.OptionError, ["'coo'"]),
    ],
)
def test_bad_input(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value)
