"""Derivatives of code written in NumPy (issue 16): does the function traced through numpy's
protocols compile to the same program, and run as fast, as the same loss built with ``ed.*``?

- logistic: Σ log(1 + exp(-y ⊙ Xw)) + λ/2 ‖w‖², written ``np.sum(np.logaddexp(0, -y * (X @ w)))``,
  X (5000, 200); its gradient and its Hessian wrt w.
- mlp: ‖tanh(X W1) W2 − Y‖²_F, a 2-layer tanh network; the gradient wrt (W1, W2) at batch 4096,
  sizes 64 → 128 → 8, and the Hessian wrt W1 at batch 1000, sizes 20 → 20 → 4 (W1 has 400
  entries, the Hessian 400 × 400).

Systems: "numpy" is the hand-written closed form (backpropagation, and the Hessians worked out
by hand below); "numpy code" is ``ed.compile`` of the derivative of the model function below
called with numpy as its namespace on einsdiff variables; "ed form" the same loss written with
``ed.sum``, ``ed.softplus``, ``ed.tanh``, ``ed.square``; "jax" is ``jax.jit(jax.grad)`` /
``jax.jit(jax.hessian)`` of the model function with ``jax.numpy`` as its namespace (x64).
Each (case, system) runs four times, each in its own process; times are the fastest of the
four medians of steady-state calls; every result is checked against the closed form.

    benchmarks/.venv/bin/python benchmarks/numpy_code.py [--side-by-side]

``--side-by-side`` times the two einsdiff forms alternately in one process instead.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import functools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
from common import in_child, timed  # noqa: E402

LAM = 0.1
REPEATS = 25  # several cases take under a millisecond
RUNS = 4  # processes per (case, system), the fastest median kept: see RESULTS.md on the drift


# The models, written once; ``xp`` is numpy (on einsdiff variables) or jax.numpy.
def logistic(xp, X, y, w):
    return xp.sum(xp.logaddexp(0, -y * (X @ w))) + 0.5 * LAM * xp.sum(w ** 2)


def mlp(xp, X, Y, W1, W2):
    return xp.sum((xp.tanh(X @ W1) @ W2 - Y) ** 2)


def logistic_ed(ed, X, y, w):
    return ed.sum(ed.softplus(-y * (X @ w))) + 0.5 * LAM * ed.sum(ed.square(w))


def mlp_ed(ed, X, Y, W1, W2):
    return ed.sum(ed.square(ed.tanh(X @ W1) @ W2 - Y))


# case: (model, ed form, inputs' sizes, variables differentiated, "grad" or "hessian")
CASES = {
    "logistic grad": (logistic, logistic_ed, (5000, 200), ("w",), "grad"),
    "logistic hessian": (logistic, logistic_ed, (5000, 200), ("w",), "hessian"),
    "mlp grad": (mlp, mlp_ed, (4096, 64, 128, 8), ("W1", "W2"), "grad"),
    "mlp hessian": (mlp, mlp_ed, (1000, 20, 20, 4), ("W1",), "hessian"),
}


def inputs(case):
    r = np.random.default_rng(0)
    if CASES[case][0] is logistic:
        n, d = CASES[case][2]
        return dict(X=r.normal(size=(n, d)) / 10, y=np.sign(r.normal(size=n)), w=r.normal(size=d) / 10)
    b, i, h, o = CASES[case][2]
    return dict(X=r.normal(size=(b, i)), Y=r.normal(size=(b, o)),
                W1=r.normal(size=(i, h)) / np.sqrt(i), W2=r.normal(size=(h, o)) / np.sqrt(h))


def closed(case, d):
    """The hand-written derivatives."""
    if CASES[case][0] is logistic:
        X, y, w = d["X"], d["y"], d["w"]
        s = 1 / (1 + np.exp(y * (X @ w)))  # σ(−y ⊙ Xw)
        if case == "logistic grad":
            return (X.T @ (-y * s) + LAM * w,)
        H = (X * (s * (1 - s))[:, None]).T @ X  # y² = 1
        H[np.diag_indices_from(H)] += LAM
        return (H,)
    X, Y, W1, W2 = d["X"], d["Y"], d["W1"], d["W2"]
    T = np.tanh(X @ W1)
    G = 2 * (T @ W2 - Y) @ W2.T  # ∂L/∂T
    S = 1 - T * T  # tanh'
    if case == "mlp grad":
        return X.T @ (G * S), 2 * T.T @ (T @ W2 - Y)
    # ∂²L/∂W1[i,h]∂W1[j,k] = Σ_b X[b,i] X[b,j] (2 S[b,h] S[b,k] (W2 W2ᵀ)[h,k] − 2 δ_hk G[b,h] T[b,h] S[b,h])
    b, i, h = X.shape[0], X.shape[1], W1.shape[1]
    A = (X[:, :, None] * S[:, None, :]).reshape(b, i * h)
    H = (A.T @ A).reshape(i, h, i, h) * (2 * W2 @ W2.T)[None, :, None, :]
    C = (X[:, :, None] * (-2 * G * T * S)[:, None, :]).reshape(b, i * h).T @ X  # [(i,h), j]
    hs = np.arange(h)
    H[:, hs, :, hs] += C.reshape(i, h, i).transpose(1, 0, 2)
    return (H,)


def flat(arrays):
    return np.concatenate([np.ravel(np.asarray(a)) for a in arrays])


def derivative(ed, case, v, written_with_numpy):
    """The derivatives of the case's loss, traced from the model function or built with ``ed.*``."""
    model, model_ed, _, wrt, kind = CASES[case]
    f = ed.symbolic(functools.partial(model, np), **v) if written_with_numpy else model_ed(ed, **v)
    return ed.grad(f, tuple(v[k] for k in wrt)) if kind == "grad" else (ed.hessian(f, v[wrt[0]]),)


