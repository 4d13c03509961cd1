"""The compiled program: built once per compile, run by ``Compiled``, printed by
``to_numpy_code`` step for step, and summarized by a ``Plan`` record."""

import dataclasses
import re

import numpy as np
import pytest

import einsdiff as ed
from einsdiff.engine import paths
from einsdiff.engine.program import Plan, WeightedSum
from einsdiff.ir.layout import layout
from einsdiff.engine.lowering import lower

K, N = 600, 80  # 2 K N² flops: above the Gram form's threshold
rng = np.random.default_rng(11)


def _logistic_hessian():
    X, w, y = ed.var("X", (K, N)), ed.var("w", (N,)), ed.var("y", (K,))
    z = X @ w
    return ed.hessian(ed.sum(ed.softplus(z) - y * z), w), dict(X=rng.normal(size=(K, N)) / 10, w=rng.normal(size=N) / 5,
                                                               y=rng.random(K))


def _twins_hessian():
    A, B, x = ed.var("A", (K, N)), ed.var("B", (K, N)), ed.var("x", (N,))
    return ed.hessian(ed.sum((A @ x) * (B @ x)), x), dict(A=rng.normal(size=(K, N)), B=rng.normal(size=(K, N)),
                                                          x=rng.normal(size=N))


def _mlp_gradient():
    W1, W2, x = ed.var("W1", (7, 5)), ed.var("W2", (3, 7)), ed.var("x", (5,))
    loss = ed.sum(ed.tanh(W2 @ ed.tanh(W1 @ x)) ** 2)
    return ed.grad(loss, W1), dict(W1=rng.normal(size=(7, 5)), W2=rng.normal(size=(3, 7)), x=rng.normal(size=5))


CASES = {"logistic hessian": _logistic_hessian, "twins hessian": _twins_hessian, "mlp gradient": _mlp_gradient}


def _run(source: str, bindings: dict):
    """The generated function called with the arguments it takes (a Hessian may not need every variable)."""
    namespace = {}
    exec(compile(source, "<generated>", "exec"), namespace)
    f = namespace["f"]
    return f(**{k: v for k, v in bindings.items() if k in f.__code__.co_varnames[: f.__code__.co_argcount]})


@pytest.mark.parametrize("case", CASES)
def test_generated_code_prints_the_steps_compile_runs(case):
    """The code's body is the program compile runs, lowered (each contraction a line per
    pairwise step of compile's order, or compile's Gram form), and nothing else."""
    expr, bindings = CASES[case]()
    program = ed.compile(expr).program
    code = ed.to_numpy_code(expr)
    assert "".join(f"    {line}\n" for line in lower(program).lines) in code, code
    grams = [c for c in program.plan.contractions if c.form == "gram"]
    assert code.count("= _gram(") == len(grams)
    (want,) = ed.compile(expr)(bindings)
    got = _run(code, bindings)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_generated_code_of_a_gram_able_hessian_uses_the_gram_form():
    """Xᵀ diag(c) X: compile runs it as one triangle through syrk, and so does the code."""
    expr, bindings = _logistic_hessian()
    assert [c.form for c in ed.compile(expr).plan.contractions].count("gram") == 1
    code = ed.to_numpy_code(expr)
    assert "def _gram(" in code and "_gram(" in code.split("def f(")[1], code
    got = _run(code, bindings)
    assert np.array_equal(got, got.T)  # one triangle, mirrored: exactly symmetric
    (want,) = ed.compile(expr)(bindings)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_generated_code_reads_a_transposed_twin_as_a_transpose():
    """AᵀB + BᵀA: one product, then its transpose, as compile computes it."""
    expr, bindings = _twins_hessian()
    step = next(s for s in ed.compile(expr).steps if isinstance(s.plan, WeightedSum))
    assert len(step.plan.twins) == 1
    code = ed.to_numpy_code(expr)
    body = code.split("def f(")[1]
    assert body.count(" @ ") == 1 and ".transpose((1, 0))" in body, code
    got = _run(code, bindings)
    a, b = bindings["A"], bindings["B"]
    np.testing.assert_allclose(got, a.T @ b + b.T @ a, rtol=1e-12, atol=1e-12 * np.abs(got).max())


def _counting_searches(monkeypatch) -> list:
    calls = []
    search = paths.contraction_path

    def counted(equation, shapes):
        calls.append(equation)
        return search(equation, shapes)

    monkeypatch.setattr(paths, "contraction_path", counted)
    return calls


@pytest.mark.parametrize("case", CASES)
def test_generated_code_searches_exactly_as_compile_does(case, monkeypatch):
    """to_numpy_code plans through the program, not with a path search of its own."""
    expr, _ = CASES[case]()
    calls = _counting_searches(monkeypatch)
    ed.compile(expr)
    compiled = list(calls)
    calls.clear()
    ed.to_numpy_code(expr)
    assert calls == compiled


def test_plan_is_a_record_computed_once():
    expr, _ = _mlp_gradient()
    f = ed.compile(expr)
    plan = f.plan
    assert isinstance(plan, Plan) and f.plan is plan
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.total_flops = 0
    assert plan.total_flops == sum(c.flops for c in plan.contractions) > 0
    assert plan.largest_intermediate == max(c.largest_intermediate for c in plan.contractions)
    assert plan.peak_elements == max(s.dense_elements for s in f.steps)
    lines = str(plan).splitlines()
    assert lines[-1] == f"total: {plan.total_flops:,} flops in {len(plan.contractions)} contraction(s)"
    for line, c in zip(lines, plan.contractions, strict=False):
        assert line == (f"{c.equation}: {c.flops:,} flops, largest intermediate {c.largest_intermediate:,}"
                        f" elements -> shape {c.node.shape}")


def test_reading_the_plan_searches_no_path(monkeypatch):
    expr, _ = _logistic_hessian()
    f = ed.compile(expr)
    calls = _counting_searches(monkeypatch)
    text = str(f.plan)
    assert "(symmetric: Gram form, one triangle)" in text and not calls


def test_steps_carry_their_layout_and_costs():
    expr, _ = _mlp_gradient()
    f = ed.compile(expr)
    for step in f.steps:
        if step.layout is not None:
            assert step.layout is layout(step.node) and step.flops == step.plan.flops
    assert sum(s.flops for s in f.steps) == f.plan.total_flops
