"""Generated code: einsum listings for reading, and NumPy functions that match ``evaluate``
(in this process, and in a child process that cannot import einsdiff)."""

import ast
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.expr import Contract, Materialize, Var
from einsdiff.ir.functions import FUNCTIONS, solve_node
from einsdiff.ir.ops import OPS
from einsdiff.testing import bindings_for, einsum_cases, expressions
from einsdiff.ir.variables import topological, variables

seeds = st.integers(0, 2**32 - 1)


def run_generated(source: str, name: str = "f", **bindings):
    namespace = {}
    exec(compile(source, "<generated>", "exec"), namespace)
    return namespace[name](**bindings)


def assert_matches(got, want, what: str = ""):
    got, want = np.asarray(got), np.asarray(want)
    assert (got.shape, got.dtype) == (want.shape, want.dtype), what
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * (1 + np.abs(want).max(initial=0)), err_msg=what)


def check_against_evaluate(exprs: dict, bindings: dict):
    """The generated function returns the dict ``evaluate`` gives, key by key."""
    got = run_generated(ed.to_numpy_code(exprs), **bindings)
    assert list(got) == list(exprs)
    for key, e in exprs.items():
        assert_matches(got[key], ed.evaluate(e, **bindings), f"{key}: {e}")


# -- a table of expressions and their derivatives -------------------------------------------

def _matvec():
    A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    y = ed.einsum("ij,j->i", A, x)
    return {"y": y, "dy_dA": ed.jacobian(y, A), "dy_dx": ed.jacobian(y, x)}


def _relu_neuron():
    W, b, x = ed.var("W", (3, 4)), ed.var("b", (3,)), ed.var("x", (4,))
    h = ed.relu(W @ x + b).sum()
    gW, gb, gx = ed.grad(h, (W, b, x))
    return {"h": h, "gW": gW, "gb": gb, "gx": gx}


def _mlp_hessian():
    W1, b1, W2, x, y = (ed.var("W1", (4, 3)), ed.var("b1", (4,)), ed.var("W2", (2, 4)),
                        ed.var("x", (3,)), ed.var("y", (2,)))
    r = W2 @ ed.tanh(W1 @ x + b1) - y
    loss = (r * r).sum()
    gW1, gb1, gW2 = ed.grad(loss, (W1, b1, W2))  # one backward sweep: shared adjoints are materialized
    return {"loss": loss, "gW1": gW1, "gb1": gb1, "gW2": gW2, "H": ed.hessian(loss, W1), "Hx": ed.hessian(loss, x)}


def _elementwise():
    x = ed.var("x", (3,))
    smooth = 1 + ed.square(x)
    e = (ed.sigmoid(x) ** 1.5 + ed.exp(x) + ed.log(smooth) + ed.log1p(ed.square(x)) + ed.sin(x) * ed.cos(x)
         + ed.sqrt(smooth) + 1 / smooth + ed.abs(x) + ed.relu(x) + smooth ** -2.5 + ed.tanh(x))
    inside = 0.5 * ed.tanh(x)  # where tan, arcsin and arccos are smooth
    e = e + ed.tan(inside) + ed.arcsin(inside) * ed.arccos(inside) + ed.arctan(x) + ed.expm1(inside)
    return {"e": e, "J": ed.jacobian(e, x), "H": ed.hessian(e.sum(), x)}


def _constants():
    x = ed.var("x", (3,))
    C = np.array([[0.1, -2.0, 1 / 3], [1e-300, 5.0, -0.0]])
    e = ed.einsum("ij,j->i", C, x) * 0.5 + np.array([1.5, 2.5])
    return {"e": e, "J": ed.jacobian(e, x), "s": (ed.sigmoid(e) * e).sum()}


def _deltas_and_broadcasts():
    X, W, x = ed.var("X", (2, 3)), ed.var("W", (3, 3)), ed.var("x", (3,))
    return {
        "identity": ed.jacobian(X, X),  # no operands at all, two deltas
        "x_plus_Wx": ed.jacobian(x + W @ x, x),  # a delta term added into a dense one
        "trace_grad": ed.grad(ed.einsum("ii->", W), W),
        "diag_jac": ed.jacobian(ed.einsum("ii->i", W), W),
        "ones": ed.grad(x.sum(), x),  # a broadcast of 1
        "outer": ed.jacobian(ed.einsum("i,j->ij", x, x), x),
        "zero": ed.jacobian(x.sum(), W),  # W does not occur: an empty sum
        "sum_to_scalar": ed.einsum("ij->", X) * 2,
    }


