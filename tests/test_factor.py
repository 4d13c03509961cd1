"""Factorizations of symmetric matrices (einsdiff.ir.functions.factor): cholesky, eigvalsh, eigh.

Values against numpy on the symmetric part; first and second derivatives against central
finite differences on random SPD / symmetric matrices with separated eigenvalues, batched too;
symmetric functions of the eigenvalues at exactly repeated eigenvalues against their closed form
U diag(g'(λ)) Uᵀ and finite differences; the eigenvector derivative's documented error there;
the errors for wrong shapes and non-SPD input; formulas, printers and generated code.
"""

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.functions.factor import eiggap, tril_half
from einsdiff.ir.variables import variables
from einsdiff.testing import check_jacobian, finite_difference_jacobian

seeds = st.integers(0, 2**32 - 1)
shapes = st.sampled_from([(2, 2), (3, 3), (4, 4), (2, 3, 3)])


def _spd(rng, shape):
    """Symmetric positive definite, eigenvalues in [0.5, ~3]: Cholesky well conditioned."""
    g = rng.standard_normal(shape) / np.sqrt(shape[-1])
    return g @ np.swapaxes(g, -1, -2) + 0.5 * np.eye(shape[-1])


def _separated(rng, shape, gap=0.3):
    """Symmetric, eigenvalues in [-2, 2] at least ``gap`` apart, in a random orthonormal basis."""
    n = shape[-1]
    q, _ = np.linalg.qr(rng.standard_normal(shape))
    steps = gap + rng.uniform(0, 0.5, shape[:-2] + (n,))
    lam = np.cumsum(steps, axis=-1) - 1.5
    return np.einsum("...ik,...k,...jk->...ij", q, lam, q)


