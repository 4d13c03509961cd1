"""The measurements behind RESULTS.md's explanation of the T2 and T7 misses:
NumPy's elementwise tanh against XLA's, a GEMM on both, and OpenBLAS's GEMV both ways.

    benchmarks/.venv/bin/python benchmarks/elementwise.py
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import time  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)


def median_ms(fn, n=30):
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


rng = np.random.default_rng(0)
a, b = rng.normal(size=(1024, 256)), rng.normal(size=(256, 256))
ja, jb = jax.numpy.asarray(a), jax.numpy.asarray(b)
tanh, matmul = jax.jit(jax.numpy.tanh), jax.jit(lambda p, q: p @ q)
X, w, g = rng.normal(size=(100000, 100)), rng.normal(size=100), rng.normal(size=100000)
rows = [
    ("np.tanh, 1024x256", median_ms(lambda: np.tanh(a))),
    ("XLA tanh, 1024x256", median_ms(lambda: tanh(ja).block_until_ready())),
    ("numpy GEMM 1024x256 @ 256x256", median_ms(lambda: a @ b)),
    ("XLA GEMM 1024x256 @ 256x256", median_ms(lambda: matmul(ja, jb).block_until_ready())),
    ("numpy GEMV X @ w, X 100000x100", median_ms(lambda: X @ w)),
    ("numpy GEMV g @ X (transposed)", median_ms(lambda: g @ X)),
]
for name, ms in rows:
    print(f"{ms:8.2f} ms  {name}")
