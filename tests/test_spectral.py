"""Spectral functions (einsdiff.ir.functions.spectral): expm, sqrtm, logm and matrix_power give
numpy's / scipy's values, and their derivatives of first, second and third order match central
finite differences, also at exactly repeated eigenvalues; divided differences match references
computed in 60-digit decimal arithmetic."""

import decimal
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff import array_api as xp
from einsdiff.ir.functions.spectral import directional, divided_difference, expm_array, spectral_numpy
from einsdiff.testing.oracles import check_jacobian

SEEDS = st.integers(0, 2**32 - 1)


def _rotation(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def _spd(rng, eigenvalues):
    q = _rotation(rng, len(eigenvalues))
    return q @ np.diag(eigenvalues) @ q.T


def _spectrum(rng, kind: str, n: int = 3):
    """Eigenvalues in [0.5, 4]: distinct, a nearly repeated pair, a repeated pair, or all equal."""
    w = rng.uniform(0.5, 4.0, n)
    if kind == "near":
        w[1] = w[0] * (1 + 1e-9)
    elif kind == "pair":
        w[1] = w[0]
    elif kind == "equal":
        w[:] = w[0]
    return w


def _sym(a):
    return 0.5 * (a + np.swapaxes(a, -1, -2))


def _eigh_function(f, s):
    w, u = np.linalg.eigh(_sym(s))
    return np.einsum("...ik,...k,...jk->...ij", u, f(w), u)


# -- divided differences -----------------------------------------------------------------------------
_CONTEXT = decimal.Context(prec=60)
_DECIMAL = {"exp": lambda d: d.exp(_CONTEXT), "log": lambda d: d.ln(_CONTEXT), "sqrt": lambda d: d.sqrt(_CONTEXT)}


def _reference(f, points):
    """Σᵢ f(xᵢ) / Πⱼ≠ᵢ (xᵢ - xⱼ) for distinct points, in 60 significant digits."""
    xs = [decimal.Decimal(float(p)) for p in points]
    total = decimal.Decimal(0)
    for i, x in enumerate(xs):
        den = decimal.Decimal(1)
        for j, y in enumerate(xs):
            if j != i:
                den = _CONTEXT.multiply(den, _CONTEXT.subtract(x, y))
        total = _CONTEXT.add(total, _CONTEXT.divide(_DECIMAL[f](x), den))
    return float(total)


def _derivative_over_factorial(f, c, k):
    """f⁽ᵏ⁾(c)/k!, the divided difference at k + 1 equal points."""
    if f == "exp":
        return math.exp(c) / math.factorial(k)
    if f == "log":
        return math.log(c) if k == 0 else (-1) ** (k - 1) / (k * c**k)
    return math.prod(0.5 - m for m in range(k)) / math.factorial(k) * c ** (0.5 - k)


@settings(max_examples=150, deadline=None)
@given(f=st.sampled_from(["exp", "log", "sqrt"]), c=st.floats(0.2, 4.0), exponent=st.integers(0, 8),
       offsets=st.lists(st.integers(-8, 8), min_size=2, max_size=4, unique=True))
def test_divided_differences_match_high_precision_at_close_and_distant_points(f, c, exponent, offsets):
    width = 0.5 * c if f != "exp" else 3.0  # sqrt and log: the points stay in [c/2, 3c/2]
    points = np.array([c + width * o / 8 * 10.0**-exponent for o in offsets])
    if len(set(points.tolist())) < len(points):
        return  # rounding merged two points: the next test's case
    got, want = divided_difference(f, points), _reference(f, points)
    scale = max(abs(_derivative_over_factorial(f, float(p), len(points) - 1)) for p in points)
    assert abs(got - want) <= 1e-11 * scale, (f, points.tolist(), got, want)


@pytest.mark.parametrize("f", ["exp", "log", "sqrt"])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_divided_differences_at_repeated_points_are_derivatives(f, k):
    for c in (0.3, 1.0, 2.5, 7.0):
        got = divided_difference(f, np.full(k + 1, c))
        np.testing.assert_allclose(got, _derivative_over_factorial(f, c, k), rtol=1e-13)
    # f[a, a, b] = (f[a, b] - f'(a)) / (b - a)
    a, b = 1.25, 2.0
    want = (_reference(f, [a, b]) - _derivative_over_factorial(f, a, 1)) / (b - a)
    np.testing.assert_allclose(divided_difference(f, np.array([a, b, a])), want, rtol=1e-12)


def test_divided_differences_are_symmetric_and_batched():
    pts = np.array([[1.0, 2.0, 1.0 + 1e-9], [3.0, 0.5, 0.5]])
    got = divided_difference("log", pts)
    for row, value in zip(pts, got, strict=True):
        for perm in itertools.permutations(row):
            assert divided_difference("log", np.array(perm)) == pytest.approx(value, rel=1e-14)


# -- values ------------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(seed=SEEDS, scale=st.sampled_from([1e-3, 0.5, 2.0, 8.0, 30.0]))
def test_expm_matches_scipy_at_every_scale(seed, scale):
    scipy_linalg = pytest.importorskip("scipy.linalg")
    a = np.random.default_rng(seed).standard_normal((2, 4, 4)) * scale / 2
    want = np.stack([scipy_linalg.expm(m) for m in a])
    got = ed.evaluate(ed.expm(ed.var("A", (2, 4, 4))), A=a)
    np.testing.assert_allclose(got, want, rtol=1e-11 * max(1.0, scale), atol=1e-13 * np.abs(want).max())


def test_expm_array_of_a_diagonal_and_of_a_nilpotent_matrix():
    np.testing.assert_allclose(expm_array(np, np.diag([0.0, 1.0, -2.0])), np.diag(np.exp([0.0, 1.0, -2.0])), rtol=1e-14)
    np.testing.assert_allclose(expm_array(np, np.array([[0.0, 3.0], [0.0, 0.0]])), [[1.0, 3.0], [0.0, 1.0]], rtol=1e-14)


@settings(max_examples=20, deadline=None)
@given(seed=SEEDS, kind=st.sampled_from(["distinct", "near", "pair", "equal"]))
def test_sqrtm_and_logm_match_eigh_and_scipy_and_read_the_symmetric_part(seed, kind):
    rng = np.random.default_rng(seed)
    s = np.stack([_spd(rng, _spectrum(rng, kind)) for _ in range(2)])
    skew = rng.standard_normal((3, 3))
    a = s + (skew - skew.T)  # the same symmetric part
    S = ed.var("S", (2, 3, 3))
    for fn, f in ((ed.sqrtm, np.sqrt), (ed.logm, np.log)):
        got = ed.evaluate(fn(S), S=a)
        np.testing.assert_allclose(got, _eigh_function(f, s), rtol=1e-12, atol=1e-13)
    scipy_linalg = pytest.importorskip("scipy.linalg")
    np.testing.assert_allclose(ed.evaluate(ed.sqrtm(S), S=s), np.stack([scipy_linalg.sqrtm(m) for m in s]).real,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ed.evaluate(ed.logm(S), S=s), np.stack([scipy_linalg.logm(m) for m in s]).real,
                               rtol=1e-9, atol=1e-11)


def test_identities_of_values():
    rng = np.random.default_rng(3)
    s = _spd(rng, [0.7, 2.0, 2.0])
    S = ed.var("S", (3, 3))
    root = ed.sqrtm(S)
    np.testing.assert_allclose(ed.evaluate(root @ root, S=s), s, rtol=1e-12)
    np.testing.assert_allclose(ed.evaluate(ed.trace(ed.logm(S)), S=s), np.linalg.slogdet(s)[1], rtol=1e-12)
    np.testing.assert_allclose(ed.evaluate(ed.expm(ed.logm(S)), S=s), s, rtol=1e-12)
    np.testing.assert_allclose(ed.evaluate(ed.logm(ed.expm(S)), S=s), s, rtol=1e-11)


# -- derivatives -------------------------------------------------------------------------------------
W = np.array([[0.3, -1.2, 0.5], [0.8, 0.1, -0.4], [-0.6, 0.9, 1.1]])


@settings(max_examples=8, deadline=None)
@given(seed=SEEDS, scale=st.sampled_from([0.3, 1.0, 2.5]))
def test_expm_derivatives_of_a_general_matrix_match_finite_differences(seed, scale):
    a = np.random.default_rng(seed).standard_normal((3, 3)) * scale / 2
    A = ed.var("A", (3, 3))
    check_jacobian(ed.sum(ed.expm(A) * W), A, {"A": a}, order=2)
    check_jacobian(ed.expm(A), A, {"A": a})


_SPD_FUNCTIONS = {
    "sum sqrtm²": lambda S: ed.sum(ed.sqrtm(S) ** 2),
    "tr logm": lambda S: ed.trace(ed.logm(S)),
    "sum expm W": lambda S: ed.sum(ed.expm(S) * W),
    "sum logm W": lambda S: ed.sum(ed.logm(S) * W),
    "sqrtm W": lambda S: ed.sqrtm(S) @ W,
}


@settings(max_examples=8, deadline=None)
@given(seed=SEEDS, kind=st.sampled_from(["distinct", "near", "pair", "equal"]), symmetric=st.booleans(),
       name=st.sampled_from(sorted(_SPD_FUNCTIONS)))
def test_spd_derivatives_match_finite_differences_at_repeated_eigenvalues(seed, kind, symmetric, name):
    rng = np.random.default_rng(seed)
    s = _spd(rng, _spectrum(rng, kind))
    S = ed.var("S", (3, 3), symmetric=symmetric)
    f = _SPD_FUNCTIONS[name](S)
    check_jacobian(f, S, {"S": s}, order=2)


@pytest.mark.parametrize("name", sorted(_SPD_FUNCTIONS))
def test_first_and_second_derivatives_are_finite_and_match_at_q_diag_2_2_5_qt(name):
    s = _spd(np.random.default_rng(0), [2.0, 2.0, 5.0])
    S = ed.var("S", (3, 3))
    f = _SPD_FUNCTIONS[name](S)
    for d in (ed.jacobian(f, S), ed.hessian(f, S) if f.ndim == 0 else ed.jacobian(ed.jacobian(f, S), S)):
        assert np.all(np.isfinite(ed.evaluate(d, S=s))), ed.to_index_notation(d)
    check_jacobian(f, S, {"S": s}, order=2)


def test_third_derivatives_match_finite_differences_at_equal_eigenvalues():
    s = 2.0 * np.eye(3)
    S = ed.var("S", (3, 3))
    for f in (ed.trace(ed.logm(S)), ed.sum(ed.sqrtm(S) * W), ed.sum(ed.expm(S) * W)):
        check_jacobian(ed.hessian(f, S), S, {"S": s}, modes=("forward", "reverse"))
    A = ed.var("A", (2, 2))
    check_jacobian(ed.hessian(ed.sum(ed.expm(A) * W[:2, :2]), A), A, {"A": np.array([[0.3, -0.5], [0.7, 0.1]])},
                   modes=("forward", "reverse"))


def test_batched_derivatives_match_finite_differences():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 3, 3)) * 0.5
    s = np.stack([_spd(rng, [1.0, 1.0, 3.0]), _spd(rng, [0.6, 2.0, 2.5])])
    A, S = ed.var("A", (2, 3, 3)), ed.var("S", (2, 3, 3))
    check_jacobian(ed.sum(ed.expm(A) * W), A, {"A": a}, order=2)
    check_jacobian(ed.sum(ed.logm(S) * W) + ed.sum(ed.sqrtm(S)), S, {"S": s}, order=2)
    check_jacobian(ed.logm(S), S, {"S": s})


