"""Backends: compiled expressions on jax, torch, cupy and dask agree with numpy.

jax, torch and cupy tests skip where the package is absent; ``benchmarks/.venv`` has jax
and torch (``benchmarks/.venv/bin/python -m pytest tests/test_backends.py``).
"""

import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.testing import bindings_for, expressions
from einsdiff.ir.variables import variables

MODULES = {"jax": "jax", "torch": "torch", "cupy": "cupy", "dask": "dask.array"}


@pytest.fixture(params=sorted(MODULES))
def backend(request):
    name = request.param
    module = pytest.importorskip(MODULES[name])
    if name == "jax":
        module.config.update("jax_enable_x64", True)  # numpy's float64, to compare closely
    return name


def to_numpy(array, backend: str) -> np.ndarray:
    if backend == "dask":
        return array.compute()
    if backend == "torch":
        return array.detach().cpu().numpy()
    if backend == "cupy":
        return array.get()
    return np.asarray(array)


A, x, W, S, M = ed.var("A", (4, 3)), ed.var("x", (3,)), ed.var("W", (3, 2)), ed.var("S", (3, 3)), ed.var("M", (2, 3, 3))
V = ed.var("V", (2, 3, 2))
LOSS = ed.sigmoid(A @ x).sum() + ed.logsumexp(A @ x) + ed.logdet(S) + (ed.solve(S, x) ** 2).sum()
CASES = {
    "jacobian with a delta": ed.jacobian(A @ W, W),
    "identity": ed.jacobian(W, W),
    "broadcast": A + x,
    "broadcast and delta": ed.jacobian(A * x, x),
    "hessian": ed.hessian(ed.tanh(A @ x).sum(), x),
    "hessian of relu": ed.hessian((ed.relu(A @ x) ** 2).sum(), x),
    "hessian through calls": ed.hessian(LOSS, x),
    "gradient through calls": ed.grad(LOSS, S),
    "maps": ed.exp(x) + ed.log(1 + x * x) + ed.log1p(x * x) + ed.sin(x) + ed.cos(x) + ed.tanh(x) + ed.sigmoid(x)
    + ed.softplus(x) + ed.relu(x) + ed.abs(x) + ed.sqrt(1 + x * x) + 1 / (1 + x * x) + (1 + x * x) ** 1.5,
    "step and sign": ed.grad((ed.relu(x) + ed.abs(x)).sum(), x),
    "inv": ed.inv(S),
    "batched inv and det": ed.einsum("bij,b->bij", ed.inv(M), ed.det(M)),
    "det": ed.det(S),
    "logdet": ed.logdet(S),
    "slogdet": ed.slogdet(-S)[0] * ed.slogdet(-S)[1],
    "solve a vector": ed.solve(S, x),
    "solve a matrix": ed.solve(S, W),
    "batched solve": ed.solve(M, V),
    "cholesky and its gradient": ed.cholesky(S) + ed.grad(ed.sum(ed.cholesky(S) * S), S),
    "batched eigh and a hessian": ed.einsum("bij,bj->bij", ed.eigh(M)[1], ed.eigvalsh(M))
    + ed.hessian(ed.sum(ed.eigvalsh(M)[:, 1:] ** 3), M)[:, :, :, 0, 0, 1],
    "batched svd, pinv and a hessian": ed.einsum("bij,bj->bij", ed.svd(V)[0], ed.svdvals(V)) + ed.pinv(V)[:, 0, 0, None, None]
    + ed.hessian(ed.sum(ed.norm(V, "nuc")), V)[:, :, :, 1, 0, 1],
    "expm, sqrtm, logm and gradients": ed.expm(0.3 * S) + ed.sqrtm(S @ S.T) + ed.logm(S @ S.T)
    + ed.grad(ed.sum(ed.sqrtm(S @ S.T) ** 3 + ed.expm(0.3 * S) ** 2), S),
    "a hessian through expm": ed.hvp(ed.sum(ed.expm(0.3 * S) ** 3), S, W[:, :1] * W[:, :1].T),
    "logsumexp over an axis": ed.logsumexp(A, axis=0),
    "softmax": ed.softmax(A @ x),
    "where": ed.where(x > 0, x, 2 * x),
    "maximum": ed.maximum(A @ x, 0.5 * (A @ x)),
    "jacobian_matrix F order": ed.jacobian_matrix(ed.tanh(A @ W), W, order="F"),
    "constants": ed.hessian(ed.tanh(A @ x + np.arange(4.0)).sum(), x),
    "slices and their adjoints": ed.grad(np.sum((x[1:] - x[:-1]) ** 2), x),
    "repeated picks and their adjoints": ed.grad(np.sum(ed.tanh(A[::-1, [0, 2, 2]])), A),
}


