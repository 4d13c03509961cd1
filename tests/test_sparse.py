"""Sparse output: entries straight from the delta pattern, equal to the dense result."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.expr import Materialize
from einsdiff.testing import bindings_for, expressions
from einsdiff.ir.variables import variables

sparse = pytest.importorskip("sparse")
scipy_sparse = pytest.importorskip("scipy.sparse")

seeds = st.integers(0, 2**32 - 1)

A, W, B = ed.var("A", (4, 3)), ed.var("W", (3, 5)), ed.var("B", (4, 5))
X, Y = ed.var("X", (3, 3)), ed.var("Y", (2, 3))
x, y = ed.var("x", (5,)), ed.var("y", (3,))

# (name, expression, nnz the delta pattern stores)
CASES = [
    ("matmul wrt right", ed.jacobian(A @ W + B, W), 4 * 5 * 3),
    ("matmul wrt left", ed.jacobian(A @ W + B, A), 4 * 5 * 3),
    ("wrt an added term", ed.jacobian(A @ W + B, B), 4 * 5),
    ("identity", ed.jacobian(Y, Y), 6),
    ("transpose", ed.jacobian(ed.einsum("ij->ji", Y), Y), 6),
    ("read a diagonal", ed.jacobian(ed.einsum("ii->i", X), X), 3),
    ("trace", ed.jacobian(ed.trace(X), X), 3),
    ("diag of a vector", ed.jacobian(ed.diag(x), x), 5),
    ("hadamard", ed.jacobian(Y * Y, Y), 6),
    ("outer", ed.jacobian(ed.outer(x, y), x), 5 * 3),
    ("sum broadcasts", ed.jacobian(Y.sum(), Y), 6),
    ("broadcast add", ed.jacobian(Y + y, y), 2 * 3),
    ("elementwise", ed.jacobian(ed.tanh(x) * 2 + ed.sin(x), x), 5),
    ("two delta patterns", ed.jacobian(X @ X, X), 2 * 27 - 9),  # they overlap where i=k, j=l
    ("pattern and dense", ed.jacobian(x * x.sum(), x), 25),
    ("hessian elementwise", ed.hessian((ed.tanh(x) * x).sum(), x), 5),
    ("hessian quadratic form", ed.hessian(x @ ed.outer(x, x) @ x, x), 25),
    ("hessian matmul loss", ed.hessian(((A @ W - B) ** 2).sum(), W), None),
    ("hessian logsumexp", ed.hessian(ed.logsumexp(x), x), 25),
    ("softmax", ed.jacobian(ed.softmax(x), x), None),
    ("reshape", ed.jacobian(ed.reshape(X, (9,)), X), 9),
    ("reshape of a sum", ed.jacobian(ed.reshape(X @ X, (9,)), X), None),
    ("inv", ed.jacobian(ed.inv(X + 3 * ed.as_expr(np.eye(3))), X), 81),
    ("det", ed.jacobian(ed.det(X), X), 9),
    ("constant", ed.jacobian(A @ W, B), 0),
    ("materialized", Materialize(ed.jacobian(A @ W, W)), 4 * 5 * 3),
    ("times a materialized delta",
     ed.einsum("ijkl,i->ijkl", Materialize(ed.jacobian(A @ W, W)), ed.sin(A).sum(1)), 60),
    ("a value", ed.tanh(A @ W), 20),
    ("a scalar", (Y * Y).sum(), 1),
]


def _bindings(expr, seed=0):
    return bindings_for(variables(expr), seed)


def _assert_sparse_equals_dense(expr, b):
    dense = ed.evaluate(expr, **b)
    got = ed.evaluate(expr, format="sparse", **b)
    assert isinstance(got, sparse.COO) and got.shape == dense.shape and got.nnz <= max(dense.size, 1)
    scale = 1 + np.abs(dense).max(initial=0)
    np.testing.assert_allclose(got.todense(), dense, rtol=1e-12, atol=1e-12 * scale)
    return got


@pytest.mark.parametrize("name, expr, nnz", CASES, ids=[c[0] for c in CASES])
def test_sparse_equals_dense(name, expr, nnz):
    got = _assert_sparse_equals_dense(expr, _bindings(expr))
    if nnz is not None:
        assert got.nnz == nnz


VANISH_AT_ZERO = [c for c in CASES if c[0] in ("matmul wrt right", "hessian quadratic form")]


@pytest.mark.parametrize("name, expr, nnz", VANISH_AT_ZERO, ids=[c[0] for c in VANISH_AT_ZERO])
def test_entries_are_structural_not_values(name, expr, nnz):
    """Zeros where the pattern stores entries stay stored: nnz is fixed by the expression."""
    b = {k: np.zeros_like(v) for k, v in _bindings(expr).items()}
    got = ed.evaluate(expr, format="sparse", **b)
    assert got.nnz == nnz and not np.any(got.data)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("f, wrt", [(A @ W + B, W), (ed.tanh(x) * 2 + ed.sin(x), x), (X @ X, X),
                                    (ed.inv(X + 3 * ed.as_expr(np.eye(3))), X), (Y.sum(), Y)])
def test_jacobian_matrix_sparse_equals_dense(f, wrt, order):
    b = _bindings(f)
    got = ed.jacobian_matrix(f, wrt, order=order, format="sparse", **b)
    assert isinstance(got, scipy_sparse.csr_matrix) and got.shape == (f.size, wrt.size)
    want = ed.evaluate(ed.jacobian_matrix(f, wrt, order=order), **b)
    np.testing.assert_allclose(got.toarray(), want, rtol=1e-12, atol=1e-12)


def test_jacobian_matrix_of_several_variables():
    b = _bindings(A @ W + B)
    got = ed.jacobian_matrix(A @ W + B, (A, W), format="sparse", **b)
    for m, v in zip(got, (A, W), strict=True):
        np.testing.assert_allclose(m.toarray(), ed.evaluate(ed.jacobian_matrix(A @ W + B, v), **b))


def test_coordinates_use_a_small_integer_type():
    got = ed.evaluate(ed.jacobian(A @ W, W), format="sparse", **_bindings(A @ W))
    assert got.coords.dtype == np.int32


@given(expressions(max_depth=3), seeds)
def test_jacobians_of_random_expressions(expr, seed):
    b = bindings_for(variables(expr), seed)
    note(f"f = {expr}")
    for v in variables(expr):
        jac = ed.jacobian(expr, v)
        note(f"d/d{v.name} = {jac}")
        assume(np.all(np.isfinite(ed.evaluate(jac, **b))))
        _assert_sparse_equals_dense(jac, b)


@settings(max_examples=min(200, settings.default.max_examples))  # each example derives a Hessian
@given(expressions(max_depth=3, functions=True), seeds, st.sampled_from(["C", "F"]))
def test_hessians_and_matrices_of_random_expressions(expr, seed, order):
    f = expr.sum()
    b = bindings_for(variables(f), seed)
    note(f"f = {f}")
    for v in variables(f):
        h = ed.hessian(f, v)
        assume(np.all(np.isfinite(ed.evaluate(h, **b))))
        _assert_sparse_equals_dense(h, b)
        m = ed.jacobian_matrix(expr, v, order=order)
        want = ed.evaluate(m, **b)
        assume(np.all(np.isfinite(want)))
        got = ed.jacobian_matrix(expr, v, order=order, format="sparse", **b)
        np.testing.assert_allclose(got.toarray(), want, rtol=1e-12, atol=1e-12 * (1 + np.abs(want).max(initial=0)))


# -- degenerate shapes: 0-d results, one-element results, size-0 axes ------------------------
v1, s0, z0, Z0 = ed.var("v", (1,)), ed.var("s", ()), ed.var("z", (0,)), ed.var("Z", (0, 3))

# (name, expression, nnz): a 0-d result stores its one entry, a size-0 one none
DEGENERATE = [
    ("0-d reshape of a delta plus a constant", ed.reshape(ed.diag(v1) + 1.0, ()), 1),
    ("0-d reshape of two deltas", ed.reshape(ed.diag(v1) + ed.diag(ed.sin(v1)), ()), 1),
    ("0-d reshape of a delta", ed.reshape(ed.diag(v1), ()), 1),
    ("0-d reshape plus a scalar", ed.reshape(ed.diag(v1) + 1.0, ()) + ed.sin(s0), 1),
    ("0-d jacobian through a reshape", ed.jacobian(ed.reshape(ed.diag(v1) + ed.diag(v1 * v1), ()), v1), 1),
    ("0-d hessian", ed.hessian(ed.sin(s0) * s0, s0), 1),
    ("one element, reshaped up", ed.reshape(ed.diag(v1) + 2.0 * ed.diag(v1), (1, 1, 1)), 1),
    ("one-element jacobian", ed.jacobian(ed.sin(v1) + v1, v1), 1),
    ("size-0 jacobian", ed.jacobian(ed.sin(z0) + z0, z0), 0),
    ("size-0 matmul jacobian", ed.jacobian(Z0 @ y, Z0), 0),
    ("size-0 reshape of a delta plus a constant", ed.reshape(ed.diag(z0) + 1.0, (0,)), 0),
    ("sum over a size-0 axis", ed.sin(z0).sum(), 1),
]


@pytest.mark.parametrize("name, expr, nnz", DEGENERATE, ids=[c[0] for c in DEGENERATE])
def test_degenerate_shapes_equal_dense(name, expr, nnz):
    """A 0-d sum of entries on several grids has no coordinate to sort by: one entry at ()."""
    b = {v.name: np.full(v.shape, 0.3) for v in variables(expr)}
    assert _assert_sparse_equals_dense(expr, b).nnz == nnz


@settings(max_examples=min(50, settings.default.max_examples))
@given(expressions(max_depth=3, max_size=1), seeds)
def test_one_element_jacobians_reshaped_to_0d(expr, seed):
    """Every shape of size 1, so each Jacobian reshapes to () and to (1,)."""
    b = bindings_for(variables(expr), seed)
    note(f"f = {expr}")
    for v in variables(expr):
        jac = ed.jacobian(expr, v)
        assume(np.all(np.isfinite(ed.evaluate(jac, **b))))
        for shape in ((), (1,)):
            _assert_sparse_equals_dense(ed.reshape(jac + ed.jacobian(expr * expr, v), shape), b)


# -- bad input ------------------------------------------------------------------------------
def test_unknown_format_names_it_and_the_choices():
    with pytest.raises(ed.OptionError, match=r"format must be 'dense' or 'sparse', got 'csr'"):
        ed.evaluate(x, format="csr", x=np.zeros(5))
    with pytest.raises(ed.OptionError, match=r"format must be 'dense' or 'sparse', got 'coo'"):
        ed.jacobian_matrix(x, x, format="coo")


def test_dense_jacobian_matrix_takes_no_bindings():
    with pytest.raises(ed.OptionError, match=r"ed.evaluate\(J, \*\*bindings\) instead of passing x"):
        ed.jacobian_matrix(ed.tanh(x), x, x=np.zeros(5))


def test_missing_extra_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sparse", None)  # makes `import sparse` fail
    with pytest.raises(ed.OptionError, match=r'pip install "einsdiff\[sparse\]"'):
        ed.evaluate(ed.jacobian(x, x), format="sparse")


def test_memory_guard_counts_the_stored_entries(monkeypatch):
    """An outer product has no delta to save it: refused before allocating, with the count."""
    monkeypatch.setattr(ed.config, "max_dense_bytes", 100_000)
    u, v = ed.var("u", (1000,)), ed.var("v", (1000,))
    with pytest.raises(ed.MemoryLimitError, match=r"shape \(1000, 1000\) stores 1,000,000 entries"):
        ed.evaluate(ed.outer(u, v), format="sparse", u=np.ones(1000), v=np.ones(1000))
    assert ed.evaluate(ed.jacobian(ed.sin(u), u), format="sparse", u=np.ones(1000)).nnz == 1000


def test_missing_binding_is_named():
    with pytest.raises(ed.BindingError, match="'A'"):
        ed.evaluate(ed.jacobian(A @ W, W), format="sparse", W=np.zeros((3, 5)))


# -- the two large Jacobians, in a child process that reports its own peak memory ----------
_LARGE = textwrap.dedent("""
    import json, time
    import numpy as np
    import einsdiff as ed

    def peak_bytes():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM"))

    rng = np.random.default_rng(0)
    A, W, B = ed.var("A", (500, 200)), ed.var("W", (200, 100)), ed.var("B", (500, 100))
    x = ed.var("x", (10**6,))
    cases = {
        "matmul": (ed.jacobian(A @ W + B, W), {n: rng.normal(size=v.shape) for n, v in
                                                 (("A", A), ("W", W), ("B", B))}),
        "elementwise": (ed.jacobian(ed.tanh(x) * 2 + ed.sin(x), x), {"x": rng.normal(size=10**6)}),
    }
    ed.evaluate(ed.jacobian(ed.sin(ed.var("v", (2,))), ed.var("v", (2,))), format="sparse",
                v=np.zeros(2))  # warm up: imports
    ed.config.max_dense_bytes = 2**30  # the dense Jacobians (8 GB, 8 TB) are refused ...
    report = {"dense_refused": []}
    for name, (jac, bindings) in cases.items():
        try:
            ed.evaluate(jac, **bindings)
        except ed.MemoryLimitError:
            report["dense_refused"].append(name)
    for name, (jac, bindings) in cases.items():  # ... and the sparse ones are not
        start = time.perf_counter()
        result = ed.evaluate(jac, format="sparse", **bindings)
        report[name] = {"seconds": time.perf_counter() - start, "nnz": int(result.nnz),
                        "shape": list(result.shape)}
        del result
    a, w = cases["matmul"][1]["A"], cases["matmul"][1]["W"]
    got = ed.evaluate(cases["matmul"][0], format="sparse", A=a, W=w, B=np.zeros((500, 100)))
    i, j, k, l = got.coords[:, ::99991]  # spot checks: J[i,j,k,l] = A[i,k] δ[j,l]
    report["spot_check"] = bool(np.all(j == l) and np.array_equal(got.data[::99991], a[i, k]))
    report["peak_bytes"] = peak_bytes()
    print(json.dumps(report))
""")


def test_large_jacobians_stay_sparse_in_memory(record_property):
    child = subprocess.run([sys.executable, "-c", _LARGE], capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout.strip().splitlines()[-1])
    print(report)  # the times are for benchmarks/, not for asserting
    for name in ("matmul", "elementwise"):
        record_property(f"{name}_seconds", report[name]["seconds"])
    record_property("peak_bytes", report["peak_bytes"])
    assert report["matmul"] == report["matmul"] | {"nnz": 10**7, "shape": [500, 100, 200, 100]}
    assert report["elementwise"] == report["elementwise"] | {"nnz": 10**6, "shape": [10**6, 10**6]}
    assert report["dense_refused"] == ["matmul", "elementwise"]
    assert report["spot_check"]
    assert report["peak_bytes"] < 1.5 * 2**30
