"""The Python array API standard (2023.12) on expressions: ``x.__array_namespace__()`` is this
module, so code written against ``xp = array_namespace(x)`` builds expressions.

Every function turns its inputs into expressions (arrays become constants) and delegates to
what builds them already: numpy's ufunc table (:mod:`einsdiff.ir.numpy_ufuncs`), numpy's
function table (:mod:`einsdiff.ir.numpy_functions`) and the builders. The standard's
functions with no derivative or no meaning for a formula (argmax, sort, isnan, bitwise_and,
...) are listed in :data:`REFUSED` and raise an error naming ``xp.<name>`` and the reason.
Expressions are real and computed in float64; ``dtype=`` takes float64 (or None) only.
``xp.linalg`` is the standard's linalg extension; ``xp.special`` holds the scipy.special
functions einsdiff builds (expit, log_expit), which scipy looks for with SCIPY_ARRAY_API=1.

>>> import einsdiff as ed
>>> w = ed.var("w", (3,))
>>> xp = w.__array_namespace__()
>>> loss = xp.sum(xp.logaddexp(0.0, -w))
>>> print(loss)
f = Σ[i](softplus(-w[i]))
>>> print(ed.grad(loss, w))
f[i] = -sigmoid(-w[i])
"""

from __future__ import annotations

import builtins
import math
import sys
import types
from typing import NamedTuple

import numpy as np

from .errors import OperandError, OptionError, ShapeError
from .ir import build
from .ir import numpy_functions as nf
from .ir.expr import Const, Expr, as_expr, zero
from .ir import functions as fns
from .ir.functions import gather
from .ir.functions.base import axes_of
from .ir.numpy_ufuncs import _SCIPY, UFUNCS
from .ir.ops import apply

__array_api_version__ = "2023.12"
_VERSIONS = ("2021.12", "2022.12", "2023.12")  # earlier versions' functions are a subset of 2023.12's

e, pi, inf, nan = math.e, math.pi, math.inf, math.nan
newaxis = None

# The standard's dtypes, as numpy's: einsdiff computes in float64; the others name what arrays
# passed in may hold (casting an expression to them is refused).
bool = np.bool_  # noqa: A001 - the standard's name
int8, int16, int32, int64 = np.int8, np.int16, np.int32, np.int64
uint8, uint16, uint32, uint64 = np.uint8, np.uint16, np.uint32, np.uint64
float32, float64 = np.float32, np.float64
complex64, complex128 = np.complex64, np.complex128


def namespace(api_version: str | None = None) -> types.ModuleType:
    """This module, for ``Expr.__array_namespace__(api_version=...)``: a version it does not
    implement is refused."""
    if api_version is not None and api_version not in _VERSIONS:
        raise OptionError(f"__array_namespace__: einsdiff.array_api implements the array API standard "
                          f"{__array_api_version__} (and the earlier {', '.join(_VERSIONS[:-1])}), not "
                          f"api_version={api_version!r}; leave api_version=None")
    return sys.modules[__name__]


# -- inspection -------------------------------------------------------------------------------
class _Info:
    """What ``__array_namespace_info__()`` answers: one device, and float64."""

    def capabilities(self) -> dict:
        # boolean indexing and nonzero give shapes that depend on values: a formula's shape may not
        return {"boolean indexing": False, "data-dependent shapes": False}

    def default_device(self) -> str:
        return "cpu"

    def devices(self) -> list[str]:
        return ["cpu"]

    def default_dtypes(self, *, device=None) -> dict:
        _device(device, "__array_namespace_info__().default_dtypes")
        return {"real floating": float64, "complex floating": complex128, "integral": int64, "indexing": int64}

    def dtypes(self, *, device=None, kind=None) -> dict:
        """The dtypes an expression can have: float64 (of the kinds that include it)."""
        _device(device, "__array_namespace_info__().dtypes")
        return {"float64": float64} if kind is None or isdtype(float64, kind) else {}


def __array_namespace_info__() -> _Info:
    """The namespace's capabilities, devices and dtypes.

    >>> __array_namespace_info__().default_dtypes()["real floating"]
    <class 'numpy.float64'>
    """
    return _Info()


