"""``ed.evaluate``: one call, dense (through a compiled program) or sparse."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import OperandError, OptionError
from ..ir.expr import Expr
from ..ir.variables import gather_bindings, variables
from .compiled import Compiled
from .sparse import evaluate_sparse


def evaluate(expr: Expr, bindings: Mapping | None = None, /, *, format: str = "dense", backend: str = "numpy",  # noqa: A002
             **keywords):
    """The value of ``expr`` with arrays bound to its variables by name (unused ones are ignored):
    as one mapping, ``evaluate(e, {"A": a, "x": x})``, or as keywords, ``evaluate(e, A=a, x=x)``.
    A variable named like an option (``format``, ``backend``) goes in the mapping.

    ``format="dense"`` returns an ndarray; ``format="sparse"`` a pydata ``sparse.COO`` whose
    stored entries follow the expression's delta pattern, never allocating the dense tensor
    (:mod:`einsdiff.engine.sparse`; needs ``pip install "einsdiff[sparse]"``). ``backend`` picks the
    array library of a dense result (see :class:`Compiled`).

    >>> import einsdiff as ed, numpy as np
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> ed.evaluate(A @ x, A=np.ones((2, 3)), x=np.arange(3.0))
    array([3., 3.])
    """
    if not isinstance(expr, Expr):
        raise OperandError(
            f"evaluate needs an einsdiff expression, got {type(expr).__name__}; "
            f"build it from variables made by ed.var"
        )
    bindings = gather_bindings("evaluate", bindings, keywords, ("format", "backend"), variables(expr))
    if not isinstance(format, str) or format not in ("dense", "sparse"):
        raise OptionError(f"format must be 'dense' or 'sparse', got {format!r}")
    if format == "sparse":
        if backend != "numpy":
            raise OptionError(f"format='sparse' evaluates with numpy; got backend={backend!r} (use format='dense')")
        return evaluate_sparse(expr, **bindings)
    return Compiled([expr], backend)(bindings)[0]
