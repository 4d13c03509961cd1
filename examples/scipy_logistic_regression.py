"""L2-regularized logistic regression fitted by scipy.optimize with einsdiff's derivatives.

loss(w) = Σ_n softplus(x_n·w) - y_n x_n·w + λ/2 |w|²; its gradient Xᵀ(σ(Xw) - y) + λw and
Hessian Xᵀ diag(σ(1-σ)) X + λI come from einsdiff. Newton-CG (Hessian-vector products only)
and trust-constr (the Hessian matrix) must both reach the optimum that Newton's method
written out by hand in NumPy finds.
Run: python examples/scipy_logistic_regression.py   (needs scipy: pip install "einsdiff[scipy]")
"""

import numpy as np
from scipy.optimize import minimize

import einsdiff as ed

rng = np.random.default_rng(7)
N, D, lam = 400, 6, 0.1
X_val = rng.normal(size=(N, D))
y_val = (X_val @ rng.normal(size=D) + 0.5 * rng.normal(size=N) > 0).astype(float)

w, X, y = ed.var("w", (D,)), ed.var("X", (N, D)), ed.var("y", (N,))
z = X @ w
loss = (ed.softplus(z) - y * z).sum() + lam / 2 * (w * w).sum()
print("loss =", loss)
print("gradient =", ed.grad(loss, w))
print("Hessian =", ed.hessian(loss, w))

obj = ed.scipy_objective(loss, w, X=X_val, y=y_val)
newton_cg = minimize(obj.fun, np.zeros(D), jac=obj.jac, hessp=obj.hessp, method="Newton-CG", options={"xtol": 1e-12})
trust = minimize(obj.fun, np.zeros(D), jac=obj.jac, hess=obj.hess, method="trust-constr", options={"gtol": 1e-12, "xtol": 1e-14})

# The independent truth: Newton's method with the textbook gradient and Hessian.
w_ref = np.zeros(D)
for _ in range(50):
    p = 1 / (1 + np.exp(-X_val @ w_ref))
    g = X_val.T @ (p - y_val) + lam * w_ref
    H = (X_val * (p * (1 - p))[:, None]).T @ X_val + lam * np.eye(D)
    w_ref -= np.linalg.solve(H, g)

for name, result in [("Newton-CG", newton_cg), ("trust-constr", trust)]:
    err = np.max(np.abs(result.x - w_ref))
    print(f"{name}: {result.nit} iterations, loss {result.fun:.10f}, max |w - w_newton| = {err:.1e}")
    assert err < 1e-6, name
print(f"hand-written Newton: loss {obj.fun(w_ref):.10f}")
