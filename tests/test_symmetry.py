"""Hessians know their symmetry: a network that is its own mirror image runs in its Gram
form (one triangle through syrk, exactly symmetric), and a sum AᵀB + BᵀA computes AᵀB once."""

import contextlib
import importlib

import numpy as np
import opt_einsum
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
import einsdiff.engine.symmetry as symmetry
from einsdiff.engine.contraction import plan_contraction
from einsdiff.ir.expr import Contract
from einsdiff.ir.simplify import substitute
from einsdiff.testing import bindings_for, describe, expressions
from einsdiff.ir.variables import children, topological, variables

contraction_module = importlib.import_module("einsdiff.engine.contraction")
seeds = st.integers(0, 2**32 - 1)
rng = np.random.default_rng(7)
K, N = 600, 80  # 2 K N² flops: above the Gram form's threshold


@contextlib.contextmanager
def gram_above(flops):
    """The Gram form for networks of at least ``flops`` (by default ~4 Mflop; inf: never)."""
    saved, contraction_module._GRAM_MIN_FLOPS = contraction_module._GRAM_MIN_FLOPS, flops
    try:
        yield
    finally:
        contraction_module._GRAM_MIN_FLOPS = saved


def _gram_steps(f) -> int:
    return sum(c.form == "gram" for c in f.plan.contractions)


def _logistic():
    X, w, y = ed.var("X", (K, N)), ed.var("w", (N,)), ed.var("y", (K,))
    z = X @ w
    return X, w, y, ed.sum(ed.softplus(z) - y * z)


def test_logistic_hessian_runs_as_one_triangle_and_is_exactly_symmetric():
    X, w, y, loss = _logistic()
    f = ed.compile(ed.hessian(loss, w))
    assert _gram_steps(f) == 1, f.plan
    b = dict(X=rng.normal(size=(K, N)), w=rng.normal(size=N) / 5, y=rng.random(K))
    (H,) = f(**b)
    s = 1 / (1 + np.exp(-b["X"] @ b["w"]))
    want = (b["X"] * (s * (1 - s))[:, None]).T @ b["X"]
    np.testing.assert_allclose(H, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    assert np.array_equal(H, H.T)
    full = plan_contraction([s.node for s in f.steps if isinstance(s.node, Contract)][-1], symmetric=False)
    assert f.plan.total_flops < 0.6 * full.flops  # about half the multiply-adds


@pytest.mark.parametrize("scale", [1.0, -3.0])
def test_weights_of_either_or_mixed_sign(scale):
    """tanh'' changes sign: positive and negative weights go through syrk apart; a negative
    scale of the whole network lands on the weights, not on one half of the mirror."""
    X, w = ed.var("X", (K, N)), ed.var("w", (N,))
    for loss, weight in [
        (ed.sum(ed.tanh(X @ w)), lambda t: -2 * t * (1 - t**2)),
        (ed.sum(ed.softplus(X @ w)), lambda t: t),
    ]:
        f = ed.compile(scale * ed.hessian(loss, w))
        assert _gram_steps(f) == 1, f.plan
        b = dict(X=rng.normal(size=(K, N)), w=rng.normal(size=N) / 5)
        (H,) = f(**b)
        z = b["X"] @ b["w"]
        t = np.tanh(z) if weight(0.5) < 0 else 1 / (1 + np.exp(-z))
        c = weight(t) if weight(0.5) < 0 else t * (1 - t)
        want = scale * (b["X"] * c[:, None]).T @ b["X"]
        np.testing.assert_allclose(H, want, rtol=1e-11, atol=1e-11 * np.abs(want).max())
        assert np.array_equal(H, H.T)


def test_nan_weights_stay_nan():
    """Splitting the weights by sign must not drop a nan row (a silent wrong number)."""
    X, y = ed.var("X", (K, N)), ed.var("y", (K,))
    H = ed.einsum("ki,kj,k->ij", X, X, y)
    f = ed.compile(H)
    assert _gram_steps(f) == 1, f.plan
    x, yv = rng.normal(size=(K, N)), rng.normal(size=K)
    yv[3] = np.nan
    (got,) = f(X=x, y=yv)
    want = (x * yv[:, None]).T @ x
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got).all()


