"""Index notation as MathML Core, which every current browser renders with no script.

:class:`MathML` renders the notation tree (:mod:`einsdiff.notation.tree`) as the
printers in :mod:`einsdiff.notation.printing` do, every sign, number and bracket a token
element of its own (``<mo>``, ``<mn>``); juxtaposition is the product, as in print.
"""

from __future__ import annotations

import html

from ..ir.expr import Expr
from ..ir.functions import FUNCTIONS
from . import tree as t
from .printing import Text, Written, _lines, written
from .tree import Legend

_NS = "http://www.w3.org/1998/Math/MathML"
# The separator between subscripts longer than a letter.
_COMMA = '<mo separator="true">,</mo>'
_OPEN, _CLOSE, _SEP = "<mo>(</mo>", "<mo>)</mo>", "<mo>,</mo>"


def _mi(name: str) -> str:
    return f"<mi>{html.escape(name)}</mi>"


def _magnitude(w: Written, exponent: bool = False) -> str:
    """A number's size as elements: ``<mn>0.1</mn>``, ``2/3`` as a fraction (on one line in an
    exponent), ``1e-12`` as 10 to the −12."""
    if w.fraction:
        if exponent:
            return f"<mrow><mn>{w.numerator}</mn><mo>/</mo><mn>{w.denominator}</mn></mrow>"
        return f"<mfrac><mn>{w.numerator}</mn><mn>{w.denominator}</mn></mfrac>"
    mantissa, e, power = w.decimal.partition("e")
    if not e:
        return f"<mn>{mantissa}</mn>"
    sign = "<mo>−</mo>" if int(power) < 0 else ""
    ten = f"<msup><mn>10</mn><mrow>{sign}<mn>{abs(int(power))}</mn></mrow></msup>"
    return ten if mantissa == "1" else f"<mrow><mn>{mantissa}</mn><mo>·</mo>{ten}</mrow>"


def _mn(number: float) -> str:
    """A number as an exponent: one token or fraction, a negative one in a row with its sign (x⁻²)."""
    w = written(number)
    return f"<mrow><mo>−</mo>{_magnitude(w, True)}</mrow>" if w.negative else _magnitude(w, True)


def _indices(names) -> str:
    """``ij`` for one-letter names, as LaTeX writes them; ``i,k1`` when a name is longer."""
    sep = _COMMA if any(len(n) > 1 for n in names) else ""
    return f"<mrow>{sep.join(_mi(n) for n in names)}</mrow>"


def _sub(base: str, names) -> str:
    return f"<msub>{base}{_indices(names)}</msub>" if names else base


def _bracketed(part: str) -> str:
    """``(a)`` as tokens in one row."""
    return f"<mrow>{_OPEN}{part}{_CLOSE}</mrow>"


class MathML(Text):
    """The notation tree as MathML elements."""

    open, close = _OPEN, _CLOSE
    named_reductions = True
    equals = "<mo>=</mo>"
    space = ""

    def sign(self, negative: bool, position: int) -> str:
        return "<mo>−</mo>" if negative else "<mo>+</mo>" if position else ""

    def _ref(self, node: t.Ref) -> str:
        return _sub(_mi(node.name), node.indices)

    def _number(self, node: t.Number) -> str:
        w = written(node.value)
        return f"<mo>−</mo>{_magnitude(w)}" if w.negative else _magnitude(w)

    def _delta(self, node: t.Delta) -> str:
        return _sub("<mi>δ</mi>", (node.a, node.b))

    def template(self, fn: str) -> str:
        return FUNCTIONS[fn].notation.mathml

    def indices(self, names) -> str:
        return _indices(names)

    def parameter(self, value: float) -> str:
        return _mn(value)

    def _sigma(self, node: t.Sigma) -> str:
        sign = f'<munder><mo movablelimits="false">∑</mo>{_indices(node.indices)}</munder>'
        body = self.render(node.body)
        return f"<mrow>{sign}" + (self.paren(body) if t.is_sum(node.body) else body) + "</mrow>"

    def _reshape(self, node: t.Reshape) -> str:
        body = self.template("reshape").format(self.render(node.arg), r=_indices(node.names),
                                               p=html.escape(str(tuple(node.shape))))
        return _sub(f"<mrow><mo>[</mo>{body}<mo>]</mo></mrow>", node.indices)

    def _call(self, node: t.Call) -> str:
        args = [self.render(a) for a in node.args]
        if node.binders is not None:
            args = [f"<msub><mrow><mo>[</mo>{a}<mo>]</mo></mrow>{_indices(group)}</msub>"
                    for a, group in zip(args, node.binders, strict=True)]
        body = self.template(node.fn).format(*(f"<mrow>{a}</mrow>" for a in args), p=html.escape(node.key))
        return _sub(_bracketed(body), node.indices)

    def _partial(self, node: t.Partial) -> str:
        partial = "<mo>∂</mo>" if len(node.den) == 1 else "<msup><mo>∂</mo><mn>2</mn></msup>"
        den = "".join(f"<mo>∂</mo>{self.render(d)}" for d in node.den)
        return f"<mfrac><mrow>{partial}{self.render(node.num)}</mrow><mrow>{den}</mrow></mfrac>"

    def legend(self, legend: Legend) -> str:
        gap = '<mo separator="true">,</mo><mspace width="0.5em"/>'
        return "".join(f"{gap}{_mi(i)}<mo>∈</mo><mn>1</mn><mo>..</mo><mn>{n}</mn>" for i, n in legend.sizes) + "".join(
            f"{gap}{_mi(label)}<mtext>&#xA0;a constant of shape {html.escape(str(shape))}</mtext>"
            for label, shape in legend.constants)


def math(content: str, display: str = "block") -> str:
    """``content`` (rendered elements) as one ``<math>`` element."""
    from ..errors import OptionError

    if display not in ("block", "inline"):
        raise OptionError(f'display={display!r}: give "block" (its own line) or "inline" (in running text)')
    return f'<math xmlns="{_NS}" display="{display}"><mrow>{content}</mrow></math>'


def to_mathml(expr: Expr, name: str = "f", indices=None, display: str = "block", share: bool = False) -> str:
    """``expr`` as a MathML ``<math>`` element, Einstein form as in :func:`to_latex`, for a web
    page with no script: ``f_{i} = A_{ij} x_{j}``, deltas as ``δ``, explicit sums as ``∑``.
    With ``share``, a table whose rows define each repeated subexpression once, then ``expr``.

    >>> import einsdiff as ed
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> print(ed.to_mathml(A @ x, display="inline"))  # doctest: +NORMALIZE_WHITESPACE
    <math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"><mrow><msub><mi>f</mi><mrow><mi>i</mi></mrow></msub><mo>=</mo><msub><mi>A</mi><mrow><mi>i</mi><mi>j</mi></mrow></msub><msub><mi>x</mi><mrow><mi>j</mi></mrow></msub></mrow></math>
    """
    return math(rows(_lines(expr, name, indices, MathML(), share, "to_mathml")), display)


def rows(lines: list[str]) -> str:
    """One formula as it is; several as the left-aligned rows of a table."""
    if len(lines) == 1:
        return lines[0]
    cells = "".join(f'<mtr><mtd style="text-align: left">{line}</mtd></mtr>' for line in lines)
    return f"<mtable>{cells}</mtable>"
