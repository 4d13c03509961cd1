"""ed.to_matrix_notation: results as matrix-calculus notes write them, checked by evaluating
the matrix form's tree (the tree the text is written from) with numpy."""

import re
import xml.etree.ElementTree as ET

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
    (ed.grad(ed.logdet(X), X), "X⁻ᵀ"),
    (ed.grad(ed.trace(X @ B), X), "Bᵀ"),
    (ed.grad(ed.sum(A), A), "𝟙 𝟙ᵀ"),
    (ed.grad(ed.sum((A @ W) ** 2), W), "2 Aᵀ A W"),
    (ed.grad(logistic, x), "−Aᵀ (sigmoid(−(y ⊙ (A x))) ⊙ y)"),  # log(1 + exp(u)) is softplus(u)
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
    with pytest.raises(ed.OptionError, match="order='diagonal': use 'row' or 'C'"):
        ed.to_matrix_notation(ed.jacobian(A @ x, A), rows=1, order="diagonal")
    with pytest.raises(ed.OptionError, match="format='html': give 'text', 'latex' or 'mathml'"):
        ed.to_matrix_notation(x, format="html")
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
            _well_formed(form.mathml)
            _balanced(form.latex)


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

    form = matrix_form(A.T @ (A @ x - y))
    assert form.tree == mf.Matmul(mf.Transpose(mf.Name("A", 2)), mf.Sum(
        ((1.0, mf.Matmul(mf.Name("A", 2), mf.Name("x", 1), 1)), (-1.0, mf.Name("y", 1))), 1), 1)
    assert mf.text(form.tree) == form.text == "Aᵀ (A x − y)"
    assert isinstance(matrix_form(ed.jacobian(A @ W, W), 2).tree, mf.Kron)


C, V, z = ed.var("C", (3, 3)), ed.var("V", (3, 2)), ed.var("z", (3,))
r = A @ x - y

TEXTBOOK = [  # (expression, its matrix form as a textbook writes it), each shorter than before
    # a factor that terms share at an end is written once
    (ed.grad(x @ B @ x, x), "(B + Bᵀ) x"),  # was B x + Bᵀ x
    (ed.grad(ed.trace(V.T @ B @ V), V), "(B + Bᵀ) V"),  # was B V + Bᵀ V
    (B @ C + B @ X, "B (C + X)"),
    (x @ B @ z + x @ C @ z, "xᵀ (B + C) z"),  # both ends at once
    (2 * (B @ x) + 2 * (C @ x), "2 (B + C) x"),  # the shared coefficient in front
    (B @ x - C @ x, "(B − C) x"),
    (-(B @ x) - C @ x, "−(B + C) x"),
    (2 * (B @ x) + 3 * (C @ x), "(2 B + 3 C) x"),
    (b + B @ x + B.T @ x, "b + (B + Bᵀ) x"),  # only the terms that share it
    (B @ x + x, "B x + x"),  # (B + I) x writes no fewer symbols
    # norms
    (ed.sum(r ** 2), "‖A x − y‖²"),
    (ed.norm(r), "‖A x − y‖"),
    (ed.sum(V ** 2), "‖V‖_F²"),
    (ed.norm(V), "‖V‖_F"),
    (ed.sum(ed.abs(x)), "‖x‖₁"),
    (ed.norm(x, 1), "‖x‖₁"),
    (ed.sum(ed.abs(V)), "𝟙ᵀ abs(V) 𝟙"),  # not a norm ‖V‖₁ is (that is the largest column sum)
    # a reciprocal scalar divides
    (ed.grad(ed.norm(x), x), "x / ‖x‖"),
    (r / ed.norm(r), "(A x − y) / ‖A x − y‖"),
    (-x / ed.norm(x), "−x / ‖x‖"),
    (x * ed.sum(x ** 2) ** -0.5, "x / ‖x‖"),
    (x * ed.var("c", ()) ** -2.0, "x / c²"),
    (x * ed.sum(x ** 2) ** -1.5, "x / ‖x‖³"),  # powers of a norm merge: (‖x‖²)^1.5 = ‖x‖³
    (ed.sum(x ** 2) ** 1.5, "‖x‖³"),
    (x * (1 / ed.sum(ed.exp(x))) ** 2.0, "x / sum(exp(x))²"),
    (2 * (x / ed.norm(x)), "2 x / ‖x‖"),
    ((B @ x) / (x @ x) + (B.T @ x) / (x @ x), "(B + Bᵀ) x / (xᵀ x)"),  # terms over one denominator
    (x / ed.norm(x) - (B @ z) / ed.norm(x), "(x − B z) / ‖x‖"),
    (ed.var("c", ()) * x + ed.var("c", ()) * (B @ z), "c (x + B z)"),
    (ed.inv(X).T / ed.det(X), "X⁻ᵀ / det(X)"),
    (ed.exp(x) / ed.sum(ed.exp(x)), "exp(x) / sum(exp(x))"),
    # transposed inverses (Matrix Cookbook (61), (63))
    (ed.inv(X).T, "X⁻ᵀ"),
    (ed.grad(ed.trace(ed.inv(X) @ B), X), "−X⁻ᵀ Bᵀ X⁻ᵀ"),
    (ed.grad(b @ ed.inv(X) @ z, X), "−X⁻ᵀ b zᵀ X⁻ᵀ"),  # was −(X⁻¹)ᵀ b (X⁻¹ z)ᵀ
    # traces and scalar chains, turned to the fewest ᵀ
    (ed.parse("tr(X'*A*X)", X=(3, 2), A=(3, 3)), "tr(Xᵀ A X)"),  # was tr(X Xᵀ Aᵀ)
    (ed.parse("tr(X'*A*X*B)", X=(3, 2), A=(3, 3), B=(2, 2)), "tr(Xᵀ A X B)"),  # was tr(X B Xᵀ A)
    (ed.parse("tr(X'*X)", X=(3, 2)), "tr(Xᵀ X)"),  # was tr(X Xᵀ)
    (z @ B.T @ x, "xᵀ B z"),  # was zᵀ Bᵀ x
]


