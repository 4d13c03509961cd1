"""Whole scipy.optimize.minimize solves (issue 17): einsdiff's objective against jax.jit
functions and hand-written NumPy ones.

- logistic: Σ softplus(-y ⊙ Xw) + λ‖w‖², X (1000, 20), λ = 1.
- lstsq: ‖Ax − b‖², A (5, 3).

Methods: Newton-CG (jac + hessp) and trust-exact (jac + hess), default tolerances, x0 = 0.
Systems: "einsdiff" is ``ed.scipy_objective`` (built once; fun, jac, hess and hessp at one x
share one program run); "jax" is jax.jit of the loss, jax.grad, jax.hessian and a
forward-over-reverse hvp (x64), each called by scipy as it is; "numpy" is written by hand the
way a careful NumPy user would: the last x's margins and weights kept, so fun, jac, hess and
hessp at one x share them, and AᵀA computed once. The time is the median whole solve over
``REPEATS`` solves after one warm-up solve (jit compilation and einsdiff's compile are outside
it; einsdiff's build + compile time is reported on its own). Each (case, method, system) runs
in ``RUNS`` processes, the fastest median kept; iterations and final objectives must agree.

For einsdiff, a second table splits the solve: time inside the compiled programs' steps,
the rest of einsdiff's calls (binding the inputs, checks, the cache), and scipy itself.

    benchmarks/.venv/bin/python benchmarks/scipy_solve.py
"""

import os

# One thread everywhere: the problems are small, and a 2-thread BLAS here may wait a time slice per call.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from common import in_child  # noqa: E402

LAM = 1.0
REPEATS = 30
RUNS = 5
CASES = ("logistic", "lstsq")
METHODS = {"Newton-CG": "hessp", "trust-exact": "hess"}


def inputs(case):
    r = np.random.default_rng(0)
    if case == "logistic":
        X = r.normal(size=(1000, 20))
        y = np.sign(X @ r.normal(size=20) + r.normal(size=1000))
        return dict(X=X, y=y)
    return dict(A=r.normal(size=(5, 3)), b=r.normal(size=5))


def size(case):
    return 20 if case == "logistic" else 3


def einsdiff_functions(case, d):
    import einsdiff as ed

    v = {k: ed.var(k, a.shape) for k, a in d.items()}
    x = ed.var("x", (size(case),))
    if case == "logistic":
        loss = ed.sum(ed.softplus(-v["y"] * (v["X"] @ x))) + LAM * ed.sum(ed.square(x))
    else:
        loss = ed.sum(ed.square(v["A"] @ x - v["b"]))
    obj = ed.scipy_objective(loss, x, d)
    return dict(fun=obj.fun, jac=obj.jac, hess=obj.hess, hessp=obj.hessp)


def jax_functions(case, d):
    import jax

    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    a = {k: jnp.asarray(v) for k, v in d.items()}
    if case == "logistic":
        def f(z):
            return jnp.sum(jax.nn.softplus(-a["y"] * (a["X"] @ z))) + LAM * jnp.sum(z * z)
    else:
        def f(z):
            return jnp.sum((a["A"] @ z - a["b"]) ** 2)
    fun, jac, hess = jax.jit(f), jax.jit(jax.grad(f)), jax.jit(jax.hessian(f))
    hessp = jax.jit(lambda z, p: jax.jvp(jax.grad(f), (z,), (p,))[1])
    return dict(fun=lambda z: float(fun(z)), jac=lambda z: np.asarray(jac(z)),
                hess=lambda z: np.asarray(hess(z)), hessp=lambda z, p: np.asarray(hessp(z, p)))


def numpy_functions(case, d):
    if case == "lstsq":
        A, b = d["A"], d["b"]
        AtA2 = 2 * A.T @ A
        return dict(fun=lambda z: float(np.sum((A @ z - b) ** 2)), jac=lambda z: 2 * A.T @ (A @ z - b),
                    hess=lambda z: AtA2, hessp=lambda z, p: AtA2 @ p)
    X, y = d["X"], d["y"]
    last = {}

    def at(z):
        if last.get("z") is None or not np.array_equal(last["z"], z):
            m = -y * (X @ z)
            s = 1 / (1 + np.exp(-m))  # σ(m) = d softplus(m) / dm
            last.update(z=z.copy(), m=m, s=s, c=s * (1 - s))
        return last

    def fun(z):
        return float(np.sum(np.logaddexp(0, at(z)["m"])) + LAM * z @ z)

    def jac(z):
        return -X.T @ (y * at(z)["s"]) + 2 * LAM * z

    def hess(z):
        return (X * at(z)["c"][:, None]).T @ X + 2 * LAM * np.eye(z.size)

    def hessp(z, p):
        return X.T @ (at(z)["c"] * (X @ p)) + 2 * LAM * p

    return dict(fun=fun, jac=jac, hess=hess, hessp=hessp)


