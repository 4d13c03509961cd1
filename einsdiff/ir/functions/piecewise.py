"""Piecewise functions: where (a node of its own), maximum and minimum built on it."""

from __future__ import annotations

import numpy as np

from .. import build
from ..expr import Call, Expr, is_zero, zero
from ..registry import Function, Notation, Syntax
from .base import contract, labels, sizes_of


def where_node(mask: Expr, a: Expr, b: Expr) -> Expr:
    if is_zero(a) and is_zero(b):
        return a
    return Call("where", (mask, a, b), (), a.shape)


def where(condition, a, b) -> Expr:
    """``a`` where ``condition`` is nonzero (true), else ``b``, broadcast like numpy. The
    derivative is taken branch by branch, so a branch that is inf or nan where it is not
    chosen (log x for x <= 0) leaves the derivative exactly 0 there, in both modes.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.where(x > 0, x, 0.1 * x))
    f[i] = where(step(x[i]), x[i], 0.1 x[i])
    """
    cond = build.as_expr(condition, "where's condition")
    a, b = build.as_expr(a, "where's a"), build.as_expr(b, "where's b")
    shape = build.broadcast_shape(cond.shape, a.shape, b.shape)
    return where_node(*(build.broadcast_to(v, shape) for v in (cond, a, b)))


def maximum(a, b) -> Expr:
    """Elementwise max; at a tie the value is shared and the derivative follows ``b``
    (so maximum(x, 0) has relu's derivative 0 at 0).

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.grad(ed.maximum(x, 0).sum(), x))
    f[i] = where(step(x[i]), 1, 0)
    """
    return where(build.greater(a, b), a, b)


def minimum(a, b) -> Expr:
    """Elementwise min; at a tie the derivative follows ``b``.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.minimum(x, y))
    f[i] = minimum(x[i], y[i])
    """
    return where(build.less(a, b), a, b)


def _spread_mask(mask: Expr, front: tuple[int, ...], back: tuple[int, ...]) -> Expr:
    """The mask broadcast over extra axes in front (an adjoint's) or behind (a Jacobian's)."""
    own, f, k = labels("x", mask.ndim), labels("t", len(front)), labels("d", len(back))
    return contract([mask], [own], f + own + k, sizes_of(own + f + k, mask.shape + tuple(front) + tuple(back)))


def _where_jvp(node, tangents, extra):
    """d where(m, a, b) = where(m, da, db)."""
    _, da, db = tangents
    if da is None and db is None:
        return None
    shape = node.shape + tuple(extra)
    return where_node(_spread_mask(node.args[0], (), extra), zero(shape) if da is None else da, zero(shape) if db is None else db)


def _where_vjp(node, adj, lead):
    """df/da = where(m, adj, 0), df/db = where(m, 0, adj).

    Written by hand: where is linear in its branches and its own transpose, so transposing
    its forward rule would ask for this rule."""
    mask = _spread_mask(node.args[0], lead, ())
    nothing = zero(adj.shape)
    return None, where_node(mask, adj, nothing), where_node(mask, nothing, adj)


_PAIR = "a and b"

ENTRIES = (
    Function(
        "where", "call",
        Notation("where", text="where({0}, {1}, {2})", latex=r"\operatorname{{where}}\left({0}, {1}, {2}\right)",
                 mathml="<mi>where</mi><mo>&#x2061;</mo><mrow><mo>(</mo>{0}<mo>,</mo>{1}<mo>,</mo>{2}<mo>)</mo></mrow>", matrix="where({0}, {1}, {2})",
                 rule="where rule",
                 rule_text="branch by branch, d where(m, a, b) = where(m, da, db); the mask is not differentiated",
                 rule_latex=r"d \operatorname{where}(m, a, b) = \operatorname{where}(m, da, db)"),
        Syntax(("where",), "piecewise", 3, where, operands="a mask, then a and b"),
        builder=where, numpy=lambda node, a: np.where(a[0] != 0, a[1], a[2]),
        array=lambda xp, node, a: xp.where(a[0] != 0, a[1], a[2]), jvp=_where_jvp, vjp=_where_vjp,
        source="np.where({0} != 0, {1}, {2})", constant_in=(0,), node=where_node,
    ),
    Function("maximum", "composite",
             Notation("maximum", text="maximum({0}, {1})", latex=r"\max\left({0}, {1}\right)",
                      mathml="<mi>max</mi><mo>&#x2061;</mo><mrow><mo>(</mo>{0}<mo>,</mo>{1}<mo>)</mo></mrow>"),
             Syntax(("maximum",), "piecewise", 2, maximum, operands=_PAIR, spellings=(("max", "maximum"),)),
             builder=maximum),
    Function("minimum", "composite",
             Notation("minimum", text="minimum({0}, {1})", latex=r"\min\left({0}, {1}\right)",
                      mathml="<mi>min</mi><mo>&#x2061;</mo><mrow><mo>(</mo>{0}<mo>,</mo>{1}<mo>)</mo></mrow>"),
             Syntax(("minimum",), "piecewise", 2, minimum, operands=_PAIR, spellings=(("min", "minimum"),)),
             builder=minimum),
)