def _bindings() -> dict:
    rng = np.random.default_rng(0)
    return {
        "A": rng.normal(size=(4, 3)),
        "x": rng.normal(size=3),
        "W": rng.normal(size=(3, 2)),
        "S": rng.normal(size=(3, 3)) + 4 * np.eye(3),
        "M": rng.normal(size=(2, 3, 3)) + 4 * np.eye(3),
        "V": rng.normal(size=(2, 3, 2)),
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_agrees_with_numpy(backend, name):
    expr, b = CASES[name], _bindings()
    f = ed.compile(expr, backend=backend)
    got = f(**b)[0]
    assert f.backend.is_native(got)
    np.testing.assert_allclose(to_numpy(got, backend), ed.evaluate(expr, **b), rtol=1e-10, atol=1e-12)


def test_higher_derivatives_of_sqrtm_run_on_the_host_or_say_why_not(backend):
    """Their divided differences of order k are numpy code: an eager backend's arrays go to the host
    and back; a traced one (jax.jit) has no values there, and the error says what to do."""
    expr, b = ed.hessian(ed.sum(ed.sqrtm(S @ S.T) ** 3), S), _bindings()
    f = ed.compile(expr, backend=backend)
    if backend == "jax":
        with pytest.raises(ed.EvaluationError, match="traced .* use backend='numpy' or 'torch'"):
            f(**b)
        return
    np.testing.assert_allclose(to_numpy(f(**b)[0], backend), ed.evaluate(expr, **b), rtol=1e-10, atol=1e-12)


def test_evaluate_takes_a_backend(backend):
    expr, b = CASES["hessian through calls"], _bindings()
    got = ed.evaluate(expr, backend=backend, **b)
    np.testing.assert_allclose(to_numpy(got, backend), ed.evaluate(expr, **b), rtol=1e-10)


def test_native_inputs_and_float32(backend):
    b = {k: v.astype(np.float32) for k, v in _bindings().items()}
    native = ed.compile([], backend=backend).backend.from_numpy
    f = ed.compile([ed.hessian(ed.tanh(A @ x).sum(), x), ed.jacobian(A @ W, W)], backend=backend)
    for got, want in zip(f(**{k: native(v) for k, v in b.items()}), f(**b), strict=True):
        assert str(got.dtype).endswith("float32")
        np.testing.assert_array_equal(to_numpy(got, backend), to_numpy(want, backend))
    integers = ed.compile(2 * x, backend=backend)(x=native(np.arange(3)))[0]
    np.testing.assert_array_equal(to_numpy(integers, backend), [0.0, 2.0, 4.0])


def test_bad_native_inputs(backend):
    native = ed.compile([], backend=backend).backend.from_numpy
    with pytest.raises(ed.BindingError, match=r"'x' expects shape \(3,\)"):
        ed.compile(x, backend=backend)(x=native(np.zeros(4)))


def test_jax_runs_the_whole_computation_traced_once():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    f, b = ed.compile([CASES["hessian through calls"], CASES["gradient through calls"]], backend="jax"), _bindings()
    first, again = f(**b), f(**b)
    assert list(f._tracings) == [np.dtype(np.float64)]  # one jax.jit function, reused
    for got, same, want in zip(first, again, ed.compile(f.outputs)(**b), strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(same))
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10)
    assert f.profile(repeat=2, **b).endswith("total")  # step by step, outside the trace
    f(**{k: v.astype(np.float32) for k, v in b.items()})
    assert sorted(map(str, f._tracings)) == ["float32", "float64"]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expressions(max_depth=3, functions=True), st.integers(0, 2**16))
