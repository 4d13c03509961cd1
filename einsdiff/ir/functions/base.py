"""What the entries of :mod:`einsdiff.ir.functions` share: labelled contractions, argument checks."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from .. import build
from ...errors import EvaluationError, ShapeError
from ..expr import Expr, Var
from ..simplify import add
from ..simplify import contract as _contract


def labels(tag: str, n: int) -> tuple:
    return tuple((tag, p) for p in range(n))


def sizes_of(names: tuple, shape: tuple[int, ...]) -> dict:
    return dict(zip(names, shape, strict=True))


def contract(operands, inputs, output, sizes) -> Expr:
    """A network over labels; ``sizes`` may list more labels than it uses (a label absent
    from the network would otherwise count as a summed index, a factor of its size)."""
    used = set(output).union(*inputs)
    return _contract(operands, inputs, output, {k: n for k, n in sizes.items() if k in used})


def neg(e: Expr) -> Expr:
    return add([e], [-1.0], e.shape)


def describe(x: Expr) -> str:
    return f"variable {x.name!r}" if isinstance(x, Var) else "its argument"


def name_of(x: Expr) -> str:
    return f"variable {x.name!r}" if isinstance(x, Var) else "the argument"


def square_matrix(fn: str, x, what: str = "") -> Expr:
    """``x`` as an Expr, checked to be a square matrix or a stack of them."""
    x = build.as_expr(x, f"{fn}'s argument")
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(
            f"{fn}: {what or name_of(x)} has shape {x.shape}; it must be a square matrix "
            f"(or a stack of them: shape (..., n, n))"
        )
    return x


def axes_of(x: Expr, axis, fn: str) -> tuple[int, ...]:
    try:
        return build.axes_of(x, axis)
    except ShapeError as err:
        raise ShapeError(f"{fn}: {err}") from err


def matrix_labels(node_arg: Expr, extra: tuple[int, ...], lead: tuple[int, ...] = ()):
    """Batch labels, the size of the matrices, derivative (or lead) labels and all sizes."""
    nb = node_arg.ndim - 2
    batch, n = labels("b", nb), node_arg.shape[-1]
    d, t = labels("d", len(extra)), labels("t", len(lead))
    sizes = sizes_of(batch, node_arg.shape[:nb]) | sizes_of(d, extra) | sizes_of(t, lead)
    sizes |= {"i": n, "j": n, "k": n, "l": n}
    return batch, d, t, sizes


def linalg(node, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Run ``compute``, turning numpy's singular-matrix failure into an einsdiff error."""
    x = node.args[0]
    try:
        with np.errstate(all="ignore"):
            out = compute()
    except np.linalg.LinAlgError as err:
        raise EvaluationError(
            f"{node.fn}: {describe(x)} (a matrix of shape {x.shape}) is singular at the given values "
            f"({err}); make it invertible, e.g. add a multiple of the identity"
        ) from err
    return out


def lower_inverse(m: np.ndarray) -> np.ndarray:
    """The inverse of lower triangular matrices (a Cholesky factor), by halves:
    [[A, 0], [C, D]]⁻¹ = [[A⁻¹, 0], [-D⁻¹ C A⁻¹, D⁻¹]], a third of the work of a general inverse."""
    n = m.shape[-1]
    if n <= 64:
        return np.linalg.inv(m)
    h = n // 2
    a, d = lower_inverse(m[..., :h, :h]), lower_inverse(m[..., h:, h:])
    out = np.zeros_like(a, shape=m.shape)
    out[..., :h, :h], out[..., h:, h:] = a, d
    out[..., h:, :h] = -(d @ (m[..., h:, :h] @ a))
    return out


def converged(node, what: str, compute: Callable[[], object]):
    """``compute()``, an iterative factorization (``what``: "the SVD", "the eigendecomposition"),
    with numpy's failure to converge turned into an einsdiff error naming the argument."""
    try:
        with np.errstate(all="ignore"):
            return compute()
    except np.linalg.LinAlgError as err:
        x = node.args[0]
        raise EvaluationError(
            f"{node.fn}: {what} of {describe(x)} (shape {x.shape}) did not converge at the given values ({err}); "
            f"check them for inf or nan"
        ) from err


def no_jvp(node, tangents, extra):
    """A piecewise constant function: its derivative is zero."""
    return None


_FACTORIZATIONS = threading.local()  # .last: {key: (a copy of the argument, its factorization)}


def shared_factorization(key: str, x: np.ndarray, compute: Callable[[], object]):
    """``compute()``, the factorization of ``x``, shared by the Call nodes that read one
    factorization (eigh's values and vectors, the SVD's three factors): within a call of a
    compiled function they receive the same argument, so the last factorization per thread
    and ``key`` is reused when the argument's content is the same (compared, not trusted by
    identity: a caller may change an array in place between calls)."""
    last = getattr(_FACTORIZATIONS, "last", None)
    if last is None:
        last = _FACTORIZATIONS.last = {}
    hit = last.get(key)
    if hit is not None and hit[0].shape == x.shape and hit[0].dtype == x.dtype and np.array_equal(hit[0], x):
        return hit[1]
    out = compute()
    last[key] = (np.array(x, copy=True), out)
    return out
