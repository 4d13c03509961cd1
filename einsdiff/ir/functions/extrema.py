"""Reductions by max, min and product: each a node of its own, over named axes.

max and min are piecewise linear: their derivative is a constant weight on the entries that
attain the extremum, split evenly among ties, so second derivatives are exactly 0. The
product's derivative is the cofactor Π_{j≠k} x_j, itself a product (of x with its k-th factor
replaced by 1), never a quotient: exact where a factor is 0, to every order.

>>> import numpy as np, einsdiff as ed
>>> x = ed.var("x", (3,))
>>> print(ed.max(x))
f = max(x)
>>> ed.evaluate(ed.grad(ed.max(x), x), x=np.array([2.0, 5.0, 5.0]))
array([0. , 0.5, 0.5])
>>> ed.evaluate(ed.grad(ed.prod(x), x), x=np.array([2.0, 0.0, 3.0]))
array([0., 6., 0.])
"""

from __future__ import annotations

import numpy as np

from .. import build
from ...errors import ShapeError
from ..expr import Call, Expr, Materialize
from ..registry import Function, Notation, Syntax
from .base import axes_of, contract, labels, name_of, sizes_of
from .piecewise import where


def _reduction(fn: str, x, axis) -> Expr:
    """The Call node ``fn`` of ``x`` over ``axis`` (all axes when None)."""
    x = build.as_expr(x, f"{fn}'s argument")
    axes = axes_of(x, axis, fn)
    if fn != "prod" and any(x.shape[p] == 0 for p in axes):
        raise ShapeError(f"{fn}: {name_of(x)} has shape {x.shape}, and an empty axis has no {fn}imum; "
                         f"reduce over axes of size 1 or more")
    if all(x.shape[p] == 1 for p in axes):  # one entry per slice (or no axes): the reduction is x itself
        return build.reduce_sum(x, axes)
    return Call(fn, (x,), tuple(sorted(axes)), tuple(n for p, n in enumerate(x.shape) if p not in axes))


def amax(x, axis=None) -> Expr:
    """The largest entry over ``axis`` (all axes by default), as ``np.max``. Its derivative
    is 1/m at each of the m entries that attain the maximum (ties split evenly), 0 elsewhere.

    >>> import einsdiff as ed
    >>> print(ed.max(ed.var("X", (2, 3)), axis=1))
    f[i] = max[j](X[i,j])
    """
    return _reduction("max", x, axis)


def amin(x, axis=None) -> Expr:
    """The smallest entry over ``axis`` (all axes by default), as ``np.min``; ties split the
    derivative evenly, as :func:`amax`'s.

    >>> import einsdiff as ed
    >>> print(ed.min(ed.var("x", (3,))))
    f = min(x)
    """
    return _reduction("min", x, axis)


def prod(x, axis=None) -> Expr:
    """The product of the entries over ``axis`` (all axes by default), as ``np.prod``; its
    derivatives of every order are exact where a factor is 0 (no division by x). Each order
    multiplies the cost by the number n of factors: the gradient takes n products of n.

    >>> import einsdiff as ed
    >>> print(ed.prod(ed.var("X", (2, 3)), axis=0))
    f[i] = prod[j](X[j,i])
    """
    return _reduction("prod", x, axis)


def _spread(reduced: Expr, x: Expr, axes: tuple[int, ...]) -> Expr:
    """``reduced`` (x with ``axes`` reduced away) broadcast back to x's shape."""
    every = labels("x", x.ndim)
    kept = tuple(lab for p, lab in enumerate(every) if p not in axes)
    return contract([reduced], [kept], every, sizes_of(every, x.shape))


def tie_weights(node: Call) -> Expr:
    """1/m at each of the m entries of a reduced slice equal to its max (min), 0 elsewhere: a
    function of comparison masks, which are not differentiated."""
    (x,) = node.args
    # x itself, not a sum flattened into the comparison: max(x) - x is then exactly 0 at the max.
    hit = (build.greater_equal if node.fn == "max" else build.less_equal)(Materialize(x), _spread(node, x, node.param))
    return build.divide(hit, _spread(build.reduce_sum(hit, node.param), x, node.param))


def _weighted(node: Call, weights: Expr, dx: Expr, extra) -> Expr:
    """Σ weights ⊙ dx over the reduced axes, the derivative axes ``extra`` carried along."""
    x = node.args[0]
    every, d = labels("x", x.ndim), labels("d", len(extra))
    kept = tuple(lab for p, lab in enumerate(every) if p not in node.param)
    return contract([weights, dx], [every, every + d], kept + d, sizes_of(every + d, x.shape + tuple(extra)))


