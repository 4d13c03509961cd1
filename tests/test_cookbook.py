"""Identities from Petersen & Pedersen, "The Matrix Cookbook" (2012), as a table.

Each row differentiates an einsdiff expression and compares the result with the
cookbook's closed form written directly in NumPy (never with einsdiff, never by finite
differences). The rows follow the cookbook's sections: determinants, inverses, traces,
linear and quadratic forms, norms, then softmax, batches and second derivatives.
Layout: the derivative of f with respect to X has shape ``f.shape + X.shape``, so for a
scalar f entry [i, j] is df/dX_ij (the cookbook's convention), and a Hessian entry
[i, j, k, l] is d²f/dX_ij dX_kl.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import einsdiff as ed

rng = np.random.default_rng(20120415)
n = 3


def _spd(size: int) -> np.ndarray:
    g = rng.normal(size=(size, size))
    return g @ g.T + size * np.eye(size)


def _positive_det_stack(count: int) -> np.ndarray:
    s = rng.normal(size=(count, n, n)) + 3 * np.eye(n)
    assert np.all(np.linalg.det(s) > 0)
    return s


# Square matrices are shifted by a multiple of I, so they are well conditioned (and det X > 0).
VALUES = {
    "X": rng.normal(size=(n, n)) + 3 * np.eye(n),
    "A": rng.normal(size=(n, n)) + 2 * np.eye(n),
    "B": rng.normal(size=(n, n)) + 2 * np.eye(n),
    "C": rng.normal(size=(n, n)),
    "D": rng.normal(size=(n, n)),
    "W": _spd(n),  # symmetric positive definite
    "R": rng.normal(size=(4, n)),  # tall, full column rank
    "Q": _spd(4),  # symmetric, for forms in R
    "G": rng.normal(size=(4, 4)) + 4 * np.eye(4),  # not symmetric, for forms in R
    "K": rng.normal(size=(4, n)),
    "y": rng.normal(size=4),
    "a": rng.normal(size=n),
    "b": rng.normal(size=n),
    "c": rng.normal(size=n),
    "x": rng.normal(size=n),
    "s": rng.normal(size=n),
    "z": rng.normal(size=5),
    "t": rng.dirichlet(np.ones(5)),  # a probability vector: the target of a cross-entropy
    "S": _positive_det_stack(2),  # a batch of two matrices
    "Z": rng.normal(size=(2, 5)),
}
VALUES["N"] = VALUES["X"][[1, 0, 2]]  # det N < 0
VALUES["P"] = np.stack([_spd(n), _spd(n)])  # a batch of symmetric positive definite matrices
assert np.linalg.det(VALUES["X"]) > 0 > np.linalg.det(VALUES["N"])

V = {name: ed.var(name, value.shape) for name, value in VALUES.items()}
X, N, A, B, C, D, W, R, Q, G = (V[k] for k in "XNABCDWRQG")
K, y, a, b, c, x, s, z, t, S, Z = (V[k] for k in "KyabcxsztSZ")

# NumPy values under the same names, for the closed forms.
(X0, N0, A0, B0, C0, D0, W0, R0, Q0, G0) = (VALUES[k] for k in "XNABCDWRQG")
(K0, y0, a0, b0, c0, x0, s0, z0, t0, S0, Z0) = (VALUES[k] for k in "KyabcxsztSZ")
I = np.eye(n)
Xi = np.linalg.inv(X0)
det = np.linalg.det


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_jacobian(p: np.ndarray) -> np.ndarray:
    """diag(p) - p pᵀ."""
    return np.diag(p) - np.outer(p, p)


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def _block_diagonal(blocks: np.ndarray, out_ndim: int) -> np.ndarray:
    """J[b, ..., c, ...] = delta_bc blocks[b] for a batch of per-matrix Jacobians ``blocks[b]``
    whose first ``out_ndim`` axes are the output's: output b depends on batch element b only."""
    count = blocks.shape[0]
    rest_out, rest_in = blocks.shape[1 : 1 + out_ndim], blocks.shape[1 + out_ndim :]
    out = np.zeros((count,) + rest_out + (count,) + rest_in)
    for k in range(count):
        out[(k,) + (slice(None),) * out_ndim + (k,)] = blocks[k]
    return out


@dataclass(frozen=True)
class Identity:
    """One cookbook identity: d(``build()``)/d``wrt`` (``order`` 1) or its Hessian (``order`` 2)
    equals ``closed_form()``, computed from the identity with NumPy."""

    name: str
    build: Callable[[], ed.Expr]
    wrt: ed.Var
    closed_form: Callable[[], np.ndarray]
    order: int = 1
    batched: bool = False  # matrices (or vectors) with a leading batch axis


