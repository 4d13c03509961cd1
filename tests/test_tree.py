"""The notation tree: what printing builds (to_tree) and what reading builds (read_tree) are
the same kind of tree, compared as trees; the renderers ask the tree, never their output."""

import numpy as np
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.expr import Var
from einsdiff.ir.variables import variables
from einsdiff.notation import tree as t
from einsdiff.notation.mathml import MathML
from einsdiff.notation.parse import read_tree
from einsdiff.notation.printing import Latex, Text, printed_constants
from einsdiff.testing import expressions

A, x, y = ed.var("A", (2, 3)), ed.var("x", (3,)), ed.var("y", (2,))


def round_trip(expr):
    """The tree ``expr`` prints as, and the tree its printed text reads back as."""
    text = ed.to_index_notation(expr)
    names = {v.name for v in variables(expr)} | set(printed_constants(expr))
    lhs, read = read_tree(text, names)
    printed = t.to_tree(expr)
    assert lhs == t.Ref("f", printed.free)
    assert (read.free, read.legend) == (printed.free, printed.legend), text
    return t.normal(printed.body), t.normal(read.body), text


@pytest.mark.parametrize("expr", [
    A @ x, ed.jacobian(A @ x, A), ed.hessian(x @ x, x), 2 * (A @ x - y), ed.tanh(A @ x) - 1,
    ed.solve(A @ A.T, A @ x), ed.inv(A @ A.T), ed.logsumexp(A, 1), ed.where(y > 0, y, 0.1 * y),
    ed.maximum(x, 0.5), ed.reshape(A, (6,)), ed.grad(ed.sum(ed.tanh(ed.tanh(A @ x))), x), x ** 3,
])
def test_what_a_formula_reads_back_as_is_the_tree_it_was_printed_from(expr):
    printed, read, text = round_trip(expr)
    assert read == printed, text


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(expressions(max_depth=3, functions=True))
def test_random_round_trips_compare_trees(expr):
    for e in [expr] + [ed.jacobian(expr, v) for v in sorted(variables(expr), key=lambda v: v.name)[:1]]:
        printed, read, text = round_trip(e)
        assert read == printed, text


def test_the_tree_holds_index_naming_and_letters_once():
    formula = t.to_tree(A @ x, letters={"A": "ik", "x": "k"})
    assert formula.body == t.Product(1.0, (t.Ref("A", ("i", "k")), t.Ref("x", ("k",))))
    assert t.to_tree(ed.jacobian(A @ x, A), "iab").legend == t.Legend((("i", 2), ("a", 2)))
    assert list(zip(range(25), t.supply()))[-3:] == [(22, "i1"), (23, "j1"), (24, "k1")]


def test_renderers_bracket_by_the_tree():
    """A sum as a factor, under a Σ, or after a minus takes brackets; a tensor whose name
    reads like a sum does not (the IR allows any name: the renderers never look at text)."""
    odd = Var("a - b", (2,))
    tree = t.Sum((t.Term(1.0, t.Ref("c", ("i",))), t.Term(1.0, t.Ref(odd.name, ("i",)))))
    assert Text().render(tree) == "c[i] + a - b[i]"
    # The old printer read its own text back and took the name for a sum: f[i] = c[i] + (a - b[i]).
    assert ed.to_index_notation(ed.var("c", (2,)) + odd) == "f[i] = c[i] + a - b[i]"
    negated = t.Sum((t.Term(1.0, t.Ref("c", ("i",))), t.Term(-1.0, tree)))
    assert Text().render(negated) == "c[i] - (c[i] + a - b[i])"
    assert Latex().render(t.Sigma(("k",), tree)) == r"\sum_{k} \left(c_{i} + \mathrm{a - b}_{i}\right)"
    assert MathML().render(t.Product(-2.0, (t.Ref("x"),))) == "<mo>−</mo><mn>2</mn><mi>x</mi>"
    assert t.is_sum(t.Number(-1.0)) and not t.is_sum(t.Ref("-x")) and t.is_sum(negated)


def test_a_whole_formula_drops_its_outer_brackets_in_every_style():
    X = ed.var("X", (3, 3))
    assert ed.to_latex(ed.det(X)) == r"f = \det X"  # at the top, no \left( \right)
    assert ed.to_latex(ed.det(X) * x) == r"f_{i} = x_{i} \left(\det X\right)"
    B = ed.var("B", (2, 3))
    lone = t.to_tree((A + B).T).body  # the transpose of a sum: brackets around all of it say nothing
    assert isinstance(lone, t.Sum) and ed.to_index_notation((A + B).T) == "f[i,j] = A[j,i] + B[j,i]"


def test_each_function_is_written_from_its_registry_entry(monkeypatch):
    """A renderer's only per-function text is the entry's template: change the template and
    the printed formula follows."""
    from dataclasses import replace

    from einsdiff.ir.functions import FUNCTIONS

    X = ed.var("X", (3, 3))
    entry = FUNCTIONS["inv"]
    monkeypatch.setitem(FUNCTIONS, "inv", replace(entry, notation=replace(entry.notation, latex=r"{0}^{{\dagger}}")))
    assert ed.to_latex(ed.inv(X)) == r"f_{ij} = \left(X^{\dagger}\right)_{ij}"


