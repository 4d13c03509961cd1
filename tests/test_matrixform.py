"""ed.to_matrix_notation: results as matrix-calculus notes write them, checked by evaluating
the matrix form's tree (the tree the text is written from) with numpy."""

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.notation.matrixform import matrix_form
from einsdiff.testing import bindings_for, expressions
from einsdiff.ir.variables import variables

A, B, X = ed.var("A", (4, 3)), ed.var("B", (3, 3)), ed.var("X", (3, 3))
W, x, y, b = ed.var("W", (3, 2)), ed.var("x", (3,)), ed.var("y", (4,)), ed.var("b", (3,))
logistic = ed.sum(ed.log(1 + ed.exp(-(A @ x) * y)))

CASES = [  # (expression, its matrix notation), most from the notes' worked examples
    (ed.grad(ed.sum((A @ x - y) ** 2), x), "2 Aᵀ (A x − y)"),
    (ed.hessian(ed.sum((A @ x - y) ** 2), x), "2 Aᵀ A"),
    (ed.hessian(x @ B @ x, x), "Bᵀ + B"),
    (ed.jacobian(A @ x, x), "A"),
    (ed.jacobian(x, x), "I"),
    (ed.jacobian(x * x, x), "2 diag(x)"),
    (ed.jacobian(ed.tanh(B @ x), x), "diag(𝟙 − tanh(B x)∘²) B"),
    (ed.grad(ed.sum(ed.tanh(B @ x)), x), "Bᵀ (𝟙 − tanh(B x)∘²)"),
    (ed.grad(ed.relu(b @ x + 1.0), x), "step(xᵀ b + 1) b"),
    (ed.grad(ed.logdet(X), X), "(X⁻¹)ᵀ"),
    (ed.grad(ed.trace(X @ B), X), "Bᵀ"),
    (ed.grad(ed.sum(A), A), "𝟙 𝟙ᵀ"),
    (ed.grad(ed.sum((A @ W) ** 2), W), "2 Aᵀ A W"),
    (ed.grad(logistic, x), "−Aᵀ (reciprocal(exp(−(y ⊙ (A x))) + 𝟙) ⊙ (y ⊙ exp(−(y ⊙ (A x)))))"),
    (ed.outer(A @ x, b), "A x bᵀ"),
    (x @ B @ x, "xᵀ B x"),
    (ed.trace(X @ B @ X), "tr(B X X)"),  # = tr(X B X), a cyclic shift
    (ed.solve(X, b), "X⁻¹ b"),
    (ed.where(x > 0, x, 0.1 * x), "where(step(x), x, 0.1 x)"),
    (ed.grad(ed.logsumexp(A @ x), x), "Aᵀ exp(A x − logsumexp(A x) 𝟙)"),
]


def numpy_value(expr, values, rows=None, order="row"):
    return matrix_form(expr, rows, order=order).evaluate(values)


@pytest.mark.parametrize("expr, text", CASES, ids=[t for _, t in CASES])
def test_worked_examples(expr, text):
    assert ed.to_matrix_notation(expr) == f"f = {text}"
    values = bindings_for(variables(expr), seed=2)
    values["X"] = values.get("X", np.zeros((3, 3))) + 3 * np.eye(3)  # invertible, det > 0
    np.testing.assert_allclose(numpy_value(expr, values), ed.evaluate(expr, **{v.name: values[v.name] for v in variables(expr)}),
                               rtol=1e-12, atol=1e-12)


KRONECKER = [  # (Jacobian, its rows, the matrix of its row-major flattening)
    (ed.jacobian(A @ W + ed.var("Bias", (2,)), W), 2, "A ⊗ I"),  # seed 001
    (ed.jacobian(A @ W, A), 2, "I ⊗ Wᵀ"),
    (ed.jacobian(A @ x, A), 1, "I ⊗ xᵀ"),  # seed 003
    (ed.jacobian(X @ X, X), 2, "X ⊗ I + I ⊗ Xᵀ"),
    (ed.hessian(ed.sum((A @ W) ** 2), W), 2, "2 (Aᵀ A ⊗ I)"),
    (ed.jacobian(ed.tanh(A @ W), W), 2, "diag(vec(𝟙 𝟙ᵀ − tanh(A W)∘²)) (A ⊗ I)"),  # a layer's Jacobian
    (ed.jacobian(ed.tanh(A @ x), A), 1, "diag(𝟙 − tanh(A x)∘²) (I ⊗ xᵀ)"),
    (ed.jacobian(ed.outer(x, x), x), 2, "I ⊗ x + x ⊗ I"),
]


