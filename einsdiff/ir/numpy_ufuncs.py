"""NumPy's ufuncs on expressions (NEP 13): ``np.exp(x)``, ``array + x``, ``np.maximum(x, 0)``
build einsdiff expressions.

Each supported ufunc is one entry of :data:`UFUNCS`, mapping it to an einsdiff builder;
inputs may mix expressions, arrays (which become constants) and numbers, broadcast as numpy
does. What einsdiff cannot differentiate or has no meaning for raises an
:class:`~einsdiff.errors.OperandError` naming the numpy function, never an object array.

>>> import numpy as np, einsdiff as ed
>>> x = ed.var("x", (3,))
>>> print(np.logaddexp(0, -x).sum())
f = Σ[i](softplus(-x[i]))
>>> (np.ones(3) @ x).shape
()
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import OperandError
from . import build
from .expr import Const, Expr, as_expr
from .functions import amax, amin, maximum, minimum, prod, reshape
from .ops import apply
from .simplify import contract


def _map(fn: str):
    def builder(x) -> Expr:
        return apply(fn, as_expr(x))

    return builder


def _scaled_log(base: float):
    """log_b x = log x / log b: a constant multiple of log."""
    def builder(x) -> Expr:
        return build.scale(apply("log", as_expr(x)), 1.0 / math.log(base))

    return builder


def _exp2(x) -> Expr:
    return apply("exp", build.scale(as_expr(x), math.log(2.0)))


def _positive(x) -> Expr:
    return as_expr(x)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, Expr)


def logaddexp(a, b) -> Expr:
    """log(eᵃ + eᵇ) = a + softplus(b − a): exact, and finite wherever a and b are."""
    if _is_number(b):  # the number goes outside softplus: np.logaddexp(0, z) is softplus(z)
        a, b = b, a
    if _is_number(a):
        return build.add(apply("softplus", build.add(as_expr(b), -float(a))), float(a))
    a, b = as_expr(a), as_expr(b)
    return build.add(a, apply("softplus", build.subtract(b, a)))


def logaddexp2(a, b) -> Expr:
    """log₂(2ᵃ + 2ᵇ) = logaddexp(a ln 2, b ln 2) / ln 2."""
    ln2 = math.log(2.0)
    return build.scale(logaddexp(*(v * ln2 if _is_number(v) else build.scale(v, ln2) for v in (a, b))), 1.0 / ln2)


def power(a, b) -> Expr:
    """a ** b, as ``**`` builds it (:func:`einsdiff.ir.build.power`): one constant exponent is a
    power map; an expression exponent is exp(b log a), for a positive constant base."""
    try:
        return build.power(a, b)
    except OperandError as err:
        raise OperandError(f"np.power: {err}".replace("a ** b: ", "")) from None


UFUNCS = {
    np.add: build.add,
    np.subtract: build.subtract,
    np.multiply: build.multiply,
    np.divide: build.divide,
    np.negative: build.negative,
    np.positive: _positive,
    np.conjugate: _positive,  # expressions are real
    np.power: power,
    np.float_power: power,
    np.reciprocal: _map("reciprocal"),
    np.square: _map("square"),
    np.sqrt: _map("sqrt"),
    np.exp: _map("exp"),
    np.exp2: _exp2,
    np.expm1: _map("expm1"),
    np.log: _map("log"),
    np.log1p: _map("log1p"),
    np.log2: _scaled_log(2.0),
    np.log10: _scaled_log(10.0),
    np.tanh: _map("tanh"),
    np.sin: _map("sin"),
    np.cos: _map("cos"),
    np.tan: _map("tan"),
    np.arcsin: _map("arcsin"),
    np.arccos: _map("arccos"),
    np.arctan: _map("arctan"),
    np.absolute: _map("abs"),
    np.fabs: _map("abs"),
    np.sign: _map("sign"),
    np.maximum: maximum,
    np.minimum: minimum,
    np.fmax: maximum,  # fmax and fmin differ from maximum only at nan
    np.fmin: minimum,
    np.logaddexp: logaddexp,
    np.logaddexp2: logaddexp2,
    np.greater: build.greater,
    np.less: build.less,
    np.greater_equal: build.greater_equal,
    np.less_equal: build.less_equal,
    np.matmul: build.matmul,
}
"""The ufuncs that build expressions, each with its einsdiff builder."""

# Keywords numpy forwards only when the caller gives them; these values change nothing.
_HARMLESS = {"casting": "same_kind", "order": "K", "subok": True, "where": True, "dtype": None, "signature": None}

_STEP = "its derivative is 0 wherever it exists; evaluate that part first and pass the array as a constant"
_REASONS = {
    "equal": "einsdiff has no equality mask (== on expressions is structural equality); build one from "
             "np.greater_equal and np.less_equal",
    "not_equal": "einsdiff has no inequality mask (!= on expressions is structural inequality); build one "
                 "from np.greater and np.less",
    "floor": _STEP, "ceil": _STEP, "rint": _STEP, "trunc": _STEP,
}


def _log_expit(x) -> Expr:
    """log σ(x) = −softplus(−x)."""
    return build.negative(apply("softplus", build.negative(as_expr(x))))


# scipy.special's ufuncs, by name: scipy is optional, so it is imported only when one is called.
_SCIPY = {"expit": _map("sigmoid"), "log_expit": _log_expit}


def _builder(ufunc):
    """The einsdiff builder of ``ufunc`` and the name to call it by in messages."""
    if getattr(np, ufunc.__name__, None) is ufunc:
        return UFUNCS.get(ufunc), f"np.{ufunc.__name__}"
    if ufunc.__name__ in _SCIPY:
        import scipy.special  # a scipy ufunc was called, so scipy is there

        if getattr(scipy.special, ufunc.__name__, None) is ufunc:
            return _SCIPY[ufunc.__name__], f"scipy.special.{ufunc.__name__}"
    return None, f"the ufunc {ufunc.__name__}"


def array_ufunc(ufunc, method: str, inputs: tuple, kwargs: dict) -> Expr:
    """What ``Expr.__array_ufunc__`` returns: the expression ``ufunc`` builds from ``inputs``."""
    builder, name = _builder(ufunc)
    name += "" if method == "__call__" else f".{method}"
    if (method == "reduce" and ufunc in _REDUCTIONS) or (ufunc is np.add and method == "accumulate"):
        axis = kwargs.pop("axis", 0)
        keepdims = kwargs.pop("keepdims", False) if method == "reduce" else False
        _check_keywords(name, kwargs)
        (x,) = inputs
        x = as_expr(x, f"{name}'s operand")
        return _reduce(_REDUCTIONS[ufunc], x, axis, keepdims) if method == "reduce" else _add_accumulate(x, axis)
    _check_keywords(name, kwargs)
    if builder is None:
        reason = _REASONS.get(ufunc.__name__, "write it with the functions einsdiff has (the guide "
                                              "docs/guides/numpy.md lists them), or evaluate that part first")
        raise OperandError(f"{name} has no derivative einsdiff knows; {reason}")
    operands = [_operand(name, k, v) for k, v in enumerate(inputs)]
    if method == "__call__":
        return builder(*operands)
    if method == "outer":  # numpy allows it for binary ufuncs without a core signature (not matmul)
        a, b = (as_expr(v) for v in operands)  # a's axes first, then b's: a[i, j, None, None] op b[k, l]
        return builder(reshape(a, a.shape + (1,) * b.ndim), b)
    raise OperandError(f"{name}: {_METHODS.get(method, 'einsdiff builds this ufunc only when it is called')}")


_METHODS = {
    "reduce": "einsdiff builds the reductions of np.add (a sum), np.multiply (a product), np.maximum and "
              "np.minimum (and fmax, fmin), and no other; write it with einsdiff's reductions (ed.sum, ed.max, "
              "ed.prod, ed.logsumexp, ed.norm, ...)",
    "accumulate": "einsdiff builds np.add.accumulate (a running sum) and no other running reduction",
    "at": "it writes into an array in place, and expressions are immutable; build the result with ed.where "
          "or by adding a constant array",
    "reduceat": "einsdiff has no segmented reduction; sum each segment (np.add.reduce of a slice) instead",
}


def _check_keywords(name: str, kwargs: dict) -> None:
    for key, value in kwargs.items():
        if key not in _HARMLESS or not _same_value(value, _HARMLESS[key]):
            shown = "..." if key == "out" else repr(value)
            in_place = " (array += expression writes into the array: write array = array + expression)"
            raise OperandError(
                f"{name}: einsdiff cannot honor {key}={shown} on an expression (an expression is an "
                f"immutable formula, not a buffer of some dtype); call {name} without {key}= and use "
                f"the expression it returns{in_place if key == 'out' else ''}"
            )


def _same_value(value, default) -> bool:
    if default is None or isinstance(default, bool):
        return value is default or (isinstance(value, np.bool_) and bool(value) is default)
    return type(value) is type(default) and value == default


def _operand(name: str, k: int, value):
    """An input as a builder takes it: expressions and real numbers as they are, arrays as constants."""
    if isinstance(value, Expr) or (_is_number(value) and not isinstance(value, np.bool_ | bool)):
        return value
    return as_expr(value, f"{name}'s operand {k}")


# ufunc.reduce(x, axis) as the einsdiff reduction it is: np.add.reduce is a sum, np.maximum.reduce a max.
_REDUCTIONS = {np.add: build.reduce_sum, np.multiply: prod, np.maximum: amax, np.minimum: amin,
               np.fmax: amax, np.fmin: amin}


def _reduce(reduction, x: Expr, axis, keepdims) -> Expr:
    """ufunc.reduce(x, axis, keepdims=...): ``reduction`` over ``axis`` (0 unless given; None for all)."""
    total = reduction(x, axis)
    if not keepdims:
        return total
    dropped = build.axes_of(x, axis)
    return reshape(total, tuple(1 if a in dropped else n for a, n in enumerate(x.shape)))


def _add_accumulate(x: Expr, axis) -> Expr:
    """np.add.accumulate(x, axis): out[.., i, ..] = Σ_j L[i, j] x[.., j, ..], L the lower triangle of ones."""
    if axis is None:
        raise OperandError("np.add.accumulate: axis=None runs over the flattened array; reshape the expression "
                           "to one axis first (np.reshape or ed.reshape)")
    (axis,) = build.axes_of(x, axis)
    n = x.shape[axis]
    labels = tuple(range(x.ndim))
    summed = labels[:axis] + ("j",) + labels[axis + 1:]
    sizes = dict(zip(labels, x.shape, strict=True)) | {"j": n}
    return contract([Const(np.tri(n)), x], [(axis, "j"), summed], labels, sizes)