def test_explain_returns_step_records_that_render_to_its_text():
    from einsdiff.notation.explain import Explanation, Step, explain_steps

    steps = explain_steps(A @ x, A)
    assert isinstance(steps, Explanation) and str(steps) == ed.explain(A @ x, A)
    rules = [s.rule for s in steps.steps]
    assert rules == ["shapes", "formula", "product rule", "derivative of a variable", "delta", "delta", "result",
                     "in matrix notation"]
    delta = steps.steps[4]
    assert delta == Step("delta", t.Delta("i", "a"), ("i is free: the entry depends on ", t.Ref("A", ("a", "b")),
                                                        " only where i = a"))
    result = steps.steps[6].math
    assert result == t.Equals((t.Partial(t.Ref("f", ("i",)), (t.Ref("A", ("a", "b")),)),
                               t.Product(1.0, (t.Delta("i", "a"), t.Ref("x", ("b",))))))
    latex = explain_steps(A @ x, A, latex=True)
    assert str(latex) == ed.explain(A @ x, A, latex=True)
    assert [s.math for s in latex.steps[1:7]] == [s.math for s in steps.steps[1:7]]  # one tree, two renderings


def test_a_term_label_is_bracketed_by_its_tree_in_explain():
    """The sum rule brackets a term written with more than one symbol, ∂(A[i,j] x[j])/∂x, asked of
    the term's tree in each style (LaTeX writes \\det X with a space, text det(X) without)."""
    from einsdiff.notation.explain import explain_steps

    X = ed.var("X", (2, 2))
    steps = explain_steps(ed.det(X) + ed.sum(X), X).steps
    sum_rule = next(s for s in steps if s.rule == "sum rule")
    labels = [p.num for p in sum_rule.math.sides[1].parts if isinstance(p, t.Partial)]
    assert labels[0] == t.Call("det", (t.Ref("X"),), None, (), bare=True)  # det(X): one symbol in text
    assert labels[1] == t.Sigma(("i", "j"), t.Ref("X", ("i", "j")))  # Σ[i,j](X[i,j]): no space, no brackets
    latex = explain_steps(ed.det(X) + ed.sum(X), X, latex=True).steps
    latex_labels = [p.num for p in next(s for s in latex if s.rule == "sum rule").math.sides[1].parts
                    if isinstance(p, t.Partial)]
    assert all(isinstance(label, t.Paren) for label in latex_labels)  # \det X and \sum_{i,j} X_{ij}


def test_matrix_steps_carry_numbers_not_text():
    from einsdiff.notation.explain import Matrix, explain_steps

    steps = explain_steps(A @ x, x, values={"A": np.arange(6.0).reshape(2, 3)}).steps
    assert steps[-1] == Matrix(((0.0, 1.0, 2.0), (3.0, 4.0, 5.0)))


@pytest.mark.parametrize("order", [1, 2])
def test_the_derivative_heading_is_one_tree_for_every_style(order):
    """derivative_head and line write what the CLI and the playground join by hand today."""
    from einsdiff.notation.printing import derivative_head, line
    from einsdiff.notation.tree import to_tree

    f = ed.sum(ed.tanh(A @ x)) if order == 2 else ed.tanh(A @ x)
    d = ed.hessian(f, x) if order == 2 else ed.jacobian(f, x)
    free, dnames = tuple("i"[:f.ndim]), ("a", "b")[:order]
    for style in (Text(), Latex(), MathML()):
        formula = to_tree(d, free + dnames, None, named_reductions=style.named_reductions)
        body, legend = style.top(formula.body), style.legend(formula.legend)
        refs = [style.ref("x", (n,)) for n in dnames]
        if isinstance(style, Latex):
            den = " ".join(rf"\partial {r}" for r in refs)
            head = f"\\frac{{\\partial{'^{2}' if order == 2 else ''} {style.ref('f', free)}}}{{{den}}}"
        elif isinstance(style, MathML):
            partial = "<mo>∂</mo>" if order == 1 else "<msup><mo>∂</mo><mn>2</mn></msup>"
            den = " ".join(f"<mo>∂</mo>{r}" for r in refs)
            head = f"<mfrac><mrow>{partial}{style.ref('f', free)}</mrow><mrow>{den}</mrow></mfrac>"
        else:
            head = f"{'∂²' if order == 2 else '∂'}{style.ref('f', free)}/" + " ".join(f"∂{r}" for r in refs)
        joined = f"{head} = {body}{legend}"
        ours = line(style, derivative_head("f", free, "x", dnames, order), d, free + dnames)
        if isinstance(style, MathML):  # the elements as the old hand-joined line, its "=" a token
            joined = re.sub(r">\s+<", "><", joined.replace(" = ", "<mo>=</mo>"))
        assert ours == joined


# -- numbers in their shortest exact form (issue 15) --------------------------------------------