def _device(device, fn: str) -> None:
    if device not in (None, "cpu"):
        raise OptionError(f"xp.{fn}: einsdiff has one device, 'cpu'; got device={device!r}")


def _dtype(dtype, fn: str) -> None:
    """``dtype=`` as einsdiff takes it: None or float64, the dtype it computes in."""
    if dtype is not None and not nf._is_float64(dtype):
        raise OptionError(f"xp.{fn}: einsdiff expressions are real and computed in float64; dtype={dtype!r} "
                          f"has no meaning for them. Leave dtype=None (or float64), and cast after evaluating")


def _expr(value, fn: str, what: str = "x") -> Expr:
    return as_expr(value, f"xp.{fn}'s {what}")


# -- creation ---------------------------------------------------------------------------------
def asarray(obj, /, *, dtype=None, device=None, copy=None) -> Expr:
    """An expression: an expression as it is, anything else as a constant (expressions are
    immutable, so ``copy`` changes nothing)."""
    _dtype(dtype, "asarray")
    _device(device, "asarray")
    return _expr(obj, "asarray", "obj")


def _shape(shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(n) for n in shape)


def zeros(shape, *, dtype=None, device=None) -> Expr:
    _dtype(dtype, "zeros")
    _device(device, "zeros")
    return zero(_shape(shape))


def empty(shape, *, dtype=None, device=None) -> Expr:
    """Zeros: an expression has no uninitialized memory."""
    return zeros(shape, dtype=dtype, device=device)


def ones(shape, *, dtype=None, device=None) -> Expr:
    _dtype(dtype, "ones")
    _device(device, "ones")
    return build.ones(_shape(shape))


def full(shape, fill_value, *, dtype=None, device=None) -> Expr:
    return build.scale(ones(shape, dtype=dtype, device=device), float(fill_value))


def zeros_like(x, /, *, dtype=None, device=None) -> Expr:
    return zeros(_expr(x, "zeros_like").shape, dtype=dtype, device=device)


def empty_like(x, /, *, dtype=None, device=None) -> Expr:
    return zeros(_expr(x, "empty_like").shape, dtype=dtype, device=device)


def ones_like(x, /, *, dtype=None, device=None) -> Expr:
    return ones(_expr(x, "ones_like").shape, dtype=dtype, device=device)


def full_like(x, /, fill_value, *, dtype=None, device=None) -> Expr:
    return full(_expr(x, "full_like").shape, fill_value, dtype=dtype, device=device)


def _constant(fn: str, value: np.ndarray, dtype, device) -> Expr:
    _dtype(dtype, fn)
    _device(device, fn)
    return Const(np.asarray(value, dtype=np.float64))


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None) -> Expr:
    return _constant("eye", np.eye(n_rows, n_cols, k), dtype, device)


def arange(start, /, stop=None, step=1, *, dtype=None, device=None) -> Expr:
    return _constant("arange", np.arange(start, stop, step) if stop is not None else np.arange(start), dtype, device)


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True) -> Expr:
    return _constant("linspace", np.linspace(start, stop, num, endpoint=endpoint), dtype, device)


def _triangle(fn: str, x, keep: np.ndarray) -> Expr:
    """``x`` times a constant 0/1 mask of its last two axes."""
    x = _expr(x, fn)
    if x.ndim < 2:
        raise ShapeError(f"xp.{fn}: needs a matrix (or a stack of them), got shape {x.shape}")
    return build.multiply(x, Const(keep))


def tril(x, /, *, k=0) -> Expr:
    """The entries on and below the k-th diagonal; the others 0."""
    shape = _expr(x, "tril").shape
    return _triangle("tril", x, np.tri(*shape[-2:], k=k))


def triu(x, /, *, k=0) -> Expr:
    shape = _expr(x, "triu").shape
    return _triangle("triu", x, 1.0 - np.tri(*shape[-2:], k=k - 1))


