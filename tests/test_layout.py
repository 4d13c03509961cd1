"""A contraction's layout, computed once: what is summed, placed on a diagonal, broadcast,
and in which order the operands read; numpy views, backend einsums, sparse grids and
generated code all place a core the way it says."""

import numpy as np
import pytest

import einsdiff as ed
from einsdiff.engine.backends import get_backend, placement
from einsdiff.engine.sparse import Grid
from einsdiff.ir.expr import Contract, Var
from einsdiff.ir.layout import layout

A, x, y = Var("A", (2, 3)), Var("x", (3,)), Var("y", (2,))

# (node, distinct, core, absent, summed, factor, order, diagonal)
TABLE = [
    (Contract((A, x), ((0, 1), (1,)), (0,), (2, 3)), (0,), (0,), (), (1,), 1, (0, 1), None),  # A x
    (Contract((x, A), ((1,), (0, 1)), (0,), (2, 3)), (0,), (0,), (), (1,), 1, (1, 0), None),  # read as A[i,j] x[j]
    (Contract((x,), ((0,),), (0, 0), (3,)), (0,), (0,), (), (), 1, (0,), (0, 0)),  # diag(x)
    (Contract((y,), ((0,),), (0, 1), (2, 4)), (0, 1), (0,), (1,), (), 1, (0,), None),  # y broadcast over j
    (Contract((x,), ((0,),), (), (3, 5)), (), (), (), (0,), 5, (0,), None),  # Σ_i Σ_k x[i]: 5 Σ x
    (Contract((), (), (0, 1, 0, 1), (2, 3)), (0, 1), (), (0, 1), (), 1, (), (0, 1, 0, 1)),  # the identity of A
    (Contract((y, x), ((0,), (1,)), (1, 0, 2, 0), (2, 3, 4)), (1, 0, 2), (1, 0), (2,), (), 1, (1, 0), (0, 1, 2, 1)),
]


@pytest.mark.parametrize("row", TABLE, ids=lambda row: str(row[0].output))
def test_layout_fields(row):
    node, distinct, core, absent, summed, factor, order, diagonal = row
    lay = layout(node)
    assert (lay.distinct, lay.core, lay.absent, lay.summed, lay.factor, lay.order, lay.diagonal) == (
        distinct, core, absent, summed, factor, order, diagonal)
    assert lay.shape == node.shape and layout(node) is lay  # computed once per node


def _dense(node: Contract, core: np.ndarray) -> np.ndarray:
    """The placed result the slow way: the core times a dense delta or ones per extra output index."""
    lay = layout(node)
    out = np.zeros(node.shape)
    for position in np.ndindex(*node.shape):
        at = dict.fromkeys(lay.distinct)
        ok = True
        for i, k in zip(node.output, position, strict=True):
            ok &= at[i] is None or at[i] == k
            at[i] = k if at[i] is None else at[i]
        if ok:
            out[position] = core[tuple(at[i] for i in lay.core)]
    return out


@pytest.mark.parametrize("row", TABLE, ids=lambda row: str(row[0].output))
def test_numpy_backends_and_sparse_grids_place_alike(row):
    node = row[0]
    lay = layout(node)
    core = np.arange(1.0, 1 + np.prod([node.sizes[i] for i in lay.core], dtype=int)).reshape(
        [node.sizes[i] for i in lay.core])
    want = _dense(node, core)
    np.testing.assert_array_equal(lay.place(core), want)
    where = placement(lay)  # as jax, torch and dask place it: one einsum with identities and ones
    np.testing.assert_array_equal(get_backend("numpy").place(core, where), want)
    grid = Grid.of(lay)  # as the sparse evaluator stores it: the distinct grid's coordinates
    stored = np.zeros(node.shape)
    stored[tuple(grid.coords(np.intp))] = np.ravel(lay.broadcast(core)) if node.ndim else lay.broadcast(core)
    np.testing.assert_array_equal(stored, want)


@pytest.mark.parametrize("row", TABLE, ids=lambda row: str(row[0].output))
def test_generated_code_places_alike(row):
    node = row[0]
    values = {"A": np.arange(6.0).reshape(2, 3), "x": np.arange(1.0, 4.0), "y": np.array([2.0, -1.0])}
    got = {}
    exec(ed.to_einsum(node), {**values}, got)
    np.testing.assert_array_equal(got["f"], ed.evaluate(node, values))
