"""Simplification: flattening, delta elimination, merging, and determinism."""

import os
import subprocess
import sys

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.expr import Add, Contract
from einsdiff.testing import bindings_for, check_jacobian, expressions_with_reference


def test_chain_rule_is_one_flat_network():
    A, B, x = ed.var("A", (3, 3)), ed.var("B", (3, 3)), ed.var("x", (3,))
    f = A @ (B @ x)
    J = ed.jacobian(f, x)
    assert isinstance(J, Contract)
    assert all(not isinstance(op, Contract) for op in J.operands)
    assert str(J) == "f[i,j] = A[i,k] B[k,j]"


def test_delta_on_summed_index_is_eliminated_by_renaming():
    A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    assert str(ed.jacobian(A @ x, x)) == "f[i,j] = A[i,j]"
    assert str(ed.jacobian(A @ x, A)) == "f[i,j,k] = δ[i,j] x[k]; i:2, j:2"


def test_equal_terms_merge_with_coefficients():
    x = ed.var("x", (3,))
    f = x + x + 2 * x - x
    assert isinstance(f, Add) and f.terms == (x,) and f.coeffs == (3.0,)
    assert str(x - x) == "f[i] = 0; i:3"


def test_zero_is_pruned():
    x, y = ed.var("x", (3,)), ed.var("y", (3,))
    g = ed.grad((x * x).sum() + y.sum(), x)
    assert str(g) == "f[i] = 2 x[i]"


def test_alpha_equivalent_networks_are_equal():
    A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    assert ed.einsum("ij,j->i", A, x) == ed.einsum("ab,b->a", A, x)
    assert hash(ed.einsum("ij,j->i", A, x)) == hash(ed.einsum("ab,b->a", A, x))
    assert ed.einsum("ij,j->i", A, x) == A @ x


def test_substitute_is_the_chain_rule_input():
    x, u = ed.var("x", (2,)), ed.var("u", (2,))
    f = ed.sin(u) * u
    composed = ed.substitute(f, {u: 2 * x})
    b = {"x": np.array([0.3, -0.4])}
    np.testing.assert_allclose(ed.evaluate(composed, **b), np.sin(2 * b["x"]) * 2 * b["x"])


_SCRIPT = """
import einsdiff as ed
A, x, y = ed.var("A", (3, 3)), ed.var("x", (3,)), ed.var("y", (3,))
r = ed.tanh(A @ x) - y
loss = (r * r).sum() + ed.einsum("i,ij,j->", x, A, x)
h = ed.hessian(loss, x)
print(str(h)); print(hash(h))
"""


def test_printing_and_hashing_are_the_same_in_every_process():
    outs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, check=True).stdout)
    assert len(outs) == 1


def test_terms_differing_only_in_vectors_on_one_index_share_their_network():
    """Σ_j X[j,i] X[j,k] v[k] (c1 s_j - c2 s_j²): one pass over X each way, not two."""
    import numpy as np

    X, w, v = ed.var("X", (6, 3)), ed.var("w", (3,)), ed.var("v", (3,))
    loss = ed.log(1 + ed.exp(X @ w)).sum()
    plan = ed.compile([ed.hvp(loss, w, v)]).plan
    assert sum(c.node.shape == (3,) for c in plan.contractions) == 1, plan  # one Xᵀ(.. X v) network
    rng = np.random.default_rng(0)
    x0, w0, v0 = rng.normal(size=(6, 3)), rng.normal(size=3), rng.normal(size=3)
    s = 1 / (1 + np.exp(-x0 @ w0))
    np.testing.assert_allclose(ed.evaluate(ed.hvp(loss, w, v), X=x0, w=w0, v=v0),
                               x0.T @ (s * (1 - s) * (x0 @ v0)), rtol=1e-12)


def test_merging_vector_factors_survives_a_key_that_simplifies_to_a_where():
    # Found by a random search: the shared network of two adjoint terms simplified into a
    # where(...) Call, whose size the merge then looked up as if it were a contraction.
    v1, v0 = ed.var("v1", (1,)), ed.var("v0", ())
    s = ed.einsum("i,j->", v1 + v0, v1)
    f = ed.where(s - v0 > 0, v0, 0.5 * s)
    assert str(ed.jacobian(f, v1)) == "f[i] = where(step(Σ[j,k]((v1[j] + v0) v1[k]) - v0), 0, Σ[l](v1[l] + 0.5 v0)); i:1"
    check_jacobian(f, v1, {"v1": np.array([0.3]), "v0": np.array(0.7)})


def test_a_zero_constant_adds_nothing():
    x = ed.var("x", (3,))
    assert str(x > 0) == "f[i] = step(x[i])"  # step(x - 0), without the 0


# -- one base's powers in a product merge; a sum's shared number joins the product's ------------

def test_a_factor_cancels_its_reciprocal_over_the_same_indices():
    x = ed.var("x", (3,))
    s = ed.sum(ed.square(x))
    assert str(ed.sqrt(s) * ed.reciprocal(ed.sqrt(s)) * x) == "f[i] = x[i]"
    assert str(x * ed.reciprocal(x) * ed.exp(x)) == "f[i] = exp(x[i])"
    b = {"x": np.array([0.3, -1.2, 2.0])}
    np.testing.assert_allclose(ed.evaluate(x * ed.reciprocal(x) * ed.exp(x), **b), np.exp(b["x"]))


