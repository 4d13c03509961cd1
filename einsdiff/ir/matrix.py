"""Matrix calculus builders: inverse, determinants, solve, trace, norms, softmax, piecewise.

Functions of matrices act on the last two axes; leading axes are a batch (numpy's
``...ij``). Most of these are contractions or elementwise maps; inv, det, logdet,
solve, logsumexp, max, min, prod and where are :class:`~einsdiff.ir.expr.Call` nodes. Each
is defined next to its registry entry in :mod:`einsdiff.ir.functions` (value, rules,
notation, syntax); this module is where the public builders are gathered.
"""

from __future__ import annotations

from .functions import (
    amax,
    amin,
    cholesky,
    det,
    diag,
    diagonal,
    dot,
    eigh,
    eigvalsh,
    flatten,
    inv,
    log_softmax,
    logdet,
    logsumexp,
    maximum,
    minimum,
    norm,
    outer,
    pinv,
    prod,
    reshape,
    slogdet,
    softmax,
    solve,
    svd,
    svdvals,
    trace,
    where,
)
from .functions import expm, logm, matrix_power, sqrtm

__all__ = [
    "amax", "amin", "cholesky", "det", "diag", "diagonal", "dot", "eigh", "eigvalsh", "expm", "flatten", "inv",
    "log_softmax", "logdet", "logm", "logsumexp", "matrix_power", "maximum", "minimum", "norm", "outer", "pinv", "prod",
    "reshape", "slogdet", "softmax", "solve", "sqrtm", "svd", "svdvals", "trace", "where",
]
