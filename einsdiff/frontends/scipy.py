"""scipy.optimize on a flat vector: ``fun``, ``jac``, ``hess`` and ``hessp`` from one expression.

scipy works on a 1-D ``x``; einsdiff's variable has a shape. These objects reshape at the
boundary (row-major), compile each derivative once, and evaluate value and gradient
together (scipy asks for both at the same point; the second call is served from the first).
scipy itself is needed only by the caller: nothing here imports it, except the sparse
formats, which build ``scipy.sparse`` matrices.
"""

from __future__ import annotations

import numpy as np

from ..calculus.derive import _check_f, _check_wrt, grad, hessian, jacobian
from ..calculus.directional import hvp
from ..engine.compiled import compile_outputs
from ..engine.evaluate import evaluate
from ..errors import BindingError, NotScalarError, OptionError
from ..ir.expr import Expr, Reshape, Var
from ..ir.variables import gather_bindings, variables


def _check_constants(f: Expr, x: Var, constants: dict) -> dict:
    missing = [v.name for v in variables(f) if v.name != x.name and v.name not in constants]
    if missing:
        raise BindingError(
            f"give a value for every variable but {x.name!r} as a keyword: missing {', '.join(map(repr, missing))}"
        )
    return {k: np.asarray(v, dtype=float) for k, v in constants.items()}


class _Flat:
    """The shared part: the variable, the constants, and flat <-> shaped conversions."""

    def __init__(self, f: Expr, x: Var, constants: dict):
        self.f, self.x = _check_f(f), _check_wrt(f, x, "x")
        self.constants = _check_constants(f, x, constants)

    def _bind(self, z) -> dict:
        z = np.asarray(z, dtype=float)
        if z.size != self.x.size:
            raise OptionError(f"scipy passed a vector of size {z.size}; {self.x.name!r} has {self.x.size} entries {self.x.shape}")
        return {**self.constants, self.x.name: z.reshape(self.x.shape)}


class Objective(_Flat):
    """A scalar loss for ``scipy.optimize.minimize(obj.fun, x0, jac=obj.jac, hess=obj.hess)``
    (or ``hessp=obj.hessp`` for Newton-CG / trust-krylov without the Hessian matrix)."""

    def __init__(self, loss: Expr, x: Var, constants: dict, hess_format: str = "dense"):
        super().__init__(loss, x, constants)
        if loss.shape != ():
            raise NotScalarError(f"scipy_objective needs a scalar loss, got shape {loss.shape}; reduce it (e.g. .sum())")
        if hess_format not in ("dense", "sparse"):
            raise OptionError(f"hess_format must be 'dense' or 'sparse', got {hess_format!r}")
        self.hess_format = hess_format
        self._value_and_grad = compile_outputs([loss, grad(loss, x)])
        self._direction = Var("_einsdiff_direction", x.shape)
        self._hessp = compile_outputs([hvp(loss, x, self._direction)])
        self._hessian = hessian(loss, x)
        self._hess = None  # compiled on first use: a dense Hessian can be large
        self._last: tuple[bytes, float, np.ndarray] | None = None

    def _both(self, z):
        key = np.asarray(z, dtype=float).tobytes()
        if self._last is None or self._last[0] != key:
            value, gradient = self._value_and_grad(self._bind(z))
            self._last = (key, float(value), gradient.ravel())
        return self._last

    def fun(self, z) -> float:
        return self._both(z)[1]

    def jac(self, z) -> np.ndarray:
        return self._both(z)[2].copy()

    def hessp(self, z, p) -> np.ndarray:
        bindings = self._bind(z) | {self._direction.name: np.asarray(p, dtype=float).reshape(self.x.shape)}
        return self._hessp(bindings)[0].ravel()

    def hess(self, z):
        n = self.x.size
        if self.hess_format == "sparse":
            return evaluate(_as_matrix(self._hessian, n, n), self._bind(z), format="sparse").tocsr()
        if self._hess is None:
            self._hess = compile_outputs([self._hessian])
        return self._hess(self._bind(z))[0].reshape(n, n)


class Residuals(_Flat):
    """A residual vector for ``scipy.optimize.least_squares(obj.fun, x0, jac=obj.jac,
    jac_sparsity=obj.jac_sparsity)``; the sparsity pattern comes from the deltas of the Jacobian."""

    def __init__(self, residuals: Expr, x: Var, constants: dict, jac_format: str = "dense"):
        super().__init__(residuals, x, constants)
        if jac_format not in ("dense", "sparse"):
            raise OptionError(f"jac_format must be 'dense' or 'sparse', got {jac_format!r}")
        self.jac_format = jac_format
        self._values = compile_outputs([residuals])
        self._jacobian = _as_matrix(jacobian(residuals, x), residuals.size, x.size)
        self._jac = None if jac_format == "sparse" else compile_outputs([self._jacobian])

    def fun(self, z) -> np.ndarray:
        return self._values(self._bind(z))[0].ravel()

    def jac(self, z):
        if self._jac is None:
            return evaluate(self._jacobian, self._bind(z), format="sparse").tocsr()
        return self._jac(self._bind(z))[0]

    @property
    def jac_sparsity(self):
        """Where the Jacobian can be nonzero, read off its delta structure (a scipy CSR of ones)."""
        ones = {k: np.ones_like(v) for k, v in self.constants.items()} | {self.x.name: np.ones(self.x.shape)}
        pattern = evaluate(self._jacobian, ones, format="sparse").tocsr()
        pattern.data[:] = 1.0
        return pattern


def _as_matrix(e: Expr, rows: int, cols: int) -> Expr:
    return e if e.shape == (rows, cols) else Reshape(e, (rows, cols))


def scipy_objective(loss: Expr, x: Var, constants=None, /, *, hess_format: str = "dense", **keywords) -> Objective:
    """``fun``, ``jac``, ``hess`` and ``hessp`` of a scalar ``loss`` on the flattened ``x``, the
    other variables bound to ``constants`` (a mapping and/or keywords); ``hess_format="sparse"``
    gives scipy.sparse Hessians (e.g. for ``method="trust-constr"``).

    >>> import numpy as np, einsdiff as ed
    >>> x = ed.var("x", (2,))
    >>> obj = ed.scipy_objective(((x - np.array([1.0, 2.0])) ** 2).sum(), x)
    >>> obj.fun(np.zeros(2)), obj.jac(np.zeros(2)).tolist(), obj.hessp(np.zeros(2), np.ones(2)).tolist()
    (5.0, [-2.0, -4.0], [2.0, 2.0])
    """
    constants = gather_bindings("scipy_objective", constants, keywords, ("hess_format",), _variables_of(loss))
    return Objective(loss, x, constants, hess_format)


def scipy_residuals(residuals: Expr, x: Var, constants=None, /, *, jac_format: str = "dense", **keywords) -> Residuals:
    """``fun`` (the flattened residuals), ``jac`` and ``jac_sparsity`` for
    ``scipy.optimize.least_squares``; ``jac_format="sparse"`` gives scipy.sparse Jacobians."""
    constants = gather_bindings("scipy_residuals", constants, keywords, ("jac_format",), _variables_of(residuals))
    return Residuals(residuals, x, constants, jac_format)


def _variables_of(e) -> tuple[Var, ...]:
    return variables(e) if isinstance(e, Expr) else ()
