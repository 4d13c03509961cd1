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


@pytest.mark.parametrize(
    "subscripts, operands, match",
    [
        ("ij,j->i-", (A, x), r"subscripts 'ij,j->i-' have a stray '-' or '>'"),
        ("ij,j->>i", (A, x), r"stray '-' or '>'"),
        ("ij,j->.i", (A, x), r"output subscripts '.i' has a '.' that is not part of an ellipsis"),
        ("...j,j->......", (A, x), r"output subscripts '......' has more than one ellipsis"),
        ("ij,j->", (A,), r"name 2 operand\(s\) but 1 were given"),
        ("ij,j->i", (A, x, y), r"name 2 operand\(s\) but 3 were given"),
        ("ij,jk->ik", (A, x), r"operand 1 has shape \(3,\) \(1 axes\) but subscripts 'jk' name 2"),
        ("...i,j->...i", (x, A), r"operand 1 has shape \(2, 3\) \(2 axes\) but subscripts 'j' name 1"),
    ],
)
def test_more_malformed_subscripts(subscripts, operands, match):
    with pytest.raises(ed.SubscriptError, match=match):
        ed.einsum(subscripts, *operands)


@pytest.mark.parametrize("bad", [b"ij", None, ["ij"]])
def test_subscripts_of_other_types(bad):
    with pytest.raises(ed.SubscriptError, match=rf"must be a string, got {type(bad).__name__}"):
        ed.einsum(bad, A)


def test_index_with_two_sizes_across_ellipsis_and_in_one_operand():
    with pytest.raises(ed.ShapeError, match=r"index 'j' has size 3 in operand 0 but size 2 in operand 1"):
        ed.einsum("ij,jk->ik", A, ed.var("B", (2, 2)))
    with pytest.raises(ed.ShapeError, match=r"index '\.\.\.\[0\]' has size 2 in operand 0 but size 4 in operand 1"):
        ed.einsum("...i,...i->...", A, ed.var("B", (4, 3)))


@pytest.mark.parametrize("bad", [3, np.ones(3), x + 1])
def test_wrt_must_be_a_variable_for_grad(bad):
    with pytest.raises(ed.WrtError, match=rf"wrt must be a variable .* got {type(bad).__name__}"):
        ed.grad((A @ x).sum(), bad)


@pytest.mark.parametrize("fn", [ed.jacobian, ed.grad, ed.hessian, ed.jacobian_matrix])
def test_wrt_tuple_with_a_non_variable(fn):
    f = (A @ x).sum()
    with pytest.raises(ed.WrtError, match=r"wrt(\[1\])? must be a variable .* got int"):
        fn(f, (x, 2))
    with pytest.raises(ed.WrtError, match=r"wrt(\[1\])? must be a variable .* got Add of shape \(3,\)"):
        fn(f, [A, x + 1])


def test_jacobian_matrix_order_with_a_tuple_wrt():
    with pytest.raises(ed.OptionError, match=r"order must be 'C' \(row-major\) or 'F' \(column-major\), got None"):
        ed.jacobian_matrix(A @ x, (A, x), order=None)


def test_grad_of_non_scalar_names_the_shape():
    with pytest.raises(ed.NotScalarError, match=r"got shape \(2, 3\)"):
        ed.grad(A * 2, (A,))


@pytest.mark.parametrize("value", [np.array(["a", "b", "c"]), np.array([1, 2, None], dtype=object), np.ones(3) * 1j])
def test_non_numeric_binding_in_compile(value):
    fn = ed.compile([A @ x, ed.jacobian(A @ x, x)])
    with pytest.raises(ed.BindingError, match=rf"variable 'x' is bound to an array of dtype {value.dtype}; bind a real array"):
        fn(A=np.ones((2, 3)), x=value)


def test_ragged_binding():
    with pytest.raises(ed.BindingError, match=r"variable 'x': the bound value cannot be read as an array"):
        ed.evaluate(A @ x, A=np.ones((2, 3)), x=[[1.0], [2.0, 3.0]])


def test_binding_errors_name_the_variable_of_a_derivative():
    fn = ed.compile([ed.grad((A @ x) @ y, A)])
    with pytest.raises(ed.BindingError, match=r"variable 'y' \(shape \(2,\)\) has no value; pass y=<array of shape \(2,\)>"):
        fn(A=np.ones((2, 3)), x=np.ones(3))
    with pytest.raises(ed.BindingError, match=r"variable 'x' expects shape \(3,\) but was given an array of shape \(3, 1\)"):
        fn(x=np.ones((3, 1)), y=np.ones(2))
    # the gradient y x^T does not depend on A: a wrongly shaped A is an unused binding, not an error
    fn(A=np.ones((3, 2)), x=np.ones(3), y=np.ones(2))


