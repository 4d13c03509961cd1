"""Index notation for people: ``f[i,a,b] = δ[i,a] x[b]``.

Free indices take the names ``i, j, k, ...``; summed ones the next free letters.
A summed index that occurs twice or more is summed by the Einstein convention; one
that occurs once is written with an explicit ``Σ[...]``. A repeated output index
prints as a Kronecker delta ``δ[., .]``.

A function of whole tensors reads like a tensor: ``inv(X)[i,j]``, ``det(X)``,
``solve(A, b)[i]``. When an argument is not a variable, the function names the axes of
each argument first: ``inv[k,l](A[k,m] B[m,l])[i,j]`` is the inverse of the matrix
indexed ``k,l`` by the body, taken at ``i,j``; ``solve[k,l; k](..., ...)`` binds one group
per argument. ``logsumexp[j](x[i,j])`` reduces over ``j`` as ``Σ[j]`` does, and
``where(m[i], a[i], b[i])`` is elementwise. A reshape names its argument's axes and the
new shape, ``reshape[k,l -> (6,)](X[k,l])[i]``; a constant array is ``C0``, declared after
the ``;`` as ``C0: constant (2, 3)``.

The formula is first a notation tree (:func:`einsdiff.notation.tree.to_tree`, which names
every index); :class:`Text` and :class:`Latex` (and :class:`einsdiff.notation.mathml.MathML`)
render it, bracketing by its structure, each function by its registry entry's template.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..ir.expr import Const, Expr, bare
from ..ir.functions import FUNCTIONS
from ..ir.variables import children, topological, variables
from . import tree as t
from .tree import Formula, Legend, Node, to_tree


@dataclass(frozen=True, slots=True)
class Written:
    """How a number is written, exactly: ``decimal`` (``2``, ``0.1``, ``1e-12``: the shortest
    text that reads back as the float), or, when that is long and a fraction ``p/q`` with
    q ≤ 1000 is the same float, ``numerator``/``denominator``; ``negative`` is the sign apart."""

    negative: bool
    decimal: str
    numerator: int = 0
    denominator: int = 1

    @property
    def fraction(self) -> bool:
        return self.denominator != 1


_SHORT = 6  # significant digits a decimal may have and still be the way to write a number
_DENOMINATORS = 1000  # the largest q of a fraction p/q that prints as one


def written(value: float) -> Written:
    """``value`` in its shortest exact form: a whole number, a short decimal, a fraction whose
    nearest float ``value`` is, else the shortest decimal that reads back as ``value``.

    >>> [format_number(v) for v in (2.0, 0.5, 0.1, 2 / 3, -1 / 7, 1e-12, 0.1 + 0.2)]
    ['2', '0.5', '0.1', '2/3', '-1/7', '1e-12', '0.30000000000000004']
    """
    value = float(value)
    negative, size = value < 0, abs(value)
    if size.is_integer() and size < 1e15:
        return Written(negative, str(int(size)))
    decimal = repr(size)
    digits = len(decimal.partition("e")[0].replace(".", "").strip("0"))
    if digits > _SHORT and math.isfinite(size):
        near = Fraction(size).limit_denominator(_DENOMINATORS)
        if near.denominator > 1 and near.numerator / near.denominator == size:  # p/q reads back as this float
            return Written(negative, decimal, near.numerator, near.denominator)
    return Written(negative, decimal)


def format_number(value: float) -> str:
    """A number as plain text, in its shortest exact form (:func:`written`): ``2/3``, ``0.1``, ``1e-12``."""
    w = written(value)
    body = f"{w.numerator}/{w.denominator}" if w.fraction else w.decimal
    return f"-{body}" if w.negative else body


_fmt_number = format_number  # the name the matrix form and the explanations import

_SUPERSCRIPTS = str.maketrans("0123456789-+.e/", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺·ᵉ⁄")


def superscript(value: float) -> str:
    """A number as an exponent in superscript characters, as the matrix form writes powers
    (``x∘²``, ``x∘⁻¹⁄³``): the matrix-notation reader reads them back.

    >>> superscript(2.0), superscript(-1 / 3), superscript(0.5)
    ('²', '⁻¹⁄³', '⁰·⁵')
    """
    return format_number(value).translate(_SUPERSCRIPTS)


def _bracket(name: str, names) -> str:
    return f"{name}[{','.join(names)}]" if names else name


def _subscript(head: str, names) -> str:
    sep = "," if any(len(n) > 1 for n in names) else ""
    return f"{head}_{{{sep.join(names)}}}" if names else head


class Text:
    """The plain-text notation, the one ``ed.parse`` reads back: a renderer of the notation
    tree (:mod:`einsdiff.notation.tree`) that brackets by the tree's structure."""

    open, close = "(", ")"
    equals = " = "
    space = " "  # between the factors of a product
    named_reductions = False  # logsumexp(x) for all of x; LaTeX always names the summed indices

    def render(self, node: Node) -> str:
        return getattr(self, f"_{type(node).__name__.lower()}")(node)

    def top(self, node: Node) -> str:
        """A formula's right side: brackets around all of it say nothing."""
        return self.render(t.outer(node))

    def paren(self, text: str) -> str:
        return f"{self.open}{text}{self.close}"

    def ref(self, name: str, names) -> str:
        return self.render(t.Ref(name, tuple(names)))

    def block(self, lines: int) -> Text:
        """The style that writes ``lines`` lines of one formula (LaTeX lines them up at ``=``)."""
        return self

    def line(self, head: Node, formula: Formula) -> str:
        """``head = body; legend``."""
        return f"{self.render(head)}{self.equals}{self.top(formula.body)}{self.legend(formula.legend)}"

    # -- one method per node --------------------------------------------------------
    def _ref(self, node: t.Ref) -> str:
        return _bracket(node.name, node.indices)

    def _number(self, node: t.Number) -> str:
        return _fmt_number(node.value)

    def _delta(self, node: t.Delta) -> str:
        return f"δ[{node.a},{node.b}]"

    def _paren(self, node: t.Paren) -> str:
        return self.paren(self.render(node.body))

    def template(self, fn: str) -> str:
        """The function's own notation in this style, from its registry entry (the one hook
        through which a renderer reads per-function text)."""
        return FUNCTIONS[fn].notation.text

    def indices(self, names) -> str:
        """A list of index names, as a template's ``{r}`` takes it."""
        return ",".join(names)

    def parameter(self, value: float) -> str:
        """A function's parameter, as a template's ``{p}`` takes it: a fraction in brackets,
        ``(x[i])^(2/3)``, since ``^`` binds tighter than ``/``."""
        return self.paren(format_number(value)) if written(value).fraction else format_number(value)

    def _func(self, node: t.Func) -> str:
        param = None if node.param is None else self.parameter(node.param)
        return self.template(node.fn).format(self.render(node.arg), p=param)

    def _sum(self, node: t.Sum) -> str:
        out = ""
        for k, term in enumerate(node.terms):
            text = self.render(term.body)
            if t.is_sum(term.body) and (term.coeff != 1 or k):  # -(a + b), 2 (a + b), c - (a - b)
                text = self.paren(text)
            mag = abs(term.coeff)
            if mag != 1:
                text = self.number(mag) if term.body == t.Number(1.0) else f"{self.number(mag)}{self.space}{text}"
            out += self.sign(term.coeff < 0, k) + text
        return out

    def number(self, value: float) -> str:
        return self.render(t.Number(float(value)))

    def sign(self, negative: bool, position: int) -> str:
        """The sign before a term: none before a first positive one."""
        if not position:
            return "-" if negative else ""
        return " - " if negative else " + "

    def _product(self, node: t.Product) -> str:
        lead = [self.number(node.scale)] if node.scale not in (1, -1) else []
        texts = lead + [self._factor(f, bool(lead or k)) for k, f in enumerate(node.factors)]
        return (self.sign(True, 0) if node.scale == -1 else "") + self.space.join(texts)

    def _factor(self, node: Node, after: bool) -> str:
        """A factor of a product; a number after another factor in brackets, as a signed or
        fractional one must be (``x[i] (2/3)``, ``x[i] (-2)``), since only a product's first number leads it."""
        if after and isinstance(node, t.Number) and (node.value < 0 or written(node.value).fraction):
            return self.paren(self.render(node))
        return self.render(node)

    def _sigma(self, node: t.Sigma) -> str:
        return f"Σ[{','.join(node.indices)}]({self.render(node.body)})"

    def _reshape(self, node: t.Reshape) -> str:
        names = node.names
        return _bracket(f"reshape[{','.join(names)}{' ' if names else ''}-> {tuple(node.shape)}]({self.render(node.arg)})",
                        node.indices)

    def _call(self, node: t.Call) -> str:
        """``inv(X)[i,j]``, ``inv[k,l](A[k,m] B[m,l])[i,j]``: as ``ed.parse`` reads every function of whole tensors."""
        name = FUNCTIONS[node.fn].notation.name
        groups = [','.join(g) for g in node.binders or ()] + ([node.key] if node.key else [])
        head = f"{name}[{'; '.join(groups)}]" if groups else name
        return _bracket(f"{head}({', '.join(self.render(a) for a in node.args)})", node.indices)

    def _along(self, node: t.Along) -> str:
        return self.template(node.fn).format(self.render(node.body), r=self.indices(node.indices))

    def _piecewise(self, node: t.Piecewise) -> str:
        return self.template(node.fn).format(*map(self.render, node.args))

    def _partial(self, node: t.Partial) -> str:
        head = "∂²" if len(node.den) == 2 else "∂"
        return f"{head}{self.render(node.num)}/" + " ".join(f"∂{self.render(d)}" for d in node.den)

    def _word(self, node: t.Word) -> str:
        return node.text

    def _equals(self, node: t.Equals) -> str:
        return self.equals.join(map(self.render, node.sides))

    def _terms(self, node: t.Terms) -> str:
        return self.sign(False, 1).join(map(self.render, node.parts))

    def _phrase(self, node: t.Phrase) -> str:
        return "".join(map(self.render, node.parts))

    def spaced(self, node: Node) -> bool:
        """Whether ``node`` is written with a space in it, so that a reader takes it for more
        than one symbol (a derivation brackets it as the numerator of a ∂)."""
        if isinstance(node, t.Ref | t.Number | t.Delta):
            return False
        if isinstance(node, t.Func | t.Paren | t.Sigma | t.Along):
            return self.spaced(node.arg if isinstance(node, t.Func) else node.body)
        if isinstance(node, t.Sum):
            (term, *more) = node.terms
            return bool(more) or (abs(term.coeff) != 1 and term.body != t.Number(1.0)) or self.spaced(term.body)
        if isinstance(node, t.Product):
            return len(node.factors) + (node.scale not in (1, -1)) > 1 or self.spaced(node.factors[0])
        if isinstance(node, t.Call):
            return (len(node.args) > 1 or len(node.binders or ()) > 1 or any(map(self.spaced, node.args))
                    or " " in self._call_head(node))
        return True  # where(m, a, b), reshape[k -> (6,)](...), a line's pieces

    def _call_head(self, node: t.Call) -> str:
        """What the style writes around a call's arguments, when they are left out (text: its name)."""
        return ""

    def legend(self, legend: Legend) -> str:
        """``; i:2, C0: constant (2, 3)``: index sizes, and the constant arrays, which
        ``ed.parse(text, C0=array)`` binds by name."""
        items = [f"{i}:{n}" for i, n in legend.sizes] + [f"{label}: constant {shape}" for label, shape in legend.constants]
        return f"; {', '.join(items)}" if items else ""


