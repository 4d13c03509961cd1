"""The expression nodes as a user meets them in the REPL."""

import numpy as np

import einsdiff as ed


def test_repr_shows_the_formula_and_shape():
    A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    J = ed.jacobian(ed.tanh(A @ x), A)
    assert repr(J) == "<f[i,j,k] = δ[i,j] (1 - square(tanh(A[i,l] x[l]))) x[k]; j:2  shape (2, 2, 3)>"
    assert repr(ed.grad(x @ x, x)) == "<f[i] = 2 x[i]  shape (3,)>"
    assert repr(x) == "var('x', (3,))"
    assert repr([x @ x]) == "[<f = x[i] x[i]  shape ()>]"


def test_repr_of_a_deep_derivative_is_short_and_fast_to_make():
    x = ed.var("x", (3,))
    e = x
    for _ in range(12):
        e = ed.tanh(ed.einsum("ij,j->i", np.ones((3, 3)), e))
    text = repr(ed.hessian(e.sum(), x))
    assert len(text) < 450 and "characters; print() shows all)" in text and text.endswith("shape (3, 3)>")
    assert text.startswith("<t1[i] = tanh(")  # repeated subexpressions named, as share=True prints


def test_version():
    assert isinstance(ed.__version__, str) and ed.__version__.count(".") == 2
    assert "__version__" in ed.__all__


def test_equal_graphs_built_apart_compare_each_pair_of_nodes_once(monkeypatch):
    """Two equal graphs that share subexpressions compare in time linear in their nodes, not
    in the size of the trees they unfold to (2**40 here)."""
    from einsdiff.ir import expr as nodes

    def doubling(depth):  # each level reads the one below twice
        e = ed.var("x", (3,))
        for _ in range(depth):
            e = ed.tanh(e) * e
        return e

    a, b = doubling(40), doubling(40)
    assert a is not b
    calls = []
    real = nodes.Expr._key
    monkeypatch.setattr(nodes.Expr, "_key", lambda self: calls.append(1) or real(self))
    assert a == b
    assert len(calls) <= 2 * 2 * 41, len(calls)  # a Map and a Contract per level, once per side
    assert a != doubling(39) and doubling(3) != ed.tanh(doubling(2)) * doubling(2) * 2


def test_a_layout_is_cached_by_its_indices_not_by_its_node():
    from einsdiff.ir.expr import Contract, Var
    from einsdiff.ir.layout import layout

    x, y = Var("x", (3,)), Var("y", (3,))
    assert layout(Contract((x,), ((0,),), (0,), (3,))) is layout(Contract((y,), ((0,),), (0,), (3,)))