def _power(m: np.ndarray, k: int) -> np.ndarray:
    return np.linalg.matrix_power(m, k)


# -- first order -------------------------------------------------------------------------------
DETERMINANTS = [
    Identity("d det X/dX = det(X) X^-T", lambda: ed.det(X), X, lambda: det(X0) * Xi.T),
    Identity("d det(AXB)/dX = det(AXB) X^-T", lambda: ed.det(A @ X @ B), X, lambda: det(A0 @ X0 @ B0) * Xi.T),
    Identity(
        "d det(X^T Q X)/dX = 2 det(X^T Q X) Q X (X^T Q X)^-1, Q symmetric, X tall",
        lambda: ed.det(R.T @ Q @ R),
        R,
        lambda: 2 * det(R0.T @ Q0 @ R0) * Q0 @ R0 @ np.linalg.inv(R0.T @ Q0 @ R0),
    ),
    Identity(
        "d det(X^T G X)/dX = det(X^T G X)(G X (X^T G X)^-1 + G^T X (X^T G^T X)^-1)",
        lambda: ed.det(R.T @ G @ R),
        R,
        lambda: det(R0.T @ G0 @ R0)
        * (G0 @ R0 @ np.linalg.inv(R0.T @ G0 @ R0) + G0.T @ R0 @ np.linalg.inv(R0.T @ G0.T @ R0)),
    ),
    Identity("d ln det(X^T X)/dX = 2 (X^+)^T", lambda: ed.logdet(R.T @ R), R, lambda: 2 * np.linalg.pinv(R0).T),
    Identity("d ln det(X)/dX = X^-T", lambda: ed.logdet(X), X, lambda: Xi.T),
    Identity("d ln|det X|/dX = X^-T, det X < 0", lambda: ed.logdet(N, absolute=True), N, lambda: np.linalg.inv(N0).T),
    Identity("slogdet: d ln|det X|/dX = X^-T", lambda: ed.slogdet(N)[1], N, lambda: np.linalg.inv(N0).T),
    Identity("slogdet: the sign has derivative 0", lambda: ed.slogdet(N)[0], N, lambda: np.zeros((n, n))),
    Identity("d det(X^3)/dX = 3 det(X^3) X^-T", lambda: ed.det(X @ X @ X), X, lambda: 3 * det(_power(X0, 3)) * Xi.T),
    Identity("d det(X^-1)/dX = -det(X^-1) X^-T", lambda: ed.det(ed.inv(X)), X, lambda: -det(Xi) * Xi.T),
]

INVERSES = [
    Identity(
        "d(X^-1)_kl/dX_ij = -(X^-1)_ki (X^-1)_jl",
        lambda: ed.inv(X),
        X,
        lambda: -np.einsum("ki,jl->klij", Xi, Xi),
    ),
    Identity("d a^T X^-1 b/dX = -X^-T a b^T X^-T", lambda: a @ ed.inv(X) @ b, X, lambda: -Xi.T @ np.outer(a0, b0) @ Xi.T),
    Identity(
        "d tr(A X^-1 B)/dX = -(X^-1 B A X^-1)^T",
        lambda: ed.trace(A @ ed.inv(X) @ B),
        X,
        lambda: -(Xi @ B0 @ A0 @ Xi).T,
    ),
    Identity("d tr(X^-1)/dX = -(X^-2)^T", lambda: ed.trace(ed.inv(X)), X, lambda: -(Xi @ Xi).T),
    Identity(
        "d tr((X^T Q X)^-1 A)/dX = -Q X (X^T Q X)^-1 (A + A^T)(X^T Q X)^-1, Q symmetric",
        lambda: ed.trace(ed.inv(R.T @ Q @ R) @ A),
        R,
        lambda: -Q0 @ R0 @ np.linalg.inv(R0.T @ Q0 @ R0) @ (A0 + A0.T) @ np.linalg.inv(R0.T @ Q0 @ R0),
    ),
    Identity(
        "solve: d(X^-1 b)_i/dX_kl = -(X^-1)_ik (X^-1 b)_l",
        lambda: ed.solve(X, b),
        X,
        lambda: -np.einsum("ik,l->ikl", Xi, Xi @ b0),
    ),
    Identity("solve: d(X^-1 b)/db = X^-1", lambda: ed.solve(X, b), b, lambda: Xi),
    Identity(
        "solve: d(X^-1 B)_ij/dX_kl = -(X^-1)_ik (X^-1 B)_lj",
        lambda: ed.solve(X, B),
        X,
        lambda: -np.einsum("ik,lj->ijkl", Xi, Xi @ B0),
    ),
    Identity("solve: d b^T X^-1 b/dX = -X^-T b b^T X^-T", lambda: b @ ed.solve(X, b), X, lambda: -Xi.T @ np.outer(b0, b0) @ Xi.T),
    Identity(
        "solve: d ||X^-1 b||^2/db = 2 X^-T X^-1 b",
        lambda: ed.norm(ed.solve(X, b)) ** 2,
        b,
        lambda: 2 * Xi.T @ Xi @ b0,
    ),
]

