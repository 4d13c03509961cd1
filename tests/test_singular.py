"""The SVD family (einsdiff.ir.functions.singular): svd, svdvals, pinv and the spectral and
nuclear norms, against numpy's values and central finite differences of the first and second
derivatives, on tall, wide, square and batched matrices with chosen singular values."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.functions import FUNCTIONS
from einsdiff.ir.variables import topological
from einsdiff.testing import check_jacobian

SHAPES = [(3, 2), (2, 3), (3, 3), (2, 3, 2), (2, 2, 3)]


def matrices(shape, values, seed: int) -> np.ndarray:
    """Matrices of ``shape`` with singular values ``values`` (each matrix of a batch the same), in
    random orthonormal bases."""
    rng = np.random.default_rng(seed)
    *batch, m, n = shape
    out = np.empty(shape)
    for b in np.ndindex(*batch):
        q1, _ = np.linalg.qr(rng.standard_normal((m, m)))
        q2, _ = np.linalg.qr(rng.standard_normal((n, n)))
        out[b] = q1[:, : len(values)] @ np.diag(values) @ q2[:, : len(values)].T
    return out


def separated(k: int, gap: float, low: float) -> np.ndarray:
    """k singular values, descending, ``gap`` apart, the smallest ``low + gap``."""
    return low + gap * np.arange(k, 0, -1, dtype=float)


def reference_svd(a: np.ndarray):
    """numpy's thin SVD with the sign convention: each U column's largest-magnitude entry positive."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    pick = np.take_along_axis(u, np.argmax(np.abs(u), axis=-2)[..., None, :], axis=-2)
    sign = np.where(pick < 0, -1.0, 1.0)
    return u * sign, s, vh * np.swapaxes(sign, -1, -2)


cases = st.tuples(st.sampled_from(SHAPES), st.floats(0.3, 0.8), st.floats(0.4, 1.0), st.integers(0, 2**16))


def _setup(case):
    shape, gap, low, seed = case
    A = ed.var("A", shape)
    a0 = matrices(shape, separated(min(shape[-2:]), gap, low), seed)
    return A, a0, np.random.default_rng(seed + 1)


# -- values ----------------------------------------------------------------------------------------
@settings(max_examples=15)
@given(cases)
def test_values_are_numpys_with_the_sign_convention(case):
    A, a0, _ = _setup(case)
    U, s, Vh = ed.svd(A)
    u, sv, vh = (ed.evaluate(e, A=a0) for e in (U, s, Vh))
    want_u, want_s, want_vh = reference_svd(a0)
    np.testing.assert_allclose(sv, want_s, rtol=1e-12)
    np.testing.assert_allclose(u, want_u, atol=1e-12)
    np.testing.assert_allclose(vh, want_vh, atol=1e-12)
    np.testing.assert_allclose((u * sv[..., None, :]) @ vh, a0, atol=1e-12)
    np.testing.assert_allclose(ed.evaluate(ed.pinv(A), A=a0), np.linalg.pinv(a0), atol=1e-12)
    for ord in (2, "nuc"):
        np.testing.assert_allclose(ed.evaluate(ed.norm(A, ord), A=a0), np.linalg.norm(a0, ord, axis=(-2, -1)))


def test_norms_over_chosen_axes_are_numpys():
    T = ed.var("T", (3, 2, 4))
    t0 = np.random.default_rng(0).standard_normal(T.shape)
    for ord in (2, "nuc"):
        for axis in ((0, 2), (2, 0), (-1, 1)):
            np.testing.assert_allclose(ed.evaluate(ed.norm(T, ord, axis), T=t0), np.linalg.norm(t0, ord, axis))
            np.testing.assert_allclose(ed.evaluate(np.linalg.norm(T, ord, axis, keepdims=True), T=t0),
                                       np.linalg.norm(t0, ord, axis, keepdims=True))


