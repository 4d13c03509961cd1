"""A rank-3 matrix factorization Y ≈ U Vᵀ fitted by scipy.optimize.least_squares, alternating
over U and V, with Jacobians that keep their Kronecker structure (δ[i,a] V[j,b]) as sparse
matrices and a sparsity pattern read off the deltas.

The optimum is known in closed form (Eckart–Young): the truncated SVD of Y, whose squared
error is the sum of the squares of the dropped singular values.
Run: python examples/scipy_matrix_factorization.py   (needs scipy and sparse: pip install "einsdiff[sparse]")
"""

import numpy as np
from scipy.optimize import least_squares

import einsdiff as ed

rng = np.random.default_rng(3)
m, n, r = 30, 20, 3
Y_val = rng.normal(size=(m, r)) @ rng.normal(size=(r, n)) + 0.01 * rng.normal(size=(m, n))

U, V, Y = ed.var("U", (m, r)), ed.var("V", (n, r)), ed.var("Y", (m, n))
residual = U @ V.T - Y
print("residual =", residual)
print("dr/dU =", ed.jacobian(residual, U))

u_val, v_val = rng.normal(size=(m, r)), rng.normal(size=(n, r))
for sweep in range(30):
    fit_u = ed.scipy_residuals(residual, U, jac_format="sparse", V=v_val, Y=Y_val)
    u_val = least_squares(fit_u.fun, u_val.ravel(), jac=fit_u.jac, jac_sparsity=fit_u.jac_sparsity).x.reshape(m, r)
    fit_v = ed.scipy_residuals(residual, V, jac_format="sparse", U=u_val, Y=Y_val)
    v_val = least_squares(fit_v.fun, v_val.ravel(), jac=fit_v.jac).x.reshape(n, r)

pattern = fit_u.jac_sparsity
print(f"dr/dU as a sparse matrix: {pattern.shape}, {pattern.nnz} stored entries of {pattern.shape[0] * pattern.shape[1]}")
assert pattern.nnz == m * n * r  # δ[i,a] V[j,b]: each residual depends on one row of U

s = np.linalg.svd(Y_val, compute_uv=False)
best = float(np.sum(s[r:] ** 2))
got = float(np.sum((u_val @ v_val.T - Y_val) ** 2))
print(f"squared error {got:.10f}; Eckart–Young optimum {best:.10f}")
assert abs(got - best) <= 1e-8 * max(1.0, best)
