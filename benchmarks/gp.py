"""The gradient of a Gaussian-process negative log-likelihood through a Cholesky factor (issue 18).

    K = s² exp(−D / (2ℓ²)) + σ² I,   L = chol(K),   a = L⁻¹ y,
    NLL = ½ aᵀa + Σᵢ log Lᵢᵢ + (n/2) log 2π,

with D the squared distances of n = 500 points in 3 dimensions, differentiated with respect to
the three hyperparameters (log ℓ, log s, log σ). Each system writes it as its users would:

- "einsdiff": ``ed.cholesky`` then ``ed.solve(L, y)`` and ``ed.log(ed.diagonal(L))``, the
  gradient compiled with ``ed.compile`` (D and y bound at each call).
- "jax": ``jnp.linalg.cholesky``, ``jax.scipy.linalg.solve_triangular``, ``jax.jit(jax.grad)``
  (x64).
- "numpy/scipy": the best closed form we could write by hand: ∂NLL/∂K = ½(K⁻¹ − a aᵀ) with
  K⁻¹ from the factor by LAPACK's potri (``scipy.linalg.lapack.dpotri``), then one pass over
  K's n² entries per hyperparameter.
- "numpy": the same closed form with numpy alone (K⁻¹ from ``np.linalg.inv`` of the factor).

Each system runs in its own process, five rounds; a time is the best of the rounds'
medians, in ms per gradient. Every result is checked against the closed form.

    cd benchmarks && PYTHONPATH=.. .venv/bin/python gp.py
"""

import json
import sys
import time

import numpy as np
from common import in_child

N, DIM = 500, 3
REPEATS, RUNS = 25, 5
THETA = np.array([np.log(0.7), np.log(1.3), np.log(0.4)])  # log ℓ, log s, log σ


def data():
    r = np.random.default_rng(0)
    x = r.uniform(-2, 2, size=(N, DIM))
    D = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    y = np.sin(x.sum(1)) + 0.1 * r.normal(size=N)
    return D, y


def closed(D, y, theta, scipy=True):
    """The gradient by hand: W = K⁻¹ − a aᵀ, ∂NLL/∂θ = ½ Σ W ⊙ ∂K/∂θ."""
    ell2, sf2, sn2 = np.exp(2 * theta)
    E = np.exp(D * (-0.5 / ell2))
    K = sf2 * E
    K.flat[:: N + 1] += sn2
    if scipy:
        from scipy.linalg import cho_solve, lapack

        L, info = lapack.dpotrf(K, lower=1, clean=0)
        a = cho_solve((L, True), y)
        W, info = lapack.dpotri(L, lower=1)  # K⁻¹, its lower triangle
        W = np.tril(W) + np.tril(W, -1).T
    else:
        L = np.linalg.cholesky(K)
        Li = np.linalg.inv(L)
        W = Li.T @ Li
        a = W @ y
    W -= np.outer(a, a)
    SE = sf2 * E * W  # W ⊙ s²E, shared by two of the three
    return 0.5 * np.array([(SE * D).sum() / ell2, 2 * SE.sum(), 2 * sn2 * np.trace(W)])


def nll_numpy(D, y, theta):
    ell2, sf2, sn2 = np.exp(2 * theta)
    K = sf2 * np.exp(-0.5 * D / ell2) + sn2 * np.eye(N)
    L = np.linalg.cholesky(K)
    a = np.linalg.solve(L, y)
    return 0.5 * a @ a + np.log(np.diag(L)).sum() + 0.5 * N * np.log(2 * np.pi)


def run(system, D, y):
    """(seconds per gradient, the gradient)."""
    if system in ("numpy/scipy", "numpy"):
        fn = lambda: closed(D, y, THETA, scipy=system == "numpy/scipy")  # noqa: E731
    elif system == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        jnp = jax.numpy
        Dj, yj = jnp.asarray(D), jnp.asarray(y)

        def nll(theta):
            K = jnp.exp(2 * theta[1]) * jnp.exp(-0.5 * Dj * jnp.exp(-2 * theta[0])) + jnp.exp(2 * theta[2]) * jnp.eye(N)
            L = jnp.linalg.cholesky(K)
            a = jax.scipy.linalg.solve_triangular(L, yj, lower=True)
            return 0.5 * a @ a + jnp.sum(jnp.log(jnp.diag(L))) + 0.5 * N * jnp.log(2 * jnp.pi)

        g = jax.jit(jax.grad(nll))
        fn = lambda: np.asarray(g(THETA))  # noqa: E731
    else:
        import einsdiff as ed

        ell, sf, sn = (ed.var(name, ()) for name in ("log_ell", "log_sf", "log_sn"))
        Dv, yv = ed.var("D", (N, N)), ed.var("y", (N,))
        K = ed.exp(2 * sf) * ed.exp(-0.5 * Dv * ed.exp(-2 * ell)) + ed.exp(2 * sn) * np.eye(N)
        L = ed.cholesky(K)
        a = ed.solve(L, yv)
        nll = 0.5 * (a @ a) + ed.sum(ed.log(ed.diagonal(L))) + 0.5 * N * np.log(2 * np.pi)
        f = ed.compile(ed.grad(nll, (ell, sf, sn)))
        values = dict(zip(("log_ell", "log_sf", "log_sn"), THETA, strict=True))
        fn = lambda: np.array(f(D=D, y=y, **values), dtype=float)  # noqa: E731
    out = fn()
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


SYSTEMS = ("numpy/scipy", "numpy", "einsdiff", "jax")


def child(system):
    D, y = data()
    seconds, out = run(system, D, y)
    want = closed(D, y, THETA)
    err = float(np.max(np.abs(out - want)) / np.max(np.abs(want)))
    print(json.dumps({"ms": seconds * 1e3, "err": err}))


def main():
    D, y = data()
    h = 1e-6  # the closed form against central differences of the NLL itself
    fd = [(nll_numpy(D, y, THETA + h * e) - nll_numpy(D, y, THETA - h * e)) / (2 * h) for e in np.eye(3)]
    print(f"closed form vs finite differences: max rel err {np.max(np.abs(closed(D, y, THETA) - fd)) / np.max(np.abs(fd)):.1e}")
    runs = {s: [] for s in SYSTEMS}
    for _ in range(RUNS):
        for s in SYSTEMS:
            runs[s] += [x for x in (in_child(__file__, s),) if x]
    r = {s: min(runs[s], key=lambda x: x["ms"]) if runs[s] else None for s in SYSTEMS}
    ms = {s: f"{r[s]['ms']:.2f}" if r[s] else "—" for s in SYSTEMS}

    def ratio(a, b):
        return f"{r[a]['ms'] / r[b]['ms']:.2f}" if r[a] and r[b] else "—"

    err = max(x["err"] for x in r.values() if x)
    print("| n | einsdiff ms | jax ms | numpy/scipy ms | numpy ms | einsdiff / jax | einsdiff / numpy+scipy "
          "| einsdiff / numpy | max rel err |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {N} | {ms['einsdiff']} | {ms['jax']} | {ms['numpy/scipy']} | {ms['numpy']} | {ratio('einsdiff', 'jax')} "
          f"| {ratio('einsdiff', 'numpy/scipy')} | {ratio('einsdiff', 'numpy')} | {err:.1e} |")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        child(sys.argv[1])
    else:
        main()
