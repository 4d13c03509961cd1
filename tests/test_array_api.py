"""The array API namespace (einsdiff.array_api): each function, written once against ``xp``, gives
on variables an expression whose value is the reference namespace's on the bound arrays and whose
derivative matches finite differences; what has no derivative or meaning is refused naming
``xp.<name>``; array-api-compat and scipy find the namespace."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import einsdiff as ed
import einsdiff.array_api as xp
from einsdiff.testing.oracles import check_jacobian

ref = pytest.importorskip("array_api_compat.numpy")  # the reference: numpy as the standard spells it
array_namespace = pytest.importorskip("array_api_compat").array_namespace

C23 = np.arange(1.0, 7.0).reshape(2, 3) / 4  # a constant mixed into expressions

# (id, the function of a namespace and its arguments, the argument shapes, the values' domain:
# "any" ±[0.3, 1.2], "pos" [0.3, 1.2], "unit" ±[0.2, 0.8], "square" well-conditioned matrices).
CASES = [
    *[(name, lambda ns, a, name=name: getattr(ns, name)(a), [(2, 3)], "any")
      for name in ("abs", "atan", "exp", "expm1", "sin", "cos", "tan", "tanh", "negative", "positive", "square",
                   "sign", "sinh", "cosh", "conj", "real", "imag")],
    *[(name, lambda ns, a, name=name: getattr(ns, name)(a), [(2, 3)], "pos")
      for name in ("log", "log1p", "log2", "log10", "sqrt")],
    *[(name, lambda ns, a, name=name: getattr(ns, name)(a), [(3,)], "unit") for name in ("acos", "asin")],
    *[(name, lambda ns, a, b, name=name: getattr(ns, name)(a, b), [(2, 3), (3,)], "any")
      for name in ("add", "subtract", "multiply", "divide", "logaddexp", "maximum", "minimum", "hypot",
                   "greater", "greater_equal", "less", "less_equal", "not_equal")],
    ("pow", lambda ns, a, b: ns.pow(a, b), [(2, 3), (2, 3)], "pos"),
    ("add-number", lambda ns, a: ns.add(a, 2.0), [(3,)], "any"),
    ("multiply-number-first", lambda ns, a: ns.multiply(2.0, a), [(3,)], "any"),
    ("where", lambda ns, a, b: ns.where(ns.greater(a, b), a, b * 2.0), [(2, 3), (2, 3)], "any"),
    ("where-array", lambda ns, a, b: ns.where(ns.asarray(C23 > 0.8), a, b), [(2, 3), (3,)], "any"),
    ("clip", lambda ns, a: ns.clip(a, min=-0.5, max=0.5), [(2, 3)], "any"),
    ("clip-max", lambda ns, a: ns.clip(a, max=0.5), [(2, 3)], "any"),
    # statistics
    ("sum", lambda ns, a: ns.sum(a), [(2, 3)], "any"),
    ("sum-axis-keepdims", lambda ns, a: ns.sum(a, axis=-1, keepdims=True), [(2, 3, 2)], "any"),
    ("sum-dtype", lambda ns, a: ns.sum(a, axis=(0, 2), dtype=ns.float64), [(2, 3, 2)], "any"),
    ("mean", lambda ns, a: ns.mean(a, axis=0), [(2, 3)], "any"),
    ("var", lambda ns, a: ns.var(a), [(2, 3)], "any"),
    ("var-correction", lambda ns, a: ns.var(a, axis=0, correction=1, keepdims=True), [(3, 2)], "any"),
    ("std", lambda ns, a: ns.std(a, axis=-1), [(2, 3)], "any"),
    ("cumulative_sum", lambda ns, a: ns.cumulative_sum(a, axis=1), [(2, 3)], "any"),
    ("cumulative_sum-initial", lambda ns, a: ns.cumulative_sum(a, include_initial=True), [(3,)], "any"),
    # manipulation
    ("reshape", lambda ns, a: ns.reshape(a, (3, -1)), [(2, 3, 2)], "any"),
    ("permute_dims", lambda ns, a: ns.permute_dims(a, (2, 0, 1)), [(2, 3, 4)], "any"),
    ("expand_dims", lambda ns, a: ns.expand_dims(a, axis=1), [(2, 3)], "any"),
    ("squeeze", lambda ns, a: ns.squeeze(a, 1), [(2, 1, 3)], "any"),
    ("broadcast_to", lambda ns, a: ns.broadcast_to(a, (2, 4, 3)), [(4, 1)], "any"),
    ("broadcast_arrays", lambda ns, a, b: ns.broadcast_arrays(a, b), [(2, 1), (3,)], "any"),
    ("moveaxis", lambda ns, a: ns.moveaxis(a, 0, -1), [(2, 3, 4)], "any"),
    ("flip", lambda ns, a: ns.flip(a), [(2, 3)], "any"),
    ("flip-axis", lambda ns, a: ns.flip(a, axis=1), [(2, 3)], "any"),
    ("roll", lambda ns, a: ns.roll(a, 2, axis=1), [(2, 3)], "any"),
    ("roll-flat", lambda ns, a: ns.roll(a, -1), [(2, 3)], "any"),
    ("roll-axes", lambda ns, a: ns.roll(a, (1, 2), axis=(0, 1)), [(2, 3)], "any"),
    ("repeat", lambda ns, a: ns.repeat(a, 2, axis=0), [(2, 3)], "any"),
    ("repeat-counts", lambda ns, a: ns.repeat(a, ns.asarray([1, 0, 3]), axis=1), [(2, 3)], "any"),
    ("repeat-flat", lambda ns, a: ns.repeat(a, 2), [(2, 3)], "any"),
    ("tile", lambda ns, a: ns.tile(a, (2, 1, 3)), [(2, 3)], "any"),
    ("unstack", lambda ns, a: ns.unstack(a, axis=1), [(2, 3)], "any"),
    ("take", lambda ns, a: ns.take(a, ns.asarray([2, 0, 2]), axis=1), [(2, 3)], "any"),
    ("tril", lambda ns, a: ns.tril(a, k=-1), [(2, 3, 3)], "any"),
    ("triu", lambda ns, a: ns.triu(a, k=1), [(3, 4)], "any"),
    ("meshgrid", lambda ns, a, b: ns.meshgrid(a, b), [(2,), (3,)], "any"),
    ("meshgrid-ij", lambda ns, a, b, c: ns.meshgrid(a, b, c, indexing="ij"), [(2,), (3,), (2,)], "any"),
    # creation, mixed with a variable
    ("zeros_like", lambda ns, a: ns.zeros_like(a) + a, [(2, 3)], "any"),
    ("ones_like", lambda ns, a: ns.ones_like(a) * 2.0 - a, [(2, 3)], "any"),
    ("full_like", lambda ns, a: ns.full_like(a, 2.5) * a, [(2, 3)], "any"),
    ("zeros-ones-full", lambda ns, a: ns.zeros((2, 3)) + ns.ones(3) * a + ns.full((2, 1), -0.5), [(2, 3)], "any"),
    ("eye", lambda ns, a: ns.eye(2, 3, k=1) @ a, [(3, 2)], "any"),
    ("arange-linspace", lambda ns, a: ns.arange(3.0) * a + ns.linspace(0.0, 1.0, 3) + ns.arange(1, 4, 1.0), [(3,)],
     "any"),
    ("asarray", lambda ns, a: ns.asarray([[1.0, 2.0, 0.5]]) @ ns.asarray(a, dtype=ns.float64), [(3,)], "any"),
    # linear algebra
    ("matmul", lambda ns, a, b: ns.matmul(a, b), [(2, 2, 3), (3, 2)], "any"),
    ("tensordot", lambda ns, a, b: ns.tensordot(a, b, axes=([0], [1])), [(3, 2), (2, 3)], "any"),
    ("vecdot", lambda ns, a, b: ns.vecdot(a, b), [(2, 3), (3,)], "any"),
    ("matrix_transpose", lambda ns, a: ns.matrix_transpose(a), [(2, 2, 3)], "any"),
    ("mT", lambda ns, a: a.mT if isinstance(a, ed.Expr) else np.swapaxes(a, -1, -2), [(2, 2, 3)], "any"),  # numpy 1.x has no .mT
    ("linalg.inv", lambda ns, a: ns.linalg.inv(a), [(3, 3)], "square"),
    ("linalg.det", lambda ns, a: ns.linalg.det(a), [(2, 3, 3)], "square"),
    ("linalg.slogdet", lambda ns, a: ns.linalg.slogdet(a).logabsdet, [(3, 3)], "square"),
    ("linalg.solve", lambda ns, a, b: ns.linalg.solve(a, b), [(3, 3), (3, 2)], "square"),
    ("linalg.cholesky", lambda ns, a: ns.linalg.cholesky(a + ns.linalg.matrix_transpose(a)), [(2, 3, 3)], "square"),
    ("linalg.cholesky-upper", lambda ns, a: ns.linalg.cholesky(a + ns.linalg.matrix_transpose(a), upper=True),
     [(3, 3)], "square"),
    ("linalg.eigvalsh", lambda ns, a: ns.linalg.eigvalsh(a + ns.linalg.matrix_transpose(a)), [(3, 3)], "square"),
    ("linalg.eigh", lambda ns, a: [ns.linalg.eigh(a + ns.linalg.matrix_transpose(a)).eigenvalues,
                                   ns.square(ns.linalg.eigh(a + ns.linalg.matrix_transpose(a)).eigenvectors)],
     [(2, 3, 3)], "square"),
    ("linalg.matrix_power", lambda ns, a: ns.linalg.matrix_power(a, 3), [(2, 2)], "square"),
    ("linalg.matrix_power-0", lambda ns, a: ns.linalg.matrix_power(a, 0) + a, [(2, 2, 2)], "square"),
    ("linalg.matrix_power-neg", lambda ns, a: ns.linalg.matrix_power(a, -2), [(2, 2)], "square"),
    ("linalg.matrix_norm", lambda ns, a: ns.linalg.matrix_norm(a, keepdims=True), [(2, 3, 2)], "any"),
    ("linalg.matrix_norm-2", lambda ns, a: ns.linalg.matrix_norm(a, ord=2), [(2, 3, 2)], "any"),
    ("linalg.matrix_norm-nuc", lambda ns, a: ns.linalg.matrix_norm(a, ord="nuc"), [(3, 2)], "any"),
    ("linalg.svdvals", lambda ns, a: ns.linalg.svdvals(a), [(2, 2, 3)], "any"),
    ("linalg.svd", lambda ns, a: ns.linalg.svd(a, full_matrices=False).S, [(3, 2)], "any"),
    ("linalg.pinv", lambda ns, a: ns.linalg.pinv(a), [(2, 3, 2)], "any"),
    ("linalg.vector_norm", lambda ns, a: ns.linalg.vector_norm(a, axis=0), [(3, 2)], "any"),
    ("linalg.vector_norm-1", lambda ns, a: ns.linalg.vector_norm(a, ord=1), [(2, 3)], "any"),
    ("linalg.trace", lambda ns, a: ns.linalg.trace(a), [(2, 3, 3)], "any"),
    ("linalg.diagonal", lambda ns, a: ns.linalg.diagonal(a), [(2, 3, 2)], "any"),
    ("linalg.outer", lambda ns, a, b: ns.linalg.outer(a, b), [(2,), (3,)], "any"),
    ("linalg.cross", lambda ns, a, b: ns.linalg.cross(a, b), [(2, 3), (3,)], "any"),
    ("linalg.cross-axis", lambda ns, a, b: ns.linalg.cross(a, b, axis=0), [(3, 2), (3, 2)], "any"),
    ("linalg.matmul", lambda ns, a, b: ns.linalg.matmul(a, b), [(2, 3), (3,)], "any"),
    ("linalg.tensordot", lambda ns, a, b: ns.linalg.tensordot(a, b, axes=1), [(2, 3), (3,)], "any"),
    ("linalg.vecdot", lambda ns, a, b: ns.linalg.vecdot(a, b, axis=0), [(3, 2), (3, 1)], "any"),
    ("linalg.matrix_transpose", lambda ns, a: ns.linalg.matrix_transpose(a), [(2, 3)], "any"),
    # joins, through np.concatenate and np.stack on expressions
    ("concat", lambda ns, a, b: ns.concat([a, b, ns.asarray(C23)], axis=0), [(2, 3), (1, 3)], "any"),
    ("concat-flat", lambda ns, a, b: ns.concat([a, b], axis=None), [(2, 3), (4,)], "any"),
    ("stack", lambda ns, a, b: ns.stack([a, b], axis=1), [(2, 3), (2, 3)], "any"),
]

# Functions einsdiff builds through numpy's np.max, np.min and np.prod on expressions.
THROUGH_NUMPY = [
    ("max", lambda ns, a: ns.max(a, axis=1, keepdims=True), [(2, 3)], "any"),
    ("min", lambda ns, a: ns.min(a), [(2, 3)], "any"),
    ("prod", lambda ns, a: ns.prod(a, axis=0), [(2, 3)], "any"),
]


def _values(shapes, domain: str, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        if domain == "pos":
            v = rng.uniform(0.3, 1.2, shape)
        else:
            low, high = (0.2, 0.8) if domain == "unit" else (0.3, 1.2)
            v = rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)
        if domain == "square" and shape[-1] == shape[-2]:
            v = v + 3.0 * np.eye(shape[-1])
        out.append(v)
    return out


def _check(fn, shapes, domain):
    arrays = _values(shapes, domain)
    variables = [ed.var(name, s) for name, s in zip("abcd", shapes, strict=False)]
    bindings = {v.name: a for v, a in zip(variables, arrays, strict=True)}
    results, wants = fn(xp, *variables), fn(ref, *arrays)
    single = not isinstance(results, list | tuple)
    for expr, want in zip([results] if single else results, [wants] if single else wants, strict=True):
        assert isinstance(expr, ed.Expr)
        got = ed.evaluate(expr, bindings)
        assert got.shape == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        check_jacobian(expr, tuple(variables), bindings)


@pytest.mark.parametrize(("fn", "shapes", "domain"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_value_and_derivative_match_the_reference(fn, shapes, domain):
    _check(fn, shapes, domain)


def test_arrays_alone_give_constant_expressions():
    for result in (xp.exp(np.ones(3)), xp.add(1.0, np.ones(3)), xp.sum(np.ones((2, 3)), axis=0), xp.ones(2)):
        assert isinstance(result, ed.Expr)
    np.testing.assert_allclose(ed.evaluate(xp.add(1.0, np.ones(3))), np.full(3, 2.0))


def test_equal_is_a_mask_with_ties():
    a = ed.var("a", (4,))
    value = np.array([0.5, 1.0, -2.0, 3.0])
    other = np.array([0.5, 2.0, -2.0, 1.0])
    np.testing.assert_array_equal(ed.evaluate(xp.equal(a, other), {"a": value}), value == other)
    np.testing.assert_array_equal(ed.evaluate(xp.not_equal(other, a), {"a": value}), value != other)
    assert np.all(ed.evaluate(ed.jacobian(xp.equal(a, other), a), {"a": value}) == 0)


# -- the namespace --------------------------------------------------------------------------------
def test_the_namespace_of_an_expression_is_einsdiff_array_api():
    x = ed.var("x", (2, 3))
    assert x.__array_namespace__() is xp is ed.array_api
    assert x.__array_namespace__(api_version="2023.12") is xp
    assert xp.__array_api_version__ == "2023.12"
    with pytest.raises(ed.OptionError, match=r"^__array_namespace__: .*2023\.12.*'2024\.12'"):
        x.__array_namespace__(api_version="2024.12")


def test_namespace_info():
    info = xp.__array_namespace_info__()
    assert info.default_device() == "cpu" and info.devices() == ["cpu"]
    assert info.default_dtypes()["real floating"] == xp.float64
    assert info.dtypes() == {"float64": xp.float64}
    assert info.dtypes(kind="integral") == {}
    assert info.capabilities() == {"boolean indexing": False, "data-dependent shapes": False}
    assert (xp.e, xp.pi, xp.inf, xp.newaxis) == (np.e, np.pi, np.inf, None) and np.isnan(xp.nan)


def test_array_attributes():
    x = ed.var("x", (2, 3))
    assert x.dtype == xp.float64 == np.float64 and x.device == "cpu"
    assert x.to_device("cpu") is x and x.mT.shape == (3, 2)
    with pytest.raises(ed.OperandError, match=r"^to_device: .*'cuda'"):
        x.to_device("cuda")
    with pytest.raises(ed.OperandError, match=r"^__dlpack__: "):
        np.from_dlpack(x)
    assert isinstance(np.sum(x), ed.Expr) and isinstance(np.exp(x), ed.Expr)  # numpy's dispatch is unchanged


def test_data_type_functions():
    x = ed.var("x", (3,))
    assert xp.isdtype(x.dtype, "real floating") and xp.isdtype(xp.int8, ("bool", "signed integer"))
    assert not xp.isdtype(x.dtype, "integral") and xp.isdtype(xp.float64, xp.float64)
    assert xp.result_type(x, xp.float32) == xp.float64 and xp.result_type(xp.int8, xp.int16) == xp.int16
    assert xp.finfo(x).eps == np.finfo(np.float64).eps and xp.iinfo(xp.int32).max == 2**31 - 1
    assert xp.can_cast(xp.float32, x) and not xp.can_cast(x, xp.int64)
    assert xp.astype(x, xp.float64) is x
    with pytest.raises(ed.OptionError, match=r"^xp\.astype: .*float64.*int64"):
        xp.astype(x, xp.int64)
    with pytest.raises(ed.OptionError, match=r"^xp\.sum: .*dtype=<class 'numpy\.float32'>"):
        xp.sum(x, dtype=xp.float32)
    with pytest.raises(ed.OptionError, match=r"^xp\.zeros: einsdiff has one device"):
        xp.zeros(3, device="gpu")
    with pytest.raises(ed.OptionError, match=r"^xp\.isdtype: kind 'floating'"):
        xp.isdtype(xp.float64, "floating")


@pytest.mark.parametrize("name", sorted(xp.REFUSED))
def test_what_einsdiff_cannot_build_is_refused_naming_it(name):
    space, _, short = name.rpartition(".")
    fn = getattr(xp.linalg if space else xp, short)
    with pytest.raises(ed.OperandError, match=rf"^xp\.{name}: {xp.REFUSED[name][:20]}"):
        fn(ed.var("x", (3, 3)))


def test_constant_integers_are_required_where_they_decide_the_formula():
    x = ed.var("x", (3,))
    with pytest.raises(ed.OperandError, match=r"^xp\.take: indices must be constant integers"):
        xp.take(x, ed.var("i", (2,)))
    with pytest.raises(ed.OperandError, match=r"^xp\.repeat: repeats must be constant integers"):
        xp.repeat(x, xp.asarray([0.5, 1.0, 2.0]))


# -- code written against array-api-compat ----------------------------------------------------------
def logistic_loss(w, X, y, lam=0.1):
    """The mean logistic loss of a linear model with an L2 penalty, in the array-API style."""
    xp_ = array_namespace(w)
    X, y = xp_.asarray(X), xp_.asarray(y)
    margins = y * (X @ w)
    return xp_.mean(xp_.logaddexp(xp_.zeros_like(margins), -margins)) + lam / 2 * xp_.linalg.vector_norm(w) ** 2


def softmax_cross_entropy(W, b, X, Y):
    """The mean cross-entropy of a softmax classifier (log Σ exp, unshifted)."""
    xp_ = array_namespace(W, b)
    logits = xp_.asarray(X) @ W + b
    log_norm = xp_.log(xp_.sum(xp_.exp(logits), axis=-1, keepdims=True))
    return -xp_.mean(xp_.sum(xp_.asarray(Y) * (logits - log_norm), axis=-1))


def gaussian_nll(S, r):
    """½ log det S + ½ Σ rₙᵀ S⁻¹ rₙ over the rows of r."""
    xp_ = array_namespace(S, r)
    _, logdet = xp_.linalg.slogdet(S)
    solved = xp_.linalg.solve(S, xp_.matrix_transpose(r))
    return 0.5 * logdet + 0.5 * xp_.sum(xp_.matrix_transpose(r) * solved) / r.shape[0]


def _classification(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(5, 3))
    labels = rng.integers(0, 4, size=5)
    return X, np.where(rng.normal(size=5) > 0, 1.0, -1.0), np.eye(4)[labels], rng


def _agrees(model, variables, values, *constants):
    """The model on variables evaluates to the model on arrays; its first and second derivatives
    match finite differences."""
    f = model(*variables, *constants)
    bindings = {v.name: a for v, a in zip(variables, values, strict=True)}
    np.testing.assert_allclose(ed.evaluate(f, bindings), model(*values, *constants), rtol=1e-12)
    check_jacobian(f, tuple(variables), bindings, order=2)


def test_array_namespace_finds_einsdiff():
    x, y = ed.var("x", (3,)), ed.var("y", (3,))
    assert array_namespace(x) is xp and array_namespace(x, y) is xp
    assert array_namespace(np.ones(3)) is not xp


def test_logistic_loss_written_against_array_api_compat():
    X, y, _, rng = _classification()
    _agrees(logistic_loss, [ed.var("w", (3,))], [rng.normal(size=3)], X, y)


def test_softmax_cross_entropy_written_against_array_api_compat():
    X, _, Y, rng = _classification(1)
    _agrees(softmax_cross_entropy, [ed.var("W", (3, 4)), ed.var("b", (4,))],
            [rng.normal(size=(3, 4)), rng.normal(size=4)], X, Y)


def test_gaussian_nll_written_against_array_api_compat():
    rng = np.random.default_rng(2)
    m = rng.normal(size=(3, 3))
    _agrees(gaussian_nll, [ed.var("S", (3, 3)), ed.var("r", (4, 3))], [m @ m.T + 3 * np.eye(3), rng.normal(size=(4, 3))])


# -- scipy ----------------------------------------------------------------------------------------
def _run_with_scipy(code: str, array_api: bool) -> subprocess.CompletedProcess:
    """``code`` in a fresh process: SCIPY_ARRAY_API is read when scipy is first imported."""
    pytest.importorskip("scipy")
    env = {k: v for k, v in os.environ.items() if k != "SCIPY_ARRAY_API"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(ed.__file__).parents[1]), env.get("PYTHONPATH", "")])
    if array_api:
        env["SCIPY_ARRAY_API"] = "1"
    prelude = "import numpy as np, einsdiff as ed, scipy.special as sp\nx = ed.var('x', (2, 3))\n"
    v = "v = np.array([[0.5, -1.0, 2.0], [3.0, 0.1, -0.7]])\n"
    return subprocess.run([sys.executable, "-c", prelude + v + textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=120)


def _scipy_version() -> tuple[int, ...]:
    try:
        import scipy
    except ImportError:
        return (0,)
    return tuple(int(part) for part in scipy.__version__.split(".")[:2])


def _succeeds(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stderr[-2000:]


def test_scipy_expit_and_log_expit_build_expressions_under_scipy_array_api():
    _succeeds(_run_with_scipy("""
        for fn in (sp.expit, sp.log_expit):
            e = fn(x)
            assert isinstance(e, ed.Expr), type(e)
            np.testing.assert_allclose(ed.evaluate(e, {"x": v}), fn(v), rtol=1e-12)
    """, array_api=True))


def test_scipy_logsumexp_is_refused_under_scipy_array_api_naming_the_stable_builders():
    _succeeds(_run_with_scipy("""
        try:
            sp.log_softmax(x, axis=-1)
        except ed.EinsdiffError as err:
            assert "ed.log_softmax" in str(err) or "np.max" in str(err), err
        else:
            raise AssertionError("log_softmax built an expression")
    """, array_api=True))


def test_scipy_softmax_without_scipy_array_api_is_an_einsdiff_error():
    _succeeds(_run_with_scipy("""
        try:
            sp.softmax(x)
        except ed.OperandError:
            pass
        else:
            raise AssertionError("softmax did not refuse")
        assert isinstance(sp.expit(x), ed.Expr)  # a ufunc: numpy's protocol, no SCIPY_ARRAY_API needed
    """, array_api=False))


# -- max, min and prod, built by numpy's own functions on expressions ---------------------------------
class TestThroughNumpyReductions:
    """xp.max, xp.min and xp.prod call np.max, np.min and np.prod on expressions."""

    @pytest.mark.parametrize(("fn", "shapes", "domain"), [c[1:] for c in THROUGH_NUMPY],
                             ids=[c[0] for c in THROUGH_NUMPY])
    def test_value_and_derivative_match_the_reference(self, fn, shapes, domain):
        _check(fn, shapes, domain)

    def test_shifted_softmax_cross_entropy(self):
        def shifted(W, X, Y):
            xp_ = array_namespace(W)
            logits = xp_.asarray(X) @ W
            z = logits - xp_.max(logits, axis=-1, keepdims=True)
            return -xp_.mean(xp_.sum(xp_.asarray(Y) * (z - xp_.log(xp_.sum(xp_.exp(z), axis=-1, keepdims=True))),
                                     axis=-1))

        X, _, Y, rng = _classification(3)
        _agrees(shifted, [ed.var("W", (3, 4))], [rng.normal(size=(3, 4))], X, Y)

    @pytest.mark.skipif(_scipy_version() < (1, 15), reason="scipy.special.softmax follows the array API from scipy 1.15")
    def test_scipy_softmax_under_scipy_array_api(self):
        _succeeds(_run_with_scipy("""
            e = sp.softmax(x, axis=-1)
            assert isinstance(e, ed.Expr), type(e)
            np.testing.assert_allclose(ed.evaluate(e, {"x": v}), sp.softmax(v, axis=-1), rtol=1e-12)
        """, array_api=True))
