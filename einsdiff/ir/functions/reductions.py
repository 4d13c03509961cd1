"""Reductions: logsumexp (a node of its own), softmax, log_softmax and the norms built on it
and on sums."""

from __future__ import annotations

import numpy as np

from .. import build
from ...errors import OptionError, ShapeError
from ..expr import Add, Call, Contract, Expr, Map
from ..ops import apply
from ..registry import Function, Notation, Syntax
from ..simplify import add
from . import singular
from .base import axes_of, contract, labels, name_of, sizes_of


def logsumexp(x, axis=None) -> Expr:
    """log Σ exp(x) over ``axis`` (all axes by default), shifted by the max so it never overflows.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.grad(ed.logsumexp(x), x))
    f[i] = exp(x[i] - logsumexp(x))
    """
    x = build.as_expr(x, "logsumexp's argument")
    axes = axes_of(x, axis, "logsumexp")
    if not axes:
        return x
    if is_shifted(x, axes):
        # logsumexp(v + b) = logsumexp(v) + b for b constant along the axes (a max subtracted for stability).
        shifts = [(_unbroadcast(t, axes), c) for t, c in zip(x.terms, x.coeffs, strict=True)]
        rest = [(t, c) for t, (s, c) in zip(x.terms, shifts, strict=True) if s is None]
        moved = [(s, c) for s, c in shifts if s is not None]
        inner = logsumexp(add([t for t, _ in rest], [c for _, c in rest], x.shape), axes)
        return add([inner, *(s for s, _ in moved)], [1.0, *(c for _, c in moved)], inner.shape)
    return Call("logsumexp", (x,), tuple(sorted(axes)), tuple(n for p, n in enumerate(x.shape) if p not in axes))


def is_shifted(x: Expr, axes: tuple[int, ...]) -> bool:
    """Whether ``x`` is a sum v + b with b constant along ``axes`` (only broadcast along them)
    and v not."""
    if not isinstance(x, Add):
        return False
    constant = [_unbroadcast(t, axes) is not None for t in x.terms]
    return any(constant) and not all(constant)


def shifted_logsumexp(u: Expr) -> Expr | None:
    """``log(u)`` for u = Σ exp(v - b) over some axes, b constant along them (the max a stable
    softmax subtracts), as logsumexp(v) - b: the shift cancels from every derivative. Placed as
    ``u`` places the sum (kept axes reordered or broadcast); None for anything else, so that
    log Σ exp(v) without a shift stays as written."""
    if not (isinstance(u, Contract) and len(u.operands) == 1 and isinstance(u.operands[0], Map)
            and u.operands[0].fn == "exp"):
        return None
    (idx,) = u.inputs
    if len(set(idx)) != len(idx) or len(set(u.output)) != len(u.output):
        return None  # a diagonal: not a plain sum
    reduced = tuple(p for p, label in enumerate(idx) if label not in u.output)
    if not reduced:
        return None
    if not is_shifted(u.operands[0].arg, reduced):
        return None
    kept = tuple(label for label in idx if label in u.output)
    return contract([logsumexp(u.operands[0].arg, reduced)], [kept], u.output,
                    {label: u.sizes[label] for label in (*kept, *u.output)})


def _unbroadcast(t: Expr, axes: tuple[int, ...]) -> Expr | None:
    """``t`` without ``axes`` when it is only broadcast along them (its value the same at every
    position of those axes), else None."""
    if not isinstance(t, Contract):
        return None
    along = [t.output[p] for p in axes]
    used = {label for idx in t.inputs for label in idx}
    if any(label in used or t.output.count(label) > 1 for label in along):
        return None
    out = tuple(label for p, label in enumerate(t.output) if p not in axes)
    keep = used | set(out)
    return contract(list(t.operands), list(t.inputs), out, {label: n for label, n in enumerate(t.sizes) if label in keep})


