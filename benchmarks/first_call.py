"""What the first call costs as a network deepens (issue 17): derivation, simplification and
planning of an L-layer tanh chain, h₀ = x, h_k = tanh(W_k h_{k−1}), loss Σ h_L, with distinct
W_k (n × n, n = 10), for L = 10, 20, 40, 80.

- grad: ``ed.compile(ed.grad(loss, (W_1, …, W_L)))``, the gradient wrt every weight;
- hvp: ``ed.compile(ed.hvp(loss, x, v))``, a Hessian-vector product wrt the input.

Each (kind, L) runs in its own process: one small chain first (so lazy imports are not
counted), then ``RUNS`` timed runs (fewer past ``BUDGET`` seconds; a depth whose run took
over ``DEEPER`` seconds stops the deeper ones), each on fresh variables with einsdiff's memo tables
cleared; the median is reported, split into derivation (``ed.grad`` / ``ed.hvp``, which
simplify as they build) and compilation (passes and planning, ``ed.compile``). The check:
ms / L may not grow by more than ``SLACK`` from L = 10 to L = 80, and L = 80 stays under 1 s.

    benchmarks/.venv/bin/python benchmarks/first_call.py
"""

import json
import sys
import time

import numpy as np
from common import in_child

DEPTHS = (10, 20, 40, 80)
KINDS = ("grad", "hvp")
WIDTH = 10
RUNS = 5
BUDGET = 20.0  # seconds a child spends on its runs before it stops (a superlinear case)
DEEPER = 10.0  # seconds one run may take before the deeper chains are not tried
SLACK = 1.5  # how much ms / L may grow from the shallowest to the deepest chain


def chain(ed, depth):
    x = ed.var("x", (WIDTH,))
    weights = tuple(ed.var(f"W{k}", (WIDTH, WIDTH)) for k in range(1, depth + 1))
    h = x
    for W in weights:
        h = ed.tanh(W @ h)
    return ed.sum(h), x, weights


def clear_memos():
    """Forget what earlier runs memoised (layouts, reverse rules), so every run starts cold."""
    from einsdiff.calculus import derive
    from einsdiff.ir import layout

    layout._layout.cache_clear()
    derive._transposed.cache_clear()


def first_call(kind, depth):
    import einsdiff as ed

    clear_memos()
    t0 = time.perf_counter()
    loss, x, weights = chain(ed, depth)
    derivative = [*ed.grad(loss, weights)] if kind == "grad" else [ed.hvp(loss, x, ed.var("v", (WIDTH,)))]
    t1 = time.perf_counter()
    compiled = ed.compile(derivative)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, len(compiled.steps)


def child(kind, depth):
    first_call(kind, 2)
    runs, start = [], time.perf_counter()
    while len(runs) < RUNS and time.perf_counter() - start < BUDGET:
        runs.append(first_call(kind, int(depth)))
    derive, plan = (float(np.median([r[k] for r in runs])) for k in (0, 1))
    print(json.dumps({"derive": derive, "compile": plan, "total": float(np.median([r[0] + r[1] for r in runs])),
                      "steps": runs[0][2], "runs": len(runs)}))


def main():
    print("| derivative | L | derive ms | compile ms | total ms | ms / L | program steps | runs |")
    print("|---|---|---|---|---|---|---|---|")
    verdicts = []
    for kind in KINDS:
        per_layer = {}
        slow = False
        for depth in DEPTHS:
            r = None if slow else in_child(__file__, kind, str(depth))
            if r is None:
                print(f"| {kind} | {depth} | {'not run: too slow above' if slow else 'failed'} | | | | | |")
                continue
            slow = r["total"] > DEEPER
            per_layer[depth] = 1e3 * r["total"] / depth
            print(f"| {kind} | {depth} | {1e3 * r['derive']:.1f} | {1e3 * r['compile']:.1f} | {1e3 * r['total']:.1f} "
                  f"| {per_layer[depth]:.2f} | {r['steps']} | {r['runs']} |")
        if not per_layer:
            continue
        if len(per_layer) < len(DEPTHS):
            deepest = max(per_layer)
            verdicts.append(f"{kind}: ms/L grows {per_layer[deepest] / per_layer[DEPTHS[0]]:.1f}x from L = {DEPTHS[0]} "
                            f"to {deepest}: NOT linear; deeper chains not run")
        else:
            growth = per_layer[DEPTHS[-1]] / per_layer[DEPTHS[0]]
            deepest = per_layer[DEPTHS[-1]] * DEPTHS[-1]
            ok = growth <= SLACK and deepest < 1e3
            verdicts.append(f"{kind}: ms/L grows {growth:.2f}x from L = {DEPTHS[0]} to {DEPTHS[-1]}, "
                            f"{deepest:.0f} ms at L = {DEPTHS[-1]}: {'linear, under 1 s' if ok else 'NOT linear or over 1 s'}")
    print("\n" + "\n".join(verdicts))


if __name__ == "__main__":
    if len(sys.argv) == 3:
        child(*sys.argv[1:])
    else:
        main()
