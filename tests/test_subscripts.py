"""A table of einsum equations: value against numpy.einsum, every Jacobian against
finite differences. Each row is a regression case for the grammar."""

import numpy as np
import pytest

import einsdiff as ed
from einsdiff.testing import check_jacobian

# (subscripts, operand shapes, operand names: a repeated name is one shared variable)
TABLE = [
    ("ij,j->i", [(2, 3), (3,)], "Ax"),
    ("ij,jk->ik", [(2, 3), (3, 4)], "AB"),
    ("ij,jk", [(2, 3), (3, 4)], "AB"),  # implicit mode
    ("ji", [(2, 3)], "A"),  # implicit transpose
    ("ii->i", [(3, 3)], "A"),  # diagonal
    ("ii->", [(3, 3)], "A"),  # trace
    ("ii", [(3, 3)], "A"),  # implicit trace
    ("iij->j", [(2, 2, 3)], "A"),
    ("iji->j", [(2, 3, 2)], "A"),
    ("iii->i", [(2, 2, 2)], "A"),
    ("i,i->i", [(3,), (3,)], "xy"),  # Hadamard
    ("i,j->ij", [(3,), (2,)], "xy"),  # outer
    (",->", [(), ()], "ab"),  # scalars
    (",i->i", [(), (3,)], "ax"),
    ("i,ij,j->", [(3,), (3, 3), (3,)], "xAx"),  # x^T A x: x shared
    ("i,i->", [(3,), (3,)], "xx"),  # squared norm
    ("ij,ij->", [(2, 3), (2, 3)], "AA"),  # Frobenius norm squared
    ("ij,jk,kl->il", [(2, 2), (2, 2), (2, 2)], "AAA"),  # A^3
    ("...ij,...jk->...ik", [(4, 2, 3), (4, 3, 2)], "AB"),  # batched matmul
    ("...ij,...jk->...ik", [(4, 2, 3), (1, 3, 2)], "AB"),  # broadcast batch
    ("...ij,jk->...ik", [(5, 4, 2, 3), (3, 2)], "AB"),
    ("ij...,j->i...", [(2, 3, 4), (3,)], "Ax"),
    ("...,...->...", [(2, 3), (3,)], "xy"),  # elementwise with broadcasting
    ("...i,...i", [(2, 3), (3,)], "xy"),  # implicit with ellipsis
    ("i...->...", [(3, 2, 2)], "A"),
    ("i,i->i", [(1,), (3,)], "xy"),  # size-1 label broadcasts
    ("ij,j->ij", [(2, 1), (3,)], "Ax"),
    ("ii,i->i", [(3, 3), (3,)], "Ax"),
    ("ijk,kji->", [(2, 3, 2), (2, 3, 2)], "AB"),
    ("a b, b c -> a c", [(2, 3), (3, 2)], "AB"),  # spaces are ignored, as in numpy
    ("Ab,bA->", [(2, 3), (3, 2)], "AB"),  # upper-case labels
    ("i,i,i->", [(3,), (3,), (3,)], "xxx"),  # a cubic form
]


def _case(subscripts, shapes, names):
    variables = {}
    for name, shape in zip(names, shapes, strict=True):
        variables.setdefault(name, ed.var(name, shape))
    operands = [variables[n] for n in names]
    rng = np.random.default_rng(0)
    bindings = {n: rng.uniform(-1, 1, v.shape) for n, v in variables.items()}
    return ed.einsum(subscripts, *operands), operands, bindings


@pytest.mark.parametrize("subscripts, shapes, names", TABLE)
def test_value_matches_numpy(subscripts, shapes, names):
    expr, operands, b = _case(subscripts, shapes, names)
    want = np.einsum(subscripts, *(b[v.name] for v in operands))
    np.testing.assert_allclose(ed.evaluate(expr, **b), want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("subscripts, shapes, names", TABLE)
def test_jacobians_match_finite_differences(subscripts, shapes, names):
    expr, operands, b = _case(subscripts, shapes, names)
    check_jacobian(expr, tuple(dict.fromkeys(operands)), b)


def test_trace_jacobian_is_the_identity_delta():
    A = ed.var("A", (3, 3))
    J = ed.jacobian(ed.einsum("ii->", A), A)
    assert str(J) == "f[i,j] = δ[i,j]; i:3, j:3"
    np.testing.assert_array_equal(ed.evaluate(J, A=np.zeros((3, 3))), np.eye(3))


def test_diagonal_jacobian_has_two_deltas():
    A = ed.var("A", (3, 3))
    J = ed.jacobian(ed.einsum("ii->i", A), A)
    assert str(J) == "f[i,j,k] = δ[i,j] δ[i,k]; i:3, j:3, k:3"
    want = np.zeros((3, 3, 3))
    for i in range(3):
        want[i, i, i] = 1
    np.testing.assert_array_equal(ed.evaluate(J, A=np.ones((3, 3))), want)


def test_quadratic_form_product_rule_merges_twins():
    x, A = ed.var("x", (3,)), ed.var("A", (3, 3))
    f = ed.einsum("i,ij,j->", x, A, x)
    assert str(ed.grad(f, x)) in ("f[i] = A[i,j] x[j] + A[j,i] x[j]", "f[i] = A[j,i] x[j] + A[i,j] x[j]")
    assert str(ed.hessian(f, x)) in ("f[i,j] = A[i,j] + A[j,i]", "f[i,j] = A[j,i] + A[i,j]")
