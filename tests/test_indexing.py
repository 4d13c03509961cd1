"""Indexing and joining on expressions (einsdiff.ir.indexing): ``x[key]``, np.concatenate, np.stack
and friends give numpy's values on the bound arrays, derivatives that are the 0/1 matrices numpy's
own indexing of the identity gives, and match finite differences; what einsdiff cannot build is
refused naming the index or the part."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.expr import Const
from einsdiff.ir.indexing import concatenate
from einsdiff.ir.variables import topological
from einsdiff.testing.oracles import check_jacobian, finite_difference_jacobian

S = slice(None)
MASK34 = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])
MASK3 = np.array([True, False, True])

# (shape, key): each is evaluated by numpy on an array and built by einsdiff on a variable.
KEYS = [
    ((5,), 0), ((5,), -1), ((5,), 4), ((5,), np.int64(-5)), ((5,), np.array(2)),
    ((5,), slice(1, 3)), ((5,), slice(None, None, -1)), ((5,), slice(3, None, -2)), ((5,), slice(-2, None)),
    ((5,), slice(None, None, 2)), ((5,), slice(-10, 10)), ((5,), slice(4, 0, -1)), ((5,), slice(-1, -6, -3)),
    ((5,), slice(10, None)), ((5,), slice(3, 1)), ((5,), slice(None)),
    ((5,), None), ((5,), Ellipsis), ((5,), (None, Ellipsis, None)),
    ((5,), [0, 2, 2]), ((5,), [-1, 0]), ((5,), np.array([3, 1])), ((5,), np.array([4], dtype=np.uint8)), ((5,), []),
    ((5,), np.array([True, False, False, True, True])),
    ((3, 4), 0), ((3, 4), (S, slice(1, 3))), ((3, 4), (Ellipsis, None)), ((3, 4), (None, Ellipsis, 1)),
    ((3, 4), (-1, slice(None, None, -1))), ((3, 4), ([0, 2], slice(1, None))), ((3, 4), (S, [3, 0, 1])),
    ((3, 4), (1, [0, 2])), ((3, 4), ([2, 0], -1)), ((3, 4), MASK34), ((3, 4), MASK3), ((3, 4), (S, MASK34[0])),
    ((3, 4), (Ellipsis,)), ((3, 4), ()), ((3, 4), (S, S)), ((3, 4), (slice(1, None), 2)),
    ((3, 4), (slice(None, None, -2), slice(None, None, -3))), ((3, 4), (None, S, None, S, None)),
    ((2, 3, 4), (S, Ellipsis, 0)), ((2, 3, 4), (Ellipsis, 1, None)), ((2, 3, 4), (1, Ellipsis)),
    ((2, 3, 4), (0, Ellipsis, [1, 2])),  # advanced items apart: the selected axis goes first
    ((2, 3, 4), (Ellipsis, [1, 0], S)), ((2, 3, 4), (S, 1, [0, 3])), ((2, 3, 4), (1, S, [0, 3])),
    ((2, 3, 4), (S, [1, 0], None, 0)), ((2, 3, 4), (S, [1, 0], Ellipsis, 0)),  # None, ... (even empty) part them
    ((2, 3, 4), ([1, 0, 1], Ellipsis)), ((2, 3, 4), (None, 0, None, slice(None, None, -1), None)),
    ((2, 3, 4), (S, MASK34)), ((2, 3, 4), (0, MASK34)), ((2, 3, 4), (S, MASK3, 2)), ((3, 4, 2), (MASK34, None)), ((3, 4, 2), (None, MASK34, -1)),
    ((2, 3, 4), (slice(1, None), slice(None, None, -2), slice(1, 3))), ((2, 3, 4), (-1, -1, -1)),
    ((), ()), ((), Ellipsis), ((), None), ((), (None, Ellipsis, None)),
    ((0, 3), (S, 1)), ((0, 3), (Ellipsis, slice(1, None))), ((4, 0), (slice(1, 3), Ellipsis)),
]


def _text(key) -> str:
    return repr(key).replace("slice(None, None, None)", ":").replace("Ellipsis", "...")


def _value(shape, seed=0) -> np.ndarray:
    """Entries away from 0, distinct, so a wrong pick shows."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def _jacobian_by_indexing(shape, key) -> np.ndarray:
    """d x[key] / d x, built by indexing each basis array: J[out..., in...]."""
    n = int(np.prod(shape, dtype=np.int64))
    columns = [np.eye(n)[k].reshape(shape)[key] for k in range(n)]
    picked = np.zeros(shape)[key].shape
    return np.stack(columns, axis=-1).reshape(picked + tuple(shape)) if columns else np.zeros(picked + tuple(shape))


