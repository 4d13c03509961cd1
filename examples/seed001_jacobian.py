"""Follows seed 001: derivatives of functions of matrices, flattened row-major.

F(A) = 2 sum(A); Z = A W + B with its (2x2)x(3x2) Jacobian as a 4x6 matrix
(row-major, and column-major for comparison); S = sum(Z) and dS/dW.
Run: python examples/seed001_jacobian.py
"""

import numpy as np

import einsdiff as ed

A_val = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
W_val = np.array([[7.0, 8.0], [10.0, 11.0], [12.0, 13.0]])
B_val = np.array([13.0, 14.0])
values = dict(A=A_val, W=W_val, B=B_val)

A, W, B = ed.var("A", (2, 3)), ed.var("W", (3, 2)), ed.var("B", (2,))

F = (2 * A).sum()
dF_dA = ed.grad(F, A)
print("F(A) = 2 sum(A):", F)
print("  F =", ed.evaluate(F, A=A_val))
print("  dF/dA:", dF_dA)
print(ed.evaluate(dF_dA, A=A_val), "\n")
assert ed.evaluate(F, A=A_val) == 42.0
assert np.array_equal(ed.evaluate(dF_dA, A=A_val), np.full((2, 3), 2.0))

Z = A @ W + B
dZ_dW = ed.jacobian(Z, W)
print("Z = A W + B:", Z)
print(f"  dZ/dW, shape {dZ_dW.shape}:", dZ_dW)
J = ed.evaluate(ed.jacobian_matrix(Z, W), **values)
print("  row-major 4x6 matrix:\n", J)
assert J.tolist() == [[1, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3], [4, 0, 5, 0, 6, 0], [0, 4, 0, 5, 0, 6]]
print("  in matrix notation:", ed.to_matrix_notation(dZ_dW, name="J", rows=2), "(row-major vec)")
assert ed.to_matrix_notation(dZ_dW, name="J", rows=2) == "J = A ⊗ I"
assert np.array_equal(J, np.kron(A_val, np.eye(2)))
J_F = ed.evaluate(ed.jacobian_matrix(Z, W, order="F"), **values)
print("  column-major (order='F') = I ⊗ A:\n", J_F)
assert np.array_equal(J_F, np.kron(np.eye(2), A_val))

S = Z.sum()
dS_dW = ed.grad(S, W)
print("\nS = sum(Z) =", ed.evaluate(S, **values))
print("  dS/dW:", dS_dW)
print(ed.evaluate(dS_dW, **values))
assert ed.evaluate(S, **values) == 501.0
assert ed.evaluate(dS_dW, **values).tolist() == [[5, 5], [7, 7], [9, 9]]
assert (np.ones(4) @ J).tolist() == [5, 5, 7, 7, 9, 9]  # dS/dvec(Z) times dvec(Z)/dvec(W)
