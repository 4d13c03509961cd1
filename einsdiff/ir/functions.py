"""The table of functions of whole tensors (the :class:`~einsdiff.ir.expr.Call` node): one entry each.

An entry holds the numpy evaluation (which checks its arguments: a singular matrix is an
error), the same evaluation against an array namespace ``xp`` under numpy's names for the
other backends (unchecked: jax and dask cannot look at values without computing them, so
there a singular matrix gives inf or nan, and logdet of a non-positive determinant nan),
the forward rule (``jvp``: the node's Jacobian from its arguments' Jacobians, which carry
the variable's axes at the end), the reverse rule (``vjp``: each argument's share of an
adjoint that carries f's axes in front), and the NumPy source generated code uses.
Matrices are the last two axes; leading axes are a batch. The derivative rules are
contractions over labelled indices, e.g. for the inverse Y = X⁻¹:
dY[i,j] = -Y[i,k] dX[k,l] Y[l,j].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import EvaluationError
from .expr import Add, Call, Contract, Expr, Var, is_zero, zero
from .ops import apply
from .simplify import add
from .simplify import contract as _contract


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    numpy: Callable[[Call, list[np.ndarray]], np.ndarray]
    array: Callable  # (xp, node, args) -> value: the other backends (xp: see einsdiff.engine.backends)
    jvp: Callable[[Call, tuple[Expr | None, ...], tuple[int, ...]], Expr | None]
    vjp: Callable[[Call, Expr, tuple[int, ...]], tuple[Expr | None, ...]]
    source: str  # NumPy source: {0}, {1}, ... the arguments, {p} the parameter
    helper: str = ""  # a function ``source`` calls, emitted once into generated code


# -- labels -------------------------------------------------------------------------------
def _labels(tag: str, n: int) -> tuple:
    return tuple((tag, p) for p in range(n))


def _sizes(labels: tuple, shape: tuple[int, ...]) -> dict:
    return dict(zip(labels, shape, strict=True))


def contract(operands, inputs, output, sizes) -> Expr:
    """A network over labels; ``sizes`` may list more labels than it uses (a label absent
    from the network would otherwise count as a summed index, a factor of its size)."""
    used = set(output).union(*inputs)
    return _contract(operands, inputs, output, {k: n for k, n in sizes.items() if k in used})


def _neg(e: Expr) -> Expr:
    return add([e], [-1.0], e.shape)


def inv_node(x: Expr) -> Expr:
    """X⁻¹, with (Aᵀ)⁻¹ written (A⁻¹)ᵀ so that both share one inverse."""
    if isinstance(x, Contract) and len(x.operands) == 1 and len(set(x.output)) == x.ndim:
        out, (inner,) = x.output, x.inputs
        if inner == out[:-2] + (out[-1], out[-2]):
            labels = tuple(range(x.ndim))
            swapped = labels[:-2] + (labels[-1], labels[-2])
            return contract([inv_node(x.operands[0])], [labels], swapped, _sizes(labels, x.operands[0].shape))
    return Call("inv", (x,), (), x.shape)


def _matrix_labels(node_arg: Expr, extra: tuple[int, ...], lead: tuple[int, ...] = ()):
    """Batch labels, the size of the matrices, derivative (or lead) labels and all sizes."""
    nb = node_arg.ndim - 2
    batch, n = _labels("b", nb), node_arg.shape[-1]
    d, t = _labels("d", len(extra)), _labels("t", len(lead))
    sizes = _sizes(batch, node_arg.shape[:nb]) | _sizes(d, extra) | _sizes(t, lead)
    sizes |= {"i": n, "j": n, "k": n, "l": n}
    return batch, d, t, sizes


def _describe(x: Expr) -> str:
    return f"variable {x.name!r}" if isinstance(x, Var) else "its argument"


def _linalg(node: Call, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Run ``compute``, turning numpy's singular-matrix failure into an einsdiff error."""
    x = node.args[0]
    try:
        with np.errstate(all="ignore"):
            out = compute()
    except np.linalg.LinAlgError as err:
        raise EvaluationError(
            f"{node.fn}: {_describe(x)} (a matrix of shape {x.shape}) is singular at the given values "
            f"({err}); make it invertible, e.g. add a multiple of the identity"
        ) from err
    return out