@pytest.mark.parametrize("expr, text", TEXTBOOK, ids=[t for _, t in TEXTBOOK])
def test_results_read_as_a_textbook_writes_them(expr, text):
    """The shorter form means the same: its tree evaluates to the expression's value."""
    assert ed.to_matrix_notation(expr) == f"f = {text}"
    vs = variables(expr)
    values = bindings_for(vs, seed=4)
    if values.get("X", np.zeros(0)).shape == (3, 3):
        values["X"] = values["X"] + 3 * np.eye(3)  # invertible, det > 0
    np.testing.assert_allclose(numpy_value(expr, values), ed.evaluate(expr, **values), rtol=1e-12, atol=1e-12)


def test_a_shared_factor_is_taken_out_of_the_terms_that_share_it():
    """Each grouping of terms sharing an end factor is tried; the one writing fewest symbols is kept."""
    from einsdiff.notation import matrixform as mf

    expr = B @ x + B.T @ x + C @ b
    form = matrix_form(expr)
    assert form.text == "(B + Bᵀ) x + C b"
    assert mf._symbols(form.tree) == 5 < mf._symbols(mf._Converter().convert(expr)) == 6
    assert matrix_form(ed.hessian(x @ B @ x, x)).text == "Bᵀ + B"  # nothing to share


def test_a_scalar_twice_in_one_term_and_once_in_another_is_shared_once():
    from einsdiff.notation import matrixform as mf

    c, B_, C_, x_ = mf.Name("c", 0), mf.Name("B", 2), mf.Name("C", 2), mf.Name("x", 1)
    terms = ((1.0, mf.Scale((c, c, mf.Matmul(B_, x_, 1)))), (1.0, mf.Scale((c, mf.Matmul(C_, x_, 1)))))
    assert mf.text(mf._readable(mf.Sum(terms, 1))) == "c (c B + C) x"


def test_an_exponent_on_an_exponent_is_bracketed():
    from einsdiff.notation import matrixform as mf

    squared = mf.Elementwise("square", mf.Name("c", 0))
    assert mf.text(mf.Elementwise("power", squared, 1.5)) == "(c²)¹·⁵"  # not c²¹·⁵
    assert mf._Latex().render(mf.Elementwise("power", squared, 1.5)) == r"\left(c^{2}\right)^{1.5}"
    assert mf.text(mf.Elementwise("square", mf.Name("x", 1))) == "x∘²"


def test_the_tree_of_a_shorter_form():
    from einsdiff.notation import matrixform as mf

    tree = matrix_form(ed.grad(ed.norm(x), x)).tree
    assert tree == mf.Divide(mf.Name("x", 1), mf.Norm(mf.Name("x", 1), 2))
    tree = matrix_form(ed.grad(x @ B @ x, x)).tree
    assert tree == mf.Matmul(mf.Sum(((1.0, mf.Name("B", 2)), (1.0, mf.Transpose(mf.Name("B", 2)))), 2), mf.Name("x", 1), 1)