@settings(max_examples=6, deadline=None)
@given(seed=SEEDS, shape=st.sampled_from([(1, 1), (2, 1, 1), (2, 2), (3, 2, 2)]))
def test_derivatives_for_every_size_and_batch(seed, shape):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) * 0.5
    s = a @ np.swapaxes(a, -1, -2) + np.eye(shape[-1])
    A, weights = ed.var("A", shape), rng.standard_normal(shape)
    for fn, at in ((ed.expm, a), (ed.sqrtm, s), (ed.logm, s)):
        check_jacobian(ed.sum(fn(A) * weights), A, {"A": at}, order=2)


@pytest.mark.parametrize("name", ["expm", "sqrtm", "logm"])
def test_frechet_nodes_with_trailing_axes_differentiate_in_both_modes(name):
    """Their own rules: the next order in A, the same node in a direction, the written reverse rule."""
    rng = np.random.default_rng(12)
    A, z = ed.var("A", (2, 2)), ed.var("z", (3,))
    a = _spd(rng, [1.0, 1.5]) + (0.3 * np.array([[0.0, 1.0], [-1.0, 0.0]]) if name == "expm" else 0.0)
    f = directional(name, A, [ed.einsum("ij,k->ijk", A, z), A @ A])
    values = {"A": a, "z": rng.standard_normal(3)}
    check_jacobian(f, (A, z), values)
    # Twice in reverse, the directions' own axes meet the adjoint's as an outer product then a
    # diagonal (the node has no summed axes of its own): correct but slow, so forward here.
    check_jacobian(f, (A, z), values, order=2, modes=("forward",))