# -- inverse -----------------------------------------------------------------------------------
def _inv_numpy(node, a):
    out = _linalg(node, lambda: np.linalg.inv(a[0]))
    if not np.all(np.isfinite(out)) and np.all(np.isfinite(a[0])):
        raise EvaluationError(
            f"inv: {_describe(node.args[0])} (a matrix of shape {node.args[0].shape}) is numerically "
            f"singular at the given values; its inverse overflows"
        )
    return out


def _inv_jvp(node, tangents, extra):
    """dY[i,j] = -Y[i,k] dX[k,l] Y[l,j]."""
    (dx,) = tangents
    b, d, _, sizes = _matrix_labels(node.args[0], extra)
    return _neg(contract([node, dx, node], [b + ("i", "k"), b + ("k", "l") + d, b + ("l", "j")], b + ("i", "j") + d, sizes))


def _inv_vjp(node, adj, lead):
    """df/dX[k,l] = -Y[i,k] df/dY[i,j] Y[l,j]."""
    b, _, t, sizes = _matrix_labels(node.args[0], (), lead)
    return (_neg(contract([adj, node, node], [t + b + ("i", "j"), b + ("i", "k"), b + ("l", "j")], t + b + ("k", "l"), sizes)),)


# -- determinants: d det X = det X (X⁻¹)[l,k] dX[k,l];  d log|det X| = (X⁻¹)[l,k] dX[k,l] -------------
def _det_jvp(with_det: bool):
    def jvp(node, tangents, extra):
        (dx,) = tangents
        x = node.args[0]
        b, d, _, sizes = _matrix_labels(x, extra)
        ops, ins = [inv_node(x), dx], [b + ("l", "k"), b + ("k", "l") + d]
        if with_det:
            ops, ins = [node] + ops, [b] + ins
        return contract(ops, ins, b + d, sizes)

    return jvp


def _det_vjp(with_det: bool):
    def vjp(node, adj, lead):
        x = node.args[0]
        b, _, t, sizes = _matrix_labels(x, (), lead)
        ops, ins = [adj, inv_node(x)], [t + b, b + ("l", "k")]
        if with_det:
            ops, ins = ops + [node], ins + [b]
        return (contract(ops, ins, t + b + ("k", "l"), sizes),)

    return vjp


def _logdet_numpy(node, a):
    sign, logabs = _linalg(node, lambda: np.linalg.slogdet(a[0]))
    bad = np.asarray(sign) <= 0
    if np.any(bad):
        x = node.args[0]
        what = "zero (the matrix is singular)" if np.any(np.asarray(sign)[bad] == 0) else "negative"
        raise EvaluationError(
            f"logdet: the determinant of {_describe(x)} (shape {x.shape}) is {what} at the given values; "
            f"use ed.logdet(X, absolute=True) for log|det X|, or ed.slogdet(X) for the sign too"
        )
    return logabs


def _logdet_array(xp, node, a):
    sign, logabs = xp.linalg.slogdet(a[0])
    return xp.where(sign > 0, logabs, float("nan"))


_LOGDET_SOURCE = """\
def _logdet(x):
    sign, logabs = np.linalg.slogdet(x)
    if np.any(sign <= 0):
        raise ValueError("logdet: the determinant is not positive at the given values")
    return logabs
"""


def _no_jvp(node, tangents, extra):
    return None


def _no_vjp(node, adj, lead):
    return (None,) * len(node.args)