def _extremum_jvp(node, tangents, extra):
    """d max(x) = Σ w ⊙ dx, w = [x = max x] / #ties over the reduced axes (min alike)."""
    (dx,) = tangents
    return _weighted(node, tie_weights(node), dx, extra)


def cofactors(node: Call) -> Expr:
    """C[k] = Π_{j≠k} x[j] over the reduced (multi-)index, the other axes kept, laid out as x:
    the product over j of y[k, j] = where(δ[k,j], 1, x[j]), so its own derivative is again a
    product and every order stays exact where a factor is 0."""
    (x,) = node.args
    reduced = node.param
    every, j = labels("x", x.ndim), labels("j", len(reduced))
    inner = tuple(j[reduced.index(p)] if p in reduced else every[p] for p in range(x.ndim))
    sizes = sizes_of(every, x.shape) | sizes_of(j, tuple(x.shape[p] for p in reduced))
    spread = contract([x], [inner], every + j, sizes)  # y's layout: x's axes (k on the reduced ones), then j
    delta = contract([], [], every + tuple(every[p] for p in reduced), sizes)  # δ[k,j] per reduced axis
    return prod(where(delta, 1.0, spread), tuple(range(x.ndim, x.ndim + len(reduced))))


def _prod_jvp(node, tangents, extra):
    """d Π_k x_k = Σ_k (Π_{j≠k} x_j) dx_k over the reduced axes."""
    (dx,) = tangents
    return _weighted(node, cofactors(node), dx, extra)


def _numpy(fn):
    return lambda node, a: fn(a[0], axis=node.param)


# Other backends, through the names every array namespace shares: max over a tuple of axes (torch's
# adapter maps it to amax), min as -max(-x) (exact), prod one axis at a time (torch's takes one).
def _max_array(xp, node, a):
    return xp.max(a[0], axis=node.param)


def _min_array(xp, node, a):
    return -xp.max(-a[0], axis=node.param)


def _prod_array(xp, node, a):
    out = a[0]
    for p in reversed(node.param):
        out = xp.prod(out, p)
    return out


def _extremum_entry(fn: str, builder, word: str, array) -> Function:
    mathml = (f'<munder><mi>{fn}</mi>{{r}}</munder><mo>&#x2061;</mo><mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>')
    return Function(
        fn, "call",
        Notation(fn, text=f"{fn}[{{r}}]({{0}})", latex=rf"\{fn}_{{{{{{r}}}}}}\left({{0}}\right)", mathml=mathml,
                 matrix=f"{fn}({{0}})", rule=f"{fn} rule",
                 rule_text=f"d {fn}(x) = Σ w dx, w = 1/m at each of the m entries equal to the {word}, 0 elsewhere "
                           f"(ties split evenly; the comparison is not differentiated)",
                 rule_latex=rf"d \{fn}_{{j}} x_{{j}} = \sum_{{j}} \frac{{[x_{{j}} = \{fn} x]}}"
                            rf"{{\#\{{k : x_{{k}} = \{fn} x\}}}}\, dx_{{j}}"),
        Syntax((fn,), "along", along=builder, reduces=True, example=f"{fn}(x) or {fn}[j](X[i,j])"),
        builder=builder, numpy=_numpy(getattr(np, fn)), array=array, jvp=_extremum_jvp,
        source=f"np.{fn}({{0}}, axis={{p}})",
    )


ENTRIES = (
    _extremum_entry("max", amax, "maximum", _max_array),
    _extremum_entry("min", amin, "minimum", _min_array),
    Function(
        "prod", "call",
        Notation("prod", text="prod[{r}]({0})", latex=r"\prod_{{{r}}}\left({0}\right)",
                 mathml=('<munder><mo movablelimits="false">∏</mo>{r}</munder>'
                         "<mrow><mo>(</mo>{0}<mo>)</mo></mrow>"),
                 matrix="prod({0})", rule="product rule of prod",
                 rule_text="d Π_k x_k = Σ_k (Π_{j≠k} x_j) dx_k, each cofactor a product with x_k replaced by 1",
                 rule_latex=r"d \prod_{k} x_{k} = \sum_{k} \Big(\prod_{j \neq k} x_{j}\Big) dx_{k}"),
        Syntax(("prod",), "along", along=prod, reduces=True, example="prod(x) or prod[j](X[i,j])"),
        builder=prod, numpy=_numpy(np.prod), array=_prod_array, jvp=_prod_jvp,
        source="np.prod({0}, axis={p})",
    ),
)