TRACES = [
    Identity("d tr(X)/dX = I", lambda: ed.trace(X), X, lambda: I),
    Identity("d tr(XA)/dX = A^T", lambda: ed.trace(X @ A), X, lambda: A0.T),
    Identity("d tr(AXB)/dX = A^T B^T", lambda: ed.trace(A @ X @ B), X, lambda: A0.T @ B0.T),
    Identity("d tr(A X^T B)/dX = B A", lambda: ed.trace(A @ X.T @ B), X, lambda: B0 @ A0),
    Identity("d tr(X^T A)/dX = A", lambda: ed.trace(X.T @ A), X, lambda: A0),
    Identity("d tr(X^2)/dX = 2 X^T", lambda: ed.trace(X @ X), X, lambda: 2 * X0.T),
    Identity("d tr(X^2 B)/dX = (XB + BX)^T", lambda: ed.trace(X @ X @ B), X, lambda: (X0 @ B0 + B0 @ X0).T),
    Identity("d tr(X^T B X)/dX = B X + B^T X", lambda: ed.trace(X.T @ B @ X), X, lambda: B0 @ X0 + B0.T @ X0),
    Identity("d tr(X B X^T)/dX = X B^T + X B", lambda: ed.trace(X @ B @ X.T), X, lambda: X0 @ B0.T + X0 @ B0),
    Identity(
        "d tr(A X B X)/dX = A^T X^T B^T + B^T X^T A^T",
        lambda: ed.trace(A @ X @ B @ X),
        X,
        lambda: A0.T @ X0.T @ B0.T + B0.T @ X0.T @ A0.T,
    ),
    Identity("d tr(X^T X)/dX = 2 X", lambda: ed.trace(X.T @ X), X, lambda: 2 * X0),
    Identity("d tr(X^3)/dX = 3 (X^2)^T", lambda: ed.trace(X @ X @ X), X, lambda: 3 * _power(X0, 2).T),
    Identity(
        "d tr(A X^3)/dX = sum_r (X^r A X^(2-r))^T",
        lambda: ed.trace(A @ X @ X @ X),
        X,
        lambda: sum((_power(X0, r) @ A0 @ _power(X0, 2 - r)).T for r in range(3)),
    ),
    Identity(
        "d tr(B^T X^T C X B)/dX = C^T X B B^T + C X B B^T",
        lambda: ed.trace(B.T @ X.T @ C @ X @ B),
        X,
        lambda: C0.T @ X0 @ B0 @ B0.T + C0 @ X0 @ B0 @ B0.T,
    ),
    Identity(
        "d tr(X^T B X C)/dX = B X C + B^T X C^T",
        lambda: ed.trace(X.T @ B @ X @ C),
        X,
        lambda: B0 @ X0 @ C0 + B0.T @ X0 @ C0.T,
    ),
    Identity(
        "d tr(A X B X^T C)/dX = A^T C^T X B^T + C A X B",
        lambda: ed.trace(A @ X @ B @ X.T @ C),
        X,
        lambda: A0.T @ C0.T @ X0 @ B0.T + C0 @ A0 @ X0 @ B0,
    ),
]