# -- solve: X = A⁻¹ B, evaluated without forming A⁻¹ -----------------------------------------------
# A has shape batch + (n, n); B has shape batch + (n,) + rest, with any number of trailing axes.
def _solve_numpy(node, a):
    mat, rhs = a
    nb = mat.ndim - 2
    flat = rhs.reshape(rhs.shape[: nb + 1] + (-1,))
    out = _linalg(node, lambda: np.linalg.solve(mat, flat))
    return out.reshape(rhs.shape)


def _solve_array(xp, node, a):
    mat, rhs = a
    shape = tuple(rhs.shape)
    flat = xp.reshape(rhs, shape[: mat.ndim - 1] + (-1,))
    return xp.reshape(xp.linalg.solve(mat, flat), shape)


def solve_node(a: Expr, b: Expr) -> Expr:
    """A⁻¹ B; for B = c I (an adjoint through a trace) it is c A⁻¹, shared with other uses of A⁻¹."""
    scale, core = (b.coeffs[0], b.terms[0]) if isinstance(b, Add) and len(b.terms) == 1 else (1.0, b)
    if isinstance(core, Contract) and not core.operands and core.output == (0, 0) and a.ndim == 2:
        return add([inv_node(a)], [scale], a.shape)
    return Call("solve", (a, b), (), b.shape)


def _solve_labels(node, extra=(), lead=()):
    a, b = node.args
    batch, d, t, sizes = _matrix_labels(a, extra, lead)
    rest = _labels("r", b.ndim - a.ndim + 1)
    return batch, rest, d, t, sizes | _sizes(rest, b.shape[a.ndim - 1:])


def _solve_jvp(node, tangents, extra):
    """dX = A⁻¹ (dB - dA X), itself a solve."""
    da, db = tangents
    a, _ = node.args
    batch, rest, d, _, sizes = _solve_labels(node, extra)
    shape = node.shape + tuple(extra)
    parts, coeffs = [], []
    if db is not None:
        parts.append(db)
        coeffs.append(1.0)
    if da is not None:
        parts.append(contract([da, node], [batch + ("i", "k") + d, batch + ("k",) + rest], batch + ("i",) + rest + d, sizes))
        coeffs.append(-1.0)
    return solve_node(a, add(parts, coeffs, shape))


def _solve_vjp(node, adj, lead):
    """G = A⁻ᵀ df/dX (a solve with Aᵀ); df/dB = G and df/dA[k,l] = -G[k] X[l]."""
    a, _ = node.args
    batch, rest, _, t, sizes = _solve_labels(node, (), lead)
    moved = contract([adj], [t + batch + ("i",) + rest], batch + ("i",) + t + rest, sizes)
    a_t = contract([a], [batch + ("i", "k")], batch + ("k", "i"), sizes)
    g = solve_node(a_t, moved)
    d_b = contract([g], [batch + ("k",) + t + rest], t + batch + ("k",) + rest, sizes)
    d_a = _neg(contract([g, node], [batch + ("k",) + t + rest, batch + ("l",) + rest], t + batch + ("k", "l"), sizes))
    return d_a, d_b


_SOLVE_SOURCE = """\
def _solve(a, b):
    # b: batch + (n,) + any trailing axes, solved as one right-hand side matrix.
    nb = a.ndim - 2
    return np.linalg.solve(a, b.reshape(b.shape[: nb + 1] + (-1,))).reshape(b.shape)
"""


# -- logsumexp over ``param`` (the reduced axes), shifted by its max ---------------------------------
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
    every = _labels("x", x.ndim)
    kept = tuple(l for p, l in enumerate(every) if p not in node.param)
    back = contract([node], [kept], every, _sizes(every, x.shape))
    return apply("exp", add([x, back], [1.0, -1.0], x.shape))


def _logsumexp_jvp(node, tangents, extra):
    (dx,) = tangents
    x = node.args[0]
    every, d = _labels("x", x.ndim), _labels("d", len(extra))
    kept = tuple(l for p, l in enumerate(every) if p not in node.param)
    return contract([softmax_of(node), dx], [every, every + d], kept + d, _sizes(every + d, x.shape + tuple(extra)))