def _reshapes():
    A, W = ed.var("A", (2, 3)), ed.var("W", (3, 4))
    return {"C": ed.jacobian_matrix(A @ W, W), "F": ed.jacobian_matrix(A @ W, W, order="F"),
            "r": ed.jacobian_matrix(ed.tanh(A @ W).sum(), A)}


def _matrix_functions():
    """Every function of whole tensors and softplus, with first and second derivatives."""
    M, S, R = ed.var("M", (3, 3)), ed.var("S", (2, 3, 3)), ed.var("R", (3, 2))
    v, z = ed.var("v", (3,)), ed.var("z", (2, 3))
    P, Q = M + 4 * np.eye(3), S + 4 * np.eye(3)  # diagonally dominant for entries in [-1, 1]: det > 0
    sign, logabs = ed.slogdet(M - 4 * np.eye(3))  # det < 0
    leaky = ed.where(z > 0, ed.softplus(z), 0.1 * z)
    return {
        "logdet": ed.logdet(P), "H_logdet": ed.hessian(ed.logdet(P), M),
        "det_batched": ed.det(Q), "J_det_batched": ed.jacobian(ed.det(Q), S),
        "inv_batched": ed.inv(Q), "J_inv_batched": ed.jacobian(ed.inv(Q), S),
        "slogdet": sign * logabs, "g_logabsdet": ed.grad(logabs, M),
        "solve": ed.solve(P, R), "J_solve": ed.jacobian(ed.solve(P, R), M),
        "H_solve": ed.hessian(ed.solve(P, v).sum(), M),
        "where": leaky, "J_where": ed.jacobian(leaky, z),
        "logsumexp": ed.logsumexp(z, 1), "H_logsumexp": ed.hessian(ed.logsumexp(z), z),
        "softmax": ed.softmax(z), "J_softmax": ed.jacobian(ed.softmax(z, 0), z),
        "max": ed.max(z, 1), "J_min": ed.jacobian(ed.min(z, 0), z), "H_prod": ed.hessian(ed.prod(z), z),
        "take": z[:, ::-2] * z[:, [0, 2, 2]][:, 1:], "J_take": ed.jacobian(ed.tanh(z[1, [2, 0, 0]]), z),
        "put": np.concatenate([z, z[:, :1] ** 2], axis=1), "g_put": ed.grad(ed.sum(ed.sin(np.stack([v, v[::-1]]))), v),
        "svd": ed.svd(R)[0] * ed.svdvals(R), "J_svd_vh": ed.jacobian(ed.svd(R.T)[2], R),
        "H_svd_u": ed.hessian(ed.sum(ed.svd(R)[0] ** 3), R), "H_nuc": ed.hessian(ed.norm(S, "nuc").sum(), S),
        "pinv": ed.pinv(R), "J_pinv": ed.jacobian(ed.pinv(R), R),
        "expm_batched": ed.expm(S), "H_expm": ed.hessian(ed.sum(ed.expm(M) * P), M),
        "sqrtm": ed.sqrtm(P), "J_sqrtm": ed.jacobian(ed.sqrtm(Q), S), "logm_batched": ed.logm(Q),
        "H_logm": ed.hessian(ed.sum(ed.logm(P) * M), M),
        "cholesky_batched": ed.cholesky(Q), "J_cholesky": ed.jacobian(ed.cholesky(P), M),
        "H_cholesky": ed.hessian(ed.sum(ed.cholesky(P) ** 2), M), "eigh": ed.eigh(P)[1] * ed.eigvalsh(P),
        "J_eigvecs_batched": ed.jacobian(ed.eigh(Q)[1], S), "H_eigvalsh": ed.hessian(ed.sum(ed.eigvalsh(P) ** 3), M),
    }


