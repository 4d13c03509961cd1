"""Evaluation: compile once and run many, deltas written onto diagonals, dtypes, NaN."""

import numpy as np
import pytest

import einsdiff as ed
from einsdiff.ir.expr import Add, Call, Contract


def test_compile_plans_once_and_returns_a_list():
    A, x = ed.var("A", (3, 2)), ed.var("x", (2,))
    loss = ((A @ x) * (A @ x)).sum()
    fn = ed.compile([loss, ed.grad(loss, A), ed.grad(loss, x)])
    rng = np.random.default_rng(1)
    for _ in range(3):
        a, xv = rng.normal(size=(3, 2)), rng.normal(size=2)
        value, ga, gx = fn(A=a, x=xv)
        r = a @ xv
        np.testing.assert_allclose(value, r @ r)
        np.testing.assert_allclose(ga, 2 * np.outer(r, xv))
        np.testing.assert_allclose(gx, 2 * a.T @ r)


def test_output_delta_is_a_diagonal_not_an_identity_operand():
    A, W = ed.var("A", (2, 3)), ed.var("W", (3, 4))
    J = ed.jacobian(A @ W, W)  # J[i,k,a,b] = A[i,a] δ[k,b]
    assert isinstance(J, Contract)
    assert J.operands == (A,)  # no dense identity among the operands
    assert len(set(J.output)) < len(J.output)  # the delta lives in the repeated output index
    a = np.arange(6.0).reshape(2, 3)
    want = np.einsum("ia,kb->ikab", a, np.eye(4))
    np.testing.assert_array_equal(ed.evaluate(J, A=a, W=np.zeros((3, 4))), want)


def test_identity_of_a_variable():
    X = ed.var("X", (2, 3))
    J = ed.jacobian(X, X)
    assert str(J) == "f[i,j,k,l] = δ[i,k] δ[j,l]; i:2, j:3, k:2, l:3"
    np.testing.assert_array_equal(ed.evaluate(J, X=np.zeros((2, 3))), np.eye(6).reshape(2, 3, 2, 3))


def test_float32_in_float32_out():
    x = ed.var("x", (3,))
    f = (ed.tanh(x) * ed.sigmoid(x) + 1).sum()
    b = {"x": np.array([0.1, -0.2, 0.3], dtype=np.float32)}
    for expr in (f, ed.grad(f, x), ed.hessian(f, x), ed.jacobian(x, x)):
        assert ed.evaluate(expr, **b).dtype == np.float32


def test_float64_by_default_and_ints_become_float64():
    x = ed.var("x", (2,))
    assert ed.evaluate(x * 2, x=[1, 2]).dtype == np.float64
    assert ed.evaluate(ed.jacobian(x, x), x=[1, 2]).dtype == np.float64


def test_nan_and_inf_propagate():
    x = ed.var("x", (3,))
    f = ed.relu(x) * 2 + ed.exp(x)
    with np.errstate(all="ignore"):
        value = ed.evaluate(f, x=np.array([np.nan, np.inf, 1.0]))
        grad = ed.evaluate(ed.grad(f.sum(), x), x=np.array([np.nan, np.inf, 1.0]))
    assert np.isnan(value[0]) and np.isinf(value[1]) and np.isfinite(value[2])
    assert np.isnan(grad[0]) and np.isfinite(grad[2])


def test_unused_bindings_are_accepted():
    x, y = ed.var("x", (2,)), ed.var("y", (2,))
    f = (x * y).sum()
    g = ed.grad(f, x)  # depends on y only
    np.testing.assert_array_equal(ed.evaluate(g, x=np.ones(2), y=np.array([3.0, 4.0]), z=5), [3.0, 4.0])


def test_results_are_writable_arrays():
    x = ed.var("x", (3,))
    out = ed.evaluate(ed.jacobian(x.sum(), x), x=np.ones(3))  # all-ones: a broadcast inside
    out[0] = 7.0
    assert out.tolist() == [7.0, 1.0, 1.0]


def test_shared_subexpression_is_one_node():
    x = ed.var("x", (3,))
    h = ed.tanh(x)
    fn = ed.compile([h * h, h + 1])
    assert sum(1 for n in fn.nodes if n == h) == 1


def test_expr_method_evaluate_and_zero_jacobian():
    x, y = ed.var("x", (2,)), ed.var("y", (3,))
    assert (x * 3).evaluate(x=np.ones(2)).tolist() == [3.0, 3.0]
    z = ed.jacobian(x * 3, y)
    assert z.shape == (2, 3)
    np.testing.assert_array_equal(z.evaluate(x=np.ones(2)), np.zeros((2, 3)))


def test_plan_and_profile_describe_every_contraction():
    A, x = ed.var("A", (30, 20)), ed.var("x", (20,))
    loss = ed.tanh(A @ x).sum()
    fn = ed.compile([loss, ed.grad(loss, A)])
    plan = str(fn.plan).splitlines()
    assert plan[-1] == f"total: {fn.plan.total_flops:,} flops in {len(fn.plan.contractions)} contraction(s)"
    assert fn.plan.total_flops == sum(c.flops for c in fn.plan.contractions) > 0
    assert len(plan) == len(fn.plan.contractions) + 1
    assert all("->" in line and "largest intermediate" in line for line in plan[:-1])
    profile = fn.profile(repeat=2, A=np.ones((30, 20)), x=np.ones(20)).splitlines()
    assert len(profile) == len(fn.steps) + 1 and profile[-1].endswith("total")
    assert sum(line.endswith("<- slowest") for line in profile) == 1


