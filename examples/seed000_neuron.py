"""Seed 000: the gradient of a relu neuron and of the mean-squared-error loss.

activation = max(0, w.x + b); C = mean((y - max(0, X w + b))^2).
The derivative of max(0, z) is taken as 0 for z <= 0.
"""

import numpy as np

import einsdiff as ed

w, x, b = ed.var("w", (3,)), ed.var("x", (3,)), ed.var("b", ())
activation = ed.relu(w @ x + b)
print("activation:", activation)
print("  d/dw:", ed.grad(activation, w))
print("  d/db:", ed.grad(activation, b))
for bias in (1.0, -10.0):
    values = dict(w=np.array([1.0, 0.5, 2.0]), x=np.array([2.0, -2.0, 1.5]), b=np.array(bias))
    z = values["w"] @ values["x"] + bias
    gw = ed.evaluate(ed.grad(activation, w), **values)
    gb = ed.evaluate(ed.grad(activation, b), **values)
    print(f"  z = {z:+.1f}: d/dw = {gw}, d/db = {gb}")
    assert np.array_equal(gw, values["x"] if z > 0 else np.zeros(3)) and gb == (z > 0)

N = 6
X, y = ed.var("X", (N, 3)), ed.var("y", (N,))
C = ((y - ed.relu(X @ w + b)) ** 2).sum() / N
print("\nC:", C)
print("  dC/dw:", ed.grad(C, w))
print("  dC/db:", ed.grad(C, b))
rng = np.random.default_rng(0)
values = dict(X=rng.normal(size=(N, 3)), y=rng.normal(size=N), w=rng.normal(size=3), b=np.array(0.1))
z = values["X"] @ values["w"] + values["b"]
closed_w = 2 / N * ((z > 0) * (z - values["y"])) @ values["X"]
got_w = ed.evaluate(ed.grad(C, w), **values)
print("  dC/dw =", got_w, " closed form:", closed_w)
assert np.allclose(got_w, closed_w)
