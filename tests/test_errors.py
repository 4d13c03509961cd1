"""Bad input raises a specific EinsdiffError that names the culprit."""

import numpy as np
import pytest

import einsdiff as ed

A = ed.var("A", (2, 3))
x = ed.var("x", (3,))
y = ed.var("y", (2,))


@pytest.mark.parametrize(
    "subscripts, operands, match",
    [
        ("ij,j1->i", (A, x), r"operand 1's subscripts 'j1' has the character '1'"),
        ("ij,j-i", (A, x), r"stray '-' or '>'"),
        ("ij,j>i", (A, x), r"stray '-' or '>'"),
        ("ij,j->i->i", (A, x), r"more than one '->'"),
        ("i.j,j->i", (A, x), r"operand 0's subscripts 'i.j' has a '.' that is not part of an ellipsis"),
        ("...i...,j->i", (A, x), r"more than one ellipsis"),
        ("ij,j,k->i", (A, x), r"name 3 operand\(s\) but 2 were given"),
        ("ij", (A, x), r"name 1 operand\(s\) but 2 were given"),
        ("ijk,j->i", (A, x), r"operand 0 has shape \(2, 3\) \(2 axes\) but subscripts 'ijk'"),
        ("i,j->i", (A, x), r"operand 0 has shape \(2, 3\)"),
        ("ij,j->k", (A, x), r"output index 'k' in 'ij,j->k' appears in no input"),
        ("ij,j->ii", (A, x), r"output index 'i' is repeated"),
        ("ij,j->...i", (A, x), r"ellipsis '...' on the output only"),
        ("...j,j->", (A, x), r"ellipsis '...' on the inputs only"),
    ],
)
def test_malformed_subscripts(subscripts, operands, match):
    with pytest.raises(ed.SubscriptError, match=match) as info:
        ed.einsum(subscripts, *operands)
    assert isinstance(info.value, ValueError)


def test_subscripts_must_be_a_string():
    with pytest.raises(ed.SubscriptError, match="must be a string, got int"):
        ed.einsum(3, A)


def test_index_with_two_sizes_names_index_operands_and_sizes():
    with pytest.raises(ed.ShapeError, match=r"index 'i' has size 2 in operand 0 but size 3 in operand 1"):
        ed.einsum("ij,i->j", A, x)


@pytest.mark.parametrize("bad", [3, np.ones(3), x + 1, "x", None])
@pytest.mark.parametrize("fn", [ed.jacobian, ed.hessian, ed.jacobian_matrix])
def test_wrt_must_be_a_variable(fn, bad):
    with pytest.raises(ed.WrtError, match=rf"wrt must be a variable .* got {type(bad).__name__}") as info:
        fn(A @ x, bad)
    assert isinstance(info.value, TypeError)


def test_wrt_in_a_tuple_names_its_position():
    with pytest.raises(ed.WrtError, match=r"wrt\[1\] must be a variable .* got int"):
        ed.jacobian(A @ x, (x, 2))
    with pytest.raises(ed.WrtError, match=r"got Add of shape \(3,\)"):
        ed.grad((A @ x).sum(), x + 1)


def test_jacobian_matrix_order():
    with pytest.raises(ed.OptionError, match=r"order must be 'C' \(row-major\) or 'F' \(column-major\), got 'K'"):
        ed.jacobian_matrix(A @ x, x, order="K")


def test_grad_of_non_scalar():
    with pytest.raises(ed.NotScalarError, match=r"grad needs a scalar expression, got shape \(2,\); use ed.jacobian"):
        ed.grad(A @ x, x)


@pytest.mark.parametrize("run", [ed.evaluate, lambda e, **b: ed.compile([e])(**b)])
def test_missing_binding(run):
    with pytest.raises(ed.BindingError, match=r"variable 'x' \(shape \(3,\)\) has no value; pass x="):
        run(A @ x, A=np.ones((2, 3)))


@pytest.mark.parametrize("run", [ed.evaluate, lambda e, **b: ed.compile([e])(**b)])
def test_wrongly_shaped_binding(run):
    with pytest.raises(ed.BindingError, match=r"variable 'x' expects shape \(3,\) but was given an array of shape \(4,\)"):
        run(A @ x, A=np.ones((2, 3)), x=np.ones(4))


@pytest.mark.parametrize("value", [np.array(["a", "b", "c"]), [None, 1, 2]])
def test_non_numeric_binding(value):
    with pytest.raises(ed.BindingError, match=r"variable 'x' is bound to an array of dtype"):
        ed.evaluate(A @ x, A=np.ones((2, 3)), x=value)


def test_two_variables_one_name_different_shapes():
    clash = x.sum() + ed.var("x", (2,)).sum()
    for action in (lambda: ed.evaluate(clash, x=np.ones(3)), lambda: ed.compile([clash]), lambda: ed.jacobian(clash, x)):
        with pytest.raises(ed.VariableConflictError, match=r"two variables are named 'x', with shapes \(3,\) and \(2,\)"):
            action()
    with pytest.raises(ed.VariableConflictError, match=r"wrt variable 'x' has shape \(2,\) but the expression's variable 'x' has shape \(3,\)"):
        ed.jacobian(x.sum(), ed.var("x", (2,)))


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: A + ed.var("z", (2,)), ed.ShapeError, r"shapes \(2, 3\) and \(2,\) do not broadcast"),
        (lambda: A * ed.var("z", (4,)), ed.ShapeError, r"shapes \(2, 3\) and \(4,\) do not broadcast"),
        (lambda: A @ y, ed.ShapeError, r"matmul: shapes \(2, 3\) and \(2,\) do not align"),
        (lambda: A @ ed.var("s", ()), ed.ShapeError, r"at least one axis, got shapes \(2, 3\) and \(\)"),
        (lambda: A.sum(axis=2), ed.ShapeError, r"axis 2 is out of range for an expression of shape \(2, 3\)"),
        (lambda: A.sum(axis=(0, 0)), ed.ShapeError, r"names an axis twice"),
        (lambda: ed.transpose(A, (0,)), ed.ShapeError, r"do not name each of the 2 axes once"),
        (lambda: ed.var("1x", (2,)), ed.OperandError, r"identifier string, got '1x'"),
        (lambda: ed.var("x", "ab"), ed.ShapeError, r"variable 'x': shape must be a tuple of non-negative ints, got 'ab'"),
        (lambda: ed.var("x", (2.5,)), ed.ShapeError, r"got \(2.5,\)"),
        (lambda: ed.var("x", (-1,)), ed.ShapeError, r"variable 'x' has a negative size"),
        (lambda: ed.einsum("i,i->", x, "abc"), ed.OperandError, r"operand 1 is a str"),
        (lambda: A + object(), ed.OperandError, r"dtype object"),
        (lambda: x + [[1, 2], [3]], ed.OperandError, r"cannot be read as an array"),
        (lambda: bool(x), ed.OperandError, r"no truth value"),
    ],
)
def test_bad_construction(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_jacobian_mode():
    with pytest.raises(ed.OptionError, match=r"mode must be one of \('auto', 'forward', 'reverse'\), got 'sideways'"):
        ed.jacobian(A @ x, x, mode="sideways")
