"""The library the command line and the playground share: formulas and derivations as
records, their headings and index names, and the numeric check at a random point."""

from dataclasses import FrozenInstanceError

import numpy as np
import pytest

import einsdiff as ed
from einsdiff.calculus.derive import hessian, jacobian
from einsdiff.errors import OperandError, OptionError, ShapeError
from einsdiff.frontends.session import (
    Derivation,
    Formula,
    Sample,
    build_formula,
    check,
    differentiate,
    heading,
    parse_shape,
    sample_point,
)
from einsdiff.ir.expr import Var
from einsdiff.ir.matrix import logdet
from einsdiff.ir.variables import topological
from einsdiff.notation.mathml import MathML
from einsdiff.notation.printing import Latex, Text, shared
from einsdiff.testing import finite_difference_margin

SIGNS = "±[0.5, 1.5] with random signs, both in every variable of 2 or more entries"  # how the check draws values


# -- records ----------------------------------------------------------------------------


def test_a_formula_is_a_record_of_what_the_text_says():
    formula = build_formula("Z[i,j] = A[i,k]*W[k,j] + B[j]", "W", {"A": (2, 3), "W": (3, 2), "B": (2,)})
    assert formula.name == "Z" and formula.indices == ("i", "j") and formula.wrt == Var("W", (3, 2))
    assert formula.wrt_letters == ("k", "j") and dict(formula.letters) == {"A": ("i", "k"), "W": ("k", "j"),
                                                                             "B": ("j",)}
    with pytest.raises(FrozenInstanceError):
        formula.name = "Y"
    assert build_formula("relu(x[i])", "x", {"x": (3,)}).name == "f"  # no left side


def test_a_derivation_names_its_indices_apart_from_the_formulas_letters():
    d = differentiate(build_formula("Z[i,j] = A[i,k]*W[k,j]", "W", {"A": (2, 3), "W": (3, 2)}), 2)
    assert (d.order, d.indices, d.wrt_indices) == (2, ("i", "j"), ("a", "b", "c", "d"))
    assert d.derivative.shape == (2, 2, 3, 2, 3, 2) and d.shape_text == "(2×2)×(3×2)×(3×2)"
    assert d.derivative_lines(Text()) == ["∂²Z[i,j]/∂W[a,b] ∂W[c,d] = 0; i:2, j:2, a:3, b:2, c:3, d:2"]
    assert "def Z(A, W" in d.numpy_code() and d.numpy_code().endswith("return {\"value\": t0, \"hessian\": t1}\n")
    with pytest.raises(OptionError, match="order 3"):
        differentiate(d.formula, 3)


def test_a_variable_read_as_a_variable_where_it_has_a_shape():
    # given a shape, A (x[i]) is a product, as ed.parse reads it: A is among the formula's letters
    formula = build_formula("y[i] = A (x[i])", "x", {"A": (), "x": (3,)})
    assert "A" in formula.letters and str(differentiate(formula, 1).derivative) == str(
        ed.jacobian(ed.parse("y[i] = A (x[i])", A=(), x=(3,)), ed.var("x", (3,))))


def test_wrt_must_be_a_variable_of_the_formula():
    with pytest.raises(OperandError, match="'z' is not a variable of the formula; it has x"):
        build_formula("relu(x[i])", "z", {"x": (3,)})


@pytest.mark.parametrize("style, order, want", [
    (Text(), 1, "∂f[i]/∂x[a]"),
    (Text(), 2, "∂²f[i]/∂x[a] ∂x[b]"),
    (Latex(), 1, r"\frac{\partial f_{i}}{\partial x_{a}}"),
    (Latex(), 2, r"\frac{\partial^{2} f_{i}}{\partial x_{a} \partial x_{b}}"),
    (MathML(), 2, "<mfrac><mrow><msup><mo>∂</mo><mn>2</mn></msup><msub><mi>f</mi><mrow><mi>i</mi></mrow></msub>"
                  "</mrow><mrow><mo>∂</mo><msub><mi>x</mi><mrow><mi>a</mi></mrow></msub><mo>∂</mo><msub>"
                  "<mi>x</mi><mrow><mi>b</mi></mrow></msub></mrow></mfrac>"),
])
def test_one_heading_for_every_style(style, order, want):
    assert heading(style, "f", ("i",), "x", ("a", "b")[:order], order) == want


