"""Follows seed 003: index notation and the chain rule over grouped indices.

d(Ax)/dA has entries δ_ik x_l; f = ||Ax - y||^2 through g = Ax - y, with
gradients 2(Ax - y)x^T and 2A^T(Ax - y); x^T S x with gradient (S + S^T)x and
Hessian S + S^T.
Run: python examples/seed003_index_notation.py
"""

import numpy as np

import einsdiff as ed

M, N = 2, 3
A, x, y = ed.var("A", (M, N)), ed.var("x", (N,)), ed.var("y", (M,))
A_val, x_val, y_val = np.arange(1.0, 7.0).reshape(M, N), np.array([1.0, -1.0, 2.0]), np.array([0.5, 1.0])
values = dict(A=A_val, x=x_val, y=y_val)

J = ed.jacobian(A @ x, A)
print(f"d(Ax)/dA, shape M x (M x N) = {J.shape}:", J)
print(ed.evaluate(J, **values), "\n")
assert np.array_equal(ed.evaluate(J, **values), np.einsum("ik,l->ikl", np.eye(M), x_val))
print("  flattened row-major:", ed.to_matrix_notation(J, name="d(Ax)/dvec(A)", rows=1), "\n")
assert ed.to_matrix_notation(J, rows=1) == "f = I ⊗ xᵀ"

g = A @ x - y
f = g @ g
r = A_val @ x_val - y_val
print("f = ||Ax - y||^2:", f)
print("  df/dA:", ed.grad(f, A))
print("  df/dx:", ed.grad(f, x))
assert np.allclose(ed.evaluate(ed.grad(f, A), **values), 2 * np.outer(r, x_val), rtol=1e-14)
assert np.allclose(ed.evaluate(ed.grad(f, x), **values), 2 * A_val.T @ r, rtol=1e-14)
print("  in matrix notation:", ed.to_matrix_notation(ed.grad(f, A), name="df/dA"), "and",
      ed.to_matrix_notation(ed.grad(f, x), name="df/dx"))
assert ed.to_matrix_notation(ed.grad(f, A)) == "f = 2 (A x − y) xᵀ"
assert ed.to_matrix_notation(ed.grad(f, x)) == "f = 2 Aᵀ (A x − y)"

# the chain rule by hand: df/dA_ij = sum_k df/dg_k dg_k/dA_ij, one contraction over k
gv = ed.var("g", (M,))
df_dg = ed.evaluate(ed.grad(gv @ gv, gv), g=r)
dg_dA = ed.evaluate(ed.jacobian(g, A), **values)
by_hand = np.einsum("k,kij->ij", df_dg, dg_dA)
print("  sum_k df/dg_k dg_k/dA_ij =\n", by_hand)
assert np.allclose(by_hand, 2 * np.outer(r, x_val), rtol=1e-14)

S = ed.var("S", (N, N))  # the seed's square A, renamed to keep A as M x N above
q = ed.einsum("i,ij,j->", x, S, x)
print("\nx^T S x:", q)
print("  gradient:", ed.grad(q, x))
print("  Hessian: ", ed.hessian(q, x))
S_val = np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 1.0], [4.0, 0.0, 1.0]])
H = ed.evaluate(ed.hessian(q, x), x=x_val, S=S_val)
print(H)
assert np.array_equal(ed.evaluate(ed.grad(q, x), x=x_val, S=S_val), (S_val + S_val.T) @ x_val)
assert np.array_equal(H, S_val + S_val.T)
