"""Matrix calculus builders: inverse, determinants, solve, trace, norms, softmax, piecewise.

Functions of matrices act on the last two axes; leading axes are a batch (numpy's
``...ij``). Most of these are contractions or elementwise maps; inv, det, logdet,
solve, logsumexp and where are :class:`~einsdiff.ir.expr.Call` nodes whose derivative
rules live in :mod:`einsdiff.ir.functions`.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import build
from ..errors import OptionError, ShapeError
from .expr import Call, Expr, Var
from .functions import inv_node, solve_node, where_node
from .ops import apply
from .simplify import contract
from .subscripts import einsum


def _name(x: Expr) -> str:
    return f"variable {x.name!r}" if isinstance(x, Var) else "the argument"


def _square(fn: str, x, what: str = "") -> Expr:
    x = build.as_expr(x, f"{fn}'s argument")
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(
            f"{fn}: {what or _name(x)} has shape {x.shape}; it must be a square matrix "
            f"(or a stack of them: shape (..., n, n))"
        )
    return x


def inv(x) -> Expr:
    """The matrix inverse X⁻¹ (batched over leading axes); d(X⁻¹)[i,j]/dX[k,l] = -X⁻¹[i,k] X⁻¹[l,j]."""
    return inv_node(_square("inv", x))


def det(x) -> Expr:
    """det X (batched); d det X/dX[k,l] = det X · X⁻¹[l,k]."""
    x = _square("det", x)
    return Call("det", (x,), (), x.shape[:-2])


def logdet(x, absolute: bool = False) -> Expr:
    """log det X; d/dX[k,l] = X⁻¹[l,k]. Evaluating it where det X <= 0 raises
    :class:`~einsdiff.EvaluationError`, unless ``absolute=True`` (then it is log|det X|)."""
    x = _square("logdet", x)
    if not isinstance(absolute, bool):
        raise OptionError(f"logdet: absolute must be True or False, got {absolute!r}")
    return Call("logabsdet" if absolute else "logdet", (x,), (), x.shape[:-2])


def slogdet(x) -> tuple[Expr, Expr]:
    """(sign, log|det X|) as numpy.linalg.slogdet; the sign has derivative zero."""
    x = _square("slogdet", x)
    return Call("detsign", (x,), (), x.shape[:-2]), Call("logabsdet", (x,), (), x.shape[:-2])


def solve(a, b) -> Expr:
    """X with A X = B (numpy.linalg.solve: ``b`` a vector (n,) or matrices (..., n, k), a
    matrix (n, k) serving every matrix of a batch as numpy 2 reads it, on every numpy);
    evaluated by a linear solve, never by forming A⁻¹, and so are its derivatives."""
    a = _square("solve", a, "the matrix a")
    b = build.as_expr(b, "solve's right-hand side b")
    n = a.shape[-1]
    vector = b.ndim == 1
    if b.ndim == 0 or b.shape[-1 if vector else -2] != n:
        raise ShapeError(
            f"solve: a has shape {a.shape} (n = {n}) but b has shape {b.shape}; "
            f"b must be a vector of length {n} or matrices of shape (..., {n}, k)"
        )
    if vector:  # one right-hand side for every matrix of the batch
        batch = a.shape[:-2]
        return solve_node(a, build.broadcast_to(b, batch + (n,)))
    batch = build.broadcast_shape(a.shape[:-2], b.shape[:-2])
    return solve_node(build.broadcast_to(a, batch + (n, n)), build.broadcast_to(b, batch + b.shape[-2:]))


def trace(x) -> Expr:
    """tr X, the sum of the diagonal of the last two axes (einsum ``...ii->...``)."""
    return einsum("...ii->...", _square("trace", x))


def diagonal(x) -> Expr:
    """The diagonal of the last two axes (einsum ``...ii->...i``)."""
    return einsum("...ii->...i", _square("diagonal", x))


def diag(x) -> Expr:
    """A vector to the diagonal matrix (a Kronecker delta, never a dense eye); a matrix to its diagonal."""
    x = build.as_expr(x, "diag's argument")
    if x.ndim == 1:
        return contract([x], [("i",)], ("i", "i"), {"i": x.shape[0]})
    if x.ndim == 2:
        return diagonal(x)
    raise ShapeError(f"diag: {_name(x)} has shape {x.shape}; give a vector or a matrix (for stacks use diagonal)")


def dot(a, b) -> Expr:
    """numpy.dot: a sum over the last axis of ``a`` and the second-to-last of ``b`` (the last, for a vector)."""
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
    """numpy.outer: the inputs flattened, then out[i,j] = a[i] b[j]."""
    a, b = (flatten(build.as_expr(v, f"outer's {w}")) for v, w in ((a, "a"), (b, "b")))
    return einsum("i,j->ij", a, b)


def flatten(x: Expr) -> Expr:
    return x if x.ndim == 1 else reshape(x, (x.size,))


def reshape(x, shape) -> Expr:
    """Row-major reshape (as numpy, one axis may be -1); each element keeps its value, so
    index meaning follows numpy's C order."""
    x = build.as_expr(x, "reshape's argument")
    dims = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not all(isinstance(n, numbers.Integral) for n in dims) or sum(n == -1 for n in dims) > 1 or any(n < -1 for n in dims):
        raise ShapeError(f"reshape: shape must be ints, at most one of them -1, got {shape!r}")
    known = int(np.prod([n for n in dims if n != -1], dtype=np.int64))
    if -1 in dims:
        if known == 0 or x.size % known:
            raise ShapeError(f"reshape: cannot reshape {_name(x)} of shape {x.shape} (size {x.size}) to {shape}")
        dims = tuple(x.size // known if n == -1 else n for n in dims)
    dims = tuple(int(n) for n in dims)
    if int(np.prod(dims, dtype=np.int64)) != x.size:
        raise ShapeError(f"reshape: cannot reshape {_name(x)} of shape {x.shape} (size {x.size}) to {dims}")
    from .expr import Reshape

    return x if dims == x.shape else Reshape(x, dims)


def where(condition, a, b) -> Expr:
    """``a`` where ``condition`` is nonzero (true), else ``b``, broadcast like numpy. The
    derivative is taken branch by branch, so a branch that is inf or nan where it is not
    chosen (log x for x <= 0) leaves the derivative exactly 0 there, in both modes."""
    cond = build.as_expr(condition, "where's condition")
    a, b = build.as_expr(a, "where's a"), build.as_expr(b, "where's b")
    shape = build.broadcast_shape(cond.shape, a.shape, b.shape)
    return where_node(*(build.broadcast_to(v, shape) for v in (cond, a, b)))


def maximum(a, b) -> Expr:
    """Elementwise max; at a tie the value is shared and the derivative follows ``b``
    (so maximum(x, 0) has relu's derivative 0 at 0)."""
    return where(build.greater(a, b), a, b)


def minimum(a, b) -> Expr:
    """Elementwise min; at a tie the derivative follows ``b``."""
    return where(build.less(a, b), a, b)


def _axes(x: Expr, axis, fn: str) -> tuple[int, ...]:
    try:
        return build.axes_of(x, axis)
    except ShapeError as err:
        raise ShapeError(f"{fn}: {err}") from err


def logsumexp(x, axis=None) -> Expr:
    """log Σ exp(x) over ``axis`` (all axes by default), shifted by the max so it never overflows."""
    x = build.as_expr(x, "logsumexp's argument")
    axes = _axes(x, axis, "logsumexp")
    if not axes:
        return x
    return Call("logsumexp", (x,), tuple(sorted(axes)), tuple(n for p, n in enumerate(x.shape) if p not in axes))


def _back(x: Expr, reduced: Expr, axes: tuple[int, ...]) -> Expr:
    """``reduced`` (x with ``axes`` summed away) broadcast back to x's shape."""
    every = tuple(range(x.ndim))
    kept = tuple(p for p in every if p not in axes)
    return contract([reduced], [kept], every, dict(zip(every, x.shape, strict=True)))


def log_softmax(x, axis=-1) -> Expr:
    """x - logsumexp(x) along ``axis``: never overflows, never takes log of 0 by underflow."""
    x = build.as_expr(x, "log_softmax's argument")
    axes = _axes(x, axis, "log_softmax")
    return build.subtract(x, _back(x, logsumexp(x, axes), axes))


def softmax(x, axis=-1) -> Expr:
    """exp(x - logsumexp(x)) along ``axis``: stable for any magnitude of x."""
    return apply("exp", log_softmax(x, axis))


def norm(x, ord=None, axis=None) -> Expr:  # noqa: A002 - mirrors numpy.linalg.norm
    """numpy.linalg.norm for what is differentiable away from zero: vector norms ``ord`` 2
    (default) or 1 along ``axis`` (all axes flattened when None), and the Frobenius norm
    ``"fro"`` of a matrix (the last two axes, or ``axis=(p, q)``)."""
    x = build.as_expr(x, "norm's argument")
    if ord == "fro":
        if axis is None:
            if x.ndim < 2:
                raise ShapeError(f"norm: 'fro' needs a matrix, {_name(x)} has shape {x.shape}; use ord=2")
            axis = (-2, -1)
        axes = _axes(x, axis, "norm")
        if len(axes) != 2:
            raise ShapeError(f"norm: 'fro' takes two axes, got axis={axis!r}")
        return apply("sqrt", build.reduce_sum(apply("square", x), axes))
    if ord not in (None, 1, 2):
        raise OptionError(
            f"norm: ord={ord!r} is not supported; use 2 (Euclidean), 1 (sum of absolute values) or 'fro'"
            + ("; the spectral and nuclear norms of matrices are not differentiable here" if ord in (-2, "nuc") else "")
        )
    if axis is None and x.ndim == 2 and ord is not None:
        raise OptionError(
            f"norm: for a matrix numpy's ord={ord} is the {'max column sum' if ord == 1 else 'spectral'} norm, "
            f"which is not supported; pass ord='fro', or axis=(0, 1) for the norm of all entries"
        )
    axes = _axes(x, axis, "norm")
    if ord == 1:
        return build.reduce_sum(apply("abs", x), axes)
    return apply("sqrt", build.reduce_sum(apply("square", x), axes))
