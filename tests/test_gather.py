"""take and put (einsdiff.ir.functions.gather): values against numpy and brute-force loops,
derivatives against finite differences, the rewrites of their constructors, the backend path."""

import numpy as np
import pytest

import einsdiff as ed
from einsdiff.ir.expr import Call
from einsdiff.ir.functions.gather import _put_array, _take_array, positions, put, take
from einsdiff.testing.oracles import brute_force_jacobian, brute_force_value, check_jacobian

AT = [range(1, 5), range(4, -1, -2), (3, 0, 0, 2), (1, 1, 1), range(0), (4,)]


def _value(shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 1.5, size=shape)


@pytest.mark.parametrize("at", AT, ids=str)
@pytest.mark.parametrize("axis", [0, 1])
def test_values_are_numpys_and_the_loops(at, axis):
    x, v = ed.var("x", (5, 5)), _value((5, 5))
    want = np.take(v, list(at), axis=axis)
    np.testing.assert_array_equal(ed.evaluate(take(x, axis, at), x=v), want)
    np.testing.assert_array_equal(brute_force_value(take(x, axis, at), {"x": v}), want)
    y = ed.var("y", want.shape)
    placed = np.zeros((5, 5))
    np.add.at(placed, (slice(None),) * axis + (list(at),), want)
    np.testing.assert_allclose(ed.evaluate(put(y, axis, 5, at), y=want), placed, rtol=1e-15)
    np.testing.assert_allclose(brute_force_value(put(y, axis, 5, at), {"y": want}), placed, rtol=1e-15)


@pytest.mark.parametrize("at", AT, ids=str)
def test_the_array_namespace_path_computes_what_numpy_does(at):
    v, w = _value((3, 5)), _value((3, len(at)), 1)
    node = Call("take", (ed.var("x", (3, 5)),), (1, at), (3, len(at)))
    np.testing.assert_array_equal(_take_array(np, node, [v]), ed.evaluate(node, x=v))
    node = Call("put", (ed.var("y", (3, len(at))),), (1, 5, at), (3, 5))
    np.testing.assert_allclose(_put_array(np, node, [w]), ed.evaluate(node, y=w), rtol=1e-15)


@pytest.mark.parametrize("at", [range(1, 5), (3, 0, 0, 2)], ids=str)
def test_derivatives_of_every_order_in_both_modes_match_differences_and_loops(at):
    x, v = ed.var("x", (5, 2)), _value((5, 2))
    f = np.sum(ed.sin(take(x, 0, at)) * put(take(x, 0, at) ** 2, 0, 5, at)[::-1][: len(at)])
    check_jacobian(f, x, {"x": v}, order=2)
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(ed.evaluate(ed.jacobian(put(take(x, 0, at) ** 2, 0, 6, at), x, mode=mode), x=v),
                                   brute_force_jacobian(put(take(x, 0, at) ** 2, 0, 6, at), x, {"x": v}), rtol=1e-12)


def test_positions_are_stored_in_one_normal_form():
    assert positions([1, 2, 3]) == range(1, 4) and positions([4, 2, 0]) == range(4, -2, -2)
    assert positions([0, 2, 2]) == (0, 2, 2) and positions([3]) == range(3, 4) and positions([]) == range(0)
    assert all(type(p) is int for p in positions(np.array([0, 2, 2])))


def test_constructors_compose_takes_and_cancel_a_put():
    x, y = ed.var("x", (6,)), ed.var("y", (3,))
    assert x[1:][::2] == take(x, 0, range(1, 6, 2))
    assert x[::-1][::-1] is x and take(x, 0, range(6)) is x and put(y, 0, 3, range(3)) is y
    assert take(put(y, 0, 6, (5, 0, 2)), 0, (5, 0, 2)) is y
    repeated = take(put(y, 0, 6, (0, 2, 2)), 0, (0, 2, 2))  # the repeated entries add: not y
    assert isinstance(repeated, Call)
    np.testing.assert_array_equal(ed.evaluate(repeated, y=np.array([1.0, 2.0, 3.0])), [1.0, 5.0, 5.0])


def test_generated_code_runs_take_and_put():
    x, v = ed.var("x", (5,)), _value((5,))
    g = ed.grad(np.sum(x[[0, 3, 3]] ** 3) + np.sum((x[1:] - x[:-1]) ** 2) + np.sum(x[::-2]), x)
    namespace = {"np": np}
    exec(ed.to_numpy_code(g), namespace)
    np.testing.assert_allclose(namespace["f"](v), ed.evaluate(g, x=v), rtol=1e-14)
