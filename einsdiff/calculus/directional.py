"""Directional derivatives and diagonals, without the full Jacobian or Hessian.

``jvp`` pushes a direction through f by forward mode over a scalar step t
(d/dt f(x + t v) at t = 0); ``vjp`` pulls a cotangent back by reverse mode of u · f;
``hvp`` is forward over reverse. Each is an expression whose networks are the size of
its result. The diagonals read J[i, i] inside every product of the Jacobian expression:
sums of products are distributed until the diagonal index meets the factors that carry
it, so an elementwise Jacobian's diagonal is the elementwise derivative, not an n×n matrix.
"""

from __future__ import annotations

from ..ir.build import as_expr
from .derive import Origin, _check_f, _check_wrt, _symmetrized, grad, jacobian, remember
from ..errors import NotScalarError, ShapeError
from ..ir.expr import Add, Call, Contract, Expr, Materialize, Var, bare, is_zero, zero
from ..ir.functions import where_node
from ..ir.simplify import add, contract, distribute, substitute

_STEP = Var("_einsdiff_step", ())  # t: a name no user variable can take (leading underscore is ours)


def _direction(x: Var, v, what: str) -> Expr:
    v = as_expr(v, what)
    if v.shape != x.shape:
        raise ShapeError(f"{what} has shape {v.shape}; it must have the shape of {x.name!r}, {x.shape}")
    return _symmetrized(v, x)  # a symmetric x moves along v's symmetric part: J v with J = ed.jacobian's


def jvp(f: Expr, x: Var, v) -> Expr:
    """J v: the derivative of ``f`` at ``x`` in the direction ``v`` (an array, a constant or
    another variable of x's shape), shape ``f.shape``; costs about one evaluation of f.

    >>> import einsdiff as ed
    >>> A, x, v = ed.var("A", (2, 3)), ed.var("x", (3,)), ed.var("v", (3,))
    >>> print(ed.jvp(A @ x, x, v))
    f[i] = A[i,j] v[j]
    """
    f = _check_f(f)
    x = _check_wrt(f, x, "x")
    v = _direction(x, v, "the direction v")
    moved = substitute(f, {x: x + _STEP * v})
    return substitute(jacobian(moved, _STEP, mode="forward"), {_STEP: as_expr(0.0)})


def vjp(f: Expr, x: Var, u) -> Expr:
    """uᵀ J: the cotangent ``u`` (shape ``f.shape``) pulled back to ``x``, shape ``x.shape``.

    >>> import einsdiff as ed
    >>> A, x, v = ed.var("A", (2, 3)), ed.var("x", (3,)), ed.var("v", (3,))
    >>> print(ed.vjp(A @ x, x, ed.var("u", (2,))))
    f[i] = A[j,i] u[j]
    """
    f = _check_f(f)
    x = _check_wrt(f, x, "x")
    u = as_expr(u, "the cotangent u")
    if u.shape != f.shape:
        raise ShapeError(f"the cotangent u has shape {u.shape}; it must have the shape of f, {f.shape}")
    labels = tuple(range(f.ndim))
    return grad(contract([u, f], [labels, labels], (), dict(zip(labels, f.shape, strict=True))), x, mode="reverse")


def hvp(f: Expr, x: Var, v) -> Expr:
    """H v for a scalar ``f``: forward mode over the gradient, shape ``x.shape``; H = Hᵀ, so
    this is also vᵀ H. Compiled with other derivatives of ``f``, it is the jvp of their
    shared reverse sweep's gradient (:func:`einsdiff.calculus.derive.shared_sweeps`).

    >>> import einsdiff as ed
    >>> A, x, v = ed.var("A", (2, 3)), ed.var("x", (3,)), ed.var("v", (3,))
    >>> print(ed.hvp(ed.sum((A @ x) ** 2), x, v))
    f[i] = 2 A[k,i] v[j] A[k,j]
    """
    _check_scalar(f, "hvp")
    result = jvp(grad(f, x, mode="reverse"), x, v)
    remember(result, Origin(f, x, (x,), lambda g: jvp(g, x, v)))
    return result


def jacobian_diagonal(f: Expr, x: Var) -> Expr:
    """J[i, i] for ``f`` of the shape of ``x`` (e.g. an elementwise function), shape ``x.shape``.

    >>> import einsdiff as ed
    >>> x = ed.var("x", (3,))
    >>> print(ed.jacobian_diagonal(ed.tanh(x), x))
    f[i] = 1 - square(tanh(x[i]))
    """
    f = _check_f(f)
    x = _check_wrt(f, x, "x")
    if f.shape != x.shape:
        raise ShapeError(
            f"jacobian_diagonal needs f of the shape of {x.name!r} {x.shape}, got {f.shape}; "
            f"for other shapes use ed.jvp or ed.jacobian"
        )
    return _diagonal(jacobian(f, x, mode="forward"), x.ndim)


def hessian_diagonal(f: Expr, x: Var) -> Expr:
    """H[i, i] = ∂²f/∂x_i² for a scalar ``f``, shape ``x.shape``.

    >>> import einsdiff as ed
    >>> A, x, v = ed.var("A", (2, 3)), ed.var("x", (3,)), ed.var("v", (3,))
    >>> print(ed.hessian_diagonal(ed.sum((A @ x) ** 2), x))
    f[i] = 2 A[j,i] A[j,i]
    """
    _check_scalar(f, "hessian_diagonal")
    return _diagonal(jacobian(grad(f, x, mode="reverse"), x, mode="forward"), x.ndim)


def _check_scalar(f, what: str) -> None:
    if _check_f(f).shape != ():
        raise NotScalarError(f"{what} needs a scalar f, got shape {f.shape}; reduce it first (e.g. .sum())")


# Distributing products over sums makes more, smaller networks, each planned on its own. Below
# DENSE_BELOW entries the dense tensor is cheaper to read; past MAX_TERMS distributed terms the
# rest is read densely too (the memory guard still stands before anything too large).
DENSE_BELOW = 1 << 16
MAX_TERMS = 64


def _diagonal(e: Expr, n: int, budget: list[int] | None = None) -> Expr:
    """e[i, i] for e of shape s + s with len(s) == n."""
    budget = [MAX_TERMS] if budget is None else budget
    shape = e.shape[:n]
    if is_zero(e):
        return zero(shape)
    if e.size < DENSE_BELOW:
        return _read_diagonal(e, n)
    if isinstance(e, Materialize):
        return _diagonal(e.arg, n, budget)
    if isinstance(e, Add):
        return add([_diagonal(t, n, budget) for t in e.terms], list(e.coeffs), shape)
    if isinstance(e, Call) and e.fn == "where":  # elementwise in all its arguments
        return where_node(*(_diagonal(a, n, budget) for a in e.args))
    if isinstance(e, Contract) and budget[0] > 0:
        split = _distribute(e, n)
        if split is not None:
            budget[0] -= len(split.terms)
            return _diagonal(split, n, budget)
    return _read_diagonal(e, n)


def _read_diagonal(e: Expr, n: int) -> Expr:
    labels = tuple(range(n))
    return contract([e], [labels + labels], labels, dict(zip(labels, e.shape[:n], strict=True)))


def _distribute(e: Contract, n: int) -> Add | None:
    """e as a sum over the terms of its first operand that is a sum carrying a diagonal index."""
    diagonal = set(e.output[n:])
    for k, (op, idx) in enumerate(zip(e.operands, e.inputs, strict=True)):
        inner = bare(op)
        if isinstance(inner, Add) and inner.terms and diagonal & set(idx):
            return distribute(e, k)
    return None