def meshgrid(*arrays, indexing="xy") -> list[Expr]:
    """Each 1-D input spread over the grid of all of them (``xy``: the first two axes swapped)."""
    if indexing not in ("xy", "ij"):
        raise OptionError(f"xp.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    vectors = [nf.ravel_of(_expr(a, "meshgrid", f"array {k}")) for k, a in enumerate(arrays)]
    sizes = tuple(v.size for v in vectors)
    grids = [build.broadcast_to(nf.reshape_of(v, tuple(n if p == k else 1 for p, n in enumerate(sizes))), sizes)
             for k, v in enumerate(vectors)]
    return [nf.swapaxes_of(g, 0, 1) for g in grids] if indexing == "xy" and len(grids) >= 2 else grids


# -- elementwise ------------------------------------------------------------------------------
# The standard's elementwise functions numpy has as ufuncs, built by numpy_ufuncs.UFUNCS.
_UFUNC_NAMES = {
    "abs": np.absolute, "acos": np.arccos, "asin": np.arcsin, "atan": np.arctan, "add": np.add,
    "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide, "negative": np.negative,
    "positive": np.positive, "pow": np.power, "square": np.square, "sqrt": np.sqrt, "exp": np.exp,
    "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "log2": np.log2, "log10": np.log10,
    "logaddexp": np.logaddexp, "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh,
    "maximum": np.maximum, "minimum": np.minimum, "sign": np.sign, "conj": np.conjugate,
    "greater": np.greater, "greater_equal": np.greater_equal, "less": np.less, "less_equal": np.less_equal,
}


def _operands(fn: str, values: tuple) -> list:
    """Inputs as the ufunc builders take them: real numbers as they are, the rest as expressions
    (at least one: a builder given numbers only would compute a number)."""
    out = [v if isinstance(v, float | int) and not isinstance(v, builtins.bool) else _expr(v, fn, f"x{k + 1}")
           for k, v in enumerate(values)]
    if not builtins.any(isinstance(v, Expr) for v in out):
        out[0] = _expr(out[0], fn, "x1")
    return out


def _elementwise(name: str, ufunc) -> types.FunctionType:
    builder = UFUNCS[ufunc]

    def unary(x, /) -> Expr:
        return builder(*_operands(name, (x,)))

    def binary(x1, x2, /) -> Expr:
        return builder(*_operands(name, (x1, x2)))

    fn = unary if ufunc.nin == 1 else binary
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise, as numpy's {ufunc.__name__}."
    return fn


globals().update({name: _elementwise(name, ufunc) for name, ufunc in _UFUNC_NAMES.items()})


def sinh(x, /) -> Expr:
    """(eˣ − e⁻ˣ) / 2."""
    x = _expr(x, "sinh")
    return build.scale(build.subtract(apply("exp", x), apply("exp", build.negative(x))), 0.5)


def cosh(x, /) -> Expr:
    """(eˣ + e⁻ˣ) / 2."""
    x = _expr(x, "cosh")
    return build.scale(build.add(apply("exp", x), apply("exp", build.negative(x))), 0.5)


def hypot(x1, x2, /) -> Expr:
    """√(x1² + x2²)."""
    a, b = (_expr(v, "hypot", f"x{k + 1}") for k, v in enumerate((x1, x2)))
    return apply("sqrt", build.add(apply("square", a), apply("square", b)))


def equal(x1, x2, /) -> Expr:
    """A 0/1 mask, 1 where x1 = x2: (x1 ≥ x2)(x1 ≤ x2); its derivative is 0, as the other comparisons'."""
    a, b = _operands("equal", (x1, x2))
    return build.multiply(build.greater_equal(a, b), build.less_equal(a, b))


def not_equal(x1, x2, /) -> Expr:
    """1 − equal(x1, x2)."""
    return build.subtract(1.0, equal(x1, x2))


def real(x, /) -> Expr:
    """x itself: expressions are real."""
    return _expr(x, "real")


def imag(x, /) -> Expr:
    """Zeros: expressions are real."""
    return zeros_like(x)


def clip(x, /, min=None, max=None) -> Expr:  # noqa: A002 - the standard's names
    """x held within [min, max] (either may be None): max(x, min), then min(·, max)."""
    x = _expr(x, "clip")
    low = x if min is None else build.broadcast_to(fns.maximum(x, min), x.shape)
    return low if max is None else build.broadcast_to(fns.minimum(low, max), x.shape)


def where(condition, x1, x2, /) -> Expr:
    """x1 where condition is nonzero (a comparison mask, or a constant array), else x2."""
    return fns.where(_expr(condition, "where", "condition"), *_operands("where", (x1, x2)))


# -- statistics -------------------------------------------------------------------------------
def sum(x, /, *, axis=None, dtype=None, keepdims=False) -> Expr:  # noqa: A001 - the standard's name
    _dtype(dtype, "sum")
    return nf.sum_of(_expr(x, "sum"), axis=axis, keepdims=keepdims)


def mean(x, /, *, axis=None, keepdims=False) -> Expr:
    return nf.mean_of(_expr(x, "mean"), axis=axis, keepdims=keepdims)


def var(x, /, *, axis=None, correction=0.0, keepdims=False) -> Expr:
    """mean((x − mean x)²) · N / (N − correction), N the number of entries reduced."""
    x = _expr(x, "var")
    centred = build.subtract(x, mean(x, axis=axis, keepdims=True))
    n = int(np.prod([x.shape[p] for p in axes_of(x, axis, "xp.var")], dtype=np.int64))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.divide(n, n - correction))
    return build.scale(mean(apply("square", centred), axis=axis, keepdims=keepdims), ratio)


