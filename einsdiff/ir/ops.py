"""The elementwise functions (the :class:`~einsdiff.ir.expr.Map` node): one registry entry each.

Each entry holds the implementation, written against an array namespace ``xp`` under
numpy's names (numpy itself, or a backend's: see :mod:`einsdiff.engine.backends`), the
derivative as an expression of the argument ``u`` and the result ``ans`` (``None`` when
the derivative is zero), its notation, how a formula calls it, and the NumPy source that
generated code uses (with any helper function that source calls). Adding a function
means adding one entry here; :data:`einsdiff.ir.functions.FUNCTIONS` lists it with the rest.

>>> OPS["tanh"].notation.latex.format("x_{i}")
'\\\\tanh\\\\left(x_{i}\\\\right)'
"""

from __future__ import annotations

import numpy as np

from .expr import Add, Expr, Map, as_expr, is_ones
from .registry import Function, Notation, Syntax


def apply(fn: str, u: Expr, param: float | None = None) -> Expr:
    """The node ``fn(u)``, with the few rewrites that keep derivatives short: an integer
    power of a power of u is one power of u when that is simpler (square(sqrt(u)) = u,
    reciprocal(reciprocal(u)) = u, sqrt(u)³ = u^1.5).

    >>> import einsdiff as ed
    >>> u = ed.var("u", ())
    >>> apply("square", apply("sqrt", u)) is u
    True
    """
    if fn == "power":
        if param == 1.0:
            return u
        if param == 2.0:
            fn, param = "square", None
        elif param == -1.0:
            fn, param = "reciprocal", None
        elif param == 0.5:
            fn, param = "sqrt", None
    outer = {"square": 2.0, "reciprocal": -1.0, "power": param}.get(fn)
    if outer is not None and float(outer).is_integer():
        base, inner = power_of(u)
        # (u^p)^n = u^(pn) wherever u^p is defined; kept as written when p is an integer
        # other than 1/n (square(reciprocal(u)) is how d(1/u) reads).
        if base is not u and (not inner.is_integer() or inner * outer == 1.0):
            return raised(base, inner * outer)
    if fn in ("log", "log1p"):
        v = _exp_plus_one(u) if fn == "log" else (u.arg if isinstance(u, Map) and u.fn == "exp" else None)
        if v is not None:  # log(1 + exp(v)) is softplus(v): stable, and its derivative is sigmoid(v)
            return Map("softplus", v)
    if fn == "log":
        from .functions.reductions import shifted_logsumexp  # the reductions sit on this module

        if (lse := shifted_logsumexp(u)) is not None:
            return lse
    return Map(fn, u, param)


def _exp_plus_one(u: Expr) -> Expr | None:
    """v when ``u`` is exp(v) + 1, else None."""
    if isinstance(u, Add) and len(u.terms) == 2 and u.coeffs == (1.0, 1.0):
        for one, e in (u.terms, u.terms[::-1]):
            if is_ones(one) and isinstance(e, Map) and e.fn == "exp":
                return e.arg
    return None


def power_of(e: Expr) -> tuple[Expr, float]:
    """``e`` as ``base ** exponent``: sqrt(u) is u^½, reciprocal(sqrt(u)) is u^-½. Only an
    integer power (square, reciprocal) is looked through: (u^p)^n = u^(pn) wherever u^p is
    defined, while sqrt(square(u)) is |u|, not u.

    >>> import einsdiff as ed
    >>> u = ed.var("u", ())
    >>> power_of(apply("reciprocal", apply("sqrt", u)))
    (var('u', ()), -0.5)
    """
    if isinstance(e, Map):
        if e.fn == "sqrt":
            return e.arg, 0.5
        outer = {"square": 2.0, "reciprocal": -1.0}.get(e.fn)
        if e.fn == "power" and e.param is not None and float(e.param).is_integer():
            outer = float(e.param)
        if outer is not None:
            base, inner = power_of(e.arg)
            return base, inner * outer
        if e.fn == "power" and e.param is not None:
            return e.arg, float(e.param)
    return e, 1.0