def test_a_shape_is_read_in_every_spelling_and_a_wrong_one_named():
    assert [parse_shape(t, "x") for t in ("3x4", "3×4", "3,4", "(3, 4)", "scalar", "")] == [(3, 4)] * 4 + [()] * 2
    with pytest.raises(ShapeError, match=r"--shape x=3y: '3y' is not a shape; write sizes joined by x"):
        parse_shape("3y", "--shape x=3y")


# -- the check samples both signs, away from kinks (issue 13, item 9) ---------------------


def _formula(text, **shapes):
    formula = build_formula(text, "x", shapes)
    return formula.expr, formula.wrt


def _check(f, x, derivative, order, seed):
    """:func:`check` of ``derivative``, right or wrong, as the derivative of f."""
    formula = Formula(f, x, "f", None, None, {})
    return check(Derivation(formula, order, derivative, (), ()), seed)


@pytest.mark.parametrize("formula", ["relu(x[i])", "abs(x[i])", "where(x[i] > 0, x[i], 0.1*x[i])"])
def test_check_catches_a_derivative_wrong_on_the_negative_side(formula):
    f, x = _formula(formula, x=(6,))
    positive_branch = jacobian(Var("x", (6,)) * 1.0, x)  # right for x > 0 only
    assert _check(f, x, jacobian(f, x), 1, 0).ok
    assert not _check(f, x, positive_branch, 1, 0).ok


def test_sampled_values_have_both_signs_and_magnitudes_in_half_to_three_halves():
    f, x = _formula("relu(W[i,j]*x[j] + b[i])", W=(4, 5), x=(5,), b=(4,))
    for seed in range(5):
        sample = sample_point(f, seed)
        everything = np.concatenate([v.ravel() for v in sample.values.values()])
        assert (everything < 0).any() and (everything > 0).any()
        assert np.all((0.5 <= np.abs(everything)) & (np.abs(everything) <= 1.5))
        assert sample.describe() == SIGNS


def test_sampled_points_keep_finite_differences_away_from_kinks():
    # with both signs, x[i] + y[i] often lands near 0: those draws are redrawn
    f, x = _formula("sum[i](abs(x[i] + y[i]) + relu(x[i] - y[i]))", x=(8,), y=(8,))
    for seed in range(10):
        sample = sample_point(f, seed)
        assert finite_difference_margin(f, sample.values) > 1e-3
        assert _check(f, x, jacobian(f, x), 1, seed).ok


def test_no_point_away_from_a_kink_is_said():
    sample = Sample({"x": np.zeros(2)}, (), (), 0.0)
    assert sample.describe() == f"{SIGNS}; no draw kept every argument 0.001 from a kink or pole of its " \
                                "function (closest: 0)"


def test_a_variable_where_the_formula_needs_it_is_drawn_positive():
    f, x = _formula("sum[i](log(x[i]) * relu(y[i]))", x=(6,), y=(6,))
    for seed in range(5):
        sample = sample_point(f, seed)
        assert sample.positive == ("x",) and np.all(sample.values["x"] > 0)
        assert (sample.values["y"] < 0).any()
        assert "x positive (the formula is undefined at some negative x)" in sample.describe()
        assert _check(f, x, jacobian(f, x), 1, seed).ok


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_matrix_variables_get_both_signs_off_the_diagonal_and_stay_invertible_with_positive_det(n):
    f, x = _formula("logdet(x) + sum[i](solve(x, y)[i])", x=(n, n), y=(n,))
    for seed in range(20):
        sample = sample_point(f, seed)
        value = sample.values["x"]
        off = value[~np.eye(n, dtype=bool)]
        assert n < 3 or ((off < 0).any() and (off > 0).any())
        assert np.all(np.diag(value) >= 0.5 + 1.5 * n)  # outweighs the rest of its row, at most 1.5·(n - 1)
        assert np.linalg.det(value) > 0 and np.linalg.eigvals(value).real.min() >= 2 - 1e-9
        assert sample.positive == ()
    assert sample.describe() == (f"{SIGNS}; x's diagonal in [0.5, 1.5] + {1.5 * n:g}, "
                                 "so x is invertible with det > 0")
    assert _check(f, x, hessian(f, x), 2, 0).ok