def test_matrix_variable_delta_times_gram():
    """Hessian of ||X W - Y||² wrt W: 2 δ[j,l] (XᵀX)[i,k], the core in Gram form."""
    X, W, Y = ed.var("X", (K, N)), ed.var("W", (N, 5)), ed.var("Y", (K, 5))
    f = ed.compile(ed.hessian(ed.sum((X @ W - Y) ** 2), W))
    assert _gram_steps(f) == 1, f.plan
    x = rng.normal(size=(K, N))
    (H,) = f(X=x, W=rng.normal(size=(N, 5)), Y=rng.normal(size=(K, 5)))
    want = 2 * np.einsum("ik,jl->ijkl", x.T @ x, np.eye(5))
    np.testing.assert_allclose(H, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    M = H.reshape(N * 5, N * 5)
    assert np.array_equal(M, M.T)


def test_two_operand_halves_and_float32():
    """Hessian of Σ tanh(A M x) wrt x: each half is A[k,l] M[l,i], contracted before syrk
    (where that is cheaper than Mᵀ (Aᵀ diag(c) A) M, i.e. A has more columns than M)."""
    A, M, x = ed.var("A", (K, 200)), ed.var("M", (200, N)), ed.var("x", (N,))
    f = ed.compile(ed.hessian(ed.sum(ed.tanh(A @ M @ x)), x))
    assert _gram_steps(f) == 1, f.plan
    b = dict(A=rng.normal(size=(K, 200)) / 8, M=rng.normal(size=(200, N)) / 8, x=rng.normal(size=N))
    (H,) = f(**b)
    L, t = b["A"] @ b["M"], np.tanh(b["A"] @ b["M"] @ b["x"])
    want = (L * (-2 * t * (1 - t**2))[:, None]).T @ L
    np.testing.assert_allclose(H, want, rtol=1e-11, atol=1e-11 * np.abs(want).max())
    (H32,) = f(**{k: v.astype(np.float32) for k, v in b.items()})
    assert H32.dtype == np.float32
    np.testing.assert_allclose(H32, want, rtol=1e-3, atol=1e-4 * np.abs(want).max())


def test_networks_without_a_mirror_are_left_alone():
    X, B, C = ed.var("X", (K, N)), ed.var("B", (K, N)), ed.var("C", (K, K))
    x, bm, c = rng.normal(size=(K, N)), rng.normal(size=(K, N)), rng.normal(size=(K, K))
    for expr, want in [
        (ed.einsum("ki,kj->ij", X, B), x.T @ bm),
        (ed.einsum("ki,kl,lj->ij", X, C, X), x.T @ c @ x),  # C not symmetric: neither is XᵀCX
    ]:
        f = ed.compile(expr)
        assert _gram_steps(f) == 0, f.plan
        np.testing.assert_allclose(f(X=x, B=bm, C=c)[0], want, rtol=1e-10, atol=1e-10 * np.abs(want).max())


def test_a_side_that_is_its_own_mirror_has_no_gram_form():
    """Σ X[i,a] E[a,b] E[b,a'] ... : both E's join the two X's into one side, so no split."""
    X, E = ed.var("X", (N, 6)), ed.var("E", (6, 6))
    H = ed.einsum("ia,ab,ba,jb->ij", X, E, E, X)
    assert symmetry.gram(H.operands, H.inputs, list(dict.fromkeys(H.output)), H.sizes) is None
    x, e = rng.normal(size=(N, 6)), rng.normal(size=(6, 6))
    np.testing.assert_allclose(ed.evaluate(H, X=x, E=e), np.einsum("ia,ab,ba,jb->ij", x, e, e, x), rtol=1e-10)


def test_small_networks_keep_the_plain_contraction():
    X, w, y = ed.var("X", (20, 3)), ed.var("w", (3,)), ed.var("y", (20,))
    z = X @ w
    assert _gram_steps(ed.compile(ed.hessian(ed.sum(ed.softplus(z) - y * z), w))) == 0


def test_transposed_twin_terms_are_computed_once():
    """Hessian of Σ (Ax)(Bx) = AᵀB + BᵀA: one contraction, then a transposed read."""
    A, B, x = ed.var("A", (K, N)), ed.var("B", (K, N)), ed.var("x", (N,))
    H = ed.hessian(ed.sum((A @ x) * (B @ x)), x)
    f = ed.compile(H)
    assert len(f.plan.contractions) == 1, f.plan
    a, bm = rng.normal(size=(K, N)), rng.normal(size=(K, N))
    (got,) = f(A=a, B=bm, x=rng.normal(size=N))
    np.testing.assert_allclose(got, a.T @ bm + bm.T @ a, rtol=1e-12, atol=1e-12 * np.abs(got).max())
    assert np.array_equal(got, got.T)


def test_block_swaps_pair_equal_shaped_blocks():
    assert symmetry._block_swaps((3, 3)) == [(1, 0)]
    assert symmetry._block_swaps((2, 4, 2, 4)) == [(2, 3, 0, 1)]
    assert (0, 2, 1) in symmetry._block_swaps((5, 3, 3))
    assert symmetry._block_swaps((2, 3)) == []


@st.composite
def glm_losses(draw):
    """Σ h(z) with z a random linear image of x (one or two matrices): Hessians whose
    networks are Gram forms Σ L[s,I] h''(z)[s] L[s,J], h drawn from the random expressions."""
    x_shape = draw(st.sampled_from([(3,), (2, 3), (3, 2)]))
    m = draw(st.integers(2, 4))
    x, A = ed.var("x", x_shape), ed.var("A", (m, *x_shape))
    letters = "ab"[: len(x_shape)]
    image = ed.einsum(f"k{letters},{letters}->k", A, x)
    if draw(st.booleans()):
        B = ed.var("B", (draw(st.integers(2, 3)), m))
        image = B @ image
    z = ed.var("z", image.shape)
    h = draw(expressions(max_depth=2, max_size=3, over=(z,), smooth=True))
    return substitute(h, {z: image}).sum(), x


def _contracts(expr):
    return [n for n in topological([expr], children) if isinstance(n, Contract)]


@settings(max_examples=150)
@given(glm_losses(), seeds)
def test_gram_forms_of_random_hessians_equal_the_plain_contraction(case, seed):
    """Each network of a random GLM-like Hessian that has a Gram form gives, in that form,
    the plain einsum of the same operands; the whole Hessian (every Gram form taken,
    however small) equals the plain evaluation."""
    loss, x = case
    b = bindings_for(variables(loss), seed)
    H = ed.hessian(loss, x)
    note(f"loss = {describe(loss)}; bindings = {b}")
    for node in _contracts(H):
        core = [i for i in dict.fromkeys(node.output) if any(i in idx for idx in node.inputs)]
        form = symmetry.gram(node.operands, node.inputs, core, node.sizes)
        if form is None:
            continue
        args = [np.asarray(ed.evaluate(op, **b)) for op in node.operands]
        letter = opt_einsum.get_symbol
        eq = ",".join("".join(map(letter, idx)) for idx in node.inputs) + "->" + "".join(map(letter, core))
        want = np.einsum(eq, *args)
        for scale in (1.0, -2.5):
            got = form(*args, scale=scale)
            np.testing.assert_allclose(got, scale * want, rtol=1e-10, atol=1e-10 * (1 + np.abs(want).max()))
    with gram_above(0):
        got = ed.evaluate(H, **b)
    with gram_above(np.inf):
        want = ed.evaluate(H, **b)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * (1.0 + float(np.max(np.abs(want), initial=0.0))))
