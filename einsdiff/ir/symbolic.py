"""``ed.symbolic``: run a function written for numpy arrays on einsdiff expressions.

>>> import numpy as np, einsdiff as ed
>>> def loss(w, X, y):
...     r = X @ w - y
...     return np.square(r).sum()
>>> ed.symbolic(loss, w=(3,), X=np.eye(4, 3), y=np.ones(4)).shape
()
"""

from __future__ import annotations

import inspect
import numbers

import numpy as np

from ..errors import OperandError, ShapeError
from .expr import Expr, Var


def symbolic(fn, /, *args, **bindings):
    """``fn`` called with expressions for its arguments, matched to its parameters by name: a
    shape (a tuple of ints, or an int) becomes the variable ``ed.var(name, shape)``, an
    expression (such as an ``ed.var``) stands for itself, and anything else (a numpy array, a
    float, a flag) is passed as it is: numpy computes what depends on arrays alone (``len(y)``,
    ``np.mean(y)``), and an array meeting an expression becomes a constant in it. Write a number
    as a float (``2.0``), since an int is read as a shape. Returns what ``fn`` returns: an
    expression, or a tuple or list of them.

    >>> import numpy as np, einsdiff as ed
    >>> print(ed.symbolic(lambda x, c: np.exp(c * x).sum(), (3,), 2.0))
    f = Σ[i](exp(2 x[i]))
    """
    try:
        bound = inspect.signature(fn).bind(*args, **bindings)
    except TypeError as err:
        raise OperandError(f"ed.symbolic: the arguments do not fit {_name(fn)}: {err}") from err
    except ValueError as err:  # no signature to read (some builtins)
        raise OperandError(f"ed.symbolic: {_name(fn)} has no signature to name its variables by; "
                           f"wrap it in a def with named parameters") from err
    params = inspect.signature(fn).parameters
    for name, value in bound.arguments.items():
        kind = params[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            bound.arguments[name] = tuple(_symbol(f"{name}{k}", v) for k, v in enumerate(value))
        elif kind is inspect.Parameter.VAR_KEYWORD:
            bound.arguments[name] = {key: _symbol(key, v) for key, v in value.items()}
        else:
            bound.arguments[name] = _symbol(name, value)
    result = fn(*bound.args, **bound.kwargs)
    items = result if isinstance(result, tuple | list) else (result,)
    for k, item in enumerate(items):
        if not isinstance(item, Expr):
            what = f"item {k} of what {_name(fn)} returned" if items is result else f"{_name(fn)}"
            detail = (" (an object array: numpy could not keep the expressions, e.g. np.array([...]) of "
                      "expressions; combine them with einsdiff functions instead)"
                      if isinstance(item, np.ndarray) and item.dtype == object else
                      " (it does not depend on the variables, or the code left numpy for plain Python)")
            raise OperandError(f"ed.symbolic: {what} returned a {type(item).__name__}, not an einsdiff "
                               f"expression{detail}")
    return result


def _symbol(name: str, value):
    """The stand-in for the argument ``name``: a variable for a shape, else the value itself."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        value = (value,)
    if isinstance(value, tuple | list) and all(isinstance(n, numbers.Integral) and not isinstance(n, bool | np.bool_)
                                               for n in value):
        if any(n < 0 for n in value):
            raise ShapeError(f"ed.symbolic: argument {name!r} has the shape {tuple(value)}, with a negative size")
        return Var(name, tuple(int(n) for n in value))
    return value


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)
