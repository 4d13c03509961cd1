"""Run every benchmark task on every system and print a markdown table.

    bash benchmarks/setup.sh                     # once: a venv with the peers
    benchmarks/.venv/bin/python benchmarks/run.py [--tasks T1,T3] [--systems einsdiff,jax]

Each (task, system) pair runs in its own subprocess (a clean heap for the peak
memory reading, and no cross-talk between frameworks' thread pools), on the same
seeded float64 inputs, with two threads for every system. Every result is checked
against the hand-written NumPy closed form.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

THREADS = "2"
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, THREADS)

import numpy as np  # noqa: E402  (after the thread settings)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from tasks import TASKS  # noqa: E402

SYSTEMS = ["numpy", "einsdiff", "einsdiff-jax", "jax", "torch", "autograd"]
PEERS = ["jax", "torch", "autograd"]


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def worker(task_key: str, system: str, budget: float) -> dict:
    task = TASKS[task_key]
    inputs = task.inputs(np.random.default_rng(0))
    want = task.closed_form(inputs)
    if system != "numpy":  # the first call measures deriving/tracing and planning, not importing
        for module in {"einsdiff-jax": ["einsdiff", "jax"]}.get(system, [system]):
            __import__(module)
    passes = switch_off(os.environ.get("EINSDIFF_BENCH_WITHOUT", ""))
    fn = task.builders(passes)[system](inputs)
    t0 = time.perf_counter()
    got = fn()
    first = time.perf_counter() - t0
    err = max(
        float(np.max(np.abs(np.asarray(g) - w)) / (1.0 + np.max(np.abs(w)))) for g, w in zip(got, want, strict=True)
    )
    shapes_ok = all(np.shape(g) == np.shape(w) for g, w in zip(got, want, strict=True))
    del got
    gc.collect()
    # Peak memory of one steady-state call. NumPy reports its buffers to tracemalloc, which
    # sees every byte allocated, resident or not; the peers' allocators do not, so for them
    # the resident high-water mark is read instead (an underestimate when freed memory is reused).
    if system in ("numpy", "einsdiff"):
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    else:
        Path("/proc/self/clear_refs").write_text("5")
        base = _rss_kib("VmRSS")
        out = fn()
        peak = max(0, _rss_kib("VmHWM") - base) * 1024
    del out
    gc.collect()
    times = []
    deadline = time.perf_counter() + budget
    while len(times) < 3 or (time.perf_counter() < deadline and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if times[-1] > budget:
            break
    in_bytes = sum(a.nbytes for a in inputs.values())
    out_bytes = sum(np.asarray(w).nbytes for w in want)
    return dict(task=task_key, system=system, first_ms=first * 1e3, median_ms=statistics.median(times) * 1e3,
                peak_bytes=peak, in_bytes=in_bytes, out_bytes=out_bytes, max_rel_err=err, shapes_ok=shapes_ok,
                reps=len(times))


# EINSDIFF_BENCH_WITHOUT's names for compile-time passes (einsdiff.engine.passes); any pass name works too.
_PASS_OF = {"inverse": "reuse_inverses", "distribute": "distribute_sums"}


def switch_off(features: str) -> tuple[str, ...] | None:
    """For before/after comparisons in one run: EINSDIFF_BENCH_WITHOUT=trace,inverse,distribute
    runs the jax backend step by step, solves without the shared inverse, sums undistributed
    (gram, twins: without the symmetric forms). Returns the passes to compile with (None: all)."""
    import importlib

    from einsdiff.engine.passes import ALL

    passes = list(ALL)
    for feature in filter(None, features.split(",")):
        if feature == "trace":
            importlib.import_module("einsdiff.engine.backends")._Jax.traced = False
        elif _PASS_OF.get(feature, feature) in passes:
            passes.remove(_PASS_OF.get(feature, feature))
        else:
            raise SystemExit(f"EINSDIFF_BENCH_WITHOUT: unknown feature {feature!r} "
                             f"(trace, inverse, distribute, or a pass: {', '.join(ALL)})")
    return None if len(passes) == len(ALL) else tuple(passes)


def run_pair(task_key: str, system: str, budget: float) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", task_key, system, "--budget", str(budget)],
        capture_output=True, text=True, timeout=1800,
    )
    if proc.returncode != 0:
        return dict(task=task_key, system=system, error=(proc.stderr.strip().splitlines() or ["?"])[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(x, digits=1):
    return "—" if x is None else f"{x:.{digits}f}"


def table(results: list[dict]) -> str:
    by = {(r["task"], r["system"]): r for r in results}
    tasks = list(dict.fromkeys(r["task"] for r in results))
    systems = [s for s in SYSTEMS if any((t, s) in by for t in tasks)]
    on_jax = "einsdiff-jax" in systems
    lines = [
        "| task | " + " | ".join(f"{s} ms" for s in systems)
        + " | einsdiff / best peer | einsdiff / numpy | einsdiff first call ms | JAX first call ms"
        + " | einsdiff peak / (in+out) | max rel err |" + (" einsdiff-jax / jax |" if on_jax else ""),
        "|---" * (len(systems) + 7 + on_jax) + "|",
    ]
    for t in tasks:
        row = [t]
        for s in systems:
            r = by.get((t, s), {})
            row.append("error" if "error" in r else _fmt(r.get("median_ms")))
        ed = by.get((t, "einsdiff"), {})
        peers = [by[(t, p)]["median_ms"] for p in PEERS if (t, p) in by and "median_ms" in by[(t, p)]]
        npy = by.get((t, "numpy"), {}).get("median_ms")
        med = ed.get("median_ms")
        row.append(_fmt(med / min(peers), 2) if med and peers else "—")
        row.append(_fmt(med / npy, 2) if med and npy else "—")
        row.append(_fmt(ed.get("first_ms")))
        row.append(_fmt(by.get((t, "jax"), {}).get("first_ms")))
        if ed.get("peak_bytes") is not None:
            row.append(_fmt((ed["peak_bytes"] + ed["in_bytes"]) / (ed["in_bytes"] + ed["out_bytes"]), 2))
        else:
            row.append("—")
        errs = [by[(t, s)].get("max_rel_err") for s in systems if (t, s) in by and "max_rel_err" in by[(t, s)]]
        row.append(f"{max(errs):.1e}" if errs else "—")
        if on_jax:  # the same networks on XLA against JAX's own derivative
            mine, theirs = (by.get((t, s), {}).get("median_ms") for s in ("einsdiff-jax", "jax"))
            row.append(_fmt(mine / theirs, 2) if mine and theirs else "—")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def derivation_ms() -> float:
    """Derive and simplify the Hessian of a 3-layer tanh MLP loss wrt its first weights (symbolic only)."""
    import einsdiff as ed

    t0 = time.perf_counter()
    X, Y = ed.var("X", (1024, 256)), ed.var("Y", (1024, 256))
    W1, W2, W3 = (ed.var(f"W{k}", (256, 256)) for k in (1, 2, 3))
    R = ed.tanh(ed.tanh(X @ W1) @ W2) @ W3 - Y
    ed.hessian((R * R).sum(), W1)
    return (time.perf_counter() - t0) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", nargs=2, metavar=("TASK", "SYSTEM"), help=argparse.SUPPRESS)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--budget", type=float, default=2.0, help="seconds of steady-state calls per pair")
    ap.add_argument("--rounds", type=int, default=2, help="runs per pair; the fastest median is kept")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--profile", metavar="TASK", help="print einsdiff's per-step times for one task and exit")
    args = ap.parse_args()
    if args.profile:
        inputs = TASKS[args.profile].inputs(np.random.default_rng(0))
        fn = TASKS[args.profile].builders()["einsdiff"](inputs)
        fn()
        print(fn.state["fn"].compiled.profile(repeat=20, **inputs))
        return
    if args.worker:
        print(json.dumps(worker(*args.worker, args.budget)))
        return
    results = []
    for t in args.tasks.split(","):
        print(f"# {t}: {TASKS[t].title}", file=sys.stderr)
        for s in args.systems.split(","):
            # Rounds tame the machine's drift: keep the round with the fastest median.
            runs = [run_pair(t, s, args.budget) for _ in range(args.rounds)]
            ok = [r for r in runs if "median_ms" in r]
            r = min(ok, key=lambda r: r["median_ms"]) if ok else runs[0]
            results.append(r)
            bad = "error" in r or not r["shapes_ok"] or r["max_rel_err"] > 1e-8
            print(f"  {s:9s} {r.get('median_ms', float('nan')):10.2f} ms  first {r.get('first_ms', float('nan')):9.1f} ms"
                  f"  {'MISMATCH ' + str(r.get('error', r.get('max_rel_err'))) if bad else 'ok'}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}, threads {THREADS}\n")
    print(table(results))
    print(f"\nHessian of a 3-layer tanh MLP loss wrt W1, derived and simplified: {derivation_ms():.1f} ms")
    failures = [r for r in results if "error" in r or not r["shapes_ok"] or r["max_rel_err"] > 1e-8]
    if failures:
        print(f"\n{len(failures)} result(s) disagree with the NumPy closed form or failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
