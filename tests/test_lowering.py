"""Lowering (einsdiff.engine.lowering): the straight-line source a compiled call runs gives
what the step interpreter gives, and what numpy computes independently."""

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.engine.lowering import lower, source_names
from einsdiff.engine.program import compile_program
from einsdiff.ir.variables import variables
from einsdiff.testing import bindings_for, einsum_cases, expressions
from einsdiff.testing.strategies import expressions_with_reference

seeds = st.integers(0, 2**32 - 1)


def interpreted(f, bindings: dict) -> list:
    """The outputs of ``f`` from the step interpreter: a fresh compile's first call."""
    return ed.compile(f.outputs)(bindings)


def assert_same(got, want, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert (got.shape, got.dtype) == (want.shape, want.dtype), what
    scale = 1 + np.abs(want).max(initial=0)
    rtol = 1e-12 if want.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=what)


def lowered(f, bindings: dict) -> list:
    """A compiled function's call from the second on: the lowered program."""
    f(bindings)
    return f(bindings)


def check(exprs: list, bindings: dict):
    f = ed.compile(exprs)
    for got, want, e in zip(lowered(f, bindings), interpreted(f, bindings), exprs, strict=True):
        assert_same(got, want, str(e))


@settings(max_examples=150)  # of 500 in CI's profile: the suite's time budget
@given(expressions(max_depth=4), seeds)
def test_random_expressions_and_their_jacobians_match_the_interpreter(expr, seed):
    vs = variables(expr)
    check([expr, *(ed.jacobian(expr, v) for v in vs)], bindings_for(vs, seed))


@settings(max_examples=40)
@given(expressions(max_depth=3, functions=True), seeds)
def test_functions_of_whole_tensors_match_the_interpreter(expr, seed):
    vs = variables(expr)
    check([expr, *(ed.jacobian(expr, v) for v in vs)], bindings_for(vs, seed))


@settings(max_examples=150)  # of 500 in CI's profile: the suite's time budget
@given(expressions_with_reference(max_depth=4), seeds)
def test_random_expressions_match_numpy(ref, seed):
    bindings = bindings_for(ref.variables, seed)
    (got,) = lowered(ed.compile(ref.expr), bindings)
    want = ref.numpy(bindings)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * (1 + np.abs(want).max(initial=0)))


@settings(max_examples=150)  # of 500 in CI's profile: the suite's time budget
@given(einsum_cases(max_operands=4), seeds)
def test_random_einsums_match_numpy_einsum(case, seed):
    note(case.subscripts)
    bindings = bindings_for(case.variables(), seed)
    (got,) = lowered(ed.compile(case.expr()), bindings)
    want = np.einsum(case.subscripts, *(bindings[v.name] for v in case.operands))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * (1 + np.abs(want).max(initial=0)))


@pytest.mark.skipif(np.lib.NumpyVersion(np.__version__) < "2.0.0",
                    reason="numpy 1.x casts 0-d and constant float32 results by value (to float64) in places")
@settings(max_examples=150)  # of 500 in CI's profile: the suite's time budget
@given(expressions(max_depth=3), seeds)
def test_float32_inputs_stay_float32(expr, seed):
    vs = variables(expr)
    bindings = {k: v.astype(np.float32) for k, v in bindings_for(vs, seed).items()}
    check([expr, *(ed.jacobian(expr, v) for v in vs)], bindings)


