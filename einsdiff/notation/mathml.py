"""Index notation as MathML Core, which every current browser renders with no script.

:class:`MathML` renders the notation tree (:mod:`einsdiff.notation.tree`) as the
printers in :mod:`einsdiff.notation.printing` do, every sign, number and bracket a token
element of its own (``<mo>``, ``<mn>``); juxtaposition is the product, as in print.
"""

from __future__ import annotations

import html
import re

from ..ir.expr import Expr
from ..ir.ops import OPS
from . import tree as t
from .printing import Text, _fmt_number, _lines
from .tree import Legend

_NS = "http://www.w3.org/1998/Math/MathML"
# Entities MathML Core needs: function application and the separator between subscripts.
_APPLY = "<mo>&#x2061;</mo>"
_COMMA = '<mo separator="true">,</mo>'
_OPEN, _CLOSE, _SEP = "<mo>(</mo>", "<mo>)</mo>", "<mo>,</mo>"


def _mi(name: str) -> str:
    return f"<mi>{html.escape(name)}</mi>"


def _mn(number: float) -> str:
    text = _fmt_number(number)
    return f"<mrow><mo>−</mo><mn>{text[1:]}</mn></mrow>" if text.startswith("-") else f"<mn>{text}</mn>"


def _indices(names) -> str:
    """``ij`` for one-letter names, as LaTeX writes them; ``i,k1`` when a name is longer."""
    sep = _COMMA if any(len(n) > 1 for n in names) else ""
    return f"<mrow>{sep.join(_mi(n) for n in names)}</mrow>"


def _sub(base: str, names) -> str:
    return f"<msub>{base}{_indices(names)}</msub>" if names else base


def _function_name(fn: str) -> str:
    latex = OPS[fn].latex
    name = latex.removeprefix(r"\operatorname{").removesuffix("}").removeprefix("\\")
    return {"sigma": "σ"}.get(name, name)


def _bracketed(*parts: str) -> str:
    """``(a, b)`` as tokens in one row."""
    return f"<mrow>{_OPEN}{_SEP.join(parts)}{_CLOSE}</mrow>"


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
        value = node.value
        return f"<mo>−</mo><mn>{_fmt_number(-value)}</mn>" if value < 0 else f"<mn>{_fmt_number(value)}</mn>"

    def _delta(self, node: t.Delta) -> str:
        return _sub("<mi>δ</mi>", (node.a, node.b))

    def _func(self, node: t.Func) -> str:
        inner, fn = self.render(node.arg), node.fn
        if fn == "reciprocal":
            return f"<mfrac><mn>1</mn><mrow>{inner}</mrow></mfrac>"
        if fn == "sqrt":
            return f"<msqrt>{inner}</msqrt>"
        if fn in ("square", "power"):
            return f"<msup>{_bracketed(inner)}{_mn(2 if fn == 'square' else node.param)}</msup>"
        return f"{_mi(_function_name(fn))}{_APPLY}{_bracketed(inner)}"

    def _sigma(self, node: t.Sigma) -> str:
        sign = f'<munder><mo movablelimits="false">∑</mo>{_indices(node.indices)}</munder>'
        body = self.render(node.body)
        return f"<mrow>{sign}" + (self.paren(body) if t.is_sum(node.body) else body) + "</mrow>"

    def _reshape(self, node: t.Reshape) -> str:
        target = html.escape(str(tuple(node.shape)))
        label = f"<mrow>{_indices(node.names)}<mo>→</mo><mtext>{target}</mtext></mrow>"
        body = f"<msub><mi>reshape</mi>{label}</msub>{_APPLY}{_bracketed(self.render(node.arg))}"
        return _sub(f"<mrow><mo>[</mo>{body}<mo>]</mo></mrow>", node.indices)

    def _call(self, node: t.Call) -> str:
        args = [self.render(a) for a in node.args]
        if node.binders is not None:
            args = [f"<msub><mrow><mo>[</mo>{a}<mo>]</mo></mrow>{_indices(group)}</msub>"
                    for a, group in zip(args, node.binders, strict=True)]
        args = [f"<mrow>{a}</mrow>" for a in args]
        inverse = "<mrow><mo>−</mo><mn>1</mn></mrow>"
        body = {
            "inv": lambda a: f"<msup>{a[0]}{inverse}</msup>",
            "det": lambda a: f"<mi>det</mi>{_APPLY}{a[0]}",
            "logdet": lambda a: f"<mi>log</mi>{_APPLY}<mi>det</mi>{_APPLY}{a[0]}",
            "logabsdet": lambda a: f"<mi>log</mi>{_APPLY}<mrow><mo>|</mo><mi>det</mi>{_APPLY}{a[0]}<mo>|</mo></mrow>",
            "detsign": lambda a: f"<mi>sign</mi>{_APPLY}<mi>det</mi>{_APPLY}{a[0]}",
            "solve": lambda a: f"<msup>{a[0]}{inverse}</msup>{a[1]}",
        }[node.fn](args)
        return _sub(_bracketed(body), node.indices)

    def _logsumexp(self, node: t.LogSumExp) -> str:
        return f"<mi>log</mi>{_APPLY}{_bracketed(self.render(t.Sigma(node.reduced, t.Func('exp', node.body))))}"

    def _where(self, node: t.Where) -> str:
        return f"<mi>where</mi>{_APPLY}{_bracketed(*map(self.render, (node.mask, node.a, node.b)))}"

    def _extremum(self, node: t.Extremum) -> str:
        return f"<mi>{node.fn[:3]}</mi>{_APPLY}{_bracketed(self.render(node.a), self.render(node.b))}"

    def _partial(self, node: t.Partial) -> str:
        partial = "<mo>∂</mo>" if len(node.den) == 1 else "<msup><mo>∂</mo><mn>2</mn></msup>"
        den = "".join(f"<mo>∂</mo>{self.render(d)}" for d in node.den)
        return f"<mfrac><mrow>{partial}{self.render(node.num)}</mrow><mrow>{den}</mrow></mfrac>"

    def legend(self, legend: Legend) -> str:
        gap = '<mo separator="true">,</mo><mspace width="0.5em"/>'
        return "".join(f"{gap}{_mi(i)}<mo>∈</mo><mn>1</mn><mo>..</mo><mn>{n}</mn>" for i, n in legend.sizes) + "".join(
            f"{gap}{_mi(label)}<mtext>&#xA0;a constant of shape {html.escape(str(shape))}</mtext>"
            for label, shape in legend.constants)


def _joined(content: str) -> str:
    """Rendered lines as callers joined them (``head = body``, heads spaced apart): the
    ``=`` they wrote as a token, the spaces between elements gone. Rendered elements pass
    as they are."""
    return re.sub(r">\s+<", "><", content.replace(" = ", "<mo>=</mo>"))


def math(content: str, display: str = "block") -> str:
    """``content`` (rendered elements) as one ``<math>`` element."""
    from ..errors import OptionError

    if display not in ("block", "inline"):
        raise OptionError(f'display={display!r}: give "block" (its own line) or "inline" (in running text)')
    return f'<math xmlns="{_NS}" display="{display}"><mrow>{_joined(content)}</mrow></math>'


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