class Latex(Text):
    """Einstein form for LaTeX: ``f_{i} = W_{ij} x_{j}``, with ``\\delta`` and ``\\sum``."""

    open, close = r"\left(", r"\right)"
    named_reductions = True

    def block(self, lines: int) -> Text:
        return AlignedLatex() if lines > 1 else self

    def template(self, fn: str) -> str:
        return FUNCTIONS[fn].notation.latex

    def _ref(self, node: t.Ref) -> str:
        name = node.name
        escaped = name.replace("_", r"\_")
        return _subscript(name if len(name) == 1 else rf"\mathrm{{{escaped}}}", node.indices)

    def spaced(self, node: Node) -> bool:
        if isinstance(node, t.Sigma | t.Along):
            return True  # \sum_{k} ...
        return super().spaced(node)

    def _number(self, node: t.Number) -> str:
        r"""``\frac{2}{3}``, ``10^{-12}``, ``2.5 \cdot 10^{-5}``."""
        w = written(node.value)
        body = rf"\frac{{{w.numerator}}}{{{w.denominator}}}" if w.fraction else _scientific(w.decimal)
        return f"-{body}" if w.negative else body

    def parameter(self, value: float) -> str:
        """An exponent writes a fraction on one line: ``x^{2/3}``."""
        w = written(value)
        body = f"{w.numerator}/{w.denominator}" if w.fraction else _scientific(w.decimal)
        return f"-{body}" if w.negative else body

    def _call_head(self, node: t.Call) -> str:
        """The function's template (registry data, not printed text): \\det {0} has a space, {0}^{-1} none."""
        return self.template(node.fn)

    def _delta(self, node: t.Delta) -> str:
        a, b = node.a, node.b
        return rf"\delta_{{{a}{b}}}" if len(a) == len(b) == 1 else rf"\delta_{{{a},{b}}}"

    def _sigma(self, node: t.Sigma) -> str:
        # \sum_{k} a_{k} b_{k} needs no brackets; a sum under the sign does.
        body = self.render(node.body)
        return rf"\sum_{{{','.join(node.indices)}}} " + (self.paren(body) if t.is_sum(node.body) else body)

    def _reshape(self, node: t.Reshape) -> str:
        body = self.template("reshape").format(self.render(node.arg), r=self.indices(node.names), p=tuple(node.shape))
        return _subscript(rf"\left[{body}\right]", node.indices)

    def _call_body(self, node: t.Call) -> str:
        args = [self.render(a) for a in node.args]
        if node.binders is not None:
            args = [_subscript(rf"\left[{a}\right]", group) for a, group in zip(args, node.binders, strict=True)]
        return self.template(node.fn).format(*args, p=node.key)

    def _call(self, node: t.Call) -> str:
        """``\\left(X^{-1}\\right)_{ij}``; a bound argument is ``\\left[A_{km} B_{ml}\\right]_{kl}``."""
        body = self._call_body(node)
        return body if node.bare else _subscript(self.paren(body), node.indices)

    def _partial(self, node: t.Partial) -> str:
        head = r"\partial^{2}" if len(node.den) == 2 else r"\partial"
        den = " ".join(rf"\partial {self.render(d)}" for d in node.den)
        return rf"\frac{{{head} {self.render(node.num)}}}{{{den}}}"

    def legend(self, legend: Legend) -> str:
        return "".join(rf", \; {i} \in 1..{n}" for i, n in legend.sizes) + "".join(
            rf", \; {self.ref(label, ())} \text{{ a constant of shape }} {shape}" for label, shape in legend.constants)