def test_numpy_and_array_api_spellings():
    A = ed.var("A", (2, 4, 3))
    a0 = np.random.default_rng(1).standard_normal(A.shape)
    u, s, vh = reference_svd(a0)
    result = np.linalg.svd(A, full_matrices=False)
    for got, want in zip(result, (u, s, vh), strict=True):
        np.testing.assert_allclose(ed.evaluate(got, A=a0), want, atol=1e-12)
    np.testing.assert_allclose(ed.evaluate(result.S, A=a0), s)
    np.testing.assert_allclose(ed.evaluate(np.linalg.svd(A, compute_uv=False), A=a0), s)
    np.testing.assert_allclose(ed.evaluate(np.linalg.pinv(A), A=a0), np.linalg.pinv(a0), atol=1e-12)
    xp = A.__array_namespace__()
    np.testing.assert_allclose(ed.evaluate(xp.linalg.svdvals(A), A=a0), s)
    np.testing.assert_allclose(ed.evaluate(xp.linalg.svd(A, full_matrices=False).Vh, A=a0), vh, atol=1e-12)
    np.testing.assert_allclose(ed.evaluate(xp.linalg.pinv(A), A=a0), np.linalg.pinv(a0), atol=1e-12)
    for ord in (2, "nuc"):
        np.testing.assert_allclose(ed.evaluate(xp.linalg.matrix_norm(A, ord=ord), A=a0),
                                   np.linalg.norm(a0, ord, axis=(-2, -1)))


# -- derivatives -----------------------------------------------------------------------------------
def _functions(A, rng):
    """Scalar and tensor functions of A through every node of the family, with fixed weights."""
    U, s, Vh = ed.svd(A)
    W, Z = rng.standard_normal(U.shape), rng.standard_normal(Vh.shape)
    P = rng.standard_normal(ed.pinv(A).shape)
    return {
        "sum s^3": ed.sum(s ** 3),
        "nuclear norm": ed.sum(ed.norm(A, "nuc")),
        "spectral norm": ed.sum(ed.norm(A, 2)),
        "sum U * W": ed.sum(U * W),
        "sum Vh * Z": ed.sum(Vh * Z),
        "sum pinv * P": ed.sum(ed.pinv(A) * P),
        "U": U, "Vh": Vh, "pinv": ed.pinv(A), "s": s,
    }


@settings(max_examples=6)
@given(cases, st.sampled_from(["sum s^3", "nuclear norm", "spectral norm", "sum U * W", "sum Vh * Z", "sum pinv * P"]))
def test_first_and_second_derivatives_match_finite_differences(case, name):
    A, a0, rng = _setup(case)
    f = _functions(A, rng)[name]
    try:
        check_jacobian(f, A, {"A": a0}, rtol=2e-5, order=2)
    except AssertionError as err:
        raise AssertionError(f"{name} = {f} at A = {a0!r}: {err}") from err


@settings(max_examples=8)
@given(cases, st.sampled_from(["U", "Vh", "pinv", "s"]))
def test_jacobians_of_the_factors_match_finite_differences(case, name):
    A, a0, rng = _setup(case)
    f = _functions(A, rng)[name]
    try:
        check_jacobian(f, A, {"A": a0}, rtol=1e-5)
    except AssertionError as err:
        raise AssertionError(f"{name} = {f} at A = {a0!r}: {err}") from err


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 4)])
def test_symmetric_functions_of_repeated_singular_values_have_a_first_derivative(shape):
    A = ed.var("A", shape)
    a0 = matrices(shape, np.array([2.0, 2.0, 0.7]), seed=5)
    for f in (ed.norm(A, "nuc"), ed.sum(ed.svdvals(A) ** 2), ed.sum(ed.svdvals(A)[:2])):
        got = ed.evaluate(ed.grad(f, A), A=a0)
        assert np.all(np.isfinite(got))
        check_jacobian(f, A, {"A": a0})


def test_singular_vectors_at_repeated_singular_values_raise():
    A = ed.var("A", (3, 3))
    a0 = matrices((3, 3), np.array([2.0, 1.0, 1.0]), seed=2)
    f = ed.sum(ed.svd(A)[0] * np.arange(9.0).reshape(3, 3))
    with pytest.raises(ed.EvaluationError) as info:
        ed.evaluate(ed.grad(f, A), A=a0)
    for words in ("svd", "variable 'A'", "singular values 1 and 2 are nearly equal", "s[1] =", "symmetric function",
                  "perturb"):
        assert words in str(info.value)
    # a second derivative of the nuclear norm differentiates the singular vectors too
    with pytest.raises(ed.EvaluationError, match="nearly equal"):
        ed.evaluate(ed.hessian(ed.norm(A, "nuc"), A), A=a0)


