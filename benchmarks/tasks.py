"""The eight benchmark tasks, each written once per system.

Every builder takes the inputs (a dict of float64 numpy arrays) and returns a
callable of no arguments that computes the task's results as a list of arrays.
Builders do all their one-time work (deriving, compiling, tracing) lazily, on the
first call, so that the first call measures it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class Task:
    name: str
    title: str
    inputs: Callable[[np.random.Generator], dict]
    builders: dict[str, Callable[[dict], Callable[[], list]]] = field(default_factory=dict)
    dense_output: bool = False  # peak-memory target applies

    def system(self, name):
        def register(fn):
            self.builders[name] = fn
            return fn

        return register


TASKS: dict[str, Task] = {}


def task(key, title, inputs, dense_output=False):
    t = Task(key, title, inputs, dense_output=dense_output)
    TASKS[key] = t
    return t


def _torch():
    import torch

    torch.set_num_threads(2)
    return torch


def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def _runner(compiled, d):
    """Call an einsdiff compiled function on the task's inputs; keep it reachable for profiling."""
    def run():
        return compiled(**d)

    run.compiled = compiled
    return run


def _lazy(build):
    """Run ``build`` on the first call, then the function it returns."""
    state = {}

    def call():
        if "fn" not in state:
            state["fn"] = build()
        return state["fn"]()

    call.state = state  # after the first call: state["fn"], which may carry .compiled
    return call


# --- T1: full Jacobian of Z = A @ W + B wrt W ---------------------------------------------------
t1 = task("T1", "Jacobian of A@W+B wrt W, A (64,48), W (48,32)",
          lambda r: dict(A=r.normal(size=(64, 48)), W=r.normal(size=(48, 32)), B=r.normal(size=32)),
          dense_output=True)


@t1.system("numpy")
def _(d):
    def run():
        A = d["A"]
        n, m = A.shape[0], d["W"].shape[1]
        J = np.zeros((n, m) + d["W"].shape)
        np.einsum("ijkj->ijk", J)[...] = A[:, None, :]
        return [J]
    return run


@t1.system("einsdiff")
def _(d):
    def build():
        import einsdiff as ed
        A, W, B = (ed.var(k, d[k].shape) for k in "AWB")
        fn = ed.compile([ed.jacobian(A @ W + B, W)])
        return _runner(fn, d)
    return _lazy(build)


@t1.system("jax")
def _(d):
    def build():
        jax = _jax()
        A, B = jax.numpy.asarray(d["A"]), jax.numpy.asarray(d["B"])
        f = jax.jit(jax.jacfwd(lambda W: A @ W + B))
        W = jax.numpy.asarray(d["W"])
        return lambda: [np.asarray(f(W).block_until_ready())]
    return _lazy(build)


@t1.system("torch")
def _(d):
    def build():
        torch = _torch()
        A, B, W = (torch.from_numpy(d[k]) for k in "ABW")
        f = torch.func.jacfwd(lambda W: A @ W + B)
        return lambda: [f(W).numpy()]
    return _lazy(build)


@t1.system("autograd")
def _(d):
    def build():
        import autograd
        A, B = d["A"], d["B"]
        f = autograd.jacobian(lambda W: A @ W + B)
        return lambda: [f(d["W"])]
    return _lazy(build)


# --- T2: gradient of mean((y - relu(X @ w + b))^2) wrt w, b -----------------------------------
t2 = task("T2", "grad wrt w, b of mean((y - relu(Xw + b))^2), X (100000,100)",
          lambda r: dict(X=r.normal(size=(100000, 100)), y=r.normal(size=100000), w=r.normal(size=100) / 10,
                         b=np.array(0.1)))


@t2.system("numpy")
def _(d):
    def run():
        X, y, w, b = d["X"], d["y"], d["w"], d["b"]
        z = X @ w + b
        g = (2.0 / len(y)) * (np.maximum(z, 0) - y) * (z > 0)
        return [g @ X, np.array(g.sum())]
    return run


@t2.system("einsdiff")
def _(d):
    def build():
        import einsdiff as ed
        X, y, w, b = (ed.var(k, d[k].shape) for k in ("X", "y", "w", "b"))
        loss = ((y - ed.relu(X @ w + b)) ** 2).sum() / d["y"].size
        fn = ed.compile(list(ed.grad(loss, (w, b))))
        return _runner(fn, d)
    return _lazy(build)


def _t2_loss(xp, relu):
    return lambda w, b, X, y: xp.mean((y - relu(X @ w + b)) ** 2)


