"""Every worked example of the seed notes (../shared/seeds/), exactly."""

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


def test_001_scalar_function_of_a_matrix():
    A = ed.var("A", (2, 3))
    F = (2 * A).sum()
    assert ed.evaluate(F, A=A_001) == 42.0
    np.testing.assert_array_equal(ed.evaluate(ed.grad(F, A), A=A_001), np.full((2, 3), 2.0))


def _z_of_w():
    A, W, B = ed.var("A", (2, 3)), ed.var("W", (3, 2)), ed.var("B", (2,))
    return A, W, B, A @ W + B


def test_001_jacobian_of_affine_map_row_major():
    A, W, B, Z = _z_of_w()
    J = ed.jacobian_matrix(Z, W)  # row-major vec, as in the seed
    want = np.array(
        [[1, 0, 2, 0, 3, 0],
         [0, 1, 0, 2, 0, 3],
         [4, 0, 5, 0, 6, 0],
         [0, 4, 0, 5, 0, 6]], dtype=float)
    np.testing.assert_array_equal(ed.evaluate(J, A=A_001, W=W_001, B=B_001), want)


def test_001_jacobian_of_affine_map_column_major_is_kron():
    A, W, B, Z = _z_of_w()
    J = ed.jacobian_matrix(Z, W, order="F")
    # vec_F(A W) = (I ⊗ A) vec_F(W)
    np.testing.assert_array_equal(ed.evaluate(J, A=A_001, W=W_001, B=B_001), np.kron(np.eye(2), A_001))


def test_001_tensor_jacobian_shape_and_index_notation():
    A, W, B, Z = _z_of_w()
    J = ed.jacobian(Z, W)
    assert J.shape == (2, 2, 3, 2)  # (P x Q) x (M x N)
    assert str(J) == "f[i,j,k,l] = δ[j,l] A[i,k]"


def test_001_chain_rule_through_the_sum():
    A, W, B, Z = _z_of_w()
    S = Z.sum()
    b = dict(A=A_001, W=W_001, B=B_001)
    assert ed.evaluate(Z, **b).tolist() == [[76.0, 83.0], [163.0, 179.0]]
    assert ed.evaluate(S, **b) == 501.0
    dS_dW = ed.evaluate(ed.grad(S, W), **b)
    np.testing.assert_array_equal(dS_dW, [[5.0, 5.0], [7.0, 7.0], [9.0, 9.0]])
    # the seed's route: dS/dZ (row-major, 1x4) times the 4x6 Jacobian dZ/dW
    Zv = ed.var("Zv", (2, 2))
    dS_dZ = ed.evaluate(ed.jacobian_matrix(Zv.sum(), Zv), Zv=np.zeros((2, 2)))
    np.testing.assert_array_equal(dS_dZ, np.ones((1, 4)))
    np.testing.assert_array_equal(dS_dZ @ ed.evaluate(ed.jacobian_matrix(Z, W), **b), [[5, 5, 7, 7, 9, 9]])


# -- 000: the relu neuron and the MSE loss --------------------------------------------------


def _neuron():
    w, x, b = ed.var("w", (3,)), ed.var("x", (3,)), ed.var("b", ())
    return w, x, b, ed.relu(w @ x + b)


@pytest.mark.parametrize(
    "bias, active",
    [(1.0, True), (-10.0, False), (-4.0, False)],  # w.x = 4: z = 5 > 0, z = -6 <= 0, z = 0 exactly (kink)
)
def test_000_neuron_gradient_on_both_sides_of_the_kink(bias, active):
    w, x, b, act = _neuron()
    values = dict(w=np.array([1.0, 0.5, 2.0]), x=np.array([2.0, -2.0, 1.5]), b=np.array(bias))
    z = values["w"] @ values["x"] + bias
    assert ed.evaluate(act, **values) == max(0.0, z)
    gw = ed.evaluate(ed.grad(act, w), **values)
    gb = ed.evaluate(ed.grad(act, b), **values)
    np.testing.assert_array_equal(gw, values["x"] if active else np.zeros(3))  # x^T or 0^T
    assert gb == (1.0 if active else 0.0)  # relu'(0) = 0