NUMBERS = [  # (value, text, LaTeX, MathML)
    (2 / 3, "2/3", r"\frac{2}{3}", "<mfrac><mn>2</mn><mn>3</mn></mfrac>"),
    (-1 / 7, "-1/7", r"-\frac{1}{7}", "<mo>−</mo><mfrac><mn>1</mn><mn>7</mn></mfrac>"),
    (0.5, "0.5", "0.5", "<mn>0.5</mn>"),
    (0.25, "0.25", "0.25", "<mn>0.25</mn>"),
    (0.1, "0.1", "0.1", "<mn>0.1</mn>"),
    (1.5, "1.5", "1.5", "<mn>1.5</mn>"),
    (3.0, "3", "3", "<mn>3</mn>"),
    (1e-12, "1e-12", "10^{-12}", "<msup><mn>10</mn><mrow><mo>−</mo><mn>12</mn></mrow></msup>"),
    (2.5e-5, "2.5e-05", r"2.5 \cdot 10^{-5}", "<mrow><mn>2.5</mn><mo>·</mo><msup><mn>10</mn><mrow><mo>−</mo><mn>5</mn></mrow></msup></mrow>"),
    (1 / 512, "1/512", r"\frac{1}{512}", "<mfrac><mn>1</mn><mn>512</mn></mfrac>"),  # 0.001953125: 7 digits
    (0.1 + 0.2, "0.30000000000000004", "0.30000000000000004", "<mn>0.30000000000000004</mn>"),  # no p/q is this float
    (1 / 1001, "0.000999000999000999", "0.000999000999000999", "<mn>0.000999000999000999</mn>"),  # q > 1000
]


@pytest.mark.parametrize("value, text, latex, mathml", NUMBERS, ids=[n[1] for n in NUMBERS])
def test_numbers_print_in_their_shortest_exact_form_in_every_printer(value, text, latex, mathml):
    assert Text().render(t.Number(value)) == text
    assert Latex().render(t.Number(value)) == latex
    assert MathML().render(t.Number(value)) == mathml
    e = value * x
    assert str(e) == f"f[i] = {text} x[i]"
    assert ed.to_latex(e) == f"f_{{i}} = {latex} x_{{i}}"
    assert f"<mo>=</mo>{mathml}<msub><mi>x</mi>" in ed.to_mathml(e)
    assert ed.to_matrix_notation(e) == f"f = {text} x".replace("= -", "= −")
    again = ed.parse(str(e), x=(3,))
    assert ed.to_index_notation(again) == str(e)
    np.testing.assert_array_equal(ed.evaluate(again, x=np.ones(3)), ed.evaluate(e, x=np.ones(3)))  # bit for bit


def test_the_issues_constant_prints_as_a_fraction():
    X = ed.var("X", (3, 3))
    g = ed.grad(ed.sum(X @ x) / 3, x)  # a third of a sum: its gradient carries 1/3
    assert "1/3" in str(g) and "0.333" not in str(g)
    assert str((2 / 3) * (A @ x - y)) == "f[i] = 2/3 (A[i,j] x[j] - y[i])"


@pytest.mark.parametrize("expr, text, latex", [
    (x ** (2 / 3), "f[i] = (x[i])^(2/3)", r"f_{i} = \left(x_{i}\right)^{2/3}"),
    (x ** (-1 / 3), "f[i] = (x[i])^(-1/3)", r"f_{i} = \left(x_{i}\right)^{-1/3}"),
    (x ** 1.5, "f[i] = (x[i])^1.5", r"f_{i} = \left(x_{i}\right)^{1.5}"),
])
def test_a_fractional_exponent_is_bracketed_where_the_reader_needs_it(expr, text, latex):
    """``^`` binds tighter than ``/``: (x[i])^2/3 would be a third of x[i] squared."""
    assert str(expr) == text and ed.to_latex(expr) == latex
    assert ed.parse(text, x=(3,)) == expr
    assert "<mrow><mn>2</mn><mo>/</mo><mn>3</mn></mrow>" in ed.to_mathml(x ** (2 / 3))


def test_a_fraction_after_another_factor_is_bracketed():
    tree = t.Product(1.0, (t.Ref("x", ("i",)), t.Number(2 / 3), t.Number(-2.0)))
    assert Text().render(tree) == "x[i] (2/3) (-2)"
    assert Text().render(t.Product(2 / 3, (t.Ref("x", ("i",)),))) == "2/3 x[i]"


_fractions = st.builds(lambda p, q: p / q, st.integers(-3000, 3000), st.integers(1, 1000))


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.one_of(_fractions, st.floats(-1e6, 1e6, allow_nan=False).filter(lambda v: v != 0)))
def test_any_printed_number_reads_back_as_the_same_float(value):
    """Whatever form a number takes (whole, decimal, p/q), the index notation reads back bit for bit,
    as a product's number, a term's coefficient and an exponent."""
    for e in (value * x, x - value, x ** value):
        again = ed.parse(str(e), x=(3,))
        assert again == e, str(e)


def test_a_fraction_with_a_zero_divisor_is_no_number():
    assert ed.parse("f = 0/0").shape == ()  # read as before: a division, not a folded number
    with pytest.raises(ed.ParseError, match="an exponent divides by zero"):
        ed.parse("f[i] = (x[i])^(1/0)", x=(3,))
