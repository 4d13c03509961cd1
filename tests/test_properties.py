"""Property tests over random einsums and random compositions, against independent oracles.
The derivative rules' own properties (modes agree, Hessians are symmetric, the chain rule)
are in test_derive.py; the oracles' own tests in test_oracles.py."""

import numpy as np
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.testing import (
    bindings_for,
    brute_force_jacobian,
    brute_force_value,
    check_jacobian,
    einsum_cases,
    expressions,
    describe,
    expressions_with_reference,
    finite_difference_margin,
    kink_distance,
)
from einsdiff.ir.variables import variables

seeds = st.integers(0, 2**32 - 1)


def _unit_substitution_jacobian(case, wrt, bindings):
    """The exact Jacobian of a multilinear einsum by the product rule, with numpy.einsum:
    for each element e of wrt, the sum over occurrences of wrt of the einsum in which that
    occurrence is the unit tensor E_e."""
    expr = case.expr()
    out = np.zeros(expr.shape + wrt.shape)
    arrays = [bindings[v.name] for v in case.operands]
    for e in np.ndindex(*wrt.shape):
        unit = np.zeros(wrt.shape)
        unit[e] = 1.0
        total = np.zeros(expr.shape)
        for k, v in enumerate(case.operands):
            if v == wrt:
                args = list(arrays)
                args[k] = unit
                total = total + np.einsum(case.subscripts, *args)
        out[(...,) + e] = total
    return out


@given(einsum_cases(), seeds)
def test_einsum_value_matches_numpy(case, seed):
    b = bindings_for(case.variables(), seed)
    note(f"{case.subscripts} {[v.shape for v in case.operands]}")
    want = np.einsum(case.subscripts, *(b[v.name] for v in case.operands))
    got = ed.evaluate(case.expr(), **b)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@given(einsum_cases(), seeds)
def test_einsum_jacobian_every_operand(case, seed):
    """Jacobian with respect to every operand: exact product rule via numpy.einsum, and
    central finite differences."""
    b = bindings_for(case.variables(), seed)
    expr = case.expr()
    note(f"{case.subscripts} {[v.shape for v in case.operands]}\n{expr}")
    for v in case.variables():
        jac = ed.jacobian(expr, v)
        note(f"d/d{v.name}: {jac}")
        got = ed.evaluate(jac, **b)
        assert got.shape == expr.shape + v.shape
        np.testing.assert_allclose(got, _unit_substitution_jacobian(case, v, b), rtol=1e-12, atol=1e-12)
    check_jacobian(expr, case.variables(), b)


@given(einsum_cases(max_size=2), seeds)
def test_einsum_jacobian_brute_force(case, seed):
    b = bindings_for(case.variables(), seed)
    expr = case.expr()
    for v in case.variables():
        np.testing.assert_allclose(
            ed.evaluate(ed.jacobian(expr, v), **b), brute_force_jacobian(expr, v, b), rtol=1e-12, atol=1e-12
        )


def _smooth_enough(expr, b):
    return kink_distance(expr, b) > 1e-3


@given(expressions(max_depth=4), seeds)
def test_composition_value_and_jacobian(expr, seed):
    vs = variables(expr)
    b = bindings_for(vs, seed)
    note(f"f = {expr}\nbindings = {b!r}")
    assume(_smooth_enough(expr, b))
    value = ed.evaluate(expr, **b)
    assume(np.all(np.isfinite(value)))
    check_jacobian(expr, vs, b)


@given(expressions(max_depth=3, max_size=2), seeds)
def test_composition_brute_force(expr, seed):
    vs = variables(expr)
    b = bindings_for(vs, seed)
    note(f"f = {expr}\nbindings = {b!r}")
    np.testing.assert_allclose(ed.evaluate(expr, **b), brute_force_value(expr, b), rtol=1e-10, atol=1e-10)
    for v in vs:
        jac = ed.jacobian(expr, v)
        note(f"d/d{v.name}: {jac}")
        want = brute_force_jacobian(expr, v, b)
        np.testing.assert_allclose(ed.evaluate(jac, **b), want, rtol=1e-9, atol=1e-9 * (1 + np.abs(want).max(initial=0)))


@settings(max_examples=80)  # a brute-force determinant loops over permutations: slow per example
@given(expressions(max_depth=3, max_size=2, functions=True), seeds)
def test_functions_of_whole_tensors_brute_force(expr, seed):
    """The loop oracle covers every node type: inv, det, logdet, solve, logsumexp, where ..."""
    vs = variables(expr)
    b = bindings_for(vs, seed)
    note(f"f = {expr}\nbindings = {b!r}")
    value = ed.evaluate(expr, b)
    assume(np.all(np.isfinite(value)))
    np.testing.assert_allclose(value, brute_force_value(expr, b), rtol=1e-9, atol=1e-9 * (1 + np.abs(value).max(initial=0)))
    for v in vs:
        want = brute_force_jacobian(expr, v, b)
        np.testing.assert_allclose(ed.evaluate(ed.jacobian(expr, v), b), want, rtol=1e-8,
                                   atol=1e-8 * (1 + np.abs(want).max(initial=0)))


