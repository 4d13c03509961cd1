"""Functions that rearrange: transpose, dot, outer (contractions) and reshape (a node of its own type)."""

from __future__ import annotations

import numbers

import numpy as np

from .. import build
from ...errors import ShapeError
from ..expr import Expr, Reshape
from ..registry import Function, Notation, Syntax
from ..simplify import contract
from ..subscripts import einsum
from .base import name_of


def dot(a, b) -> Expr:
    """numpy.dot: a sum over the last axis of ``a`` and the second-to-last of ``b`` (the last, for a vector).

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.dot(A, x))
    f[i] = A[i,j] x[j]
    """
    a, b = build.as_expr(a, "dot's a"), build.as_expr(b, "dot's b")
    if a.ndim == 0 or b.ndim == 0:
        return build.multiply(a, b)
    k = b.ndim - 2 if b.ndim >= 2 else 0
    if a.shape[-1] != b.shape[k]:
        raise ShapeError(f"dot: a has shape {a.shape} and b has shape {b.shape}; a's last axis and b's axis {k} differ")
    la = tuple(range(a.ndim - 1)) + ("s",)
    lb_rest = tuple(("b", p) for p in range(b.ndim) if p != k)
    lb = lb_rest[:k] + ("s",) + lb_rest[k:]
    sizes = dict(zip(la, a.shape, strict=True)) | dict(zip(lb, b.shape, strict=True))
    return contract([a, b], [la, lb], la[:-1] + lb_rest, sizes)


def outer(a, b) -> Expr:
    """numpy.outer: the inputs flattened, then out[i,j] = a[i] b[j].

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.outer(x, y))
    f[i,j] = x[i] y[j]
    """
    a, b = (flatten(build.as_expr(v, f"outer's {w}")) for v, w in ((a, "a"), (b, "b")))
    return einsum("i,j->ij", a, b)


def flatten(x: Expr) -> Expr:
    return x if x.ndim == 1 else reshape(x, (x.size,))


def reshape(x, shape) -> Expr:
    """Row-major reshape (as numpy, one axis may be -1); each element keeps its value, so
    index meaning follows numpy's C order.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.reshape(A, (6,)))
    f[i] = reshape[j,k -> (6,)](A[j,k])[i]
    """
    x = build.as_expr(x, "reshape's argument")
    dims = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not all(isinstance(n, numbers.Integral) for n in dims) or sum(n == -1 for n in dims) > 1 or any(n < -1 for n in dims):
        raise ShapeError(f"reshape: shape must be ints, at most one of them -1, got {shape!r}")
    known = int(np.prod([n for n in dims if n != -1], dtype=np.int64))
    if -1 in dims:
        if known == 0 or x.size % known:
            raise ShapeError(f"reshape: cannot reshape {name_of(x)} of shape {x.shape} (size {x.size}) to {shape}")
        dims = tuple(x.size // known if n == -1 else n for n in dims)
    dims = tuple(int(n) for n in dims)
    if int(np.prod(dims, dtype=np.int64)) != x.size:
        raise ShapeError(f"reshape: cannot reshape {name_of(x)} of shape {x.shape} (size {x.size}) to {dims}")
    return x if dims == x.shape else Reshape(x, dims)


ENTRIES = (
    Function("transpose", "composite", Notation("transpose", matrix="{0:name}ᵀ"), builder=build.transpose),
    Function("dot", "composite", Notation("dot"), builder=dot),
    Function("outer", "composite", Notation("outer"), builder=outer),
    Function(
        "reshape", "composite",
        # The Reshape node: {r} the argument's axes, {p} the new shape; the result is indexed.
        Notation("reshape", text="reshape[{r} -> {p}]({0})",
                 latex=r"\operatorname{{reshape}}_{{{r} \to {p}}}\left({0}\right)",
                 mathml=("<msub><mi>reshape</mi><mrow>{r}<mo>→</mo><mtext>{p}</mtext></mrow></msub>"
                         "<mo>&#x2061;</mo><mrow><mo>(</mo>{0}<mo>)</mo></mrow>"),
                 indexed=True),
        Syntax(("reshape",), "whole", 1, reshape, indexed=True, param="shape", example="reshape[k,l -> (9,)](X[k,l])[i]"),
        builder=reshape,
    ),
)
