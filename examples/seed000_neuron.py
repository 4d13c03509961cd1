"""Follows seed 000: gradients of a relu neuron and of its mean-squared-error loss.

activation = relu(w.x + b); C = sum((y - relu(X w + b))^2) / N.
relu'(z) is taken as 0 for z <= 0, so the kink z = 0 is inactive.
Run: python examples/seed000_neuron.py
"""

import numpy as np

import einsdiff as ed

w, x, b = ed.var("w", (3,)), ed.var("x", (3,)), ed.var("b", ())
activation = ed.relu(w @ x + b)
print("activation:", activation)
print("  d/dw:", ed.grad(activation, w))
print("  d/db:", ed.grad(activation, b))
w_val, x_val = np.array([1.0, 0.5, 2.0]), np.array([2.0, -2.0, 1.5])  # w.x = 4
for bias in (1.0, -4.0, -10.0):  # z = 5, z = 0 (the kink), z = -6
    values = dict(w=w_val, x=x_val, b=np.array(bias))
    z = w_val @ x_val + bias
    gw = ed.evaluate(ed.grad(activation, w), **values)
    gb = ed.evaluate(ed.grad(activation, b), **values)
    print(f"  z = {z:+.1f}: d/dw = {gw}, d/db = {gb}")
    assert np.array_equal(gw, x_val if z > 0 else np.zeros(3))  # x^T or 0^T
    assert gb == (1.0 if z > 0 else 0.0)

N = 6
X, y = ed.var("X", (N, 3)), ed.var("y", (N,))
C = ((y - ed.relu(X @ w + b)) ** 2).sum() / N
print("\nC:", C)
print("  dC/dw:", ed.grad(C, w))
print("  dC/db:", ed.grad(C, b))
rng = np.random.default_rng(0)
values = dict(X=rng.normal(size=(N, 3)), y=rng.normal(size=N), w=rng.normal(size=3), b=np.array(0.1))
z = values["X"] @ values["w"] + values["b"]
active = z > 0  # closed form: 2/N sum over active rows of (w.x_i + b - y_i) x_i
closed_w = 2 / N * (active * (z - values["y"])) @ values["X"]
closed_b = 2 / N * np.sum(active * (z - values["y"]))
got_w = ed.evaluate(ed.grad(C, w), **values)
got_b = ed.evaluate(ed.grad(C, b), **values)
print("  dC/dw =", got_w, " closed form:", closed_w)
print("  dC/db =", got_b, " closed form:", closed_b)
assert np.allclose(got_w, closed_w, rtol=1e-13) and np.allclose(got_b, closed_b, rtol=1e-13)
