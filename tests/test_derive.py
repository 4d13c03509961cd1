"""The derivative rules (einsdiff.calculus.derive): one table case per node type and per
function, each checked in both accumulation modes against the brute-force loop oracle and,
to second order, against finite differences; then properties over random compositions."""

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir import expr as nodes
from einsdiff.ir.expr import Map, Materialize
from einsdiff.ir.functions import FUNCTIONS
from einsdiff.ir.functions.spectral import directional
from einsdiff.ir.ops import OPS
from einsdiff.ir.simplify import substitute
from einsdiff.ir.variables import topological, variables
from einsdiff.testing import (
    bindings_for,
    brute_force_jacobian,
    check_jacobian,
    describe,
    expressions,
    finite_difference_margin,
    kink_distance,
)

seeds = st.integers(0, 2**32 - 1)
x, X, z = ed.var("x", (3,)), ed.var("X", (2, 2)), ed.var("z", (2,))
# x positive (log, sqrt, fractional powers), z with both signs, X well conditioned with det X > 0;
# every argument of a kink (relu, abs, step, sign, where) at least 0.3 from it.
AT = {"x": np.array([0.6, 1.1, 1.4]), "z": np.array([0.4, -0.7]), "X": np.array([[2.0, 0.5], [-0.3, 1.5]])}
POWER = 1.5

NODES = {  # one case per node type, each with more than one way in
    "var": x,
    "const": x * np.array([1.0, -2.0, 0.5]) + np.array([3.0, 0.0, 1.0]),
    "contract: trace": ed.einsum("ii->", X),
    "contract: one variable twice": ed.einsum("ij,j,j->i", X, z, z),
    "contract: outer product": ed.einsum("i,j->ij", z, x),
    "contract: onto a diagonal": ed.diag(z) @ X,
    "add": 2.0 * x - x * x,
    "reshape": ed.reshape(X @ X, (4,)) * np.arange(1.0, 5.0),
    "materialize": Materialize(X @ z) * z,
}
INSIDE = {"arcsin", "arccos", "tan"}  # defined on (-1, 1), or with poles past it: at half of x
MAPS = {f"map: {fn}": Map(fn, 0.5 * x if fn in INSIDE else x, POWER if fn == "power" else None) for fn in OPS}
CALLS = {
    "call: inv": ed.inv(X), "call: det": ed.det(X), "call: logdet": ed.logdet(X),
    "call: logabsdet": ed.logdet(-X, absolute=True), "call: detsign": ed.slogdet(X)[0] * ed.det(X),
    "call: solve": ed.solve(X, z), "call: logsumexp": ed.logsumexp(ed.einsum("i,j->ij", z, z), 1),
    "call: where": ed.where(z > 0, z * z, 3 * z),
    "call: max": ed.max(ed.einsum("i,j->ij", z, 4 * x * x), 1), "call: min": ed.min(X @ X, 1),
    "call: prod": ed.prod(X * z, 1),
    "call: take": (X @ X)[::-1, [1, 1, 0]] * x[1:, None], "call: put": np.stack([x[[0, 2, 2]] * x, z @ X @ X[:, [0, 1, 1]]]),
    "call: svdvals": ed.svdvals(X) ** 3, "call: svd_u": ed.svd(X[[0, 1, 1]] * x[:, None])[0],
    "call: svd_vh": ed.svd(X.T @ ed.diag(z) + X)[2] * ed.svd(x[None, :2] * X)[2],
    "call: pinv": ed.pinv(X[[0, 1, 1]] * x[:, None]) + ed.pinv(X[:, [0, 1, 1]] * x).T,
    "call: svdgap": FUNCTIONS["svdgap"].builder(X) + FUNCTIONS["svdinv"].builder(X[:, [0, 1, 1]] * x),
    "call: expm": ed.expm(0.5 * X), "call: sqrtm": ed.sqrtm(X) * z, "call: logm": ed.logm(X @ X.T),
    "call: dexpm": directional("expm", X, [X @ X]),
    "call: dsqrtm": directional("sqrtm", X, [ed.einsum("ij,k->ijk", X, z)]),
    "call: dlogm": directional("logm", X, [X, X.T]),
    "call: cholesky": ed.cholesky(X @ X.T + ed.diag(z * z)), "call: tril_half": FUNCTIONS["tril_half"].builder(X @ X),
    "call: eigvalsh and eigvecs": ed.eigh(X + X.T)[1] * ed.eigvalsh(X @ ed.diag(z)),
    "call: eiggap": FUNCTIONS["eiggap"].builder(z * x[1:]),
}
CASES = {**NODES, **MAPS, **CALLS}