LATEX = [  # (expression, its matrix form in LaTeX)
    (ed.grad(x @ B @ x, x), r"\left(\mathbf{B} + \mathbf{B}^\top\right) \mathbf{x}"),
    (ed.grad(ed.sum(r ** 2), x), r"2 \mathbf{A}^\top \left(\mathbf{A} \mathbf{x} - \mathbf{y}\right)"),
    (r / ed.norm(r), r"\frac{\mathbf{A} \mathbf{x} - \mathbf{y}}{\|\mathbf{A} \mathbf{x} - \mathbf{y}\|}"),
    (ed.sum(V ** 2), r"{\|\mathbf{V}\|_{F}}^{2}"),
    (ed.inv(X), r"\mathbf{X}^{-1}"),
    (ed.inv(X).T / ed.det(X), r"\frac{\mathbf{X}^{-\top}}{\det\left(\mathbf{X}\right)}"),
    (ed.parse("tr(X'*A*X)", X=(3, 2), A=(3, 3)), r"\operatorname{tr}\left(\mathbf{X}^\top \mathbf{A} \mathbf{X}\right)"),
    (x * b, r"\mathbf{x} \odot \mathbf{b}"),
    (ed.jacobian(ed.tanh(B @ x), x), r"\operatorname{diag}\left(\mathbf{1} - {\tanh\left(\mathbf{B} \mathbf{x}\right)}^{\circ 2}\right) \mathbf{B}"),
    (ed.var("c", ()) * ed.var("d_1", ()) * x, r"c \mathrm{d\_1} \mathbf{x}"),
]


@pytest.mark.parametrize("expr, latex", LATEX, ids=[t for _, t in LATEX])
def test_latex_of_the_matrix_form(expr, latex):
    _balanced(latex)
    assert matrix_form(expr).latex == latex
    assert ed.to_matrix_notation(expr, name="g", format="latex") == rf"\mathbf{{g}} = {latex}" if expr.ndim else \
        ed.to_matrix_notation(expr, name="g", format="latex") == f"g = {latex}"


def test_latex_of_a_kronecker_form_and_of_a_derivative():
    J = ed.jacobian(A @ W, W)
    assert ed.to_matrix_notation(J, name="J", rows=2, format="latex") == r"\mathbf{J} = \mathbf{A} \otimes \mathbf{I}"
    from einsdiff.notation.matrixform import derivative_notation

    assert derivative_notation(ed.sum(r ** 2), x, ed.grad(ed.sum(r ** 2), x), 1, "L", format="latex") == (
        r"\frac{\partial L}{\partial \mathbf{x}} = 2 \mathbf{A}^\top \left(\mathbf{A} \mathbf{x} - \mathbf{y}\right)")
    assert derivative_notation(x @ B @ x, x, ed.hessian(x @ B @ x, x), 2, "q", format="latex") == (
        r"\frac{\partial^{2} q}{\partial \mathbf{x}^{2}} = \mathbf{B}^\top + \mathbf{B}")


_MATH = "{http://www.w3.org/1998/Math/MathML}"


def _balanced(latex: str) -> None:
    """Braces and \\left( \\right) pairs close in order."""
    pairs, open_ = {"}": "{", r"\right)": r"\left("}, []
    for token in re.findall(r"\\left\(|\\right\)|[{}]", latex):
        if token in pairs:
            assert open_ and open_.pop() == pairs[token], latex
        else:
            open_.append(token)
    assert not open_, latex


def _well_formed(mathml: str) -> ET.Element:
    """Parsed, and every script and fraction with exactly its two parts (each piece one element)."""
    root = ET.fromstring(mathml)
    assert root.tag == f"{_MATH}math"
    for element in root.iter():
        if element.tag in (f"{_MATH}msup", f"{_MATH}msub", f"{_MATH}mfrac"):
            assert len(element) == 2, ET.tostring(element, encoding="unicode")
    return root


@pytest.mark.parametrize("expr", [e for e, _ in CASES + TEXTBOOK], ids=[t for _, t in CASES + TEXTBOOK])
def test_mathml_of_the_matrix_form_is_valid(expr):
    _well_formed(matrix_form(expr).mathml)
    _well_formed(ed.to_matrix_notation(expr, format="mathml", display="inline"))


def test_mathml_writes_scripts_and_fractions():
    root = _well_formed(matrix_form(ed.inv(X).T / ed.det(X)).mathml)
    fraction = root.find(f".//{_MATH}mfrac")
    numerator = ET.tostring(fraction[0], encoding="unicode")
    assert "𝐗" in numerator and "⊤" in numerator and "−" in numerator
    assert "det" in ET.tostring(fraction[1], encoding="unicode")
    text_of = "".join(_well_formed(matrix_form(ed.sum(V ** 2)).mathml).itertext())
    assert text_of == "‖𝐕‖F2"  # ‖V‖_F²
    J = ed.jacobian(A @ W, W)
    assert "".join(_well_formed(ed.to_matrix_notation(J, name="J", rows=2, format="mathml")).itertext()) == "𝐉=𝐀⊗𝐈"
    with pytest.raises(ed.OptionError, match="display='wide'"):
        ed.to_matrix_notation(x, format="mathml", display="wide")
    with pytest.raises(ed.OptionError, match="display='inline' places a MathML element; it needs format='mathml'"):
        ed.to_matrix_notation(x, format="latex", display="inline")


