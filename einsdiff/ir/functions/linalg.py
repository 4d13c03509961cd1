"""Functions of matrices: inverse, determinants, solve, trace, diagonal. Matrices are the last
two axes; leading axes are a batch (numpy's ``...ij``). The derivative rules are contractions
over labelled indices, e.g. for the inverse Y = X⁻¹: dY[i,j] = -Y[i,k] dX[k,l] Y[l,j]; their
reverse rules are derived by transposition (:mod:`einsdiff.calculus.derive`), but solve's,
which solves with Aᵀ rather than forming an inverse.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import build
from ...errors import EvaluationError, OptionError, ShapeError
from ..expr import Add, Call, Contract, Expr, Var
from ..registry import Function, Notation, Syntax
from ..simplify import add
from ..simplify import contract as _contract
from ..subscripts import einsum
from .base import (contract, describe, labels, linalg, lower_inverse, matrix_labels, name_of, neg, no_jvp, sizes_of,
                   square_matrix)


# -- inverse -----------------------------------------------------------------------------------
def inv_node(x: Expr) -> Expr:
    """X⁻¹, with (Aᵀ)⁻¹ written (A⁻¹)ᵀ so that both share one inverse, and (A⁻¹)⁻¹ = A."""
    if isinstance(x, Call) and x.fn == "inv":
        return x.args[0]
    if isinstance(x, Contract) and len(x.operands) == 1 and len(set(x.output)) == x.ndim:
        out, (inner,) = x.output, x.inputs
        if inner == out[:-2] + (out[-1], out[-2]):
            every = tuple(range(x.ndim))
            swapped = every[:-2] + (every[-1], every[-2])
            return contract([inv_node(x.operands[0])], [every], swapped, sizes_of(every, x.operands[0].shape))
    return Call("inv", (x,), (), x.shape)


def inv(x) -> Expr:
    """The matrix inverse X⁻¹ (batched over leading axes); d(X⁻¹)[i,j]/dX[k,l] = -X⁻¹[i,k] X⁻¹[l,j].

    >>> import einsdiff as ed
    >>> X = ed.var("X", (3, 3))
    >>> print(ed.jacobian(ed.inv(X), X))
    f[i,j,k,l] = -inv(X)[i,k] inv(X)[l,j]
    """
    return inv_node(square_matrix("inv", x))


# -- triangular factors: LAPACK's triangular routines through scipy when it is installed ---------
def triangle(x: Expr) -> str | None:
    """"lower" or "upper" when ``x`` is triangular by construction (a Cholesky factor or its
    transpose), else None: its inverse and solves then cost a triangular pass, not an LU."""
    if isinstance(x, Call) and x.fn == "cholesky":
        return "lower"
    if isinstance(x, Contract) and len(x.operands) == 1 and x.ndim == 2 and x.inputs[0] == x.output[::-1] \
            and x.output[0] != x.output[1] and triangle(x.operands[0]) == "lower":
        return "upper"
    return None


@functools.cache
def scipy_linalg():
    """scipy.linalg, or None: scipy is an optional extra, imported on the first triangular solve."""
    try:
        import scipy.linalg
    except ImportError:
        return None
    return scipy.linalg


# A triangular factor is inverted by halves, in matrix products: a third of a general inverse's
# work, and numpy's BLAS alone (LAPACK's trtri through scipy would wake a second BLAS's threads,
# which then contend with numpy's for the cores).
_TRIANGULAR_INVERSE = {"lower": lower_inverse,
                       "upper": lambda m: np.swapaxes(lower_inverse(np.swapaxes(m, -1, -2)), -1, -2)}


def _inv_numpy(node, a):
    side = triangle(node.args[0])
    out = linalg(node, lambda: (_TRIANGULAR_INVERSE[side] if side else np.linalg.inv)(a[0]))
    if not np.all(np.isfinite(out)) and np.all(np.isfinite(a[0])):
        raise EvaluationError(
            f"inv: {describe(node.args[0])} (a matrix of shape {node.args[0].shape}) is numerically "
            f"singular at the given values; its inverse overflows"
        )
    return out


def _inv_jvp(node, tangents, extra):
    """dY[i,j] = -Y[i,k] dX[k,l] Y[l,j]."""
    (dx,) = tangents
    b, d, _, sizes = matrix_labels(node.args[0], extra)
    return neg(contract([node, dx, node], [b + ("i", "k"), b + ("k", "l") + d, b + ("l", "j")], b + ("i", "j") + d, sizes))


# -- determinants: d det X = det X (X⁻¹)[l,k] dX[k,l];  d log|det X| = (X⁻¹)[l,k] dX[k,l] -------------
def det(x) -> Expr:
    """det X (batched); d det X/dX[k,l] = det X · X⁻¹[l,k].

    >>> import einsdiff as ed, numpy as np
    >>> X = ed.var("X", (3, 3))
    >>> print(ed.grad(ed.det(X), X))
    f[i,j] = inv(X)[j,i] det(X)
    >>> round(float(ed.evaluate(ed.det(X), X=2 * np.eye(3))), 12)
    8.0
    """
    x = square_matrix("det", x)
    return Call("det", (x,), (), x.shape[:-2])


def logdet(x, absolute: bool = False) -> Expr:
    """log det X; d/dX[k,l] = X⁻¹[l,k]. Evaluating it where det X <= 0 raises
    :class:`~einsdiff.EvaluationError`, unless ``absolute=True`` (then it is log|det X|).

    >>> import einsdiff as ed
    >>> X = ed.var("X", (3, 3))
    >>> print(ed.grad(ed.logdet(X), X))
    f[i,j] = inv(X)[j,i]
    """
    x = square_matrix("logdet", x)
    if not isinstance(absolute, bool):
        raise OptionError(f"logdet: absolute must be True or False, got {absolute!r}")
    return Call("logabsdet" if absolute else "logdet", (x,), (), x.shape[:-2])


def slogdet(x) -> tuple[Expr, Expr]:
    """(sign, log|det X|) as numpy.linalg.slogdet; the sign has derivative zero.

    >>> import einsdiff as ed, numpy as np
    >>> sign, logabs = ed.slogdet(ed.var("X", (3, 3)))
    >>> float(ed.evaluate(sign, X=-np.eye(3))), float(ed.evaluate(logabs, X=-np.eye(3)))
    (-1.0, 0.0)
    """
    x = square_matrix("slogdet", x)
    return Call("detsign", (x,), (), x.shape[:-2]), Call("logabsdet", (x,), (), x.shape[:-2])


def _det_jvp(with_det: bool):
    def jvp(node, tangents, extra):
        (dx,) = tangents
        x = node.args[0]
        b, d, _, sizes = matrix_labels(x, extra)
        ops, ins = [inv_node(x), dx], [b + ("l", "k"), b + ("k", "l") + d]
        if with_det:
            ops, ins = [node] + ops, [b] + ins
        return contract(ops, ins, b + d, sizes)

    return jvp


def _logdet_numpy(node, a):
    sign, logabs = linalg(node, lambda: np.linalg.slogdet(a[0]))
    bad = np.asarray(sign) <= 0
    if np.any(bad):
        x = node.args[0]
        what = "zero (the matrix is singular)" if np.any(np.asarray(sign)[bad] == 0) else "negative"
        raise EvaluationError(
            f"logdet: the determinant of {describe(x)} (shape {x.shape}) is {what} at the given values; "
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


# -- solve: X = A⁻¹ B, evaluated without forming A⁻¹ -----------------------------------------------
# A has shape batch + (n, n); B has shape batch + (n,) + rest, with any number of trailing axes.
def solve_node(a: Expr, b: Expr) -> Expr:
    """A⁻¹ B; for B = c I (an adjoint through a trace) it is c A⁻¹, shared with other uses of A⁻¹."""
    scale, core = (b.coeffs[0], b.terms[0]) if isinstance(b, Add) and len(b.terms) == 1 else (1.0, b)
    if isinstance(core, Contract) and not core.operands and core.output == (0, 0) and a.ndim == 2:
        return add([inv_node(a)], [scale], a.shape)
    return Call("solve", (a, b), (), b.shape)


def solve(a, b) -> Expr:
    """X with A X = B (numpy.linalg.solve: ``b`` a vector (n,) or matrices (..., n, k), a
    matrix (n, k) serving every matrix of a batch as numpy 2 reads it, on every numpy);
    evaluated by a linear solve, never by forming A⁻¹, and so are its derivatives.

    >>> import einsdiff as ed
    >>> A, b = ed.var("A", (3, 3)), ed.var("b", (3,))
    >>> print(ed.jacobian(ed.solve(A, b), b))
    f[i,j] = inv(A)[i,j]
    """
    a = square_matrix("solve", a, "the matrix a")
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


def solve_indexed(a: Expr, b: Expr) -> Expr:
    """A⁻¹ B for B of shape batch + (n,) + any trailing axes, as index notation writes the node
    (``solve(A, B)[i,j,k]``); a vector b serves every matrix of a batch, as in :func:`solve`."""
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        what = f"variable {a.name!r}" if isinstance(a, Var) else "the matrix a"
        raise ShapeError(f"solve: {what} has shape {a.shape}; it must be a square matrix (or a stack of them)")
    if b.ndim == 1 and a.ndim > 2:
        b = build.broadcast_to(b, a.shape[:-1])
    if b.shape[: a.ndim - 1] != a.shape[:-1]:
        raise ShapeError(
            f"solve: a has shape {a.shape} but b has shape {b.shape}; b's leading axes must be {a.shape[:-1]} "
            f"(a's batch, then its size n)"
        )
    return solve_node(a, b)


def _triangular_solve(sp, mat: np.ndarray, flat: np.ndarray, lower: bool) -> np.ndarray:
    """A⁻¹ B for a triangular A by BLAS's trsm, laid out so that nothing is copied: B in C order
    is Bᵀ in Fortran's, solved from the right (solve_triangular copies both to Fortran order and
    goes through LAPACK's trtrs, twice as slow for a matrix B); a vector B by solve_triangular."""
    if flat.shape[-1] > 1:
        a_f, trans, low = (mat.T, 0, not lower) if mat.T.flags.f_contiguous else (np.asfortranarray(mat), 1, lower)
        b_f = np.ascontiguousarray(flat).T
        out = sp.get_blas_funcs("trsm", (a_f, b_f))(1.0, a_f, b_f, side=1, lower=int(low), trans_a=trans).T
        if np.all(np.isfinite(out)):
            return out
    return sp.solve_triangular(mat, flat, lower=lower, check_finite=False)  # raises for a zero on the diagonal