def _repeated(seed=3):
    """Q diag(1, 1, 3) Qᵀ: the eigenvalue 1 twice."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((3, 3)))
    return q @ np.diag([1.0, 1.0, 3.0]) @ q.T, q


def _skew(rng, shape, size=0.1):
    """A small antisymmetric part: the functions read sym(A), so it must change nothing."""
    g = rng.standard_normal(shape) * size
    return g - np.swapaxes(g, -1, -2)


# -- values ---------------------------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(seeds, shapes)
def test_values_are_numpys_on_the_symmetric_part(seed, shape):
    rng = np.random.default_rng(seed)
    s = _spd(rng, shape)
    a = s + _skew(rng, shape)  # not symmetric
    S = ed.var("S", shape)
    note(f"S = {a!r}")
    np.testing.assert_allclose(ed.evaluate(ed.cholesky(S), S=a), np.linalg.cholesky(s), rtol=1e-12, atol=1e-13)
    w, u = ed.compile(list(ed.eigh(S)))(S=a)
    want_w, want_u = np.linalg.eigh(s)
    np.testing.assert_allclose(ed.evaluate(ed.eigvalsh(S), S=a), want_w, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(w, want_w, rtol=1e-12, atol=1e-13)
    # numpy's vectors up to the sign of each column; ours with its entry of largest magnitude positive
    signs = np.sign(np.sum(want_u * u, axis=-2, keepdims=True))
    np.testing.assert_allclose(u, want_u * signs, atol=1e-10)
    biggest = np.take_along_axis(u, np.argmax(np.abs(u), axis=-2)[..., None, :], axis=-2)
    assert np.all(biggest > 0)


def test_eigh_is_numpys_pair_and_reads_one_factorization(monkeypatch):
    A = ed.var("A", (3, 3))
    result = ed.eigh(A)
    assert (result.eigenvalues, result.eigenvectors) == tuple(result) == (ed.eigvalsh(A), ed.eigh(A)[1])
    calls = []
    real = np.linalg.eigh
    monkeypatch.setattr(np.linalg, "eigh", lambda m: calls.append(1) or real(m))
    a = _separated(np.random.default_rng(0), (3, 3))
    f = ed.compile([result.eigenvalues, result.eigenvectors, ed.grad(ed.sum(ed.eigvalsh(A) ** 3), A)])
    w, u, g = f(A=a)
    assert len(calls) == 1  # the three outputs share one factorization
    np.testing.assert_allclose(g, 3 * u @ np.diag(w**2) @ u.T, rtol=1e-10, atol=1e-12)


def test_the_eigenvector_signs_are_continuous_along_a_small_step():
    rng = np.random.default_rng(1)
    a, step = _separated(rng, (4, 4)), _separated(rng, (4, 4)) * 1e-7
    U = ed.eigh(ed.var("A", (4, 4)))[1]
    np.testing.assert_allclose(ed.evaluate(U, A=a + step), ed.evaluate(U, A=a), atol=1e-5)


# -- derivatives against finite differences ---------------------------------------------------------
@settings(max_examples=10, deadline=None)
@given(seeds, shapes)
def test_cholesky_jacobian_and_hessian_match_finite_differences(seed, shape):
    rng = np.random.default_rng(seed)
    S = ed.var("S", shape)
    values = {"S": _spd(rng, shape) + _skew(rng, shape)}
    weights = rng.standard_normal(shape)
    note(f"S = {values['S']!r}")
    check_jacobian(ed.cholesky(S), S, values, rtol=1e-5)
    check_jacobian(ed.sum(ed.cholesky(S) * weights), S, values, rtol=1e-5, order=2)


@settings(max_examples=10, deadline=None)
@given(seeds, shapes)
def test_eigh_jacobians_and_hessians_match_finite_differences(seed, shape):
    rng = np.random.default_rng(seed)
    A = ed.var("A", shape)
    values = {"A": _separated(rng, shape) + _skew(rng, shape)}
    weights = rng.standard_normal(shape)
    note(f"A = {values['A']!r}")
    w, u = ed.eigh(A)
    check_jacobian(w, A, values)
    check_jacobian(u, A, values)
    check_jacobian(ed.sum(w**3), A, values, order=2)
    check_jacobian(ed.sum(u * weights), A, values, order=2)


def test_the_gaussian_process_likelihood_gradient_is_the_closed_form():
    """½ yᵀK⁻¹y + log det K written through L = chol(K): the gradient is ½ (K⁻¹ − ααᵀ)."""
    rng = np.random.default_rng(5)
    n = 6
    k, y = _spd(rng, (n, n)), rng.standard_normal(n)
    K, Y = ed.var("K", (n, n)), ed.var("y", (n,))
    L = ed.cholesky(K)
    alpha = ed.solve(L, Y)
    nll = 0.5 * ed.sum(alpha * alpha) + ed.sum(ed.log(ed.diagonal(L)))
    a = np.linalg.solve(k, y)
    for mode in ("forward", "reverse"):
        got = ed.evaluate(ed.jacobian(nll, K, mode=mode), K=k, y=y)
        np.testing.assert_allclose(got, 0.5 * (np.linalg.inv(k) - np.outer(a, a)), rtol=1e-9, atol=1e-11)
    value, gradient = ed.compile([nll, ed.grad(nll, K)])(K=k, y=y)
    np.testing.assert_allclose(gradient, 0.5 * (np.linalg.inv(k) - np.outer(a, a)), rtol=1e-9, atol=1e-11)
    # Murray's form with one inverse of L, which the solves with L and Lᵀ share: no LU solve
    code = ed.to_numpy_code(ed.grad(nll, K))
    assert code.count("np.linalg.inv(") == 1 and "_solve(" not in code


@pytest.mark.parametrize("scipy", [True, False])
def test_the_inverse_of_a_cholesky_factor_is_triangular_by_lapack_or_by_halves(scipy, monkeypatch):
    from einsdiff.ir.functions import linalg

    if not scipy:  # a batch is inverted by halves anyway; a single matrix too without scipy
        monkeypatch.setattr(linalg, "scipy_linalg", lambda: None)
    rng = np.random.default_rng(6)
    S, T = ed.var("S", (2, 150, 150)), ed.var("T", (100, 100))
    s, t = _spd(rng, (2, 150, 150)), _spd(rng, (100, 100))
    got = ed.evaluate(ed.inv(ed.cholesky(S)), S=s)
    np.testing.assert_allclose(got, np.linalg.inv(np.linalg.cholesky(s)), rtol=1e-9, atol=1e-11)
    assert np.all(np.triu(got, 1) == 0)
    for factor in (ed.cholesky(T), ed.cholesky(T).T):
        want = np.linalg.inv(ed.evaluate(factor, T=t))
        np.testing.assert_allclose(ed.evaluate(ed.inv(factor), T=t), want, rtol=1e-9, atol=1e-11)


def test_the_reverse_rule_of_cholesky_is_murrays_and_agrees_with_the_forward_one():
    rng = np.random.default_rng(7)
    S = ed.var("S", (2, 4, 4))
    s, weights = _spd(rng, (2, 4, 4)), rng.standard_normal((2, 4, 4))
    f = ed.sum(ed.cholesky(S) * weights)
    forward, reverse = (ed.evaluate(ed.grad(f, S, mode=m), S=s) for m in ("forward", "reverse"))
    np.testing.assert_allclose(reverse, forward, rtol=1e-10, atol=1e-12)
    L = np.linalg.cholesky(s)
    P = np.swapaxes(L, -1, -2) @ weights
    phi = np.tril(P) - 0.5 * np.einsum("...ii->...i", P)[..., None] * np.eye(4)
    Li = np.linalg.inv(L)
    murray = np.swapaxes(Li, -1, -2) @ phi @ Li
    np.testing.assert_allclose(reverse, (murray + np.swapaxes(murray, -1, -2)) / 2, rtol=1e-10, atol=1e-12)
    assert "tril_half" in ed.to_index_notation(ed.grad(f, S, mode="reverse"))


# -- repeated eigenvalues ---------------------------------------------------------------------------
SYMMETRIC_FUNCTIONS = {  # Σ g(λ), and g'
    "sum": (lambda w: ed.sum(w), lambda lam: np.ones_like(lam)),
    "cubes": (lambda w: ed.sum(w**3), lambda lam: 3 * lam**2),
    "exp": (lambda w: ed.sum(ed.exp(w)), np.exp),
    "log (log det)": (lambda w: ed.sum(ed.log(w)), lambda lam: 1 / lam),
}


@pytest.mark.parametrize("name", sorted(SYMMETRIC_FUNCTIONS))
def test_symmetric_functions_of_repeated_eigenvalues_have_the_right_gradient(name):
    build, gprime = SYMMETRIC_FUNCTIONS[name]
    a, q = _repeated()
    A = ed.var("A", (3, 3))
    f = build(ed.eigvalsh(A))
    want = q @ np.diag(gprime(np.array([1.0, 1.0, 3.0]))) @ q.T  # U diag(g'(λ)) Uᵀ, for any basis U
    for mode in ("forward", "reverse"):
        got = ed.evaluate(ed.grad(f, A, mode=mode), A=a)
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(want, finite_difference_jacobian(f, A, {"A": a}, eps=1e-5), rtol=1e-6, atol=1e-8)


def test_a_multiple_of_the_identity_has_the_right_gradients():
    A = ed.var("A", (3, 3))
    a = 2.0 * np.eye(3)
    np.testing.assert_allclose(ed.evaluate(ed.grad(ed.sum(ed.eigvalsh(A) ** 2), A), A=a), 2 * a, atol=1e-12)
    np.testing.assert_allclose(ed.evaluate(ed.grad(ed.sum(ed.eigvalsh(A)), A), A=np.zeros((3, 3))), np.eye(3),
                               atol=1e-12)


def test_the_eigenvector_derivative_at_repeated_eigenvalues_raises_naming_them():
    a, _ = _repeated()
    A = ed.var("A", (3, 3))
    message = (r"^eigvecs: eigenvalues 0 and 1 of variable 'A' are nearly equal \([\d.]+ and [\d.]+, .*"
               r"no derivative; differentiate a symmetric function of the eigenvalues.*ed\.expm.*perturb")
    with pytest.raises(ed.EvaluationError, match=message):
        ed.evaluate(ed.jacobian(ed.eigh(A)[1], A), A=a)
    with pytest.raises(ed.EvaluationError, match=message):  # the Hessian of Σλ³ needs the eigenvectors' derivative
        ed.evaluate(ed.hessian(ed.sum(ed.eigvalsh(A) ** 3), A), A=a)
    with pytest.raises(ed.EvaluationError, match=r"batch entry \(1,\)"):
        B = ed.var("B", (2, 3, 3))
        ed.evaluate(ed.jacobian(ed.eigh(B)[1], B), B=np.stack([_separated(np.random.default_rng(0), (3, 3)), a]))
    assert np.all(np.isfinite(ed.evaluate(ed.eigh(A)[1], A=a)))  # the vectors themselves are fine


def test_the_gap_tolerance_is_relative_to_the_largest_eigenvalue():
    w = ed.var("w", (3,))
    tiny = np.array([1e-20, 2e-20, 3e-20])  # far apart relative to their size
    np.testing.assert_allclose(ed.evaluate(eiggap(w), w=tiny)[0, 1], 1e20)
    with pytest.raises(ed.EvaluationError, match="eigenvalues 1 and 2 of its argument"):
        ed.evaluate(eiggap(w), w=np.array([-1e8, 1.0, 1.5]))  # 0.5 apart, below sqrt(eps) · 1e8
    with pytest.raises(ed.EvaluationError, match="eigenvalues 0 and 1"):
        ed.evaluate(eiggap(w), w=np.zeros(3))


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("builder", [ed.cholesky, ed.eigvalsh, ed.eigh])
def test_a_non_square_argument_is_a_shape_error_naming_it(builder):
    name = builder.__name__
    with pytest.raises(ed.ShapeError, match=rf"^{name}: variable 'S' has shape \(2, 3\); it must be a square matrix"):
        builder(ed.var("S", (2, 3)))
    with pytest.raises(ed.ShapeError, match=rf"^{name}: variable 'v' has shape \(3,\)"):
        builder(ed.var("v", (3,)))
    with pytest.raises(ed.ShapeError, match=r"^eiggap: the argument has shape \(\)"):
        eiggap(ed.var("s", ()))


def test_cholesky_of_a_matrix_that_is_not_positive_definite_is_an_evaluation_error():
    S = ed.var("S", (3, 3))
    message = (r"^cholesky: variable 'S' \(a matrix of shape \(3, 3\)\) is not symmetric positive definite "
               r"at the given values.*add a multiple of the identity")
    bad = np.diag([1.0, -1.0, 2.0])
    with pytest.raises(ed.EvaluationError, match=message):
        ed.evaluate(ed.cholesky(S), S=bad)
    with pytest.raises(ed.EvaluationError, match=message):
        ed.compile(ed.grad(ed.sum(ed.cholesky(S)), S))(S=bad)
    with pytest.raises(ed.EvaluationError, match="its argument"):
        ed.evaluate(ed.cholesky(S - 3 * np.eye(3)), S=np.eye(3))
    B = ed.var("B", (3, 3, 3))
    with pytest.raises(ed.EvaluationError, match=r"^cholesky: variable 'B' \(a matrix of shape \(3, 3, 3\), batch entry "
                                                 r"\(1,\)\) is not symmetric positive definite"):
        ed.evaluate(ed.cholesky(B), B=np.stack([np.eye(3), bad, bad]))


# -- formulas, printers, generated code --------------------------------------------------------------
def test_formulas_read_the_functions():
    S, A = ed.var("S", (3, 3)), ed.var("A", (3, 3))
    assert ed.parse("chol(S)[i,j]", S=S) == ed.parse("cholesky(S)[i,j]", S=S) == ed.cholesky(S)
    assert ed.parse("eigvalsh(A)[k]", A=A) == ed.eigvalsh(A)
    assert ed.parse("eigvecs(A)[i,k]", A=A) == ed.eigh(A)[1]
    assert ed.parse("chol(S)", notation="matrix", S=S) == ed.cholesky(S)
    assert ed.parse("sum(eigvalsh(A))", notation="matrix", A=A) == ed.sum(ed.eigvalsh(A))


@settings(max_examples=5, deadline=None)
@given(seeds)
def test_printed_derivatives_read_back_to_the_same_values(seed):
    rng = np.random.default_rng(seed)
    S, A = ed.var("S", (3, 3)), ed.var("A", (3, 3))
    values = {"S": _spd(rng, (3, 3)), "A": _separated(rng, (3, 3))}
    for e in (ed.jacobian(ed.cholesky(S), S, mode="forward"), ed.grad(ed.sum(ed.cholesky(S) ** 2), S),
              ed.jacobian(ed.eigh(A)[1], A), ed.hessian(ed.sum(ed.eigvalsh(A) ** 3), A)):
        text = ed.to_index_notation(e)
        note(text)
        back = ed.parse(text, S=S, A=A)
        np.testing.assert_allclose(ed.evaluate(back, values), ed.evaluate(e, values), rtol=1e-10, atol=1e-12)


def test_printers_write_the_textbook_names():
    S, A = ed.var("S", (3, 3)), ed.var("A", (3, 3))
    assert ed.to_index_notation(ed.cholesky(S)) == "f[i,j] = cholesky(S)[i,j]"
    assert ed.to_latex(ed.cholesky(S)) == r"f_{ij} = \left(\operatorname{chol}\left(S\right)\right)_{ij}"
    assert ed.to_matrix_notation(ed.cholesky(S)) == "f = chol(S)"
    assert ed.to_matrix_notation(ed.eigvalsh(A)) == "f = eigvalsh(A)"
    assert "<mi>chol</mi>" in ed.to_mathml(ed.cholesky(S)) and "<mi>λ</mi>" in ed.to_mathml(ed.eigvalsh(A))
    assert r"\lambda\left(A\right)" in ed.to_latex(ed.eigvalsh(A))
    # dL = L Φ(L⁻¹ sym(dS) L⁻ᵀ), the mask a node of its own
    t = ed.var("T", (3, 3))
    jvp = ed.jvp(ed.cholesky(S), S, t)
    assert ed.to_index_notation(jvp).startswith("f[i,j] = cholesky(S)[i,k] tril_half[")
    assert r"\Phi" in ed.to_latex(jvp)
    assert "eiggap(eigvalsh(A))" in ed.to_index_notation(ed.jvp(ed.eigh(A)[1], A, t))


def test_tril_half_keeps_the_lower_triangle_and_halves_the_diagonal():
    X = ed.var("X", (2, 3, 3))
    x = np.random.default_rng(2).standard_normal((2, 3, 3))
    got = ed.evaluate(tril_half(X), X=x)
    np.testing.assert_array_equal(got, np.tril(x) - 0.5 * x * np.eye(3))
    sym = x + np.swapaxes(x, -1, -2)
    half = ed.evaluate(tril_half(X), X=sym)
    np.testing.assert_allclose(half + np.swapaxes(half, -1, -2), sym, rtol=1e-15)  # Φ(X) + Φ(X)ᵀ = X, X symmetric
    check_jacobian(ed.sum(tril_half(X) * x), X, {"X": x})


def test_generated_code_runs_and_agrees_with_evaluate():
    rng = np.random.default_rng(4)
    S, A = ed.var("S", (2, 3, 3)), ed.var("A", (3, 3))
    values = {"S": _spd(rng, (2, 3, 3)), "A": _separated(rng, (3, 3))}
    w, u = ed.eigh(A)
    exprs = [ed.cholesky(S), ed.jacobian(ed.cholesky(S), S), ed.hessian(ed.sum(ed.cholesky(S) ** 3), S), w, u,
             ed.jacobian(u, A), ed.hessian(ed.sum(w**3) + ed.sum(u * u[0]), A)]
    for e in exprs:
        namespace: dict = {}
        exec(ed.to_numpy_code(e, name="g"), namespace)  # noqa: S102 - the generated module
        args = {v.name: values[v.name] for v in variables(e)}
        np.testing.assert_allclose(namespace["g"](**args), ed.evaluate(e, values), rtol=1e-10, atol=1e-12)


def test_numpy_calls_on_expressions_build_the_factorizations():
    S = ed.var("S", (3, 3))
    s = _spd(np.random.default_rng(8), (3, 3))
    assert np.linalg.cholesky(S) == ed.cholesky(S)
    result = np.linalg.eigh(S)
    assert (result.eigenvalues, result.eigenvectors) == tuple(ed.eigh(S))
    assert np.linalg.eigvalsh(S, UPLO="U") == ed.eigvalsh(S)
    with pytest.raises(ed.OptionError, match=r"^np\.linalg\.eigh: UPLO must be 'L' or 'U', got 'X'"):
        np.linalg.eigh(S, UPLO="X")
    if np.lib.NumpyVersion(np.__version__) >= "2.0.0":  # numpy 1.x has no upper=
        upper = np.linalg.cholesky(S, upper=True)
        np.testing.assert_allclose(ed.evaluate(upper, S=s), np.linalg.cholesky(s, upper=True), rtol=1e-12)


def test_solves_with_a_cholesky_factor_or_its_transpose_reuse_its_inverse_when_it_is_formed():
    rng = np.random.default_rng(9)
    S, W = ed.var("S", (4, 4)), ed.var("W", (4, 4))
    values = {"S": _spd(rng, (4, 4)), "W": rng.standard_normal((4, 4))}
    L = ed.cholesky(S)
    g = ed.sum(ed.inv(L) * W) + ed.sum(ed.solve(L.T, W)) + ed.sum(ed.solve(L, W) * W)  # inv(L), solves with Lᵀ and L
    assert ed.to_numpy_code(g, passes=()).count("= _solve(") == 2
    source = ed.to_numpy_code(g)
    assert "_solve(" not in source and source.count("np.linalg.inv(") == 1
    np.testing.assert_allclose(ed.compile(g)(**values), ed.compile(g, passes=())(**values), rtol=1e-10, atol=1e-12)
    check_jacobian(g, S, values)


def test_the_mask_of_an_upper_triangular_product_is_its_diagonal():
    """Φ(Lᵀ L̄) for the adjoint of a function of diag(L) keeps only the diagonal: the gradient of
    log det S = 2 Σ log Lᵢᵢ carries no mask and is S⁻¹."""
    S = ed.var("S", (4, 4), symmetric=True)
    g = ed.grad(2 * ed.sum(ed.log(ed.diagonal(ed.cholesky(S)))), S)
    assert "tril_half" not in ed.to_index_notation(g)
    s = _spd(np.random.default_rng(11), (4, 4))
    np.testing.assert_allclose(ed.evaluate(g, S=s), np.linalg.inv(s), rtol=1e-10, atol=1e-12)
    L, W = ed.cholesky(S), ed.var("W", (4, 4))
    upper = ed.einsum("ba,bc,ca->ab", L, W, L)  # L[b,a] ⋯: zero below the diagonal
    values = {"S": s, "W": np.random.default_rng(12).standard_normal((4, 4))}
    np.testing.assert_allclose(ed.evaluate(tril_half(upper), values),
                               0.5 * np.diag(np.diag(ed.evaluate(upper, values))), atol=1e-12)
