"""Matrix notation in (issue 15): ed.parse reads formulas without index brackets as matrix
calculus writes them, into the same expressions, checked against numpy at random values."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.functions import FUNCTIONS
from einsdiff.notation import matrix_parse
from einsdiff.testing.oracles import check_jacobian

SHAPES = dict(x=(3,), y=(3,), z=(4,), b=(4,), w=(3,), A=(4, 3), B=(4, 3), S=(3, 3), X=(3, 3), Y=(3, 2), s=(), t=())


def _values(seed=0):
    rng = np.random.default_rng(seed)
    values = {name: rng.normal(size=shape) for name, shape in SHAPES.items()}
    values["X"] = values["X"] + 3 * np.eye(3)  # well away from singular: det > 0 for logdet
    values["s"], values["t"] = np.float64(0.7), np.float64(1.3)
    return values


def _softmax(v):
    e = np.exp(v)
    return e / e.sum()


# (formula, its value in numpy from the bound arrays)
TABLE = [
    ("x'*S*x", lambda v: v["x"] @ v["S"] @ v["x"]),
    ("x'*y", lambda v: np.einsum("i,i->", v["x"], v["y"])),
    ("xᵀ*y", lambda v: v["x"] @ v["y"]),
    ("x.T @ S @ y", lambda v: v["x"] @ v["S"] @ v["y"]),
    ("z'*A*x", lambda v: np.einsum("i,ij,j->", v["z"], v["A"], v["x"])),
    ("A*x", lambda v: v["A"] @ v["x"]),
    ("A'*z", lambda v: v["A"].T @ v["z"]),
    ("A^T*z", lambda v: v["A"].T @ v["z"]),
    ("x'*A'", lambda v: v["x"] @ v["A"].T),
    ("x*y'", lambda v: np.outer(v["x"], v["y"])),
    ("norm2(A*x - z)^2", lambda v: np.sum((v["A"] @ v["x"] - v["z"]) ** 2)),
    ("norm2(A)", lambda v: np.linalg.norm(v["A"])),
    ("‖A*x - z‖^2", lambda v: np.sum((v["A"] @ v["x"] - v["z"]) ** 2)),
    ("norm1(x)", lambda v: np.abs(v["x"]).sum()),
    ("tr(Y'*S*Y)", lambda v: np.trace(v["Y"].T @ v["S"] @ v["Y"])),
    ("log(det(X))", lambda v: np.log(np.linalg.det(v["X"]))),
    ("logdet(X)", lambda v: np.linalg.slogdet(v["X"])[1]),
    ("X^-1", lambda v: np.linalg.inv(v["X"])),
    ("inv(X)*x", lambda v: np.linalg.inv(v["X"]) @ v["x"]),
    ("X⁻¹*x", lambda v: np.linalg.inv(v["X"]) @ v["x"]),
    ("X^2", lambda v: v["X"] @ v["X"]),
    ("A.*B", lambda v: v["A"] * v["B"]),
    ("A ⊙ B", lambda v: v["A"] * v["B"]),
    ("A./(B.*B + 1)", lambda v: v["A"] / (v["B"] ** 2 + 1)),
    ("exp(x)./sum(exp(x))", lambda v: _softmax(v["x"])),
    ("sum(log(1 + exp(-z.*(A*w))))", lambda v: np.sum(np.log1p(np.exp(-v["z"] * (v["A"] @ v["w"]))))),
    ("eye(3)*x", lambda v: v["x"]),
    ("diag(x)*S", lambda v: np.diag(v["x"]) @ v["S"]),
    ("diag(S)", lambda v: np.diag(v["S"])),
    ("2*x + 1", lambda v: 2 * v["x"] + 1),
    ("x.^2", lambda v: v["x"] ** 2),
    ("x/2 - y/s", lambda v: v["x"] / 2 - v["y"] / v["s"]),
    ("s^2*x + t", lambda v: v["s"] ** 2 * v["x"] + v["t"]),
    ("-x'*x", lambda v: -(v["x"] @ v["x"])),
    ("tanh(A*x + z)", lambda v: np.tanh(v["A"] @ v["x"] + v["z"])),
    ("sigmoid(A)'", lambda v: (1 / (1 + np.exp(-v["A"]))).T),
    ("f = x'*S*x + s*t", lambda v: v["x"] @ v["S"] @ v["x"] + v["s"] * v["t"]),
    ("(S + S')*x", lambda v: (v["S"] + v["S"].T) @ v["x"]),
    ("sum(A)", lambda v: v["A"].sum()),
    ("softmax(x)", lambda v: _softmax(v["x"])),
    ("x.^y", lambda v: v["x"] ** v["y"]),
]


@pytest.mark.parametrize("formula, want", TABLE, ids=[f for f, _ in TABLE])
def test_matrix_notation_means_what_numpy_computes(formula, want):
    values = _values()
    if formula == "x.^y":
        values["x"] = np.abs(values["x"]) + 0.5  # a real power of a positive base
    e = ed.parse(formula, **SHAPES)
    expected = want(values)
    assert e.shape == np.shape(expected)
    np.testing.assert_allclose(ed.evaluate(e, values), expected, rtol=1e-10, atol=1e-12)


def test_the_table_is_big_enough():
    assert len(TABLE) >= 25


def test_a_one_by_one_result_is_a_scalar():
    for formula in ("x'*y", "z'*A*x", "x'*S*x"):
        assert ed.parse(formula, **SHAPES).shape == ()


def test_the_issues_examples_read():
    assert ed.parse("x'*A*x", x=(3,), A=(3, 3)).shape == ()
    assert ed.parse("norm2(A*x - y)^2", A=(4, 3), x=(3,), y=(4,)).shape == ()
    assert ed.parse("tr(X'*A*X)", X=(3, 2), A=(3, 3)).shape == ()
    assert ed.parse("log(det(X))", X=(3, 3)).shape == ()


def test_variables_made_by_ed_var_are_bound():
    x, A = ed.var("x", (3,)), ed.var("A", (3, 3))
    e = ed.parse("x'*A*x", x=x, A=A)
    values = _values()
    np.testing.assert_allclose(ed.evaluate(e, x=values["x"], A=values["S"]), values["x"] @ values["S"] @ values["x"])


@pytest.mark.parametrize("formula, wrt", [
    ("x'*S*x", "x"), ("norm2(A*x - z)^2", "x"), ("tr(Y'*S*Y)", "Y"), ("log(det(X))", "X"),
    ("sum(log(1 + exp(-z.*(A*w))))", "w"), ("exp(x)./sum(exp(x))", "x"),
])
def test_gradients_match_finite_differences(formula, wrt):
    e = ed.parse(formula, **SHAPES)
    check_jacobian(e, ed.var(wrt, SHAPES[wrt]), _values(1))


def test_gradients_are_the_textbooks():
    values = _values(2)
    x, S = values["x"], values["S"]
    g = ed.grad(ed.parse("x'*S*x", **SHAPES), ed.var("x", (3,)))
    np.testing.assert_allclose(ed.evaluate(g, values), (S + S.T) @ x)
    g = ed.grad(ed.parse("log(det(X))", **SHAPES), ed.var("X", (3, 3)))
    np.testing.assert_allclose(ed.evaluate(g, values), np.linalg.inv(values["X"]).T)


# -- which notation --------------------------------------------------------------------------------


def test_formulas_that_are_index_notation_keep_their_meaning():
    s, t = ed.var("s", ()), ed.var("t", ())
    for formula in ("s*t", "f = s*t + 1", "logdet(X)", "tr(X)"):
        auto = ed.parse(formula, s=(), t=(), X=(3, 3))
        assert auto == ed.parse(formula, s=(), t=(), X=(3, 3), notation="index")
    assert str(ed.parse("s t", s=s, t=t)) == str(ed.parse("s t", s=s, t=t, notation="index"))
    assert ed.parse("A[i,j]*x[j]", A=(4, 3), x=(3,)).shape == (4,)


def test_notation_can_be_chosen():
    with pytest.raises(ed.ParseError, match="write a matrix product with indices"):
        ed.parse("A @ x", A=(3, 3), x=(3,), notation="index")
    assert ed.parse("A @ x", A=(3, 3), x=(3,), notation="matrix").shape == (3,)
    with pytest.raises(ed.ParseError, match="index brackets"):
        ed.parse("A[i,j]*x[j]", A=(3, 3), x=(3,), notation="matrix")


def test_an_unknown_notation_is_an_option_error():
    with pytest.raises(ed.OptionError, match="notation='latex'.*'auto', 'index', 'matrix'"):
        ed.parse("x", x=(3,), notation="latex")


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("formula, message, column", [
    ("A*z", "A*z: A is 4×3 but z has 4 entries", 2),
    ("x + z", "x + z: x has 3 entries but z has 4 entries", 3),
    ("x + x'", "x + x': x has 3 entries but x' is a row of 3 entries", 3),
    ("A.*S", "A.*S: A is 4×3 but S is 3×3", 2),
    ("x/y", "x/y: x has 3 entries but y has 3 entries; / divides by a scalar", 2),
    ("x^2", "x^2: ^ of a vector takes a scalar; write .^ entry by entry", 2),
    ("A^-1", "A^-1: a power of a matrix needs a square matrix, but A is 4×3", 2),
    ("T3'", "T3': a transpose takes a vector or a matrix, but T3 is 2×2×2", 3),
])
def test_shape_errors_name_the_operator_and_both_shapes(formula, message, column):
    with pytest.raises(ed.ShapeError) as info:
        ed.parse(formula, T3=(2, 2, 2), **SHAPES)
    assert message in str(info.value) and f"(column {column})" in str(info.value)
    assert isinstance(info.value, ed.ParseError)


def test_function_shape_errors_mark_the_call():
    with pytest.raises(ed.ShapeError, match=r"square matrix.*\(column 1\)"):
        ed.parse("det(A)", **SHAPES)


def test_an_unknown_variable_suggests_a_shape_and_a_close_name():
    with pytest.raises(ed.UnknownVariableError, match=re.escape("unknown variable 'Q'; pass its shape, e.g. Q=(3, 4)")):
        ed.parse("x'*Q*x", x=(3,))
    with pytest.raises(ed.UnknownVariableError, match="did you mean theta?") as info:
        ed.parse("2*thta + 1", theta=(3,))
    assert "(column 3)" in str(info.value)


def test_an_unknown_function_suggests_the_closest():
    with pytest.raises(ed.ParseError, match=r"unknown function 'trace2'; did you mean trace\?.*\(column 1\)"):
        ed.parse("trace2(X)", X=(3, 3))
    with pytest.raises(ed.ParseError, match=r"unknown function 'expp'; did you mean exp\?"):
        ed.parse("expp(x) + x'", x=(3,))


def test_factors_side_by_side_are_a_product_as_the_matrix_form_prints_them():
    x, A = ed.var("x", (3,)), ed.var("A", (3, 3))
    assert ed.parse("x' A x", x=x, A=A, notation="matrix") == ed.parse("x'*A*x", x=x, A=A)
    with pytest.raises(ed.ParseError, match=re.escape("unexpected ')'")):
        ed.parse("x' A x)", x=(3,), A=(3, 3), notation="matrix")


def test_every_elementwise_function_of_the_registry_reads():
    names = [name for f in FUNCTIONS.values() if f.syntax and f.syntax.form == "elementwise" for name in f.syntax.names]
    assert {"exp", "log", "tanh"} <= set(names)
    values = {"x": np.array([0.3, 0.5, 0.7])}
    for name in names:
        e = ed.parse(f"{name}(x)", x=(3,))
        assert e.shape == (3,)
        np.testing.assert_allclose(ed.evaluate(e, values), ed.evaluate(ed.parse(f"{name}(x[i])", x=(3,)), values))


# -- a property: random products and sums of matrices agree with numpy -----------------------------

_MATS = {"P": (2, 3), "Q": (3, 2), "R": (2, 2), "u": (2,), "v": (3,)}


@st.composite
def _formulas(draw, depth=3):
    """A random well-shaped matrix formula of shape (2, 2), with its numpy value as a function."""
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from([("R", lambda m: m["R"]), ("P*Q", lambda m: m["P"] @ m["Q"]),
                                     ("u*u'", lambda m: np.outer(m["u"], m["u"])), ("eye(2)", lambda m: np.eye(2))]))
    a, fa = draw(_formulas(depth - 1))
    b, fb = draw(_formulas(depth - 1))
    op = draw(st.sampled_from(["+", "-", "*", ".*", "'", "scale", "tanh"]))
    if op == "'":
        return f"({a})'", lambda m: fa(m).T
    if op == "scale":
        return f"2.5*({a})", lambda m: 2.5 * fa(m)
    if op == "tanh":
        return f"tanh({a})", lambda m: np.tanh(fa(m))
    numpy_op = {"+": np.add, "-": np.subtract, "*": np.matmul, ".*": np.multiply}[op]
    return f"({a}) {op} ({b})", lambda m: numpy_op(fa(m), fb(m))


@settings(max_examples=40, deadline=None)
@given(_formulas())
def test_random_matrix_formulas_agree_with_numpy(case):
    formula, want = case
    rng = np.random.default_rng(7)
    values = {name: rng.normal(size=shape) for name, shape in _MATS.items()}
    got = ed.evaluate(ed.parse(formula, **_MATS), values)
    np.testing.assert_allclose(got, want(values), rtol=1e-9, atol=1e-9)


def test_the_module_reads_formulas_alone():
    assert matrix_parse.read("x'*x", {"x": ed.var("x", (3,))}).shape == ()


def test_an_index_notation_formula_gets_index_notations_error():
    # "s q" has index notation's form (a product without *), not matrix notation's: the unknown q is the error.
    with pytest.raises(ed.UnknownVariableError, match="unknown variable 'q'"):
        ed.parse("s q", s=())
    # "x + x'" has only matrix notation's form: its error is matrix notation's.
    with pytest.raises(ed.ShapeError, match="x' is a row of 3 entries"):
        ed.parse("x + x'", x=(3,))


# -- what the matrix form prints (issue 15's agreed syntax) reads back ------------------------------

# (text as ed.to_matrix_notation prints it, its value in numpy); s = 0.7, X = its draw + 3 I.
PRINTED = [
    ("2 Aᵀ (A x − z)", lambda v: 2 * v["A"].T @ (v["A"] @ v["x"] - v["z"])),
    ("(S + Sᵀ) x", lambda v: (v["S"] + v["S"].T) @ v["x"]),
    ("Aᵀ (A x − z) / ‖A x − z‖", lambda v: v["A"].T @ (v["A"] @ v["x"] - v["z"]) / np.linalg.norm(v["A"] @ v["x"] - v["z"])),
    ("X⁻ᵀ", lambda v: np.linalg.inv(v["X"]).T),
    ("(X⁻¹)ᵀ", lambda v: np.linalg.inv(v["X"]).T),
    ("−X⁻ᵀ x (X⁻¹ x)ᵀ", lambda v: -np.outer(np.linalg.inv(v["X"]).T @ v["x"], np.linalg.inv(v["X"]) @ v["x"])),
    ("X⁻¹ X⁻¹", lambda v: np.linalg.inv(v["X"]) @ np.linalg.inv(v["X"])),
    ("X²", lambda v: v["X"] @ v["X"]),
    ("‖x‖", lambda v: np.linalg.norm(v["x"])),
    ("‖A‖_F", lambda v: np.linalg.norm(v["A"])),
    ("‖x‖²", lambda v: v["x"] @ v["x"]),
    ("‖A x − z‖²", lambda v: np.sum((v["A"] @ v["x"] - v["z"]) ** 2)),
    ("‖A‖_F²", lambda v: np.sum(v["A"] ** 2)),
    ("‖x‖₁", lambda v: np.abs(v["x"]).sum()),
    ("x / ‖x‖", lambda v: v["x"] / np.linalg.norm(v["x"])),
    ("x / s", lambda v: v["x"] / v["s"]),
    ("2/3 x", lambda v: 2 / 3 * v["x"]),
    ("−2/3 x + 1/7 y", lambda v: -2 / 3 * v["x"] + v["y"] / 7),
    ("1/s x", lambda v: v["x"] / v["s"]),
    ("−(1/s)² x", lambda v: -(v["x"] / v["s"] ** 2)),
    ("x ⊙ y", lambda v: v["x"] * v["y"]),
    ("x ⊙ S y", lambda v: v["x"] * (v["S"] @ v["y"])),  # ⊙ looser than a product
    ("x∘²", lambda v: v["x"] ** 2),
    ("A∘²", lambda v: v["A"] ** 2),
    ("w∘³", lambda v: v["w"] ** 3),
    ("(x ⊙ x + 𝟙)∘⁻¹⁄³", lambda v: (v["x"] ** 2 + 1) ** (-1 / 3)),
    ("(x ⊙ x + 𝟙)∘⁰·⁵", lambda v: np.sqrt(v["x"] ** 2 + 1)),
    ("(x ⊙ x + 𝟙)∘²/³", lambda v: (v["x"] ** 2 + 1) ** (2 / 3)),
    ("s²", lambda v: v["s"] ** 2),
    ("s⁻¹", lambda v: 1 / v["s"]),
    ("Aᵀ 𝟙", lambda v: v["A"].sum(axis=0)),
    ("𝟙ᵀ A x", lambda v: (v["A"] @ v["x"]).sum()),
    ("𝟙ᵀ A∘² 𝟙", lambda v: np.sum(v["A"] ** 2)),
    ("Aᵀ (𝟙 − tanh(A x)∘²)", lambda v: v["A"].T @ (1 - np.tanh(v["A"] @ v["x"]) ** 2)),
    ("A + z 𝟙ᵀ", lambda v: v["A"] + v["z"][:, None]),
    ("S + 2 I", lambda v: v["S"] + 2 * np.eye(3)),
    ("I S", lambda v: v["S"]),
    ("S + 2 I / 4 − Iᵀ", lambda v: v["S"] - 0.5 * np.eye(3)),  # I waits for its size through several operators
    ("tr(X)", lambda v: np.trace(v["X"])),
    ("det(X) X⁻ᵀ", lambda v: np.linalg.det(v["X"]) * np.linalg.inv(v["X"]).T),
    ("log det(X)", lambda v: np.linalg.slogdet(v["X"])[1]),
    ("log(det(X))", lambda v: np.log(np.linalg.det(v["X"]))),
    ("−x", lambda v: -v["x"]),
    ("xᵀ S x", lambda v: v["x"] @ v["S"] @ v["x"]),
    ("(1 − tanh(xᵀ x)²) x", lambda v: (1 - np.tanh(v["x"] @ v["x"]) ** 2) * v["x"]),
    ("sqrt(sum((A x − z)∘²)) 2 1/sqrt(sum((A x − z)∘²)) Aᵀ (A x − z)", lambda v: 2 * v["A"].T @ (v["A"] @ v["x"] - v["z"])),
    ("‖A x − z‖ ‖x‖", lambda v: np.linalg.norm(v["A"] @ v["x"] - v["z"]) * np.linalg.norm(v["x"])),
    ("tanh(S) ⊙ sigmoid(X)", lambda v: np.tanh(v["S"]) * (1 / (1 + np.exp(-v["X"])))),
    ("2 · xᵀ · y", lambda v: 2 * v["x"] @ v["y"]),  # · is a product, as *
]


@pytest.mark.parametrize("text, want", PRINTED, ids=[p for p, _ in PRINTED])
def test_what_the_matrix_form_prints_reads_back(text, want):
    values = _values()
    e = ed.parse(text, notation="matrix", **SHAPES)
    expected = want(values)
    assert e.shape == np.shape(expected)
    np.testing.assert_allclose(ed.evaluate(e, values), expected, rtol=1e-10, atol=1e-12)


def test_a_fraction_reads_as_the_float_it_printed():
    x = ed.var("x", (3,))
    assert ed.parse("2/3 x", x=x, notation="matrix") == ed.parse("f[i] = 2/3 x[i]", x=x)
    assert ed.to_matrix_notation(ed.parse("5/7 x", x=x, notation="matrix")) == "f = 5/7 x"


@pytest.mark.parametrize("text, message, column", [
    ("𝟙", "the ones vector 𝟙 has no size here", 1),
    ("2 I", "the identity I has no size here: it takes the size of what it multiplies or is added to", 3),
    ("x 𝟙ᵀ", "the ones vector 𝟙 has no size here", 3),
    ("tr(I)", "the identity I has no size here", 4),
])
def test_ones_and_identity_without_a_size_are_refused(text, message, column):
    with pytest.raises(ed.ParseError, match=message) as info:
        ed.parse(text, notation="matrix", **SHAPES)
    assert f"(column {column})" in str(info.value)


def test_a_variable_called_I_is_itself():
    values = _values()
    e = ed.parse("I x", I=(3, 3), x=(3,), notation="matrix")
    np.testing.assert_allclose(ed.evaluate(e, I=values["S"], x=values["x"]), values["S"] @ values["x"])
    assert matrix_parse.names("f = A 𝟙 + I x") == ("f", ("A", "x"))


def test_the_frobenius_norm_takes_a_matrix():
    with pytest.raises(ed.ShapeError, match="the Frobenius norm takes a matrix, but x has 3 entries"):
        ed.parse("‖x‖_F", notation="matrix", **SHAPES)


def test_a_superscript_power_of_a_vector_says_to_write_it_entry_by_entry():
    with pytest.raises(ed.ShapeError, match="write .\\^ entry by entry"):
        ed.parse("x²", notation="matrix", **SHAPES)


@pytest.mark.parametrize("text, message", [("0/0", "0/0 divides by zero"), ("x∘¹⁄⁰", "the power ¹⁄⁰ divides by zero")])
def test_a_division_by_zero_in_numbers_is_named(text, message):
    with pytest.raises(ed.ParseError, match=message):
        ed.parse(text, notation="matrix", **SHAPES)


_PIECES = ["x", "y", "A", "S", "s", "I", "𝟙", "‖", "_F", "₁", "∘", "²", "⁻¹", "⁻ᵀ", "¹⁄³", "ᵀ", "'", "(", ")", " ",
           "−", "+", "*", "/", "⊙", "2", "0", "tr(", "log det(", "sum(", "diag(", "tanh(", ",", "^", ".^", "./"]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12).map("".join))
def test_fuzzed_matrix_text_raises_only_einsdiff_errors(text):
    """Pieces of what the matrix form prints, in any order: a formula or an einsdiff error (0⁻¹
    was a ZeroDivisionError)."""
    try:
        ed.parse(text, x=(3,), y=(3,), A=(4, 3), S=(3, 3), s=(), notation="matrix")
    except ed.EinsdiffError:
        pass