def _solve_numpy(node, a):
    mat, rhs = a
    nb = mat.ndim - 2
    flat = rhs.reshape(rhs.shape[: nb + 1] + (-1,))
    side = triangle(node.args[0]) if nb == 0 else None
    sp = scipy_linalg() if side else None
    if sp is not None:
        out = linalg(node, lambda: _triangular_solve(sp, mat, flat, side == "lower"))
        return out.reshape(rhs.shape)
    if side:  # without scipy: the inverse by halves, then a product (an LU would ignore the zeros)
        out = linalg(node, lambda: _TRIANGULAR_INVERSE[side](mat) @ flat)
        return out.reshape(rhs.shape)
    out = linalg(node, lambda: np.linalg.solve(mat, flat))
    return out.reshape(rhs.shape)


def _solve_array(xp, node, a):
    mat, rhs = a
    shape = tuple(rhs.shape)
    flat = xp.reshape(rhs, shape[: mat.ndim - 1] + (-1,))
    return xp.reshape(xp.linalg.solve(mat, flat), shape)


def _solve_labels(node, extra=(), lead=()):
    a, b = node.args
    batch, d, t, sizes = matrix_labels(a, extra, lead)
    rest = labels("r", b.ndim - a.ndim + 1)
    return batch, rest, d, t, sizes | sizes_of(rest, b.shape[a.ndim - 1:])


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
    """G = A⁻ᵀ df/dX (a solve with Aᵀ); df/dB = G and df/dA[k,l] = -G[k] X[l].

    Written by hand: transposing the forward rule would need this very rule (the forward
    rule is itself a solve), and it shares one solve between both arguments."""
    a, _ = node.args
    batch, rest, _, t, sizes = _solve_labels(node, (), lead)
    moved = contract([adj], [t + batch + ("i",) + rest], batch + ("i",) + t + rest, sizes)
    a_t = contract([a], [batch + ("i", "k")], batch + ("k", "i"), sizes)
    g = solve_node(a_t, moved)
    d_b = contract([g], [batch + ("k",) + t + rest], t + batch + ("k",) + rest, sizes)
    d_a = neg(contract([g, node], [batch + ("k",) + t + rest, batch + ("l",) + rest], t + batch + ("k", "l"), sizes))
    return d_a, d_b


