"""einsdiff: derivatives of tensor expressions written in index notation.

>>> import einsdiff as ed
>>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
>>> print(ed.jacobian(ed.einsum("ij,j->i", A, x), A))
f[i,j,k] = δ[i,j] x[k]; i:2, j:2
"""

__version__ = "0.1.0"  # the one place the version is written; pyproject.toml reads it

import numbers

from .ir.build import as_expr, greater, greater_equal, less, less_equal, matmul, transpose
from .ir.build import divide, power
from .notation.codegen import to_einsum, to_numpy_code
from .config import config
from .ir.build import reduce_sum as sum  # noqa: A004 - mirrors numpy.sum
from .calculus.derive import grad, hessian, jacobian
from .engine.matrices import jacobian_matrix
from .errors import (
    BackendError,
    BindingError,
    EinsdiffError,
    EvaluationError,
    FormulaShapeError,
    MemoryLimitError,
    NoMethodError,
    NotScalarError,
    OperandError,
    OptionError,
    ParseError,
    UnknownVariableError,
    ShapeError,
    SubscriptError,
    VariableConflictError,
    WrtError,
)
from .engine.compiled import Compiled
from .engine.evaluate import evaluate
from .engine.compiled import compile_outputs as compile  # noqa: A004 - the public name
from .calculus.directional import hessian_diagonal, hvp, jacobian_diagonal, jvp, vjp
from .notation.explain import explain, explain_steps
from .frontends.scipy import scipy_objective, scipy_residuals
from .ir.matrix import (
    amax,
    amin,
    cholesky,
    det,
    diag,
    diagonal,
    dot,
    eigh,
    eigvalsh,
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
from .ir.matrix import expm, logm, matrix_power, sqrtm
from .ir.matrix import amax as max  # noqa: A004 - mirrors numpy.max
from .ir.matrix import amin as min  # noqa: A004 - mirrors numpy.min
from .ir.expr import Expr, Var
from .ir.ops import OPS
from .notation.mathml import to_mathml
from .notation.matrixform import to_matrix_notation
from .notation.parse import parse
from .notation.printing import to_index_notation, to_latex
from .ir.simplify import simplify, substitute
from .ir.subscripts import einsum
from .ir.symbolic import symbolic
from . import array_api  # noqa: F401 - einsdiff.array_api: the namespace Expr.__array_namespace__ gives


def var(name: str, shape, *, symmetric: bool = False) -> Var:
    """A variable: a named input tensor of a fixed shape.

    ``symmetric=True`` makes a symmetric matrix (or a stack of them: shape ``(..., n, n)``).
    Simplification then knows Sᵀ = S, the array bound to it must be symmetric (a
    BindingError says so otherwise), and a derivative with respect to it is the gradient
    within the symmetric matrices under the Frobenius inner product: (G + Gᵀ)/2, where G is
    the derivative with respect to an unconstrained matrix.

    >>> var("W", (3, 4)).shape
    (3, 4)
    >>> S, x = var("S", (3, 3), symmetric=True), var("x", (3,))
    >>> print(grad(x @ S @ x, x))
    f[i] = 2 S[i,j] x[j]
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise OperandError(f"a variable name must be an identifier string, got {name!r}")
    dims = (shape,) if isinstance(shape, numbers.Integral) else shape
    if isinstance(dims, str) or not all(isinstance(n, numbers.Integral) for n in _iterable(dims)):
        raise ShapeError(f"variable {name!r}: shape must be a tuple of non-negative ints, got {shape!r}")
    return Var(name, tuple(int(n) for n in dims), symmetric)


def _iterable(x) -> tuple:
    try:
        return tuple(x)
    except TypeError:
        return (None,)


exp, expm1, log, log1p, sin, cos, tan, tanh, sigmoid, relu, sqrt, square, softplus, reciprocal = (
    OPS[name].builder
    for name in ("exp", "expm1", "log", "log1p", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "sqrt", "square", "softplus",
                 "reciprocal")
)
arcsin, arccos, arctan = (OPS[name].builder for name in ("arcsin", "arccos", "arctan"))
abs = OPS["abs"].builder  # noqa: A001 - mirrors numpy.abs


def pow(x, c) -> Expr:  # noqa: A001 - mirrors numpy.power
    """``x ** c``: a constant exponent is one elementwise power; an expression exponent is exp(c log x).

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.pow(x, 3))
    f[i] = (x[i])^3
    """
    return power(x, c)

__all__ = [
    "__version__",
    "BackendError",
    "BindingError",
    "Compiled",
    "EinsdiffError",
    "EvaluationError",
    "FormulaShapeError",
    "MemoryLimitError",
    "Expr",
    "NoMethodError",
    "NotScalarError",
    "OperandError",
    "OptionError",
    "ParseError",
    "UnknownVariableError",
    "ShapeError",
    "SubscriptError",
    "Var",
    "VariableConflictError",
    "WrtError",
    "abs",
    "amax",
    "amin",
    "arccos",
    "arcsin",
    "arctan",
    "as_expr",
    "cholesky",
    "compile",
    "config",
    "cos",
    "det",
    "diag",
    "diagonal",
    "divide",
    "dot",
    "eigh",
    "eigvalsh",
    "einsum",
    "evaluate",
    "exp",
    "explain",
    "explain_steps",
    "expm1",
    "grad",
    "hessian_diagonal",
    "hvp",
    "jacobian_diagonal",
    "jvp",
    "vjp",
    "greater",
    "greater_equal",
    "hessian",
    "inv",
    "jacobian",
    "jacobian_matrix",
    "less",
    "less_equal",
    "log",
    "log1p",
    "log_softmax",
    "logdet",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "min",
    "minimum",
    "norm",
    "outer",
    "pinv",
    "parse",
    "pow",
    "power",
    "prod",
    "reciprocal",
    "relu",
    "reshape",
    "scipy_objective",
    "scipy_residuals",
    "sigmoid",
    "simplify",
    "sin",
    "slogdet",
    "expm", "logm", "matrix_power", "sqrtm",
    "softmax",
    "softplus",
    "solve",
    "svd",
    "svdvals",
    "sqrt",
    "tan",
    "square",
    "substitute",
    "sum",
    "symbolic",
    "tanh",
    "to_einsum",
    "to_index_notation",
    "to_latex",
    "to_mathml",
    "to_matrix_notation",
    "to_numpy_code",
    "trace",
    "transpose",
    "var",
    "where",
]
