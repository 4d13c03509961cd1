"""Symmetric variables: Sᵀ = S in simplification, the symmetric-gradient convention
((G + Gᵀ)/2, checked by finite differences along symmetric directions), the binding check."""

import re

import numpy as np
import pytest

import einsdiff as ed
from einsdiff.ir.expr import Var
from einsdiff.ir.simplify import contract

N = 3
S = ed.var("S", (N, N), symmetric=True)
P = ed.var("P", (N, N))  # the same role, unconstrained
x = ed.var("x", (N,))
A = ed.var("A", (N, N))


def symmetric(rng, n=N, shift=0.0):
    m = rng.standard_normal((n, n))
    return (m + m.T) / 2 + shift * np.eye(n)


@pytest.fixture
def values():
    rng = np.random.default_rng(0)
    return {"S": symmetric(rng, shift=4.0), "x": rng.standard_normal(N), "A": rng.standard_normal((N, N))}


# f(S), and the same function of the unconstrained P
FUNCTIONS = {
    "tr(S A)": lambda M: ed.trace(M @ A),
    "x'Sx": lambda M: x @ M @ x,
    "log det S": lambda M: ed.logdet(M),
    "tr(S^-1 A)": lambda M: ed.trace(ed.inv(M) @ A),
}


# -- the variable ---------------------------------------------------------------
def test_symmetric_is_part_of_the_variable():
    assert ed.var("S", (2, 2), symmetric=True) == ed.var("S", (2, 2), symmetric=True)
    assert ed.var("S", (2, 2), symmetric=True) != ed.var("S", (2, 2))
    assert hash(ed.var("S", (2, 2), symmetric=True)) != hash(ed.var("S", (2, 2)))
    assert repr(ed.var("S", (2, 2))) == "var('S', (2, 2))"
    assert repr(S) == "var('S', (3, 3), symmetric=True)"
    assert str(S) == "f[i,j] = S[i,j]"


def test_symmetric_is_keyword_only():
    with pytest.raises(TypeError):
        ed.var("S", (2, 2), True)


@pytest.mark.parametrize("shape", [(3, 4), (3,), (), (2, 3, 4)])
def test_a_symmetric_variable_needs_square_last_axes(shape):
    with pytest.raises(ed.ShapeError, match=r"'S'.*" + re.escape(str(shape))):
        ed.var("S", shape, symmetric=True)


def test_a_symmetric_and_a_plain_variable_of_one_name_conflict():
    plain = ed.var("S", (N, N))
    with pytest.raises(ed.VariableConflictError, match="'S'.*symmetric"):
        ed.evaluate(plain @ S, S=np.eye(N))
    with pytest.raises(ed.VariableConflictError, match="'S' is not symmetric"):
        ed.grad(ed.trace(S), plain)


# -- simplification knows Sᵀ = S ------------------------------------------------------
def test_the_transpose_of_a_symmetric_variable_is_itself():
    assert S.T is S
    assert contract([S], [("i", "j")], ("j", "i"), {"i": N, "j": N}) is S
    assert P.T is not P


def test_quadratic_form_gradient_is_one_term():
    g = ed.grad(x @ S @ x, x)
    assert ed.to_index_notation(g) == "f[i] = 2 S[i,j] x[j]"
    assert ed.to_matrix_notation(g) == "f = 2 S x"
    assert ed.to_index_notation(ed.grad(x @ P @ x, x)) != "f[i] = 2 P[i,j] x[j]"  # two terms without it


def test_quadratic_form_hessian_is_two_s():
    h = ed.hessian(x @ S @ x, x)
    assert ed.to_index_notation(h) == "f[i,j] = 2 S[i,j]"


def test_swapped_indices_in_a_network_are_one_term():
    e = ed.einsum("ij,ij->", S, A) - ed.einsum("ji,ij->", S, A)
    assert ed.to_index_notation(e) == "f = 0"


def test_a_batch_of_symmetric_matrices():
    B = ed.var("B", (2, N, N), symmetric=True)
    h = ed.hessian(ed.einsum("bij,i,j->", B, x, x), x)
    assert ed.to_index_notation(h).count("B[") == 1
    rng = np.random.default_rng(1)
    b = np.stack([symmetric(rng), symmetric(rng)])
    np.testing.assert_allclose(ed.evaluate(h, B=b), 2 * b.sum(0), rtol=1e-12)


def test_the_inverse_of_a_symmetric_matrix_is_symmetric():
    assert ed.inv(S).T == ed.inv(S)
    assert ed.to_index_notation(ed.grad(ed.logdet(S), S)) == "f[i,j] = inv(S)[i,j]"


