"""NumPy's functions on expressions (einsdiff.ir.numpy_functions): each gives numpy's value on
the bound arrays and a derivative matching finite differences; what einsdiff cannot build is
refused naming the function or the argument."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.testing.oracles import check_jacobian, finite_difference_jacobian

C23 = np.arange(1.0, 7.0).reshape(2, 3) / 4  # a constant mixed into expressions
MASK = np.array([[True, False, True], [False, True, True]])

# (id, the function written with numpy, the shapes of its arguments, whether they are well-conditioned
# square matrices). The same function runs on arrays (numpy's value) and on variables (an expression).
CASES = [
    ("sum", lambda a: np.sum(a), [(2, 3)], False),
    ("sum-axis0", lambda a: np.sum(a, axis=0), [(2, 3)], False),
    ("sum-neg-axis-keepdims", lambda a: np.sum(a, axis=-1, keepdims=True), [(2, 3, 4)], False),
    ("sum-tuple-axis", lambda a: np.sum(a, axis=(0, 2)), [(2, 3, 4)], False),
    ("sum-all-keepdims", lambda a: np.sum(a, keepdims=True), [(2, 3)], False),
    ("mean", lambda a: np.mean(a), [(2, 3)], False),
    ("mean-axis-keepdims", lambda a: np.mean(a, axis=-2, keepdims=True), [(2, 3, 4)], False),
    ("mean-tuple-axis", lambda a: np.mean(a, axis=(1, -1)), [(2, 3, 4)], False),
    ("einsum", lambda a, b: np.einsum("ij,jk->ik", a, b, optimize=True), [(2, 3), (3, 4)], False),
    ("einsum-array", lambda a: np.einsum("ij,ij->i", C23, a), [(2, 3)], False),
    ("einsum-ellipsis", lambda a: np.einsum("...ij->...j", a), [(2, 3, 4)], False),
    ("einsum-interleaved", lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [2, 0]), [(2, 3), (3, 4)], False),
    ("einsum-interleaved-implicit", lambda a: np.einsum(C23, [0, 1], a, [Ellipsis, 1]), [(4, 3)], False),
    ("vdot", lambda a, b: np.vdot(a, b), [(2, 3), (3, 2)], False),
    ("multi_dot", lambda a, b, c: np.linalg.multi_dot([a, b, c]), [(3,), (3, 2), (2, 4)], False),
    ("dot-matvec", lambda a, b: np.dot(a, b), [(2, 3), (3,)], False),
    ("dot-vecvec", lambda a, b: np.dot(a, b), [(3,), (3,)], False),
    ("dot-3d", lambda a, b: np.dot(a, b), [(2, 3, 4), (4, 2)], False),
    ("dot-array-left", lambda a: np.dot(C23, a), [(3, 2)], False),
    ("dot-scalar", lambda a: np.dot(2.5, a), [(3,)], False),
    ("matmul-operator", lambda a, b: a @ b, [(2, 2, 3), (3, 4)], False),
    ("tensordot-int", lambda a, b: np.tensordot(a, b, axes=1), [(2, 3), (3, 4)], False),
    ("tensordot-0", lambda a, b: np.tensordot(a, b, axes=0), [(2,), (3,)], False),
    ("tensordot-pairs", lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 2])), [(3, 2, 4), (2, 5, 3)], False),
    ("tensordot-default", lambda a, b: np.tensordot(a, b), [(2, 3, 4), (3, 4)], False),
    ("inner-vec", lambda a, b: np.inner(a, b), [(3,), (3,)], False),
    ("inner-mat", lambda a, b: np.inner(a, b), [(2, 3), (4, 3)], False),
    ("inner-array", lambda a: np.inner(a, C23), [(3,)], False),
    ("outer", lambda a, b: np.outer(a, b), [(2,), (2, 2)], False),
    ("trace", lambda a: np.trace(a), [(3, 3)], False),
    ("trace-rect", lambda a: np.trace(a), [(2, 3)], False),
    ("trace-3d-axes", lambda a: np.trace(a, axis1=1, axis2=-1), [(2, 3, 3)], False),
    ("diagonal", lambda a: np.diagonal(a), [(3, 3)], False),
    ("diagonal-rect", lambda a: np.diagonal(a), [(3, 2)], False),
    ("diagonal-3d", lambda a: np.diagonal(a, axis1=0, axis2=2), [(3, 2, 3)], False),
    ("diag-vector", lambda a: np.diag(a), [(3,)], False),
    ("diag-matrix", lambda a: np.diag(a), [(2, 3)], False),
    ("transpose", lambda a: np.transpose(a), [(2, 3, 4)], False),
    ("transpose-axes", lambda a: np.transpose(a, (1, 0, 2)), [(2, 3, 4)], False),
    ("swapaxes", lambda a: np.swapaxes(a, 0, -1), [(2, 3, 4)], False),
    ("moveaxis", lambda a: np.moveaxis(a, 0, -1), [(2, 3, 4)], False),
    ("moveaxis-tuple", lambda a: np.moveaxis(a, (0, 1), (2, 0)), [(2, 3, 4)], False),
    ("reshape", lambda a: np.reshape(a, (3, -1)), [(2, 3, 2)], False),
    ("ravel", lambda a: np.ravel(a), [(2, 3)], False),
    ("expand_dims", lambda a: np.expand_dims(a, 1), [(2, 3)], False),
    ("expand_dims-tuple", lambda a: np.expand_dims(a, (0, -1)), [(2, 3)], False),
    ("squeeze", lambda a: np.squeeze(a), [(2, 1, 3, 1)], False),
    ("squeeze-axis", lambda a: np.squeeze(a, axis=-1), [(2, 1, 3, 1)], False),
    ("broadcast_to", lambda a: np.broadcast_to(a, (2, 4, 3)), [(4, 1)], False),
    ("where-comparison", lambda a, b: np.where(a > 0, a, b * 2.0), [(2, 3), (2, 3)], False),
    ("where-array", lambda a, b: np.where(MASK, a, b), [(2, 3), (3,)], False),
    ("inv", lambda a: np.linalg.inv(a), [(3, 3)], True),
    ("inv-batched", lambda a: np.linalg.inv(a), [(2, 2, 2)], True),
    ("det", lambda a: np.linalg.det(a), [(3, 3)], True),
    ("slogdet", lambda a: np.linalg.slogdet(a)[1], [(3, 3)], True),
    ("solve-vector", lambda a, b: np.linalg.solve(a, b), [(3, 3), (3,)], True),
    ("solve-matrix", lambda a, b: np.linalg.solve(a, b), [(3, 3), (3, 2)], True),
    ("solve-array", lambda a: np.linalg.solve(a, C23.T), [(3, 3)], True),
    # symmetric arguments: numpy reads one triangle, einsdiff the symmetric part (the same here)
    ("cholesky", lambda a: np.linalg.cholesky(a + a.T), [(3, 3)], True),
    ("cholesky-batched", lambda a: np.linalg.cholesky(a @ np.swapaxes(a, -1, -2)), [(2, 3, 3)], True),
    ("eigvalsh", lambda a: np.linalg.eigvalsh(a + a.T), [(3, 3)], True),
    ("eigh-values", lambda a: np.linalg.eigh(a + np.swapaxes(a, -1, -2))[0], [(2, 3, 3)], True),
    ("eigh-vectors-squared", lambda a: np.linalg.eigh(a + a.T, UPLO="U")[1] ** 2, [(3, 3)], True),
    ("norm-vector", lambda a: np.linalg.norm(a), [(4,)], False),
    ("norm-vector-2", lambda a: np.linalg.norm(a, 2), [(4,)], False),
    ("norm-fro", lambda a: np.linalg.norm(a, "fro"), [(2, 3)], False),
    ("norm-matrix-default", lambda a: np.linalg.norm(a), [(2, 3)], False),
    ("norm-axis-keepdims", lambda a: np.linalg.norm(a, axis=-1, keepdims=True), [(2, 3)], False),
    ("norm-2", lambda a: np.linalg.norm(a, 2), [(3, 2)], False),
    ("norm-nuc-axes", lambda a: np.linalg.norm(a, "nuc", axis=(0, 2), keepdims=True), [(2, 3, 2)], False),
    # indexed, not .S/.U/.Vh: numpy 1.x's svd returns a plain tuple
    ("svd-S", lambda a: np.linalg.svd(a, full_matrices=False)[1], [(2, 2, 3)], False),
    ("svd-U-Vh", lambda a: (lambda r: r[0] @ r[2])(np.linalg.svd(a, full_matrices=False)), [(3, 2)], False),
    ("svd-values-only", lambda a: np.linalg.svd(a, compute_uv=False), [(3, 2)], False),
    ("pinv", lambda a: np.linalg.pinv(a), [(2, 3, 2)], False),
    # numpy 2's array-API spellings
    *([] if not hasattr(np.linalg, "matrix_norm") else [
        ("linalg.matmul", lambda a, b: np.linalg.matmul(a, b), [(2, 2, 3), (3, 2)], False),
        ("matrix_transpose", lambda a: np.matrix_transpose(a), [(2, 2, 3)], False),
        ("linalg.matrix_transpose", lambda a: np.linalg.matrix_transpose(a), [(2, 3)], False),
        ("permute_dims", lambda a: np.permute_dims(a, (2, 0, 1)), [(2, 3, 4)], False),
        ("linalg.trace", lambda a: np.linalg.trace(a), [(2, 3, 3)], False),
        ("linalg.diagonal", lambda a: np.linalg.diagonal(a), [(2, 3, 2)], False),
        ("linalg.vecdot", lambda a, b: np.linalg.vecdot(a, b, axis=0), [(3, 2), (3, 1)], False),
        ("linalg.vector_norm", lambda a: np.linalg.vector_norm(a, axis=(0, -1), keepdims=True), [(2, 3, 2)], False),
        ("linalg.vector_norm-1", lambda a: np.linalg.vector_norm(a, ord=1), [(2, 3)], False),
        ("linalg.matrix_norm", lambda a: np.linalg.matrix_norm(a), [(2, 3, 2)], False),
        ("linalg.matrix_norm-nuc", lambda a: np.linalg.matrix_norm(a, ord="nuc"), [(2, 3, 2)], False),
        ("linalg.svdvals", lambda a: np.linalg.svdvals(a), [(2, 3)], False),
        ("linalg.outer", lambda a, b: np.linalg.outer(a, b), [(2,), (3,)], False),
        ("linalg.tensordot", lambda a, b: np.linalg.tensordot(a, b, axes=1), [(2, 3), (3,)], False),
    ]),
    # the method forms, as ndarray's
    ("method-sum", lambda a: a.sum(axis=0, keepdims=True), [(2, 3)], False),
    ("method-sum-all", lambda a: a.sum(), [(2, 3)], False),
    ("method-mean", lambda a: a.mean(-1), [(2, 3)], False),
    ("method-reshape-args", lambda a: a.reshape(3, 2), [(2, 3)], False),
    ("method-reshape-tuple", lambda a: a.reshape((-1,)), [(2, 3)], False),
    ("method-transpose", lambda a: a.transpose(), [(2, 3, 4)], False),
    ("method-transpose-args", lambda a: a.transpose(2, 0, 1), [(2, 3, 4)], False),
    ("method-transpose-tuple", lambda a: a.transpose((2, 0, 1)), [(2, 3, 4)], False),
    ("method-ravel", lambda a: a.ravel(), [(2, 3)], False),
    ("method-flatten", lambda a: a.flatten(), [(2, 3)], False),
    ("method-dot", lambda a, b: a.dot(b), [(2, 3), (3, 2)], False),
    ("method-trace", lambda a: a.trace(), [(3, 3)], False),
    ("method-diagonal", lambda a: a.diagonal(), [(3, 3)], False),
    ("method-squeeze", lambda a: a.squeeze(0), [(1, 3)], False),
    ("method-swapaxes", lambda a: a.swapaxes(0, 1), [(2, 3)], False),
]


def _values(shapes, square: bool, seed: int = 0) -> list[np.ndarray]:
    """Entries away from 0 (where's mask and the norms' kinks); square matrices well-conditioned."""
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        v = rng.uniform(0.3, 1.2, shape) * rng.choice([-1.0, 1.0], shape)
        if square and len(shape) >= 2 and shape[-1] == shape[-2]:
            v = v + 3.0 * np.eye(shape[-1])
        out.append(v)
    return out


@pytest.mark.parametrize(("fn", "shapes", "square"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_value_and_derivative_match_numpy(fn, shapes, square):
    arrays = _values(shapes, square)
    variables = [ed.var(name, s) for name, s in zip("abcd", shapes, strict=False)]
    expr = fn(*variables)
    assert isinstance(expr, ed.Expr)
    bindings = {v.name: a for v, a in zip(variables, arrays, strict=False)}
    want = np.asarray(fn(*arrays))
    got = ed.evaluate(expr, bindings)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    check_jacobian(expr, tuple(variables), bindings)


def test_slogdet_returns_numpys_pair():
    S = ed.var("S", (3, 3))
    value = -np.eye(3) * 2 + 0.1  # a negative determinant: the sign is -1
    sign, logabsdet = np.linalg.slogdet(S)
    result = np.linalg.slogdet(S)
    assert (result.sign, result.logabsdet) == (sign, logabsdet)
    want_sign, want_logabsdet = np.linalg.slogdet(value)  # numpy 1.x: a plain pair
    assert ed.evaluate(sign, {"S": value}) == want_sign == -1
    np.testing.assert_allclose(ed.evaluate(logabsdet, {"S": value}), want_logabsdet)
    assert np.all(ed.evaluate(ed.grad(sign, S), {"S": value}) == 0)  # the sign is piecewise constant


def test_shape_queries_answer_without_building():
    A = ed.var("A", (2, 3))
    assert (np.shape(A), np.ndim(A), np.size(A), np.size(A, -1)) == ((2, 3), 2, 6, 3)


def test_gaussian_negative_log_likelihood_written_with_numpy():
    """0.5 log det S + 0.5 rᵀ S⁻¹ r with r = x - mean(X, axis=0), as NumPy code, differentiated."""

    def nll(S, X, x):
        mu = X.mean(axis=0)
        centred = X - X.sum(axis=0, keepdims=True) / X.shape[0]  # the same mean, with keepdims
        spread = np.einsum("ni,nj->ij", centred, centred) / X.shape[0]
        r = x - mu
        sign, logdet = np.linalg.slogdet(S)
        return 0.5 * logdet + 0.5 * (r @ np.linalg.solve(S, r)) + 0.01 * np.trace(spread)

    rng = np.random.default_rng(1)
    m = rng.normal(size=(3, 3))
    values = {"S": m @ m.T + 3 * np.eye(3), "X": rng.normal(size=(4, 3)), "x": rng.normal(size=3)}
    S, X, x = ed.var("S", (3, 3)), ed.var("X", (4, 3)), ed.var("x", (3,))
    f = nll(S, X, x)
    np.testing.assert_allclose(ed.evaluate(f, values), nll(values["S"], values["X"], values["x"]), rtol=1e-12)
    for v in (S, X, x):
        np.testing.assert_allclose(
            ed.evaluate(ed.grad(f, v), values), finite_difference_jacobian(f, v, values), rtol=1e-6, atol=1e-8
        )
    check_jacobian(ed.grad(f, x), x, values)  # the Hessian in x: S⁻¹
    value, gradient = ed.compile([f, ed.grad(f, S)])(values)  # compiled like any expression
    np.testing.assert_allclose(gradient, ed.evaluate(ed.grad(f, S), values), rtol=1e-12)


def test_a_function_einsdiff_cannot_build_is_refused_by_name():
    x = ed.var("x", (3,))
    with pytest.raises(ed.OperandError, match=r"^np\.sort: einsdiff has no derivative for it; .*np\.sum"):
        np.sort(x)
    with pytest.raises(ed.EinsdiffError, match=r"^np\.linalg\.qr: "):
        np.linalg.qr(ed.var("S", (3, 3)))
    with pytest.raises(ed.EinsdiffError, match=r"^np\.block: "):  # found inside a list, too
        np.block([x, np.ones(2)])


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda x, A: np.sum(x, out=np.zeros(())), "out"),
        (lambda x, A: np.sum(x, dtype=np.float32), "dtype"),
        (lambda x, A: np.sum(x, where=x > 0), "where"),
        (lambda x, A: np.sum(x, initial=1.0), "initial"),
        (lambda x, A: np.mean(x, dtype=np.float32), "dtype"),
        (lambda x, A: np.trace(A, offset=1), "offset"),
        (lambda x, A: np.trace(A, 1), "offset"),
        (lambda x, A: np.diagonal(A, -1), "offset"),
        (lambda x, A: np.diag(x, k=1), "k"),
        (lambda x, A: np.reshape(A, (3, 3), order="F"), "order"),
        (lambda x, A: np.ravel(A, order="F"), "order"),
        (lambda x, A: np.dot(A, x, out=np.zeros(3)), "out"),
        (lambda x, A: np.einsum("ij,j->i", A, x, dtype=np.float32), "dtype"),
        (lambda x, A: A.sum(axis=0, out=np.zeros(3)), "out"),
        (lambda x, A: A.trace(offset=2), "offset"),
        (lambda x, A: A.reshape(9, order="F"), "order"),
        (lambda x, A: np.linalg.multi_dot([A, A, x], out=np.zeros(3)), "out"),
        *([] if not hasattr(np.linalg, "matrix_norm") else [
            (lambda x, A: np.linalg.trace(A, offset=1), "offset"),
            (lambda x, A: np.linalg.vector_norm(x, ord=np.inf), "ord"),
            (lambda x, A: np.linalg.matrix_norm(A, ord=1), "ord"),
        ]),
    ],
)
def test_an_argument_einsdiff_does_not_take_is_refused_by_name(call, argument):
    x, A = ed.var("x", (3,)), ed.var("A", (3, 3))
    with pytest.raises(ed.OptionError, match=rf"^np\.[\w.]+: einsdiff does not take {argument}="):
        call(x, A)


def test_an_argument_at_a_value_that_changes_nothing_is_accepted():
    x, A = ed.var("x", (3,)), ed.var("A", (3, 3))
    assert np.sum(x, dtype=np.float64, out=None, initial=0, where=True) == ed.sum(x)
    assert np.einsum("ij,j->i", A, x, optimize="greedy", order="C") == ed.einsum("ij,j->i", A, x)
    assert np.trace(A, offset=0) == ed.trace(A)
    assert np.reshape(A, 9, order="C") == A.reshape(9) == ed.reshape(A, (9,))


@pytest.mark.parametrize(
    ("ord_", "shape"), [(1, (2, 3)), (-2, (2, 3)), (np.inf, (3, 3)), (np.inf, (3,)), (-1, (3,)), (0, (3,))]
)
def test_a_norm_without_a_derivative_here_is_refused_naming_ord(ord_, shape):
    with pytest.raises(ed.OptionError, match=rf"^np\.linalg\.norm: einsdiff does not take ord={ord_!r}"):
        np.linalg.norm(ed.var("x", shape), ord_)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x, A: np.einsum(A, [0, -1]), r"np\.einsum: subscript list 0 is \[0, -1\]; in the interleaved form"),
        (lambda x, A: np.where(x > 0), r"np\.where: einsdiff takes the three-argument form"),
        (lambda x, A: np.sum(A, axis=2), r"np\.sum: axis 2 is out of range"),
        (lambda x, A: np.squeeze(A, axis=0), r"np\.squeeze: axis 0 of shape \(3, 3\) has size 3"),
        (lambda x, A: np.tensordot(A, x, axes=([0], [0, 0])), r"np\.tensordot: axes .* pair 1 axes of a with 2"),
        (lambda x, A: np.tensordot(A, ed.var("y", (4,)), axes=([0], [0])), r"np\.tensordot: a's axis 0 has size 3"),
        (lambda x, A: np.moveaxis(A, (0, 1), 0), r"np\.moveaxis: source"),
        (lambda x, A: np.linalg.norm(ed.var("T", (2, 2, 2)), 2), r"np\.linalg\.norm: ord=2 with axis=None"),
        (lambda x, A: np.expand_dims(x, 3), r"np\.expand_dims: axis 3 is out of range for 2 axes"),
        (lambda x, A: np.linalg.inv(x), r"inv: variable 'x' has shape \(3,\); it must be a square matrix"),
    ],
)
def test_a_call_numpy_would_reject_or_einsdiff_cannot_read_is_refused(call, message):
    x, A = ed.var("x", (3,)), ed.var("A", (3, 3))
    with pytest.raises(ed.EinsdiffError, match=message):
        call(x, A)


def test_an_argument_this_numpy_has_and_einsdiff_does_not_know_is_an_error_naming_the_function():
    """numpy checks its own signature first; a keyword of a newer numpy reaches the table unknown."""
    from einsdiff.ir.numpy_functions import call

    with pytest.raises(ed.OperandError, match=r"^np\.sum: .*'bogus'"):
        call(np.sum, (ed.var("x", (3,)),), {"bogus": 1})


def _step(draw, ndim: int, shape: tuple[int, ...]):
    """One numpy call, drawn to fit ``shape``: (name, the call on an array or an expression)."""
    axis = st.integers(-ndim, ndim - 1) if ndim else st.none()
    kinds = ["sum", "mean", "square", "expand_dims", "reshape"] + (
        ["transpose", "moveaxis"] if ndim else []) + (["swapaxes", "diagonal", "trace"] if ndim >= 2 else []) + (
        ["squeeze"] if 1 in shape else [])
    kind = draw(st.sampled_from(kinds))
    if kind in ("sum", "mean"):
        ax, keep = draw(st.one_of(st.none(), axis)), draw(st.booleans())
        return f"{kind}({ax}, keepdims={keep})", lambda v: getattr(np, kind)(v, axis=ax, keepdims=keep)
    if kind == "square":
        return kind, lambda v: v * v
    if kind == "expand_dims":
        ax = draw(st.integers(-ndim - 1, ndim))
        return f"expand_dims({ax})", lambda v: np.expand_dims(v, ax)
    if kind == "reshape":
        return "reshape(-1, 1)", lambda v: np.reshape(v, (-1, 1))
    if kind == "transpose":
        perm = tuple(draw(st.permutations(range(ndim))))
        return f"transpose({perm})", lambda v: np.transpose(v, perm)
    if kind == "moveaxis":
        src, dst = draw(axis), draw(axis)
        return f"moveaxis({src}, {dst})", lambda v: np.moveaxis(v, src, dst)
    if kind == "squeeze":
        return kind, np.squeeze
    a1, a2 = draw(st.lists(st.integers(0, ndim - 1), min_size=2, max_size=2, unique=True))
    return f"{kind}({a1}, {a2})", lambda v: getattr(np, kind)(v, axis1=a1, axis2=a2)


@st.composite
def numpy_chains(draw):
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    steps, current = [], np.zeros(shape)
    for _ in range(draw(st.integers(1, 4))):
        name, fn = _step(draw, current.ndim, current.shape)
        steps.append((name, fn))
        current = fn(current)
    return shape, steps


@settings(max_examples=25, deadline=None, derandomize=True)
@given(numpy_chains())
def test_random_chains_of_numpy_calls_match_numpy_and_finite_differences(chain):
    shape, steps = chain
    x = ed.var("x", shape)
    value = _values([shape], False)[0]
    e, a = x, value
    for _, fn in steps:
        e, a = fn(e), fn(a)
    assert isinstance(e, ed.Expr), [name for name, _ in steps]
    np.testing.assert_allclose(ed.evaluate(e, {"x": value}), a, rtol=1e-12, atol=1e-12)
    check_jacobian(e, x, {"x": value})


def test_numpy_asking_for_an_array_value_is_refused_not_wrapped_in_an_object_array():
    """np.asarray(x) and np.array([x, y]) reach no override; without a refusal numpy would
    build an object array silently."""
    x = ed.var("x", (3,))
    for call in (lambda: np.asarray(x), lambda: np.array([x, x]), lambda: np.asarray([x, 1.0])):
        with pytest.raises(ed.OperandError, match="evaluate it first"):
            call()


def test_an_ndarray_method_einsdiff_lacks_is_named_and_hasattr_says_false():
    x = ed.var("x", (3, 2))
    with pytest.raises(ed.NoMethodError, match=r"x\.cumsum: .*evaluate first"):
        x.cumsum()
    with pytest.raises(ed.OperandError, match=r"x\.argmax"):
        x.argmax(axis=1)
    assert not hasattr(x, "cumsum") and not hasattr(x, "foo") and hasattr(x, "sum") and hasattr(x, "max")
    with pytest.raises(AttributeError, match="'Var' object has no attribute 'foo'"):
        x.foo  # noqa: B018 - a plain typo stays a plain AttributeError