@t2.system("jax")
def _(d):
    def build():
        jax = _jax()
        jnp = jax.numpy
        f = jax.jit(jax.grad(_t2_loss(jnp, jax.nn.relu), argnums=(0, 1)))
        args = [jnp.asarray(d[k]) for k in ("w", "b", "X", "y")]
        return lambda: [np.asarray(g) for g in jax.block_until_ready(f(*args))]
    return _lazy(build)


@t2.system("torch")
def _(d):
    def build():
        torch = _torch()
        f = torch.func.grad(_t2_loss(torch, torch.relu), argnums=(0, 1))
        args = [torch.from_numpy(np.asarray(d[k])) for k in ("w", "b", "X", "y")]
        return lambda: [g.numpy() for g in f(*args)]
    return _lazy(build)


@t2.system("autograd")
def _(d):
    def build():
        import autograd
        import autograd.numpy as anp
        f = autograd.grad(_t2_loss(anp, lambda z: anp.maximum(z, 0)), argnum=(0, 1))
        return lambda: [np.asarray(g) for g in f(d["w"], d["b"], d["X"], d["y"])]
    return _lazy(build)


# --- T3: Hessian of x^T A x, n = 2000 -----------------------------------------------------------
t3 = task("T3", "Hessian wrt x of x^T A x, n = 2000",
          lambda r: dict(A=r.normal(size=(2000, 2000)), x=r.normal(size=2000)), dense_output=True)


@t3.system("numpy")
def _(d):
    return lambda: [d["A"] + d["A"].T]


@t3.system("einsdiff")
def _(d):
    def build():
        import einsdiff as ed
        A, x = ed.var("A", d["A"].shape), ed.var("x", d["x"].shape)
        fn = ed.compile([ed.hessian(ed.einsum("i,ij,j->", x, A, x), x)])
        return _runner(fn, d)
    return _lazy(build)


@t3.system("jax")
def _(d):
    def build():
        jax = _jax()
        A = jax.numpy.asarray(d["A"])
        f = jax.jit(jax.hessian(lambda x: x @ A @ x))
        x = jax.numpy.asarray(d["x"])
        return lambda: [np.asarray(f(x).block_until_ready())]
    return _lazy(build)


@t3.system("torch")
def _(d):
    def build():
        torch = _torch()
        A, x = torch.from_numpy(d["A"]), torch.from_numpy(d["x"])
        f = torch.func.hessian(lambda x: x @ A @ x)
        return lambda: [f(x).numpy()]
    return _lazy(build)


@t3.system("autograd")
def _(d):
    def build():
        import autograd
        A = d["A"]
        f = autograd.hessian(lambda x: x @ A @ x)
        return lambda: [f(d["x"])]
    return _lazy(build)


# --- T4: Hessian of the logistic loss -----------------------------------------------------------
t4 = task("T4", "Hessian wrt w of sum log(1 + exp(-y * (X @ w))), X (5000,500)",
          lambda r: dict(X=r.normal(size=(5000, 500)) / 10, y=np.sign(r.normal(size=5000)), w=r.normal(size=500) / 10))


@t4.system("numpy")
def _(d):
    def run():
        X, y, w = d["X"], d["y"], d["w"]
        s = 1 / (1 + np.exp(-y * (X @ w)))
        return [(X * (s * (1 - s) * y * y)[:, None]).T @ X]
    return run


@t4.system("einsdiff")
def _(d):
    def build():
        import einsdiff as ed
        X, y, w = (ed.var(k, d[k].shape) for k in ("X", "y", "w"))
        loss = ed.log(1 + ed.exp(-y * (X @ w))).sum()
        fn = ed.compile([ed.hessian(loss, w)])
        return _runner(fn, d)
    return _lazy(build)


def _t4_loss(xp):
    return lambda w, X, y: xp.sum(xp.log(1 + xp.exp(-y * (X @ w))))


@t4.system("jax")
def _(d):
    def build():
        jax = _jax()
        X, y = jax.numpy.asarray(d["X"]), jax.numpy.asarray(d["y"])
        f = jax.jit(jax.hessian(lambda w: _t4_loss(jax.numpy)(w, X, y)))
        w = jax.numpy.asarray(d["w"])
        return lambda: [np.asarray(f(w).block_until_ready())]
    return _lazy(build)


@t4.system("torch")
def _(d):
    def build():
        torch = _torch()
        X, y, w = (torch.from_numpy(d[k]) for k in ("X", "y", "w"))
        f = torch.func.hessian(lambda w: _t4_loss(torch)(w, X, y))
        return lambda: [f(w).numpy()]
    return _lazy(build)


@t4.system("autograd")
def _(d):
    def build():
        import autograd
        import autograd.numpy as anp
        f = autograd.hessian(lambda w: _t4_loss(anp)(w, d["X"], d["y"]))
        return lambda: [f(d["w"])]
    return _lazy(build)


