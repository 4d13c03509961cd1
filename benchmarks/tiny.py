"""Per-call cost on tiny problems (issue 17), the ones an optimizer calls thousands of times.

- lsq grad: the gradient of ‖Ax − y‖² wrt x, A (5, 3).
- logistic hessian: the Hessian wrt w of Σ log(1 + exp(−y ⊙ Xw)) + λ/2 ‖w‖², X (20, 5).

Systems: "numpy" is the hand-written closed form (the fastest we could write); "compile" is
``ed.compile`` of the derivative, called with the arrays by keyword; "numpy code" is the
function ``ed.to_numpy_code`` prints, exec'd and called by keyword; "jax" is
``jax.jit(jax.grad)`` / ``jax.jit(jax.hessian)`` (x64), its result brought back as a numpy
array; "scipy" (lsq grad only) is ``ed.scipy_objective``'s ``fun`` then ``jac`` at a fresh x
each call, as a minimizer calls them. Each (case, system) runs in its own process, three
rounds; a time is the best of the rounds' medians over batches of calls, in µs per call.
Every result is checked against the closed form.

    benchmarks/.venv/bin/python benchmarks/tiny.py
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from common import in_child  # noqa: E402

LAM = 0.1
BATCH, BATCHES = 2000, 15
RUNS = 3


def inputs(case):
    r = np.random.default_rng(0)
    if case == "lsq grad":
        return dict(A=r.normal(size=(5, 3)), y=r.normal(size=5), x=r.normal(size=3))
    return dict(X=r.normal(size=(20, 5)), y=np.sign(r.normal(size=20)), w=r.normal(size=5))


CASES = ("lsq grad", "logistic hessian")


def closed(case, d):
    if case == "lsq grad":
        A = d["A"]
        return 2 * (A.T @ (A @ d["x"] - d["y"]))
    X, y, w = d["X"], d["y"], d["w"]
    s = 1 / (1 + np.exp(y * (X @ w)))  # σ(−y ⊙ Xw); y² = 1
    H = (X * (s * (1 - s))[:, None]).T @ X
    H.flat[:: H.shape[0] + 1] += LAM
    return H


def expression(ed, case, v):
    if case == "lsq grad":
        return ed.grad(ed.sum(ed.square(v["A"] @ v["x"] - v["y"])), v["x"])
    loss = ed.sum(ed.softplus(-v["y"] * (v["X"] @ v["w"]))) + 0.5 * LAM * ed.sum(ed.square(v["w"]))
    return ed.hessian(loss, v["w"])


def per_call(fn) -> float:
    """Seconds per call: the median over batches of calls."""
    fn()
    times = []
    for _ in range(BATCHES):
        t0 = time.perf_counter()
        for _ in range(BATCH):
            fn()
        times.append((time.perf_counter() - t0) / BATCH)
    return float(np.median(times))


def run(case, system, d):
    """(seconds per call, the result)."""
    if system == "numpy":
        return per_call(lambda: closed(case, d)), closed(case, d)
    if system == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        jnp = jax.numpy
        if case == "lsq grad":
            A, y = jnp.asarray(d["A"]), jnp.asarray(d["y"])
            g = jax.jit(jax.grad(lambda x: jnp.sum((A @ x - y) ** 2)))
            return per_call(lambda: np.asarray(g(d["x"]))), np.asarray(g(d["x"]))
        X, y = jnp.asarray(d["X"]), jnp.asarray(d["y"])
        h = jax.jit(jax.hessian(lambda w: jnp.sum(jnp.logaddexp(0, -y * (X @ w))) + 0.5 * LAM * jnp.sum(w ** 2)))
        return per_call(lambda: np.asarray(h(d["w"]))), np.asarray(h(d["w"]))
    import einsdiff as ed

    v = {k: ed.var(k, np.shape(a)) for k, a in d.items()}
    e = expression(ed, case, v)
    if system == "compile":
        f = ed.compile(e)
        return per_call(lambda: f(**d)[0]), f(**d)[0]
    if system == "numpy code":
        namespace = {}
        exec(ed.to_numpy_code(e), namespace)
        f = namespace["f"]
        args = {k: d[k] for k in f.__code__.co_varnames[: f.__code__.co_argcount]}
        return per_call(lambda: f(**args)), f(**args)
    # scipy: fun then jac, at a point never seen before (no cache can answer)
    loss = ed.sum(ed.square(v["A"] @ v["x"] - v["y"]))
    obj = ed.scipy_objective(loss, v["x"], A=d["A"], y=d["y"])
    points = [d["x"] + 1e-3 * k for k in range(BATCH * (BATCHES + 1) + 2)]
    it = iter(points)

    def fun_and_jac():
        x = next(it)
        obj.fun(x)
        return obj.jac(x)

    return per_call(fun_and_jac), obj.jac(d["x"])


SYSTEMS = ("numpy", "compile", "numpy code", "jax", "scipy")


def child(case, system):
    d = inputs(case)
    seconds, out = run(case, system, d)
    want = closed(case, d)
    err = float(np.max(np.abs(np.asarray(out) - want)) / (1 + np.max(np.abs(want))))
    print(json.dumps({"us": seconds * 1e6, "err": err}))


def main():
    print("| case | numpy µs | compile µs | numpy code µs | jax µs | scipy fun+jac µs | compile / jax "
          "| compile / numpy | numpy code / jax | numpy code / numpy | max rel err |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for case in CASES:
        systems = [s for s in SYSTEMS if s != "scipy" or case == "lsq grad"]
        runs = {s: [] for s in systems}
        for _ in range(RUNS):  # rounds over all systems: the machine's drift falls on each alike
            for s in systems:
                runs[s] += [x for x in (in_child(__file__, case, s),) if x]
        r = {s: min(runs[s], key=lambda x: x["us"]) if runs[s] else None for s in systems}
        us = {s: (f"{r[s]['us']:.1f}" if r.get(s) else "—") for s in SYSTEMS}

        def ratio(a, b):
            return f"{r[a]['us'] / r[b]['us']:.2f}" if r.get(a) and r.get(b) else "—"

        err = max(x["err"] for x in r.values() if x)
        print(f"| {case} | {us['numpy']} | {us['compile']} | {us['numpy code']} | {us['jax']} | {us['scipy']} "
              f"| {ratio('compile', 'jax')} | {ratio('compile', 'numpy')} | {ratio('numpy code', 'jax')} "
              f"| {ratio('numpy code', 'numpy')} | {err:.1e} |")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        child(sys.argv[1], sys.argv[2])
    else:
        main()
