"""Models written in plain NumPy run unchanged on expressions (``ed.symbolic``): each gives the
value numpy computes, and its gradient and Hessian match central finite differences of the same
NumPy function on arrays, as built and as compiled."""

import numpy as np
import pytest

import einsdiff as ed

RNG = np.random.default_rng(16)


# -- the models, as a NumPy user writes them ---------------------------------------------------
def least_squares(w, X, y):
    return np.sum((X @ w - y) ** 2)


def ridge(w, X, y):
    r = np.dot(X, w) - y
    return r @ r / len(y) + 0.1 * np.linalg.norm(w) ** 2


def logistic(w, X, y):
    return np.mean(np.logaddexp(0.0, -y * (X @ w))) + 1e-2 * np.sum(np.square(w))


def softmax_cross_entropy(W, X, Y):
    z = X @ W
    z = z - z.max(axis=1, keepdims=True)  # the stable-softmax trick
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * log_p) / X.shape[0]


def mlp(W1, b1, W2, X, Y):
    hidden = np.tanh(X @ W1 + b1)
    return 0.5 * np.mean((hidden @ W2 - Y) ** 2)


def gaussian_nll(mu, S, x):
    m, n = x.shape
    sign, logdet = np.linalg.slogdet(S)
    d = x - mu
    quad = np.sum(d * np.linalg.solve(S, d.T).T)
    return 0.5 * (m * logdet + quad + m * n * np.log(2 * np.pi))


def sliced(theta, X, Y):
    W = theta[:6].reshape(2, 3)
    b = theta[6:]
    pred = np.tanh(X @ W.T + b)
    penalty = np.concatenate([theta[:2], 2.0 * theta[-3:]])
    return np.sum((pred - Y) ** 2) + 0.5 * np.sum(penalty**2)


def _spd(n):
    a = RNG.normal(size=(n, n))
    return a @ a.T / n + np.eye(n)


def _onehot(rows, k):
    return np.eye(k)[RNG.integers(0, k, rows)]


# (id, the function, its variables' values, its constants)
MODELS = [
    ("least-squares", least_squares, {"w": RNG.normal(size=3)}, {"X": RNG.normal(size=(5, 3)), "y": RNG.normal(size=5)}),
    ("ridge", ridge, {"w": RNG.normal(size=4)}, {"X": RNG.normal(size=(6, 4)), "y": RNG.normal(size=6)}),
    ("logistic-logaddexp", logistic, {"w": RNG.normal(size=3)},
     {"X": RNG.normal(size=(8, 3)), "y": RNG.choice([-1.0, 1.0], 8)}),
    ("softmax-max-trick", softmax_cross_entropy, {"W": RNG.normal(size=(3, 4))},
     {"X": RNG.normal(size=(5, 3)), "Y": _onehot(5, 4)}),
    ("mlp-tanh", mlp, {"W1": 0.5 * RNG.normal(size=(3, 4)), "b1": 0.1 * RNG.normal(size=4), "W2": RNG.normal(size=(4, 2))},
     {"X": RNG.normal(size=(6, 3)), "Y": RNG.normal(size=(6, 2))}),
    ("gaussian-nll", gaussian_nll, {"mu": RNG.normal(size=3), "S": _spd(3)}, {"x": RNG.normal(size=(4, 3))}),
    ("slicing-concatenate", sliced, {"theta": 0.5 * RNG.normal(size=8)},
     {"X": RNG.normal(size=(4, 3)), "Y": RNG.normal(size=(4, 2))}),
]
IDS = [m[0] for m in MODELS]


def _numeric(fn, values, constants):
    """The model as a function of one flat parameter vector, on arrays."""
    names = list(values)
    sizes = [values[n].size for n in names]

    def f(flat):
        parts = np.split(flat, np.cumsum(sizes)[:-1])
        return float(fn(**{n: p.reshape(values[n].shape) for n, p in zip(names, parts, strict=True)}, **constants))

    return f, np.concatenate([values[n].ravel() for n in names])


def _fd_gradient(f, x, h=1e-6):
    e = np.eye(x.size)
    return np.array([(f(x + h * e[k]) - f(x - h * e[k])) / (2 * h) for k in range(x.size)])


def _fd_hessian(f, x, h=1e-4):
    n, e = x.size, np.eye(x.size) * h
    H = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            H[i, j] = H[j, i] = (f(x + e[i] + e[j]) - f(x + e[i] - e[j]) - f(x - e[i] + e[j]) + f(x - e[i] - e[j])) / (4 * h * h)
    return H


def _close(got, want, rtol, what):
    scale = max(1.0, float(np.max(np.abs(want))))
    err = float(np.max(np.abs(got - want)))
    assert err <= rtol * scale, f"{what}: max error {err:.3g} (scale {scale:.3g})"


@pytest.fixture(params=MODELS, ids=IDS)
def model(request):
    name, fn, values, constants = request.param
    variables = {n: ed.var(n, v.shape) for n, v in values.items()}
    loss = ed.symbolic(fn, **variables, **constants)
    return name, fn, values, constants, variables, loss


def test_value_is_numpys(model):
    _, fn, values, constants, _, loss = model
    assert loss.shape == ()
    np.testing.assert_allclose(ed.evaluate(loss, values), fn(**values, **constants), rtol=1e-12)