def test_the_table_has_every_node_type_and_every_function():
    kinds = {type(n) for e in CASES.values() for n in topological([e])}
    every = {c for c in vars(nodes).values() if isinstance(c, type) and issubclass(c, nodes.Expr) and c is not nodes.Expr}
    assert every <= kinds, f"no case for {sorted(c.__name__ for c in every - kinds)}"
    calls = {name for name, f in FUNCTIONS.items() if f.kind == "call"}  # entries with a Call node
    assert {e.fn for e in CALLS.values() for e in topological([e]) if isinstance(e, nodes.Call)} == calls


@pytest.mark.parametrize("mode", ["forward", "reverse"])
@pytest.mark.parametrize("name", CASES)
def test_the_jacobian_of_each_node_is_the_brute_force_one(name, mode):
    f = CASES[name]  # the oracle's values: test_oracles.py
    for v in variables(f):
        want = brute_force_jacobian(f, v, AT)
        got = ed.evaluate(ed.jacobian(f, v, mode=mode), AT)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=f"{name} by {v.name}: {describe(f)}")


@pytest.mark.parametrize("name", CASES)
def test_second_derivatives_of_each_node_match_finite_differences(name):
    f = CASES[name]
    assert kink_distance(f, AT) > 0.3
    check_jacobian(f, variables(f), AT, order=2)  # every mode, every pair of variables


@pytest.mark.parametrize("name", CASES)
def test_grad_and_hessian_are_the_brute_force_ones(name):
    f = CASES[name].sum()
    for v in variables(f):
        gradient = ed.grad(f, v)
        np.testing.assert_allclose(ed.evaluate(gradient, AT), brute_force_jacobian(f, v, AT), rtol=1e-10, atol=1e-12)
        # the Hessian is the Jacobian of the gradient, taken by the oracle from its own expression
        np.testing.assert_allclose(ed.evaluate(ed.hessian(f, v), AT), brute_force_jacobian(gradient, v, AT),
                                   rtol=1e-9, atol=1e-12, err_msg=name)


def test_a_function_of_one_variable_has_a_zero_jacobian_by_another():
    assert np.array_equal(ed.evaluate(ed.jacobian(ed.det(X), z), AT), np.zeros((2,)))
    assert ed.grad((x * x).sum(), z).shape == (2,)


@pytest.mark.parametrize("derivative", [ed.jacobian, ed.grad, ed.hessian])
def test_each_entry_point_names_its_mistake(derivative):
    f = (x * x).sum()
    with pytest.raises(ed.WrtError, match=r"wrt must be a variable made by ed.var .* got Map of shape \(3,\)"):
        derivative(f, ed.exp(x))
    with pytest.raises(ed.OptionError, match=r"mode must be one of \('auto', 'forward', 'reverse'\), got 'fwd'"):
        derivative(f, x, mode="fwd")
    if derivative is ed.grad:  # only grad insists on a scalar
        with pytest.raises(ed.NotScalarError, match=r"grad needs a scalar expression, got shape \(3,\)"):
            derivative(x * x, x)
    else:
        assert derivative(x * x, x).shape == (3,) * (2 if derivative is ed.jacobian else 3)


# -- properties over random compositions -------------------------------------------------------

# Hessians and derivative networks of whole-tensor functions take a while to plan: a third of
# the profile's examples keeps them near ten seconds each in the CI profile.
_fewer_examples = settings(max_examples=max(20, settings.default.max_examples // 3))


def _smooth_enough(expr, b):
    return kink_distance(expr, b) > 1e-3


def _differentiable_here(expr, b):
    """Finite differences are valid: away from kinks, switches of where, and a norm's zero."""
    return finite_difference_margin(expr, b) > 1e-3


def _finite(expr, b):
    """Overflow (exp of exp of ...) would compare inf with nan: such draws say nothing."""
    return bool(np.all(np.isfinite(ed.evaluate(expr, **b))))


def _close(got, want, rtol):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * (1 + np.abs(want).max(initial=0)))


@given(expressions(max_depth=3), st.data(), seeds)
def test_chain_rule_is_contraction_over_grouped_indices(g, data, seed):
    """d f(g(x))/dx = sum over g's indices of df/dg * dg/dx."""
    u = ed.var("u", g.shape)
    f_u = data.draw(expressions(max_depth=3, over=(u,)))
    composed = substitute(f_u, {u: g})
    xs = variables(g)
    b = bindings_for(xs, seed)
    note(f"g = {g}\nf(u) = {f_u}\nbindings = {b!r}")
    assume(_smooth_enough(composed, b))
    g_value = ed.evaluate(g, **b)
    df_du = ed.evaluate(ed.jacobian(f_u, u), **b, u=g_value)
    for x in xs:
        dg_dx = ed.evaluate(ed.jacobian(g, x), **b)
        want = np.tensordot(df_du, dg_dx, axes=g.ndim)
        got = ed.evaluate(ed.jacobian(composed, x), **b)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * (1 + np.abs(want).max(initial=0)))