_SOLVE_SOURCE = """\
def _solve(a, b):
    # b: batch + (n,) + any trailing axes, solved as one right-hand side matrix.
    nb = a.ndim - 2
    return np.linalg.solve(a, b.reshape(b.shape[: nb + 1] + (-1,))).reshape(b.shape)
"""


# -- built from contractions -------------------------------------------------------------------
def trace(x) -> Expr:
    """tr X, the sum of the diagonal of the last two axes (einsum ``...ii->...``).

    >>> import einsdiff as ed
    >>> X = ed.var("X", (3, 3))
    >>> print(ed.grad(ed.trace(X @ X), X))
    f[i,j] = 2 X[j,i]
    """
    return einsum("...ii->...", square_matrix("trace", x))


def diagonal(x) -> Expr:
    """The diagonal of the last two axes (einsum ``...ii->...i``).

    >>> import einsdiff as ed
    >>> print(ed.diagonal(ed.var("X", (3, 3))))
    f[i] = X[i,i]
    """
    return einsum("...ii->...i", square_matrix("diagonal", x))


def diag(x) -> Expr:
    """A vector to the diagonal matrix (a Kronecker delta, never a dense eye); a matrix to its diagonal.

    >>> import einsdiff as ed
    >>> print(ed.diag(ed.var("b", (3,))))
    f[i,j] = δ[i,j] b[i]; j:3
    """
    x = build.as_expr(x, "diag's argument")
    if x.ndim == 1:
        return _contract([x], [("i",)], ("i", "i"), {"i": x.shape[0]})
    if x.ndim == 2:
        return diagonal(x)
    raise ShapeError(f"diag: {name_of(x)} has shape {x.shape}; give a vector or a matrix (for stacks use diagonal)")