def std(x, /, *, axis=None, correction=0.0, keepdims=False) -> Expr:
    return apply("sqrt", var(x, axis=axis, correction=correction, keepdims=keepdims))


# max, min and prod go through numpy's own functions on expressions (numpy_functions' table).
def max(x, /, *, axis=None, keepdims=False) -> Expr:  # noqa: A001 - the standard's name
    return np.max(_expr(x, "max"), axis=axis, keepdims=keepdims)


def min(x, /, *, axis=None, keepdims=False) -> Expr:  # noqa: A001 - the standard's name
    return np.min(_expr(x, "min"), axis=axis, keepdims=keepdims)


def prod(x, /, *, axis=None, dtype=None, keepdims=False) -> Expr:
    _dtype(dtype, "prod")
    return np.prod(_expr(x, "prod"), axis=axis, keepdims=keepdims)


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False) -> Expr:
    """Running sums along ``axis``: a constant lower-triangular matrix of ones applied along it."""
    _dtype(dtype, "cumulative_sum")
    x = _expr(x, "cumulative_sum")
    if axis is None:
        if x.ndim != 1:
            raise ShapeError(f"xp.cumulative_sum: axis=None takes a 1-D array, got shape {x.shape}; give axis")
        axis = 0
    (p,) = axes_of(x, axis, "xp.cumulative_sum")
    n = x.shape[p]
    return _along(x, p, np.tri(n + 1, n, -1) if include_initial else np.tri(n))


# -- manipulation -----------------------------------------------------------------------------
def _integers(value, fn: str, what: str) -> np.ndarray:
    """Constant integers (an int array, or a constant expression of whole numbers), which decide
    the formula's shape or entries, so must be known before evaluation."""
    array = value.value if isinstance(value, Const) else None if isinstance(value, Expr) else np.asarray(value)
    if array is None or not (array.dtype.kind in "iu" or array.dtype.kind == "f" and np.all(array == np.round(array))):
        raise OperandError(f"xp.{fn}: {what} must be constant integers (an int or an int array): they decide the "
                           f"entries and shape of the formula, so must be known before it is evaluated")
    return array.astype(np.int64)


def _along(x: Expr, axis: int, matrix: np.ndarray) -> Expr:
    """``matrix`` applied to ``x``'s axis ``axis`` (cumulative sums: a constant triangle of ones)."""
    moved = nf.tensordot_of(Const(matrix), x, ((1,), (axis,)))
    return nf.moveaxis_of(moved, 0, axis)


def _picked(x: Expr, axis: int, chosen: np.ndarray) -> Expr:
    """``x``'s entries at positions ``chosen`` along ``axis`` (picked, repeated, reordered): a take."""
    return gather.take(x, axis, gather.positions(chosen))