def test_random_expressions_agree_with_numpy(backend, expr, seed):
    v = variables(expr)
    assume(v)
    outputs = [expr, ed.jacobian(expr, v[0])]
    b = bindings_for(v, seed)
    try:
        want = ed.compile(outputs)(**b)
    except ed.EvaluationError:  # numpy refuses (e.g. a singular matrix); the others return inf or nan
        assume(False)
    got = ed.compile(outputs, backend=backend)(**b)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(to_numpy(g, backend), w, rtol=1e-9, atol=1e-11, equal_nan=True)


@pytest.mark.parametrize("name", ["jax", "torch", "cupy", "dask"])
def test_a_missing_package_says_what_to_install(monkeypatch, name):
    monkeypatch.setitem(sys.modules, MODULES[name], None)  # import fails
    with pytest.raises(ed.BackendError, match="pip install") as caught:
        ed.compile(x, backend=name)
    assert isinstance(caught.value, ImportError) and f"backend={name!r}" in str(caught.value)


def test_options():
    with pytest.raises(ed.OptionError, match="'tensorflow' is not one of"):
        ed.compile(x, backend="tensorflow")
    with pytest.raises(ed.OptionError, match="chunks= applies to backend='dask' only"):
        ed.compile(x, chunks=100)


# -- dask: results larger than memory, chunk by chunk --------------------------------------------
def _large_hessian():
    """A Hessian of 800 x 800 float64 (5.1 MB) with a dense part and a delta."""
    pytest.importorskip("dask.array")
    X, w = ed.var("X", (300, 800)), ed.var("w", (800,))
    loss = ed.softplus(X @ w).sum() + ed.cos(w).sum()
    rng = np.random.default_rng(0)
    return ed.hessian(loss, w), {"X": rng.normal(size=(300, 800)) / 30, "w": rng.normal(size=800)}


@pytest.fixture
def one_megabyte(monkeypatch):
    monkeypatch.setattr(ed.config, "max_dense_bytes", 10**6)


def test_dask_evaluates_a_hessian_over_the_limit_chunk_by_chunk(one_megabyte, monkeypatch):
    hessian, b = _large_hessian()
    with pytest.raises(ed.MemoryLimitError):
        ed.evaluate(hessian, **b)
    lazy = ed.compile(hessian, backend="dask", chunks=200)(**b)[0]
    assert lazy.chunksize == (200, 200) and lazy.numblocks == (4, 4)
    monkeypatch.setattr(ed.config, "max_dense_bytes", 10**8)
    want = ed.evaluate(hessian, **b)
    for i, j in np.ndindex(*lazy.numblocks):  # one 320 kB block at a time, on dask's threads
        block = lazy.blocks[i, j].compute(scheduler="threads")
        np.testing.assert_allclose(block, want[200 * i: 200 * (i + 1), 200 * j: 200 * (j + 1)], rtol=1e-10, atol=1e-15)


def test_dask_on_a_distributed_cluster(one_megabyte, monkeypatch):
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    hessian, b = _large_hessian()
    chunked = {"X": da.from_array(b["X"], chunks=(150, 200)), "w": da.from_array(b["w"], chunks=200)}
    lazy = ed.compile(hessian, backend="dask")(**chunked)[0]  # the inputs' own chunks
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            got = lazy.compute()
    monkeypatch.setattr(ed.config, "max_dense_bytes", 10**8)
    np.testing.assert_allclose(got, ed.evaluate(hessian, **b), rtol=1e-10, atol=1e-15)


def test_dask_chunks_above_the_limit_are_refused(one_megabyte):
    hessian, b = _large_hessian()
    with pytest.raises(ed.MemoryLimitError, match=r"a chunk of shape \(\d+, \d+\).*smaller chunks="):
        ed.compile(hessian, backend="dask", chunks=800)(**b)
