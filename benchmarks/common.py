"""What the per-feature benchmark scripts share: timing a call, and running one
(case, system) pair in a child process of its own (so imports, caches and threads of
one system never touch another's numbers)."""

import json
import subprocess
import sys
import time

import numpy as np


def timed(fn, repeats: int = 7):
    """(first call seconds, median of ``repeats`` later calls, last result as an array)."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return first, float(np.median(times)), np.asarray(out)


def in_child(script: str, *args: str) -> dict | None:
    """The JSON the script's child mode prints last, or None when the child failed."""
    run = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
    return json.loads(run.stdout.strip().splitlines()[-1]) if run.returncode == 0 else None