def raised(base: Expr, exponent: float) -> Expr:
    """``base ** exponent`` in the forms derivatives print: u^-½ is reciprocal(sqrt(u))."""
    if exponent == -0.5:
        return Map("reciprocal", Map("sqrt", base))
    return apply("power", base, exponent)


def _power(x, c) -> Expr:
    """``x ** c`` (ed.pow): a constant exponent is one elementwise power."""
    from .build import power  # build sits on this module: imported when called

    return power(x, c)


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


def _mathml_name(latex_name: str) -> str:
    name = latex_name.removeprefix(r"\operatorname{").removesuffix("}").removeprefix("\\")
    return {"sigma": "σ"}.get(name, name)


def elementwise(name: str, array, derivative, latex_name: str, source: str, helper: str = "",
                syntax: bool = True, spellings: tuple[tuple[str, str], ...] = (), builder=None, **notation) -> Function:
    """The entry of an elementwise function: ``name(x[i])`` in every notation unless ``notation``
    overrides a template; a formula calls it by ``name`` unless ``syntax`` is False."""
    templates = {
        "text": f"{name}({{0}})",
        "latex": latex_name.replace("{", "{{").replace("}", "}}") + r"\left({0}\right)",
        "mathml": f"<mi>{_mathml_name(latex_name)}</mi><mo>&#x2061;</mo><mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>",
        "matrix": f"{name}({{0}})",
    } | notation

    def public(x) -> Expr:
        return apply(name, as_expr(x))

    public.__name__ = public.__qualname__ = name
    public.__doc__ = (
        f"Elementwise {name}; its derivative rides on the argument's indices.\n\n"
        f">>> import einsdiff as ed\n>>> x = ed.var(\"x\", (3,))\n>>> print(ed.{name}(x))\nf[i] = {name}(x[i])\n"
        f">>> ed.jacobian(ed.{name}(x), x).shape  # a diagonal: f′(x[i]) δ[i,j]\n(3, 3)\n"
    )
    return Function(
        name, "elementwise", Notation(name, latex_name=latex_name, **templates),
        Syntax((name,), "elementwise", builder=lambda u: apply(name, u), spellings=spellings) if syntax else None,
        builder=builder or public,
        array=array, numpy=lambda x, param=None: array(np, x, param), derivative=derivative,
        source=source, helper=helper,
    )