def test_identities_of_derivatives():
    rng = np.random.default_rng(7)
    s = _spd(rng, [0.8, 0.8, 2.5])
    S = ed.var("S", (3, 3))
    # d tr(logm S) = d logdet S = S⁻¹, and so are their Hessians.
    np.testing.assert_allclose(ed.evaluate(ed.grad(ed.trace(ed.logm(S)), S), S=s), np.linalg.inv(s), rtol=1e-11)
    sym = 0.5 * (S + S.T)  # logm reads the symmetric part
    np.testing.assert_allclose(ed.evaluate(ed.hessian(ed.trace(ed.logm(S)), S), S=s),
                               ed.evaluate(ed.hessian(ed.logdet(sym), S), S=s), rtol=1e-10, atol=1e-12)
    # d/dt expm(tA) = A expm(tA), d²/dt² = A² expm(tA)
    a, t0 = rng.standard_normal((3, 3)), 0.7
    A, t = ed.var("A", (3, 3)), ed.var("t", ())
    e = ed.expm(t * A)
    want = a @ expm_array(np, t0 * a)
    np.testing.assert_allclose(ed.evaluate(ed.jacobian(e, t), A=a, t=t0), want, rtol=1e-11)
    np.testing.assert_allclose(ed.evaluate(ed.jacobian(ed.jacobian(e, t), t), A=a, t=t0), a @ want, rtol=1e-10)


