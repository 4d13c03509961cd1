"""Safe to share: one compiled function called from many threads gives the serial results."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import einsdiff as ed

A, x, S = ed.var("A", (40, 30)), ed.var("x", (30,)), ed.var("S", (30, 30))
LOSS = ed.softplus(A @ x).sum() + ed.logdet(S) + (ed.solve(S, x) ** 2).sum() + ed.relu(x).sum()
OUTPUTS = [LOSS, ed.grad(LOSS, x), ed.hessian(LOSS, x), ed.grad(LOSS, S), ed.jacobian(ed.tanh(A @ x), A)]


def _bindings(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"A": rng.normal(size=(40, 30)) / 5, "x": rng.normal(size=30), "S": rng.normal(size=(30, 30)) + 8 * np.eye(30)}


def test_eight_threads_fifty_calls_each_match_serial_calls():
    fn = ed.compile(OUTPUTS)
    inputs = [_bindings(seed) for seed in range(8 * 50)]
    copies = [{k: v.copy() for k, v in b.items()} for b in inputs]
    serial = [fn(**b) for b in inputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda b: fn(**b), inputs))
    for want, got in zip(serial, parallel, strict=True):
        for w, g in zip(want, got, strict=True):
            np.testing.assert_array_equal(g, w)
    for b, c in zip(inputs, copies, strict=True):  # no call wrote into an input
        for k in b:
            np.testing.assert_array_equal(b[k], c[k])


def test_threads_evaluating_the_same_input_agree():
    fn = ed.compile(OUTPUTS)
    b = _bindings(0)
    want = fn(**b)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: fn(**b), range(64)))
    for got in results:
        for w, g in zip(want, got, strict=True):
            np.testing.assert_array_equal(g, w)
            assert not np.shares_memory(g, w)  # each call owns its results