FORMS = [
    Identity("d x^T a/dx = a", lambda: x @ a, x, lambda: a0),
    Identity("d a^T X b/dX = a b^T", lambda: a @ X @ b, X, lambda: np.outer(a0, b0)),
    Identity("d a^T X^T b/dX = b a^T", lambda: a @ X.T @ b, X, lambda: np.outer(b0, a0)),
    Identity("d a^T X a/dX = a a^T", lambda: a @ X @ a, X, lambda: np.outer(a0, a0)),
    Identity("d(Ax)/dx = A", lambda: K @ x, x, lambda: K0),
    Identity("d b^T X^T X c/dX = X(b c^T + c b^T)", lambda: b @ X.T @ X @ c, X, lambda: X0 @ (np.outer(b0, c0) + np.outer(c0, b0))),
    Identity("d x^T B x/dx = (B + B^T) x", lambda: x @ B @ x, x, lambda: (B0 + B0.T) @ x0),
    Identity(
        "d b^T X^T D X c/dX = D^T X b c^T + D X c b^T",
        lambda: b @ X.T @ D @ X @ c,
        X,
        lambda: D0.T @ X0 @ np.outer(b0, c0) + D0 @ X0 @ np.outer(c0, b0),
    ),
    Identity(
        "d (Xb + c)^T D (Xb + c)/dX = (D + D^T)(Xb + c) b^T",
        lambda: (X @ b + c) @ D @ (X @ b + c),
        X,
        lambda: np.outer((D0 + D0.T) @ (X0 @ b0 + c0), b0),
    ),
    Identity(
        "d (x - As)^T W (x - As)/ds = -2 A^T W (x - As), W symmetric",
        lambda: (x - A @ s) @ W @ (x - A @ s),
        s,
        lambda: -2 * A0.T @ W0 @ (x0 - A0 @ s0),
    ),
    Identity(
        "d (x - As)^T W (x - As)/dx = 2 W (x - As)",
        lambda: (x - A @ s) @ W @ (x - A @ s),
        x,
        lambda: 2 * W0 @ (x0 - A0 @ s0),
    ),
    Identity(
        "d (x - As)^T W (x - As)/dA = -2 W (x - As) s^T",
        lambda: (x - A @ s) @ W @ (x - A @ s),
        A,
        lambda: -2 * np.outer(W0 @ (x0 - A0 @ s0), s0),
    ),
]

NORMS = [
    Identity("d ||x||_2^2/dx = 2x", lambda: ed.norm(x) ** 2, x, lambda: 2 * x0),
    Identity(
        "d ||x - a||_2/dx = (x - a)/||x - a||_2",
        lambda: ed.norm(x - a),
        x,
        lambda: (x0 - a0) / np.linalg.norm(x0 - a0),
    ),
    Identity(
        "d(x/||x||)/dx = I/||x|| - x x^T/||x||^3",
        lambda: x / ed.norm(x),
        x,
        lambda: I / np.linalg.norm(x0) - np.outer(x0, x0) / np.linalg.norm(x0) ** 3,
    ),
    Identity("d ||X||_F^2/dX = 2X", lambda: ed.norm(X, "fro") ** 2, X, lambda: 2 * X0),
    Identity("d ||X||_F/dX = X/||X||_F", lambda: ed.norm(X, "fro"), X, lambda: X0 / np.linalg.norm(X0)),
    Identity(
        "d ||Ax - b||_2^2/dx = 2 A^T (Ax - b)",
        lambda: ed.norm(K @ x - y) ** 2,
        x,
        lambda: 2 * K0.T @ (K0 @ x0 - y0),
    ),
    Identity("d ||x||_1/dx = sign(x)", lambda: ed.norm(x, 1), x, lambda: np.sign(x0)),
]

def _top_singular_pair(m: np.ndarray) -> np.ndarray:
    """u₁ v₁ᵀ, the gradient of the largest singular value (the same for either sign of the pair)."""
    u, _, vh = np.linalg.svd(m)
    return np.einsum("...i,...j->...ij", u[..., :, 0], vh[..., 0, :])


def _thin_uv(m: np.ndarray) -> np.ndarray:
    u, _, vh = np.linalg.svd(m, full_matrices=False)
    return u @ vh


_R_PINV = np.linalg.pinv(R0)

SINGULAR = [
    Identity("d ||X||_2/dX = u_1 v_1^T", lambda: ed.norm(X, 2), X, lambda: _top_singular_pair(X0)),
    Identity("d ||R||_*/dR = U V^T", lambda: ed.norm(R, "nuc"), R, lambda: _thin_uv(R0)),
    Identity("d sigma_k(X)/dX = u_k v_k^T", lambda: ed.svdvals(X)[1], X,
             lambda: np.outer(np.linalg.svd(X0)[0][:, 1], np.linalg.svd(X0)[2][1])),
    Identity(
        "d tr(R^+ K)/dR = -(R^+ K R^+)^T + (I - R R^+) K R^+ R^+T",
        lambda: ed.trace(ed.pinv(R) @ K),
        R,
        lambda: -(_R_PINV @ K0 @ _R_PINV).T + (np.eye(4) - R0 @ _R_PINV) @ K0 @ _R_PINV @ _R_PINV.T,
    ),
    Identity("d sum_b ||S_b||_2/dS = u_1 v_1^T per matrix", lambda: ed.norm(S, 2).sum(), S,
             lambda: _top_singular_pair(S0), batched=True),
]