def reshape(x, /, shape, *, copy=None) -> Expr:
    return nf.reshape_of(_expr(x, "reshape"), tuple(shape))


def permute_dims(x, /, axes) -> Expr:
    return build.transpose(_expr(x, "permute_dims"), tuple(axes))


def expand_dims(x, /, *, axis=0) -> Expr:
    return nf.expand_dims_of(_expr(x, "expand_dims"), axis)


def squeeze(x, /, axis) -> Expr:
    return nf.squeeze_of(_expr(x, "squeeze"), axis)


def broadcast_to(x, /, shape) -> Expr:
    return build.broadcast_to(_expr(x, "broadcast_to"), _shape(shape))


def broadcast_arrays(*arrays) -> list[Expr]:
    exprs = [_expr(a, "broadcast_arrays", f"array {k}") for k, a in enumerate(arrays)]
    shape = build.broadcast_shape(*(x.shape for x in exprs))
    return [build.broadcast_to(x, shape) for x in exprs]


def moveaxis(x, source, destination, /) -> Expr:
    return nf.moveaxis_of(_expr(x, "moveaxis"), source, destination)


def concat(arrays, /, *, axis=0) -> Expr:
    """As numpy's concatenate on expressions."""
    return np.concatenate([_expr(a, "concat", f"array {k}") for k, a in enumerate(arrays)], axis=axis)


def stack(arrays, /, *, axis=0) -> Expr:
    """As numpy's stack on expressions."""
    return np.stack([_expr(a, "stack", f"array {k}") for k, a in enumerate(arrays)], axis=axis)


def _each_axis(fn: str, x: Expr, axis) -> tuple[int, ...]:
    return axes_of(x, axis, f"xp.{fn}")


def flip(x, /, *, axis=None) -> Expr:
    """The entries along ``axis`` (all axes by default) in reverse order."""
    x = _expr(x, "flip")
    for p in _each_axis("flip", x, axis):
        x = _picked(x, p, np.arange(x.shape[p])[::-1])
    return x


def roll(x, /, shift, *, axis=None) -> Expr:
    """Entries shifted by ``shift`` along ``axis``, those pushed off one end coming back at the other;
    with axis=None, along the flattened entries."""
    x = _expr(x, "roll")
    if axis is None:
        return nf.reshape_of(roll(nf.ravel_of(x), shift, axis=0), x.shape)
    axes = _each_axis("roll", x, axis)
    shifts = tuple(shift) if isinstance(shift, tuple | list) else (shift,) * len(axes)
    if len(shifts) != len(axes):
        raise ShapeError(f"xp.roll: {len(shifts)} shifts for {len(axes)} axes")
    for p, s in zip(axes, shifts, strict=True):
        x = _picked(x, p, np.roll(np.arange(x.shape[p]), int(s)))
    return x


def repeat(x, repeats, /, *, axis=None) -> Expr:
    """Each entry along ``axis`` repeated (``repeats`` times, or as many times as its entry says)."""
    x = _expr(x, "repeat")
    if axis is None:
        x, axis = nf.ravel_of(x), 0
    (p,) = _each_axis("repeat", x, axis)
    return _picked(x, p, np.repeat(np.arange(x.shape[p]), _integers(repeats, "repeat", "repeats")))


def tile(x, repetitions, /) -> Expr:
    """``x`` repeated as a block ``repetitions[p]`` times along each axis p."""
    x = _expr(x, "tile")
    reps = tuple(int(r) for r in repetitions)
    if len(reps) > x.ndim:
        x = nf.reshape_of(x, (1,) * (len(reps) - x.ndim) + x.shape)
    reps = (1,) * (x.ndim - len(reps)) + reps
    for p, r in enumerate(reps):
        if r != 1:
            x = _picked(x, p, np.tile(np.arange(x.shape[p]), r))
    return x


def unstack(x, /, *, axis=0) -> tuple[Expr, ...]:
    """The slices of ``x`` along ``axis``, that axis removed."""
    x = _expr(x, "unstack")
    (p,) = _each_axis("unstack", x, axis)
    return tuple(x[(slice(None),) * p + (k,)] for k in range(x.shape[p]))