@given(expressions(max_depth=3), seeds)
def test_hessian_is_symmetric(expr, seed):
    f = expr.sum()
    vs = variables(f)
    b = bindings_for(vs, seed)
    note(f"f = {f}")
    assume(_smooth_enough(f, b))
    for v in vs:
        h = ed.evaluate(ed.hessian(f, v), **b).reshape(v.size, v.size)
        np.testing.assert_allclose(h, h.T, rtol=1e-10, atol=1e-10 * (1 + np.abs(h).max(initial=0)))
        check_jacobian(ed.grad(f, v), v, b)  # the Hessian is the Jacobian of the gradient


@given(expressions(max_depth=4), seeds)
def test_forward_and_reverse_accumulation_agree(expr, seed):
    """Bottom-up and top-down build different networks for the same tensor."""
    vs = variables(expr)
    b = bindings_for(vs, seed)
    for v in vs:
        fwd = ed.jacobian(expr, v, mode="forward")
        rev = ed.jacobian(expr, v, mode="reverse")
        note(f"f = {expr}\nforward: {fwd}\nreverse: {rev}")
        want = ed.evaluate(fwd, **b)
        np.testing.assert_allclose(ed.evaluate(rev, **b), want, rtol=1e-10, atol=1e-10 * (1 + np.abs(want).max(initial=0)))
        h_fwd = ed.evaluate(ed.hessian(expr.sum(), v, mode="forward"), **b)
        h_rev = ed.evaluate(ed.hessian(expr.sum(), v, mode="reverse"), **b)
        np.testing.assert_allclose(h_rev, h_fwd, rtol=1e-10, atol=1e-10 * (1 + np.abs(h_fwd).max(initial=0)))


@given(expressions(max_depth=4, n_vars=3), seeds)
def test_joint_sweep_over_several_variables(expr, seed):
    """One top-down sweep for a tuple of variables (materializing shared adjoints) gives
    each variable's Jacobian, and the Hessian of a loss built from it is still right."""
    vs = variables(expr)
    b = bindings_for(vs, seed)
    loss = expr.sum()
    note(f"f = {loss}")
    assume(_smooth_enough(loss, b))
    joint = ed.grad(loss, vs)
    for v, g in zip(vs, joint, strict=True):
        single = ed.evaluate(ed.grad(loss, v, mode="forward"), **b)
        np.testing.assert_allclose(ed.evaluate(g, **b), single, rtol=1e-10, atol=1e-10 * (1 + np.abs(single).max(initial=0)))
        check_jacobian(g, v, b)  # differentiating through the materialized adjoints


@_fewer_examples
@given(expressions(max_depth=3, functions=True), seeds)
def test_functions_forward_and_reverse_accumulation_agree(expr, seed):
    vs = variables(expr)
    b = bindings_for(vs, seed)
    note(f"f = {describe(expr)}\nbindings = {b!r}")
    assume(_finite(expr, b))
    for v in vs:
        want = ed.evaluate(ed.jacobian(expr, v, mode="forward"), **b)
        _close(ed.evaluate(ed.jacobian(expr, v, mode="reverse"), **b), want, 1e-9)
        h_fwd = ed.evaluate(ed.hessian(expr.sum(), v, mode="forward"), **b)
        _close(ed.evaluate(ed.hessian(expr.sum(), v, mode="reverse"), **b), h_fwd, 1e-9)


@_fewer_examples
@given(expressions(max_depth=3, functions=True), seeds)
def test_functions_hessian_is_symmetric_and_the_jacobian_of_the_gradient(expr, seed):
    f = expr.sum()
    vs = variables(f)
    b = bindings_for(vs, seed)
    note(f"f = {describe(f)}\nbindings = {b!r}")
    assume(_finite(expr, b) and _differentiable_here(f, b))
    for v in vs:
        h = ed.evaluate(ed.hessian(f, v), **b).reshape(v.size, v.size)
        _close(h, h.T, 1e-9)
        check_jacobian(ed.grad(f, v), v, b)


@_fewer_examples
@given(expressions(max_depth=2, functions=True), st.data(), seeds)
def test_functions_chain_rule_is_contraction_over_grouped_indices(g, data, seed):
    """d f(g(x))/dx = sum over g's indices of df/dg * dg/dx, with functions on both sides."""
    u = ed.var("u", g.shape)
    f_u = data.draw(expressions(max_depth=2, over=(u,), functions=True))
    composed = substitute(f_u, {u: g})
    xs = variables(g)
    b = bindings_for(xs, seed)
    note(f"g = {describe(g)}\nf(u) = {describe(f_u)}\nbindings = {b!r}")
    assume(_finite(composed, b))
    g_value = ed.evaluate(g, **b)
    df_du = ed.evaluate(ed.jacobian(f_u, u), **b, u=g_value)
    for x in xs:
        want = np.tensordot(df_du, ed.evaluate(ed.jacobian(g, x), **b), axes=g.ndim)
        _close(ed.evaluate(ed.jacobian(composed, x), **b), want, 1e-9)
