"""The function registry: one entry per function, every kind in one table.

:data:`FUNCTIONS` maps each name to its :class:`Function`: the elementwise functions (a
:class:`~einsdiff.ir.expr.Map` node; their entries live in :mod:`einsdiff.ir.ops`), the
functions of whole tensors with a :class:`~einsdiff.ir.expr.Call` node of their own (inv,
det, logdet, logabsdet, detsign, solve, logsumexp, max, min, prod, where, take, put, cholesky, eigvalsh,
eigvecs, ...) and the composite ones
built from other nodes (trace, diag, softmax, norms, maximum, dot, reshape, ...). An entry holds the
value (numpy, other backends, generated code), the forward rule (the reverse rule is derived
from it by transposition unless one is written for speed), the notation every printer reads
and the syntax formulas call it by. A new function is one entry in the module of its family
(linalg, factor, reductions, extrema, piecewise, shapes, gather) plus its tests.

>>> FUNCTIONS["inv"].notation.latex.format("X")
'X^{-1}'
>>> FUNCTIONS["trace"].syntax.names
('trace', 'tr')
"""

from __future__ import annotations

from ..ops import OPS
from ..registry import Function, Notation, Syntax
from . import extrema, factor, gather, linalg, piecewise, reductions, shapes, singular, spectral
from .extrema import amax, amin, prod
from .factor import cholesky, eigh, eigvalsh
from .linalg import det, diag, diagonal, inv, inv_node, logdet, slogdet, solve, solve_indexed, solve_node, trace
from .piecewise import maximum, minimum, where, where_node
from .reductions import log_softmax, logsumexp, norm, softmax, softmax_of
from .shapes import dot, flatten, outer, reshape
from .singular import pinv, svd, svdvals
from .spectral import expm, logm, matrix_power, sqrtm


def _table() -> dict[str, Function]:
    table: dict[str, Function] = {}
    for entry in (*OPS.values(), *linalg.ENTRIES, *reductions.ENTRIES, *extrema.ENTRIES, *piecewise.ENTRIES,
                  *shapes.ENTRIES, *gather.ENTRIES, *singular.ENTRIES, *factor.ENTRIES, *spectral.ENTRIES):
        if entry.name in table:
            raise ValueError(f"two registry entries are named {entry.name!r}")
        table[entry.name] = entry
    return table


FUNCTIONS: dict[str, Function] = _table()
CALLS: dict[str, Function] = {name: f for name, f in FUNCTIONS.items() if f.kind == "call"}
"""The entries with a Call node of their own, by name."""

__all__ = [
    "CALLS", "FUNCTIONS", "Function", "Notation", "Syntax", "amax", "amin", "cholesky", "det", "diag", "diagonal",
    "dot", "eigh", "eigvalsh", "expm", "flatten", "inv", "inv_node", "log_softmax", "logdet", "logm", "logsumexp",
    "matrix_power", "maximum", "minimum", "norm", "outer", "pinv", "prod", "reshape", "slogdet", "softmax",
    "softmax_of", "solve", "solve_indexed", "solve_node", "sqrtm", "svd", "svdvals", "trace", "where", "where_node",
]
