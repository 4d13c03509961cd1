"""Simplification: flattening, delta elimination, merging, and determinism."""

import os
import subprocess
import sys

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.expr import Add, Contract
from einsdiff.ir.variables import variables
from einsdiff.testing import bindings_for, check_jacobian, expressions, expressions_with_reference


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
    assert ed.to_matrix_notation(g) == "f = Aᵀ (A x − y) / ‖A x − y‖"
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


# -- every node the smart constructors build is a fixed point of rebuilding -----------------------

def _rebuilt_unchanged(e):
    again = ed.simplify(e)
    assert again == e and hash(again) == hash(e) and str(again) == str(e)


def test_a_number_times_a_sum_rebuilds_unchanged():
    # CI found it: 0.5 (v0 v0 + v0) was 0.5 · (a sum) from contract, but the flattened sum from add.
    v0 = ed.var("v0", ())
    f = ed.sum(0.5 * (v0 * v0 + v0))
    assert str(f) == "f = 0.5 (v0 v0 + v0)"
    _rebuilt_unchanged(f)
    assert f == 0.5 * (v0 * v0 + v0)


_TERMS = {  # terms of the sum: products, powers, plain
    "product": lambda u: u * u, "sqrt": ed.sqrt, "square": ed.square, "reciprocal": ed.reciprocal,
    "power": lambda u: u ** 1.5, "plain": lambda u: u, "exp": ed.exp,
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(_TERMS)), st.sampled_from([0.5, 2.0, -2.0, 3.0])), min_size=1, max_size=3),
       st.sampled_from([0.5, 2.0, -0.25]), st.sampled_from(["sum", "times", "scale", "square", "sqrt"]), st.booleans())
def test_a_coefficient_folded_into_or_out_of_a_sum_rebuilds_unchanged(terms, c, outer, vector):
    """c (Σ c_t t(u)) over u = x⊙x + 1, reduced, multiplied or raised: the same node however built."""
    x = ed.var("x", (3,) if vector else ())
    u = x * x + 1.0
    s = terms[0][1] * _TERMS[terms[0][0]](u)
    for name, k in terms[1:]:
        s = s + k * _TERMS[name](u)
    s = c * s
    f = {"sum": lambda: ed.sum(s), "times": lambda: x * s, "scale": lambda: 2 * s,
         "square": lambda: ed.square(s), "sqrt": lambda: ed.sqrt(s) * s}[outer]()
    for e in (f, ed.jacobian(f, x)):
        _rebuilt_unchanged(e)


@settings(max_examples=60, deadline=None)
@given(expressions(max_depth=3, functions=True))
def test_functions_of_whole_tensors_rebuild_unchanged(expr):
    """A where inside a product shows only once nested products are spliced: it is hoisted alike."""
    for e in (expr, *(ed.jacobian(expr, v) for v in variables(expr))):
        _rebuilt_unchanged(e)


def test_a_where_in_a_scaled_product_is_hoisted_as_when_rebuilt():
    v0 = ed.var("v0", ())
    j = ed.jacobian(ed.where(v0 > ed.abs(v0), v0, 0.5 * ed.abs(v0)), v0)
    _rebuilt_unchanged(j)
    assert str(j) == "f = where(step(v0 - abs(v0)), 1, 0.5 sign(v0))"  # one where per mask


def test_spliced_indices_never_share_a_label_with_the_network_they_join():
    # A hoisted where's branch was spliced with labels the outer network already used: the
    # reverse Hessian summed v1[j] v1[j] where it meant v1[j] v1[k] (a wrong number).
    v0, v1 = ed.var("v0", ()), ed.var("v1", (2,))
    f = ed.maximum(v0, ed.log(ed.square(ed.sum(v0 * v1)) + 1))
    b = {"v0": np.array(-0.47677573), "v1": np.array([-0.40301771, 0.62845148])}
    want = ed.evaluate(ed.hessian(f, v0, mode="forward"), **b)
    np.testing.assert_allclose(ed.evaluate(ed.hessian(f, v0, mode="reverse"), **b), want, rtol=1e-12)
    s, g = b["v0"] * b["v1"].sum(), b["v1"].sum()
    np.testing.assert_allclose(want, 2 * g * g * (1 - s * s) / (1 + s * s) ** 2, rtol=1e-12)


def test_wheres_on_one_mask_add_as_one_where():
    x, y = ed.var("x", (3,)), ed.var("y", (3,))
    m = x > 0
    f = ed.where(m, x, 2 * y) - 3 * ed.where(m, ed.exp(y), 0)
    assert str(f) == "f[i] = where(step(x[i]), x[i] - 3 exp(y[i]), 2 y[i])"
    b = {"x": np.array([1.0, -2.0, 0.5]), "y": np.array([0.3, 1.0, -4.0])}
    v = np.where(b["x"] > 0, b["x"], 2 * b["y"]) - 3 * np.where(b["x"] > 0, np.exp(b["y"]), 0)
    np.testing.assert_allclose(ed.evaluate(f, **b), v)