def take(x, indices, /, *, axis=None) -> Expr:
    """The entries at constant integer ``indices`` along ``axis``."""
    x = _expr(x, "take")
    if axis is None:
        if x.ndim != 1:
            raise ShapeError(f"xp.take: axis=None takes a 1-D array, got shape {x.shape}; give axis")
        axis = 0
    picks = _integers(indices, "take", "indices")
    if picks.ndim != 1:
        raise ShapeError(f"xp.take: indices must be 1-D, got shape {picks.shape}")
    (p,) = _each_axis("take", x, axis)
    return _picked(x, p, np.arange(x.shape[p])[picks])


# -- linear algebra ---------------------------------------------------------------------------
def matmul(x1, x2, /) -> Expr:
    return build.matmul(_expr(x1, "matmul", "x1"), _expr(x2, "matmul", "x2"))


def tensordot(x1, x2, /, *, axes=2) -> Expr:
    return nf.tensordot_of(_expr(x1, "tensordot", "x1"), _expr(x2, "tensordot", "x2"), axes)


def vecdot(x1, x2, /, *, axis=-1) -> Expr:
    return nf.vecdot_of(_expr(x1, "vecdot", "x1"), _expr(x2, "vecdot", "x2"), axis=axis)


def matrix_transpose(x, /) -> Expr:
    return nf.matrix_transpose_of(_expr(x, "matrix_transpose"))


def _no_offset(offset, fn: str) -> None:
    if offset != 0:
        raise OptionError(f"xp.linalg.{fn}: einsdiff does not take offset={offset!r}; leave offset at 0")


def _diagonal(x, /, *, offset=0) -> Expr:
    _no_offset(offset, "diagonal")
    return nf.linalg_diagonal_of(_expr(x, "linalg.diagonal"))


def _trace(x, /, *, offset=0, dtype=None) -> Expr:
    _no_offset(offset, "trace")
    _dtype(dtype, "linalg.trace")
    return nf.linalg_trace_of(_expr(x, "linalg.trace"))


def _vector_norm(x, /, *, axis=None, keepdims=False, ord=2) -> Expr:  # noqa: A002 - the standard's name
    return nf.vector_norm_of(_expr(x, "linalg.vector_norm"), axis=axis, keepdims=keepdims, ord=ord)


def _matrix_norm(x, /, *, keepdims=False, ord="fro") -> Expr:  # noqa: A002 - the standard's name
    return nf.matrix_norm_of(_expr(x, "linalg.matrix_norm"), keepdims=keepdims, ord=ord)


def _matrix_power(x, n, /) -> Expr:
    """x @ x @ ... (n times); x⁻¹ multiplied for negative n; the identity for n = 0."""
    return fns.matrix_power(_expr(x, "linalg.matrix_power"), n)


def _cross(x1, x2, /, *, axis=-1) -> Expr:
    """The cross product of 3-vectors along ``axis``: ε[i,j,k] x1[j] x2[k]."""
    a, b = _expr(x1, "linalg.cross", "x1"), _expr(x2, "linalg.cross", "x2")
    shape = build.broadcast_shape(a.shape, b.shape)
    a, b = build.broadcast_to(a, shape), build.broadcast_to(b, shape)
    (p,) = _each_axis("linalg.cross", a, axis)
    if shape[p] != 3:
        raise ShapeError(f"xp.linalg.cross: axis {axis} has size {shape[p]}; the cross product takes 3-vectors")
    levi = np.zeros((3, 3, 3))
    for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        levi[i, j, k], levi[i, k, j] = 1.0, -1.0
    a, b = nf.moveaxis_of(a, p, -1), nf.moveaxis_of(b, p, -1)
    return nf.moveaxis_of(nf.einsum_of("ijk,...j,...k->...i", Const(levi), a, b), -1, p)


class SlogdetResult(NamedTuple):
    sign: Expr
    logabsdet: Expr


def _slogdet_result(x, /) -> SlogdetResult:
    return SlogdetResult(*fns.slogdet(_expr(x, "linalg.slogdet")))


def _det_of(x, /) -> Expr:
    return fns.det(_expr(x, "linalg.det"))


