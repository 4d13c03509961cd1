"""Every worked example of the seed notes (../shared/seeds/), checked exactly.

Where a seed gives numbers they are asserted as given; where it gives a closed form
(x^T, 2(Ax - y)x^T, (A + A^T)x, ...) that form is evaluated with numpy and compared.
Data are small integers wherever possible so that the comparisons are exact.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import einsdiff as ed

# -- 001: F(A) = 2 sum(A); Z = AW + B; S = sum(Z) --------------------------------------

A_001 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
W_001 = np.array([[7.0, 8.0], [10.0, 11.0], [12.0, 13.0]])
B_001 = np.array([13.0, 14.0])
VALUES_001 = dict(A=A_001, W=W_001, B=B_001)

# d vec(Z) / d vec(W), both flattened row-major: the seed's 4x6 matrix
JAC_001_ROW_MAJOR = np.array(
    [[1, 0, 2, 0, 3, 0],
     [0, 1, 0, 2, 0, 3],
     [4, 0, 5, 0, 6, 0],
     [0, 4, 0, 5, 0, 6]], dtype=float)


def test_001_scalar_function_of_a_matrix():
    A = ed.var("A", (2, 3))
    F = (2 * A).sum()
    assert ed.evaluate(F, A=A_001) == 42.0
    dF = ed.evaluate(ed.grad(F, A), A=A_001)
    assert dF.shape == (2, 3)
    np.testing.assert_array_equal(dF, np.full((2, 3), 2.0))
    # the same function written as a contraction with a constant, and as a Jacobian row
    F2 = ed.einsum("ij,ij->", np.full((2, 3), 2.0), A)
    assert ed.evaluate(F2, A=A_001) == 42.0
    np.testing.assert_array_equal(ed.evaluate(ed.jacobian_matrix(F2, A), A=A_001), np.full((1, 6), 2.0))


def _z_of_w():
    A, W, B = ed.var("A", (2, 3)), ed.var("W", (3, 2)), ed.var("B", (2,))
    return A, W, B, A @ W + B


def test_001_value_of_Z():
    A, W, B, Z = _z_of_w()
    np.testing.assert_array_equal(ed.evaluate(Z, **VALUES_001), [[76.0, 83.0], [163.0, 179.0]])


def test_001_tensor_jacobian_of_affine_map():
    A, W, B, Z = _z_of_w()
    J = ed.jacobian(Z, W)
    assert J.shape == (2, 2, 3, 2)  # (P x Q) x (M x N)
    assert "δ" in str(J)
    got = ed.evaluate(J, **VALUES_001)
    # dz_kl / dw_ij = A_ki δ_lj
    want = np.einsum("ki,lj->klij", A_001, np.eye(2))
    np.testing.assert_array_equal(got, want)


def test_001_jacobian_of_affine_map_row_major():
    A, W, B, Z = _z_of_w()
    np.testing.assert_array_equal(ed.evaluate(ed.jacobian_matrix(Z, W), **VALUES_001), JAC_001_ROW_MAJOR)
    np.testing.assert_array_equal(
        ed.evaluate(ed.jacobian_matrix(Z, W, order="C"), **VALUES_001), JAC_001_ROW_MAJOR
    )


def test_001_jacobian_of_affine_map_column_major():
    A, W, B, Z = _z_of_w()
    got = ed.evaluate(ed.jacobian_matrix(Z, W, order="F"), **VALUES_001)
    assert got.shape == (4, 6)
    # closed form: vec_F(A W) = (I_2 ⊗ A) vec_F(W)
    np.testing.assert_array_equal(got, np.kron(np.eye(2), A_001))
    # and the same numbers as the row-major matrix with rows and columns re-ordered:
    # row-major position of Z[k,l] is 2k+l, column-major 2l+k; W[i,j]: 2i+j vs 3j+i
    rows = [2 * k + l for l in range(2) for k in range(2)]
    cols = [2 * i + j for j in range(2) for i in range(3)]
    np.testing.assert_array_equal(got, JAC_001_ROW_MAJOR[np.ix_(rows, cols)])


def test_001_chain_rule_through_the_sum():
    A, W, B, Z = _z_of_w()
    S = Z.sum()
    assert ed.evaluate(S, **VALUES_001) == 501.0
    dS_dW = ed.evaluate(ed.grad(S, W), **VALUES_001)
    np.testing.assert_array_equal(dS_dW, [[5.0, 5.0], [7.0, 7.0], [9.0, 9.0]])
    # the seed's route: dS/dZ (row-major, 1x4) times the 4x6 Jacobian dZ/dW, reshaped row-major
    Zv = ed.var("Zv", (2, 2))
    dS_dZ = ed.evaluate(ed.jacobian_matrix(Zv.sum(), Zv), Zv=np.zeros((2, 2)))
    np.testing.assert_array_equal(dS_dZ, np.ones((1, 4)))
    row = dS_dZ @ ed.evaluate(ed.jacobian_matrix(Z, W), **VALUES_001)
    np.testing.assert_array_equal(row, [[5, 5, 7, 7, 9, 9]])
    np.testing.assert_array_equal(row.reshape(3, 2), dS_dW)


# -- 000: the relu neuron and the MSE loss --------------------------------------------------

W_000 = np.array([1.0, 0.5, 2.0])
X_000 = np.array([2.0, -2.0, 1.5])  # w.x = 2 - 1 + 3 = 4, exactly


def _neuron():
    w, x, b = ed.var("w", (3,)), ed.var("x", (3,)), ed.var("b", ())
    return w, x, b, ed.relu(w @ x + b)


@pytest.mark.parametrize(
    "bias, active",
    [
        (1.0, True),     # z = 5 > 0
        (-3.5, True),    # z = 0.5 > 0
        (-10.0, False),  # z = -6 < 0
        (-4.0, False),   # z = 0 exactly: the kink, where the derivative is taken as 0
    ],
)
def test_000_neuron_gradient_on_both_sides_of_the_kink(bias, active):
    w, x, b, act = _neuron()
    values = dict(w=W_000, x=X_000, b=np.array(bias))
    z = W_000 @ X_000 + bias
    assert (z > 0) == active
    assert ed.evaluate(act, **values) == max(0.0, z)
    gw = ed.evaluate(ed.grad(act, w), **values)
    gb = ed.evaluate(ed.grad(act, b), **values)
    np.testing.assert_array_equal(gw, X_000 if active else np.zeros(3))  # x^T or 0^T
    assert gb.shape == ()
    assert gb == (1.0 if active else 0.0)
    # the inner pieces: d(w.x)/dw = x^T, d(w.x + b)/db = 1
    np.testing.assert_array_equal(ed.evaluate(ed.grad(w @ x + b, w), **values), X_000)
    assert ed.evaluate(ed.grad(w @ x + b, b), **values) == 1.0


def test_000_broadcast_relu_jacobian_is_diagonal_step():
    x = ed.var("x", (5,))
    xv = np.array([-2.0, 0.0, 3.0, -0.0, 1e-300])
    got = ed.evaluate(ed.jacobian(ed.relu(x), x), x=xv)
    np.testing.assert_array_equal(got, np.diag([0.0, 0.0, 1.0, 0.0, 1.0]))


def _mse():
    N, n = 6, 3
    X, y, w, b = ed.var("X", (N, n)), ed.var("y", (N,)), ed.var("w", (n,)), ed.var("b", ())
    C = ((y - ed.relu(X @ w + b)) ** 2).sum() / N
    return N, X, y, w, b, C


def _mse_closed_form(Xv, yv, wv, bv):
    """Seed 000: dC/dw = 2/N sum over rows with w.x_i + b > 0 of (w.x_i + b - y_i) x_i^T."""
    N = len(yv)
    z = Xv @ wv + bv
    active = z > 0
    C = np.mean((yv - np.maximum(0.0, z)) ** 2)
    dw = 2 / N * sum((z[i] - yv[i]) * Xv[i] for i in range(N) if active[i])
    db = 2 / N * sum(z[i] - yv[i] for i in range(N) if active[i])
    return C, np.asarray(dw, dtype=float) + np.zeros(Xv.shape[1]), float(db)


# integer data; row 2 sits exactly on the kink (z = 0), rows 1 and 4 are inactive
X_MSE = np.array([[1.0, 2.0, 0.0], [-3.0, 1.0, 1.0], [2.0, -1.0, 1.0], [0.0, 1.0, 2.0], [-2.0, -2.0, 1.0],
                  [1.0, 1.0, 1.0]])
Y_MSE = np.array([1.0, 2.0, -1.0, 3.0, 0.0, 2.0])
W_MSE = np.array([1.0, 1.0, -1.0])


@pytest.mark.parametrize("bias", [0.0, 5.0, -20.0])  # mixed rows, every row active, no row active
def test_000_mse_loss_gradients(bias):
    N, X, y, w, b, C = _mse()
    values = dict(X=X_MSE, y=Y_MSE, w=W_MSE, b=np.array(bias))
    z = X_MSE @ W_MSE + bias
    if bias == 0.0:
        assert np.any(z == 0) and np.any(z > 0) and np.any(z < 0)
    want_C, want_w, want_b = _mse_closed_form(X_MSE, Y_MSE, W_MSE, bias)
    np.testing.assert_allclose(ed.evaluate(C, **values), want_C, rtol=1e-14, atol=0)
    np.testing.assert_allclose(ed.evaluate(ed.grad(C, w), **values), want_w, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(ed.evaluate(ed.grad(C, b), **values), want_b, rtol=1e-14, atol=1e-15)


def test_000_mse_loss_gradients_random():
    N, X, y, w, b, C = _mse()
    rng = np.random.default_rng(0)
    values = dict(X=rng.normal(size=(N, 3)), y=rng.normal(size=N), w=rng.normal(size=3), b=np.array(0.1))
    z = values["X"] @ values["w"] + 0.1
    assert 0 < np.sum(z > 0) < N  # both branches of the seed's case split occur
    want_C, want_w, want_b = _mse_closed_form(values["X"], values["y"], values["w"], 0.1)
    np.testing.assert_allclose(ed.evaluate(C, **values), want_C, rtol=1e-13)
    np.testing.assert_allclose(ed.evaluate(ed.grad(C, w), **values), want_w, rtol=1e-13)
    np.testing.assert_allclose(ed.evaluate(ed.grad(C, b), **values), want_b, rtol=1e-13)


def test_000_elementwise_and_scalar_expansion_rules():
    w, x, z = ed.var("w", (3,)), ed.var("x", (3,)), ed.var("z", ())
    values = dict(w=np.array([1.0, 2.0, 3.0]), x=np.array([4.0, 5.0, 8.0]), z=np.array(2.0))
    ev = lambda e: ed.evaluate(e, **values)  # noqa: E731
    np.testing.assert_array_equal(ev(ed.jacobian(w + x, w)), np.eye(3))
    np.testing.assert_array_equal(ev(ed.jacobian(w - x, w)), np.eye(3))
    np.testing.assert_array_equal(ev(ed.jacobian(w * x, w)), np.diag(values["x"]))
    np.testing.assert_array_equal(ev(ed.jacobian(w / x, w)), np.diag(1 / values["x"]))
    np.testing.assert_array_equal(ev(ed.jacobian(x + z, x)), np.eye(3))
    np.testing.assert_array_equal(ev(ed.jacobian(x + z, z)), np.ones(3))
    np.testing.assert_array_equal(ev(ed.jacobian(x * z, x)), 2.0 * np.eye(3))
    np.testing.assert_array_equal(ev(ed.jacobian(x * z, z)), values["x"])
    np.testing.assert_array_equal(ev(ed.grad((x * z).sum(), x)), np.full(3, 2.0))
    np.testing.assert_array_equal(ev(ed.grad((x * z).sum(), z)), values["x"].sum())
    np.testing.assert_array_equal(ev(ed.grad(x.sum(), x)), np.ones(3))


# -- 003: index notation, ||Ax - y||^2, x^T A x ---------------------------------------------


def test_003_jacobian_of_Ax_wrt_A_is_delta_times_x():
    M, N = 3, 4
    A, x = ed.var("A", (M, N)), ed.var("x", (N,))
    J = ed.jacobian(A @ x, A)
    assert J.shape == (M, M, N)  # M x (M x N)
    assert "δ" in str(J)  # df_i/dA_kl = δ_ik x_l
    assert "δ" in ed.to_index_notation(J)
    xv = np.array([1.0, -2.0, 3.0, 5.0])
    got = ed.evaluate(J, A=np.zeros((M, N)), x=xv)
    for i in range(M):
        for k in range(M):
            for l_ in range(N):
                assert got[i, k, l_] == (xv[l_] if i == k else 0.0)
    # as a matrix: row i is [0^T ... x^T ... 0^T] with x^T in block i
    np.testing.assert_array_equal(ed.evaluate(ed.jacobian_matrix(A @ x, A), A=np.zeros((M, N)), x=xv),
                                  np.kron(np.eye(M), xv))


INT_A = np.array([[1.0, -2.0, 0.0, 3.0], [2.0, 1.0, -1.0, 1.0], [0.0, 4.0, 2.0, -3.0]])
INT_X = np.array([2.0, 1.0, -1.0, 1.0])
INT_Y = np.array([1.0, -2.0, 3.0])


def _least_squares():
    A, x, y = ed.var("A", (3, 4)), ed.var("x", (4,)), ed.var("y", (3,))
    g = A @ x - y
    return A, x, y, g, g @ g


def test_003_least_squares_gradients_exact():
    A, x, y, g, f = _least_squares()
    values = dict(A=INT_A, x=INT_X, y=INT_Y)
    r = INT_A @ INT_X - INT_Y
    assert ed.evaluate(f, **values) == r @ r
    np.testing.assert_array_equal(ed.evaluate(ed.grad(f, A), **values), 2 * np.outer(r, INT_X))  # 2(Ax-y)x^T
    np.testing.assert_array_equal(ed.evaluate(ed.grad(f, x), **values), 2 * INT_A.T @ r)  # 2A^T(Ax-y)
    np.testing.assert_array_equal(ed.evaluate(ed.hessian(f, x), **values), 2 * INT_A.T @ INT_A)


def test_003_least_squares_chain_rule_over_k():
    # df/dA_ij = sum_k df/dg_k dg_k/dA_ij, with both factors from einsdiff
    A, x, y, g, f = _least_squares()
    values = dict(A=INT_A, x=INT_X, y=INT_Y)
    r = INT_A @ INT_X - INT_Y
    gv = ed.var("g", (3,))
    df_dg = ed.evaluate(ed.grad(gv @ gv, gv), g=r)
    np.testing.assert_array_equal(df_dg, 2 * r)
    dg_dA = ed.evaluate(ed.jacobian(g, A), **values)
    np.testing.assert_array_equal(np.einsum("k,kij->ij", df_dg, dg_dA), 2 * np.outer(r, INT_X))


def test_003_least_squares_gradients_random():
    A, x, y, g, f = _least_squares()
    rng = np.random.default_rng(3)
    Av, xv, yv = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=3)
    values = dict(A=Av, x=xv, y=yv)
    r = Av @ xv - yv
    np.testing.assert_allclose(ed.evaluate(ed.grad(f, A), **values), 2 * np.outer(r, xv), rtol=1e-13)
    np.testing.assert_allclose(ed.evaluate(ed.grad(f, x), **values), 2 * Av.T @ r, rtol=1e-13)


INT_Q = np.array([[1.0, 2.0, 0.0, -1.0], [0.0, 3.0, 1.0, 2.0], [4.0, 0.0, 1.0, 0.0], [-2.0, 1.0, 5.0, 2.0]])


def test_003_quadratic_form_exact():
    x, A = ed.var("x", (4,)), ed.var("A", (4, 4))
    f = ed.einsum("i,ij,j->", x, A, x)
    values = dict(x=INT_X, A=INT_Q)
    assert ed.evaluate(f, **values) == INT_X @ INT_Q @ INT_X
    np.testing.assert_array_equal(ed.evaluate(ed.grad(f, x), **values), (INT_Q + INT_Q.T) @ INT_X)
    np.testing.assert_array_equal(ed.evaluate(ed.hessian(f, x), **values), INT_Q + INT_Q.T)
    np.testing.assert_array_equal(ed.evaluate(ed.grad(f, A), **values), np.outer(INT_X, INT_X))


def test_003_quadratic_form_random():
    rng = np.random.default_rng(4)
    Av, xv = rng.normal(size=(4, 4)), rng.normal(size=4)
    x, A = ed.var("x", (4,)), ed.var("A", (4, 4))
    f = ed.einsum("i,ij,j->", x, A, x)
    np.testing.assert_allclose(ed.evaluate(f, x=xv, A=Av), xv @ Av @ xv, rtol=1e-13)
    np.testing.assert_allclose(ed.evaluate(ed.grad(f, x), x=xv, A=Av), (Av + Av.T) @ xv, rtol=1e-13)
    np.testing.assert_allclose(ed.evaluate(ed.hessian(f, x), x=xv, A=Av), Av + Av.T, rtol=1e-13)


# -- the examples print and check the seeds ---------------------------------------------------

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.py"))


def test_examples_exist():
    names = {p.name for p in EXAMPLES}
    assert {"seed000_neuron.py", "seed001_jacobian.py", "seed003_index_notation.py"} <= names


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script):
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                            cwd=script.parent.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "=" in result.stdout