def run_einsdiff(case, d, written_with_numpy):
    import einsdiff as ed

    v = {k: ed.var(k, np.shape(a)) for k, a in d.items()}
    state = {}

    def call():
        if "f" not in state:
            state["f"] = ed.compile(list(derivative(ed, case, v, written_with_numpy)))
        return flat(state["f"](**d))

    first, steady, out = timed(call, REPEATS)
    # Whether both ways give the same expressions (so the same program), checked after timing.
    same = derivative(ed, case, v, True) == derivative(ed, case, v, False)
    return first, steady, out, {"flops": state["f"].plan.total_flops, "same": same}


def run_jax(case, d):
    import jax

    jax.config.update("jax_enable_x64", True)
    model, _, _, wrt, kind = CASES[case]
    arrays = {k: jax.numpy.asarray(a) for k, a in d.items()}
    names = list(d)
    argnums = tuple(names.index(k) for k in wrt)
    f = functools.partial(model, jax.numpy)
    derivative = jax.jit(jax.grad(f, argnums) if kind == "grad" else jax.hessian(f, argnums[0]))
    return (*timed(lambda: flat(jax.tree_util.tree_leaves(derivative(*arrays.values()))), REPEATS), {})


SYSTEMS = {
    "numpy": lambda case, d: (*timed(lambda: flat(closed(case, d)), REPEATS), {}),
    "numpy code": lambda case, d: run_einsdiff(case, d, True),
    "ed form": lambda case, d: run_einsdiff(case, d, False),
    "jax": run_jax,
}


def child(case, system):
    d = inputs(case)
    if system != "numpy":  # the first call measures deriving/tracing and planning, not importing
        __import__("jax" if system == "jax" else "einsdiff")
    first, steady, out, extra = SYSTEMS[system](case, d)
    want = flat(closed(case, d))
    err = float(np.max(np.abs(out - want)) / (1 + np.max(np.abs(want))))
    print(json.dumps({"first": first, "steady": steady, "err": err, **extra}))


def main():
    print("| case | numpy ms | numpy code ms | ed form ms | jax ms | numpy code / ed form | numpy code / jax "
          "| numpy code / numpy | same derivative | flops (numpy code, ed form) | first call ms (numpy code, "
          "ed form, jax) | max rel err |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for case in CASES:
        runs = {system: [] for system in SYSTEMS}
        for _ in range(RUNS):  # rounds over all systems: the machine's drift falls on each alike
            for system in SYSTEMS:
                runs[system] += [x for x in (in_child(__file__, case, system),) if x]
        r = {s: min(runs[s], key=lambda x: x["steady"]) if runs[s] else None for s in SYSTEMS}
        ms = {s: (f"{1e3 * r[s]['steady']:.2f}" if r[s] else "failed") for s in SYSTEMS}
        mine = r["numpy code"]

        def ratio(other):
            return f"{mine['steady'] / r[other]['steady']:.2f}" if mine and r[other] else "—"

        same = ("yes" if mine["same"] else "no") if mine else "—"
        flops = ", ".join(f"{r[s]['flops']:,}" if r[s] else "—" for s in ("numpy code", "ed form"))
        first = ", ".join(f"{1e3 * r[s]['first']:.0f}" if r[s] else "—" for s in ("numpy code", "ed form", "jax"))
        err = max(v["err"] for v in r.values() if v)
        print(f"| {case} | {ms['numpy']} | {ms['numpy code']} | {ms['ed form']} | {ms['jax']} | {ratio('ed form')} "
              f"| {ratio('jax')} | {ratio('numpy')} | {same} | {flops} | {first} | {err:.1e} |")


def side_by_side(calls=60):
    """Both einsdiff forms in one process, calls alternating: their ratio without the drift."""
    import time

    import einsdiff as ed

    for case in CASES:
        d = inputs(case)
        v = {k: ed.var(k, np.shape(a)) for k, a in d.items()}
        fns = [ed.compile(list(derivative(ed, case, v, numpy_code))) for numpy_code in (True, False)]
        times = [[], []]
        for _ in range(calls):
            for fn, ts in zip(fns, times, strict=True):
                t0 = time.perf_counter()
                fn(**d)
                ts.append(time.perf_counter() - t0)
        code, form = (1e3 * float(np.median(ts)) for ts in times)
        print(f"{case}: numpy code {code:.2f} ms, ed form {form:.2f} ms, ratio {code / form:.3f}")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        child(sys.argv[1], sys.argv[2])
    elif sys.argv[1:] == ["--side-by-side"]:
        side_by_side()
    else:
        main()
