"""Decompositions and spectral functions against JAX, a differential oracle (issue 18).

For each function, a scalar of it (a weighted sum of its entries, or a norm) is evaluated with
its gradient and Hessian by einsdiff and by JAX (x64) at random well-conditioned inputs, and
the largest relative difference is printed. A second table takes the spectral functions to an
exactly repeated eigenvalue (S = Q diag(2, 2, 5, 7) Qᵀ), where JAX differentiates through
eigenvectors; einsdiff's divided differences are checked against central finite differences.

    cd benchmarks && PYTHONPATH=.. .venv/bin/python decompositions_jax.py
"""

import numpy as np

import einsdiff as ed

N = 4
R = np.random.default_rng(7)
Q, _ = np.linalg.qr(R.normal(size=(N, N)))
WEIGHTS = R.normal(size=(N, N))
SPD = (lambda M: M @ M.T + N * np.eye(N))(R.normal(size=(N, N)))
GENERAL = 0.5 * R.normal(size=(N, N))
TALL = R.normal(size=(N + 2, N))
REPEATED = Q @ np.diag([2.0, 2.0, 5.0, 7.0]) @ Q.T


def cases(jnp, jax):
    """name: (einsdiff builder of a scalar, JAX function of a scalar, the point)."""
    W = WEIGHTS

    def sym_fn(f):  # a spectral function as JAX users write it, through eigh
        def g(A):
            lam, U = jnp.linalg.eigh((A + A.T) / 2)
            return (U * f(lam)) @ U.T
        return g

    def jsvd_u(A):  # U with einsdiff's sign convention (each column's largest entry positive)
        U, s, Vt = jnp.linalg.svd(A, full_matrices=False)
        sign = jnp.sign(U[jnp.argmax(jnp.abs(U), axis=0), jnp.arange(U.shape[1])])
        return U * sign

    return {
        "cholesky": (lambda X: ed.sum(ed.cholesky(X) * W), lambda X: jnp.sum(jnp.linalg.cholesky(X) * W), SPD),
        "eigvalsh": (lambda X: ed.sum(ed.eigvalsh(X) ** 3), lambda X: jnp.sum(jnp.linalg.eigvalsh(X) ** 3), SPD),
        "eigh vectors": (lambda X: ed.sum(ed.eigh(X)[1] ** 2 * W),
                         lambda X: jnp.sum(jnp.linalg.eigh(X)[1] ** 2 * W), SPD),
        "svdvals": (lambda X: ed.sum(ed.svdvals(X) ** 3), lambda X: jnp.sum(jnp.linalg.svd(X, compute_uv=False) ** 3),
                    TALL),
        "svd U": (lambda X: ed.sum(ed.svd(X)[0] * TALL), lambda X: jnp.sum(jsvd_u(X) * TALL), TALL),
        "norm 2": (lambda X: ed.norm(X, 2), lambda X: jnp.linalg.norm(X, 2), TALL),
        "norm nuc": (lambda X: ed.norm(X, "nuc"), lambda X: jnp.linalg.norm(X, "nuc"), TALL),
        "pinv": (lambda X: ed.sum(ed.pinv(X) * TALL.T), lambda X: jnp.sum(jnp.linalg.pinv(X) * TALL.T), TALL),
        "expm": (lambda X: ed.sum(ed.expm(X) * W), lambda X: jnp.sum(jax.scipy.linalg.expm(X) * W), GENERAL),
        "sqrtm": (lambda X: ed.sum(ed.sqrtm(X) * W), lambda X: jnp.sum(sym_fn(jnp.sqrt)(X) * W), SPD),
        "logm": (lambda X: ed.sum(ed.logm(X) * W), lambda X: jnp.sum(sym_fn(jnp.log)(X) * W), SPD),
        "matrix_power 3": (lambda X: ed.sum(ed.matrix_power(X, 3) * W),
                           lambda X: jnp.sum(jnp.linalg.matrix_power(X, 3) * W), GENERAL),
        "matrix_power -2": (lambda X: ed.sum(ed.matrix_power(X, -2) * W),
                            lambda X: jnp.sum(jnp.linalg.matrix_power(X, -2) * W), SPD),
    }


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def fd_gradient(f, x, h=1e-5):
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = h
        g[k] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def main():
    import jax

    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    print("| function | value | gradient | Hessian |  (max relative difference, einsdiff vs JAX)")
    print("|---|---|---|---|")
    for name, (mine, theirs, point) in cases(jnp, jax).items():
        X = ed.var("X", point.shape)
        f = mine(X)
        value, g, H = ed.compile((f, ed.grad(f, X), ed.hessian(f, X)))(X=point)
        jv, jg, jH = theirs(point), jax.grad(theirs)(point), jax.hessian(theirs)(point)
        print(f"| {name} | {rel(value, jv):.1e} | {rel(g, jg):.1e} | {rel(H, jH):.1e} |")

    print()
    print("At a repeated eigenvalue (2, 2, 5, 7): the gradient and Hessian of the same scalars, each system against "
          "central finite differences (of the value; of einsdiff's gradient for the Hessian)")
    print("| function | einsdiff gradient | einsdiff Hessian | JAX gradient | JAX Hessian |")
    print("|---|---|---|---|---|")
    for name in ("eigvalsh", "expm", "sqrtm", "logm"):
        mine, theirs, _ = cases(jnp, jax)[name]
        X = ed.var("X", (N, N))
        f = mine(X)
        value_of, grad_of = ed.compile(f), ed.compile(ed.grad(f, X))
        g = grad_of(X=REPEATED)[0]
        fd_g = fd_gradient(lambda x: float(value_of(X=x)[0]), REPEATED)
        fd_H = np.stack([fd_gradient(lambda x, k=k: float(np.asarray(grad_of(X=x)[0])[k]), REPEATED)
                         for k in np.ndindex(N, N)]).reshape(N, N, N, N)
        try:
            hessian = f"{rel(ed.compile(ed.hessian(f, X))(X=REPEATED)[0], fd_H):.1e}"
        except ed.EvaluationError as err:  # an eigenvalue's own Hessian needs its eigenvector's derivative
            hessian = f"EvaluationError ({str(err).split(';')[0]})"
        jg, jH = np.asarray(jax.grad(theirs)(REPEATED)), np.asarray(jax.hessian(theirs)(REPEATED))
        print(f"| {name} | {rel(g, fd_g):.1e} | {hessian} | {rel(jg, fd_g):.1e} | {rel(jH, fd_H):.1e} |")


if __name__ == "__main__":
    main()