def test_a_solve_reuses_the_inverse_computed_anyway():
    # ∇ (log det S + tr(S⁻¹ C)) = S⁻ᵀ − S⁻ᵀ Cᵀ S⁻ᵀ needs inv(S) and solve(S, C): one LU, not two.
    S, C, b = ed.var("S", (5, 5)), ed.var("C", (5, 5)), ed.var("b", (5,))
    g = ed.grad(ed.logdet(S) + ed.trace(ed.solve(S, C)), S)
    h = ed.inv(S) + ed.outer(ed.solve(S, b), b)  # a vector right side too
    rng = np.random.default_rng(3)
    Sv, Cv, bv = rng.normal(size=(5, 5)) + 5 * np.eye(5), rng.normal(size=(5, 5)), rng.normal(size=5)
    f = ed.compile([g, h])
    assert [n.fn for n in f.nodes if isinstance(n, Call)] == ["inv"]
    inv = np.linalg.inv(Sv)
    got_g, got_h = f(S=Sv, C=Cv, b=bv)
    np.testing.assert_allclose(got_g, inv.T - (inv @ Cv @ inv).T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_h, inv + np.outer(np.linalg.solve(Sv, bv), bv), rtol=1e-12, atol=1e-12)
    alone = ed.compile(ed.solve(S, C))  # no inverse to reuse: numpy's solve, as written
    assert [n.fn for n in alone.nodes if isinstance(n, Call)] == ["solve"]


def test_a_sum_operand_is_distributed_when_its_terms_cost_less():
    # ∇² logsumexp(Ax) = (A − 𝟙 pᵀA)ᵀ diag(p) A: per term, a Gram form and a rank-one product,
    # fewer flops than the product with the dense difference (which is then never made).
    A, x = ed.var("A", (800, 80)), ed.var("x", (80,))  # big enough for the Gram form
    f = ed.compile(ed.hessian(ed.logsumexp(A @ x), x))
    lines = str(f.plan).splitlines()
    assert any(line.endswith("(symmetric: Gram form, one triangle)") for line in lines), f.plan
    assert not any(isinstance(n, Add) and n.shape == (80, 800) for n in f.nodes)  # no dense A − 𝟙 pᵀA
    rng = np.random.default_rng(4)
    a, x0 = rng.normal(size=(800, 80)) / 10, rng.normal(size=80)
    z = a @ x0
    p = np.exp(z - z.max())
    p /= p.sum()
    np.testing.assert_allclose(f(A=a, x=x0)[0], (a * p[:, None]).T @ a - np.outer(a.T @ p, a.T @ p), rtol=1e-10, atol=1e-14)


# -- bindings and options never share a namespace ---------------------------------------

@pytest.mark.parametrize("name", ["backend", "format", "order", "mode", "repeat", "expr", "bindings", "self"])
def test_a_variable_may_have_any_name_when_bound_by_a_mapping(name):
    v = ed.var(name, (2,))
    e = 2 * v
    value = np.array([1.0, -3.0])
    np.testing.assert_array_equal(ed.evaluate(e, {name: value}), [2.0, -6.0])
    np.testing.assert_array_equal(e.evaluate({name: value}), [2.0, -6.0])
    fn = ed.compile([e, ed.grad((v * v).sum(), v)])
    np.testing.assert_array_equal(fn({name: value})[1], [2.0, -6.0])
    assert fn.profile({name: value}, repeat=1).endswith("total")
    J = ed.jacobian_matrix(ed.tanh(v), v, {name: np.zeros(2)}, order="F", format="sparse")
    np.testing.assert_array_equal(J.toarray(), np.eye(2))


@pytest.mark.parametrize("name", ["backend", "format"])
def test_a_keyword_that_is_both_option_and_variable_is_a_clear_error(name):
    e = 2 * ed.var(name, (2,))
    with pytest.raises(ed.BindingError, match=rf"variable '{name}' has the name of evaluate's option {name}=.*mapping"):
        ed.evaluate(e, **{name: np.ones(2)})


def test_options_are_keyword_only_and_bindings_come_once():
    x = ed.var("x", (2,))
    with pytest.raises(TypeError):
        ed.evaluate(x, {"x": np.ones(2)}, "dense")  # format must be named
    with pytest.raises(ed.BindingError, match="'x' is bound twice"):
        ed.evaluate(x, {"x": np.ones(2)}, x=np.ones(2))
    with pytest.raises(ed.BindingError, match="as a mapping of names to arrays.*got list"):
        ed.evaluate(x, [np.ones(2)])
    with pytest.raises(ed.OptionError, match="format must be 'dense' or 'sparse'"):
        ed.evaluate(x, {"x": np.ones(2)}, format=np.ones(2))
    with pytest.raises(ed.BindingError, match="option order="):
        ed.jacobian_matrix(ed.var("order", (2,)) * x, x, order=np.ones(2), format="sparse", x=np.ones(2))
    with pytest.raises(ed.BindingError, match="option repeat="):
        ed.compile(ed.var("repeat", ())).profile(repeat=np.ones(()))


def test_scipy_helpers_take_constants_as_a_mapping():
    x, hf = ed.var("x", (2,)), ed.var("hess_format", (2,))
    obj = ed.scipy_objective(((x - hf) ** 2).sum(), x, {"hess_format": np.array([1.0, 2.0])})
    assert obj.fun(np.zeros(2)) == 5.0
    res = ed.scipy_residuals(x - hf, x, {"hess_format": np.array([1.0, 2.0])}, jac_format="dense")
    np.testing.assert_array_equal(res.jac(np.zeros(2)), np.eye(2))
