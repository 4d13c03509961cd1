"""Sparse Jacobians from the delta pattern against JAX's dense ones (not named sparse.py: run as
a script, that name would shadow the pydata sparse package).

(a) J of Z = A @ W + B w.r.t. W: einsdiff's sparse COO at A (500, 200), W (200, 100)
    (10^7 stored entries; dense would be 10^9 entries, 8 GB), and at A (100, 200) — where
    JAX's dense jacrev still fits — einsdiff sparse, einsdiff dense and jax.jacrev.
(b) J of tanh(x) * 2 + sin(x), x of 10^6: einsdiff's sparse diagonal (10^6 entries; dense
    would be 8 TB) against JAX's diagonal trick, jax.jvp with a vector of ones (which knows
    the Jacobian is diagonal; einsdiff reads it off the expression).

Each (case, system) runs in its own process; peak memory is that process's VmHWM (imports
included). "first" is derive/trace + plan/compile + one evaluation, imports excluded;
"steady" the median of later evaluations.

    benchmarks/.venv/bin/python benchmarks/sparse_output.py
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

REPEATS = 5


def peak_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM"))


def timed(first, again):
    """(first-call seconds, median steady seconds, result)."""
    t0 = time.perf_counter()
    result = first()
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(REPEATS):
        del result
        t0 = time.perf_counter()
        result = again()
        times.append(time.perf_counter() - t0)
    return first_s, float(np.median(times)), result


def matmul_inputs(m):
    rng = np.random.default_rng(0)
    return rng.normal(size=(m, 200)), rng.normal(size=(200, 100)), rng.normal(size=(m, 100))


def einsdiff_matmul(m, fmt):
    import einsdiff as ed
    from einsdiff.engine.sparse import SparsePlan

    a, w, b = matmul_inputs(m)
    A, W, B = ed.var("A", a.shape), ed.var("W", w.shape), ed.var("B", b.shape)
    if fmt == "sparse":
        plan = {}

        def first():
            plan["p"] = SparsePlan(ed.jacobian(A @ W + B, W))
            return plan["p"](A=a, W=w, B=b)

        first_s, steady, J = timed(first, lambda: plan["p"](A=a, W=w, B=b))
        return first_s, steady, f"COO nnz {J.nnz:,}", J[0, 0, :3, 0].todense().tolist() if m <= 100 else None
    ed.config.max_dense_bytes = float("inf")
    fn = {}

    def first():
        fn["f"] = ed.compile(ed.jacobian(A @ W + B, W))
        return fn["f"](A=a, W=w, B=b)[0]

    first_s, steady, J = timed(first, lambda: fn["f"](A=a, W=w, B=b)[0])
    return first_s, steady, f"dense {J.size:,}", J[0, 0, :3, 0].tolist()


def jax_matmul(m):
    import jax

    jax.config.update("jax_enable_x64", True)
    a, w, b = (jax.numpy.asarray(v) for v in matmul_inputs(m))
    jac = jax.jit(jax.jacrev(lambda w_: a @ w_ + b))
    first_s, steady, J = timed(lambda: jac(w).block_until_ready(), lambda: jac(w).block_until_ready())
    return first_s, steady, f"dense {J.size:,}", np.asarray(J[0, 0, :3, 0]).tolist()


def elementwise_input():
    return np.random.default_rng(0).normal(size=10**6)


def einsdiff_elementwise():
    import einsdiff as ed
    from einsdiff.engine.sparse import SparsePlan

    xv = elementwise_input()
    x = ed.var("x", xv.shape)
    plan = {}

    def first():
        plan["p"] = SparsePlan(ed.jacobian(ed.tanh(x) * 2 + ed.sin(x), x))
        return plan["p"](x=xv)

    first_s, steady, J = timed(first, lambda: plan["p"](x=xv))
    return first_s, steady, f"COO nnz {J.nnz:,}", J.data[:3].tolist()


def jax_elementwise():
    import jax

    jax.config.update("jax_enable_x64", True)
    xv = jax.numpy.asarray(elementwise_input())

    def f(x):
        return jax.numpy.tanh(x) * 2 + jax.numpy.sin(x)

    diag = jax.jit(lambda x: jax.jvp(f, (x,), (jax.numpy.ones_like(x),))[1])
    first_s, steady, d = timed(lambda: diag(xv).block_until_ready(), lambda: diag(xv).block_until_ready())
    return first_s, steady, f"diagonal {d.size:,}", np.asarray(d[:3]).tolist()


CASES = {
    "matmul-500 einsdiff sparse": lambda: einsdiff_matmul(500, "sparse"),
    "matmul-100 einsdiff sparse": lambda: einsdiff_matmul(100, "sparse"),
    "matmul-100 einsdiff dense": lambda: einsdiff_matmul(100, "dense"),
    "matmul-100 jax jacrev": lambda: jax_matmul(100),
    "elementwise-1e6 einsdiff sparse": einsdiff_elementwise,
    "elementwise-1e6 jax jvp(ones)": jax_elementwise,
}


def child(name):
    if "einsdiff" in name:  # imports are not part of a first call
        import scipy.sparse  # noqa: F401
        import sparse  # noqa: F401

        import einsdiff  # noqa: F401
    else:
        import jax  # noqa: F401
    first_s, steady, what, check = CASES[name]()
    print(json.dumps({"first": first_s, "steady": steady, "what": what, "check": check, "peak": peak_mib()}))


def main():
    print("| case | system | result | steady ms | first call ms | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    checks = {}
    for name in CASES:
        run = subprocess.run([sys.executable, __file__, name], capture_output=True, text=True)
        case, system = name.split(" ", 1)
        if run.returncode != 0:
            print(f"| {case} | {system} | failed: {run.stderr.strip().splitlines()[-1]} | | | |")
            continue
        r = json.loads(run.stdout.strip().splitlines()[-1])
        if r["check"] is not None:
            checks.setdefault(case, []).append(r["check"])
        ms = f"{1e3 * r['steady']:.1f} | {1e3 * r['first']:.1f}"
        print(f"| {case} | {system} | {r['what']} | {ms} | {r['peak']:.0f} |")
    for case, values in checks.items():  # every system computed the same entries
        assert all(np.allclose(v, values[0]) for v in values), (case, values)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        child(sys.argv[1])
    else:
        main()
