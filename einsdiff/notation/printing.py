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
"""

from __future__ import annotations

import collections
import itertools

import numpy as np

from ..ir.build import subtract
from ..ir.expr import Add, Call, Const, Contract, Expr, Map, Materialize, Reshape, Var, bare
from ..ir.ops import OPS
from ..ir.variables import children, topological, variables

_LETTERS = "ijklmnpqrstuvwabcdefgh"
# Functions of whole tensors whose result is indexed like a tensor: inv(X)[i,j].
_TENSOR_FUNCTIONS = ("inv", "det", "logdet", "logabsdet", "detsign", "solve")


class _Names:
    """A supply of index names not yet used in the expression being printed."""

    def __init__(self):
        self.used: set[str] = set()
        self.size_of: dict[str, int] = {}  # one size per name in a formula, so one legend serves all

    def fresh(self, size: int, prefer=()) -> str:
        """An unused name for an index of ``size``: the first of ``prefer`` that is free, else
        the next letter."""
        for name in itertools.chain(prefer, _LETTERS, (f"{c}{n}" for n in itertools.count(1) for c in _LETTERS)):
            if name not in self.used and self.size_of.setdefault(name, size) == size:
                self.used.add(name)
                return name
        raise AssertionError("unreachable: the name supply is infinite")


def _fmt_number(c: float) -> str:
    """Exact and short: the shortest text that reads back as the same float."""
    c = float(c)
    return str(int(c)) if c.is_integer() and abs(c) < 1e15 else repr(c)


def _bracket(name: str, names) -> str:
    return f"{name}[{','.join(names)}]" if names else name


def _subscript(head: str, names) -> str:
    sep = "," if any(len(n) > 1 for n in names) else ""
    return f"{head}_{{{sep.join(names)}}}" if names else head


class Text:
    """The plain-text notation, the one ``ed.parse`` reads back."""

    open, close = "(", ")"
    named_reductions = False  # logsumexp(x) for all of x; LaTeX always names the summed indices

    def ref(self, name: str, names) -> str:
        return _bracket(name, names)

    def delta(self, a: str, b: str) -> str:
        return f"δ[{a},{b}]"

    def func(self, fn: str, inner: str, param) -> str:
        return f"({inner})^{_fmt_number(param)}" if fn == "power" else f"{fn}({inner})"

    def sigma(self, names, body: str) -> str:
        return f"Σ[{','.join(names)}]({body})"

    def reshape(self, names, shape, inner: str, outer) -> str:
        """``reshape[k,l -> (6,)](X[k,l])[i]``: the argument's axes, the new shape, the result's axes."""
        return _bracket(f"reshape[{','.join(names)}{' ' if names else ''}-> {tuple(shape)}]({inner})", outer)

    def call(self, fn: str, args, binders, names) -> str:
        """``inv(X)[i,j]``; with ``binders`` (one group of names per argument) ``inv[k,l](...)[i,j]``."""
        head = fn if binders is None else f"{fn}[{'; '.join(','.join(group) for group in binders)}]"
        return _bracket(f"{head}({', '.join(args)})", names)

    def logsumexp(self, reduced, body: str) -> str:
        return f"logsumexp[{','.join(reduced)}]({body})"

    def where(self, mask: str, a: str, b: str) -> str:
        return f"where({mask}, {a}, {b})"

    def extremum(self, fn: str, a: str, b: str) -> str:
        """``maximum(a, b)`` or ``minimum(a, b)``."""
        return f"{fn}({a}, {b})"

    def legend(self, sizes, constants=()) -> str:
        """``; i:2, C0: constant (2, 3)``: index sizes, and the constant arrays, which
        ``ed.parse(text, C0=array)`` binds by name."""
        items = [f"{i}:{n}" for i, n in sizes] + [f"{label}: constant {tuple(shape)}" for label, shape in constants]
        return f"; {', '.join(items)}" if items else ""

    def is_sum(self, text: str) -> bool:
        """Whether ``text`` is a sum or a negation at its outermost level (so a factor must bracket it)."""
        return _is_sum(text)


class Latex(Text):
    """Einstein form for LaTeX: ``f_{i} = W_{ij} x_{j}``, with ``\\delta`` and ``\\sum``."""

    open, close = r"\left(", r"\right)"
    named_reductions = True
    # {0}, {1}: the arguments, a variable's name or a bracketed formula with its axes below it.
    calls = {
        "inv": "{0}^{{-1}}",
        "det": r"\det {0}",
        "logdet": r"\log\det {0}",
        "logabsdet": r"\log\left\lvert\det {0}\right\rvert",
        "detsign": r"\operatorname{{sign}}\det {0}",
        "solve": "{0}^{{-1}} {1}",
    }

    def ref(self, name: str, names) -> str:
        escaped = name.replace("_", r"\_")
        return _subscript(name if len(name) == 1 else rf"\mathrm{{{escaped}}}", names)

    def delta(self, a: str, b: str) -> str:
        return rf"\delta_{{{a}{b}}}" if len(a) == len(b) == 1 else rf"\delta_{{{a},{b}}}"

    def func(self, fn: str, inner: str, param) -> str:
        if fn == "reciprocal":
            return rf"\frac{{1}}{{{inner}}}"
        if fn == "sqrt":
            return rf"\sqrt{{{inner}}}"
        if fn in ("square", "power"):
            return rf"{self.open}{inner}{self.close}^{{{_fmt_number(2 if fn == 'square' else param)}}}"
        return rf"{OPS[fn].latex}{self.open}{inner}{self.close}"

    def sigma(self, names, body: str) -> str:
        # \sum_{k} a_{k} b_{k} needs no brackets; a sum under the sign does.
        return rf"\sum_{{{','.join(names)}}} " + (f"{self.open}{body}{self.close}" if self.is_sum(body) else body)

    def reshape(self, names, shape, inner: str, outer) -> str:
        body = rf"\operatorname{{reshape}}_{{{','.join(names)} \to {tuple(shape)}}}{self.open}{inner}{self.close}"
        return _subscript(rf"\left[{body}\right]", outer)

    def call(self, fn: str, args, binders, names) -> str:
        """``\\left(X^{-1}\\right)_{ij}``; a bound argument is ``\\left[A_{km} B_{ml}\\right]_{kl}``."""
        if binders is not None:
            args = [_subscript(rf"\left[{a}\right]", group) for a, group in zip(args, binders, strict=True)]
        return _subscript(f"{self.open}{self.calls[fn].format(*args)}{self.close}", names)

    def logsumexp(self, reduced, body: str) -> str:
        return rf"\log{self.open}{self.sigma(reduced, self.func('exp', body, None))}{self.close}"

    def where(self, mask: str, a: str, b: str) -> str:
        return rf"\operatorname{{where}}{self.open}{mask}, {a}, {b}{self.close}"

    def extremum(self, fn: str, a: str, b: str) -> str:
        return rf"\{fn[:3]}{self.open}{a}, {b}{self.close}"

    def legend(self, sizes, constants=()) -> str:
        return "".join(rf", \; {i} \in 1..{n}" for i, n in sizes) + "".join(
            rf", \; {self.ref(label, ())} \text{{ a constant of shape }} {tuple(shape)}" for label, shape in constants)


class _Printer:
    def __init__(self, style: Text):
        self.style = style
        self.names = _Names()
        self.consts: dict[Const, str] = {}  # each constant array's label, C0, C1, ... (shared by a formula's lines)
        self.shown_consts: dict[Const, None] = {}  # those this line shows, for its legend
        self.anchored: set[str] = set()  # index names that appear on a tensor, so their size shows
        self.emitted: collections.Counter[str] = collections.Counter()  # index names written so far
        self.unsized: dict[str, None] = {}  # inner names only a delta carries: the legend sizes them
        self.named: dict[Expr, str] = {}  # shared subexpressions printed as tensors of their own: t1[i]
        self.letters: dict[str, tuple[str, ...]] = {}  # each variable's axes as a formula wrote them
        self.taken: set[str] = set()  # names of variables and named subexpressions: no constant's label

    def show(self, node: Expr, names: tuple[str, ...]) -> str:
        name = self.named.get(bare(node))
        if name is not None:
            self.anchored.update(names)
            self.emitted.update(names)
            return self.style.ref(name, names)
        return self.body(node, names)

    def body(self, node: Expr, names: tuple[str, ...]) -> str:
        """``node`` written out, even when it has a name of its own (for its definition)."""
        if isinstance(node, Var):
            self.anchored.update(names)
            self.emitted.update(names)
            return self.style.ref(node.name, names)
        if isinstance(node, Const):
            if node.ndim == 0:
                return _fmt_number(float(node.value))
            self.anchored.update(names)
            self.emitted.update(names)
            if node not in self.consts:
                taken = self.taken | set(self.consts.values())
                self.consts[node] = next(c for k in itertools.count() if (c := f"C{k}") not in taken)
            self.shown_consts[node] = None
            return self.style.ref(self.consts[node], names)
        if isinstance(node, Map):
            return self.style.func(node.fn, self.show(node.arg, names), node.param)
        if isinstance(node, Call):
            return self._call(node, names)
        if isinstance(node, Add):
            return self._add(node, names)
        if isinstance(node, Contract):
            return self._contract(node, names)
        if isinstance(node, Materialize):
            return self.body(node.arg, names)
        if isinstance(node, Reshape):
            self.anchored.update(names)  # the new shape gives their sizes
            self.emitted.update(names)
            inner_names = tuple(self.names.fresh(n) for n in node.arg.shape)
            return self.style.reshape(inner_names, node.shape, self.bound(node.arg, inner_names), names)
        raise TypeError(f"cannot print a {type(node).__name__}")

    def _call(self, node: Call, names) -> str:
        if node.fn == "where":  # elementwise: every argument carries the node's own indices
            extremum = _extremum(node)
            if extremum:
                return self.style.extremum(extremum, *(self.show(arg, names) for arg in node.args[1:]))
            return self.style.where(*(self.show(arg, names) for arg in node.args))
        if node.fn == "logsumexp":
            return self._logsumexp(node, names)
        self.anchored.update(names)
        self.emitted.update(names)
        if all(_whole(arg, self.named) for arg in node.args):
            return self.style.call(node.fn, [self.show(arg, ()) for arg in node.args], None, names)
        binders = [tuple(self.names.fresh(n) for n in arg.shape) for arg in node.args]
        return self.style.call(node.fn, [self.bound(arg, group) for arg, group in zip(node.args, binders, strict=True)],
                               binders, names)

    def _logsumexp(self, node: Call, names) -> str:
        """logsumexp[j](x[i,j]): the reduced indices named as a sum names them, the kept ones free."""
        (x,) = node.args
        if not self.style.named_reductions and len(node.param) == x.ndim and _whole(x, self.named):
            return self.style.call("logsumexp", [self.show(x, ())], None, ())
        reduced = {p: self.names.fresh(x.shape[p]) for p in node.param}
        kept = iter(names)
        body = self.bound(x, tuple(reduced[p] if p in reduced else next(kept) for p in range(x.ndim)))
        return self.style.logsumexp(tuple(reduced.values()), body)

    def _letters(self, node: Contract, i: int) -> list[str]:
        """The letters a formula wrote on the variables' axes that index ``i`` runs along."""
        if not self.letters:
            return []
        return [c for op, idx in zip(node.operands, node.inputs, strict=True) if i in idx
                for c in self._axis_letters(op, idx.index(i), 4)]

    def _axis_letters(self, node: Expr, axis: int, depth: int) -> list[str]:
        """The letters written on the variable axes that ``node``'s ``axis`` comes from,
        through elementwise functions, sums and contractions (a few levels deep)."""
        node = bare(node)
        if isinstance(node, Var):
            written = self.letters.get(node.name, ())
            return [written[axis]] if len(written) == node.ndim else []
        if depth == 0:
            return []
        if isinstance(node, Map):
            return self._axis_letters(node.arg, axis, depth - 1)
        if isinstance(node, Add):
            return [c for t in node.terms for c in self._axis_letters(t, axis, depth - 1)]
        if isinstance(node, Contract):
            i = node.output[axis]
            return [c for op, idx in zip(node.operands, node.inputs, strict=True) if i in idx
                    for c in self._axis_letters(op, idx.index(i), depth - 1)]
        return []

    def bound(self, arg: Expr, names) -> str:
        """``arg`` shown with the names a function binds; a name it does not show goes in the legend."""
        before = {n: self.emitted[n] for n in names}
        text = self.show(arg, names)
        self.unsized.update((n, None) for n in names if self.emitted[n] == before[n])
        return text

    def _add(self, node: Add, names) -> str:
        if not node.terms:
            return "0"
        common = abs(node.coeffs[0])
        if _scaled(node):
            unit = Add(node.terms, tuple(c / common for c in node.coeffs), node.shape)
            return f"{_fmt_number(common)} {self.paren(self._add(unit, names))}"  # 2 (a - b), not 2 a - 2 b
        parts = []
        outer = set(self.names.used)
        seen = set(outer)
        # Positive terms first: 1 - tanh(u)^2 reads better than -tanh(u)^2 + 1.
        ordered = sorted(zip(node.terms, node.coeffs, strict=True), key=lambda tc: tc[1] < 0)
        for term, c in ordered:
            self.names.used = set(outer)  # each term is its own scope for summed indices
            text = self.show(term, names)
            if self.style.is_sum(text) and (c != 1 or parts):  # -(a + b), 2 (a + b), c - (a - b)
                text = self.paren(text)
            seen |= self.names.used
            sign = "-" if c < 0 else "+"
            mag = abs(c)
            if mag == 1:
                body = text
            else:
                body = _fmt_number(mag) if text == "1" else f"{_fmt_number(mag)} {text}"
            parts.append((sign, body))
        self.names.used = seen
        first_sign, first = parts[0]
        out = ("-" if first_sign == "-" else "") + first
        for sign, body in parts[1:]:
            out += f" {sign} {body}"
        return out

    def _contract(self, node: Contract, names) -> str:
        index_name: dict[int, str] = {}
        deltas = []
        for position, i in enumerate(node.output):
            if i in index_name:
                if index_name[i] != names[position]:
                    deltas.append(self.style.delta(index_name[i], names[position]))
                    self.emitted.update((index_name[i], names[position]))
                    if not any(i in idx for idx in node.inputs):  # no sibling tensor gives its size
                        self.unsized[index_name[i]] = None
            else:
                index_name[i] = names[position]
        for i in sorted({i for idx in node.inputs for i in idx} - set(index_name)):
            index_name[i] = self.names.fresh(node.sizes[i], self._letters(node, i))
        # Read like a textbook: factors carrying earlier output indices first (A[i,j] x[j]).
        first_place = {i: p for p, i in reversed(list(enumerate(node.output)))}
        pairs = sorted(
            zip(node.operands, node.inputs, strict=True),
            key=lambda pair: min((first_place.get(i, len(node.output)) for i in pair[1]), default=len(node.output)),
        )
        pairs, number = _numbers_first(pairs, self.named)
        texts, seen_in = [], {}
        for k, (op, idx) in enumerate(pairs):
            op_names = tuple(index_name[i] for i in idx)
            before = {n: self.emitted[n] for n in op_names}
            texts.append(self.show(op, op_names))
            for i, n in zip(idx, op_names, strict=True):
                if self.emitted[n] > before[n]:  # a broadcast operand (c + d)[i] does not show i
                    seen_in.setdefault(i, set()).add(k)
        explicit, scale = [], 1
        summed = sorted({i for idx in node.inputs for i in idx} - set(node.output))
        for i in summed:
            where = seen_in.get(i, set())
            if not where:
                scale *= node.sizes[i]  # summing what does not vary: a factor of the size
            else:
                # Einstein's implicit sum needs two occurrences a reader sees on tensors at this level:
                # inside a function or a bracket, tanh(a[k] b[k]) c[k], the index would read as summed there.
                composite = any(not _tensor_like(pairs[k][0], self.named) for k in where)
                seen = sum(pairs[k][1].count(i) for k in where)
                if composite or seen < 2:
                    explicit.append(index_name[i])
        if len(texts) + len(deltas) + (scale != 1) > 1 or not explicit:  # a lone sum needs no parentheses: Σ[k](a[k] + b[k])
            texts = [self._factor(op, text) for (op, _), text in zip(pairs, texts, strict=True)]
        scale *= number
        factors = ([_fmt_number(scale)] if scale not in (1, -1) else []) + deltas + texts
        body = " ".join(factors) if factors else _fmt_number(scale)
        if scale == -1 and len(factors):
            body = f"-{body}"
        return self.style.sigma(explicit, body) if explicit else body

    def paren(self, text: str) -> str:
        return f"{self.style.open}{text}{self.style.close}"

    def _factor(self, op: Expr, text: str) -> str:
        """Parenthesize a sum that stands as a factor of a product."""
        op = bare(op)
        if not isinstance(op, Add) or not op.terms or op in self.named:
            return text
        return text if _scaled(op) else self.paren(text)  # "2 (a - b)" is already a product