def _table():
    rng = np.random.default_rng(3)
    A, W, X, x = ed.var("A", (4, 3)), ed.var("W", (3, 3)), ed.var("X", (2, 3)), ed.var("x", (3,))
    T = ed.var("T", (2, 3, 4))
    K, N = 600, 80  # 2 K N² flops: compile runs the Hessian in its Gram form
    Z, w = ed.var("Z", (K, N)), ed.var("w", (N,))
    cases = {
        "delta": [ed.jacobian(X, X), ed.jacobian(A @ x, A), ed.jacobian(ed.einsum("ii->i", W), W)],
        "delta added into a dense term": [ed.jacobian(x + W @ x, x)],
        "broadcast": [X + x, ed.jacobian(ed.sum(X), X), ed.jacobian(ed.einsum("i,j->ij", x, x), x)],
        "transposes and batches": [ed.einsum("bij,jk->kib", T, ed.var("B", (4, 3))),
                                   ed.einsum("bij,bkj->bik", T, ed.var("C", (2, 5, 4)))],
        "trace and diagonal": [ed.einsum("ii->", W), ed.einsum("ii,i->i", W, x)],
        "scaled outer": [3 * ed.einsum("i,j->ij", x, x)],
        "gram": [ed.hessian(ed.sum(ed.softplus(Z @ w)), w)],
        "scalar": [ed.sum(x) * ed.sum(x), ed.grad(ed.sum(x) ** 2, x)],
    }
    values = {"A": rng.normal(size=(4, 3)), "W": rng.normal(size=(3, 3)), "X": rng.normal(size=(2, 3)),
              "x": rng.normal(size=3), "T": rng.normal(size=(2, 3, 4)), "B": rng.normal(size=(4, 3)),
              "C": rng.normal(size=(2, 5, 4)), "Z": rng.normal(size=(K, N)) / 10, "w": rng.normal(size=N) / 5}
    return cases, values


CASES, VALUES = _table()


@pytest.mark.parametrize("case", sorted(CASES))
def test_table_matches_the_interpreter(case):
    exprs = CASES[case]
    check(exprs, {v.name: VALUES[v.name] for v in variables(*exprs)})


def test_calls_from_the_second_on_run_the_lowered_program():
    x = ed.var("x", (3,))
    f = ed.compile(x @ x)
    f(x=np.ones(3))
    assert f._lowered is None  # one call (ed.evaluate's) does not pay for lowering
    assert f(x=np.ones(3))[0] == 3.0 and f._lowered is not None


def test_the_gram_form_is_kept():
    (h,) = CASES["gram"]
    assert "_gram(" in lower(compile_program([h])).body


def test_a_small_gradient_is_plain_matrix_products():
    A, x, y = ed.var("A", (5, 3)), ed.var("x", (3,)), ed.var("y", (5,))
    body = lower(compile_program([ed.grad(ed.sum(ed.square(A @ x - y)), x)])).body
    assert "A @ x" in body and "einsum" not in body and "optimize" not in body


def test_results_never_share_memory_with_inputs():
    X, x = ed.var("X", (2, 3)), ed.var("x", (3,))
    a, b = np.arange(6.0).reshape(2, 3), np.ones(3)
    for out in lowered(ed.compile([X, X.T, ed.einsum("ij->ji", X), x * 1]), {"X": a, "x": b}):
        assert out.flags.writeable and not np.shares_memory(out, a) and not np.shares_memory(out, b)


def test_variables_with_names_python_cannot_use():
    x, y = ed.var("lambda", (2,)), ed.var("np", (2,))
    (got,) = lowered(ed.compile(x * y), {"lambda": np.array([1.0, 2.0]), "np": np.array([3.0, 4.0])})
    assert got.tolist() == [3.0, 8.0]
    assert source_names(["lambda", "v0", "np"]) == {"lambda": "v1", "v0": "v0", "np": "v2"}


def test_a_large_program_drops_each_intermediate_after_its_last_use():
    x = ed.var("x", (300,))
    W = [ed.var(f"W{k}", (300, 300)) for k in range(3)]
    h = x
    for w in W:
        h = ed.sin(w @ h)
    lines = lower(compile_program([ed.jacobian(h, x)])).lines
    assert any(line.startswith("del ") for line in lines)
    small = lower(compile_program([ed.grad(ed.sum(ed.square(W[0][:5, :3] @ x[:3])), x)])).lines
    assert not any(line.startswith("del ") for line in small)


def test_a_singular_matrix_is_an_evaluation_error_in_the_lowered_program():
    X = ed.var("X", (3, 3))
    f = ed.compile(ed.inv(X))
    f(X=np.eye(3))
    f(X=np.eye(3))
    with pytest.raises(ed.EvaluationError, match="singular"):
        f(X=np.ones((3, 3)))