@pytest.mark.parametrize("fn", [ed.grad, ed.hessian, lambda f, w: ed.jacobian_matrix(f, w, order="F")])
def test_name_clash_through_every_entry_point(fn):
    clash = (x * x).sum() + ed.var("x", (2,)).sum()
    with pytest.raises(ed.VariableConflictError, match=r"two variables are named 'x', with shapes \(3,\) and \(2,\)"):
        fn(clash, x)
    with pytest.raises(ed.VariableConflictError, match=r"wrt variable 'x' has shape \(4,\) but the expression's variable 'x' has shape \(3,\)"):
        fn((x * x).sum(), ed.var("x", (4,)))
    with pytest.raises(ed.VariableConflictError, match=r"two variables are named 'x'"):
        ed.compile([(x * x).sum(), ed.var("x", (2,)).sum()])


@pytest.mark.parametrize(
    "run, match",
    [
        (lambda: ed.evaluate(np.ones(3)), r"evaluate needs an einsdiff expression, got ndarray"),
        (lambda: ed.evaluate(None), r"evaluate needs an einsdiff expression, got NoneType"),
        (lambda: ed.compile([A @ x, 3]), r"output 1 must be an einsdiff expression, got int"),
        (lambda: ed.compile(3), r"compile takes an expression or a list of expressions, got int"),
    ],
)
def test_evaluate_needs_expressions(run, match):
    with pytest.raises(ed.OperandError, match=match):
        run()


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: x - ed.var("z", (2,)), ed.ShapeError, r"shapes \(3,\) and \(2,\) do not broadcast"),
        (lambda: x / ed.var("z", (2,)), ed.ShapeError, r"shapes \(3,\) and \(2,\) do not broadcast"),
        (lambda: ed.var("B", (4, 2, 3)) @ ed.var("C", (4, 2, 5)), ed.ShapeError, r"matmul: shapes \(4, 2, 3\) and \(4, 2, 5\) do not align"),
        (lambda: ed.var("B", (4, 2, 3)) @ ed.var("C", (5, 3, 5)), ed.ShapeError, r"index '\.\.\.\[0\]' has size 4 in operand 0 but size 5"),
        (lambda: x @ A, ed.ShapeError, r"matmul: shapes \(3,\) and \(2, 3\) do not align"),
        (lambda: A.sum(axis=-3), ed.ShapeError, r"axis -3 is out of range for an expression of shape \(2, 3\)"),
        (lambda: A.sum(axis=1.0), ed.ShapeError, r"axis 1.0 is out of range"),
        (lambda: ed.sum(A, axis=(0, 5)), ed.ShapeError, r"axis 5 is out of range"),
        (lambda: ed.transpose(A, 5), ed.ShapeError, r"transpose axes must be a tuple of ints, one per axis of \(2, 3\), got 5"),
        (lambda: ed.transpose(A, (0, 2)), ed.ShapeError, r"axis 2 is out of range"),
        (lambda: ed.var(None, (2,)), ed.OperandError, r"identifier string, got None"),
        (lambda: ed.var("a b", (2,)), ed.OperandError, r"identifier string, got 'a b'"),
        (lambda: ed.var("x", None), ed.ShapeError, r"variable 'x': shape must be a tuple of non-negative ints, got None"),
        (lambda: ed.var("x", ((2,),)), ed.ShapeError, r"got \(\(2,\),\)"),
        (lambda: ed.einsum("i,i->", x, np.array([1, 2, None])), ed.OperandError, r"operand 1 is a ndarray with dtype object"),
        (lambda: ed.einsum("i,i->", x, None), ed.OperandError, r"operand 1 is a NoneType"),
        (lambda: ed.einsum("i,i->", x, np.ones(3) * 1j), ed.OperandError, r"operand 1 is a ndarray with dtype complex128"),
        (lambda: x * "abc", ed.OperandError, r"operand is a str with dtype <U3"),
        (lambda: x + 1j, ed.OperandError, r"operand is a complex"),
        (lambda: ed.exp("abc"), ed.OperandError, r"operand is a str"),
    ],
)
def test_more_bad_construction(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_errors_are_catchable_by_base_and_builtin():
    for error, builtin in [(ed.SubscriptError, ValueError), (ed.ShapeError, ValueError), (ed.WrtError, TypeError),
                           (ed.NotScalarError, ValueError), (ed.BindingError, ValueError),
                           (ed.VariableConflictError, ValueError), (ed.OperandError, TypeError),
                           (ed.OptionError, ValueError)]:
        assert issubclass(error, ed.EinsdiffError) and issubclass(error, builtin)


# -- what must NOT raise -------------------------------------------------------------


def test_unused_bindings_are_accepted():
    value = ed.evaluate(A @ x, A=np.ones((2, 3)), x=np.arange(3.0), y=np.ones(7), unrelated="not an array")
    np.testing.assert_array_equal(value, [3.0, 3.0])
    (value,) = ed.compile([A @ x])(A=np.ones((2, 3)), x=np.arange(3.0), z=None)
    np.testing.assert_array_equal(value, [3.0, 3.0])


def test_nan_and_inf_propagate_like_numpy():
    a = np.array([[np.nan, 1.0, 2.0], [1.0, 0.5, 3.0]])
    v = np.array([1.0, np.inf, -2.0])
    w = np.array([0.0, 1.0])
    r = A @ x - y
    with np.errstate(all="ignore"):
        cases = [
            (r, a @ v - w),
            (r @ r, (a @ v - w) @ (a @ v - w)),
            (ed.exp(x) * 2 + 1, np.exp(v) * 2 + 1),
            (ed.log(x), np.log(v)),
            (ed.sqrt(x), np.sqrt(v)),
            (x / 0, v / 0),
            (x / (x - 1), v / (v - 1)),
            (x * float("nan"), v * np.nan),
            (x + float("inf"), v + np.inf),
            (2.0 ** x, 2.0 ** v),
        ]
        for expr, expected in cases:
            got = ed.evaluate(expr, A=a, x=v, y=w)
            np.testing.assert_array_equal(got, expected)  # equal NaNs in the same places
        jac = ed.evaluate(ed.jacobian(r, A), A=a, x=v, y=w)
        grad = ed.evaluate(ed.grad(r @ r, x), A=a, x=v, y=w)
        hess = ed.evaluate(ed.hessian(ed.log(x).sum(), x), x=v)
    assert np.isinf(jac).any() and np.isnan(grad).any()
    np.testing.assert_array_equal(np.diagonal(hess), -1 / v**2)


def test_int_bindings_become_float64():
    r = A @ x - y
    bindings = dict(A=np.ones((2, 3), dtype=int), x=np.arange(3), y=np.zeros(2, dtype=np.int32))
    for expr in [r, r @ r, ed.jacobian(r, A), ed.grad(r @ r, x), ed.hessian(r @ r, x), ed.exp(x / 2)]:
        value = ed.evaluate(expr, **bindings)
        assert value.dtype == np.float64
    np.testing.assert_array_equal(ed.evaluate(ed.exp(x / 2), x=np.arange(3)), np.exp(np.arange(3) / 2))
    np.testing.assert_array_equal(ed.evaluate(r, **bindings), [3.0, 3.0])
    (value,) = ed.compile([x * x])(x=[1, 2, 3])
    np.testing.assert_array_equal(value, [1.0, 4.0, 9.0])


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_float32_in_float32_out(mode):
    r = A @ x - y
    loss = r @ r
    bindings = dict(A=np.ones((2, 3), np.float32), x=np.arange(3, dtype=np.float32), y=np.zeros(2, np.float32))
    exprs = [
        r,
        loss,
        ed.exp(x) * 2.5 + 1,
        2.0 ** x,
        x / 3,
        ed.jacobian(r, A, mode=mode),
        ed.jacobian(r, x, mode=mode),
        ed.jacobian(x, x, mode=mode),
        ed.jacobian(r, ed.var("z", (4,)), mode=mode),  # identically zero
        ed.grad(loss, A, mode=mode),
        ed.hessian(loss, x, mode=mode),
        ed.jacobian_matrix(r, A, order="F", mode=mode),
        ed.jacobian(ed.tanh(x) * ed.sigmoid(x) / (ed.square(x) + 1), x, mode=mode),
        ed.jacobian(2.0 ** x, x, mode=mode),
    ]
    for expr in exprs:
        assert ed.evaluate(expr, **bindings).dtype == np.float32, str(expr)
    assert all(v.dtype == np.float32 for v in ed.compile(exprs)(**bindings))


@pytest.mark.parametrize("fn", [ed.jacobian, ed.grad, ed.hessian, ed.jacobian_matrix])
@pytest.mark.parametrize("bad", [3.0, np.ones(3), None])
def test_f_must_be_an_expression(fn, bad):
    with pytest.raises(ed.OperandError, match=rf"f must be an einsdiff expression, got {type(bad).__name__}"):
        fn(bad, x)


@pytest.mark.parametrize("fn", [ed.hessian, ed.jacobian_matrix])
def test_tuple_wrt_position_for_hessian_and_matrix(fn):
    with pytest.raises(ed.WrtError, match=r"wrt\[1\] must be a variable"):
        fn((A @ x).sum(), (x, 2))


def test_substitute_and_printing_need_expressions():
    with pytest.raises(ed.OperandError, match=r"substitute replaces variables made by ed.var, got the key 'x'"):
        ed.substitute(x * 2, {"x": np.ones(3)})
    with pytest.raises(ed.ShapeError, match=r"cannot substitute an expression of shape \(\) for 'x' of shape \(3,\)"):
        ed.substitute(x * 2, {x: 3})
    with pytest.raises(ed.OperandError, match=r"substitute needs an einsdiff expression, got int"):
        ed.simplify(3)
    with pytest.raises(ed.OperandError, match=r"to_index_notation needs an einsdiff expression, got int"):
        ed.to_index_notation(3)
