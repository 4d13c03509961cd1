"""The quick start: a least-squares residual, its Jacobian, gradient and Hessian."""

import numpy as np

import einsdiff as ed

A = ed.var("A", (2, 3))
x = ed.var("x", (3,))
y = ed.var("y", (2,))
r = ed.einsum("ij,j->i", A, x) - y  # r_i = A_ij x_j - y_i
loss = r @ r  # ||Ax - y||^2

bindings = {"A": np.arange(6.0).reshape(2, 3), "x": np.array([1.0, 2.0, 3.0]), "y": np.array([1.0, 1.0])}

for title, expr in [
    ("residual", r),
    ("dr/dA  (shape r.shape + A.shape)", ed.jacobian(r, A)),
    ("dloss/dA", ed.grad(loss, A)),
    ("d2loss/dx2", ed.hessian(loss, x)),
]:
    print(f"{title}:\n  {expr}\n{ed.evaluate(expr, **bindings)}\n")

fn = ed.compile([loss, ed.grad(loss, A), ed.grad(loss, x)])
value, gA, gx = fn(**bindings)
print(f"compiled: loss = {value}, dloss/dx = {gx}")