SOFTMAX = [
    Identity("d logsumexp(z)/dz = softmax(z)", lambda: ed.logsumexp(z), z, lambda: _softmax(z0)),
    Identity("d softmax(z)/dz = diag(p) - p p^T", lambda: ed.softmax(z), z, lambda: _softmax_jacobian(_softmax(z0))),
    Identity(
        "d log_softmax(z)/dz = I - 1 p^T",
        lambda: ed.log_softmax(z),
        z,
        lambda: np.eye(5) - np.outer(np.ones(5), _softmax(z0)),
    ),
    Identity(
        "cross-entropy: d -t^T log softmax(z)/dz = p - t",
        lambda: -(t @ ed.log_softmax(z)),
        z,
        lambda: _softmax(z0) - t0,
    ),
]

BATCHED = [
    Identity(
        "batched: d det(S_b)/dS_c = delta_bc det(S_b) S_b^-T",
        lambda: ed.det(S),
        S,
        lambda: _block_diagonal(det(S0)[:, None, None] * np.linalg.inv(S0).transpose(0, 2, 1), 0),
        batched=True,
    ),
    Identity(
        "batched: d(S_b^-1)_kl/d(S_c)_ij = -delta_bc (S_b^-1)_ki (S_b^-1)_jl",
        lambda: ed.inv(S),
        S,
        lambda: _block_diagonal(-np.einsum("bki,bjl->bklij", np.linalg.inv(S0), np.linalg.inv(S0)), 2),
        batched=True,
    ),
    Identity(
        "batched: d sum_b ln det S_b/dS = S^-T",
        lambda: ed.logdet(S).sum(),
        S,
        lambda: np.linalg.inv(S0).transpose(0, 2, 1),
        batched=True,
    ),
    Identity(
        "batched solve: d(S_b^-1 x)_i/d(S_c)_kl = -delta_bc (S_b^-1)_ik (S_b^-1 x)_l",
        lambda: ed.solve(S, x),
        S,
        lambda: _block_diagonal(-np.einsum("bik,bl->bikl", np.linalg.inv(S0), np.linalg.solve(S0, x0[None, :, None])[..., 0]), 1),
        batched=True,
    ),
    Identity(
        "batched: d tr(S_b A)/dS_c = delta_bc A^T",
        lambda: ed.trace(S @ A),
        S,
        lambda: _block_diagonal(np.broadcast_to(A0.T, (2, n, n)), 0),
        batched=True,
    ),
    Identity(
        "batched softmax over the last axis: delta_bc (diag(p_b) - p_b p_b^T)",
        lambda: ed.softmax(Z, axis=-1),
        Z,
        lambda: _block_diagonal(np.stack([_softmax_jacobian(p) for p in _softmax(Z0)]), 1),
        batched=True,
    ),
    Identity(
        "batched quadratic forms: d sum_b x^T S_b x/dS_b = x x^T",
        lambda: ed.einsum("i,...ij,j->...", x, S, x).sum(),
        S,
        lambda: np.broadcast_to(np.outer(x0, x0), (2, n, n)),
        batched=True,
    ),
]


# Eigenvalues and Cholesky (sections 2.8.1 and 5.2): the functions read the symmetric part, so for a
# symmetric A their derivative with respect to A_ij is that of a step along the symmetric part of E_ij.
P = V["P"]
W_EIG, W_VEC = np.linalg.eigh(W0)
W_VEC = W_VEC * np.sign(W_VEC[np.argmax(np.abs(W_VEC), axis=0), range(n)])  # each largest entry positive
assert np.min(np.diff(W_EIG)) > 0.1  # separated: the eigenvectors are differentiable
W_INV, W_L = np.linalg.inv(W0), np.linalg.cholesky(W0)


def _eigenvector_jacobian() -> np.ndarray:
    """dv_k = (λ_k I - A)⁺ dA v_k, with dA = (E_ij + E_ji)/2: J[a, k, i, j]."""
    out = np.zeros((n, n, n, n))
    for k in range(n):
        pk, vk = np.linalg.pinv(W_EIG[k] * I - W0), W_VEC[:, k]
        out[:, k] = 0.5 * (np.einsum("ai,j->aij", pk, vk) + np.einsum("aj,i->aij", pk, vk))
    return out