SYSTEMS = {"einsdiff": einsdiff_functions, "jax": jax_functions, "numpy": numpy_functions}


def solve(fns, case, method):
    from scipy.optimize import minimize

    second = METHODS[method]
    return minimize(fns["fun"], np.zeros(size(case)), jac=fns["jac"], method=method, **{second: fns[second]})


def split(fns, case, method):
    """For einsdiff: seconds in the compiled programs' calls (input checks and the lowered
    steps), in the rest of the callbacks, in scipy."""
    from einsdiff.engine.compiled import Compiled

    spent = {"steps": 0.0, "callbacks": 0.0, "runs": 0}
    run = Compiled.__call__

    def timed_run(self, *args):
        t0 = time.perf_counter()
        out = run(self, *args)
        spent["steps"] += time.perf_counter() - t0
        spent["runs"] += 1
        return out

    def timed_callback(fn):
        def call(*args):
            t0 = time.perf_counter()
            out = fn(*args)
            spent["callbacks"] += time.perf_counter() - t0
            return out
        return call

    Compiled.__call__ = timed_run
    try:
        t0 = time.perf_counter()
        solve({k: timed_callback(f) for k, f in fns.items()}, case, method)
        total = time.perf_counter() - t0
    finally:
        Compiled.__call__ = run
    return dict(total=total, steps=spent["steps"], wrapper=spent["callbacks"] - spent["steps"],
                scipy=total - spent["callbacks"], runs=spent["runs"])


def child(case, method, system):
    import scipy  # noqa: F401  (imported before any timing)

    if system == "jax":
        import jax  # noqa: F401
    d = inputs(case)
    t0 = time.perf_counter()
    fns = SYSTEMS[system](case, d)
    result = solve(fns, case, method)  # warm-up: jit tracing, einsdiff's lazy compiles
    setup = time.perf_counter() - t0
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        result = solve(fns, case, method)
        times.append(time.perf_counter() - t0)
    out = {"setup": setup, "solve": float(np.median(times)), "nit": int(result.nit), "fun": float(result.fun),
           "nfev": int(result.nfev), "njev": int(result.njev), "nhev": int(getattr(result, "nhev", 0))}
    if system == "einsdiff":
        parts = [split(fns, case, method) for _ in range(REPEATS)]
        out["split"] = {k: float(np.median([p[k] for p in parts])) for k in parts[0]}
    print(json.dumps(out))


def main():
    rows, splits = [], []
    for case in CASES:
        for method in METHODS:
            r = {}
            for system in SYSTEMS:
                runs = [x for x in (in_child(__file__, case, method, system) for _ in range(RUNS)) if x]
                r[system] = min(runs, key=lambda x: x["solve"]) if runs else None
            if not all(r.values()):
                rows.append(f"| {case} | {method} | " + " | ".join("failed" if not r[s] else "" for s in SYSTEMS) + " |")
                continue
            nits = {r[s]["nit"] for s in SYSTEMS}
            funs = [r[s]["fun"] for s in SYSTEMS]
            agree = len(nits) == 1 and max(funs) - min(funs) <= 1e-9 * (1 + abs(funs[0]))
            mine = r["einsdiff"]["solve"]
            rows.append(
                f"| {case} | {method} | {1e3 * mine:.3f} | {1e3 * r['jax']['solve']:.3f} | {1e3 * r['numpy']['solve']:.3f} "
                f"| {mine / r['jax']['solve']:.2f} | {mine / r['numpy']['solve']:.2f} "
                f"| {'/'.join(str(r[s]['nit']) for s in SYSTEMS)} | {funs[0]:.10g} | {'yes' if agree else 'NO'} "
                f"| {1e3 * r['einsdiff']['setup']:.1f} |"
            )
            s = r["einsdiff"]["split"]
            splits.append(
                f"| {case} | {method} | {1e3 * s['total']:.3f} | {s['runs']:.0f} | {1e3 * s['steps']:.3f} "
                f"| {1e3 * s['wrapper']:.3f} | {1e3 * s['scipy']:.3f} | {1e6 * s['wrapper'] / max(s['runs'], 1):.0f} |"
            )
    print("| case | method | einsdiff ms | jax ms | numpy ms | einsdiff / jax | einsdiff / numpy "
          "| iterations (ed/jax/np) | final objective | agree | einsdiff build + first solve ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\neinsdiff's solve, split (medians, profiled run):\n")
    print("| case | method | solve ms | program runs | in compiled calls ms | rest of einsdiff's callbacks ms | scipy ms "
          "| rest per run µs |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(splits))


if __name__ == "__main__":
    if len(sys.argv) == 4:
        child(*sys.argv[1:])
    else:
        main()