@pytest.mark.parametrize(("shape", "key"), KEYS, ids=[f"{s}-{_text(k)}" for s, k in KEYS])
def test_indexing_gives_numpys_value_shape_and_jacobian(shape, key):
    x, value = ed.var("x", shape), _value(shape)
    e = x[key]
    want = value[key]
    assert isinstance(e, ed.Expr) and e.shape == want.shape
    np.testing.assert_array_equal(ed.evaluate(e, {"x": value}), want)
    jac = _jacobian_by_indexing(shape, key)
    for mode in ("forward", "reverse"):
        np.testing.assert_array_equal(ed.evaluate(ed.jacobian(e, x, mode), {"x": value}), jac)


@st.composite
def shapes_and_keys(draw):
    """A shape and an index for it: ints, slices (any bounds and steps), None, at most one
    integer array, in any order, and perhaps a closing ...."""
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    items, axis, array = [], 0, False
    for _ in range(draw(st.integers(0, len(shape) + 2))):
        kinds = ["new", "ellipsis"] + (["slice"] if axis < len(shape) else []) + (
            ["int"] if axis < len(shape) and shape[axis] else []) + (["array"] if axis < len(shape) and not array else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "new":
            items.append(None)
            continue
        if kind == "ellipsis":  # the last item drawn: after it, items would count axes from the end
            items.append(Ellipsis)  # it stands for the axes the other items leave (the table has ... between)
            break
        n = shape[axis]
        bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
        if kind == "slice":
            items.append(slice(draw(bound), draw(bound), draw(st.one_of(st.none(), st.integers(-3, 3).filter(bool)))))
        elif kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        else:
            array = True
            items.append(draw(st.lists(st.integers(-n, n - 1), max_size=3)) if n else [])
        axis += 1
    return shape, tuple(items)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(shapes_and_keys())
def test_random_indices_match_numpy(case):
    shape, key = case
    value, x = _value(shape), ed.var("x", shape)
    want, e = value[key], x[key]
    assert e.shape == want.shape
    np.testing.assert_array_equal(ed.evaluate(e, {"x": value}), want)
    np.testing.assert_array_equal(ed.evaluate(ed.jacobian(e, x), {"x": value}), _jacobian_by_indexing(shape, key))


@pytest.mark.parametrize(("shape", "key"), [((3, 4), (S, slice(1, 3))), ((3, 4), (slice(None, None, -1), [0, 3])),
                                            ((2, 3, 4), (S, MASK34)), ((2, 3, 4), (0, Ellipsis, None, [1, 2]))])
def test_derivatives_through_indexing_match_finite_differences(shape, key):
    """A nonlinear function of the selection: gradient and Hessian (both modes) against differences."""
    x, value = ed.var("x", shape), _value(shape, seed=1)
    f = np.sum(np.sin(x[key]) * x[key] ** 2)
    check_jacobian(f, x, {"x": value}, order=2)
    check_jacobian(np.tanh(x[key]), x, {"x": value})


def test_selecting_a_whole_axis_adds_no_node():
    x = ed.var("x", (3, 4))
    assert x[...] is x and x[:] is x and x[:, :] is x and x[()] is x
    assert str(x[:, 0]).count("take") == 1
    assert str(x[0]) == "f[i] = Σ[j](take[:1, :](x)[j,i])"


def test_a_selection_prints_its_key_and_matrix_notation_says_it_has_none():
    x, y = ed.var("x", (3, 4)), ed.var("y", (2, 4))
    assert str(x[:, 1:3]) == "f[i,j] = take[:, 1:3](x)[i,j]"
    assert str(x[::-2, [0, 3, 3]]) == "f[i,j] = take[:, [0, 3, 3]](take[::-2, :](x))[i,j]"
    assert str(np.concatenate([x, y])) == "f[i,j] = put[:3 of 5, :](x)[i,j] + put[3: of 5, :](y)[i,j]"
    with pytest.raises(ed.OptionError, match=r"it has take\(\.\.\.\); use ed\.to_index_notation"):
        ed.to_matrix_notation(x[:, 1:3])


def _gradient_flops(n: int) -> int:
    x = ed.var("x", (n,))
    f = np.sum((x[1:] - x[:-1]) ** 2) + x[1:] @ x[:-1]
    return ed.compile([ed.grad(f, x)]).plan.total_flops


def test_the_gradient_of_a_difference_of_slices_costs_linear_flops_and_no_constant():
    """A slice is a take, its transpose a put: the plan grows with n, not n² as with a 0/1 matrix
    (8 million planned flops at n = 1000). Takes and puts move entries and plan no flops."""
    small, large = _gradient_flops(1000), _gradient_flops(2000)
    assert small <= 10 * 1000 and large <= 2 * small + 10
    x = ed.var("x", (1000,))
    g = ed.grad(np.sum((x[1:] - x[:-1]) ** 2), x)
    assert not any(isinstance(n, Const) and n.size > 1 for n in topological([g]))


def test_indexing_a_constant_is_a_constant():
    c = Const(np.arange(6.0).reshape(2, 3))
    assert isinstance(c[:, ::-1], Const)
    np.testing.assert_array_equal(c[:, ::-1].value, np.arange(6.0).reshape(2, 3)[:, ::-1])


def test_an_empty_selection_has_size_zero_and_a_zero_derivative():
    x, value = ed.var("x", (4,)), _value((4,))
    e = x[3:1]
    assert e.shape == (0,) and ed.evaluate(e, {"x": value}).shape == (0,)
    f = np.sum(x[2:2] ** 2) + np.sum(x[3:] ** 2)
    np.testing.assert_allclose(ed.evaluate(ed.grad(f, x), {"x": value}), [0, 0, 0, 2 * value[3]])


def test_compiled_gradients_of_selections_and_joins():
    x, y = ed.var("x", (3, 4)), ed.var("y", (2, 4))
    xv, yv = _value((3, 4)), _value((2, 4), seed=2)
    f = np.sum(x[:, 1:3] ** 2)
    g = np.sum(np.concatenate([x, y[::-1]]) ** 3 * np.arange(1.0, 6.0)[:, None])
    fv, gx, gv, gy = ed.compile([f, ed.grad(f, x), g, ed.grad(g, y)])({"x": xv, "y": yv})
    mask = np.zeros((3, 4))
    mask[:, 1:3] = 1
    np.testing.assert_allclose(fv, np.sum(xv[:, 1:3] ** 2))
    np.testing.assert_allclose(gx, 2 * xv * mask)
    np.testing.assert_allclose(gv, np.sum(np.concatenate([xv, yv[::-1]]) ** 3 * np.arange(1.0, 6.0)[:, None]))
    np.testing.assert_allclose(gy, 3 * yv ** 2 * np.array([[5.0], [4.0]]))


def test_iteration_and_len_go_along_the_first_axis():
    x = ed.var("x", (2, 3))
    a, b = x
    assert (a, b) == (x[0], x[1]) and list(x) == [x[0], x[1]] and len(x) == 2
    for call in (lambda: iter(ed.var("s", ())), lambda: len(ed.var("s", ()))):
        with pytest.raises(ed.OperandError, match="a scalar expression: it has no axes"):
            call()


C23 = np.arange(1.0, 7.0).reshape(2, 3) / 4

# (id, the join written with numpy, the shapes of its variables): run on arrays and on variables.
JOINS = [
    ("concatenate", lambda a, b: np.concatenate([a, b]), [(2, 3), (1, 3)]),
    ("concatenate-axis1", lambda a, b: np.concatenate((a, b), axis=1), [(2, 3), (2, 1)]),
    ("concatenate-neg-axis", lambda a, b: np.concatenate([a, b, a], axis=-1), [(2, 2, 3), (2, 2, 1)]),
    ("concatenate-none", lambda a, b: np.concatenate([a, b], axis=None), [(2, 3), (4,)]),
    ("concatenate-array", lambda a, b: np.concatenate([C23, a, np.ones((1, 3)), b]), [(2, 3), (1, 3)]),
    ("concatenate-one", lambda a: np.concatenate([a]), [(2, 3)]),
    ("concatenate-rows", lambda a: np.concatenate(a), [(2, 3)]),
    ("concatenate-empty-part", lambda a, b: np.concatenate([a, b[:0], b]), [(2,), (3,)]),
    ("concatenate-of-slices", lambda a: np.concatenate([a[:, 2:], a[:, :2]], axis=1), [(2, 3)]),
    ("stack", lambda a, b: np.stack([a, b]), [(2, 3), (2, 3)]),
    ("stack-axis-last", lambda a, b: np.stack((a, b, a), axis=-1), [(2, 3), (2, 3)]),
    ("stack-axis1", lambda a, b: np.stack([a, C23, b], axis=1), [(2, 3), (2, 3)]),
    ("stack-scalars", lambda a: np.stack([a[0], 2.0, a[1]]), [(2,)]),
    ("hstack-vectors", lambda a, b: np.hstack([a, b]), [(2,), (3,)]),
    ("hstack-matrices", lambda a, b: np.hstack([a, b, np.ones((2, 1))]), [(2, 3), (2, 2)]),
    ("hstack-scalars", lambda a: np.hstack([a[0], 1.5, a[1]]), [(2,)]),
    ("vstack-vectors", lambda a, b: np.vstack([a, b]), [(3,), (3,)]),
    ("vstack-matrix-vector", lambda a, b: np.vstack([a, b]), [(2, 3), (3,)]),
    ("column_stack", lambda a, b: np.column_stack([a, b]), [(3,), (3, 2)]),
    ("dstack", lambda a, b: np.dstack([a, b]), [(2, 3), (2, 3)]),
    ("dstack-vectors", lambda a, b: np.dstack([a, b]), [(3,), (3,)]),
    *([("concat", lambda a, b: np.concat([a, b], axis=1), [(2, 3), (2, 2)])] if hasattr(np, "concat") else []),
]


@pytest.mark.parametrize(("fn", "shapes"), [j[1:] for j in JOINS], ids=[j[0] for j in JOINS])
def test_joining_gives_numpys_value_and_derivative(fn, shapes):
    arrays = [_value(s, seed=k) for k, s in enumerate(shapes)]
    variables = [ed.var(name, s) for name, s in zip("ab", shapes, strict=False)]
    e = fn(*variables)
    assert isinstance(e, ed.Expr)
    bindings = {v.name: a for v, a in zip(variables, arrays, strict=True)}
    want = fn(*arrays)
    assert e.shape == want.shape
    np.testing.assert_array_equal(ed.evaluate(e, bindings), want)
    check_jacobian(e, tuple(variables), bindings)


def test_the_jacobian_of_a_concatenation_is_its_placement():
    """d concat(a, b)/da is the identity on a's rows and zero on b's."""
    a, b = ed.var("a", (2, 3)), ed.var("b", (1, 3))
    e = np.concatenate([a, b])
    want = np.zeros((3, 3, 2, 3))
    want[:2] = np.eye(6).reshape(2, 3, 2, 3)
    for mode in ("forward", "reverse"):
        got = ed.evaluate(ed.jacobian(e, a, mode), {"a": np.ones((2, 3)), "b": np.ones((1, 3))})
        np.testing.assert_array_equal(got, want)


def test_a_model_written_with_slices_and_concatenate():
    """Parameters split by slicing, a feature map [h, h²] joined with np.concatenate, a squared loss."""
    rng = np.random.default_rng(3)
    X, t = rng.normal(size=(4, 3)), rng.normal(size=4)

    def loss(w):
        W1, v, bias = w[:6].reshape(3, 2), w[6:10], w[-1]
        h = np.tanh(X @ W1)
        features = np.concatenate([h, h ** 2], axis=1)
        r = features @ v + bias - t
        return np.mean(r ** 2) + 0.01 * np.sum(w[::-2] ** 2)

    w, wv = ed.var("w", (11,)), rng.normal(size=11) * 0.5
    f = loss(w)
    np.testing.assert_allclose(ed.evaluate(f, {"w": wv}), loss(wv), rtol=1e-12)
    np.testing.assert_allclose(ed.evaluate(ed.grad(f, w), {"w": wv}), finite_difference_jacobian(f, w, {"w": wv}),
                               rtol=1e-6, atol=1e-8)
    check_jacobian(f, w, {"w": wv}, order=2)  # the Hessian, both modes, against differences of the gradient
    value, gradient = ed.compile([f, ed.grad(f, w)])({"w": wv})
    np.testing.assert_allclose(value, loss(wv), rtol=1e-12)
    np.testing.assert_allclose(gradient, ed.evaluate(ed.grad(f, w), {"w": wv}), rtol=1e-10, atol=1e-14)


# (shape, the indexing, the error, what the message must say)
REFUSED_KEYS = [
    ((3,), lambda x: x[3], ed.ShapeError, r"^x\[3\]: index 3 is out of range for axis 0 of size 3 .*-3 \.\. 2"),
    ((3, 4), lambda x: x[0, -5], ed.ShapeError, r"^x\[0, -5\]: index -5 is out of range for axis 1 of size 4"),
    ((0,), lambda x: x[0], ed.ShapeError, r"axis 0 of size 0 .*the axis is empty"),
    ((3, 4), lambda x: x[0, 0, 0], ed.ShapeError, r"^x\[0, 0, 0\]: 3 indexed axes but the expression has 2"),
    ((3, 4), lambda x: x[MASK34, 0], ed.ShapeError, r"3 indexed axes but the expression has 2"),
    ((3, 4), lambda x: x[..., 0, ...], ed.OperandError, r"^x\[\.\.\., 0, \.\.\.\]: an index holds at most one \.\.\."),
    ((3,), lambda x: x[1.5], ed.OperandError, r"^x\[1\.5\]: the index at position 0 is 1\.5 of dtype float64.*int\("),
    ((3, 4), lambda x: x[0, np.array([1.0])], ed.OperandError, r"position 1 is \[1\.\] of dtype float64"),
    ((3,), lambda x: x[np.array([[0, 1]])], ed.OperandError, r"integer array at position 0 has shape \(1, 2\); .*ravel"),
    ((3, 4), lambda x: x[[0, 1], [1, 2]], ed.OperandError, r"^x\[\[0, 1\], \[1, 2\]\]: 2 array indices \(at positions 0, 1\)"),
    ((3, 4), lambda x: x[MASK3, [1, 2]], ed.OperandError, r"2 array indices"),
    ((3,), lambda x: x[[0, 5]], ed.ShapeError, r"^x\[\[0, 5\]\]: the integer array at position 0 holds 5, out of range for axis 0 of size 3"),
    ((3, 4), lambda x: x[:, [-5]], ed.ShapeError, r"holds -5, out of range for axis 1 of size 4"),
    ((3, 4), lambda x: x[MASK3[:2]], ed.ShapeError, r"the mask at position 0 has shape \(2,\) but it covers axes 0 to 0 of shape \(3,\)"),
    ((3,), lambda x: x[x > 0], ed.OperandError, r"^x\[.*\]: the index at position 0 is an einsdiff expression; .*np\.where"),
    ((3,), lambda x: x[True], ed.OperandError, r"^x\[True\]: the index at position 0 is the bool True"),
    ((3,), lambda x: x[np.True_], ed.OperandError, r"is the bool (np\.)?True"),
    ((3,), lambda x: x[::0], ed.ShapeError, r"^x\[::0\]: slice ::0 at position 0 has step 0"),
    ((3,), lambda x: x[1.0:2], ed.OperandError, r"^x\[1\.0:2\]: slice 1\.0:2 at position 0 has the bound 1\.0"),
    ((3,), lambda x: x["a"], ed.OperandError, r"position 0 is 'a' of dtype <U1"),
    ((3,), lambda x: (2 * x)[4], ed.ShapeError, r"^x\[4\]: index 4"),  # an unnamed expression is called x
]


@pytest.mark.parametrize(("shape", "call", "error", "message"), REFUSED_KEYS,
                         ids=[f"refuse-{k}" for k in range(len(REFUSED_KEYS))])
def test_an_index_einsdiff_cannot_take_is_refused_naming_it(shape, call, error, message):
    x = ed.var("x", shape)
    with pytest.raises(error, match=message):
        call(x)


def test_item_assignment_is_refused_with_what_to_write_instead():
    x = ed.var("x", (3,))
    with pytest.raises(ed.OperandError, match=r"immutable.*np\.where.*np\.concatenate"):
        x[0] = 1.0


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda x, y: np.concatenate([x, y]), ed.ShapeError,
         r"^np\.concatenate: part 1 has shape \(2, 3\) but part 0 has shape \(3, 4\); .*except along axis 0"),
        (lambda x, y: np.concatenate([x, x, y], axis=1), ed.ShapeError, r"part 2 has shape \(2, 3\)"),
        (lambda x, y: np.concatenate([x, y], axis=2), ed.ShapeError, r"^np\.concatenate: axis 2 is out of range"),
        (lambda x, y: np.concatenate([x[0, 0], 1.0]), ed.ShapeError, r"^np\.concatenate: part 0 is a scalar.*np\.stack"),
        (lambda x, y: np.concatenate([x, "a"]), ed.OperandError, r"^np\.concatenate's part 1 is a str"),
        (lambda x, y: np.stack([x, x, y]), ed.ShapeError, r"^np\.stack: part 2 has shape \(2, 3\) but part 0 has shape \(3, 4\)"),
        (lambda x, y: np.stack([x, x], axis=3), ed.ShapeError, r"^np\.stack: axis 3 is out of range for a result of 3 axes"),
        (lambda x, y: np.hstack([x, y]), ed.ShapeError, r"^np\.hstack: part 1 has shape"),
        (lambda x, y: np.vstack([x, y]), ed.ShapeError, r"^np\.vstack: part 1 has shape \(2, 3\)"),
        (lambda x, y: np.column_stack([x[0], y]), ed.ShapeError, r"^np\.column_stack: part 1 has shape \(2, 3\)"),
        (lambda x, y: concatenate([]), ed.ShapeError, r"needs at least one array"),
    ],
)
def test_a_join_whose_parts_do_not_fit_is_refused_naming_the_part(call, error, message):
    x, y = ed.var("x", (3, 4)), ed.var("y", (2, 3))
    with pytest.raises(error, match=message):
        call(x, y)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda x: np.concatenate([x, x], out=np.zeros(6)), "out"),
        (lambda x: np.concatenate([x, x], dtype=np.float32), "dtype"),
        (lambda x: np.concatenate([x, x], casting="unsafe"), "casting"),
        (lambda x: np.stack([x, x], out=np.zeros((2, 3))), "out"),
        (lambda x: np.hstack([x, x], dtype=np.float32), "dtype"),
        (lambda x: np.vstack([x, x], casting="no"), "casting"),
    ],
)
def test_a_join_option_einsdiff_does_not_take_is_refused_by_name(call, argument):
    with pytest.raises(ed.OptionError, match=rf"^np\.\w+: einsdiff does not take {argument}="):
        call(ed.var("x", (3,)))


def test_join_options_at_values_that_change_nothing_are_accepted():
    x = ed.var("x", (3,))
    assert np.concatenate([x, x], dtype=np.float64, casting="same_kind") == np.concatenate([x, x])
    assert np.stack([x, x], out=None) == np.stack([x, x])


def test_numpy_asking_for_an_array_value_points_to_np_stack():
    x = ed.var("x", (3,))
    with pytest.raises(ed.OperandError, match=r"evaluate it first.*np\.stack\(\[x, y\]\)"):
        np.array([x, x])