def test_a_batch_names_the_matrix_with_repeated_singular_values():
    A = ed.var("A", (2, 3, 2))
    a0 = np.stack([matrices((3, 2), np.array([2.0, 1.0]), 1), matrices((3, 2), np.array([1.5, 1.5]), 2)])
    with pytest.raises(ed.EvaluationError, match=r"singular values 0 and 1 are nearly equal \(matrix \(1,\)"):
        ed.evaluate(ed.jacobian(ed.svd(A)[2], A), A=a0)


def test_rank_deficient_rectangular_singular_vectors_raise():
    A = ed.var("A", (4, 3))
    a0 = matrices((4, 3), np.array([2.0, 1.0, 0.0]), seed=3)
    with pytest.raises(ed.EvaluationError, match=r"singular value 2 is nearly 0"):
        ed.evaluate(ed.jacobian(ed.svd(A)[0], A), A=a0)
    with pytest.raises(ed.EvaluationError, match=r"singular value 2 is nearly 0"):
        ed.evaluate(ed.jacobian(ed.svd(A.T)[2], A), A=a0)


# -- errors ----------------------------------------------------------------------------------------
BAD = [
    (lambda: ed.svd(ed.var("x", (3,))), ed.ShapeError, ["svd", "variable 'x'", "(3,)", "matrix"]),
    (lambda: ed.svdvals(ed.var("x", (3,))), ed.ShapeError, ["svdvals", "(3,)"]),
    (lambda: ed.pinv(ed.var("s", ())), ed.ShapeError, ["pinv", "variable 's'", "()"]),
    (lambda: ed.norm(ed.var("x", (3,)), "nuc"), ed.ShapeError, ["'nuc' needs a matrix", "(3,)"]),
    (lambda: ed.norm(ed.var("X", (3, 3)), 2, axis=(1, -1)), ed.ShapeError, ["names an axis twice"]),
    (lambda: np.linalg.svd(ed.var("X", (3, 3))), ed.OptionError, ["full_matrices=True", "full_matrices=False"]),
    (lambda: np.linalg.pinv(ed.var("X", (3, 3)), rcond=1e-3), ed.OptionError, ["rcond=0.001"]),
    (lambda: ed.var("X", (3, 3)).__array_namespace__().linalg.pinv(ed.var("X", (3, 3)), rtol=0.1), ed.OptionError,
     ["xp.linalg.pinv", "rtol=0.1"]),
]


@pytest.mark.parametrize("make, error, words", BAD, ids=[str(k) for k in range(len(BAD))])
def test_bad_input_names_the_function_and_shape(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_a_non_finite_matrix_is_an_evaluation_error():
    A = ed.var("A", (2, 2))
    with pytest.raises(ed.EvaluationError, match="svdvals: the SVD of variable 'A'"):
        ed.evaluate(ed.svdvals(A), A=np.array([[np.nan, 1.0], [0.0, 1.0]]))


# -- notation and generated code -------------------------------------------------------------------
FORMULAS = {
    "svdvals(A)[k]": lambda a: reference_svd(a)[1],
    "svd_u(A)[i,k]": lambda a: reference_svd(a)[0],
    "svd_vh(A)[k,j]": lambda a: reference_svd(a)[2],
    "pinv(A)[i,j]": np.linalg.pinv,
    "svd_u(A)[i,k] svdvals(A)[k] svd_vh(A)[k,j]": lambda a: a,
    "pinv[k,l](A[k,m] B[m,l])[i,j]": None,
}


@pytest.mark.parametrize("formula", sorted(FORMULAS))
def test_formulas_read_the_family(formula):
    rng = np.random.default_rng(4)
    a0, b0 = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))
    got = ed.evaluate(ed.parse(formula, A=(4, 3), B=(3, 3)), A=a0, B=b0)
    want = np.linalg.pinv(a0 @ b0) if FORMULAS[formula] is None else FORMULAS[formula](a0)
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_printed_derivatives_read_back():
    A = ed.var("A", (4, 3))
    a0 = matrices((4, 3), separated(3, 0.5, 0.5), seed=8)
    U, s, Vh = ed.svd(A)
    for name, f in {"nuclear": ed.norm(A, "nuc"), "spectral": ed.norm(A, 2), "U": ed.sum(U ** 3),
                    "Vh": ed.sum(Vh ** 3), "pinv": ed.sum(ed.pinv(A) ** 2)}.items():
        g = ed.grad(f, A)
        back = ed.parse(ed.to_index_notation(g), A=A)
        np.testing.assert_allclose(ed.evaluate(back, A=a0), ed.evaluate(g, A=a0), atol=1e-12, err_msg=name)
    for e in (ed.svdvals(A), ed.pinv(A), ed.grad(ed.norm(A, "nuc"), A)):
        text = ed.to_matrix_notation(e).removeprefix("f = ")
        back = ed.parse(text, notation="matrix", A=A)
        np.testing.assert_allclose(ed.evaluate(back, A=a0), ed.evaluate(e, A=a0), atol=1e-12, err_msg=text)
    assert ed.to_matrix_notation(ed.pinv(A)) == "f = pinv(A)"
    assert ed.to_latex(ed.pinv(A)) == r"f_{ij} = \left(A^{+}\right)_{ij}"
    assert ed.to_index_notation(ed.norm(A, 2)) == "f = max(svdvals(A))"
    assert "svdgap(A)" in ed.to_index_notation(ed.grad(ed.sum(ed.svd(A)[0]), A))