def test_frechet_nodes_are_symmetric_in_their_directions_and_carry_trailing_axes():
    rng = np.random.default_rng(11)
    a, e1, e2 = rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), rng.standard_normal((3, 3, 2))
    s = _spd(rng, [1.0, 1.0, 2.0])
    for name, at in (("dexpm", a), ("dexpm", s), ("dsqrtm", s), ("dlogm", s)):
        one, two = spectral_numpy(name, at, e1, e2), spectral_numpy(name, at, e2, e1)
        assert one.shape == (3, 3, 2) and two.shape == (3, 3, 2)
        np.testing.assert_allclose(one, two, rtol=1e-10, atol=1e-12)
    # the eigen path and the block path agree where both apply
    np.testing.assert_allclose(spectral_numpy("dexpm", s, e1, e2), spectral_numpy("dexpm", s + 1e-300 * e1, e1, e2),
                               rtol=1e-10)
    A, E = ed.var("A", (3, 3)), ed.var("E", (3, 3))
    assert ed.to_index_notation(directional("expm", A, [E, E])) == "f[i,j] = dexpm(A, E, E)[i,j]"


@settings(max_examples=20, deadline=None)
@given(seed=SEEDS, scale=st.sampled_from([1e-3, 0.5, 3.0, 20.0]))
def test_the_differentiated_pade_approximant_is_the_block_method_and_scipys(seed, scale):
    from einsdiff.ir.functions.spectral import _block_directional, expm_frechet_array
    rng = np.random.default_rng(seed)
    a, e = rng.standard_normal((2, 4, 4)) * scale / 2, rng.standard_normal((2, 4, 4, 3))
    block = _block_directional(np, a, [e])
    got = expm_frechet_array(np, a, e)
    np.testing.assert_allclose(got, block, rtol=1e-10, atol=1e-12 * np.abs(block).max())
    scipy_linalg = pytest.importorskip("scipy.linalg")
    want = scipy_linalg.expm_frechet(a[0], e[0, ..., 1], compute_expm=False)
    np.testing.assert_allclose(got[0, ..., 1], want, rtol=1e-10, atol=1e-12 * np.abs(want).max())


def test_block_and_eigen_paths_of_dexpm_agree_at_a_symmetric_matrix():
    rng = np.random.default_rng(2)
    s = _spd(rng, [0.5, 0.5, 1.5])
    e1, e2 = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    from einsdiff.ir.functions.spectral import _block_directional
    block = _block_directional(np, s[None], [e1[None, ..., None], e2[None, ..., None]])[0, ..., 0, 0]
    np.testing.assert_allclose(spectral_numpy("dexpm", s, e1, e2), block, rtol=1e-11, atol=1e-12)


