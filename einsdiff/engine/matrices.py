"""The Jacobian as a matrix: flattened row- or column-major, dense as an expression or
evaluated sparse."""

from __future__ import annotations

from ..calculus.derive import _check_all, jacobian
from ..errors import OptionError
from ..ir.expr import Expr, Reshape
from ..ir.simplify import contract
from ..ir.variables import gather_bindings, variables


def jacobian_matrix(
    f: Expr, wrt, bindings=None, /, *, order: str = "C", mode: str = "auto", format: str = "dense", **keywords  # noqa: A002
):
    """The Jacobian as a matrix ``(f.size, wrt.size)``.

    ``order="C"`` flattens row-major (vec stacks rows, as in numpy and PyTorch);
    ``order="F"`` column-major (vec stacks columns, as in most matrix-calculus texts).

    ``format="dense"`` returns the expression, to evaluate or compile. ``format="sparse"``
    evaluates it at ``bindings`` (a mapping and/or keywords, as :func:`einsdiff.engine.evaluate`) into a ``scipy.sparse.csr_matrix`` whose stored entries
    follow the delta pattern, never allocating the dense matrix (``pip install "einsdiff[sparse]"``).

    >>> import einsdiff as ed, numpy as np
    >>> x = ed.var("x", (3,))
    >>> ed.jacobian_matrix(ed.tanh(x), x, format="sparse", x=np.zeros(3)).nnz
    3
    """
    bindings = gather_bindings("jacobian_matrix", bindings, keywords, ("order", "mode", "format"),
                               variables(f) if isinstance(f, Expr) else ())
    if not isinstance(order, str) or order not in ("C", "F"):
        raise OptionError(f"order must be 'C' (row-major) or 'F' (column-major), got {order!r}")
    if not isinstance(format, str) or format not in ("dense", "sparse"):
        raise OptionError(f"format must be 'dense' or 'sparse', got {format!r}")
    if format == "dense" and bindings:
        raise OptionError(
            f"jacobian_matrix returns an expression when format='dense'; evaluate it with "
            f"ed.evaluate(J, **bindings) instead of passing {', '.join(sorted(bindings))} here"
        )
    _check_all(f, wrt)
    if isinstance(wrt, tuple | list):
        return tuple(jacobian_matrix(f, w, bindings, order=order, mode=mode, format=format) for w in wrt)
    j = jacobian(f, wrt, mode)
    if order == "F":  # column-major vec = row-major vec of the axes reversed
        nf, nx = f.ndim, wrt.ndim
        perm = tuple(reversed(range(nf))) + tuple(nf + a for a in reversed(range(nx)))
        labels = tuple(range(j.ndim))
        j = contract([j], [labels], perm, dict(zip(labels, j.shape, strict=True)))
    shape = (f.size, wrt.size)
    matrix = j if j.shape == shape else Reshape(j, shape)
    if format == "sparse":
        from .sparse import evaluate_sparse, to_csr  # lazy: sparse is an optional extra

        return to_csr(evaluate_sparse(matrix, **bindings))
    return matrix