CASES = {f.__name__[1:]: f for f in (_matvec, _relu_neuron, _mlp_hessian, _elementwise, _constants,
                                      _deltas_and_broadcasts, _reshapes, _matrix_functions)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_generated_code_matches_evaluate(case):
    exprs = CASES[case]()
    check_against_evaluate(exprs, bindings_for(variables(*exprs.values()), seed=7))


def test_the_table_covers_every_node_type_and_function():
    nodes = topological([e for case in CASES.values() for e in case().values()])
    kinds = {type(n).__name__ for n in nodes}
    assert kinds == {"Var", "Const", "Contract", "Map", "Add", "Reshape", "Materialize", "Call"}
    assert {n.fn for n in nodes if hasattr(n, "fn")} == {name for name, f in FUNCTIONS.items() if f.kind != "composite"}
    assert any(isinstance(n, Contract) and len(set(n.output)) < len(n.output) for n in nodes)


def test_a_delta_is_written_onto_a_diagonal_view_not_built_as_an_identity():
    source = ed.to_numpy_code(_matvec()["dy_dA"])  # δ[i,j] x[k]
    assert "eye" not in source and "identity" not in source
    assert 'np.einsum("iij->ij", t0)[...] = x  # a view of the diagonal' in source


def test_contractions_are_direct_calls_that_search_and_parse_nothing():
    source = ed.to_numpy_code(_mlp_hessian())
    assert " @ " in source and "optimize" not in source
    for eq in re.findall(r"np\.einsum\(\"([^\"]*)\"", source):  # only a diagonal needs np.einsum
        inputs = eq.split("->")[0].split(",")
        assert len(inputs) == 1 or any(len(set(term)) < len(term) for term in inputs), eq


def test_shared_subexpressions_are_computed_once():
    A, x = ed.var("A", (3, 3)), ed.var("x", (3,))
    h = ed.tanh(A @ x)
    source = ed.to_numpy_code([h, h * h, ed.jacobian(h, x)])
    assert source.count("np.tanh(") == 1
    assert source.count("A @ x") == 1


def test_forms_of_outputs():
    x = ed.var("x", (2,))
    b = {"x": np.array([1.0, 2.0])}
    single = run_generated(ed.to_numpy_code(x * x), **b)
    assert isinstance(single, np.ndarray) and single.tolist() == [1.0, 4.0]
    pair = run_generated(ed.to_numpy_code([x.sum(), x * 3]), **b)
    assert isinstance(pair, tuple) and len(pair) == 2 and pair[1].tolist() == [3.0, 6.0]
    one = run_generated(ed.to_numpy_code((x.sum(),)), **b)
    assert isinstance(one, tuple) and len(one) == 1
    named = run_generated(ed.to_numpy_code({"value": x.sum()}, name="loss_and_grad"), name="loss_and_grad", **b)
    assert list(named) == ["value"] and isinstance(named["value"], np.ndarray) and named["value"].shape == ()


def test_output_names_may_be_any_text():
    x = ed.var("x", (2,))
    exprs = {"d loss/dx": x * 2, "two\nlines": x.sum(), "it's": x}
    source = ed.to_numpy_code(exprs)
    got = run_generated(source, x=np.array([1.0, 2.0]))
    assert list(got) == list(exprs) and got["d loss/dx"].tolist() == [2.0, 4.0]
    assert "#   'two\\nlines': f = " in source


def test_the_header_shows_each_formula_unless_it_is_too_long():
    x = ed.var("x", (3,))
    h = x
    for _ in range(10):
        h = h * ed.tanh(h)  # the formula repeats shared terms; the code computes each once
    source = ed.to_numpy_code({"short": ed.tanh(x) @ x, "long": h.sum()})
    assert f"#   {ed.to_index_notation(ed.tanh(x) @ x, 'short')}\n" in source
    assert re.search(r"#   long: shape \(\), a formula of \d+ terms \(too long to show\)\n", source)
    assert source.count("np.tanh(") == 10  # tanh(x) is shared by both outputs


def test_outputs_are_writable_arrays_as_from_evaluate():
    x = ed.var("x", (3,))
    C = np.arange(3.0)
    got = run_generated(ed.to_numpy_code([ed.grad(x.sum(), x), ed.as_expr(C), x.sum()]), x=np.ones(3))
    for array in got:
        assert isinstance(array, np.ndarray) and array.flags.writeable
    got[1][0] = 5.0  # must not change the constant the function holds
    assert run_generated(ed.to_numpy_code(ed.as_expr(C)))[0] == 0.0


def test_arguments_are_sorted_by_name_and_checked():
    b, a = ed.var("b", (2,)), ed.var("a", (2, 2))
    source = ed.to_numpy_code(a @ b)
    assert "def f(a, b):" in source
    namespace = {}
    exec(source, namespace)
    with pytest.raises(ValueError, match=r"argument 'a' must have shape \(2, 2\), got shape \(3,\)"):
        namespace["f"](np.ones(3), np.ones(2))
    with pytest.raises(TypeError, match="argument 'b' must be a real array"):
        namespace["f"](np.ones((2, 2)), np.ones(2, dtype=complex))
    assert namespace["f"]([[1, 0], [0, 1]], [3, 4]).tolist() == [3.0, 4.0]  # integers become float64


def test_single_precision_stays_single():
    W, x = ed.var("W", (3, 2)), ed.var("x", (2,))
    exprs = {"y": ed.sigmoid(W @ x), "J": ed.jacobian(ed.sigmoid(W @ x), W)}
    b = {k: v.astype(np.float32) for k, v in bindings_for((W, x), seed=3).items()}
    got = run_generated(ed.to_numpy_code(exprs), **b)
    for key, e in exprs.items():
        want = ed.evaluate(e, **b)
        assert got[key].dtype == want.dtype == np.float32
        np.testing.assert_allclose(got[key], want, rtol=1e-6)


def test_constants_round_trip_exactly():
    values = np.array([0.1, 1 / 3, -0.0, 1e-300, 5e-324, np.pi, np.nan, np.inf, -np.inf])
    long = values.astype(np.longdouble) / 3  # wider than a Python float on most platforms
    for array in (values, values.astype(np.float32), np.array(2.5), values.reshape(3, 3), long):
        got = run_generated(ed.to_numpy_code(ed.as_expr(array)))
        assert got.dtype == array.dtype and got.tobytes() == array.tobytes()


def test_helpers_are_emitted_only_when_used():
    x, X = ed.var("x", (2,)), ed.var("X", (2, 2))
    assert "_sigmoid" not in ed.to_numpy_code(ed.tanh(x))
    assert ed.to_numpy_code(ed.sigmoid(x) + ed.sigmoid(2 * x)).count("def _sigmoid") == 1
    source = ed.to_numpy_code([ed.logdet(X), ed.logdet(2 * X), ed.solve(X, x)])
    assert source.count("def _logdet") == 1 and source.count("def _solve") == 1 and "_logsumexp" not in source


def test_the_logsumexp_and_solve_helpers_compute_what_evaluate_does():
    namespace = {"np": np}
    exec(FUNCTIONS["logsumexp"].helper + FUNCTIONS["solve"].helper, namespace)
    x = ed.var("x", (2, 3))
    x0 = np.array([[-np.inf, -np.inf, -np.inf], [1e3, -1e3, 0.0]])
    np.testing.assert_array_equal(namespace["_logsumexp"](x0, (1,)), ed.evaluate(ed.logsumexp(x, 1), x=x0))
    A, B = ed.var("A", (2, 3, 3)), ed.var("B", (2, 3, 2, 2))  # a right-hand side with two trailing axes
    a0, b0 = np.eye(3) * [[[1.0]], [[2.0]]] + 0.1, np.arange(24.0).reshape(2, 3, 2, 2)
    np.testing.assert_allclose(namespace["_solve"](a0, b0), ed.evaluate(solve_node(A, B), A=a0, B=b0), rtol=1e-14)


def test_the_sigmoid_helper_is_the_evaluated_sigmoid():
    namespace = {"np": np}
    exec(OPS["sigmoid"].helper, namespace)
    x = np.array([-1e4, -745.0, -40.0, -1.0, -0.0, 0.0, 1e-9, 1.0, 40.0, 1e4, np.inf, -np.inf])
    np.testing.assert_array_equal(namespace["_sigmoid"](x), OPS["sigmoid"].numpy(x, None))


def test_networks_with_more_indices_than_numpy_has_letters():
    A, B = ed.var("A", (2, 2)), ed.var("B", (2, 2))
    n = 53  # A[i0,i1] ... B[i26,i27] ... A[i52,i53]: 54 indices, np.einsum takes 52
    chain = Contract((A,) * 26 + (B,) + (A,) * 26, tuple((k, k + 1) for k in range(n)), (0, n), (2,) * (n + 1))
    near_identity = np.eye(2) + 0.01 * np.ones((2, 2))
    check_against_evaluate({"chain": chain, "J": ed.jacobian(chain, B)}, {"A": near_identity, "B": near_identity.T})


def test_names_that_would_clash_are_avoided_or_refused():
    t0, dtype = ed.var("t0", (2,)), ed.var("dtype", (2, 2))
    exprs = {"y": ed.jacobian(dtype @ t0, dtype), "z": ed.tanh(t0)}
    check_against_evaluate(exprs, bindings_for(variables(*exprs.values()), seed=1))


def test_generated_source_is_deterministic_and_imports_only_numpy():
    first = ed.to_numpy_code(_mlp_hessian())
    assert first == ed.to_numpy_code(_mlp_hessian())
    imports = [n for n in ast.walk(ast.parse(first)) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert [(a.name, a.asname) for n in imports for a in n.names] == [("numpy", "np")]
    assert first.startswith("# Generated by einsdiff; needs only numpy.\n# f(W1, W2, b1, x, y) returns a dict of")


def test_generated_source_is_the_same_in_every_process():
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, "tests")
        from test_codegen import _mlp_hessian, _deltas_and_broadcasts
        import einsdiff as ed
        sys.stdout.write(ed.to_numpy_code({**_mlp_hessian(), **_deltas_and_broadcasts()}))
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outputs = {
        subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


CHILD = """
import importlib.abc
import os
import sys


class NoEinsdiff(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "einsdiff":
            raise ImportError("einsdiff must not be needed by generated code")
        return None


sys.meta_path.insert(0, NoEinsdiff())
sys.path[:] = [p for p in sys.path if not os.path.isfile(os.path.join(p, "einsdiff", "__init__.py"))]

import numpy as np

namespace = {}
with open("generated.py", encoding="utf-8") as file:
    exec(compile(file.read(), "generated.py", "exec"), namespace)
inputs = np.load("inputs.npz")
np.savez("outputs.npz", **namespace["f"](**{name: inputs[name] for name in inputs.files}))
assert not any(name.split(".")[0] == "einsdiff" for name in sys.modules), "einsdiff was imported"
"""


def test_generated_code_runs_where_einsdiff_cannot_be_imported(tmp_path):
    exprs = {**_mlp_hessian(), **_deltas_and_broadcasts(), **_constants(), **_matrix_functions()}
    exprs = {key: e for key, e in exprs.items() if key != "e"} | {"sigmoids": _elementwise()["J"]}
    bindings = bindings_for(variables(*exprs.values()), seed=11)
    (tmp_path / "generated.py").write_text(ed.to_numpy_code(exprs), encoding="utf-8")
    (tmp_path / "child.py").write_text(CHILD, encoding="utf-8")
    np.savez(tmp_path / "inputs.npz", **bindings)
    done = subprocess.run([sys.executable, "-I", "child.py"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    outputs = np.load(tmp_path / "outputs.npz")
    assert sorted(outputs.files) == sorted(exprs)
    for key, e in exprs.items():
        assert_matches(outputs[key], ed.evaluate(e, **bindings))


# -- to_einsum ----------------------------------------------------------------------------

def run_einsum_lines(expr, bindings):
    """Execute what to_einsum prints, as printed, with the variables bound."""
    namespace = dict(bindings)
    exec(ed.to_einsum(expr), namespace)
    return namespace["f"]


def test_to_einsum_lists_one_einsum_per_contraction():
    W1, b1, W2, x = ed.var("W1", (4, 3)), ed.var("b1", (4,)), ed.var("W2", (2, 4)), ed.var("x", (3,))
    loss = (W2 @ ed.tanh(W1 @ x + b1)).sum()
    bindings = bindings_for((W1, b1, W2, x), 0)
    for e in (loss, ed.grad(loss, W1), ed.hessian(loss, x)):
        text = ed.to_einsum(e)
        contractions = [n for n in topological([e]) if isinstance(n, Contract) and n.operands]
        assert text.count("np.einsum(") >= len(contractions)
        assert text.splitlines()[-1].startswith("f = ")
        assert text == ed.to_einsum(e)
        np.testing.assert_allclose(run_einsum_lines(e, bindings), ed.evaluate(e, **bindings), rtol=1e-12)


def test_to_einsum_writes_deltas_as_numpy_runs_them():
    X = ed.var("X", (2, 3))
    text = ed.to_einsum(ed.jacobian(X, X))
    assert text == 'import numpy as np\nt0 = np.zeros((2, 3, 2, 3))\nnp.einsum("ijij->ij", t0)[...] = 1  # a view of the diagonal\nf = t0'
    np.testing.assert_array_equal(run_einsum_lines(ed.jacobian(X, X), {}), np.eye(6).reshape(2, 3, 2, 3))
    # The quick start's Jacobian: numpy refuses "ik->ijkj", so the delta is a diagonal view.
    A, W, B = ed.var("A", (2, 3)), ed.var("W", (3, 2)), ed.var("B", (2,))
    J = ed.jacobian(ed.einsum("ik,kj->ij", A, W) + B, W)
    bindings = bindings_for((A, W, B), 1)
    assert "->ijkj" not in ed.to_einsum(J)
    np.testing.assert_allclose(run_einsum_lines(J, bindings), ed.evaluate(J, **bindings), rtol=1e-12)


def test_to_einsum_shows_factors_and_constants():
    x = ed.var("x", (3,))
    factor = Contract((x,), ((0,),), (), (3, 5))  # index 1 is summed but on no operand
    assert ed.to_einsum(factor) == 'import numpy as np\nt0 = 5 * np.einsum("i->", x)\nf = t0'
    e = ed.einsum("ij,j->i", np.arange(6.0).reshape(2, 3), x) + 2 * ed.var("b", (2,))
    text = ed.to_einsum(e)
    assert text.splitlines()[1] == "C0 = np.array([[0, 1, 2], [3, 4, 5]], dtype=np.float64)"
    assert 'np.einsum("ij,j->i", C0, x)' in text
    bindings = {"x": np.array([1.0, 2.0, 3.0]), "b": np.array([0.5, -1.0])}
    np.testing.assert_allclose(run_einsum_lines(e, bindings), ed.evaluate(e, **bindings))
    assert ed.to_einsum(Materialize(x)) == "import numpy as np\nf = x"
    assert ed.to_einsum(x, name="g").endswith("g = x")


def test_to_einsum_names_each_function_of_whole_tensors():
    X, z = ed.var("X", (3, 3)), ed.var("z", (2, 3))
    bindings = {"X": np.eye(3) * 3 + np.arange(9.0).reshape(3, 3) / 10, "z": np.arange(6.0).reshape(2, 3)}
    for e in (ed.grad(ed.logdet(X), X), ed.logsumexp(z, 1), ed.solve(X, z.T), ed.sigmoid(z)):
        text = ed.to_einsum(e)
        assert "import numpy as np" in text
        np.testing.assert_allclose(run_einsum_lines(e, bindings), ed.evaluate(e, **bindings), rtol=1e-12)
    assert "np.linalg.inv(X)" in ed.to_einsum(ed.grad(ed.logdet(X), X))


def test_to_einsum_result_name_must_not_hide_a_variable():
    with pytest.raises(ed.OperandError, match="'x' would hide"):
        ed.to_einsum(ed.var("x", 2), name="x")


# -- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ed.to_einsum(np.ones(3)), "to_einsum's argument must be an einsdiff expression, got ndarray"),
        (lambda: ed.to_numpy_code(3.0), "takes an expression, a sequence of them or a dict of them, got float"),
        (lambda: ed.to_numpy_code("x"), "got str"),
        (lambda: ed.to_numpy_code([]), "needs at least one expression"),
        (lambda: ed.to_numpy_code({}), "needs at least one expression"),
        (lambda: ed.to_numpy_code([ed.var("x", 2), "y"]), "output 1 must be an einsdiff expression, got str"),
        (lambda: ed.to_numpy_code({"y": np.ones(2)}), "output 'y' must be an einsdiff expression"),
        (lambda: ed.to_numpy_code({1: ed.var("x", 2)}), "output names must be non-empty strings, got 1"),
        (lambda: ed.to_numpy_code(ed.var("x", 2), name="2f"), "function name must be a Python identifier"),
        (lambda: ed.to_numpy_code(ed.var("x", 2), name="lambda"), "that is not a keyword, got 'lambda'"),
        (lambda: ed.to_numpy_code(ed.var("x", 2), name="np"), "function name 'np' would hide"),
        (lambda: ed.to_numpy_code(ed.var("np", 2)), "variable 'np' would hide 'np'"),
        (lambda: ed.to_numpy_code(ed.var("_sigmoid", 2)), "variable '_sigmoid' would hide"),
        (lambda: ed.to_numpy_code(ed.var("_logsumexp", 2)), "variable '_logsumexp' would hide"),
        (lambda: ed.to_numpy_code(Var("for", (2,))), "variable name 'for'"),
    ],
)
def test_bad_input_raises_operand_errors(call, message):
    with pytest.raises(ed.OperandError, match=re.escape(message)):
        call()


def test_variables_with_one_name_and_two_shapes_are_refused():
    with pytest.raises(ed.VariableConflictError):
        ed.to_numpy_code([ed.var("x", 2), ed.var("x", 3)])


# -- properties ---------------------------------------------------------------------------

@given(expressions(max_depth=4), seeds)
def test_random_expressions_and_their_jacobians(expr, seed):
    vs = variables(expr)
    exprs = {"f": expr} | {f"d_{v.name}": ed.jacobian(expr, v) for v in vs}
    bindings = bindings_for(vs, seed)
    check_against_evaluate(exprs, bindings)
    for e in exprs.values():  # the printed einsum lines run as printed
        np.testing.assert_allclose(run_einsum_lines(e, bindings), ed.evaluate(e, **bindings), rtol=1e-9, atol=1e-12,
                                   err_msg=ed.to_einsum(e))


@settings(max_examples=60)  # inverses, solves and their Jacobians: slower to build than einsums
@given(expressions(max_depth=3, functions=True), seeds)
def test_random_functions_of_whole_tensors_and_their_jacobians(expr, seed):
    vs = variables(expr)
    exprs = {"f": expr} | {f"d_{v.name}": ed.jacobian(expr, v) for v in vs}
    check_against_evaluate(exprs, bindings_for(vs, seed))


@given(einsum_cases(), seeds)
def test_random_einsums_and_their_jacobians(case, seed):
    expr = case.expr()
    note(case.subscripts)
    exprs = {"f": expr} | {f"d_{v.name}": ed.jacobian(expr, v) for v in case.variables()}
    check_against_evaluate(exprs, bindings_for(case.variables(), seed))


@given(expressions(max_depth=3, n_vars=1))
def test_source_does_not_depend_on_how_often_it_is_generated(expr):
    first = ed.to_numpy_code([expr, *(ed.jacobian(expr, v) for v in variables(expr))])
    assert first == ed.to_numpy_code([expr, *(ed.jacobian(expr, v) for v in variables(expr))])


def test_generated_code_computes_what_compile_computes():
    # The same evaluation graph as ed.compile: a solve whose inverse is computed anyway is a product.
    S, C = ed.var("S", (4, 4)), ed.var("C", (4, 4))
    g = ed.grad(ed.logdet(S) + ed.trace(ed.solve(S, C)), S)
    code = ed.to_numpy_code(g, name="grad")
    assert "np.linalg.inv" in code and "solve" not in code.split("def grad")[1]
    namespace = {}
    exec(code, namespace)
    rng = np.random.default_rng(1)
    s, c = rng.normal(size=(4, 4)) + 4 * np.eye(4), rng.normal(size=(4, 4))
    np.testing.assert_allclose(namespace["grad"](C=c, S=s), ed.evaluate(g, S=s, C=c), rtol=1e-12, atol=1e-12)