def _numbers_first(pairs, named):
    """A product's numbers, to stand in front of it: ``2 A[i,j] (a - b)``, not ``A[i,j] 2 (a - b)``;
    the operands without the scalar constants, and a scaled sum's common factor taken out
    (unless the sum has a name of its own)."""
    if len(pairs) < 2:
        return pairs, 1.0
    kept, number = [], 1.0
    for op, idx in pairs:
        inner = bare(op)
        if inner in named:
            kept.append((op, idx))
            continue
        if isinstance(inner, Const) and inner.ndim == 0:
            number *= float(inner.value)
            continue
        if isinstance(inner, Add) and _scaled(inner):
            common = abs(inner.coeffs[0])
            number *= common
            op = Add(inner.terms, tuple(c / common for c in inner.coeffs), inner.shape)
        kept.append((op, idx))
    return kept, number


def _extremum(node: Call) -> str | None:
    """``maximum`` for where(step(a - b), a, b), as ed.maximum builds it, ``minimum`` for
    where(step(b - a), a, b); None for any other where."""
    mask, a, b = (bare(arg) for arg in node.args)
    if not (isinstance(mask, Map) and mask.fn == "step"):
        return None
    a, b = _unbroadcast(a), _unbroadcast(b)
    difference = _terms(mask.arg)
    if difference == _terms(subtract(a, b)):
        return "maximum"
    return "minimum" if difference == _terms(subtract(b, a)) else None