def _scientific(decimal: str) -> str:
    r"""``1e-12`` as LaTeX writes it, ``10^{-12}``; ``2.5e-05`` as ``2.5 \cdot 10^{-5}``."""
    mantissa, e, exponent = decimal.partition("e")
    if not e:
        return decimal
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa} \cdot {power}"


def shared(expr: Expr, min_size: int = 4) -> dict[Expr, str]:
    """Subexpressions worth a name of their own, each with its name (t1, t2, ... in the order
    they are defined): those the written-out formula would repeat, of ``min_size`` nodes or
    more. A derivative reuses its function's intermediates (tanh(u) in 1 - tanh(u)²), so
    written out it can grow exponentially with depth while its DAG stays small."""
    def inner(node):
        return tuple(bare(c) for c in children(node))

    root = bare(expr)
    order = topological([root], inner)  # children first
    size = {}
    for node in order:
        size[node] = min(1 + sum(size[c] for c in inner(node)), min_size)
    written = collections.Counter({root: 1})  # how often the formula would write each node
    chosen = set()
    for node in reversed(order):  # parents first: a node's count is complete when it is reached
        if node is not root and written[node] >= 2 and size[node] >= min_size and children(node):
            chosen.add(node)
        for child in inner(node):
            written[child] += 1 if node in chosen else written[node]
    taken = {v.name for v in variables(expr)}
    prefix = next(p for p in "tuspq" if not any(n.startswith(p) and n[1:].isdigit() for n in taken))
    return {node: f"{prefix}{k}" for k, node in enumerate((n for n in order if n in chosen), start=1)}


