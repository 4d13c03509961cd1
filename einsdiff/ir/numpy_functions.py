"""NumPy's functions on expressions (NEP 18): ``np.sum(x, axis=0)`` on an :class:`Expr` builds
the expression ``ed.sum(x, 0)`` instead of computing anything.

:meth:`Expr.__array_function__` looks the numpy function up in :data:`IMPLEMENTATIONS`. Each
entry is written with numpy's own parameters; the parameters einsdiff does not take
(``out=``, ``dtype=``, a trace's ``offset``...) are listed in ``refuse`` and accepted only at
their default, so a call is either built exactly as numpy would compute it or refused with an
error naming the argument. A numpy function not in the table is refused naming the function.

>>> import numpy as np, einsdiff as ed
>>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
>>> print(np.sum(np.dot(A, x), axis=0, keepdims=True))
f[i] = Σ[k](x[j] A[k,j]); i:1
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ..errors import OperandError, OptionError, ShapeError, SubscriptError
from . import build
from .expr import Const, Expr
from .functions import (
    amax, amin, det, diag, dot, inv, norm, outer, pinv, prod, reshape, slogdet, solve, svd, svdvals, where,
)
from .functions.factor import EighResult, cholesky, eigh, eigvalsh
from .functions.shapes import flatten
from .functions.spectral import matrix_power
from .indexing import concatenate, joined_parts, stack
from .simplify import contract
from .subscripts import einsum


class Implementation(NamedTuple):
    """How one numpy function is built: ``builder`` takes numpy's arguments; the names in
    ``refuse`` are taken only at their default (the default in ``builder``'s signature)."""

    builder: Callable
    refuse: tuple[str, ...]


IMPLEMENTATIONS: dict[Callable, Implementation] = {}


def implements(*funcs: Callable, refuse: tuple[str, ...] = ()):
    """Register the decorated builder for each numpy function of ``funcs``."""

    def register(fn):
        for func in funcs:
            IMPLEMENTATIONS[func] = Implementation(fn, refuse)
        return fn

    return register


def numpy_name(func) -> str:
    """``np.linalg.solve``, as a user writes it (``np.max``, though numpy 1.x names it amax)."""
    name = getattr(func, "__name__", repr(func))
    name = next((short for short in ("max", "min") if name == "a" + short and getattr(np, short) is func), name)
    for prefix, module in (("np", np), ("np.linalg", np.linalg), ("np.fft", np.fft)):
        if getattr(module, name, None) is func:
            return f"{prefix}.{name}"
    return f"{getattr(func, '__module__', '?')}.{name}"


def call(func, args: tuple, kwargs: dict):
    """``func(*args, **kwargs)`` built as an expression, or an error naming what einsdiff refuses."""
    entry = IMPLEMENTATIONS.get(func)
    name = numpy_name(func)
    if entry is None:
        raise OperandError(
            f"{name}: einsdiff has no derivative for it; the numpy functions that build expressions are "
            f"{', '.join(sorted({numpy_name(f) for f in IMPLEMENTATIONS}))}. Write it with ed.* builders, "
            f"or evaluate the expression first (ed.evaluate) to get an array"
        )
    signature = _signature(entry.builder)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as err:
        raise OperandError(f"{name}: {err}") from err
    for param in entry.refuse:
        value = bound.arguments.get(param, signature.parameters[param].default)
        if not (_is_default(value, signature.parameters[param].default) or (param == "dtype" and _is_float64(value))):
            raise OptionError(
                f"{name}: einsdiff does not take {param}={_short(value)}; "
                f"leave {param} at its default ({signature.parameters[param].default!r})"
                + (", and use the value einsdiff returns" if param == "out" else "")
            )
    return entry.builder(*bound.args, **bound.kwargs)


@functools.cache
def _signature(fn) -> inspect.Signature:
    return inspect.signature(fn)


def _is_default(value, default) -> bool:
    """Whether a refused parameter was given its default (``where=True``, ``order="C"``)."""
    if value is default:
        return True
    plain = (str, numbers.Number)
    return isinstance(value, plain) and isinstance(default, plain) and value == default


def _is_float64(dtype) -> bool:
    """``dtype=np.float64`` asks for what einsdiff computes in anyway."""
    try:
        return dtype is not None and np.dtype(dtype) == np.float64
    except TypeError:
        return False


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"a {type(value).__name__}"


def _axes(x: Expr, axis, fn: str) -> tuple[int, ...]:
    try:
        return build.axes_of(x, axis)
    except ShapeError as err:
        raise ShapeError(f"{fn}: {err}") from err


def _positions(axis, ndim: int, fn: str) -> tuple[int, ...]:
    """``axis`` (an int or a sequence of ints) as positions 0 .. ndim - 1 of a result to be built."""
    given = tuple(axis) if isinstance(axis, tuple | list) else (axis,)
    for ax in given:
        if not isinstance(ax, numbers.Integral) or not -ndim <= ax < ndim:
            raise ShapeError(f"{fn}: axis {ax!r} is out of range for {ndim} axes")
    positions = tuple(int(ax) % ndim for ax in given)
    if len(set(positions)) != len(positions):
        raise ShapeError(f"{fn}: axis {axis!r} names an axis twice")
    return positions


def _keep(x: Expr, reduced: Expr, axes: tuple[int, ...]) -> Expr:
    """``reduced`` (x with ``axes`` summed away) with those axes back, of size 1 (keepdims)."""
    kept = tuple(p for p in range(x.ndim) if p not in axes)
    out = tuple(p if p in kept else ("one", p) for p in range(x.ndim))
    sizes = {p: x.shape[p] for p in kept} | {("one", p): 1 for p in axes}
    return contract([reduced], [kept], out, sizes)


# -- reductions ---------------------------------------------------------------------------------
@implements(np.sum, refuse=("dtype", "out", "initial", "where"))
def sum_of(a, axis=None, dtype=None, out=None, keepdims=False, initial=0, where=True) -> Expr:
    """np.sum: over ``axis`` (an int, a tuple, or None for all), keeping them as size 1 with ``keepdims``."""
    x = build.as_expr(a, "np.sum's a")
    axes = _axes(x, axis, "np.sum")
    total = build.reduce_sum(x, axes)
    return _keep(x, total, axes) if keepdims else total


@implements(np.mean, refuse=("dtype", "out", "where"))
def mean_of(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True) -> Expr:
    """np.mean: the sum over ``axis`` divided by the number of entries summed."""
    x = build.as_expr(a, "np.mean's a")
    axes = _axes(x, axis, "np.mean")
    count = int(np.prod([x.shape[p] for p in axes], dtype=np.int64))
    with np.errstate(divide="ignore"):
        return build.multiply(sum_of(x, axes, keepdims=keepdims), float(np.divide(1.0, count)))


def _reduced(reduce, a, axis, keepdims: bool, fn: str) -> Expr:
    """``reduce(x, axes)`` over numpy's ``axis``, with them kept as size 1 under ``keepdims``."""
    x = build.as_expr(a, f"{fn}'s a")
    axes = _axes(x, axis, fn)
    result = reduce(x, axes)
    return _keep(x, result, axes) if keepdims else result


@implements(np.max, np.amax, refuse=("out", "initial", "where"))
def max_of(a, axis=None, out=None, keepdims=False, initial=None, where=True) -> Expr:
    """np.max (np.amax): ties at the maximum share its derivative evenly."""
    return _reduced(amax, a, axis, keepdims, "np.max")


@implements(np.min, np.amin, refuse=("out", "initial", "where"))
def min_of(a, axis=None, out=None, keepdims=False, initial=None, where=True) -> Expr:
    """np.min (np.amin): ties at the minimum share its derivative evenly."""
    return _reduced(amin, a, axis, keepdims, "np.min")


@implements(np.prod, refuse=("dtype", "out", "initial", "where"))
def prod_of(a, axis=None, dtype=None, out=None, keepdims=False, initial=1, where=True) -> Expr:
    """np.prod: its derivatives are products of the other factors, exact where a factor is 0."""
    return _reduced(prod, a, axis, keepdims, "np.prod")


# -- products -----------------------------------------------------------------------------------
@implements(np.einsum, refuse=("out", "dtype", "casting"))
def einsum_of(*operands, out=None, optimize=False, dtype=None, order="K", casting="safe") -> Expr:
    """np.einsum, either form; ``optimize`` and ``order`` change no value, so are ignored."""
    if operands and isinstance(operands[0], str):
        return einsum(operands[0], *operands[1:])
    arrays, subscripts = _interleaved(operands)
    return einsum(subscripts, *arrays)


def _interleaved(operands: tuple) -> tuple[tuple, str]:
    """np.einsum(a, [0, 1], b, [1], [0]): the operands and the subscripts string they stand for."""
    arrays, lists = operands[0::2], list(operands[1::2])
    out = None
    if len(operands) % 2:  # a last list on its own is the output
        arrays, out = arrays[:-1], operands[-1]
    terms = [_letters(sub, k) for k, sub in enumerate([*lists, *([out] if out is not None else [])])]
    text = ",".join(terms[: len(lists)])
    return arrays, text + (f"->{terms[-1]}" if out is not None else "")


def _letters(sublist, k: int) -> str:
    """One operand's axis labels (ints 0-51, or ...) as einsum letters: 0-25 a-z, 26-51 A-Z."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    labels = tuple(sublist) if isinstance(sublist, tuple | list) else (None,)
    if all(s is Ellipsis or isinstance(s, numbers.Integral) and 0 <= s < len(alphabet) for s in labels):
        return "".join("..." if s is Ellipsis else alphabet[s] for s in labels)
    raise SubscriptError(
        f"np.einsum: subscript list {k} is {sublist!r}; in the interleaved form each list holds ints "
        f"0 to 51 or Ellipsis, after its operand: np.einsum(A, [0, 1], x, [1], [0])"
    )


@implements(np.dot, refuse=("out",))
def dot_of(a, b, out=None) -> Expr:
    return dot(a, b)


@implements(np.outer, refuse=("out",))
def outer_of(a, b, out=None) -> Expr:
    return outer(a, b)


@implements(np.inner)
def inner_of(a, b) -> Expr:
    """np.inner: a sum over the last axis of both (a product when either is a number)."""
    a, b = build.as_expr(a, "np.inner's a"), build.as_expr(b, "np.inner's b")
    if a.ndim == 0 or b.ndim == 0:
        return build.multiply(a, b)
    return tensordot_of(a, b, ((-1,), (-1,)))


@implements(np.tensordot)
def tensordot_of(a, b, axes=2) -> Expr:
    """np.tensordot: the last ``axes`` axes of a with the first of b, or the axes listed in a pair."""
    a, b = build.as_expr(a, "np.tensordot's a"), build.as_expr(b, "np.tensordot's b")
    if isinstance(axes, numbers.Integral):
        if not 0 <= axes <= min(a.ndim, b.ndim):
            raise ShapeError(f"np.tensordot: axes={axes} but a has {a.ndim} axes and b has {b.ndim}")
        pairs = (tuple(range(a.ndim - axes, a.ndim)), tuple(range(axes)))
    else:
        try:
            first, second = axes
        except (TypeError, ValueError) as err:
            raise ShapeError(f"np.tensordot: axes must be an int or a pair of axis lists, got {axes!r}") from err
        pairs = tuple((s,) if isinstance(s, numbers.Integral) else tuple(s) for s in (first, second))
        if len(pairs[0]) != len(pairs[1]):
            raise ShapeError(f"np.tensordot: axes {axes!r} pair {len(pairs[0])} axes of a with {len(pairs[1])} of b")
    on_a, on_b = _axes(a, pairs[0], "np.tensordot (a)"), _axes(b, pairs[1], "np.tensordot (b)")
    la, lb = [("a", p) for p in range(a.ndim)], [("b", q) for q in range(b.ndim)]
    for p, q in zip(on_a, on_b, strict=True):
        if a.shape[p] != b.shape[q]:
            raise ShapeError(f"np.tensordot: a's axis {p} has size {a.shape[p]} but b's axis {q} has size {b.shape[q]}")
        lb[q] = la[p]
    output = tuple(la[p] for p in range(a.ndim) if p not in on_a) + tuple(lb[q] for q in range(b.ndim) if q not in on_b)
    sizes = dict(zip(la, a.shape, strict=True)) | dict(zip(lb, b.shape, strict=True))
    return contract([a, b], [tuple(la), tuple(lb)], output, sizes)


# -- diagonals ----------------------------------------------------------------------------------
def _diagonal(x: Expr, axis1: int, axis2: int, fn: str) -> Expr:
    """x's diagonal over two axes, as the last axis (as numpy); of a rectangular pair, the first
    min(m, n) entries, picked by a constant selection tensor."""
    p, q = _axes(x, (axis1, axis2), fn)
    rest = tuple(r for r in range(x.ndim) if r not in (p, q))
    m, n = x.shape[p], x.shape[q]
    sizes = {r: x.shape[r] for r in rest}
    if m == n:
        labels = tuple("d" if r in (p, q) else r for r in range(x.ndim))
        return contract([x], [labels], rest + ("d",), sizes | {"d": m})
    k = min(m, n)
    pick = np.zeros((k, m, n))
    pick[np.arange(k), np.arange(k), np.arange(k)] = 1.0
    labels = tuple("p" if r == p else "q" if r == q else r for r in range(x.ndim))
    return contract([x, Const(pick)], [labels, ("d", "p", "q")], rest + ("d",), sizes | {"d": k, "p": m, "q": n})


@implements(np.diagonal, refuse=("offset",))
def diagonal_of(a, offset=0, axis1=0, axis2=1) -> Expr:
    return _diagonal(build.as_expr(a, "np.diagonal's a"), axis1, axis2, "np.diagonal")


@implements(np.trace, refuse=("offset", "dtype", "out"))
def trace_of(a, offset=0, axis1=0, axis2=1, dtype=None, out=None) -> Expr:
    """np.trace: the sum of the diagonal over ``axis1`` and ``axis2``."""
    d = _diagonal(build.as_expr(a, "np.trace's a"), axis1, axis2, "np.trace")
    return build.reduce_sum(d, d.ndim - 1)


@implements(np.diag, refuse=("k",))
def diag_of(v, k=0) -> Expr:
    """np.diag: a vector to its diagonal matrix, a matrix (square or not) to its diagonal."""
    x = build.as_expr(v, "np.diag's v")
    return _diagonal(x, 0, 1, "np.diag") if x.ndim == 2 else diag(x)


# -- rearranging --------------------------------------------------------------------------------
@implements(np.transpose)
def transpose_of(a, axes=None) -> Expr:
    return build.transpose(a, axes)


@implements(np.swapaxes)
def swapaxes_of(a, axis1, axis2) -> Expr:
    x = build.as_expr(a, "np.swapaxes's a")
    (p,), (q,) = _axes(x, axis1, "np.swapaxes"), _axes(x, axis2, "np.swapaxes")
    perm = list(range(x.ndim))
    perm[p], perm[q] = perm[q], perm[p]
    return build.transpose(x, perm)


@implements(np.moveaxis)
def moveaxis_of(a, source, destination) -> Expr:
    """np.moveaxis: the ``source`` axes land at ``destination``; the others keep their order."""
    x = build.as_expr(a, "np.moveaxis's a")
    src, dst = _axes(x, source, "np.moveaxis"), _axes(x, destination, "np.moveaxis")
    if len(src) != len(dst):
        raise ShapeError(f"np.moveaxis: source {source!r} and destination {destination!r} name different numbers of axes")
    perm = [p for p in range(x.ndim) if p not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        perm.insert(d, s)
    return build.transpose(x, perm)


@implements(np.reshape, refuse=("order",))
def reshape_of(a, shape=None, order="C", *, newshape=None, copy=None) -> Expr:
    """np.reshape, row-major (``order="C"``); one axis may be -1. ``copy`` changes no value."""
    return reshape(a, newshape if shape is None else shape)


@implements(np.ravel, refuse=("order",))
def ravel_of(a, order="C") -> Expr:
    return flatten(build.as_expr(a, "np.ravel's a"))


@implements(np.expand_dims)
def expand_dims_of(a, axis) -> Expr:
    """np.expand_dims: new axes of size 1 at ``axis`` (positions in the result)."""
    x = build.as_expr(a, "np.expand_dims's a")
    ndim = x.ndim + (len(axis) if isinstance(axis, tuple | list) else 1)
    new = _positions(axis, ndim, "np.expand_dims")
    old = iter(range(x.ndim))
    output = tuple(("one", p) if p in new else next(old) for p in range(ndim))
    sizes = dict(enumerate(x.shape)) | {("one", p): 1 for p in new}
    return contract([x], [tuple(range(x.ndim))], output, sizes)


@implements(np.squeeze)
def squeeze_of(a, axis=None) -> Expr:
    """np.squeeze: drop axes of size 1 (those named by ``axis``, or all)."""
    x = build.as_expr(a, "np.squeeze's a")
    drop = tuple(p for p in range(x.ndim) if x.shape[p] == 1) if axis is None else _axes(x, axis, "np.squeeze")
    for p in drop:
        if x.shape[p] != 1:
            raise ShapeError(f"np.squeeze: axis {p} of shape {x.shape} has size {x.shape[p]}, not 1")
    return build.reduce_sum(x, drop)  # a sum over a size-1 axis drops it


@implements(np.broadcast_to)
def broadcast_to_of(array, shape, subok=False) -> Expr:
    dims = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    return build.broadcast_to(build.as_expr(array, "np.broadcast_to's array"), dims)


@implements(np.shape)
def shape_of(a) -> tuple[int, ...]:
    return build.as_expr(a).shape


@implements(np.ndim)
def ndim_of(a) -> int:
    return build.as_expr(a).ndim


@implements(np.size)
def size_of(a, axis=None) -> int:
    x = build.as_expr(a)
    return x.size if axis is None else x.shape[_axes(x, axis, "np.size")[0]]


@implements(np.where)
def where_of(condition, x=None, y=None) -> Expr:
    """np.where(condition, x, y): a mask (a comparison, or a constant array) choosing between two values."""
    if x is None or y is None:
        raise OperandError(
            "np.where: einsdiff takes the three-argument form np.where(condition, x, y); "
            "the one-argument form returns indices, which have no derivative"
        )
    return where(condition, x, y)


# -- linear algebra -----------------------------------------------------------------------------
class SlogdetResult(NamedTuple):
    """What np.linalg.slogdet gives: unpack it, or read ``.sign`` and ``.logabsdet``."""

    sign: Expr
    logabsdet: Expr


@implements(np.linalg.inv)
def inv_of(a) -> Expr:
    return inv(a)


@implements(np.linalg.det)
def det_of(a) -> Expr:
    return det(a)


@implements(np.linalg.solve)
def solve_of(a, b) -> Expr:
    return solve(a, b)


@implements(np.linalg.slogdet)
def slogdet_of(a) -> SlogdetResult:
    return SlogdetResult(*slogdet(a))


@implements(np.linalg.cholesky)
def cholesky_of(a, *, upper=False) -> Expr:
    """The Cholesky factor of sym(a) = (a + aᵀ)/2 (numpy reads a's lower triangle: the same for a symmetric a)."""
    factor = cholesky(a)
    return einsum("...ij->...ji", factor) if upper else factor


def _uplo(name: str, value) -> None:
    if value not in ("L", "U"):
        raise OptionError(f"{name}: UPLO must be 'L' or 'U', got {value!r}")


@implements(np.linalg.eigh)
def eigh_of(a, UPLO="L") -> EighResult:  # noqa: N803 - numpy's name
    """(eigenvalues, eigenvectors) of sym(a); either UPLO reads a symmetric a the same."""
    _uplo("np.linalg.eigh", UPLO)
    return eigh(a)


@implements(np.linalg.eigvalsh)
def eigvalsh_of(a, UPLO="L") -> Expr:  # noqa: N803 - numpy's name
    _uplo("np.linalg.eigvalsh", UPLO)
    return eigvalsh(a)


class SVDResult(NamedTuple):
    """What np.linalg.svd gives: unpack it, or read ``.U``, ``.S`` and ``.Vh``."""

    U: Expr
    S: Expr
    Vh: Expr


@implements(np.linalg.svd, refuse=("hermitian",))
def svd_of(a, full_matrices=True, compute_uv=True, hermitian=False) -> SVDResult | Expr:
    """The thin SVD (``full_matrices=False``), or the singular values (``compute_uv=False``)."""
    if not compute_uv:
        return svdvals(a)
    if full_matrices:
        raise OptionError(
            "np.linalg.svd: einsdiff does not take full_matrices=True (the default); pass full_matrices=False "
            "for the thin SVD: the extra columns of a full U or V are not unique, so they have no derivative"
        )
    return SVDResult(*svd(a))


@implements(np.linalg.pinv, refuse=("rcond", "hermitian", "rtol"))
def pinv_of(a, rcond=None, hermitian=False, *, rtol=None) -> Expr:
    """numpy's pseudo-inverse at its default cutoff."""
    return pinv(a)


@implements(np.linalg.matrix_power)
def matrix_power_of(a, n) -> Expr:
    return matrix_power(a, n)


@implements(np.linalg.norm)
def norm_of(x, ord=None, axis=None, keepdims=False) -> Expr:  # noqa: A002 - numpy's name
    """np.linalg.norm: the vector 2-norm (or 1-norm) and the Frobenius, spectral and nuclear norms of a matrix."""
    x = build.as_expr(x, "np.linalg.norm's x")
    over = tuple(range(x.ndim)) if axis is None else axis if isinstance(axis, tuple | list) else (axis,)
    if axis is None and ord is not None and x.ndim > 2:
        raise ShapeError(f"np.linalg.norm: ord={ord!r} with axis=None needs a vector or a matrix, got shape {x.shape}")
    allowed = (None, "fro", 2, "nuc") if len(over) == 2 else (None, 1, 2)
    if not any(_is_default(ord, a) for a in allowed):
        kind = "matrix" if len(over) == 2 else "vector"
        raise OptionError(
            f"np.linalg.norm: einsdiff does not take ord={ord!r} for a {kind}; it takes ord="
            + (" or ".join(repr(a) for a in allowed)) + " (the "
            + ("Frobenius, spectral or nuclear norm)" if kind == "matrix"
               else "Euclidean norm, or the sum of absolute values)")
        )
    result = norm(x, ord, axis)
    if not keepdims:
        return result
    axes = _axes(x, axis if axis is not None else tuple(range(x.ndim)), "np.linalg.norm")
    return _keep(x, result, axes)


# -- numpy 2's array-API spellings, registered where this numpy has them --------------------------
def _where_present(*paths: str) -> tuple:
    found = []
    for path in paths:
        obj = np
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if obj is not None:
            found.append(obj)
    return tuple(found)


@implements(*_where_present("linalg.matmul"))
def matmul_of(x1, x2) -> Expr:
    return build.matmul(x1, x2)


@implements(*_where_present("matrix_transpose", "linalg.matrix_transpose"))
def matrix_transpose_of(x) -> Expr:
    """The last two axes swapped."""
    x = build.as_expr(x, "matrix_transpose's x")
    if x.ndim < 2:
        raise ShapeError(f"np.matrix_transpose: needs a matrix (or a stack of them), got shape {x.shape}")
    return swapaxes_of(x, -2, -1)


@implements(*_where_present("permute_dims"))
def permute_dims_of(a, axes=None) -> Expr:
    return build.transpose(a, axes)


@implements(*_where_present("linalg.trace"), refuse=("offset", "dtype"))
def linalg_trace_of(x, *, offset=0, dtype=None) -> Expr:
    """The trace of the last two axes."""
    return trace_of(x, axis1=-2, axis2=-1)


@implements(*_where_present("linalg.diagonal"), refuse=("offset",))
def linalg_diagonal_of(x, *, offset=0) -> Expr:
    return diagonal_of(x, axis1=-2, axis2=-1)


@implements(*_where_present("linalg.vecdot"))
def vecdot_of(x1, x2, *, axis=-1) -> Expr:
    """Σ x1 x2 along ``axis``, the other axes broadcast (real values: no conjugate to take)."""
    product = build.multiply(x1, x2)
    return build.reduce_sum(product, _axes(product, axis, "np.linalg.vecdot"))


@implements(*_where_present("linalg.vector_norm"))
def vector_norm_of(x, *, axis=None, keepdims=False, ord=2) -> Expr:  # noqa: A002 - numpy's name
    """The 2-norm (or 1-norm) of the entries along ``axis`` (all of them by default)."""
    x = build.as_expr(x, "np.linalg.vector_norm's x")
    if not (_is_default(ord, 2) or _is_default(ord, 1)):
        raise OptionError(f"np.linalg.vector_norm: einsdiff does not take ord={ord!r}; it takes ord=2 or 1")
    axes = _axes(x, axis, "np.linalg.vector_norm")
    result = norm(x, 1 if _is_default(ord, 1) else None, axes)  # ord=2 over two axes would be the spectral norm
    return _keep(x, result, axes) if keepdims else result


@implements(*_where_present("linalg.matrix_norm"))
def matrix_norm_of(x, *, keepdims=False, ord="fro") -> Expr:  # noqa: A002 - numpy's name
    """The Frobenius, spectral (``ord=2``) or nuclear norm of the last two axes."""
    if not any(_is_default(ord, a) for a in ("fro", 2, "nuc")):
        raise OptionError(f"np.linalg.matrix_norm: einsdiff does not take ord={ord!r}; it takes ord='fro', 2 or 'nuc'")
    return norm_of(x, ord, (-2, -1), keepdims)


@implements(*_where_present("linalg.svdvals"))
def svdvals_of(x) -> Expr:
    return svdvals(x)


@implements(*_where_present("linalg.outer"))
def linalg_outer_of(x1, x2) -> Expr:
    return outer(x1, x2)


@implements(*_where_present("linalg.tensordot"))
def linalg_tensordot_of(x1, x2, *, axes=2) -> Expr:
    return tensordot_of(x1, x2, axes)


@implements(np.vdot)
def vdot_of(a, b) -> Expr:
    """Σ a b over the flattened entries (real values: no conjugate to take)."""
    a, b = flatten(build.as_expr(a, "np.vdot's a")), flatten(build.as_expr(b, "np.vdot's b"))
    return dot(a, b)


@implements(np.linalg.multi_dot, refuse=("out",))
def multi_dot_of(arrays, *, out=None) -> Expr:
    """A chain of np.dot (the first may be a row vector, the last a column)."""
    if len(arrays) < 2:
        raise ShapeError(f"np.linalg.multi_dot: needs at least two arrays, got {len(arrays)}")
    return functools.reduce(dot, arrays)


# -- joining: sums of parts, each put in place (einsdiff.ir.indexing) -------------------------------
@implements(np.concatenate, *_where_present("concat"), refuse=("out", "dtype", "casting"))
def concatenate_of(arrays, /, axis=0, out=None, *, dtype=None, casting="same_kind") -> Expr:
    """np.concatenate: the parts (expressions, arrays) joined along ``axis``; None joins them flattened."""
    return concatenate(arrays, axis, "np.concatenate")


@implements(np.stack, refuse=("out", "dtype", "casting"))
def stack_of(arrays, axis=0, out=None, *, dtype=None, casting="same_kind") -> Expr:
    """np.stack: parts of one shape joined along a new ``axis``."""
    return stack(arrays, axis, "np.stack")


@implements(np.hstack, refuse=("dtype", "casting"))
def hstack_of(tup, *, dtype=None, casting="same_kind") -> Expr:
    """np.hstack: vectors end to end, otherwise joined along axis 1."""
    parts = [_at_least(p, 1) for p in joined_parts(tup, "np.hstack")]
    return concatenate(parts, 0 if parts[0].ndim == 1 else 1, "np.hstack")


@implements(np.vstack, refuse=("dtype", "casting"))
def vstack_of(tup, *, dtype=None, casting="same_kind") -> Expr:
    """np.vstack: joined along axis 0, a vector being one row."""
    return concatenate([_at_least(p, 2) for p in joined_parts(tup, "np.vstack")], 0, "np.vstack")


@implements(np.column_stack)
def column_stack_of(tup) -> Expr:
    """np.column_stack: vectors as columns (and matrices as they are), joined along axis 1."""
    parts = [p[:, None] if p.ndim == 1 else _at_least(p, 2) for p in joined_parts(tup, "np.column_stack")]
    return concatenate(parts, 1, "np.column_stack")


@implements(np.dstack)
def dstack_of(tup) -> Expr:
    """np.dstack: joined along axis 2, a vector (n,) being (1, n, 1) and a matrix (m, n) being (m, n, 1)."""
    return concatenate([_at_least(p, 3) for p in joined_parts(tup, "np.dstack")], 2, "np.dstack")


# As np.atleast_1d, _2d and _3d: (ndim of x, ndim wanted) -> the index that adds the axes.
_WIDEN = {(0, 1): (None,), (0, 2): (None, None), (0, 3): (None, None, None),
          (1, 2): (None, slice(None)), (1, 3): (None, slice(None), None), (2, 3): (..., None)}


def _at_least(x: Expr, ndim: int) -> Expr:
    return x if x.ndim >= ndim else x[_WIDEN[x.ndim, ndim]]