# --- T5: Hessian of ||U V^T - Y||_F^2 wrt U -----------------------------------------------------
t5 = task("T5", "Hessian wrt U of ||U V^T - Y||_F^2, U (100,20), V (200,20)",
          lambda r: dict(U=r.normal(size=(100, 20)), V=r.normal(size=(200, 20)), Y=r.normal(size=(100, 200))),
          dense_output=True)


@t5.system("numpy")
def _(d):
    def run():
        n, k = d["U"].shape
        H = np.zeros((n, k, n, k))
        np.einsum("ajal->ajl", H)[...] = 2 * (d["V"].T @ d["V"])
        return [H]
    return run


@t5.system("einsdiff")
def _(d):
    def build():
        import einsdiff as ed
        U, V, Y = (ed.var(k, d[k].shape) for k in "UVY")
        R = U @ V.T - Y
        fn = ed.compile([ed.hessian((R * R).sum(), U)])
        return _runner(fn, d)
    return _lazy(build)


def _t5_loss(xp):
    return lambda U, V, Y: xp.sum((U @ V.T - Y) ** 2)


@t5.system("jax")
def _(d):
    def build():
        jax = _jax()
        V, Y = jax.numpy.asarray(d["V"]), jax.numpy.asarray(d["Y"])
        f = jax.jit(jax.hessian(lambda U: _t5_loss(jax.numpy)(U, V, Y)))
        U = jax.numpy.asarray(d["U"])
        return lambda: [np.asarray(f(U).block_until_ready())]
    return _lazy(build)


@t5.system("torch")
def _(d):
    def build():
        torch = _torch()
        U, V, Y = (torch.from_numpy(d[k]) for k in "UVY")
        f = torch.func.hessian(lambda U: _t5_loss(torch)(U, V, Y))
        return lambda: [f(U).numpy()]
    return _lazy(build)


@t5.system("autograd")
def _(d):
    def build():
        import autograd
        import autograd.numpy as anp
        f = autograd.hessian(lambda U: _t5_loss(anp)(U, d["V"], d["Y"]))
        return lambda: [f(d["U"])]
    return _lazy(build)


# --- T6: Jacobian of tanh(W @ x + b) wrt W ------------------------------------------------------
t6 = task("T6", "Jacobian wrt W of tanh(W @ x + b), W (300,400)",
          lambda r: dict(W=r.normal(size=(300, 400)) / 20, x=r.normal(size=400), b=r.normal(size=300)),
          dense_output=True)


@t6.system("numpy")
def _(d):
    def run():
        W, x, b = d["W"], d["x"], d["b"]
        s = 1 - np.tanh(W @ x + b) ** 2
        J = np.zeros((W.shape[0],) + W.shape)
        np.einsum("iij->ij", J)[...] = s[:, None] * x[None, :]
        return [J]
    return run


@t6.system("einsdiff")
def _(d):
    def build():
        import einsdiff as ed
        W, x, b = (ed.var(k, d[k].shape) for k in "Wxb")
        fn = ed.compile([ed.jacobian(ed.tanh(W @ x + b), W)])
        return _runner(fn, d)
    return _lazy(build)


@t6.system("jax")
def _(d):
    def build():
        jax = _jax()
        x, b = jax.numpy.asarray(d["x"]), jax.numpy.asarray(d["b"])
        f = jax.jit(jax.jacrev(lambda W: jax.numpy.tanh(W @ x + b)))
        W = jax.numpy.asarray(d["W"])
        return lambda: [np.asarray(f(W).block_until_ready())]
    return _lazy(build)


@t6.system("torch")
def _(d):
    def build():
        torch = _torch()
        W, x, b = (torch.from_numpy(d[k]) for k in "Wxb")
        f = torch.func.jacrev(lambda W: torch.tanh(W @ x + b))
        return lambda: [f(W).numpy()]
    return _lazy(build)


@t6.system("autograd")
def _(d):
    def build():
        import autograd
        import autograd.numpy as anp
        f = autograd.jacobian(lambda W: anp.tanh(W @ d["x"] + d["b"]))
        return lambda: [f(d["W"])]
    return _lazy(build)


# --- T7: gradient of a 3-layer tanh MLP squared loss -------------------------------------------
t7 = task("T7", "grad wrt W1, W2, W3 of ||tanh(tanh(X W1) W2) W3 - Y||^2 / N, batch 1024, width 256",
          lambda r: dict(X=r.normal(size=(1024, 256)), Y=r.normal(size=(1024, 256)),
                         W1=r.normal(size=(256, 256)) / 16, W2=r.normal(size=(256, 256)) / 16,
                         W3=r.normal(size=(256, 256)) / 16))