def test_the_cookbooks_kronecker_form_of_AXB_in_both_vec_orders():
    """∂vec(A X B)/∂vec(X) is Bᵀ ⊗ A when vec stacks columns (order "F" or "column", the
    Matrix Cookbook's) and A ⊗ Bᵀ when it stacks rows (order "C" or "row"), checked against
    jacobian_matrix and against finite differences of vec(A X B)."""
    from einsdiff.notation.matrixform import derivative_notation

    A2, X2, B2 = ed.var("A", (2, 3)), ed.var("X", (3, 4)), ed.var("B", (4, 5))
    f = A2 @ X2 @ B2
    J = ed.jacobian(f, X2)
    values = bindings_for((A2, X2, B2), seed=3)
    a, xv, bv = values["A"], values["X"], values["B"]
    for order, numpy_order, text in (("F", "F", "Bᵀ ⊗ A"), ("column", "F", "Bᵀ ⊗ A"),
                                      ("C", "C", "A ⊗ Bᵀ"), ("row", "C", "A ⊗ Bᵀ")):
        assert ed.to_matrix_notation(J, name="J", rows=2, order=order) == f"J = {text}"
        assert derivative_notation(f, X2, J, 1, "Z", vec=order) == f"∂vec(Z)/∂vec(X) = {text}"
        got = matrix_form(J, 2, order=order).evaluate(values)
        np.testing.assert_allclose(got, ed.evaluate(ed.jacobian_matrix(f, X2, order=numpy_order), **values), rtol=1e-12)
        # f is linear in X: a unit step in each entry of X is exactly a column of the Jacobian
        steps = np.eye(xv.size)
        columns = [np.ravel(a @ (xv + steps[k].reshape(xv.shape, order=numpy_order)) @ bv - a @ xv @ bv, order=numpy_order)
                   for k in range(xv.size)]
        np.testing.assert_allclose(got, np.stack(columns, axis=1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(matrix_form(J, 2, order="F").evaluate(values), np.kron(bv.T, a), rtol=1e-12)


def test_an_elementwise_reciprocal_is_a_power_and_reads_back():
    """1 ./ x prints x∘⁻¹ (1/s for a scalar) in every style, and the reader reads it back."""
    v, w, s = ed.var("v", (3,)), ed.var("w", (3,)), ed.var("s", ())
    assert ed.to_matrix_notation(ed.grad(ed.sum(ed.log(v)), v)) == "f = v∘⁻¹"
    assert ed.to_matrix_notation(ed.jacobian(w / v, w)) == "f = diag(v∘⁻¹)"
    assert ed.to_matrix_notation(ed.reciprocal(v + w), format="latex") == r"\mathbf{f} = \left(\mathbf{v} + \mathbf{w}\right)^{\circ -1}"
    assert ed.to_matrix_notation(ed.reciprocal(s)) == "f = 1/s"
    values = {"v": np.array([1.5, -2.0, 0.5]), "w": np.array([1.0, 3.0, 3.0])}
    for e in (ed.reciprocal(v + w), ed.reciprocal(v) * w):
        back = ed.parse(ed.to_matrix_notation(e).split(" = ", 1)[1], notation="matrix", v=v, w=w)
        np.testing.assert_allclose(ed.evaluate(back, **values), ed.evaluate(e, **values))


@pytest.mark.parametrize("n", [50, 100])
def test_an_index_on_many_vectors_and_two_matrices_is_split_whatever_the_order(n):
    """Xᵀ diag(...) ... diag(...) X for any number of samples: each vector on the shared index
    becomes a diagonal in the chain between the two matrices (the operand order varies with n)."""
    X, y, w = ed.var("X", (n, 4)), ed.var("y", (n,)), ed.var("w", (4,))
    H = ed.hessian(ed.sum(ed.softplus(-y * (X @ w))), w)
    form = matrix_form(H)
    assert form.text.startswith("Xᵀ diag(") and form.text.endswith(") X") and form.text.count("diag(") == 4
    values = bindings_for((X, y, w), 3)
    np.testing.assert_allclose(form.evaluate(values), ed.evaluate(H, values), rtol=1e-12)