def _cholesky_jacobian() -> np.ndarray:
    """dL = L Φ(L⁻¹ dS L⁻ᵀ), Φ the lower triangle with its diagonal halved, dS = (E_ij + E_ji)/2."""
    out, li = np.zeros((n, n, n, n)), np.linalg.inv(W_L)
    for i in range(n):
        for j in range(n):
            ds = np.zeros((n, n))
            ds[i, j] += 0.5
            ds[j, i] += 0.5
            inner = li @ ds @ li.T
            out[:, :, i, j] = W_L @ (np.tril(inner) - 0.5 * np.diag(np.diag(inner)))
    return out


EIGENVALUES_AND_CHOLESKY = [
    Identity("eigenvalues: d tr(A)/dA = d sum_i lambda_i/dA = I, A symmetric", lambda: ed.sum(ed.eigvalsh(W)), W,
             lambda: I),
    Identity("eigenvalues: d lambda_i/dA = v_i v_i^T, A symmetric", lambda: ed.eigvalsh(W), W,
             lambda: np.einsum("ik,jk->kij", W_VEC, W_VEC)),
    Identity("eigenvalues: d det(A)/dA = d prod_i lambda_i/dA = det(A) A^-1, A symmetric",
             lambda: ed.prod(ed.eigvalsh(W)), W, lambda: det(W0) * W_INV),
    Identity("eigenvalues: d sum_i lambda_i^2/dA = d tr(A^2)/dA = 2 A, A symmetric",
             lambda: ed.sum(ed.eigvalsh(W) ** 2), W, lambda: 2 * W0),
    Identity("eigenvectors: dv_k = (lambda_k I - A)^+ dA v_k, A symmetric", lambda: ed.eigh(W)[1], W,
             _eigenvector_jacobian),
    Identity("Cholesky: d 2 sum_i ln L_ii/dS = d ln det S/dS = S^-1, S = L L^T",
             lambda: 2 * ed.sum(ed.log(ed.diagonal(ed.cholesky(W)))), W, lambda: W_INV),
    Identity("Cholesky: dL = L Phi(L^-1 dS L^-T)", lambda: ed.cholesky(W), W, _cholesky_jacobian),
    Identity("Cholesky: d sum_ij L_ij^2/dS = d tr(S)/dS = I", lambda: ed.sum(ed.cholesky(W) ** 2), W, lambda: I),
    Identity(
        "batched eigenvalues: d lambda(P_b)_k/d(P_c)_ij = delta_bc (v_k)_i (v_k)_j",
        lambda: ed.eigvalsh(P),
        P,
        lambda: _block_diagonal(np.einsum("bik,bjk->bkij", *[np.linalg.eigh(VALUES["P"])[1]] * 2), 1),
        batched=True,
    ),
    Identity(
        "batched Cholesky: d sum_b 2 sum_i ln L_b,ii/dP = P^-1",
        lambda: 2 * ed.sum(ed.log(ed.diagonal(ed.cholesky(P)))),
        P,
        lambda: np.linalg.inv(VALUES["P"]),
        batched=True,
    ),
]


