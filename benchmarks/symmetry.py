"""Dense Hessians whose symmetry einsdiff uses, against the peers' dense Hessians.

- logistic: ∇² Σ log(1 + exp(-y ⊙ Xw)) wrt w, X (5000, 500) (task T4): Xᵀ diag(c) X.
- tanh-layer: ∇² Σ tanh(A M x) wrt x, A (3000, 800), M (800, 400): Lᵀ diag(c) L with L = A M.
- matrix: ∇² ‖X W − Y‖²_F wrt W, X (4000, 300), W (300, 8): 2 δ ⊗ XᵀX.
- twins: ∇² Σ (Ax) ⊙ (Bx) wrt x, A, B (4000, 800): AᵀB + BᵀA.

"einsdiff" is the default evaluation (the Gram form through syrk, twins computed once);
"no symmetry" is the same compiled expression with both turned off, so the ratio between
the two columns is what the symmetry buys. NumPy is the hand-written closed form with a
GEMM; JAX is jit(jax.hessian), PyTorch torch.func.hessian. Each (case, system) runs twice,
each time in its own process; times are the faster of the two medians of steady-state
calls; every result is checked against the closed form.

    benchmarks/.venv/bin/python benchmarks/symmetry.py
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
from common import in_child, timed  # noqa: E402

CASES = ("logistic", "tanh-layer", "matrix", "twins")


def inputs(case):
    r = np.random.default_rng(0)
    if case == "logistic":
        return dict(X=r.normal(size=(5000, 500)) / 10, y=np.sign(r.normal(size=5000)), w=r.normal(size=500) / 10)
    if case == "tanh-layer":
        return dict(A=r.normal(size=(3000, 800)) / 30, M=r.normal(size=(800, 400)) / 30, x=r.normal(size=400))
    if case == "matrix":
        return dict(X=r.normal(size=(4000, 300)), W=r.normal(size=(300, 8)), Y=r.normal(size=(4000, 8)))
    return dict(A=r.normal(size=(4000, 800)), B=r.normal(size=(4000, 800)), x=r.normal(size=800))


WRT = {"logistic": "w", "tanh-layer": "x", "matrix": "W", "twins": "x"}


def loss(case, ns, d):
    """The loss written once against ``ns`` (exp, log, tanh, sum) for every system."""
    if case == "logistic":
        return ns.sum(ns.log(1 + ns.exp(-d["y"] * (d["X"] @ d["w"]))))
    if case == "tanh-layer":
        return ns.sum(ns.tanh(d["A"] @ (d["M"] @ d["x"])))
    if case == "matrix":
        return ns.sum((d["X"] @ d["W"] - d["Y"]) ** 2)
    return ns.sum((d["A"] @ d["x"]) * (d["B"] @ d["x"]))


def closed(case, d):
    if case == "logistic":
        X, y = d["X"], d["y"]
        s = 1 / (1 + np.exp(-y * (X @ d["w"])))
        return (X * (s * (1 - s) * y * y)[:, None]).T @ X
    if case == "tanh-layer":
        L = d["A"] @ d["M"]
        t = np.tanh(L @ d["x"])
        return (L * (-2 * t * (1 - t * t))[:, None]).T @ L
    if case == "matrix":
        X = d["X"]
        return 2 * np.einsum("ik,jl->ijkl", X.T @ X.copy(), np.eye(d["W"].shape[1]))
    return d["A"].T @ d["B"] + d["B"].T @ d["A"]


def run_einsdiff(case, d, symmetric=True):
    import einsdiff as ed
    from einsdiff.engine.passes import ALL

    passes = ALL if symmetric else tuple(p for p in ALL if p not in ("gram", "twins"))
    v = {k: ed.var(k, np.shape(a)) for k, a in d.items()}
    ns = type("ns", (), {"sum": staticmethod(ed.sum), "log": staticmethod(ed.log),
                         "exp": staticmethod(ed.exp), "tanh": staticmethod(ed.tanh)})
    state = {}

    def call():
        if "f" not in state:
            state["f"] = ed.compile([ed.hessian(loss(case, ns, v), v[WRT[case]])], passes=passes)
        return state["f"](**d)[0]

    return timed(call)


def run_jax(case, d):
    import jax

    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    arrays = {k: jnp.asarray(a) for k, a in d.items()}
    wrt = WRT[case]

    def f(z):
        return loss(case, jnp, {**arrays, wrt: z})

    h = jax.jit(jax.hessian(f))
    return timed(lambda: h(arrays[wrt]).block_until_ready())


def run_torch(case, d):
    import torch

    torch.set_num_threads(2)
    arrays = {k: torch.from_numpy(a) for k, a in d.items()}
    wrt = WRT[case]

    def f(z):
        return loss(case, torch, {**arrays, wrt: z})

    return timed(lambda: torch.func.hessian(f)(arrays[wrt]).numpy())


SYSTEMS = {
    "numpy": lambda case, d: timed(lambda: closed(case, d)),
    "einsdiff": run_einsdiff,
    "no symmetry": lambda case, d: run_einsdiff(case, d, symmetric=False),
    "jax": run_jax,
    "torch": run_torch,
}


def child(case, system):
    d = inputs(case)
    if system in ("jax", "torch"):
        __import__(system)
    first, steady, out = SYSTEMS[system](case, d)
    want = closed(case, d)
    err = float(np.max(np.abs(out - want)) / (1 + np.max(np.abs(want))))
    M = out.reshape(int(np.sqrt(out.size)), -1)
    print(json.dumps({"first": first, "steady": steady, "err": err, "exact": bool(np.array_equal(M, M.T))}))


def main():
    print("| case | numpy ms | einsdiff ms | no symmetry ms | jax ms | torch ms | einsdiff / best peer "
          "| einsdiff / no symmetry | exactly symmetric | max rel err |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for case in CASES:
        r = {}
        for system in SYSTEMS:
            runs = [x for x in (in_child(__file__, case, system) for _ in range(2)) if x]  # the machine drifts
            r[system] = min(runs, key=lambda x: x["steady"]) if runs else None
        ms = {s: (f"{1e3 * r[s]['steady']:.1f}" if r[s] else "failed") for s in SYSTEMS}
        peers = [r[s]["steady"] for s in ("jax", "torch") if r[s]]
        mine = r["einsdiff"]["steady"]
        ratio = f"{mine / min(peers):.2f}" if peers else "—"
        exact = ", ".join(s for s in SYSTEMS if r[s] and r[s]["exact"])
        err = max(v["err"] for v in r.values() if v)
        print(f"| {case} | {ms['numpy']} | {ms['einsdiff']} | {ms['no symmetry']} | {ms['jax']} | {ms['torch']} "
              f"| {ratio} | {mine / r['no symmetry']['steady']:.2f} | {exact} | {err:.1e} |")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        child(sys.argv[1], sys.argv[2])
    else:
        main()