# -- the entries ----------------------------------------------------------------------------------
_INVERSE = "<mrow><mo>−</mo><mn>1</mn></mrow>"  # MathML's ⁻¹
_APPLY = "<mo>&#x2061;</mo>"  # MathML's function application
_SCALAR = "{name}(X) or {name}[k,l](A[k,m] B[m,l])"  # how a formula calls a scalar function of a matrix


def _whole(name: str, builder, example: str = _SCALAR, indexed: bool = False, arity: int = 1) -> Syntax:
    return Syntax((name,), "whole", arity, builder, indexed=indexed, example=example)


ENTRIES = (
    Function(
        "inv", "call",
        Notation("inv", text="inv({0})", latex="{0}^{{-1}}", mathml=f"<msup>{{0}}{_INVERSE}</msup>",
                 matrix="{0:name}⁻¹", indexed=True, rule="inverse rule", rule_text="d(X⁻¹) = -X⁻¹ dX X⁻¹",
                 rule_latex=r"d(X^{-1}) = -X^{-1}\, dX\, X^{-1}"),
        _whole("inv", inv, "inv(X)[i,j] or inv[k,l](A[k,m] B[m,l])[i,j]", indexed=True),
        builder=inv, numpy=_inv_numpy, array=lambda xp, node, a: xp.linalg.inv(a[0]), jvp=_inv_jvp,
        source="np.linalg.inv({0})", node=inv_node,
    ),
    Function(
        "det", "call",
        Notation("det", text="det({0})", latex=r"\det {0}", mathml=f"<mi>det</mi>{_APPLY}{{0}}", matrix="det({0})",
                 indexed=True, rule="determinant rule", rule_text="d det X = det X tr(X⁻¹ dX)",
                 rule_latex=r"d \det X = \det X \operatorname{tr}(X^{-1} dX)"),
        _whole("det", det),
        builder=det, numpy=lambda node, a: np.linalg.det(a[0]), array=lambda xp, node, a: xp.linalg.det(a[0]),
        jvp=_det_jvp(True), source="np.linalg.det({0})",
    ),
    Function(
        "logdet", "call",
        Notation("logdet", text="logdet({0})", latex=r"\log\det {0}",
                 mathml=f"<mi>log</mi>{_APPLY}<mi>det</mi>{_APPLY}{{0}}", matrix="log det({0})", indexed=True,
                 rule="log-determinant rule", rule_text="d log det X = tr(X⁻¹ dX)",
                 rule_latex=r"d \log\det X = \operatorname{tr}(X^{-1} dX)"),
        _whole("logdet", logdet),
        builder=logdet, numpy=_logdet_numpy, array=_logdet_array, jvp=_det_jvp(False), source="_logdet({0})",
        helper=_LOGDET_SOURCE,
    ),
    Function(
        "logabsdet", "call",
        Notation("logabsdet", text="logabsdet({0})", latex=r"\log\left\lvert\det {0}\right\rvert",
                 mathml=f"<mi>log</mi>{_APPLY}<mrow><mo>|</mo><mi>det</mi>{_APPLY}{{0}}<mo>|</mo></mrow>", indexed=True,
                 rule="log-determinant rule", rule_text="d log|det X| = tr(X⁻¹ dX)",
                 rule_latex=r"d \log\lvert\det X\rvert = \operatorname{tr}(X^{-1} dX)"),
        _whole("logabsdet", lambda x: logdet(x, absolute=True)),
        builder=lambda x: logdet(x, absolute=True),
        numpy=lambda node, a: linalg(node, lambda: np.linalg.slogdet(a[0]))[1],
        array=lambda xp, node, a: xp.linalg.slogdet(a[0])[1], jvp=_det_jvp(False), source="np.linalg.slogdet({0})[1]",
    ),
    Function(
        "detsign", "call",
        Notation("detsign", text="detsign({0})", latex=r"\operatorname{{sign}}\det {0}",
                 mathml=f"<mi>sign</mi>{_APPLY}<mi>det</mi>{_APPLY}{{0}}", indexed=True,
                 rule="sign of a determinant", rule_text="piecewise constant: d sign(det X) = 0",
                 rule_latex=r"d \operatorname{sign}\det X = 0"),
        _whole("detsign", lambda x: slogdet(x)[0]),
        builder=lambda x: slogdet(x)[0], numpy=lambda node, a: np.linalg.slogdet(a[0])[0],
        array=lambda xp, node, a: xp.linalg.slogdet(a[0])[0], jvp=no_jvp, source="np.linalg.slogdet({0})[0]",
        constant_in=(0,),
    ),
    Function(
        "solve", "call",
        Notation("solve", text="solve({0}, {1})", latex="{0}^{{-1}} {1}", mathml=f"<msup>{{0}}{_INVERSE}</msup>{{1}}",
                 matrix="{0:name}⁻¹ {1:factor}", matrix_binds="product", indexed=True, rule="solve rule",
                 rule_text="X = A⁻¹ B, so dX = A⁻¹ (dB - dA X)", rule_latex=r"X = A^{-1} B,\ dX = A^{-1} (dB - dA\, X)"),
        _whole("solve", solve_indexed, "solve(A, b)[i] or solve[k,l; k](A[k,l], c[k,m] d[m])[i]", indexed=True,
               arity=2),
        builder=solve, numpy=_solve_numpy, array=_solve_array, jvp=_solve_jvp, vjp=_solve_vjp,
        source="_solve({0}, {1})", helper=_SOLVE_SOURCE, node=solve_node,
    ),
    # (detsign, logabsdet), as numpy.linalg.slogdet returns them.
    Function("slogdet", "composite", Notation("slogdet"), builder=slogdet),
    Function("trace", "composite", Notation("trace", matrix="tr({0})"),
             Syntax(("trace", "tr"), "whole", 1, trace, example=_SCALAR, spellings=(("Tr", "tr"),)), builder=trace),
    Function("diagonal", "composite", Notation("diagonal", matrix="diag({0})"), builder=diagonal),
    Function("diag", "composite", Notation("diag", matrix="diag({0})"), builder=diag),
)
