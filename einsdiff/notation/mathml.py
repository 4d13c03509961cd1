"""Index notation as MathML Core, which every current browser renders with no script.

The printer in :mod:`einsdiff.notation.printing` writes signs, numbers, brackets and spaces itself
and asks its style for everything else. The :class:`MathML` style answers with elements;
:func:`finish` then turns the printer's own bare text into ``<mo>``/``<mn>`` tokens. Its
brackets stay bare characters until then, so the printer's bracket counting works on
MathML as it does on plain text.
"""

from __future__ import annotations

import html
import re

from ..ir.expr import Expr
from ..ir.ops import OPS
from .printing import Text, _fmt_number, _lines

_NS = "http://www.w3.org/1998/Math/MathML"
_TOKEN = re.compile(r"<(/?)(mi|mn|mo|mtext)\b[^>]*>")
# What is_sum needs to see: tags (which nest), bare brackets, and bare signs between terms.
_SCAN = re.compile(r"<(/?)[a-z]+\b[^>]*?(/?)>|[()]| [-+] ")
_BARE = re.compile(r"\s+|\d+(?:\.\d*)?(?:e[+-]?\d+)?|inf|nan|[-+=(),;:]")
_OPERATORS = {"-": "−", "+": "+", "=": "=", "(": "(", ")": ")", ",": ",", ";": ";", ":": ":"}
# Entities MathML Core needs: function application and the separator between subscripts.
_APPLY = "<mo>&#x2061;</mo>"
_COMMA = '<mo separator="true">,</mo>'


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


class MathML(Text):
    """Elements for the style's hooks; the printer's own text is finished by :func:`finish`."""

    named_reductions = True

    def ref(self, name: str, names) -> str:
        return _sub(_mi(name), names)

    def delta(self, a: str, b: str) -> str:
        return _sub("<mi>δ</mi>", (a, b))

    def func(self, fn: str, inner: str, param) -> str:
        if fn == "reciprocal":
            return f"<mfrac><mn>1</mn><mrow>{inner}</mrow></mfrac>"
        if fn == "sqrt":
            return f"<msqrt>{inner}</msqrt>"
        if fn in ("square", "power"):
            return f"<msup><mrow>({inner})</mrow>{_mn(2 if fn == 'square' else param)}</msup>"
        return f"{_mi(_function_name(fn))}{_APPLY}<mrow>({inner})</mrow>"

    def sigma(self, names, body: str) -> str:
        sign = f'<munder><mo movablelimits="false">∑</mo>{_indices(names)}</munder>'
        return f"<mrow>{sign}" + (f"({body})" if self.is_sum(body) else body) + "</mrow>"

    def reshape(self, names, shape, inner: str, outer) -> str:
        target = html.escape(str(tuple(shape)))
        label = f"<mrow>{_indices(names)}<mo>→</mo><mtext>{target}</mtext></mrow>"
        body = f"<msub><mi>reshape</mi>{label}</msub>{_APPLY}<mrow>({inner})</mrow>"
        return _sub(f"<mrow><mo>[</mo>{body}<mo>]</mo></mrow>", outer)

    def call(self, fn: str, args, binders, names) -> str:
        if binders is not None:
            args = [f"<msub><mrow><mo>[</mo>{a}<mo>]</mo></mrow>{_indices(group)}</msub>"
                    for a, group in zip(args, binders, strict=True)]
        args = [f"<mrow>{a}</mrow>" for a in args]
        inverse = "<mrow><mo>−</mo><mn>1</mn></mrow>"
        body = {
            "inv": lambda a: f"<msup>{a[0]}{inverse}</msup>",
            "det": lambda a: f"<mi>det</mi>{_APPLY}{a[0]}",
            "logdet": lambda a: f"<mi>log</mi>{_APPLY}<mi>det</mi>{_APPLY}{a[0]}",
            "logabsdet": lambda a: f"<mi>log</mi>{_APPLY}<mrow><mo>|</mo><mi>det</mi>{_APPLY}{a[0]}<mo>|</mo></mrow>",
            "detsign": lambda a: f"<mi>sign</mi>{_APPLY}<mi>det</mi>{_APPLY}{a[0]}",
            "solve": lambda a: f"<msup>{a[0]}{inverse}</msup>{a[1]}",
        }[fn](args)
        return _sub(f"<mrow>({body})</mrow>", names)

    def logsumexp(self, reduced, body: str) -> str:
        return f"<mi>log</mi>{_APPLY}<mrow>({self.sigma(reduced, self.func('exp', body, None))})</mrow>"

    def where(self, mask: str, a: str, b: str) -> str:
        return f"<mi>where</mi>{_APPLY}<mrow>({mask}, {a}, {b})</mrow>"

    def extremum(self, fn: str, a: str, b: str) -> str:
        return f"<mi>{fn[:3]}</mi>{_APPLY}<mrow>({a}, {b})</mrow>"

    def legend(self, sizes, constants=()) -> str:
        gap = '<mo separator="true">,</mo><mspace width="0.5em"/>'
        return "".join(f"{gap}{_mi(i)}<mo>∈</mo><mn>1</mn><mo>..</mo><mn>{n}</mn>" for i, n in sizes) + "".join(
            f"{gap}{_mi(label)}<mtext>&#xA0;a constant of shape {html.escape(str(tuple(shape)))}</mtext>"
            for label, shape in constants)

    def is_sum(self, text: str) -> bool:
        """A sign at the outermost level, outside every bracket and every element."""
        if text.startswith("-"):
            return True
        depth = 0
        for match in _SCAN.finditer(text):
            token = match.group(0)
            if token[0] == "<":
                depth += 0 if match.group(2) else -1 if match.group(1) else 1
            elif token in "()":
                depth += 1 if token == "(" else -1
            elif depth == 0:
                return True
        return False


def finish(text: str) -> str:
    """Turn the printer's bare signs, numbers and brackets into MathML tokens; spaces between
    factors go (juxtaposition is the product, as in print)."""
    out, position, inside = [], 0, 0
    for match in re.finditer(r"<[^>]*>", text):
        out.append(text[position:match.start()] if inside else _tokens(text[position:match.start()]))
        out.append(match.group(0))
        token = _TOKEN.fullmatch(match.group(0))
        if token and not match.group(0).endswith("/>"):
            inside += -1 if token.group(1) else 1
        position = match.end()
    out.append(_tokens(text[position:]))
    return "".join(out)


def _tokens(bare: str) -> str:
    out, position = [], 0
    for match in _BARE.finditer(bare):
        if match.start() != position:
            raise AssertionError(f"unexpected text {bare[position:match.start()]!r} in MathML")
        piece = match.group(0)
        if piece in _OPERATORS:
            out.append(f"<mo>{_OPERATORS[piece]}</mo>")
        elif not piece.isspace():
            out.append(f"<mn>{piece}</mn>")
        position = match.end()
    if position != len(bare):
        raise AssertionError(f"unexpected text {bare[position:]!r} in MathML")
    return "".join(out)


def math(content: str, display: str = "block") -> str:
    """``content`` (elements, or the printer's text) as one ``<math>`` element."""
    from ..errors import OptionError

    if display not in ("block", "inline"):
        raise OptionError(f'display={display!r}: give "block" (its own line) or "inline" (in running text)')
    return f'<math xmlns="{_NS}" display="{display}"><mrow>{finish(content)}</mrow></math>'


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