def test_sampling_is_deterministic_and_refuses_a_negative_seed():
    f, _ = _formula("relu(x[i])", x=(4,))
    np.testing.assert_array_equal(sample_point(f, 3).values["x"], sample_point(f, 3).values["x"])
    with pytest.raises(OptionError, match="whole number >= 0, got -1"):
        sample_point(f, -1)


def test_a_stack_of_matrices_gets_each_diagonal_raised():
    stack = Var("X", (2, 3, 3))
    f = logdet(stack)
    values = sample_point(f, 0).values["X"]
    assert np.all(np.linalg.det(values) > 0) and np.all(np.diagonal(values, axis1=1, axis2=2) >= 5)
    assert (values < 0).any()
    assert _check(f, stack, jacobian(f, stack), 1, 0).ok


def test_a_derivation_writes_its_matrix_form_steps_and_shared_names():
    d = differentiate(build_formula("Z[i,j] = A[i,k]*W[k,j]", "W", {"A": (2, 3), "W": (3, 2)}), 1)
    assert d.matrix_notation().endswith("   (vec stacks rows)") and "⊗" in d.matrix_notation()
    assert d.matrix_notation("column").endswith("   (vec stacks columns)") and d.matrix_notation("F") == d.matrix_notation("column")
    assert d.steps().splitlines()[-2] == "result: ∂Z[i,j]/∂W[a,b] = δ[j,b] A[i,a]"
    L = differentiate(build_formula("L = sum[i](tanh(tanh(A[i,j]*x[j])))", "x", {"A": (2, 2), "x": (2,)}), 2)
    named = shared(L.derivative)
    lines = L.derivative_lines(Text(), named)
    assert named and [line.split(" = ")[0].split("[")[0] for line in lines[:-1]] == list(named.values())
    assert lines[-1].startswith("∂²L/∂x[a] ∂x[b] = ")
    with pytest.raises(OptionError):  # a tensor of three axes by a matrix: no matrix form
        differentiate(build_formula("T[i,j,k] = A[i,j]*x[k]", "A", {"A": (2, 2), "x": (2,)}), 1).matrix_notation()


def test_build_formula_makes_the_named_variables_symmetric():
    f = build_formula("x'*S*x", "x", {"x": (3,), "S": (3, 3)}, symmetric=["S"])
    assert (f.wrt.symmetric, Var("S", (3, 3), symmetric=True) in topological([f.expr])) == (False, True)
    with pytest.raises(OperandError, match="symmetric 'T': no variable 'T' has a shape"):
        build_formula("x'*S*x", "x", {"x": (3,), "S": (3, 3)}, symmetric=["T"])
    with pytest.raises(ShapeError, match="symmetric 'S': S has shape \\(3, 4\\), but a symmetric matrix is square"):
        build_formula("x'*S*y", "x", {"x": (3,), "S": (3, 4), "y": (4,)}, symmetric=["S"])


def test_sample_point_draws_a_symmetric_variable_symmetric_with_both_signs():
    S = Var("S", (4, 4), symmetric=True)
    values = sample_point(logdet(S), 0).values["S"]
    assert np.array_equal(values, values.T)
    off = values[~np.eye(4, dtype=bool)]
    assert (off > 0).any() and (off < 0).any() and np.all(np.abs(off) >= 0.5)