def test_generated_code_runs_and_matches():
    A = ed.var("A", (2, 4, 3))
    a0 = matrices(A.shape, separated(3, 0.5, 0.5), seed=9)
    rng = np.random.default_rng(9)
    fs = _functions(A, rng)
    exprs = {"U": fs["U"], "s": fs["s"], "pinv": fs["pinv"], "g_U": ed.grad(fs["sum U * W"], A),
             "g_Vh": ed.grad(ed.sum(ed.svd(ed.transpose(A, (0, 2, 1)))[2] ** 3), A),
             "H_nuc": ed.hessian(fs["nuclear norm"], A)}
    namespace = {}
    exec(ed.to_numpy_code(exprs), namespace)
    got = namespace["f"](A=a0)
    for key, e in exprs.items():
        np.testing.assert_allclose(got[key], ed.evaluate(e, A=a0), atol=1e-10, err_msg=key)


def test_every_rule_node_is_in_the_registry_with_printing():
    for fn in ("svdvals", "svd_u", "svd_vh", "svdgap", "svdinv", "pinv"):
        entry = FUNCTIONS[fn]
        assert entry.kind == "call" and entry.notation.text and entry.notation.latex and entry.notation.rule_text
    A = ed.var("A", (3, 2))
    g = ed.hessian(ed.sum(ed.svd(A)[0] ** 2 * np.arange(6.0).reshape(3, 2)), A)
    assert {n.fn for n in topological([g]) if hasattr(n, "fn")} >= {"svdgap", "svdinv"}


def test_the_array_path_under_numpys_names_is_the_numpy_path():
    """Other backends run each entry's ``array`` (unchecked): under numpy's names it gives numpy's values."""
    A = ed.var("A", (2, 4, 3))
    a0 = matrices(A.shape, separated(3, 0.5, 0.5), seed=10)
    U, s, Vh = ed.svd(A)
    nodes = [U, s, Vh, ed.pinv(A), FUNCTIONS["svdgap"].builder(A), FUNCTIONS["svdinv"].builder(A)]
    for node in nodes:
        got = FUNCTIONS[node.fn].array(np, node, [a0])
        np.testing.assert_allclose(got, ed.evaluate(node, A=a0), atol=1e-12, err_msg=node.fn)


def test_compiled_value_and_gradient_share_one_factorization(monkeypatch):
    A = ed.var("A", (3, 4))
    a0 = matrices(A.shape, separated(3, 0.4, 0.6), seed=12)
    f = ed.norm(A, "nuc") + ed.norm(A, 2)
    run = ed.compile([f, ed.grad(f, A)])
    run(A=a0 + 1.0)
    calls, svd = [], np.linalg.svd
    monkeypatch.setattr(np.linalg, "svd", lambda *args, **kwargs: calls.append(1) or svd(*args, **kwargs))
    value, gradient = run(A=a0)
    assert len(calls) == 1  # svdvals, svd_u and svd_vh read one factorization
    u, s, vh = np.linalg.svd(a0, full_matrices=False)
    np.testing.assert_allclose(value, s.sum() + s[0])
    np.testing.assert_allclose(gradient, u @ vh + np.outer(u[:, 0], vh[0]), atol=1e-12)
