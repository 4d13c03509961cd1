"""Separate gradients of one function against the tuple form and hand-written backprop (issue 17).

Task T7 (benchmarks/tasks.py): ‖tanh(tanh(X W1) W2) W3 − Y‖² / N, batch 1024, width 256.

- separate: ``ed.compile([ed.grad(L, W1), ed.grad(L, W2), ed.grad(L, W3)])``, all passes
  (the ``one_sweep`` pass gives them the tuple form's one reverse sweep);
- separate, no one_sweep: the same with that pass off (each gradient its own sweep);
- tuple: ``ed.compile(list(ed.grad(L, (W1, W2, W3))))``;
- numpy: T7's hand-written backprop.

Each form runs in its own process, four times (this machine's BLAS calls at times wait
a time slice when another process holds the second core); times are the fastest of the
four medians of steady-state calls; every result is checked against the hand-written
backprop. ``--side-by-side`` runs all forms in one process, calls alternating.

    PYTHONPATH=. benchmarks/.venv/bin/python benchmarks/sweep.py [--side-by-side]
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from common import in_child, timed  # noqa: E402
from tasks import TASKS  # noqa: E402

T7 = TASKS["T7"]
FORMS = ("numpy", "tuple", "separate", "separate, no one_sweep")


def build(form, d):
    """The compiled program of ``form`` (None for numpy) and a call of it."""
    if form == "numpy":
        return None, lambda: T7.closed_form(d)
    import einsdiff as ed
    from einsdiff.engine.passes import ALL

    v = {k: ed.var(k, np.shape(a)) for k, a in d.items()}
    ws = tuple(v[k] for k in T7.wrt)
    ns = type("ns", (), {"tanh": staticmethod(ed.tanh)})
    L = T7.fn(ns, *ws, X=v["X"], Y=v["Y"])
    outs = list(ed.grad(L, ws)) if form == "tuple" else [ed.grad(L, w) for w in ws]
    passes = tuple(p for p in ALL if p != "one_sweep") if form.endswith("no one_sweep") else None
    compiled = ed.compile(outs, passes=passes)
    return compiled, lambda: compiled(**d)


def child(form):
    d = T7.inputs(np.random.default_rng(0))
    compiled, call = build(form, d)
    _, steady, _ = timed(call, repeats=15)
    got, want = call(), T7.closed_form(d)
    err = max(float(np.max(np.abs(g - w)) / (1 + np.max(np.abs(w)))) for g, w in zip(got, want, strict=True))
    gflop = compiled.plan.total_flops / 1e9 if compiled else None
    print(json.dumps({"steady": steady, "err": err, "gflop": gflop}))


def main():
    r = {}
    for form in FORMS:
        runs = [x for x in (in_child(__file__, form) for _ in range(4)) if x]
        r[form] = min(runs, key=lambda x: x["steady"]) if runs else None
    base = r["numpy"]["steady"]
    print("| form | planned GFLOP | ms | / hand-written backprop | max rel err |")
    print("|---|---|---|---|---|")
    for form in FORMS:
        x = r[form]
        if x is None:
            print(f"| {form} | failed | | | |")
            continue
        gflop = "—" if x["gflop"] is None else f"{x['gflop']:.3f}"
        print(f"| {form} | {gflop} | {1e3 * x['steady']:.1f} | {x['steady'] / base:.2f} | {x['err']:.1e} |")


def side_by_side(rounds=40):
    d = T7.inputs(np.random.default_rng(0))
    calls = {form: build(form, d)[1] for form in FORMS}
    times = {form: [] for form in FORMS}
    for form in FORMS:
        calls[form]()
    for _ in range(rounds):
        for form in FORMS:
            t0 = time.perf_counter()
            calls[form]()
            times[form].append(time.perf_counter() - t0)
    base, fastest = float(np.median(times["numpy"])), min(times["numpy"])
    for form in FORMS:
        ms, least = float(np.median(times[form])), min(times[form])
        print(f"{form}: median {1e3 * ms:.1f} ms, {ms / base:.3f} x hand-written backprop; "
              f"fastest {1e3 * least:.1f} ms, {least / fastest:.3f} x")


if __name__ == "__main__":
    if sys.argv[1:] == ["--side-by-side"]:
        side_by_side()
    elif len(sys.argv) > 1:
        child(sys.argv[1])
    else:
        main()
