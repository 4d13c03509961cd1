"""The benchmark tasks, each written once for every system.

A task is its inputs, a hand-written NumPy closed form, and one function ``fn(ns, ...)``
of the variables it differentiates (then the constants), written against a namespace
``ns`` of elementwise functions, so the same source runs on einsdiff, JAX, PyTorch and
autograd. ``kind`` says which derivative: "jacobian", "hessian" or "grad".
Builders do their one-time work (deriving, compiling, tracing) on the first call, so
the first call measures it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import numpy as np


@dataclass
class Task:
    name: str
    title: str
    inputs: Callable[[np.random.Generator], dict]
    closed_form: Callable[[dict], list]
    fn: Callable
    kind: str  # "jacobian" | "hessian" | "grad"
    wrt: tuple[str, ...]
    forward: bool = False  # peers use forward-mode jacobians (narrow input, wide output)
    dense_output: bool = False  # the peak-memory target applies

    def builders(self, passes=None) -> dict[str, Callable[[dict], Callable[[], list]]]:
        """Each system's builder; ``passes`` (None: all) are einsdiff's compile-time passes."""
        return {"numpy": lambda d: lambda: self.closed_form(d),
                "einsdiff": lambda d: self._einsdiff(d, passes=passes),
                "einsdiff-jax": lambda d: self._einsdiff(d, backend="jax", passes=passes),
                "jax": self._jax, "torch": self._torch, "autograd": self._autograd}

    def _split(self, d):
        return [d[k] for k in self.wrt], {k: v for k, v in d.items() if k not in self.wrt}

    def _einsdiff(self, d, backend="numpy", passes=None):
        def build():
            import einsdiff as ed
            ns = SimpleNamespace(tanh=ed.tanh, sin=ed.sin, exp=ed.exp, log=ed.log, relu=ed.relu,
                                 logdet=ed.logdet, solve=ed.solve, trace=ed.trace, logsumexp=ed.logsumexp)
            v = {k: ed.var(k, np.shape(a)) for k, a in d.items()}
            f = self.fn(ns, *(v[k] for k in self.wrt), **{k: x for k, x in v.items() if k not in self.wrt})
            ws = tuple(v[k] for k in self.wrt)
            outs = {"jacobian": lambda: [ed.jacobian(f, w) for w in ws],
                    "hessian": lambda: [ed.hessian(f, w) for w in ws],
                    "grad": lambda: list(ed.grad(f, ws))}[self.kind]()
            compiled = ed.compile(outs, backend=backend, passes=passes)
            if backend == "jax":  # as the JAX peer: inputs on the device once, results back as numpy
                import jax
                jax.config.update("jax_enable_x64", True)
                on_device = {k: jax.numpy.asarray(a) for k, a in d.items()}

                def run():
                    return [np.asarray(r) for r in jax.block_until_ready(compiled(**on_device))]
            else:
                def run():
                    return compiled(**d)

            run.compiled = compiled
            return run
        return _lazy(build)

    def _jax(self, d):
        def build():
            import jax
            jax.config.update("jax_enable_x64", True)
            jnp = jax.numpy
            ns = SimpleNamespace(tanh=jnp.tanh, sin=jnp.sin, exp=jnp.exp, log=jnp.log, relu=jax.nn.relu,
                                 logdet=lambda m: jnp.linalg.slogdet(m)[1], solve=jnp.linalg.solve,
                                 trace=jnp.trace, logsumexp=jax.scipy.special.logsumexp)
            ws, consts = self._split(d)
            consts = {k: jnp.asarray(a) for k, a in consts.items()}
            argnums = tuple(range(len(ws))) if len(ws) > 1 else 0
            transform = {"jacobian": jax.jacfwd if self.forward else jax.jacrev, "hessian": jax.hessian,
                         "grad": jax.grad}[self.kind]
            f = jax.jit(transform(lambda *w: self.fn(ns, *w, **consts), argnums=argnums))
            args = [jnp.asarray(a) for a in ws]
            return lambda: [np.asarray(r) for r in _leaves(jax.block_until_ready(f(*args)))]
        return _lazy(build)

    def _torch(self, d):
        def build():
            import torch
            torch.set_num_threads(2)
            ns = SimpleNamespace(tanh=torch.tanh, sin=torch.sin, exp=torch.exp, log=torch.log, relu=torch.relu,
                                 logdet=torch.logdet, solve=torch.linalg.solve, trace=torch.trace,
                                 logsumexp=lambda z: torch.logsumexp(z, dim=tuple(range(z.ndim))))
            ws, consts = self._split(d)
            consts = {k: torch.from_numpy(np.asarray(a)) for k, a in consts.items()}
            argnums = tuple(range(len(ws))) if len(ws) > 1 else 0
            fx = torch.func
            transform = {"jacobian": fx.jacfwd if self.forward else fx.jacrev, "hessian": fx.hessian,
                         "grad": fx.grad}[self.kind]
            f = transform(lambda *w: self.fn(ns, *w, **consts), argnums=argnums)
            args = [torch.from_numpy(np.asarray(a)) for a in ws]
            return lambda: [r.numpy() for r in _leaves(f(*args))]
        return _lazy(build)

    def _autograd(self, d):
        def build():
            import autograd
            import autograd.numpy as anp
            import autograd.scipy.special as asp
            ns = SimpleNamespace(tanh=anp.tanh, sin=anp.sin, exp=anp.exp, log=anp.log,
                                 relu=lambda z: anp.maximum(z, 0), logdet=lambda m: anp.linalg.slogdet(m)[1],
                                 solve=anp.linalg.solve, trace=anp.trace, logsumexp=asp.logsumexp)
            ws, consts = self._split(d)
            argnum = tuple(range(len(ws)))
            transform = {"jacobian": autograd.jacobian, "hessian": autograd.hessian, "grad": autograd.grad}[self.kind]
            f = transform(lambda *w: self.fn(ns, *w, **consts), argnum=argnum if len(ws) > 1 else 0)
            return lambda: [np.asarray(r) for r in _leaves(f(*ws))]
        return _lazy(build)


def _leaves(result) -> list:
    """The arrays of a result that may be nested tuples (one per argument)."""
    if isinstance(result, tuple | list):
        return [leaf for r in result for leaf in _leaves(r)]
    return [result]


def _lazy(build):
    """Run ``build`` on the first call, then the function it returns."""
    state = {}

    def call():
        if "fn" not in state:
            state["fn"] = build()
        return state["fn"]()

    call.state = state  # after the first call: state["fn"], which may carry .compiled
    return call


def _diagonal_fill(out_shape, view_subscripts, values):
    out = np.zeros(out_shape)
    np.einsum(view_subscripts, out)[...] = values
    return out


def _t2(d):
    X, y, w, b = d["X"], d["y"], d["w"], d["b"]
    z = X @ w + b
    g = (2.0 / len(y)) * (np.maximum(z, 0) - y) * (z > 0)
    return [g @ X, np.array(g.sum())]


def _t4(d):
    X, y, w = d["X"], d["y"], d["w"]
    s = 1 / (1 + np.exp(-y * (X @ w)))
    return [(X * (s * (1 - s) * y * y)[:, None]).T @ X]


def _t6(d):
    W, x, b = d["W"], d["x"], d["b"]
    s = 1 - np.tanh(W @ x + b) ** 2
    return [_diagonal_fill((W.shape[0],) + W.shape, "iij->ij", s[:, None] * x[None, :])]


def _t7(d):
    X, Y, W1, W2, W3 = (d[k] for k in ("X", "Y", "W1", "W2", "W3"))
    h1 = np.tanh(X @ W1)
    h2 = np.tanh(h1 @ W2)
    g3 = (2.0 / len(X)) * (h2 @ W3 - Y)
    d2 = (g3 @ W3.T) * (1 - h2 * h2)
    d1 = (d2 @ W2.T) * (1 - h1 * h1)
    return [X.T @ d1, h1.T @ d2, h2.T @ g3]


def _t8(d):
    h, J = d["x"], np.eye(len(d["x"]))
    for k in range(6):
        z = d[f"W{k}"] @ h
        J = np.cos(z)[:, None] * (d[f"W{k}"] @ J)
        h = np.sin(z)
    return [J]


def _spd(r, n):
    m = r.normal(size=(n, n))
    return m @ m.T / n + np.eye(n)


def _t9(d):
    inv = np.linalg.inv(d["S"])
    return [inv.T - (inv @ d["C"] @ inv).T]


def _t10(d):
    A = d["A"]
    z = A @ d["x"]
    p = np.exp(z - z.max())
    p /= p.sum()
    ap = A.T @ p
    return [(A * p[:, None]).T @ A - np.outer(ap, ap)]


def _t8_fn(ns, x, **Ws):
    for k in range(6):
        x = ns.sin(Ws[f"W{k}"] @ x)
    return x


_TASKS = [
    Task("T1", "Jacobian of A@W+B wrt W, A (64,48), W (48,32)",
         lambda r: dict(A=r.normal(size=(64, 48)), W=r.normal(size=(48, 32)), B=r.normal(size=32)),
         lambda d: [_diagonal_fill((64, 32, 48, 32), "ijkj->ijk", d["A"][:, None, :])],
         lambda ns, W, A, B: A @ W + B, "jacobian", ("W",), forward=True, dense_output=True),
    Task("T2", "grad wrt w, b of mean((y - relu(Xw + b))^2), X (100000,100)",
         lambda r: dict(X=r.normal(size=(100000, 100)), y=r.normal(size=100000), w=r.normal(size=100) / 10,
                        b=np.array(0.1)),
         _t2, lambda ns, w, b, X, y: ((y - ns.relu(X @ w + b)) ** 2).sum() / y.shape[0], "grad", ("w", "b")),
    Task("T3", "Hessian wrt x of x^T A x, n = 2000",
         lambda r: dict(A=r.normal(size=(2000, 2000)), x=r.normal(size=2000)),
         lambda d: [d["A"] + d["A"].T], lambda ns, x, A: x @ A @ x, "hessian", ("x",), dense_output=True),
    Task("T4", "Hessian wrt w of sum log(1 + exp(-y * (X @ w))), X (5000,500)",
         lambda r: dict(X=r.normal(size=(5000, 500)) / 10, y=np.sign(r.normal(size=5000)), w=r.normal(size=500) / 10),
         _t4, lambda ns, w, X, y: ns.log(1 + ns.exp(-y * (X @ w))).sum(), "hessian", ("w",)),
    Task("T5", "Hessian wrt U of ||U V^T - Y||_F^2, U (100,20), V (200,20)",
         lambda r: dict(U=r.normal(size=(100, 20)), V=r.normal(size=(200, 20)), Y=r.normal(size=(100, 200))),
         lambda d: [_diagonal_fill((100, 20, 100, 20), "ajal->ajl", 2 * (d["V"].T @ d["V"]))],
         lambda ns, U, V, Y: ((U @ V.T - Y) ** 2).sum(), "hessian", ("U",), dense_output=True),
    Task("T6", "Jacobian wrt W of tanh(W @ x + b), W (300,400)",
         lambda r: dict(W=r.normal(size=(300, 400)) / 20, x=r.normal(size=400), b=r.normal(size=300)),
         _t6, lambda ns, W, x, b: ns.tanh(W @ x + b), "jacobian", ("W",), dense_output=True),
    Task("T7", "grad wrt W1, W2, W3 of ||tanh(tanh(X W1) W2) W3 - Y||^2 / N, batch 1024, width 256",
         lambda r: dict(X=r.normal(size=(1024, 256)), Y=r.normal(size=(1024, 256)),
                        W1=r.normal(size=(256, 256)) / 16, W2=r.normal(size=(256, 256)) / 16,
                        W3=r.normal(size=(256, 256)) / 16),
         _t7, lambda ns, W1, W2, W3, X, Y: ((ns.tanh(ns.tanh(X @ W1) @ W2) @ W3 - Y) ** 2).sum() / X.shape[0],
         "grad", ("W1", "W2", "W3")),
    Task("T8", "Jacobian wrt x of 6 (512x512 matmul, sin) layers, x (512,)",
         lambda r: dict(x=r.normal(size=512), **{f"W{k}": r.normal(size=(512, 512)) / 23 for k in range(6)}),
         _t8, _t8_fn, "jacobian", ("x",), dense_output=True),
]
_TASKS += [
    Task("T9", "grad wrt S of log det S + tr(S^-1 C) (Gaussian NLL), S, C (400,400) SPD",
         lambda r: dict(S=_spd(r, 400), C=_spd(r, 400)),
         _t9, lambda ns, S, C: ns.logdet(S) + ns.trace(ns.solve(S, C)), "grad", ("S",)),
    Task("T10", "Hessian wrt x of logsumexp(A x), A (2000,300)",
         lambda r: dict(A=r.normal(size=(2000, 300)) / 10, x=r.normal(size=300)),
         _t10, lambda ns, x, A: ns.logsumexp(A @ x), "hessian", ("x",), dense_output=True),
    Task("T11", "Hessian wrt S of log det S, S (40,40) SPD",
         lambda r: dict(S=_spd(r, 40)),
         lambda d: [-np.einsum("jk,li->ijkl", *(2 * [np.linalg.inv(d["S"])]))],
         lambda ns, S: ns.logdet(S), "hessian", ("S",), dense_output=True),
]
TASKS: dict[str, Task] = {t.name: t for t in _TASKS}