# -- matrix_power -------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [-3, -1, 0, 1, 2, 5, 8])
def test_matrix_power_is_numpys_and_differentiates(k):
    rng = np.random.default_rng(k + 10)
    x = rng.standard_normal((2, 3, 3)) * 0.4 + np.eye(3)
    X = ed.var("X", (2, 3, 3))
    e = ed.matrix_power(X, k)
    np.testing.assert_allclose(ed.evaluate(e, X=x), np.linalg.matrix_power(x, k), rtol=1e-11)
    assert np.linalg.matrix_power(X, k) == e
    assert xp.linalg.matrix_power(X, k) == e
    if k:
        check_jacobian(ed.sum(e * W), X, {"X": x}, order=2)


def test_matrix_power_reads_as_a_product():
    X = ed.var("X", (3, 3))
    assert ed.to_matrix_notation(ed.matrix_power(X, 3)) == "f = X X X"
    assert ed.matrix_power(X, 3) == X @ X @ X
    assert ed.to_matrix_notation(ed.matrix_power(X, -2)) == "f = X⁻¹ X⁻¹"


# -- printing, parsing, code -------------------------------------------------------------------------
@pytest.mark.parametrize("fn", ["expm", "sqrtm", "logm"])
def test_formulas_print_and_read_back(fn):
    A = ed.var("A", (3, 3))
    e = getattr(ed, fn)(A)
    assert ed.to_index_notation(e) == f"f[i,j] = {fn}(A)[i,j]"
    assert ed.to_matrix_notation(e) == f"f = {fn}(A)"
    assert ed.parse(f"{fn}(A)[i,j]", A=(3, 3)) == e
    assert ed.parse(f"{fn}(A)", A=(3, 3)) == e
    assert "<mi>" in ed.to_mathml(e)


def test_the_first_derivative_reads_as_a_frechet_derivative():
    A, E = ed.var("A", (3, 3)), ed.var("E", (3, 3))
    d = directional("expm", A, [E])
    assert ed.to_index_notation(d) == "f[i,j] = dexpm(A, E)[i,j]"
    assert ed.to_latex(d) == r"f_{ij} = \left(D\exp\left(A\right)\left[E\right]\right)_{ij}"
    second = r"f_{ij} = \left(D\log\left(A\right)\left[E, E\right]\right)_{ij}"
    assert ed.to_latex(directional("logm", A, [E, E])) == second
    S, W = ed.var("S", (3, 3), symmetric=True), ed.var("W", (3, 3))
    gradient = ed.to_index_notation(ed.grad(ed.sum(ed.sqrtm(S) * W), S))
    assert gradient == "f[i,j] = 0.5 (dsqrtm(S, W)[i,j] + dsqrtm(S, W)[j,i])"


def test_first_derivatives_read_back():
    X, W = ed.var("X", (3, 3)), ed.var("W", (3, 3))
    for fn in (ed.expm, ed.sqrtm, ed.logm):
        g = ed.grad(ed.sum(fn(X) * W), X)
        assert ed.parse(ed.to_index_notation(g).split(" = ", 1)[1], X=X, W=W) == g


def test_a_direction_must_carry_the_matrix_axes():
    A = ed.var("A", (3, 3))
    with pytest.raises(ed.ShapeError, match=r"dexpm: direction 0 has shape \(3, 2\); it must begin with"):
        directional("expm", A, [ed.var("E", (3, 2))])
    with pytest.raises(ed.OperandError, match="dlogm: give at least one direction"):
        directional("logm", A, [])


def test_generated_code_runs_with_numpy_alone():
    X, S = ed.var("X", (3, 3)), ed.var("S", (3, 3), symmetric=True)
    f = ed.sum(ed.expm(X) * W) + ed.trace(ed.logm(S)) + ed.sum(ed.sqrtm(S) * W)
    outputs = {"value": f, "gx": ed.grad(f, X), "gs": ed.grad(f, S), "hx": ed.hessian(f, X), "hs": ed.hessian(f, S)}
    source = ed.to_numpy_code(outputs)
    assert "import einsdiff" not in source and "from einsdiff" not in source
    namespace = {}
    exec(source, namespace)
    rng = np.random.default_rng(4)
    values = {"X": rng.standard_normal((3, 3)), "S": _spd(rng, [1.0, 1.0, 2.0])}
    got = namespace["f"](**values)
    for key, e in outputs.items():
        np.testing.assert_allclose(got[key], ed.evaluate(e, values), rtol=1e-12, atol=1e-13)