def test_factors_over_different_indices_do_not_cancel():
    x = ed.var("x", (3,))
    outer = ed.einsum("i,j->ij", x, ed.reciprocal(x))
    assert str(outer) == "f[i,j] = x[i] reciprocal(x[j])"
    b = {"x": np.array([0.5, 2.0, -4.0])}
    np.testing.assert_allclose(ed.evaluate(outer, **b), np.outer(b["x"], 1 / b["x"]))


def test_a_cancelled_factor_on_a_summed_index_leaves_its_size():
    x = ed.var("x", (3,))
    assert str(ed.einsum("i,i->", x, ed.reciprocal(x))) == "f = 3"
    # alone on a free index it stays: nothing else carries i
    assert str(x * ed.reciprocal(x)) == "f[i] = x[i] reciprocal(x[i])"


def test_powers_of_one_base_add_their_exponents():
    x = ed.var("x", (3,))
    s = ed.sum(ed.square(x))
    assert str(s * ed.reciprocal(ed.sqrt(s)) * x) == "f[i] = x[i] sqrt(Σ[j](square(x[j])))"
    assert ed.square(ed.sqrt(s)) * x == s * x  # one flat network again: Σ[j](x[i] square(x[j]))
    assert str(ed.sqrt(x) * x ** 1.5) == "f[i] = square(x[i])"
    assert str(ed.sqrt(ed.square(x)) * x) == "f[i] = x[i] sqrt(square(x[i]))"  # √(u²) is |u|, not u
    b = {"x": np.array([0.5, 1.5, 3.0])}
    v = b["x"]
    np.testing.assert_allclose(ed.evaluate(s * ed.reciprocal(ed.sqrt(s)) * x, **b), v * np.sqrt(v @ v))
    np.testing.assert_allclose(ed.evaluate(ed.sqrt(x) * x ** 1.5, **b), v ** 2)


def test_a_sums_shared_coefficient_joins_the_products_number():
    x, y = ed.var("x", (3,)), ed.var("y", (3,))
    assert str(0.5 * (x * (2 * x - 2 * y))) == "f[i] = x[i] (x[i] - y[i])"
    b = {"x": np.array([1.0, 2.0, 3.0]), "y": np.array([0.5, -1.0, 4.0])}
    np.testing.assert_allclose(ed.evaluate(0.5 * (x * (2 * x - 2 * y)), **b), b["x"] * (b["x"] - b["y"]))


def test_the_gradient_of_half_the_squared_norm_is_x():
    x = ed.var("x", (3,))
    for g in (ed.grad(ed.norm(x) ** 2 / 2, x), ed.grad(0.5 * ed.sum(ed.square(x)), x)):
        assert g == x
        assert ed.to_index_notation(g) == "f[i] = x[i]"
        assert ed.to_matrix_notation(g) == "f = x"


def test_the_gradient_of_a_residual_norm_has_one_reciprocal_root():
    A, x, y = ed.var("A", (2, 3)), ed.var("x", (3,)), ed.var("y", (2,))
    g = ed.grad(ed.norm(A @ x - y), x)
    assert ed.to_matrix_notation(g) == "f = 1/sqrt(sum((A x − y)∘²)) Aᵀ (A x − y)"
    assert ed.to_index_notation(g) == \
        "f[i] = Σ[j](A[j,i] reciprocal(sqrt(Σ[k](square(A[k,l] x[l] - y[k])))) (A[j,m] x[m] - y[j]))"
    rng = np.random.default_rng(0)
    b = {"A": rng.normal(size=(2, 3)), "x": rng.normal(size=3), "y": rng.normal(size=2)}
    r = b["A"] @ b["x"] - b["y"]
    np.testing.assert_allclose(ed.evaluate(g, **b), b["A"].T @ r / np.linalg.norm(r))


_FACTORS = {  # each factor of u > 0 and its value
    "u": (lambda u: u, lambda v: v),
    "sqrt": (ed.sqrt, np.sqrt),
    "reciprocal": (ed.reciprocal, lambda v: 1 / v),
    "rsqrt": (lambda u: ed.reciprocal(ed.sqrt(u)), lambda v: 1 / np.sqrt(v)),
    "square_sqrt": (lambda u: ed.square(ed.sqrt(u)), lambda v: v),
    "power": (lambda u: u ** -1.5, lambda v: v ** -1.5),
}


@settings(max_examples=40, deadline=None)
@given(expressions_with_reference(max_depth=2, functions=True),
       st.lists(st.sampled_from(sorted(_FACTORS)), min_size=1, max_size=4), st.integers(0, 2**32 - 1))
def test_merging_powers_keeps_values(ref, names, seed):
    """A product of powers of one positive u (u = f² + 1 for a random f) equals the product
    numpy computes factor by factor."""
    b = bindings_for(ref.variables, seed)
    f = ref.numpy(b)
    assume(np.all(np.isfinite(f)) and np.abs(f).max(initial=0) < 1e3)
    u = ed.square(ref.expr) + 1.0
    product, want = u, f ** 2 + 1.0
    for name in names:
        build, value = _FACTORS[name]
        product, want = product * build(u), want * value(f ** 2 + 1.0)
    np.testing.assert_allclose(ed.evaluate(product, **b), want, rtol=1e-9, atol=1e-9 * (1 + np.abs(want).max(initial=0)))