def test_plain_printing_is_unchanged():
    assert ed.to_index_notation(ed.grad(x @ A @ x, x)) == "f[i] = A[i,j] x[j] + A[j,i] x[j]"


# -- the derivative within the symmetric matrices ------------------------------------------
def fd_along(f, values, v, eps=1e-6):
    """(f(S + eps V) - f(S - eps V)) / 2 eps."""
    up, down = dict(values, S=values["S"] + eps * v), dict(values, S=values["S"] - eps * v)
    return (float(ed.evaluate(f, up)) - float(ed.evaluate(f, down))) / (2 * eps)


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_gradient_matches_finite_differences_along_symmetric_directions(name, mode, values):
    f = FUNCTIONS[name](S)
    g = ed.evaluate(ed.grad(f, S, mode=mode), values)
    np.testing.assert_allclose(g, g.T, rtol=0, atol=1e-12)  # the gradient is itself symmetric
    rng = np.random.default_rng(2)
    for _ in range(3):
        v = symmetric(rng)
        expected = fd_along(f, values, v)
        assert np.sum(g * v) == pytest.approx(expected, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_gradient_is_the_symmetrized_unconstrained_gradient(name, values):
    plain = ed.evaluate(ed.grad(FUNCTIONS[name](P), P), dict(values, P=values["S"]))
    g = ed.evaluate(ed.grad(FUNCTIONS[name](S), S), values)
    np.testing.assert_allclose(g, (plain + plain.T) / 2, rtol=1e-10, atol=1e-12)


def test_textbook_gradients(values):
    s, xv, a = values["S"], values["x"], values["A"]
    np.testing.assert_allclose(ed.evaluate(ed.grad(ed.trace(S @ A), S), values), (a + a.T) / 2)
    np.testing.assert_allclose(ed.evaluate(ed.grad(x @ S @ x, S), values), np.outer(xv, xv))
    np.testing.assert_allclose(ed.evaluate(ed.grad(ed.logdet(S), S), values), np.linalg.inv(s), rtol=1e-10)
    assert ed.to_index_notation(ed.grad(x @ S @ x, S)) == "f[i,j] = x[i] x[j]"
    assert ed.to_index_notation(ed.grad(ed.trace(S @ A), S)) == "f[i,j] = 0.5 (A[i,j] + A[j,i])"


def test_forward_and_reverse_modes_agree_on_a_jacobian(values):
    f = ed.inv(S) @ x  # a vector: forward and reverse differ in what they carry
    forward = ed.evaluate(ed.jacobian(f, S, mode="forward"), values)
    reverse = ed.evaluate(ed.jacobian(f, S, mode="reverse"), values)
    np.testing.assert_allclose(forward, reverse, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(forward, np.swapaxes(forward, -1, -2), atol=1e-12)


def test_hessian_with_respect_to_a_symmetric_matrix(values):
    """d²/dS² of log det S along symmetric V, W is -tr(S⁻¹ V S⁻¹ W)."""
    h = ed.evaluate(ed.hessian(ed.logdet(S), S), values)
    inv = np.linalg.inv(values["S"])
    rng = np.random.default_rng(3)
    v, w = symmetric(rng), symmetric(rng)
    assert np.einsum("ij,ijkl,kl->", v, h, w) == pytest.approx(-np.trace(inv @ v @ inv @ w), rel=1e-10)
    np.testing.assert_allclose(h, np.swapaxes(h, 0, 1), atol=1e-12)
    np.testing.assert_allclose(h, np.swapaxes(h, 2, 3), atol=1e-12)


# -- binding -----------------------------------------------------------------------
def test_binding_a_non_symmetric_array_is_refused(values):
    bad = values["S"].copy()
    bad[0, 2] += 1e-3
    with pytest.raises(ed.BindingError, match=r"'S' is symmetric.*\[0,2\] and \[2,0\]"):
        ed.evaluate(x @ S @ x, dict(values, S=bad))
    with pytest.raises(ed.BindingError, match="'S'"):
        ed.compile([ed.grad(x @ S @ x, x)])(dict(values, S=bad))


def test_rounding_and_special_values_pass(values):
    rng = np.random.default_rng(4)
    m = rng.standard_normal((N, N))
    gram = m @ m.T  # symmetric up to rounding
    ed.evaluate(x @ S @ x, dict(values, S=gram))
    ed.evaluate(x @ S @ x, dict(values, S=np.eye(N, dtype=int)))
    ed.evaluate(x @ S @ x, dict(values, S=np.full((N, N), np.nan)))
    with np.errstate(invalid="ignore"):  # inf - inf inside the evaluation
        ed.evaluate(x @ S @ x, dict(values, S=np.full((N, N), np.inf)))


def test_parse_takes_a_symmetric_variable():
    f = ed.parse("f = x[i] S[i,j] x[j]", x=(3,), S=ed.var("S", (3, 3), symmetric=True))
    assert S in ed.ir.variables.variables(f)
    assert ed.to_index_notation(ed.grad(f, x)) == "f[i] = 2 S[i,j] x[j]"


def test_a_placeholder_var_stays_plain():
    assert not Var("v", (2, 2)).symmetric


def test_matrix_form_writes_no_transpose_of_a_symmetric_matrix():
    assert ed.to_matrix_notation(ed.grad(x @ ed.inv(S) @ x, x)) == "f = 2 S⁻¹ x"
    assert ed.to_matrix_notation(ed.grad(ed.trace(ed.inv(S) @ A), S)) == "f = −0.5 S⁻¹ (A + Aᵀ) S⁻¹"
    assert ed.to_matrix_notation(ed.jacobian(x @ S, x)) == "f = S"


def test_explain_states_the_convention():
    steps = ed.explain_steps(ed.trace(S @ A), S).steps
    rules = [step.rule for step in steps]
    assert rules.index("symmetric variable") == rules.index("result") - 1
    assert "(G + Gᵀ)/2" in ed.explain(ed.trace(S @ A), S)
    assert "symmetric variable" not in ed.explain(ed.trace(P @ A), P)


def test_check_jacobian_handles_symmetric_variables():
    from einsdiff.testing import bindings_for, check_jacobian

    f = ed.trace(ed.inv(S) @ A) + x @ S @ x
    b = bindings_for((S, x, A), seed=5)
    b["S"] = b["S"] + 4 * np.eye(N)
    check_jacobian(f, (S, x), b, order=2)


def test_directional_derivatives_agree_with_the_jacobian(values):
    f = ed.inv(S) @ x
    v = np.random.default_rng(6).standard_normal((N, N))  # not symmetric: its symmetric part counts
    j = ed.evaluate(ed.jacobian(f, S), values)
    np.testing.assert_allclose(ed.evaluate(ed.jvp(f, S, v), values), np.einsum("iab,ab->i", j, v), atol=1e-12)
    u = np.arange(1.0, N + 1)
    np.testing.assert_allclose(ed.evaluate(ed.vjp(f, S, u), values), np.einsum("i,iab->ab", u, j), atol=1e-12)
    g = x @ ed.inv(S) @ x
    h = ed.evaluate(ed.hessian(g, S), values)
    np.testing.assert_allclose(ed.evaluate(ed.hvp(g, S, v), values), np.einsum("abcd,cd->ab", h, v), atol=1e-12)


def test_the_derivative_of_s_by_itself_is_the_symmetrizer():
    j = ed.jacobian(S, S)
    assert ed.to_index_notation(j) == "f[i,j,k,l] = 0.5 (δ[i,k] δ[j,l] + δ[j,k] δ[i,l]); i:3, j:3, k:3, l:3"
    expected = (np.einsum("ik,jl->ijkl", np.eye(N), np.eye(N)) + np.einsum("il,jk->ijkl", np.eye(N), np.eye(N))) / 2
    np.testing.assert_array_equal(ed.evaluate(j, S=np.eye(N)), expected)


def test_a_gram_matrix_and_its_inverse_are_symmetric():
    """Xᵀ X and X Xᵀ (batched alike) equal their transposes, so (Xᵀ X)⁻ᵀ is (Xᵀ X)⁻¹ and the
    gradient of log det(Xᵀ X) is one term, 2 X (Xᵀ X)⁻¹; a product of two matrices is not."""
    from einsdiff.ir.expr import is_symmetric

    X, Z, Y = ed.var("X", (4, 3)), ed.var("Z", (4, 3)), ed.var("Y", (2, 4, 3))
    assert is_symmetric(X.T @ X) and is_symmetric(X @ X.T) and is_symmetric(ed.inv(X.T @ X))
    assert is_symmetric(ed.einsum("bki,bkj->bij", Y, Y)) and is_symmetric(ed.einsum("bik,bjk->bij", Y, Y))
    assert not is_symmetric(X.T @ Z) and not is_symmetric(ed.einsum("ki,kj->ij", X, Z))
    g = ed.grad(ed.logdet(X.T @ X), X)
    assert ed.to_matrix_notation(g) == "f = 2 X (Xᵀ X)⁻¹"
    x = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_allclose(ed.evaluate(g, X=x), 2 * x @ np.linalg.inv(x.T @ x), rtol=1e-10)