def to_index_notation(expr: Expr, name: str = "f", indices=None, share: bool = False) -> str:
    """``expr`` as one line of index notation, e.g. ``f[i] = A[i,j] x[j]``; ``indices``
    names the free axes (default ``i, j, k, ...``). With ``share``, each subexpression the
    formula would repeat is written once, as a tensor of its own on a line before it
    (:func:`shared`); each line reads back with ``ed.parse``. A constant array is written
    ``C0`` and declared after the ``;`` as ``C0: constant (2, 3)``; reading back binds its
    value by that name, ``ed.parse(text, C0=array)`` (:func:`printed_constants` gives them all).

    >>> import einsdiff as ed
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> ed.to_index_notation(A @ x)
    'f[i] = A[i,j] x[j]'
    >>> ed.to_index_notation(ed.jacobian(A @ x, A), name="J", indices="iab")
    'J[i,a,b] = δ[i,a] x[b]; i:2, a:2'
    >>> ed.to_index_notation(ed.solve(A @ A.T, A @ x))
    'f[i] = solve[j,k; l](A[j,m] A[k,m], A[l,n] x[n])[i]'
    >>> print(ed.to_index_notation(ed.grad(ed.sum(ed.tanh(ed.tanh(A @ x))), x), share=True))
    t1[i] = tanh(A[i,j] x[j])
    f[i] = Σ[j](A[j,i] (1 - square(t1[j])) (1 - square(tanh(t1[j]))))
    """
    return "\n".join(_lines(expr, name, indices, Text(), share, "to_index_notation"))


