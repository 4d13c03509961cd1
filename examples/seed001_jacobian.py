"""Seed 001: derivatives of functions of matrices, flattened row-major.

F(A) = 2 sum(A); Z = A W + B and its (2x2)x(3x2) Jacobian as a 4x6 matrix;
S = sum(Z) and dS/dW by the chain rule.
"""

import numpy as np

import einsdiff as ed

A_val = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
W_val = np.array([[7.0, 8.0], [10.0, 11.0], [12.0, 13.0]])
B_val = np.array([13.0, 14.0])

A, W, B = ed.var("A", (2, 3)), ed.var("W", (3, 2)), ed.var("B", (2,))

F = (2 * A).sum()
print("F(A) = 2 sum(A):", F)
print("  F =", ed.evaluate(F, A=A_val))
print("  dF/dA:", ed.grad(F, A))
print(ed.evaluate(ed.grad(F, A), A=A_val), "\n")

Z = A @ W + B
values = dict(A=A_val, W=W_val, B=B_val)
dZ_dW = ed.jacobian(Z, W)
print("Z = A W + B:", Z)
print(f"  dZ/dW, shape (P x Q) x (M x N) = {dZ_dW.shape}:", dZ_dW)
J = ed.evaluate(ed.jacobian_matrix(Z, W), **values)
print("  as a row-major 4x6 matrix:\n", J)
assert J.tolist() == [[1, 0, 2, 0, 3, 0], [0, 1, 0, 2, 0, 3], [4, 0, 5, 0, 6, 0], [0, 4, 0, 5, 0, 6]]

S = Z.sum()
dS_dW = ed.grad(S, W)
print("\nS = sum(Z) =", ed.evaluate(S, **values))
print("  dS/dW:", dS_dW)
print(ed.evaluate(dS_dW, **values))
assert ed.evaluate(dS_dW, **values).tolist() == [[5, 5], [7, 7], [9, 9]]