def _terms(node: Expr) -> collections.Counter:
    """A sum's terms with their coefficients, in any order."""
    node = bare(node)
    return collections.Counter(zip(node.terms, node.coeffs, strict=True) if isinstance(node, Add) else [(node, 1.0)])


def _unbroadcast(node: Expr) -> Expr | float:
    """A number broadcast over axes, as the number (ed.maximum(x, 0.5) compares x with the
    scalar 0.5); any other node as it is."""
    number = _number(node)
    return node if number is None else number


def _number(node: Expr) -> float | None:
    node = bare(node)
    if isinstance(node, Const) and node.ndim == 0:
        return float(node.value)
    if isinstance(node, Contract) and not node.operands and len(set(node.output)) == len(node.output):
        return 1.0  # ones
    if isinstance(node, Contract) and len(node.operands) == 1 and not node.inputs[0]:
        return _number(node.operands[0])
    if isinstance(node, Add) and len(node.terms) == 1:
        inner = _number(node.terms[0])
        return None if inner is None else node.coeffs[0] * inner
    return None


def _scaled(node: Add) -> bool:
    """A sum whose terms share one coefficient other than ±1: printed as 2 (a - b)."""
    return len(node.terms) > 1 and abs(node.coeffs[0]) != 1 and all(abs(c) == abs(node.coeffs[0]) for c in node.coeffs)


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