@given(expressions(max_depth=3), seeds, st.sampled_from(["C", "F"]))
def test_jacobian_matrix_is_reshaped_jacobian(expr, seed, order):
    vs = variables(expr)
    b = bindings_for(vs, seed)
    for v in vs:
        tensor = ed.evaluate(ed.jacobian(expr, v), **b)
        matrix = ed.evaluate(ed.jacobian_matrix(expr, v, order=order), **b)
        assert matrix.shape == (expr.size, v.size)
        for out_index in np.ndindex(*expr.shape):
            for in_index in np.ndindex(*v.shape):
                r = np.ravel_multi_index(out_index, expr.shape, order=order) if expr.shape else 0
                c = np.ravel_multi_index(in_index, v.shape, order=order) if v.shape else 0
                assert matrix[r, c] == tensor[out_index + in_index]


@settings(max_examples=max(20, settings.default.max_examples // 5))  # the testing guide's property, checked harder
@given(expressions(max_depth=3, smooth=True), seeds)
def test_the_testing_guides_smooth_expressions_need_no_kink_guard(expr, seed):
    assert all(
        not (hasattr(n, "fn") and n.fn in ("relu", "abs", "step", "sign")) for n in ed.compile([expr]).nodes
    )
    vs = variables(expr)
    check_jacobian(expr, vs, bindings_for(vs, seed))


@given(expressions_with_reference(max_depth=4), seeds)
def test_simplified_value_equals_the_unsimplified_numpy_construction(ref, seed):
    """Flattening, delta elimination, merging and factoring preserve the value: the same
    random construction carried out in plain numpy agrees."""
    b = bindings_for(ref.variables, seed)
    note(f"f = {ref.expr}")
    want = ref.numpy(b)
    np.testing.assert_allclose(ed.evaluate(ref.expr, **b), want, rtol=1e-10, atol=1e-10 * (1 + np.abs(want).max(initial=0)))


@given(expressions_with_reference(max_depth=3, smooth=True), seeds)
def test_jacobian_matches_finite_differences_of_the_numpy_construction(ref, seed):
    """An oracle that shares no code with einsdiff: central differences of plain numpy."""
    b = bindings_for(ref.variables, seed)
    note(f"f = {ref.expr}")
    for v in ref.variables:
        got = ed.evaluate(ed.jacobian(ref.expr, v), **b)
        want = _numpy_differences(ref, v, b)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * (1 + np.abs(want).max(initial=0)))


def _numpy_differences(ref, v, b, eps=1e-6):
    """Central differences of the numpy construction with respect to ``v``."""
    want = np.zeros(ref.expr.shape + v.shape)
    for e in np.ndindex(*v.shape):
        plus, minus = dict(b), dict(b)
        plus[v.name], minus[v.name] = b[v.name].copy(), b[v.name].copy()
        plus[v.name][e] += eps
        minus[v.name][e] -= eps
        want[(...,) + e] = (ref.numpy(plus) - ref.numpy(minus)) / (2 * eps)
    return want


@given(expressions(max_depth=4), seeds)
def test_simplification_is_idempotent_and_deterministic(expr, seed):
    """Rebuilding through the smart constructors changes nothing: every node is already simplified."""
    for e in (expr, *(ed.jacobian(expr, v) for v in variables(expr))):
        again = ed.simplify(e)
        assert again == e and hash(again) == hash(e) and str(again) == str(e)


# -- compositions with functions of whole tensors ------------------------------------------------
# inv, det, logdet, slogdet and solve of well-conditioned matrices (batched or not), logsumexp,
# softmax, where, maximum, minimum, norm and softplus, drawn by functions=True.


def _differentiable_here(expr, b):
    """Finite differences are valid: away from kinks, switches of where, and a norm's zero."""
    return finite_difference_margin(expr, b) > 1e-3


def _finite(expr, b):
    """Overflow (exp of exp of ...) would compare inf with nan: such draws say nothing."""
    return bool(np.all(np.isfinite(ed.evaluate(expr, **b))))


def _close(got, want, rtol):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * (1 + np.abs(want).max(initial=0)))


@given(expressions_with_reference(max_depth=3, functions=True), seeds)
def test_functions_value_equals_the_numpy_twin(ref, seed):
    b = bindings_for(ref.variables, seed)
    note(f"f = {describe(ref.expr)}\nbindings = {b!r}")
    _close(ed.evaluate(ref.expr, **b), ref.numpy(b), 1e-9)


@given(expressions_with_reference(max_depth=3, functions=True), seeds)
def test_functions_jacobian_matches_finite_differences_of_the_numpy_twin(ref, seed):
    b = bindings_for(ref.variables, seed)
    note(f"f = {describe(ref.expr)}\nbindings = {b!r}")
    assume(_finite(ref.expr, b) and _differentiable_here(ref.expr, b))
    for v in ref.variables:
        jac = ed.jacobian(ref.expr, v)
        note(f"d/d{v.name}: {describe(jac)}")
        _close(ed.evaluate(jac, **b), _numpy_differences(ref, v, b), 1e-5)