@t7.system("numpy")
def _(d):
    def run():
        X, Y, W1, W2, W3 = (d[k] for k in ("X", "Y", "W1", "W2", "W3"))
        h1 = np.tanh(X @ W1)
        h2 = np.tanh(h1 @ W2)
        g3 = (2.0 / len(X)) * (h2 @ W3 - Y)
        d2 = (g3 @ W3.T) * (1 - h2 * h2)
        d1 = (d2 @ W2.T) * (1 - h1 * h1)
        return [X.T @ d1, h1.T @ d2, h2.T @ g3]
    return run


def _t7_loss(xp):
    return lambda W1, W2, W3, X, Y: xp.sum((xp.tanh(xp.tanh(X @ W1) @ W2) @ W3 - Y) ** 2) / X.shape[0]


@t7.system("einsdiff")
def _(d):
    def build():
        import einsdiff as ed
        X, Y, W1, W2, W3 = (ed.var(k, d[k].shape) for k in ("X", "Y", "W1", "W2", "W3"))
        R = ed.tanh(ed.tanh(X @ W1) @ W2) @ W3 - Y
        loss = (R * R).sum() / d["X"].shape[0]
        fn = ed.compile(list(ed.grad(loss, (W1, W2, W3))))
        return _runner(fn, d)
    return _lazy(build)


@t7.system("jax")
def _(d):
    def build():
        jax = _jax()
        f = jax.jit(jax.grad(_t7_loss(jax.numpy), argnums=(0, 1, 2)))
        args = [jax.numpy.asarray(d[k]) for k in ("W1", "W2", "W3", "X", "Y")]
        return lambda: [np.asarray(g) for g in jax.block_until_ready(f(*args))]
    return _lazy(build)


@t7.system("torch")
def _(d):
    def build():
        torch = _torch()
        f = torch.func.grad(_t7_loss(torch), argnums=(0, 1, 2))
        args = [torch.from_numpy(d[k]) for k in ("W1", "W2", "W3", "X", "Y")]
        return lambda: [g.numpy() for g in f(*args)]
    return _lazy(build)


@t7.system("autograd")
def _(d):
    def build():
        import autograd
        import autograd.numpy as anp
        f = autograd.grad(_t7_loss(anp), argnum=(0, 1, 2))
        return lambda: [np.asarray(g) for g in f(*(d[k] for k in ("W1", "W2", "W3", "X", "Y")))]
    return _lazy(build)


# --- T8: Jacobian of 6 alternating (matmul, sin) layers wrt x -------------------------------------
t8 = task("T8", "Jacobian wrt x of 6 (512x512 matmul, sin) layers, x (512,)",
          lambda r: dict(x=r.normal(size=512), **{f"W{k}": r.normal(size=(512, 512)) / 23 for k in range(6)}),
          dense_output=True)


@t8.system("numpy")
def _(d):
    def run():
        h, J = d["x"], np.eye(512)
        for k in range(6):
            z = d[f"W{k}"] @ h
            J = np.cos(z)[:, None] * (d[f"W{k}"] @ J)
            h = np.sin(z)
        return [J]
    return run


def _t8_net(xp, Ws):
    def f(x):
        for W in Ws:
            x = xp.sin(W @ x)
        return x
    return f


@t8.system("einsdiff")
def _(d):
    def build():
        import einsdiff as ed
        x = ed.var("x", (512,))
        Ws = [ed.var(f"W{k}", (512, 512)) for k in range(6)]
        fn = ed.compile([ed.jacobian(_t8_net(ed, Ws)(x), x)])
        return _runner(fn, d)
    return _lazy(build)


@t8.system("jax")
def _(d):
    def build():
        jax = _jax()
        Ws = [jax.numpy.asarray(d[f"W{k}"]) for k in range(6)]
        f = jax.jit(jax.jacrev(_t8_net(jax.numpy, Ws)))
        x = jax.numpy.asarray(d["x"])
        return lambda: [np.asarray(f(x).block_until_ready())]
    return _lazy(build)


@t8.system("torch")
def _(d):
    def build():
        torch = _torch()
        Ws = [torch.from_numpy(d[f"W{k}"]) for k in range(6)]
        f = torch.func.jacrev(_t8_net(torch, Ws))
        x = torch.from_numpy(d["x"])
        return lambda: [f(x).numpy()]
    return _lazy(build)


@t8.system("autograd")
def _(d):
    def build():
        import autograd
        import autograd.numpy as anp
        f = autograd.jacobian(_t8_net(anp, [d[f"W{k}"] for k in range(6)]))
        return lambda: [f(d["x"])]
    return _lazy(build)