def test_gradient_matches_finite_differences(model):
    name, fn, values, constants, variables, loss = model
    f, x = _numeric(fn, values, constants)
    grads = [ed.grad(loss, v) for v in variables.values()]
    got = np.concatenate([ed.evaluate(g, values).ravel() for g in grads])
    _close(got, _fd_gradient(f, x), 1e-6, f"{name} gradient")
    compiled = ed.compile(grads)(values)
    np.testing.assert_allclose(np.concatenate([c.ravel() for c in compiled]), got, rtol=1e-10, atol=1e-12)


def test_hessian_matches_finite_differences(model):
    name, fn, values, constants, variables, loss = model
    f, x = _numeric(fn, values, constants)
    vs = list(variables.values())
    rows = []
    for v in vs:  # the Hessian block by block: d/dv' of the gradient by v
        g = ed.grad(loss, v)
        rows.append(np.concatenate([ed.evaluate(ed.jacobian(g, u), values).reshape(v.size, u.size) for u in vs], axis=1))
    got = np.concatenate(rows, axis=0)
    _close(got, _fd_hessian(f, x), 1e-5, f"{name} Hessian")
    np.testing.assert_allclose(got, got.T, atol=1e-10)
    first = vs[0]
    hessian = ed.compile([ed.hessian(loss, first)])(values)[0].reshape(first.size, first.size)
    np.testing.assert_allclose(hessian, got[: first.size, : first.size], rtol=1e-10, atol=1e-12)


def test_numpy_code_plans_what_the_ed_form_plans():
    """The logistic loss from NumPy code and from ed.* builders compile to the same flops."""
    X, y = MODELS[2][3]["X"], MODELS[2][3]["y"]
    w = ed.var("w", (3,))
    from_numpy = ed.symbolic(logistic, w=w, X=X, y=y)
    by_hand = ed.sum(ed.softplus(-y * ed.matmul(X, w))) / len(y) + 1e-2 * ed.sum(w * w)
    for derive in (ed.grad, ed.hessian):
        a, b = ed.compile([derive(from_numpy, w)]), ed.compile([derive(by_hand, w)])
        assert a.plan.total_flops == b.plan.total_flops
        np.testing.assert_allclose(a({"w": np.ones(3)})[0], b({"w": np.ones(3)})[0], rtol=1e-12)


def test_numpy_code_prints_in_matrix_notation():
    w = ed.var("w", (3,))
    loss = ed.symbolic(least_squares, w=w, X=ed.var("X", (5, 3)), y=ed.var("y", (5,)))
    assert ed.to_matrix_notation(ed.grad(loss, w)) == "f = 2 Xᵀ (X w − y)"


def _nodes(e):
    from einsdiff.ir.variables import topological

    return topological([e])


def test_the_max_shift_of_a_stable_softmax_cancels_from_the_derivatives():
    """log Σ exp(z − max z) is logsumexp(z) − max z, so the gradient of the max-shifted cross
    entropy is the textbook Xᵀ(softmax(XW) − Y)/n, with no max left in it, and stays finite
    where exp(z) would overflow."""
    W, X, Y = ed.var("W", (3, 4)), ed.var("X", (5, 3)), ed.var("Y", (5, 4))
    g = ed.grad(softmax_cross_entropy(W, X, Y), W)
    assert not any(getattr(node, "fn", None) == "max" for node in _nodes(g))
    x0, w0, y0 = 300 * RNG.normal(size=(5, 3)), RNG.normal(size=(3, 4)), _onehot(5, 4)
    z = x0 @ w0
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    got = ed.evaluate(g, W=w0, X=x0, Y=y0)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, x0.T @ (p - y0) / 5, rtol=1e-10, atol=1e-10)


def test_log_sum_exp_without_a_shift_stays_as_written():
    x = ed.var("x", (4,))
    assert str(np.log(np.sum(np.exp(x)))) == "f = log(Σ[i](exp(x[i])))"
    shifted = np.log(np.sum(np.exp(x - np.array(2.0))))
    assert "logsumexp" in str(shifted)
    np.testing.assert_allclose(ed.evaluate(shifted, x=np.arange(4.0)), np.log(np.sum(np.exp(np.arange(4.0) - 2))))


def test_logsumexp_of_a_shifted_argument_moves_the_shift_out():
    """logsumexp(v + b) = logsumexp(v) + b for b constant along the reduced axis; so
    logsumexp(log_softmax(x)) is exactly 0."""
    X = ed.var("X", (2, 3))
    assert ed.simplify(ed.logsumexp(ed.log_softmax(X, axis=1), axis=1)).terms == ()
    c = ed.var("c", (2,))
    e = ed.logsumexp(X + c[:, None], axis=1)
    x0, c0 = RNG.normal(size=(2, 3)), RNG.normal(size=2)
    want = np.log(np.sum(np.exp(x0 + c0[:, None]), axis=1))
    np.testing.assert_allclose(ed.evaluate(e, X=x0, c=c0), want, rtol=1e-13)
    np.testing.assert_allclose(ed.evaluate(ed.grad(e.sum(), c), X=x0, c=c0), np.ones(2), rtol=1e-13)
