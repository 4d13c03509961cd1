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


@pytest.fixture
def runs(monkeypatch):
    """How many compiled programs ran (each run is one evaluation)."""
    from einsdiff.engine.compiled import Compiled

    count = [0]
    call = Compiled.__call__

    def counted(self, *args, **kwargs):
        count[0] += 1
        return call(self, *args, **kwargs)

    monkeypatch.setattr(Compiled, "__call__", counted)
    return count


LOGISTIC_X, LOGISTIC_Y = rng.normal(size=(30, 4)), np.sign(rng.normal(size=30))
w = ed.var("w", (4,))
Xl, yl = ed.var("X", (30, 4)), ed.var("y", (30,))
LOGISTIC = ed.log(1 + ed.exp(-yl * (Xl @ w))).sum() + 0.1 * (w * w).sum()


def logistic_closed_forms(z):
    """Value, gradient and Hessian of LOGISTIC by hand."""
    m = LOGISTIC_Y * (LOGISTIC_X @ z)
    s = 1 / (1 + np.exp(m))  # σ(-m)
    value = np.log1p(np.exp(-m)).sum() + 0.1 * z @ z
    gradient = -LOGISTIC_X.T @ (LOGISTIC_Y * s) + 0.2 * z
    hess = (LOGISTIC_X * (s * (1 - s))[:, None]).T @ LOGISTIC_X + 0.2 * np.eye(4)
    return value, gradient, hess


@pytest.mark.parametrize("order", [("fun", "jac", "hess"), ("hess", "jac", "fun"), ("jac", "hessp", "fun", "hessp")])
def test_calls_at_one_point_share_one_evaluation_after_the_first_hessian(runs, order):
    obj = ed.scipy_objective(LOGISTIC, w, X=LOGISTIC_X, y=LOGISTIC_Y)
    first, second = rng.normal(size=4), rng.normal(size=4)
    obj.hess(first)  # from now on the objective knows the solver wants Hessians
    runs[0] = 0
    for name in order:
        if name == "hessp":
            obj.hessp(second, np.ones(4))
        else:
            getattr(obj, name)(second)
    assert runs[0] == 1


def test_fun_and_jac_alone_never_compute_a_hessian(runs):
    obj = ed.scipy_objective(LOGISTIC, w, X=LOGISTIC_X, y=LOGISTIC_Y)
    z = rng.normal(size=4)
    obj.fun(z), obj.jac(z), obj.fun(z)
    assert runs[0] == 1 and obj._with_hess is None


def test_cached_results_equal_the_closed_forms_at_every_point():
    obj = ed.scipy_objective(LOGISTIC, w, X=LOGISTIC_X, y=LOGISTIC_Y)
    for k in range(4):
        z, p = rng.normal(size=4), rng.normal(size=4)
        value, gradient, hess = logistic_closed_forms(z)
        calls = [lambda: obj.fun(z), lambda: obj.jac(z), lambda: obj.hess(z), lambda: obj.hessp(z, p)]
        for call in calls[k:] + calls[:k]:  # every order, each point fresh
            call()
        assert obj.fun(z) == pytest.approx(value, rel=1e-13)
        np.testing.assert_allclose(obj.jac(z), gradient, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(obj.hess(z), hess, rtol=1e-12)
        np.testing.assert_allclose(obj.hessp(z, p), hess @ p, rtol=1e-12, atol=1e-14)


def test_a_point_changed_in_place_is_evaluated_again():
    obj = ed.scipy_objective(LOGISTIC, w, X=LOGISTIC_X, y=LOGISTIC_Y)
    z = rng.normal(size=4)
    obj.fun(z), obj.hess(z)
    z[1] += 0.5  # scipy reuses its arrays
    value, gradient, hess = logistic_closed_forms(z)
    assert obj.fun(z) == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(obj.jac(z), gradient, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(obj.hess(z), hess, rtol=1e-12)
    obj.jac(z)[:] = 0.0  # nor may the caller's writes reach the cache
    np.testing.assert_allclose(obj.jac(z), gradient, rtol=1e-12, atol=1e-14)


def test_minimize_logistic_matches_hand_written_derivatives():
    from scipy.optimize import minimize

    hand = dict(fun=lambda z: logistic_closed_forms(z)[0], jac=lambda z: logistic_closed_forms(z)[1],
                hess=lambda z: logistic_closed_forms(z)[2], hessp=lambda z, p: logistic_closed_forms(z)[2] @ p)
    for method, second in (("Newton-CG", "hessp"), ("trust-exact", "hess")):
        obj = ed.scipy_objective(LOGISTIC, w, X=LOGISTIC_X, y=LOGISTIC_Y)
        mine = minimize(obj.fun, np.zeros(4), jac=obj.jac, method=method, **{second: getattr(obj, second)})
        want = minimize(hand["fun"], np.zeros(4), jac=hand["jac"], method=method, **{second: hand[second]})
        assert mine.nit == want.nit
        np.testing.assert_allclose(mine.x, want.x, rtol=1e-8, atol=1e-10)


def test_wide_x_takes_products_from_the_compiled_hvp(runs):
    M = rng.normal(size=(50, 300)) / 10
    u = ed.var("u", (300,))
    obj = ed.scipy_objective(ed.tanh(ed.var("M", (50, 300)) @ u).sum(), u, M=M)
    z, p = rng.normal(size=300), rng.normal(size=300)
    t = np.tanh(M @ z)
    want = M.T @ (-2 * t * (1 - t * t) * (M @ p))
    np.testing.assert_allclose(obj.hessp(z, p), want, rtol=1e-10, atol=1e-14)
    assert not obj._hessp_by_matrix and runs[0] == 1  # no Hessian matrix was computed


def test_the_hessian_of_a_quadratic_is_computed_once(runs):
    obj = ed.scipy_objective(LOSS, x, A=A_val, b=b_val)
    obj.hess(np.zeros(3))
    runs[0] = 0
    for _ in range(3):
        z, p = rng.normal(size=3), rng.normal(size=3)
        r = A_val @ z - b_val
        assert obj.fun(z) == pytest.approx(r @ r, rel=1e-13)
        np.testing.assert_allclose(obj.hess(z), 2 * A_val.T @ A_val, rtol=1e-12)
        np.testing.assert_allclose(obj.hessp(z, p), 2 * A_val.T @ A_val @ p, rtol=1e-12)
    assert runs[0] == 3 and obj._with_hess is None  # value and gradient only, once a point