def to_latex(expr: Expr, name: str = "f", indices=None, share: bool = False) -> str:
    r"""``expr`` in LaTeX, Einstein form: ``f_{i} = A_{ij} x_{j}``, deltas as ``\delta``; with
    ``share``, an ``aligned`` block that defines each repeated subexpression once.

    >>> import einsdiff as ed
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> print(ed.to_latex(ed.jacobian(ed.tanh(A @ x), x)))
    f_{ij} = \left(1 - \left(\tanh\left(A_{ik} x_{k}\right)\right)^{2}\right) A_{ij}
    """
    return aligned(_lines(expr, name, indices, Latex(), share, "to_latex"))


class AlignedLatex(Latex):
    """LaTeX lines of an ``aligned`` block: each ``=`` is where they line up."""

    equals = " &= "


def aligned(lines: list[str]) -> str:
    """One LaTeX formula as it is; several (written by ``Latex().block(n)``) as an ``aligned`` block."""
    if len(lines) == 1:
        return lines[0]
    rows = " \\\\\n".join(lines)
    return f"\\begin{{aligned}}\n{rows}\n\\end{{aligned}}"


def _lines(expr: Expr, name: str, indices, style: Text, share: bool, caller: str, constants=None) -> list[str]:
    """The formula's lines: the shared subexpressions' definitions (with ``share``), then itself."""
    from ..errors import OperandError

    if not isinstance(expr, Expr):
        raise OperandError(f"{caller} needs an einsdiff expression, got {type(expr).__name__}")
    if not isinstance(name, str) or not name.isidentifier():
        raise OperandError(f"the printed name must be an identifier, got {name!r}")
    if share not in (True, False):
        raise OperandError(f"share={share!r}: give True (name repeated subexpressions) or False")
    named = shared(expr) if share else {}
    style = style.block(len(named) + 1)
    labels = {} if constants is None else constants
    lines = definitions(named, style, constants=labels)
    formula = to_tree(expr, indices, avoid=(), named=named, constants=labels, named_reductions=style.named_reductions)
    return lines + [style.line(t.Ref(name, formula.free), formula)]