@pytest.mark.parametrize("expr, rows, text", KRONECKER, ids=[t for _, _, t in KRONECKER])
def test_jacobians_of_matrices_as_kronecker_products(expr, rows, text):
    assert ed.to_matrix_notation(expr, name="J", rows=rows) == f"J = {text}"
    values = bindings_for(variables(expr), seed=5)
    want = ed.evaluate(expr, **values)
    want = want.reshape(int(np.prod(want.shape[:rows])), -1)
    np.testing.assert_allclose(numpy_value(expr, values, rows), want, rtol=1e-12, atol=1e-12)


COLUMN_MAJOR = [  # (Jacobian, its rows, the matrix of its column-major flattening: vec stacks columns)
    (ed.jacobian(A @ W + ed.var("Bias", (2,)), W), 2, "I ⊗ A"),  # seed 001; the Cookbook's ∂vec(AW)/∂vec(W)
    (ed.jacobian(A @ W, A), 2, "Wᵀ ⊗ I"),
    (ed.jacobian(A @ x, A), 1, "xᵀ ⊗ I"),  # seed 003; row-major it is I ⊗ xᵀ
    (ed.jacobian(X @ X, X), 2, "I ⊗ X + Xᵀ ⊗ I"),
    (ed.jacobian(ed.tanh(A @ W), W), 2, "diag(vec(𝟙 𝟙ᵀ − tanh(A W)∘²)) (I ⊗ A)"),  # a tanh layer
    (ed.jacobian(ed.tanh(A @ x), A), 1, "diag(𝟙 − tanh(A x)∘²) (xᵀ ⊗ I)"),
    (ed.hessian(ed.sum((A @ W) ** 2), W), 2, "2 (I ⊗ Aᵀ A)"),
    (ed.jacobian(ed.outer(x, x), x), 2, "x ⊗ I + I ⊗ x"),
]


def column_major(J, rows):
    """J flattened as vec stacks columns: each group's first axis runs fastest."""
    axes = tuple(reversed(range(rows))) + tuple(reversed(range(rows, J.ndim)))
    return J.transpose(axes).reshape(int(np.prod(J.shape[:rows])), -1)


@pytest.mark.parametrize("expr, rows, text", COLUMN_MAJOR, ids=[t for _, _, t in COLUMN_MAJOR])
def test_column_major_kronecker_forms_are_the_cookbooks(expr, rows, text):
    """With vec stacking columns the text is the column-stacking form, and its tree's value
    equals the Jacobian reshaped column-major."""
    assert ed.to_matrix_notation(expr, name="J", rows=rows, order="column") == f"J = {text}"
    values = bindings_for(variables(expr), seed=7)
    want = column_major(ed.evaluate(expr, **values), rows)
    np.testing.assert_allclose(numpy_value(expr, values, rows, order="column"), want, rtol=1e-12, atol=1e-12)


def test_a_transposed_sum_keeps_its_brackets():
    # (e ⊙ v − sum(e ⊙ v) e)ᵀ v: the transposed sum is bracketed, and evaluated as one factor.
    v0, v1 = ed.var("v0", ()), ed.var("v1", (2,))
    expr = ed.hessian(ed.logsumexp(v0 * v1), v0)
    assert ed.to_matrix_notation(expr).endswith(")ᵀ v1")
    values = {"v0": np.array(0.7), "v1": np.array([0.3, -1.2])}
    np.testing.assert_allclose(numpy_value(expr, values), ed.evaluate(expr, **values), rtol=1e-12)


def test_what_matrices_cannot_say_is_refused():
    with pytest.raises(ed.OptionError, match=r"a tensor of 3 axes \(shape \(4, 4, 3\)\); use ed.to_index_notation"):
        ed.to_matrix_notation(ed.jacobian(A @ x, A))  # without rows=, no flattening
    with pytest.raises(ed.OptionError, match="that is no Kronecker product"):
        ed.to_matrix_notation(ed.jacobian(W.T, W), rows=2)  # a commutation matrix
    with pytest.raises(ed.OptionError, match="needs an einsdiff expression"):
        ed.to_matrix_notation("A x")
    with pytest.raises(ed.OptionError, match="order='F'"):
        ed.to_matrix_notation(ed.jacobian(A @ x, A), rows=1, order="F")
    assert ed.to_matrix_notation(ed.grad(ed.sum((A @ x - y) ** 2), x), name="g") == "g = 2 Aᵀ (A x − y)"


