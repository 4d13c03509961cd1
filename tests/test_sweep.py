"""Derivatives of one function taken separately share one reverse sweep when compiled
together (the ``one_sweep`` pass): ``[grad(L, W1), grad(L, W2)]`` plans what
``grad(L, (W1, W2))`` plans, and what each prints stays as derived."""

import threading

import numpy as np
import pytest

import einsdiff as ed
import einsdiff.calculus.derive as derive
from einsdiff.engine.passes import ALL
from einsdiff.testing.oracles import finite_difference_jacobian

rng = np.random.default_rng(17)
WITHOUT = tuple(p for p in ALL if p != "one_sweep")


def _flops(outputs, passes=None) -> int:
    return ed.compile(list(outputs), passes=passes).plan.total_flops


def _mlp(n=32, w=8):
    """T7 at small sizes: ‖tanh(tanh(X W1) W2) W3 − Y‖² / N, its bindings and hand-written backprop."""
    X, Y = ed.var("X", (n, w)), ed.var("Y", (n, w))
    Ws = tuple(ed.var(f"W{k}", (w, w)) for k in (1, 2, 3))
    L = ((ed.tanh(ed.tanh(X @ Ws[0]) @ Ws[1]) @ Ws[2] - Y) ** 2).sum() / n
    b = dict(X=rng.normal(size=(n, w)), Y=rng.normal(size=(n, w)),
             **{f"W{k}": rng.normal(size=(w, w)) / np.sqrt(w) for k in (1, 2, 3)})
    h1 = np.tanh(b["X"] @ b["W1"])
    h2 = np.tanh(h1 @ b["W2"])
    g3 = (2.0 / n) * (h2 @ b["W3"] - b["Y"])
    d2 = (g3 @ b["W3"].T) * (1 - h2 * h2)
    d1 = (d2 @ b["W2"].T) * (1 - h1 * h1)
    return L, Ws, b, [b["X"].T @ d1, h1.T @ d2, h2.T @ g3]


def _logistic(n=40, p=6):
    """Σ log(1 + exp(−y ⊙ (X w + b))) by w and b, and its closed-form gradients."""
    X, y, w, c = ed.var("X", (n, p)), ed.var("y", (n,)), ed.var("w", (p,)), ed.var("b", ())
    L = ed.sum(ed.log(1 + ed.exp(-y * (X @ w + c))))
    b = dict(X=rng.normal(size=(n, p)), y=np.sign(rng.normal(size=n)), w=rng.normal(size=p) / 3, b=np.array(0.3))
    s = -b["y"] / (1 + np.exp(b["y"] * (b["X"] @ b["w"] + b["b"])))
    return L, (w, c), b, [b["X"].T @ s, s.sum()]


def _nested(n=5):
    """Σ tanh(W2 tanh(W1 x)): W2's adjoint path is a strict part of W1's."""
    x, W1, W2 = ed.var("x", (n,)), ed.var("W1", (n, n)), ed.var("W2", (n, n))
    L = ed.sum(ed.tanh(W2 @ ed.tanh(W1 @ x)))
    b = dict(x=rng.normal(size=n), W1=rng.normal(size=(n, n)) / 2, W2=rng.normal(size=(n, n)) / 2)
    return L, (W1, W2), b, [finite_difference_jacobian(L, W, b) for W in (W1, W2)]


CASES = {"mlp": _mlp, "logistic": _logistic, "nested": _nested}


def _close(got, want):
    scale = 1.0 + float(np.max(np.abs(want)))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * scale)


@pytest.mark.parametrize("case", CASES)
def test_separate_gradients_plan_the_tuple_forms_flops_and_agree(case):
    L, ws, b, want = CASES[case]()
    separate, joint = [ed.grad(L, w) for w in ws], list(ed.grad(L, ws))
    assert _flops(separate) == _flops(joint)
    assert ed.compile(separate).program.outputs == ed.compile(joint).program.outputs
    for got, expected in zip(ed.compile(separate)(b), want, strict=True):
        _close(got, expected)


def test_the_mlp_shares_what_separate_sweeps_recompute():
    L, ws, _, _ = _mlp()
    separate = [ed.grad(L, w) for w in ws]
    assert _flops(separate) < _flops(separate, WITHOUT)  # the pass is what makes them equal
    assert _flops(separate, WITHOUT) == _flops([ed.grad(L, w) for w in ws], ())  # and switches off


def test_a_derivative_prints_as_derived_and_compiles_alone_as_before():
    L, ws, _, _ = _mlp()
    printed = [str(ed.grad(L, w)) for w in ws]
    assert str(ed.grad(L, ws[0])) != str(ed.grad(L, ws)[0])  # the joint sweep materializes an adjoint
    ed.compile([ed.grad(L, w) for w in ws])
    assert [str(ed.grad(L, w)) for w in ws] == printed
    for w in ws:
        assert _flops([ed.grad(L, w)]) == _flops([ed.grad(L, w)], WITHOUT)


def test_derivatives_inside_larger_expressions_and_mixed_with_the_tuple_form_share():
    L, (W1, W2, W3), b, want = _mlp()
    outputs = [ed.tanh(ed.grad(L, W1)), ed.grad(L, (W2, W3))[0], ed.grad(L, W3)]
    joint = ed.grad(L, (W1, W2, W3))
    assert _flops(outputs) == _flops([ed.tanh(joint[0]), *joint[1:]])
    got = ed.compile(outputs)(b)
    for g, w, fn in zip(got, want, (np.tanh, None, None), strict=True):
        _close(g, w if fn is None else fn(w))