def _logsumexp_vjp(node, adj, lead):
    x = node.args[0]
    every, t = _labels("x", x.ndim), _labels("t", len(lead))
    kept = tuple(l for p, l in enumerate(every) if p not in node.param)
    return (contract([adj, softmax_of(node)], [t + kept, every], t + every, _sizes(every + t, x.shape + tuple(lead))),)


# -- where(mask, a, b): a where mask is nonzero, else b; the mask is not differentiated ------------
def where_node(mask: Expr, a: Expr, b: Expr) -> Expr:
    if is_zero(a) and is_zero(b):
        return a
    return Call("where", (mask, a, b), (), a.shape)


def _spread_mask(mask: Expr, front: tuple[int, ...], back: tuple[int, ...]) -> Expr:
    """The mask broadcast over extra axes in front (an adjoint's) or behind (a Jacobian's)."""
    own, f, k = _labels("x", mask.ndim), _labels("t", len(front)), _labels("d", len(back))
    return contract([mask], [own], f + own + k, _sizes(own + f + k, mask.shape + tuple(front) + tuple(back)))


def _where_jvp(node, tangents, extra):
    _, da, db = tangents
    if da is None and db is None:
        return None
    shape = node.shape + tuple(extra)
    return where_node(_spread_mask(node.args[0], (), extra), zero(shape) if da is None else da, zero(shape) if db is None else db)


def _where_vjp(node, adj, lead):
    mask = _spread_mask(node.args[0], lead, ())
    nothing = zero(adj.shape)
    return None, where_node(mask, adj, nothing), where_node(mask, nothing, adj)


def _table() -> dict[str, Function]:
    entries = [
        Function("inv", _inv_numpy, lambda xp, node, a: xp.linalg.inv(a[0]), _inv_jvp, _inv_vjp, "np.linalg.inv({0})"),
        Function(
            "det",
            lambda node, a: np.linalg.det(a[0]),
            lambda xp, node, a: xp.linalg.det(a[0]),
            _det_jvp(True),
            _det_vjp(True),
            "np.linalg.det({0})",
        ),
        Function("logdet", _logdet_numpy, _logdet_array, _det_jvp(False), _det_vjp(False), "_logdet({0})", _LOGDET_SOURCE),
        Function(
            "logabsdet",
            lambda node, a: _linalg(node, lambda: np.linalg.slogdet(a[0]))[1],
            lambda xp, node, a: xp.linalg.slogdet(a[0])[1],
            _det_jvp(False),
            _det_vjp(False),
            "np.linalg.slogdet({0})[1]",
        ),
        Function(
            "detsign",
            lambda node, a: np.linalg.slogdet(a[0])[0],
            lambda xp, node, a: xp.linalg.slogdet(a[0])[0],
            _no_jvp,
            _no_vjp,
            "np.linalg.slogdet({0})[0]",
        ),
        Function("solve", _solve_numpy, _solve_array, _solve_jvp, _solve_vjp, "_solve({0}, {1})", _SOLVE_SOURCE),
        Function(
            "logsumexp",
            lambda node, a: _logsumexp(a[0], node.param),
            lambda xp, node, a: _logsumexp_array(xp, a[0], node.param),
            _logsumexp_jvp,
            _logsumexp_vjp,
            "_logsumexp({0}, {p})",
            _LOGSUMEXP_SOURCE,
        ),
        Function(
            "where",
            lambda node, a: np.where(a[0] != 0, a[1], a[2]),
            lambda xp, node, a: xp.where(a[0] != 0, a[1], a[2]),
            _where_jvp,
            _where_vjp,
            "np.where({0} != 0, {1}, {2})",
        ),
    ]
    return {f.name: f for f in entries}


FUNCTIONS: dict[str, Function] = _table()