def test_000_mse_loss_gradients():
    N, n = 8, 3
    rng = np.random.default_rng(0)
    Xv, yv, wv = rng.normal(size=(N, n)), rng.normal(size=N), rng.normal(size=n)
    bv = np.array(0.1)
    X, y, w, b = ed.var("X", (N, n)), ed.var("y", (N,)), ed.var("w", (n,)), ed.var("b", ())
    C = ((y - ed.relu(X @ w + b)) ** 2).sum() / N
    values = dict(X=Xv, y=yv, w=wv, b=bv)
    z = Xv @ wv + bv
    active = z > 0
    assert 0 < active.sum() < N  # both branches of the seed's case split occur
    # seed: dC/dw = 2/N sum_i [z_i > 0] (w.x_i + b - y_i) x_i ; dC/db likewise without x_i
    want_w = 2 / N * ((active * (z - yv)) @ Xv)
    want_b = 2 / N * np.sum(active * (z - yv))
    np.testing.assert_allclose(ed.evaluate(ed.grad(C, w), **values), want_w, rtol=1e-13)
    np.testing.assert_allclose(ed.evaluate(ed.grad(C, b), **values), want_b, rtol=1e-13)


def test_000_elementwise_and_scalar_expansion_rules():
    w, x, z = ed.var("w", (3,)), ed.var("x", (3,)), ed.var("z", ())
    values = dict(w=np.array([1.0, 2.0, 3.0]), x=np.array([4.0, 5.0, 6.0]), z=np.array(2.0))
    ev = lambda e: ed.evaluate(e, **values)  # noqa: E731
    np.testing.assert_array_equal(ev(ed.jacobian(w + x, w)), np.eye(3))
    np.testing.assert_array_equal(ev(ed.jacobian(w - x, w)), np.eye(3))
    np.testing.assert_array_equal(ev(ed.jacobian(w * x, w)), np.diag(values["x"]))
    np.testing.assert_allclose(ev(ed.jacobian(w / x, w)), np.diag(1 / values["x"]))
    np.testing.assert_array_equal(ev(ed.jacobian(x + z, z)), np.ones(3))
    np.testing.assert_array_equal(ev(ed.jacobian(x * z, x)), 2.0 * np.eye(3))
    np.testing.assert_array_equal(ev(ed.jacobian(x * z, z)), values["x"])
    np.testing.assert_array_equal(ev(ed.grad((x * z).sum(), z)), values["x"].sum())
    np.testing.assert_array_equal(ev(ed.grad(x.sum(), x)), np.ones(3))


# -- 003: index notation, ||Ax - y||^2, x^T A x ---------------------------------------------


def test_003_jacobian_of_Ax_wrt_A_is_delta_times_x():
    M, N = 3, 4
    A, x = ed.var("A", (M, N)), ed.var("x", (N,))
    J = ed.jacobian(A @ x, A)
    assert J.shape == (M, M, N)  # M x (M x N)
    assert str(J) == "f[i,j,k] = δ[i,j] x[k]"  # df_i/dA_kl = δ_ik x_l
    xv = np.arange(1.0, N + 1)
    got = ed.evaluate(J, A=np.zeros((M, N)), x=xv)
    for i in range(M):
        for k in range(M):
            for l_ in range(N):
                assert got[i, k, l_] == (xv[l_] if i == k else 0.0)


def test_003_least_squares_gradients():
    rng = np.random.default_rng(3)
    Av, xv, yv = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=3)
    A, x, y = ed.var("A", (3, 4)), ed.var("x", (4,)), ed.var("y", (3,))
    r = A @ x - y
    f = r @ r
    values = dict(A=Av, x=xv, y=yv)
    rv = Av @ xv - yv
    np.testing.assert_allclose(ed.evaluate(ed.grad(f, A), **values), 2 * np.outer(rv, xv), rtol=1e-13)
    np.testing.assert_allclose(ed.evaluate(ed.grad(f, x), **values), 2 * Av.T @ rv, rtol=1e-13)
    np.testing.assert_allclose(ed.evaluate(ed.hessian(f, x), **values), 2 * Av.T @ Av, rtol=1e-13)


def test_003_quadratic_form():
    rng = np.random.default_rng(4)
    Av, xv = rng.normal(size=(4, 4)), rng.normal(size=4)
    x, A = ed.var("x", (4,)), ed.var("A", (4, 4))
    f = ed.einsum("i,ij,j->", x, A, x)
    np.testing.assert_allclose(ed.evaluate(f, x=xv, A=Av), xv @ Av @ xv, rtol=1e-13)
    np.testing.assert_allclose(ed.evaluate(ed.grad(f, x), x=xv, A=Av), (Av + Av.T) @ xv, rtol=1e-13)
    np.testing.assert_allclose(ed.evaluate(ed.hessian(f, x), x=xv, A=Av), Av + Av.T, rtol=1e-13)
    np.testing.assert_allclose(ed.evaluate(ed.grad(f, A), x=xv, A=Av), np.outer(xv, xv), rtol=1e-13)


# -- the examples print and check the seeds ---------------------------------------------------

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script):
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "δ" in result.stdout or "=" in result.stdout