def _inv_of(x, /) -> Expr:
    return fns.inv(_expr(x, "linalg.inv"))


def _cholesky_of(x, /, *, upper=False) -> Expr:
    factor = fns.cholesky(_expr(x, "linalg.cholesky"))
    return matrix_transpose(factor) if upper else factor


def _eigh_of(x, /) -> fns.factor.EighResult:
    return fns.eigh(_expr(x, "linalg.eigh"))


def _eigvalsh_of(x, /) -> Expr:
    return fns.eigvalsh(_expr(x, "linalg.eigvalsh"))


def _outer_of(x1, x2, /) -> Expr:
    return fns.outer(_expr(x1, "linalg.outer", "x1"), _expr(x2, "linalg.outer", "x2"))


def _solve_of(x1, x2, /) -> Expr:
    return fns.solve(_expr(x1, "linalg.solve", "x1"), _expr(x2, "linalg.solve", "x2"))


def _svd_of(x, /, *, full_matrices=True) -> nf.SVDResult:
    """The thin SVD: the standard's default (full_matrices=True) is refused, as in np.linalg.svd."""
    return nf.svd_of(_expr(x, "linalg.svd"), full_matrices=full_matrices)


def _svdvals_of(x, /) -> Expr:
    return fns.svdvals(_expr(x, "linalg.svdvals"))


def _pinv_of(x, /, *, rtol=None) -> Expr:
    """numpy's pseudo-inverse, at numpy's cutoff (1e-15 times the largest singular value)."""
    if rtol is not None:
        raise OptionError(f"xp.linalg.pinv: einsdiff does not take rtol={rtol!r}; leave rtol at None (numpy's cutoff)")
    return fns.pinv(_expr(x, "linalg.pinv"))


linalg = types.ModuleType(f"{__name__}.linalg", "The standard's linalg extension, on expressions.")
linalg.__dict__.update({
    "cholesky": _cholesky_of, "cross": _cross, "det": _det_of, "diagonal": _diagonal, "eigh": _eigh_of,
    "eigvalsh": _eigvalsh_of, "inv": _inv_of, "matmul": matmul,
    "matrix_norm": _matrix_norm, "matrix_power": _matrix_power, "matrix_transpose": matrix_transpose,
    "outer": _outer_of, "pinv": _pinv_of, "slogdet": _slogdet_result, "solve": _solve_of, "svd": _svd_of,
    "svdvals": _svdvals_of, "tensordot": tensordot, "trace": _trace,
    "vecdot": vecdot, "vector_norm": _vector_norm,
})


# scipy.special's elementwise functions look for xp.special.<name> in a namespace scipy does not
# know (with SCIPY_ARRAY_API=1): these are the ones einsdiff's ufunc table builds.
special = types.ModuleType(f"{__name__}.special", "scipy.special's elementwise functions einsdiff builds.")
special.__dict__.update({name: builder for name, builder in _SCIPY.items()})


# -- data types -------------------------------------------------------------------------------
def astype(x, dtype, /, *, copy=True, device=None) -> Expr:
    """``x`` itself for float64 (what it is computed in); other dtypes are refused."""
    _dtype(dtype, "astype")
    _device(device, "astype")
    return _expr(x, "astype")


def _dtype_of(value):
    """An array's or expression's dtype; a dtype (or a type naming one) as it is."""
    if isinstance(value, Expr):
        return float64
    return value if isinstance(value, type | np.dtype) else getattr(value, "dtype", value)


def result_type(*arrays_and_dtypes):
    """numpy's result type, an expression counting as float64."""
    return np.result_type(*(_dtype_of(v) for v in arrays_and_dtypes))


def can_cast(from_, to, /) -> builtins.bool:
    return builtins.bool(np.can_cast(_dtype_of(from_), to))


def finfo(type, /):  # noqa: A002 - the standard's name
    return np.finfo(_dtype_of(type))


def iinfo(type, /):  # noqa: A002 - the standard's name
    return np.iinfo(_dtype_of(type))


_KINDS = {"bool": "b", "signed integer": "i", "unsigned integer": "u", "integral": "iu",
          "real floating": "f", "complex floating": "c", "numeric": "iufc"}