def _table() -> dict[str, Function]:
    """d exp = exp; d log = 1/u; ... (one line per rule below)."""

    def rec(u):
        return apply("reciprocal", u)

    entries = [
        elementwise("exp", lambda xp, x, p: xp.exp(x), lambda u, ans, p: ans, r"\exp", "np.exp({x})"),
        # expm1(u) = e^u - 1 without the rounding of 1 near u = 0; its derivative is e^u.
        elementwise("expm1", lambda xp, x, p: xp.expm1(x), lambda u, ans, p: apply("exp", u), r"\operatorname{expm1}",
                    "np.expm1({x})"),
        elementwise("log", lambda xp, x, p: xp.log(x), lambda u, ans, p: rec(u), r"\log", "np.log({x})",
                    spellings=(("ln", "log"),)),
        elementwise("log1p", lambda xp, x, p: xp.log1p(x), lambda u, ans, p: rec(1 + u), r"\operatorname{log1p}", "np.log1p({x})"),
        elementwise("sin", lambda xp, x, p: xp.sin(x), lambda u, ans, p: apply("cos", u), r"\sin", "np.sin({x})"),
        elementwise("cos", lambda xp, x, p: xp.cos(x), lambda u, ans, p: -apply("sin", u), r"\cos", "np.cos({x})"),
        elementwise("tanh", lambda xp, x, p: xp.tanh(x), lambda u, ans, p: 1 - apply("square", ans), r"\tanh", "np.tanh({x})"),
        # tan' = 1 + tan²; arcsin' = 1/√(1 - u²) = -arccos'; arctan' = 1/(1 + u²).
        elementwise("tan", lambda xp, x, p: xp.tan(x), lambda u, ans, p: 1 + apply("square", ans), r"\tan", "np.tan({x})"),
        elementwise("arcsin", lambda xp, x, p: xp.arcsin(x), lambda u, ans, p: rec(apply("sqrt", 1 - apply("square", u))),
                    r"\arcsin", "np.arcsin({x})", spellings=(("asin", "arcsin"),)),
        elementwise("arccos", lambda xp, x, p: xp.arccos(x), lambda u, ans, p: -rec(apply("sqrt", 1 - apply("square", u))),
                    r"\arccos", "np.arccos({x})", spellings=(("acos", "arccos"),)),
        elementwise("arctan", lambda xp, x, p: xp.arctan(x), lambda u, ans, p: rec(1 + apply("square", u)),
                    r"\arctan", "np.arctan({x})", spellings=(("atan", "arctan"),)),
        elementwise("sigmoid", lambda xp, x, p: _sigmoid(xp, x), lambda u, ans, p: ans * (1 - ans), r"\sigma", "_sigmoid({x})",
                    _SIGMOID_SOURCE, spellings=(("logistic", "sigmoid"),)),
        # log(1 + e^x) as logaddexp(0, x): no overflow for large x, no log(1) rounding for very negative x.
        elementwise("softplus", lambda xp, x, p: xp.logaddexp(0.0, x), lambda u, ans, p: apply("sigmoid", u),
                    r"\operatorname{softplus}", "np.logaddexp(0.0, {x})"),
        # relu'(0) = 0 and abs'(0) = 0: the derivative is 0 for u <= 0 (seed 000).
        elementwise("relu", lambda xp, x, p: xp.maximum(x, 0), lambda u, ans, p: apply("step", u), r"\operatorname{relu}",
                    "np.maximum({x}, 0)"),
        elementwise("abs", lambda xp, x, p: xp.abs(x), lambda u, ans, p: apply("sign", u), r"\operatorname{abs}", "np.abs({x})"),
        elementwise("step", lambda xp, x, p: xp.heaviside(x, 0.0), lambda u, ans, p: None, r"\operatorname{H}",
                    "np.heaviside({x}, 0.0)"),
        elementwise("sign", lambda xp, x, p: xp.sign(x), lambda u, ans, p: None, r"\operatorname{sign}", "np.sign({x})"),
        elementwise("sqrt", lambda xp, x, p: xp.sqrt(x), lambda u, ans, p: 0.5 * rec(ans), r"\sqrt", "np.sqrt({x})",
                    latex=r"\sqrt{{{0}}}", mathml="<msqrt>{0}</msqrt>"),
        elementwise("square", lambda xp, x, p: xp.square(x), lambda u, ans, p: 2 * u, r"\operatorname{square}", "np.square({x})",
                    latex=r"\left({0}\right)^{{2}}", mathml="<msup><mrow><mo>(</mo>{0}<mo>)</mo></mrow><mn>2</mn></msup>",
                    matrix="{0:atom}∘²", matrix_scalar="{0:atom}²"),
        elementwise("reciprocal", lambda xp, x, p: xp.reciprocal(x), lambda u, ans, p: -apply("square", ans),
                    r"\operatorname{recip}", "np.reciprocal({x})",
                    latex=r"\frac{{1}}{{{0}}}", mathml="<mfrac><mn>1</mn><mrow>{0}</mrow></mfrac>",
                    matrix="{0:atom}∘⁻¹", matrix_scalar="1/{0:atom}", matrix_scalar_binds="product"),
        # Written (x)^p, not called by name: a formula writes x[i]^3 or x[i]**3.
        elementwise("power", lambda xp, x, p: xp.power(x, p), lambda u, ans, p: None if p == 0 else p * apply("power", u, p - 1),
                    r"\operatorname{pow}", "np.power({x}, {p})", syntax=False, builder=_power,
                    text="({0})^{p}", latex=r"\left({0}\right)^{{{p}}}", mathml="<msup><mrow><mo>(</mo>{0}<mo>)</mo></mrow>{p}</msup>",
                    matrix="{0:atom}∘{p}", matrix_scalar="{0:atom}{p}"),
    ]
    return {op.name: op for op in entries}


OPS: dict[str, Function] = _table()
"""The elementwise entries of :data:`einsdiff.ir.functions.FUNCTIONS`, by name."""