def test_other_backends_agree_with_numpy():
    pytest.importorskip("dask")
    rng = np.random.default_rng(8)
    A, S = ed.var("A", (2, 3, 3)), ed.var("S", (3, 3))
    values = {"A": rng.standard_normal((2, 3, 3)), "S": _spd(rng, [0.5, 0.5, 2.0])}
    for e in (ed.expm(A), ed.grad(ed.sum(ed.expm(A) * W), A), ed.sqrtm(S), ed.logm(S),
              ed.grad(ed.sum(ed.logm(S) * W) + ed.sum(ed.sqrtm(S) * W), S)):
        got = ed.evaluate(e, values, backend="dask")
        np.testing.assert_allclose(np.asarray(got), ed.evaluate(e, values), rtol=1e-10, atol=1e-12)


# -- errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", ["expm", "sqrtm", "logm", "matrix_power"])
def test_a_matrix_that_is_not_square_is_a_shape_error(fn):
    B = ed.var("B", (2, 3))
    args = (B, 2) if fn == "matrix_power" else (B,)
    with pytest.raises(ed.ShapeError, match=rf"{fn}: variable 'B' has shape \(2, 3\); it must be a square matrix"):
        getattr(ed, fn)(*args)


@pytest.mark.parametrize("k", [2.5, True, "2", np.float64(2.0)])
def test_a_power_that_is_not_an_integer_is_an_option_error(k):
    with pytest.raises(ed.OptionError, match="matrix_power: the exponent k must be an integer"):
        ed.matrix_power(ed.var("X", (2, 2)), k)


@pytest.mark.parametrize("fn", ["sqrtm", "logm"])
def test_a_matrix_that_is_not_positive_definite_is_an_evaluation_error(fn):
    S = ed.var("S", (3, 3))
    bad = np.diag([1.0, -2.0, 3.0])
    message = rf"{fn}: variable 'S' must be symmetric positive definite .* eigenvalue -2 <= 0"
    with pytest.raises(ed.EvaluationError, match=message):
        ed.evaluate(getattr(ed, fn)(S), S=bad)
    with pytest.raises(ed.EvaluationError, match=message):  # a derivative alone checks too
        ed.evaluate(ed.grad(ed.sum(getattr(ed, fn)(S) * W), S), S=bad)
    with pytest.raises(ed.EvaluationError, match=rf"{fn}: variable 'T' .* \(matrix \(1,\) of the batch\)"):
        ed.evaluate(getattr(ed, fn)(ed.var("T", (2, 3, 3))), T=np.stack([np.eye(3), bad]))


def test_the_gradient_of_a_trace_of_a_matrix_function_is_the_textbook_one():
    """Df(A)[I] = f′(A): tr e^X, tr ln S and tr √S have the Matrix Cookbook's gradients, written so."""
    X, S = ed.var("X", (3, 3)), ed.var("S", (3, 3), symmetric=True)
    assert ed.to_index_notation(ed.grad(ed.trace(ed.expm(X)), X)) == "f[i,j] = expm(X)[j,i]"
    assert ed.to_matrix_notation(ed.grad(ed.trace(ed.expm(X)), X)) == "f = (expm(X))ᵀ"
    assert ed.to_matrix_notation(ed.grad(ed.trace(ed.logm(S)), S)) == "f = S⁻¹"
    assert ed.expm(X.T) is not None and ed.to_index_notation(ed.expm(X.T)) == "f[i,j] = expm(X)[j,i]"
    rng = np.random.default_rng(3)
    m = rng.standard_normal((3, 3))
    s = m @ m.T + 3 * np.eye(3)
    for f, wrt, value in ((ed.trace(ed.expm(X)), X, 0.5 * m), (ed.trace(ed.logm(X)), X, s + 0.1 * m),
                          (ed.trace(ed.sqrtm(X)), X, s), (2.0 * ed.trace(ed.expm(X.T)).sum(), X, m)):
        check_jacobian(f, wrt, {"X": value}, order=2)
