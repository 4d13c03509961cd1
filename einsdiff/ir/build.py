"""Everyday operations built from the few node types.

Arithmetic broadcasts like numpy; ``*``, ``@``, transpose and sums are
contractions; ``-`` is ``+`` of a negation; ``/`` multiplies by a reciprocal.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..errors import OperandError, ShapeError
from .expr import Const, Expr, as_expr  # noqa: F401 - as_expr is one of the builders
from .ops import apply
from .simplify import add as add_terms
from .simplify import contract
from .subscripts import einsum


def _is_scalar(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, Expr)


def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError as err:
        raise ShapeError(
            f"shapes {' and '.join(str(s) for s in shapes)} do not broadcast together"
        ) from err


def _labels_for(shape: tuple[int, ...], out_shape: tuple[int, ...], tag) -> tuple:
    """Labels of an operand broadcast to ``out_shape``: right-aligned; stretched size-1 axes get their own."""
    offset = len(out_shape) - len(shape)
    return tuple(
        ("out", offset + a) if n == out_shape[offset + a] else (tag, a) for a, n in enumerate(shape)
    )


def _elementwise_network(operands: list[Expr]):
    out_shape = broadcast_shape(*(op.shape for op in operands))
    inputs = [_labels_for(op.shape, out_shape, ("bcast", k)) for k, op in enumerate(operands)]
    sizes = {("out", a): n for a, n in enumerate(out_shape)}
    for op, labels in zip(operands, inputs, strict=True):
        for label, n in zip(labels, op.shape, strict=True):
            sizes.setdefault(label, n)
    output = tuple(("out", a) for a in range(len(out_shape)))
    return out_shape, inputs, output, sizes


def broadcast_to(x: Expr, shape: tuple[int, ...]) -> Expr:
    if x.shape == tuple(shape):
        return x
    if broadcast_shape(x.shape, shape) != tuple(shape):
        raise ShapeError(f"cannot broadcast shape {x.shape} to {tuple(shape)}")
    labels = _labels_for(x.shape, tuple(shape), "bcast")
    sizes = {("out", a): n for a, n in enumerate(shape)}
    sizes.update({label: n for label, n in zip(labels, x.shape, strict=True)})
    return contract([x], [labels], tuple(("out", a) for a in range(len(shape))), sizes)


def ones(shape: tuple[int, ...]) -> Expr:
    """The all-ones tensor: a contraction with no operands."""
    labels = tuple(range(len(shape)))
    return contract([], [], labels, dict(zip(labels, shape, strict=True)))


def identity(n: int) -> Expr:
    """The n x n identity: a contraction with no operands whose output repeats its index (δ)."""
    return contract([], [], ("i", "i"), {"i": n})


def add(a, b) -> Expr:
    """``a + b`` with numpy broadcasting; a number becomes a scaled all-ones tensor."""
    if _is_scalar(a):
        a, b = b, a
    a = as_expr(a)
    if _is_scalar(b):
        return add_terms([a, ones(a.shape)], [1.0, float(b)], a.shape) if b != 0 else a
    b = as_expr(b)
    shape = broadcast_shape(a.shape, b.shape)
    return add_terms([broadcast_to(a, shape), broadcast_to(b, shape)], [1.0, 1.0], shape)


def subtract(a, b) -> Expr:
    return add(a, negative(b))


def negative(a) -> Expr:
    if _is_scalar(a):
        return as_expr(-a)
    a = as_expr(a)
    return add_terms([a], [-1.0], a.shape)


def scale(a: Expr, c: float) -> Expr:
    return add_terms([a], [float(c)], a.shape)


def multiply(a, b) -> Expr:
    """Hadamard product with numpy broadcasting: one contraction."""
    if _is_scalar(a):
        a, b = b, a
    a = as_expr(a)
    if _is_scalar(b):
        return scale(a, b)
    b = as_expr(b)
    _, inputs, output, sizes = _elementwise_network([a, b])
    return contract([a, b], inputs, output, sizes)


def divide(a, b) -> Expr:
    """a / b with numpy's broadcasting; a number divides as a product with its reciprocal.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.divide(x, y))
    f[i] = x[i] reciprocal(y[i])
    """
    if _is_scalar(b):
        with np.errstate(divide="ignore"):  # x / 0 is inf (or nan), as in numpy
            return multiply(a, float(np.divide(1.0, float(b))))
    b = as_expr(b)
    if isinstance(b, Const):
        with np.errstate(divide="ignore"):
            return multiply(a, Const(1.0 / b.value))
    return multiply(a, apply("reciprocal", b))


def power(a, b) -> Expr:
    """``a ** b``: a constant exponent (a number, or a constant array of one value) is a
    ``power`` map; an expression exponent is ``exp(b log a)``, so a constant base must be positive.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.power(x, 2))
    f[i] = square(x[i])
    """
    if _is_scalar(b):
        return apply("power", as_expr(a), float(b))
    if not isinstance(b, Expr) or isinstance(b, Const):
        exponent = b.value if isinstance(b, Const) else np.asarray(b, dtype=float)
        values = np.unique(exponent)
        if len(values) != 1:  # exp(b log a) would be NaN wherever a < 0, even for whole exponents
            raise OperandError(f"a ** b: einsdiff raises to one constant exponent, not to an array of {len(values)} "
                               f"different ones; split the array, or write exp(b * log(a)) for a positive base")
        base = as_expr(a)
        return broadcast_to(apply("power", base, float(values[0])), broadcast_shape(base.shape, exponent.shape))
    if not isinstance(a, Expr) or isinstance(a, Const):
        base = a.value if isinstance(a, Const) else np.asarray(a, dtype=float)
        if np.any(base <= 0):
            raise OperandError("a ** b: a constant base with entries <= 0 raised to an expression has no real "
                               "derivative (a ** b is exp(b log a)); give a positive base")
    if _is_scalar(a):  # a number: log a is a coefficient, so b's precision is kept (as numpy does)
        with np.errstate(divide="ignore", invalid="ignore"):
            return apply("exp", multiply(b, float(np.log(float(a)))))
    return apply("exp", multiply(b, apply("log", as_expr(a))))


def greater(a, b) -> Expr:
    """1 where a > b, else 0 (a mask with derivative zero): step(a - b), as heaviside(0) = 0.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.greater(x, y))
    f[i] = step(x[i] - y[i])
    """
    return apply("step", subtract(a, b))


def less(a, b) -> Expr:
    """1 where a < b, else 0 (a mask with derivative zero): step(b - a).

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.less(x, 0))
    f[i] = step(-x[i])
    """
    return greater(b, a)


def greater_equal(a, b) -> Expr:
    """1 where a >= b: the complement of a < b.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.greater_equal(x, y))
    f[i] = 1 - step(y[i] - x[i])
    """
    return subtract(1.0, less(a, b))


def less_equal(a, b) -> Expr:
    """1 where a <= b: the complement of a > b.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.less_equal(x, y))
    f[i] = 1 - step(x[i] - y[i])
    """
    return greater_equal(b, a)


def matmul(a, b) -> Expr:
    """numpy's ``@``: vectors, matrices and stacks of matrices, as one einsum.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.matmul(A, x))
    f[i] = A[i,j] x[j]
    """
    a, b = as_expr(a), as_expr(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul needs operands with at least one axis, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} do not align (inner sizes differ)")
    left = "j" if a.ndim == 1 else "...ij"
    right = "j" if b.ndim == 1 else "...jk"
    batch = "..." if "..." in left + right else ""
    out = batch + ("" if a.ndim == 1 else "i") + ("" if b.ndim == 1 else "k")
    return einsum(f"{left},{right}->{out}", a, b)


def axes_of(x: Expr, axis) -> tuple[int, ...]:
    axes = range(x.ndim) if axis is None else (axis if isinstance(axis, tuple | list) else (axis,))
    result = []
    for ax in axes:
        if not isinstance(ax, numbers.Integral) or not -x.ndim <= ax < x.ndim:
            raise ShapeError(f"axis {ax!r} is out of range for an expression of shape {x.shape}")
        result.append(int(ax) % x.ndim)
    if len(set(result)) != len(result):
        raise ShapeError(f"axis {axis!r} names an axis twice")
    return tuple(result)


def reduce_sum(x, axis=None) -> Expr:
    """Sum over ``axis`` (an int, a tuple of ints, or None for all).

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.sum(A, axis=1))
    f[i] = Σ[j](A[i,j])
    """
    x = as_expr(x)
    drop = axes_of(x, axis)
    labels = tuple(range(x.ndim))
    return contract(
        [x], [labels], tuple(a for a in labels if a not in drop), dict(zip(labels, x.shape, strict=True))
    )


def transpose(x, axes=None) -> Expr:
    """Permute axes (reverse them when ``axes`` is None).

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.transpose(A))
    f[i,j] = A[j,i]
    """
    x = as_expr(x)
    if axes is not None and not isinstance(axes, tuple | list):
        raise ShapeError(f"transpose axes must be a tuple of ints, one per axis of {x.shape}, got {axes!r}")
    perm = tuple(reversed(range(x.ndim))) if axes is None else axes_of(x, tuple(axes))
    if len(perm) != x.ndim:
        raise ShapeError(f"transpose axes {axes!r} do not name each of the {x.ndim} axes once")
    labels = tuple(range(x.ndim))
    return contract([x], [labels], perm, dict(zip(labels, x.shape, strict=True)))


def elementwise(fn: str, x) -> Expr:
    return apply(fn, as_expr(x))