def _logsumexp(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    m = np.max(x, axis=axes, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0.0)  # all -inf (or empty): log 0 = -inf, no nan
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
    return np.squeeze(out, axis=axes)


def _logsumexp_array(xp, x, axes: tuple[int, ...]):
    m = xp.max(x, axis=axes, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)
    return xp.squeeze(xp.log(xp.sum(xp.exp(x - m), axis=axes, keepdims=True)) + m, axis=axes)


_LOGSUMEXP_SOURCE = """\
def _logsumexp(x, axes):
    # Shifted by the max, so exp never overflows.
    m = np.max(x, axis=axes, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
    return np.squeeze(out, axis=axes)
"""


def softmax_of(node: Call) -> Expr:
    """exp(x - logsumexp(x)) broadcast back over the reduced axes: the gradient of logsumexp."""
    (x,) = node.args
    every = labels("x", x.ndim)
    kept = tuple(lab for p, lab in enumerate(every) if p not in node.param)
    back = contract([node], [kept], every, sizes_of(every, x.shape))
    return apply("exp", add([x, back], [1.0, -1.0], x.shape))


def _logsumexp_jvp(node, tangents, extra):
    """d logsumexp(x) = Σ softmax(x) dx over the reduced axes."""
    (dx,) = tangents
    x = node.args[0]
    every, d = labels("x", x.ndim), labels("d", len(extra))
    kept = tuple(lab for p, lab in enumerate(every) if p not in node.param)
    return contract([softmax_of(node), dx], [every, every + d], kept + d, sizes_of(every + d, x.shape + tuple(extra)))


def _back(x: Expr, reduced: Expr, axes: tuple[int, ...]) -> Expr:
    """``reduced`` (x with ``axes`` summed away) broadcast back to x's shape."""
    every = tuple(range(x.ndim))
    kept = tuple(p for p in every if p not in axes)
    return contract([reduced], [kept], every, dict(zip(every, x.shape, strict=True)))


def log_softmax(x, axis=-1) -> Expr:
    """x - logsumexp(x) along ``axis``: never overflows, never takes log of 0 by underflow.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.log_softmax(x))
    f[i] = x[i] - logsumexp(x)
    """
    x = build.as_expr(x, "log_softmax's argument")
    axes = axes_of(x, axis, "log_softmax")
    return build.subtract(x, _back(x, logsumexp(x, axes), axes))


def softmax(x, axis=-1) -> Expr:
    """exp(x - logsumexp(x)) along ``axis``: stable for any magnitude of x.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.softmax(x))
    f[i] = exp(x[i] - logsumexp(x))
    """
    return apply("exp", log_softmax(x, axis))


def norm(x, ord=None, axis=None) -> Expr:  # noqa: A002 - mirrors numpy.linalg.norm
    """numpy.linalg.norm for what is differentiable away from zero: vector norms ``ord`` 2
    (default) or 1 along ``axis`` (all axes flattened when None), and the matrix norms of the
    last two axes (or ``axis=(p, q)``): ``"fro"`` (Frobenius), ``2`` (spectral, the largest
    singular value) and ``"nuc"`` (nuclear, their sum). ``ord=2`` of an array of two or more
    axes with ``axis=None`` is the spectral norm of each matrix, batched.

    >>> import einsdiff as ed, numpy as np
    >>> X = ed.var("X", (2, 2))
    >>> float(ed.evaluate(ed.norm(X, "nuc"), X=np.array([[3.0, 0], [0, -4]])))
    7.0
    """
    x = build.as_expr(x, "norm's argument")
    if ord in ("nuc", 2) and (len(axis) == 2 if isinstance(axis, tuple | list) else axis is None and x.ndim >= 2):
        if axis is None:
            axis = (-2, -1)
        p, q = axes_of(x, axis, "norm")
        rest = tuple(r for r in range(x.ndim) if r not in (p, q))
        matrices = build.transpose(x, rest + (p, q)) if (p, q) != (x.ndim - 2, x.ndim - 1) else x
        return singular.spectral_norm(matrices) if ord == 2 else singular.nuclear_norm(matrices)
    if ord == "fro":
        if axis is None:
            if x.ndim < 2:
                raise ShapeError(f"norm: 'fro' needs a matrix, {name_of(x)} has shape {x.shape}; use ord=2")
            axis = (-2, -1)
        axes = axes_of(x, axis, "norm")
        if len(axes) != 2:
            raise ShapeError(f"norm: 'fro' takes two axes, got axis={axis!r}")
        return apply("sqrt", build.reduce_sum(apply("square", x), axes))
    if ord == "nuc":
        raise ShapeError(f"norm: 'nuc' needs a matrix, {name_of(x)} has shape {x.shape}; use ord=1 or 2")
    if ord not in (None, 1, 2):
        raise OptionError(
            f"norm: ord={ord!r} is not supported; use 2 (Euclidean or spectral), 1 (sum of absolute values), "
            f"'fro' or 'nuc'"
        )
    if axis is None and x.ndim == 2 and ord is not None:
        raise OptionError(
            f"norm: for a matrix numpy's ord={ord} is the max column sum norm, which is not supported; "
            f"pass ord='fro', 2 or 'nuc', or axis=(0, 1) with ord=None for the norm of all entries"
        )
    axes = axes_of(x, axis, "norm")
    if ord == 1:
        return build.reduce_sum(apply("abs", x), axes)
    return apply("sqrt", build.reduce_sum(apply("square", x), axes))


def _norm2(x, axes):
    """As matrixcalculus.org writes it: Euclidean, or Frobenius over two axes."""
    return norm(x, None, axes)


def _norm1(x, axes):
    """The sum of absolute values."""
    return norm(x, 1, axes)


ENTRIES = (
    Function(
        "logsumexp", "call",
        # Text writes logsumexp({0}) for a whole argument reduced over every axis.
        Notation("logsumexp", text="logsumexp[{r}]({0})", latex=r"\log\left(\sum_{{{r}}} \exp\left({0}\right)\right)",
                 mathml=('<mi>log</mi><mo>&#x2061;</mo><mrow><mo>(</mo><mrow><munder><mo movablelimits="false">∑</mo>{r}</munder>'
                         "<mi>exp</mi><mo>&#x2061;</mo><mrow><mo>(</mo>{0}<mo>)</mo></mrow></mrow><mo>)</mo></mrow>"),
                 matrix="logsumexp({0})", rule="logsumexp rule",
                 rule_text="the gradient of log Σ exp(x) is the softmax exp(x - logsumexp(x))",
                 rule_latex=r"\nabla \log\sum e^{x} = e^{x - \log\sum e^{x}}"),
        Syntax(("logsumexp",), "whole", 1, logsumexp, along=logsumexp, reduces=True,
               example="logsumexp(X) or logsumexp[j](x[i,j])"),
        builder=logsumexp, numpy=lambda node, a: _logsumexp(a[0], node.param),
        array=lambda xp, node, a: _logsumexp_array(xp, a[0], node.param), jvp=_logsumexp_jvp,
        source="_logsumexp({0}, {p})", helper=_LOGSUMEXP_SOURCE,
    ),
    Function("softmax", "composite", Notation("softmax"), Syntax(("softmax",), "along", along=softmax),
             builder=softmax),
    Function("log_softmax", "composite", Notation("log_softmax"), Syntax(("log_softmax",), "along", along=log_softmax),
             builder=log_softmax),
    Function("norm", "composite", Notation("norm"), builder=norm),
    Function("norm2", "composite", Notation("norm2"),
             Syntax(("norm2",), "along", along=_norm2, reduces=True, spellings=(("norm", "norm2"),)), builder=_norm2),
    Function("norm1", "composite", Notation("norm1"), Syntax(("norm1",), "along", along=_norm1, reduces=True),
             builder=_norm1),
)