def aligned(lines: list[str]) -> str:
    """One LaTeX formula as it is; several as an ``aligned`` block, lined up at their ``=``."""
    if len(lines) == 1:
        return lines[0]
    rows = " \\\\\n".join(line.replace(" = ", " &= ", 1) for line in lines)
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
    labels = {} if constants is None else constants
    lines = definitions(named, style, constants=labels)
    free, body, legend = render(expr, indices, style, named=named, constants=labels)
    return lines + [f"{style.ref(name, free)} = {body}{legend}"]


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
        free, body, legend = render(node, None, style, named=named, letters=letters, constants=constants)
        lines.append(f"{style.ref(label, free)} = {body}{legend}")
    return lines


def _formula(expr: Expr, name: str, indices, style: Text, caller: str) -> str:
    return _lines(expr, name, indices, style, False, caller)[0]


def render(expr: Expr, indices, style: Text, avoid=(), named=None, letters=None,
           constants=None) -> tuple[tuple[str, ...], str, str]:
    """The free index names, the right side and the size legend of ``expr``'s formula;
    summed indices are named apart from ``avoid`` too, after the ``letters`` a formula wrote
    on each variable where they are free. Nodes in ``named`` are written as tensors of those
    names (``expr`` itself is written out); ``constants`` (filled in as it goes) labels the
    constant arrays alike across the lines of one formula."""
    from ..errors import OperandError

    printer = _Printer(style)
    printer.named = dict(named or {})
    printer.letters = dict(letters or {})
    printer.taken = {v.name for v in variables(expr)} | set(printer.named.values())
    if constants is not None:  # one label per constant across the lines of one formula
        printer.consts = constants
    printer.names.used.update(avoid)
    if indices is None:
        free = tuple(printer.names.fresh(n) for n in expr.shape)
    else:
        free = tuple(indices)
        if len(free) != expr.ndim or len(set(free)) != len(free) or not all(isinstance(i, str) and i.isidentifier() for i in free):
            raise OperandError(
                f"indices={indices!r}: give {expr.ndim} distinct identifier names, one per axis of shape {expr.shape}"
            )
        printer.names.used.update(free)
        printer.names.size_of.update(zip(free, expr.shape, strict=True))
    body = printer.body(expr, free)
    # Sizes a reader cannot see on any tensor (an index only on a delta, or broadcast).
    unseen = [i for i in free if i not in printer.anchored] + [i for i in printer.unsized if i not in free]
    legend = style.legend([(i, printer.names.size_of[i]) for i in unseen],
                          [(printer.consts[c], c.shape) for c in printer.shown_consts])
    return free, _unwrap(body, style), legend


