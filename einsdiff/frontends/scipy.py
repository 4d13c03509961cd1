"""scipy.optimize on a flat vector: ``fun``, ``jac``, ``hess`` and ``hessp`` from one expression.

scipy works on a 1-D ``x``; einsdiff's variable has a shape. These objects reshape at the
boundary (row-major), compile each derivative once, and evaluate what scipy asks for at
one point together (value, gradient and Hessian: later calls at that point are served from the first).
scipy itself is needed only by the caller: nothing here imports it, except the sparse
formats, which build ``scipy.sparse`` matrices.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

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


@dataclass(slots=True)
class _Point:
    """What was computed at one ``x`` (a copy): value and gradient always, the Hessian once asked."""

    x: np.ndarray
    value: float
    gradient: np.ndarray
    hessian: object = None  # a dense (n, n) array, or a scipy.sparse matrix (hess_format="sparse")
    hessian_used: bool = False


# A product by the compiled hvp costs a call (tens of µs of Python) and about twice the
# flops of value and gradient (forward over reverse); by a Hessian matrix kept at x, a
# matvec. Newton-CG asks for several products at each x, so the matrix pays when computing
# it costs no more than about _PRODUCTS_PER_POINT products.
_PRODUCTS_PER_POINT = 10
_FLOPS_PER_CALL = 100_000
_HVP_PER_GRADIENT = 2


class Objective(_Flat):
    """A scalar loss for ``scipy.optimize.minimize(obj.fun, x0, jac=obj.jac, hess=obj.hess)``
    (or ``hessp=obj.hessp`` for Newton-CG / trust-krylov without the Hessian matrix).

    Calls at one point share one evaluation: the last ``x`` (a copy, so scipy may reuse its
    array) is kept with its value, gradient and, once a Hessian was asked for, its Hessian
    (computed with the other two in one program, and from then on with each new point's
    value, unless a point's Hessian went unused; the Hessian of a quadratic is computed
    once). One objective serves one solve at a
    time; a lock keeps concurrent calls correct, not fast.
    """

    def __init__(self, loss: Expr, x: Var, constants: dict, hess_format: str = "dense"):
        super().__init__(loss, x, constants)
        if loss.shape != ():
            raise NotScalarError(f"scipy_objective needs a scalar loss, got shape {loss.shape}; reduce it (e.g. .sum())")
        if hess_format not in ("dense", "sparse"):
            raise OptionError(f"hess_format must be 'dense' or 'sparse', got {hess_format!r}")
        self.hess_format = hess_format
        gradient = grad(loss, x)
        self._value_and_grad = compile_outputs([loss, gradient])
        self._hessian = _as_matrix(hessian(loss, x), x.size, x.size)
        self._outputs = (loss, gradient)
        self._constant = x not in variables(self._hessian)  # a quadratic loss: one Hessian for every x
        self._fixed = None
        self._with_hess = None  # compiled on first use, as are the two below: a dense Hessian can be large
        self._direction = Var("_einsdiff_direction", x.shape)
        self._hessp = None
        self._hessp_by_matrix: bool | None = None
        self._last: _Point | None = None
        self._predict_hessian = False  # the last point's Hessian was used: compute the next one's eagerly
        self._lock = threading.Lock()

    def _at(self, z, hessian: bool) -> _Point:
        """The cached point if ``z`` is it, else a fresh evaluation; with its Hessian if asked."""
        z = np.asarray(z, dtype=float)
        last = self._last
        if last is None or last.x.shape != z.shape or not np.array_equal(last.x, z):
            if last is not None and last.hessian is not None and not last.hessian_used:
                self._predict_hessian = False
            last = self._last = self._evaluate(z, hessian or self._predict_hessian)
        if hessian and last.hessian is None:
            if self._constant:
                last.hessian = self._constant_hessian()
            elif self.hess_format == "dense":
                last = self._last = self._evaluate(last.x, True)
            else:
                last.hessian = evaluate(self._hessian, self._bind(last.x), format="sparse").tocsr()
        if hessian:
            last.hessian_used = self._predict_hessian = True
        return last

    def _evaluate(self, z: np.ndarray, hessian: bool) -> _Point:
        """One program run at ``z``: value and gradient, and the dense Hessian if asked (and it varies)."""
        if hessian and self.hess_format == "dense" and not self._constant:
            value, gradient, matrix = self._full()(self._bind(z))
            return _Point(z.copy(), float(value), gradient.ravel(), matrix)
        value, gradient = self._value_and_grad(self._bind(z))
        return _Point(z.copy(), float(value), gradient.ravel())

    def _constant_hessian(self):
        """The Hessian of a loss at most quadratic in x, computed at the first request."""
        if self._fixed is None:
            fixed = evaluate(self._hessian, self.constants, format=self.hess_format)
            self._fixed = fixed if self.hess_format == "dense" else fixed.tocsr()
        return self._fixed

    def _full(self):
        """Value, gradient and dense Hessian as one program (shared intermediates)."""
        if self._with_hess is None:
            self._with_hess = compile_outputs([*self._outputs, self._hessian])
        return self._with_hess

    def fun(self, z) -> float:
        with self._lock:
            return self._at(z, False).value

    def jac(self, z) -> np.ndarray:
        with self._lock:
            return self._at(z, False).gradient.copy()

    def hess(self, z):
        with self._lock:
            return self._at(z, True).hessian.copy()

    def hessp(self, z, p) -> np.ndarray:
        p = np.asarray(p, dtype=float)
        with self._lock:
            if self._by_matrix():
                return self._at(z, True).hessian @ p.ravel()
            if self._hessp is None:  # compiled only when used
                self._hessp = compile_outputs([hvp(self.f, self.x, self._direction)])
        bindings = self._bind(z) | {self._direction.name: p.reshape(self.x.shape)}
        return self._hessp(bindings)[0].ravel()

    def _by_matrix(self) -> bool:
        """Whether products come from the dense Hessian at x (see ``_PRODUCTS_PER_POINT``)."""
        if self._hessp_by_matrix is None:
            per_product = _HVP_PER_GRADIENT * self._value_and_grad.plan.total_flops + _FLOPS_PER_CALL
            self._hessp_by_matrix = self.hess_format == "dense" and (
                self._constant or self._full().plan.total_flops <= _PRODUCTS_PER_POINT * per_product)
        return self._hessp_by_matrix


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
    ``scipy.optimize.least_squares``; ``jac_format="sparse"`` gives scipy.sparse Jacobians.

    >>> import einsdiff as ed, numpy as np
    >>> from scipy.optimize import least_squares
    >>> x = ed.var("x", (2,))
    >>> r = ed.einsum("ij,j->i", np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), x) - np.array([1.0, 2.0, 3.0])
    >>> res = ed.scipy_residuals(r, x)
    >>> res.jac(np.zeros(2)).tolist()
    [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    >>> (np.round(least_squares(res.fun, np.zeros(2), jac=res.jac).x, 6) + 0.0).tolist()
    [0.0, 0.5]
    """
    constants = gather_bindings("scipy_residuals", constants, keywords, ("jac_format",), _variables_of(residuals))
    return Residuals(residuals, x, constants, jac_format)


def _variables_of(e) -> tuple[Var, ...]:
    return variables(e) if isinstance(e, Expr) else ()