# -- second order -------------------------------------------------------------------------------
def _hessian_inverse_form(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """d²(vᵀ M⁻¹ v)/dM_ij dM_kl = u_k Y_li w_j + u_i Y_jk w_l with Y = M⁻¹, u = Yᵀv, w = Y v."""
    y = np.linalg.inv(m)
    u, w = y.T @ v, y @ v
    return np.einsum("k,li,j->ijkl", u, y, w) + np.einsum("i,jk,l->ijkl", u, y, w)


def _norm_hessian(v: np.ndarray) -> np.ndarray:
    r = np.linalg.norm(v)
    return np.eye(v.size) / r - np.outer(v, v) / r**3


HESSIANS = [
    Identity("Hessian of x^T B x = B + B^T", lambda: x @ B @ x, x, lambda: B0 + B0.T, order=2),
    Identity("Hessian of ||Ax - b||^2 = 2 A^T A", lambda: ed.norm(K @ x - y) ** 2, x, lambda: 2 * K0.T @ K0, order=2),
    Identity(
        "Hessian of ln det X: -(X^-1)_jk (X^-1)_li",
        lambda: ed.logdet(X),
        X,
        lambda: -np.einsum("jk,li->ijkl", Xi, Xi),
        order=2,
    ),
    Identity(
        "Hessian of det X: det X ((X^-1)_ji (X^-1)_lk - (X^-1)_jk (X^-1)_li)",
        lambda: ed.det(X),
        X,
        lambda: det(X0) * (np.einsum("ji,lk->ijkl", Xi, Xi) - np.einsum("jk,li->ijkl", Xi, Xi)),
        order=2,
    ),
    Identity(
        "Hessian of tr(X^T B X): (B + B^T)_ik delta_jl",
        lambda: ed.trace(X.T @ B @ X),
        X,
        lambda: np.einsum("ik,jl->ijkl", B0 + B0.T, I),
        order=2,
    ),
    Identity(
        "Hessian of tr(A X B X): A_li B_jk + A_jk B_li",
        lambda: ed.trace(A @ X @ B @ X),
        X,
        lambda: np.einsum("li,jk->ijkl", A0, B0) + np.einsum("jk,li->ijkl", A0, B0),
        order=2,
    ),
    Identity("Hessian of a^T X^-1 a", lambda: a @ ed.inv(X) @ a, X, lambda: _hessian_inverse_form(X0, a0), order=2),
    Identity("Hessian of b^T X^-1 b by solve", lambda: b @ ed.solve(X, b), X, lambda: _hessian_inverse_form(X0, b0), order=2),
    Identity("Hessian of ||x||_2 = I/||x|| - x x^T/||x||^3", lambda: ed.norm(x), x, lambda: _norm_hessian(x0), order=2),
    Identity(
        "Hessian of logsumexp(z) = diag(p) - p p^T",
        lambda: ed.logsumexp(z),
        z,
        lambda: _softmax_jacobian(_softmax(z0)),
        order=2,
    ),
    Identity(
        "Hessian of softmax cross-entropy = diag(p) - p p^T",
        lambda: -(t @ ed.log_softmax(z)),
        z,
        lambda: _softmax_jacobian(_softmax(z0)),
        order=2,
    ),
    Identity(
        "Hessian of the logistic loss sum softplus(Kx) - y^T K x = K^T diag(s(1 - s)) K",
        lambda: ed.softplus(K @ x).sum() - y @ K @ x,
        x,
        lambda: K0.T @ np.diag(_sigmoid(K0 @ x0) * (1 - _sigmoid(K0 @ x0))) @ K0,
        order=2,
    ),
    Identity(
        "batched Hessian of sum_b ln det S_b: -delta_bc (S_b^-1)_jk (S_b^-1)_li",
        lambda: ed.logdet(S).sum(),
        S,
        lambda: _block_diagonal(-np.einsum("bjk,bli->bijkl", np.linalg.inv(S0), np.linalg.inv(S0)), 2),
        order=2,
        batched=True,
    ),
]

def _expm_by_eig(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eig(m)
    return ((v * np.exp(w)[..., None, :]) @ np.linalg.inv(v)).real


def _spd_function(f, m: np.ndarray) -> np.ndarray:
    w, u = np.linalg.eigh(m)
    return (u * f(w)[..., None, :]) @ np.swapaxes(u, -1, -2)


# Functions of matrices (section 10.2): d tr F(X)/dX = f(X)^T, f the derivative of the scalar function.
MATRIX_FUNCTIONS = [
    Identity("d tr(e^X)/dX = (e^X)^T", lambda: ed.trace(ed.expm(X)), X, lambda: _expm_by_eig(X0).T),
    Identity("d tr(e^X e^-X)/dX = 0, as e^X e^-X = I", lambda: ed.trace(ed.expm(X) @ ed.expm(-X)), X,
             lambda: np.zeros((n, n))),
    Identity("d tr(X^4)/dX = 4 (X^3)^T", lambda: ed.trace(ed.matrix_power(X, 4)), X, lambda: 4 * _power(X0, 3).T),
    Identity("d tr(X^-2)/dX = -2 (X^-3)^T", lambda: ed.trace(ed.matrix_power(X, -2)), X,
             lambda: -2 * _power(X0, -3).T),
    Identity("d tr(ln W)/dW = W^-1", lambda: ed.trace(ed.logm(W)), W, lambda: np.linalg.inv(W0)),
    Identity("d tr(W^1/2)/dW = W^-1/2 / 2", lambda: ed.trace(ed.sqrtm(W)), W,
             lambda: 0.5 * _spd_function(lambda w: w**-0.5, W0)),
    Identity("d tr(e^W)/dW = e^W", lambda: ed.trace(ed.expm(W)), W, lambda: _spd_function(np.exp, W0)),
    Identity("batched: d sum_b tr(e^S_b)/dS = (e^S)^T", lambda: ed.trace(ed.expm(S)).sum(), S,
             lambda: _expm_by_eig(S0).transpose(0, 2, 1), batched=True),
    # logm reads the symmetric part of W, so its Hessian is that of ln det((W + W^T)/2): symmetrized.
    Identity("d² tr(ln W)/dW_ij dW_kl = -(W^-1_ik W^-1_lj + W^-1_il W^-1_kj)/2", lambda: ed.trace(ed.logm(W)), W,
             lambda: -0.5 * (np.einsum("ik,lj->ijkl", np.linalg.inv(W0), np.linalg.inv(W0))
                             + np.einsum("il,kj->ijkl", np.linalg.inv(W0), np.linalg.inv(W0))), order=2),
]

SPECTRAL_HESSIANS = [
    Identity(
        "Hessian of sum_i lambda_i^2 = tr(A^2): delta_ik delta_jl + delta_il delta_jk, through the eigenvectors",
        lambda: ed.sum(ed.eigvalsh(W) ** 2),
        W,
        lambda: np.einsum("ik,jl->ijkl", I, I) + np.einsum("il,jk->ijkl", I, I),
        order=2,
    ),
    Identity(
        "Hessian of ln det S by Cholesky: -((S^-1)_ik (S^-1)_lj + (S^-1)_il (S^-1)_kj)/2",
        lambda: 2 * ed.sum(ed.log(ed.diagonal(ed.cholesky(W)))),
        W,
        lambda: -0.5 * (np.einsum("ik,lj->ijkl", W_INV, W_INV) + np.einsum("il,kj->ijkl", W_INV, W_INV)),
        order=2,
    ),
]

TABLE = (DETERMINANTS + INVERSES + TRACES + FORMS + NORMS + SINGULAR + SOFTMAX + BATCHED + EIGENVALUES_AND_CHOLESKY
         + HESSIANS + SPECTRAL_HESSIANS + MATRIX_FUNCTIONS)


def _derivative(row: Identity, mode: str) -> ed.Expr:
    f = row.build()
    return ed.jacobian(f, row.wrt, mode=mode) if row.order == 1 else ed.hessian(f, row.wrt, mode=mode)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("row", TABLE, ids=[row.name for row in TABLE])
def test_cookbook_identity(row, mode):
    want = np.asarray(row.closed_form())
    f = row.build()
    assert want.shape == f.shape + row.wrt.shape * row.order, "the closed form has the wrong layout"
    got = ed.evaluate(_derivative(row, mode), **VALUES)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10 * scale, err_msg=row.name)


def test_the_table_covers_first_and_second_order_and_batches():
    assert len(TABLE) >= 40
    assert sum(row.order == 2 for row in TABLE) >= 8
    assert sum(row.batched for row in TABLE) >= 4
    assert len({row.name for row in TABLE}) == len(TABLE)


def test_solve_gradients_never_form_an_inverse(monkeypatch):
    """Gradients of solve-based scalars run on linear solves only, with a vector, a matrix
    and a batched right-hand side (reverse mode, and forward mode for the matrix; the
    forward sweep for b carries d(X⁻¹b)/db = X⁻¹, which is an inverse by nature)."""
    batch_inv = np.linalg.inv(S0)
    cases = [  # f, variables, closed forms of the gradients
        (b @ ed.solve(X, b), (X, b), (-Xi.T @ np.outer(b0, b0) @ Xi.T, (Xi + Xi.T) @ b0)),
        (a @ ed.solve(X, B) @ c, (X, B), (-np.outer(Xi.T @ a0, Xi @ B0 @ c0), np.outer(Xi.T @ a0, c0))),
        (
            (ed.solve(S, x) @ a).sum(),
            (S, x),
            (
                -np.einsum("bk,bl->bkl", batch_inv.transpose(0, 2, 1) @ a0, batch_inv @ x0),
                np.einsum("bkl,k->l", batch_inv, a0),
            ),
        ),
    ]
    derivatives, closed_forms = [], []
    for f, ws, wants in cases:
        for w, want in zip(ws, wants, strict=True):
            derivatives.append(ed.grad(f, w, mode="reverse"))
            closed_forms.append(want)
        derivatives.append(ed.grad(f, ws[0], mode="forward"))
        closed_forms.append(wants[0])
    compiled = ed.compile(derivatives)
    monkeypatch.setattr(np.linalg, "inv", lambda *args, **kwargs: pytest.fail("np.linalg.inv was called"))
    with pytest.raises(pytest.fail.Exception):  # the patch is live: an explicit inverse would be caught
        ed.evaluate(ed.inv(X), **VALUES)
    for got, want in zip(compiled(**VALUES), closed_forms, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