@settings(max_examples=200)
@given(expressions(max_depth=4, functions=True), st.integers(0, 2**32 - 1))
def test_the_text_means_what_the_expression_computes(expr, seed):
    """Every matrix form of a random expression and of its derivatives evaluates (as the
    tree the text is written from) to the expression's value."""
    vs = variables(expr)
    values = bindings_for(vs, seed)
    scalar = expr if expr.ndim == 0 else ed.sum(expr)
    cases = [(expr, None)]
    if vs:  # a random expression may simplify to a constant, with no variable to differentiate by
        cases += [(f(g, vs[0]), rows) for f, g, rows in
                  ((ed.jacobian, expr, expr.ndim), (ed.grad, scalar, 0), (ed.hessian, scalar, vs[0].ndim))]
    for e, rows in cases:
        rows = rows if e.ndim > 2 and rows else None
        for order in ("row", "column") if rows else ("row",):
            try:
                form = matrix_form(e, rows, order=order)
            except ed.OptionError as err:
                assert "use ed.to_index_notation" in str(err)
                continue
            note(f"{order}: {form.text}\n{form.tree}\n{e}")
            want = ed.evaluate(e, **{v.name: values[v.name] for v in variables(e)})
            if rows:
                want = column_major(want, rows) if order == "column" else want.reshape(int(np.prod(want.shape[:rows])), -1)
            np.testing.assert_allclose(numpy_value(e, values, rows, order), want, rtol=1e-9,
                                       atol=1e-9 * (1 + np.abs(want).max(initial=0)), equal_nan=True)


def test_structure_is_asked_of_the_tree_not_of_the_text():
    """Cases the old string checks got wrong: a product ending in 𝟙 on a diagonal read as
    'A I' (endswith " 𝟙"), a variable named Bᵀ lost its ᵀ when transposed (endswith "ᵀ"),
    and a non-ASCII name took brackets before ⁻¹."""
    from einsdiff.ir.expr import Contract

    A3, c = ed.var("A", (3, 4)), ed.var("c", ())
    row_sums = Contract((A3,), ((0, 1),), (0, 0), (3, 4))  # δ[i,j] Σ[k] A[i,k]
    assert ed.to_matrix_notation(row_sums) == "f = diag(A 𝟙)"
    assert ed.to_matrix_notation(Contract((c, A3), ((), (0, 1)), (0, 0), (3, 4))) == "f = diag(c A 𝟙)"
    assert ed.to_matrix_notation(Contract((c,), ((),), (0, 0), (3,))) == "f = c I"
    assert ed.to_matrix_notation(ed.var("Bᵀ", (3, 3)).T) == "f = Bᵀᵀ"
    assert ed.to_matrix_notation(ed.inv(ed.var("α", (3, 3)))) == "f = α⁻¹"
    values = {"A": np.arange(12.0).reshape(3, 4), "c": np.array(2.0)}
    for e in (row_sums, Contract((c, A3), ((), (0, 1)), (0, 0), (3, 4))):
        np.testing.assert_allclose(matrix_form(e).evaluate(values), ed.evaluate(e, **values))


def test_the_form_is_a_tree_of_matrix_operations():
    from einsdiff.notation import matrixform as mf

    form = matrix_form(ed.grad(ed.sum((A @ x - y) ** 2), x))
    assert form.tree == mf.Sum(((2.0, mf.Matmul(mf.Transpose(mf.Name("A", 2)), mf.Sum(
        ((1.0, mf.Matmul(mf.Name("A", 2), mf.Name("x", 1), 1)), (-1.0, mf.Name("y", 1))), 1), 1)),), 1)
    assert mf.text(form.tree) == form.text == "2 Aᵀ (A x − y)"
    assert isinstance(matrix_form(ed.jacobian(A @ W, W), 2).tree, mf.Kron)
