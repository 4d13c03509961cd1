"""Hessian-vector products and Hessian diagonals against the peers' ways of getting them.

Loss: L(w) = Σ log(1 + exp(-y ⊙ (X w))), X (5000, 500) (benchmark task T4's loss).
- hvp: einsdiff ``ed.hvp`` (forward over reverse, an expression) against JAX and PyTorch
  forward-over-reverse (jvp of grad) and the NumPy closed form Xᵀ(c ⊙ Xv), c = s(1-s)y².
- diagonal: einsdiff ``ed.hessian_diagonal`` against JAX and PyTorch, which have no
  diagonal-only transform and build the dense Hessian first (jax.hessian, torch.func.hessian),
  and the closed form (X ⊙ X)ᵀ c.

Each (case, system) runs in its own process; "first" is derive/trace + plan + one
evaluation (imports excluded), "steady" the median of later calls; every system's result
is checked against the closed form.

    benchmarks/.venv/bin/python benchmarks/directional.py
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
from common import in_child, timed  # noqa: E402



def inputs():
    r = np.random.default_rng(0)
    return dict(X=r.normal(size=(5000, 500)) / 10, y=np.sign(r.normal(size=5000)), w=r.normal(size=500) / 10,
                v=r.normal(size=500))


def closed(d, kind):
    X, y, w, v = d["X"], d["y"], d["w"], d["v"]
    s = 1 / (1 + np.exp(-y * (X @ w)))
    c = s * (1 - s) * y * y
    return X.T @ (c * (X @ v)) if kind == "hvp" else (X * X).T @ c


def run_einsdiff(d, kind):
    import einsdiff as ed

    X, y, w, v = (ed.var(k, np.shape(d[k])) for k in ("X", "y", "w", "v"))
    state = {}

    def call():
        if "f" not in state:
            loss = ed.log(1 + ed.exp(-y * (X @ w))).sum()
            state["f"] = ed.compile([ed.hvp(loss, w, v) if kind == "hvp" else ed.hessian_diagonal(loss, w)])
        return state["f"](**d)[0]

    return timed(call)


def run_jax(d, kind):
    import jax

    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    X, y, w, v = (jnp.asarray(d[k]) for k in ("X", "y", "w", "v"))

    def loss(w_):
        return jnp.log(1 + jnp.exp(-y * (X @ w_))).sum()

    if kind == "hvp":
        f = jax.jit(lambda w_, v_: jax.jvp(jax.grad(loss), (w_,), (v_,))[1])
        return timed(lambda: f(w, v).block_until_ready())
    f = jax.jit(lambda w_: jnp.diag(jax.hessian(loss)(w_)))
    return timed(lambda: f(w).block_until_ready())


def run_torch(d, kind):
    import torch

    torch.set_num_threads(2)
    X, y, w, v = (torch.from_numpy(d[k]) for k in ("X", "y", "w", "v"))

    def loss(w_):
        return torch.log(1 + torch.exp(-y * (X @ w_))).sum()

    if kind == "hvp":
        return timed(lambda: torch.func.jvp(torch.func.grad(loss), (w,), (v,))[1].numpy())
    return timed(lambda: torch.diagonal(torch.func.hessian(loss)(w)).numpy())


def run_numpy(d, kind):
    return timed(lambda: closed(d, kind))


SYSTEMS = {"numpy": run_numpy, "einsdiff": run_einsdiff, "jax": run_jax, "torch": run_torch}


def child(kind, system):
    d = inputs()
    if system != "numpy":
        __import__(system)
    first, steady, out = SYSTEMS[system](d, kind)
    want = closed(d, kind)
    err = float(np.max(np.abs(out - want)) / (1 + np.max(np.abs(want))))
    print(json.dumps({"first": first, "steady": steady, "err": err}))


def main():
    print("| case | numpy ms | einsdiff ms | jax ms | torch ms | einsdiff / best peer | einsdiff first ms | max rel err |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in ("hvp", "diagonal"):
        r = {}
        for system in SYSTEMS:
            r[system] = in_child(__file__, kind, system)
        ms = {s: (f"{1e3 * r[s]['steady']:.2f}" if r[s] else "failed") for s in SYSTEMS}
        peers = [r[s]["steady"] for s in ("jax", "torch") if r[s]]
        ratio = f"{r['einsdiff']['steady'] / min(peers):.2f}" if peers and r["einsdiff"] else "—"
        err = max(v["err"] for v in r.values() if v)
        print(f"| {kind} | {ms['numpy']} | {ms['einsdiff']} | {ms['jax']} | {ms['torch']} | {ratio} "
              f"| {1e3 * r['einsdiff']['first']:.1f} | {err:.1e} |")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        child(sys.argv[1], sys.argv[2])
    else:
        main()