def _tensor_like(node: Expr, named=()) -> bool:
    """Printed with its indices in one bracket, as a tensor: X[i,j], inv(X)[i,j], t1[i,j]."""
    node = bare(node)
    return (isinstance(node, Var | Const | Reshape) or node in named
            or (isinstance(node, Call) and node.fn in _TENSOR_FUNCTIONS))


def _whole(node: Expr, named=()) -> bool:
    """Printed as a whole tensor, with no indices: a variable, inv(X), det(solve(A, B)), t1."""
    node = bare(node)
    return node in named or (_tensor_like(node) and (not isinstance(node, Call)
                                                    or all(_whole(arg, named) for arg in node.args)))


def _is_sum(text: str) -> bool:
    depth = 0
    for k, ch in enumerate(text):
        depth += {"(": 1, ")": -1, "[": 1, "]": -1, "{": 1, "}": -1}.get(ch, 0)
        if depth == 0 and text.startswith((" + ", " - "), k):
            return True
    return text.startswith("-")


def _unwrap(text: str, style: Text) -> str:
    """``a + b`` for ``(a + b)``: the outermost parentheses around a whole formula say nothing."""
    if not (text.startswith(style.open) and text.endswith(style.close)):
        return text
    depth = 0
    for k in range(len(style.open) - 1, len(text)):  # from the opening bracket itself (\left( in LaTeX)
        depth += {"(": 1, ")": -1}.get(text[k], 0)
        if depth == 0:
            return text[len(style.open):-len(style.close)] if k == len(text) - 1 else text
    return text