def test_reductions_over_one_index_add_as_one_reduction():
    x, y = ed.var("x", (3,)), ed.var("y", (3,))
    assert str(ed.sum(x) + 0.5 * ed.sum(ed.exp(y))) == "f = Σ[i](x[i] + 0.5 exp(y[i]))"
    assert str(x + ed.exp(y)) == "f[i] = x[i] + exp(y[i])"  # a sum of vectors stays as it is


# -- a power of a power is one power: the rule a product's factors merge by -----------------------

def test_a_power_of_a_power_is_one_power():
    u, x = ed.var("u", ()), ed.var("x", (3,))
    assert ed.square(ed.sqrt(u)) == ed.sqrt(u) ** 2 == ed.reciprocal(ed.reciprocal(u)) == u
    assert str(ed.sqrt(u) ** 3) == str(u ** 1.5) == "f = (u)^1.5"
    assert ed.square(ed.reciprocal(ed.sqrt(u))) == ed.reciprocal(u)
    assert str(ed.square(ed.reciprocal(u))) == "f = square(reciprocal(u))"  # d(1/u) reads as written
    assert str(ed.sqrt(ed.square(u))) == "f = sqrt(square(u))"  # |u|, not u
    assert u ** 2 == ed.square(u) and ed.pow(u, 2) == ed.square(u)
    assert ed.norm(x) ** 2 == ed.square(ed.norm(x)) == ed.sum(ed.square(x))


def test_the_squared_residual_norm_reads_as_the_half_squared_norm_does():
    shapes = dict(x=(3,), A=(4, 3), y=(4,))
    assert ed.to_matrix_notation(ed.parse("norm2(A*x - y)^2", **shapes)) == "f = ‖A x − y‖²"
    assert ed.to_matrix_notation(ed.parse("0.5*norm2(x)^2", x=(3,))) == "f = 0.5 ‖x‖²"
    assert ed.to_index_notation(ed.parse("norm2(x)^2", x=(3,))) == "f = Σ[i](square(x[i]))"


def test_a_transposed_sum_keeps_its_numbers_so_it_rounds_as_the_sum():
    # Found by the stress profile: c (a + b) transposed rounded otherwise than c a + c b, so the
    # Jacobian matrix was no longer exactly the reshaped Jacobian.
    v0 = ed.var("v0", (3, 1))
    f = ed.einsum("jl,ik->i", v0, v0) / 3
    b = bindings_for([v0], 1)
    tensor = ed.evaluate(ed.jacobian(f, v0), **b)
    assert np.array_equal(ed.evaluate(ed.jacobian_matrix(f, v0, order="F"), **b), tensor.reshape((3, 3), order="F"))


def test_wheres_that_choose_alike_or_cancel_leave_no_where():
    x = ed.var("x", (3,))
    m = x > 0
    assert ed.where(m, x, 0) + ed.where(m, 0, x) == x
    assert str(ed.where(m, 2 * x, 0) + ed.where(m, -x - x, 0)) == "f[i] = 0; i:3"


def test_a_matrix_times_its_inverse_is_the_identity():
    """X X⁻¹ = X⁻¹ X = I (transposed too) where the two share a summed index nothing else has;
    tr(X X⁻¹) = n; the index shared with a third factor, or a diagonal, is left alone."""
    X, A, Y = ed.var("X", (3, 3)), ed.var("A", (3, 3)), ed.var("Y", (3, 3))
    for product in (X @ ed.inv(X), ed.inv(X) @ X, X.T @ ed.inv(X).T):
        assert str(product) == "f[i,j] = δ[i,j]; i:3, j:3"
    assert str(ed.trace(X @ ed.inv(X))) == "f = 3"
    assert A @ X @ ed.inv(X) == A and ed.inv(X) @ X @ A == A
    assert "inv(X)" in str(Y @ ed.inv(X)) and "inv(X)" in str(ed.einsum("ii,ij->j", X, ed.inv(X)))
    x = np.array([[3.0, 1, 0], [1, 4, 1], [0, 1, 5]])
    np.testing.assert_allclose(ed.evaluate(ed.einsum("ii,ij->j", X, ed.inv(X)), X=x),
                               np.einsum("ii,ij->j", x, np.linalg.inv(x)))
    g = ed.grad(ed.det(ed.inv(X)), X)
    assert ed.to_matrix_notation(g) == "f = −det(X⁻¹) X⁻ᵀ"
    np.testing.assert_allclose(ed.evaluate(g, X=x), -np.linalg.inv(x).T / np.linalg.det(x), rtol=1e-12)
