"""The table of elementwise functions: one entry per function.

Each entry holds the implementation, written against an array namespace ``xp`` under
numpy's names (numpy itself, or a backend's: see :mod:`einsdiff.engine.backends`), the
derivative as an expression of the argument ``u`` and the result ``ans`` (``None`` when
the derivative is zero), the name used when printing, and the NumPy source that
generated code uses (with any helper function that source calls). Adding a function
means adding one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .expr import Expr, Map


@dataclass(frozen=True, slots=True)
class ElementwiseOp:
    name: str
    array: Callable  # (xp, x, param) -> fn(x), with xp numpy or a backend's namespace
    derivative: Callable[[Expr, Expr, float | None], Expr | None]
    latex: str
    source: str  # NumPy source with {x} for the argument and {p} for the parameter
    helper: str = ""  # source of a function that ``source`` calls, emitted once when used

    def numpy(self, x: np.ndarray, param: float | None = None) -> np.ndarray:
        return self.array(np, x, param)


def apply(fn: str, u: Expr, param: float | None = None) -> Expr:
    """The node ``fn(u)``, with the few rewrites that keep derivatives short."""
    if fn == "power":
        if param == 1.0:
            return u
        if param == 2.0:
            fn, param = "square", None
        elif param == -1.0:
            fn, param = "reciprocal", None
        elif param == 0.5:
            fn, param = "sqrt", None
    return Map(fn, u, param)


def _sigmoid(xp, x):
    # exp of a non-positive number only: no overflow for large |x|.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


# The same computation as _sigmoid, for generated code (tests check that the two agree).
_SIGMOID_SOURCE = """\
def _sigmoid(x):
    # exp of a non-positive number only: no overflow for large |x|.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))
"""


def _table() -> dict[str, ElementwiseOp]:
    """d exp = exp; d log = 1/u; ... (one line per rule below)."""

    def rec(u):
        return apply("reciprocal", u)

    entries = [
        ElementwiseOp("exp", lambda xp, x, p: xp.exp(x), lambda u, ans, p: ans, r"\exp", "np.exp({x})"),
        ElementwiseOp("log", lambda xp, x, p: xp.log(x), lambda u, ans, p: rec(u), r"\log", "np.log({x})"),
        ElementwiseOp("log1p", lambda xp, x, p: xp.log1p(x), lambda u, ans, p: rec(1 + u), r"\operatorname{log1p}", "np.log1p({x})"),
        ElementwiseOp("sin", lambda xp, x, p: xp.sin(x), lambda u, ans, p: apply("cos", u), r"\sin", "np.sin({x})"),
        ElementwiseOp("cos", lambda xp, x, p: xp.cos(x), lambda u, ans, p: -apply("sin", u), r"\cos", "np.cos({x})"),
        ElementwiseOp("tanh", lambda xp, x, p: xp.tanh(x), lambda u, ans, p: 1 - apply("square", ans), r"\tanh", "np.tanh({x})"),
        ElementwiseOp("sigmoid", lambda xp, x, p: _sigmoid(xp, x), lambda u, ans, p: ans * (1 - ans), r"\sigma", "_sigmoid({x})", _SIGMOID_SOURCE),
        # log(1 + e^x) as logaddexp(0, x): no overflow for large x, no log(1) rounding for very negative x.
        ElementwiseOp("softplus", lambda xp, x, p: xp.logaddexp(0.0, x), lambda u, ans, p: apply("sigmoid", u), r"\operatorname{softplus}", "np.logaddexp(0.0, {x})"),
        # relu'(0) = 0 and abs'(0) = 0: the derivative is 0 for u <= 0 (seed 000).
        ElementwiseOp("relu", lambda xp, x, p: xp.maximum(x, 0), lambda u, ans, p: apply("step", u), r"\operatorname{relu}", "np.maximum({x}, 0)"),
        ElementwiseOp("abs", lambda xp, x, p: xp.abs(x), lambda u, ans, p: apply("sign", u), r"\operatorname{abs}", "np.abs({x})"),
        ElementwiseOp("step", lambda xp, x, p: xp.heaviside(x, 0.0), lambda u, ans, p: None, r"\operatorname{H}", "np.heaviside({x}, 0.0)"),
        ElementwiseOp("sign", lambda xp, x, p: xp.sign(x), lambda u, ans, p: None, r"\operatorname{sign}", "np.sign({x})"),
        ElementwiseOp("sqrt", lambda xp, x, p: xp.sqrt(x), lambda u, ans, p: 0.5 * rec(ans), r"\sqrt", "np.sqrt({x})"),
        ElementwiseOp("square", lambda xp, x, p: xp.square(x), lambda u, ans, p: 2 * u, r"\operatorname{square}", "np.square({x})"),
        ElementwiseOp("reciprocal", lambda xp, x, p: xp.reciprocal(x), lambda u, ans, p: -apply("square", ans), r"\operatorname{recip}", "np.reciprocal({x})"),
        ElementwiseOp(
            "power",
            lambda xp, x, p: xp.power(x, p),
            lambda u, ans, p: None if p == 0 else p * apply("power", u, p - 1),
            r"\operatorname{pow}",
            "np.power({x}, {p})",
        ),
    ]
    return {op.name: op for op in entries}


OPS: dict[str, ElementwiseOp] = _table()