def printed_constants(expr: Expr, share: bool = False) -> dict[str, np.ndarray]:
    """The constant arrays of ``expr``'s printed formula, by the labels it gives them, so that
    ``ed.parse(text, **shapes, **printed_constants(expr))`` reads the text back.

    >>> import einsdiff as ed, numpy as np
    >>> e = ed.einsum("ij,j->i", np.eye(2), ed.var("x", (2,)))
    >>> print(e)
    f[i] = C0[i,j] x[j]; C0: constant (2, 2)
    >>> printed_constants(e)["C0"].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    labels: dict[Const, str] = {}
    _lines(expr, "f", None, Text(), share, "printed_constants", labels)
    return {label: c.value for c, label in labels.items()}


def definitions(named: dict[Expr, str], style: Text, letters=None, constants=None) -> list[str]:
    """One line per named subexpression (from :func:`shared`): ``t1[i] = tanh(A[i,j] x[j])``."""
    lines = []
    for node, label in named.items():
        formula = to_tree(node, None, letters, named=named, constants=constants, named_reductions=style.named_reductions)
        lines.append(style.line(t.Ref(label, formula.free), formula))
    return lines


def derivative_head(name: str, free, wrt: str, dnames, order: int = 1) -> t.Partial:
    r"""The left side of a derivative's formula, ``∂f[i]/∂x[a]`` (``∂²f/∂x[a] ∂x[b]`` for a
    Hessian): ``dnames`` names the variable's axes, ``order`` times over, as a tree every
    style renders.

    >>> Text().render(derivative_head("f", (), "x", ("a", "b"), order=2))
    '∂²f/∂x[a] ∂x[b]'
    >>> print(Latex().render(derivative_head("f", ("i",), "W", ("a", "b"))))
    \frac{\partial f_{i}}{\partial W_{ab}}
    """
    dnames = tuple(dnames)
    n = len(dnames) // order
    return t.Partial(t.Ref(name, tuple(free)), tuple(t.Ref(wrt, dnames[k * n:(k + 1) * n]) for k in range(order)))


def line(style: Text, head: Node, expr: Expr, indices, named=None, letters=None, constants=None) -> str:
    """One formula, ``head = expr; legend``, in ``style`` (``head`` a tree: a name with its
    indices, ``t.Ref("f", ("i",))``, or a :func:`derivative_head`).

    >>> import einsdiff as ed
    >>> x = ed.var("x", (3,))
    >>> line(Text(), derivative_head("f", ("i",), "x", ("a",)), ed.jacobian(ed.tanh(x), x), "ia")
    '∂f[i]/∂x[a] = δ[i,a] (1 - square(tanh(x[i]))); a:3'
    """
    formula = to_tree(expr, indices, letters, named=named, constants=constants, named_reductions=style.named_reductions)
    return style.line(head, formula)