def test_gradients_of_different_functions_stay_apart():
    L, ws, b, want = _mlp()
    M = ed.sum(ed.tanh(ws[0]) * ws[1])
    outputs = [ed.grad(L, ws[0]), ed.grad(M, ws[1]), ed.grad(M, ws[0])]
    got = ed.compile(outputs)(b)
    _close(got[0], want[0])
    t = np.tanh(b["W1"])
    _close(got[1], t)
    _close(got[2], (1 - t * t) * b["W2"])


def test_jacobians_of_one_function_share_as_its_gradients():
    L, ws, b, want = _logistic()
    separate = [ed.jacobian(L, w) for w in ws]
    assert _flops(separate) == _flops(ed.jacobian(L, ws))
    for got, expected in zip(ed.compile(separate)(b), want, strict=True):
        _close(got, expected)
    x, A, B = ed.var("x", (6,)), ed.var("A", (4, 6)), ed.var("B", (3, 4))
    f = B @ ed.tanh(A @ x)  # a vector: its reverse sweep materializes nothing, the forms are one
    bf = dict(x=rng.normal(size=6), A=rng.normal(size=(4, 6)), B=rng.normal(size=(3, 4)))
    separate = [ed.jacobian(f, v, mode="reverse") for v in (A, B)]
    assert _flops(separate) == _flops(ed.jacobian(f, (A, B), mode="reverse"))
    for got, v in zip(ed.compile(separate)(bf), (A, B), strict=True):
        _close(got, finite_difference_jacobian(f, v, bf))


def test_hvps_of_one_function_share_its_sweep():
    L, ws, b, _ = _mlp()
    vs = [rng.normal(size=w.shape) for w in ws]
    separate = [ed.hvp(L, w, v) for w, v in zip(ws, vs, strict=True)]
    joint = [ed.jvp(g, w, v) for g, w, v in zip(ed.grad(L, ws), ws, vs, strict=True)]
    assert _flops(separate) == _flops(joint) < _flops(separate, WITHOUT)
    got = ed.compile(separate)(b)
    for w, v, h in zip(ws, vs, got, strict=True):
        H = finite_difference_jacobian(ed.grad(L, w), w, b).reshape(w.size, w.size)
        _close(h, (H @ v.ravel()).reshape(w.shape))


def test_hvps_and_gradients_of_one_function_share_one_sweep():
    L, (W1, W2, W3), b, want = _mlp()
    v = rng.normal(size=W2.shape)
    outputs = [ed.grad(L, W1), ed.hvp(L, W2, v)]
    g1, g2 = ed.grad(L, (W1, W2))
    assert _flops(outputs) == _flops([g1, ed.jvp(g2, W2, v)])
    _close(ed.compile(outputs)(b)[0], want[0])


def test_derivation_and_compilation_are_deterministic():
    L, ws, _, _ = _mlp()
    first = [str(g) for g in ed.compile([ed.grad(L, w) for w in ws]).program.outputs]
    second = [str(g) for g in ed.compile([ed.grad(L, w) for w in ws]).program.outputs]
    assert first == second == [str(g) for g in ed.grad(L, ws)]


def _in_threads(work, n=8) -> list:
    results, errors = [None] * n, []

    def run(k):
        try:
            results[k] = work(k)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    return results


def test_gradients_derived_concurrently_share():
    L, ws, b, want = _mlp()

    def work(k):
        grads = {w: ed.grad(L, w) for w in (ws if k % 2 else ws[::-1])}
        return [grads[w] for w in ws]

    results = _in_threads(work)
    for separate in results:
        assert _flops(separate) == _flops(ed.grad(L, ws))
    for got, expected in zip(ed.compile(results[3])(b), want, strict=True):
        _close(got, expected)


def test_the_record_stays_bounded_under_concurrent_derivation(monkeypatch):
    monkeypatch.setattr(derive, "_ORIGINS_KEPT", 8)
    L, ws, b, want = _mlp()

    def work(k):
        for j in range(5):
            ed.grad(ed.sum(ed.tanh(ws[0]) * (k + j + 1)), ws[0])  # others' derivatives, evicting
        return [ed.grad(L, w) for w in ws]

    results = _in_threads(work)
    assert len(derive._ORIGINS) <= 8
    separate = results[3]  # shared or, where evicted, as written: the same values
    assert _flops(separate) <= _flops(separate, WITHOUT)
    for got, expected in zip(ed.compile(separate)(b), want, strict=True):
        _close(got, expected)


def test_a_forgotten_origin_compiles_as_written(monkeypatch):
    monkeypatch.setattr(derive, "_ORIGINS_KEPT", 2)
    L, ws, b, want = _mlp()
    expected_flops = _flops([ed.grad(L, ws[0])] + list(ed.grad(L, ws[1:])), WITHOUT)
    separate = [ed.grad(L, w) for w in ws]  # the record keeps the last two origins
    assert _flops(separate) == expected_flops
    for got, expected in zip(ed.compile(separate)(b), want, strict=True):
        _close(got, expected)
