"""The hypothesis strategies (einsdiff.testing.strategies): what they draw is valid, uses the
variables asked for, and carries a numpy twin that agrees with it."""

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.expr import Map
from einsdiff.ir.variables import topological, variables
from einsdiff.testing import (
    FUNCTION_KINDS,
    Reference,
    bindings_for,
    describe,
    einsum_cases,
    expressions,
    nested_tanh_formula,
)

seeds = st.integers(0, 2**32 - 1)


def test_bindings_are_seeded_float64_within_bounds():
    vs = (ed.var("a", (2, 3)), ed.var("s", ()))
    first, again = bindings_for(vs, 7), bindings_for(vs, 7, -1.0, 1.0)
    assert all(np.array_equal(first[v.name], again[v.name]) and first[v.name].dtype == np.float64 for v in vs)
    assert first["a"].shape == (2, 3) and not np.array_equal(first["a"], bindings_for(vs, 8)["a"])
    assert np.all((2.0 <= bindings_for(vs, 1, 2.0, 3.0)["a"]) & (bindings_for(vs, 1, 2.0, 3.0)["a"] < 3.0))


@settings(max_examples=100)
@given(einsum_cases(), seeds)
def test_every_einsum_case_is_one_numpy_accepts(case, seed):
    b = bindings_for(case.variables(), seed)
    np.einsum(case.subscripts, *(b[v.name] for v in case.operands))  # raises on an invalid equation
    assert case.expr().shape == np.einsum(case.subscripts, *(b[v.name] for v in case.operands)).shape
    assert len(set(case.variables())) == len(case.variables())


@settings(max_examples=30)  # each example compiles an expression: a few dozen say it
@given(st.data())
def test_expressions_use_the_variables_they_are_given_and_leave_out_kinks_when_smooth(data):
    u = ed.var("u", (2, 3))
    expr = data.draw(expressions(max_depth=3, over=(u,), smooth=True))
    note(describe(expr))
    assert set(variables(expr)) <= {u}
    assert not any(isinstance(n, Map) and n.fn in ("relu", "abs") for n in topological([expr]))


@pytest.mark.parametrize("kind", FUNCTION_KINDS)
@settings(max_examples=20)
@given(data=st.data(), seed=seeds)
def test_each_function_kind_agrees_with_its_numpy_twin(kind, data, seed):
    v, w = ed.var("v", (3, 2)), ed.var("w", (2,))

    def leaf(var):
        return Reference(var, lambda b: b[var.name])

    drawn = FUNCTION_KINDS[kind](data.draw, leaf(v), lambda: leaf(w))
    b = bindings_for((v, w), seed)
    note(describe(drawn.expr))
    value = ed.evaluate(drawn.expr, b)
    assert np.all(np.isfinite(value))  # well conditioned by construction
    np.testing.assert_allclose(value, drawn.numpy(b), rtol=1e-9, atol=1e-12)


def test_the_nested_tanh_formula_parses_at_every_depth_it_allows():
    assert nested_tanh_formula(1) == "L = sum[j](tanh(A[j,t]*x[t]))"
    for depth in (1, 5, 38):
        assert ed.parse(nested_tanh_formula(depth), A=(2, 2), x=(2,)).shape == ()
    with pytest.raises(ValueError, match="depth 39: give 1 to 38"):
        nested_tanh_formula(39)