def isdtype(dtype, kind) -> builtins.bool:
    """Whether ``dtype`` is of ``kind``: a dtype, one of the standard's kind names, or a tuple of them.

    >>> isdtype(float64, ("integral", "real floating"))
    True
    """
    if isinstance(kind, tuple):
        return builtins.any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise OptionError(f"xp.isdtype: kind {kind!r} is none of {', '.join(map(repr, _KINDS))}")
        return np.dtype(dtype).kind in _KINDS[kind]
    return np.dtype(dtype) == np.dtype(kind)


# -- what has no derivative or no meaning here ------------------------------------------------
_INDEX = "its result is an index, which has no derivative; evaluate the expression first (ed.evaluate) and use numpy"
_SHAPE = ("the shape of its result depends on the values, and an expression's shape is fixed; evaluate the "
          "expression first (ed.evaluate) and use numpy")
_STEP = ("it is piecewise constant (its derivative is 0 wherever it exists); evaluate that part first and pass "
         "the array as a constant")
_TEST = ("a true/false test of the values is known only after evaluation; einsdiff's masks are the comparisons "
         "(xp.greater, xp.less, ...) as 0/1 expressions, combined by * and 1 - m")
_FINITE = ("whether a value is finite is known only after evaluation, and has no derivative (scipy.special's "
           "logsumexp and log_softmax test their max shift with it: use ed.logsumexp and ed.log_softmax, which "
           "are stable and differentiable)")
_BITS = "integers and bits have no derivative"
_DECOMPOSITION = ("einsdiff has no rule for this decomposition yet; write the model with xp.linalg.cholesky, "
                  "eigh, inv, solve, det or slogdet")


def _formula(text: str) -> str:
    return f"einsdiff has no rule for it yet; write it as {text} with the functions it has"


REFUSED: dict[str, str] = {
    "argmax": _INDEX, "argmin": _INDEX, "argsort": _INDEX, "searchsorted": _INDEX,
    "nonzero": _SHAPE, "unique_all": _SHAPE, "unique_counts": _SHAPE, "unique_inverse": _SHAPE,
    "unique_values": _SHAPE,
    "sort": "the order depends on the values, and the formula may not; evaluate first and sort the array",
    "floor": _STEP, "ceil": _STEP, "round": _STEP, "trunc": _STEP, "floor_divide": _STEP, "signbit": _STEP,
    "remainder": _formula("x1 - x2 * floor(x1 / x2), the floor evaluated first"),
    "isfinite": _FINITE, "isinf": _FINITE, "isnan": _FINITE, "all": _TEST, "any": _TEST,
    "logical_and": _TEST, "logical_or": _TEST, "logical_not": _TEST, "logical_xor": _TEST,
    "bitwise_and": _BITS, "bitwise_or": _BITS, "bitwise_xor": _BITS, "bitwise_invert": _BITS,
    "bitwise_left_shift": _BITS, "bitwise_right_shift": _BITS,
    "asinh": _formula("log(x + sqrt(x**2 + 1))"), "acosh": _formula("log(x + sqrt(x**2 - 1))"),
    "atanh": _formula("(log1p(x) - log1p(-x)) / 2"), "atan2": _formula("an atan of x1 / x2 for x2 > 0"),
    "copysign": _formula("abs(x1) * sign(x2)"),
    "from_dlpack": "an expression is a formula, not a buffer; pass the array to xp.asarray",
    "linalg.qr": _DECOMPOSITION, "linalg.matrix_rank": "a rank is an integer: " + _BITS,
}
"""The standard's functions einsdiff does not build, each with the reason its error gives."""


def _refusal(name: str, reason: str):
    def refused(*args, **kwargs):
        raise OperandError(f"xp.{name}: {reason}")

    refused.__name__ = refused.__qualname__ = name.rpartition(".")[2]
    refused.__doc__ = f"Refused: {reason}."
    return refused


for _name, _reason in REFUSED.items():
    _space, _, _short = _name.rpartition(".")
    setattr(linalg if _space else sys.modules[__name__], _short, _refusal(_name, _reason))
