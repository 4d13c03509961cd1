"""Seed 003: index notation and the chain rule over grouped indices.

d(Ax)/dA has entries δ_ik x_l; f = ||Ax - y||^2 through g = Ax - y;
x^T A x with gradient (A + A^T) x and Hessian A + A^T.
"""

import numpy as np

import einsdiff as ed

M, N = 2, 3
A, x, y = ed.var("A", (M, N)), ed.var("x", (N,)), ed.var("y", (M,))
values = dict(A=np.arange(1.0, 7.0).reshape(M, N), x=np.array([1.0, -1.0, 2.0]), y=np.array([0.5, 1.0]))

J = ed.jacobian(A @ x, A)
print(f"d(Ax)/dA, shape M x (M x N) = {J.shape}:", J)
print(ed.evaluate(J, **values), "\n")

g = A @ x - y
f = g @ g
print("f = ||Ax - y||^2:", f)
print("  df/dA:", ed.grad(f, A))
print("  df/dx:", ed.grad(f, x))
r = values["A"] @ values["x"] - values["y"]
assert np.allclose(ed.evaluate(ed.grad(f, A), **values), 2 * np.outer(r, values["x"]))

# the chain rule by hand: df/dA_ij = sum_k df/dg_k dg_k/dA_ij, one contraction over k
gv = ed.var("g", (M,))
df_dg = ed.evaluate(ed.grad(gv @ gv, gv), g=r)
dg_dA = ed.evaluate(ed.jacobian(g, A), **values)
print("  sum_k df/dg_k dg_k/dA_ij =\n", np.einsum("k,kij->ij", df_dg, dg_dA))

S = ed.var("S", (N, N))
q = ed.einsum("i,ij,j->", x, S, x)
print("\nx^T S x:", q)
print("  gradient:", ed.grad(q, x))
print("  Hessian: ", ed.hessian(q, x))
Sv = np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 1.0], [4.0, 0.0, 1.0]])
H = ed.evaluate(ed.hessian(q, x), x=values["x"], S=Sv)
print(H)
assert np.array_equal(H, Sv + Sv.T)
