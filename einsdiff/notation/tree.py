"""The notation tree: what a formula says, before any printer writes it.

:func:`to_tree` turns an expression into small frozen nodes (a sum of signed terms, a
product of factors, a tensor reference with its index names, a sum sign over named indices,
a function call, ...) and holds every choice of index names and letters. The text, LaTeX
and MathML printers (:mod:`einsdiff.notation.printing`, :mod:`einsdiff.notation.mathml`) and
the explanations render these nodes; a question about structure ("is this a sum, so that a
factor must bracket it?") is asked of the nodes, never of printed text.

>>> import einsdiff as ed
>>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
>>> to_tree(A @ x).body
Product(scale=1.0, factors=(Ref(name='A', indices=('i', 'j')), Ref(name='x', indices=('j',))))
"""

from __future__ import annotations

import collections
import itertools
from dataclasses import dataclass, replace

from ..ir.build import subtract
from ..ir.functions import FUNCTIONS
from ..ir.expr import Add, Call as CallExpr, Const, Contract, Expr, Map, Materialize, Reshape as ReshapeExpr, Var, bare, is_ones
from ..ir.layout import layout
from ..ir.variables import variables

LETTERS = "ijklmnpqrstuvwabcdefgh"


def supply(start=LETTERS):
    """Index names in the order formulas take them: ``start``, then i1, j1, ..., i2, ..."""
    return itertools.chain(start, (f"{c}{n}" for n in itertools.count(1) for c in LETTERS))


# -- nodes ----------------------------------------------------------------------------


class Node:
    """Base of the notation tree's nodes."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Ref(Node):
    """A tensor by name with its index names: ``A[i,j]``, a variable, a constant ``C0``, a named ``t1``."""

    name: str
    indices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Number(Node):
    value: float


@dataclass(frozen=True, slots=True)
class Delta(Node):
    """The Kronecker delta ``δ[a,b]``."""

    a: str
    b: str


@dataclass(frozen=True, slots=True)
class Func(Node):
    """An elementwise function ``fn(arg)``; ``param`` is power's exponent."""

    fn: str
    arg: Node
    param: float | None = None


@dataclass(frozen=True, slots=True)
class Term:
    """One term of a :class:`Sum`: its coefficient and what it multiplies."""

    coeff: float
    body: Node


@dataclass(frozen=True, slots=True)
class Sum(Node):
    """Signed terms in the order they print: ``1 - square(u)``."""

    terms: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class Product(Node):
    """A number (printed when it is not ±1) times factors side by side: ``2 δ[i,j] x[j]``."""

    scale: float
    factors: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Sigma(Node):
    """An explicit sum over named indices: ``Σ[k](body)``."""

    indices: tuple[str, ...]
    body: Node


@dataclass(frozen=True, slots=True)
class Paren(Node):
    """Brackets the expression asks for (a sum standing as a factor of a product)."""

    body: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A function of whole tensors: ``inv(X)[i,j]``; with ``binders`` (one group of names per
    argument) ``inv[k,l](A[k,m] B[m,l])[i,j]``."""

    fn: str
    args: tuple[Node, ...]
    binders: tuple[tuple[str, ...], ...] | None
    indices: tuple[str, ...]
    bare: bool = False  # a whole formula's right side: LaTeX writes \det X, not \left(\det X\right)
    key: str = ""  # the parameter a bracket shows (take's ``1:3``), from the entry's Notation.param


@dataclass(frozen=True, slots=True)
class Along(Node):
    """A function along named axes of its argument: ``logsumexp[j](x[i,j])``."""

    fn: str
    indices: tuple[str, ...]
    body: Node


@dataclass(frozen=True, slots=True)
class Piecewise(Node):
    """A function elementwise in several arguments: ``where(m[i], a[i], b[i])``, ``maximum(a[i], b[i])``."""

    fn: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Reshape(Node):
    """``reshape[k,l -> (6,)](X[k,l])[i]``: the argument's axes, the new shape, the result's axes."""

    names: tuple[str, ...]
    shape: tuple[int, ...]
    arg: Node
    indices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Partial(Node):
    """``∂num/∂den``, or for a second derivative ``∂²num/∂den1 ∂den2``."""

    num: Node
    den: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Word(Node):
    """Fixed wording inside math, written as it is: ``tanh'(u)``, a rule's own LaTeX."""

    text: str


@dataclass(frozen=True, slots=True)
class Equals(Node):
    """``a = b = c``."""

    sides: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Terms(Node):
    """``a + b``: terms of a derivation's line, added as they stand (each already bracketed)."""

    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Phrase(Node):
    """Pieces written one after the other: ``∂f/∂x, one term of ∂g/∂x``."""

    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Legend:
    """What a formula does not show: the sizes of indices on no tensor, the constants' shapes."""

    sizes: tuple[tuple[str, int], ...] = ()
    constants: tuple[tuple[str, tuple[int, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class Formula:
    """One formula's free index names, right side and legend (its left side is the caller's)."""

    free: tuple[str, ...]
    body: Node
    legend: Legend


# -- questions asked of the tree ------------------------------------------------------


def leads_with_minus(node: Node) -> bool:
    """Whether the node is written starting with a minus sign."""
    if isinstance(node, Number):
        return node.value < 0
    if isinstance(node, Sum):
        return bool(node.terms) and node.terms[0].coeff < 0
    if isinstance(node, Product):
        return node.scale < 0 or (node.scale == 1 and bool(node.factors) and leads_with_minus(node.factors[0]))
    return False


def _signed_between(node: Node) -> bool:
    """Whether a sign stands between two terms at the node's outermost level."""
    if isinstance(node, Sum):
        return len(node.terms) > 1
    return isinstance(node, Product) and any(_signed_between(f) for f in node.factors)


def is_sum(node: Node) -> bool:
    """A sum or a negation at the outermost level, so that a factor or a Σ must bracket it."""
    return leads_with_minus(node) or _signed_between(node)


def outer(node: Node) -> Node:
    """The formula without brackets around all of it: they say nothing."""
    while isinstance(node, Sum) and len(node.terms) == 1 and node.terms[0].coeff == 1:
        node = node.terms[0].body
    if isinstance(node, Call) and not node.indices:
        return replace(node, bare=True)
    return node.body if isinstance(node, Paren) else node


def product(scale: float, factors) -> Node:
    """``scale`` times ``factors`` side by side; a lone factor as itself, no factors as the number."""
    factors = tuple(factors)
    if not factors:
        return Number(float(scale))
    return factors[0] if scale == 1 and len(factors) == 1 else Product(float(scale), factors)


# -- from expressions -----------------------------------------------------------------


class _Names:
    """A supply of index names not yet used in the expression being printed."""

    def __init__(self):
        self.used: set[str] = set()
        self.size_of: dict[str, int] = {}  # one size per name in a formula, so one legend serves all

    def fresh(self, size: int, prefer=()) -> str:
        """An unused name for an index of ``size``: the first of ``prefer`` that is free, else
        the next letter."""
        for name in itertools.chain(prefer, supply()):
            if name not in self.used and self.size_of.setdefault(name, size) == size:
                self.used.add(name)
                return name
        raise AssertionError("unreachable: the name supply is infinite")


class Builder:
    """Expressions to nodes, naming indices as it goes (one per formula line)."""

    def __init__(self, named_reductions: bool = False, letters=None):
        self.named_reductions = named_reductions  # logsumexp[i,j](x[i,j]) rather than logsumexp(x)
        self.names = _Names()
        self.consts: dict[Const, str] = {}  # each constant array's label, C0, C1, ... (shared by a formula's lines)
        self.shown_consts: dict[Const, None] = {}  # those this line shows, for its legend
        self.anchored: set[str] = set()  # index names that appear on a tensor, so their size shows
        self.emitted: collections.Counter[str] = collections.Counter()  # index names written so far
        self.unsized: dict[str, None] = {}  # inner names only a delta carries: the legend sizes them
        self.named: dict[Expr, str] = {}  # shared subexpressions printed as tensors of their own: t1[i]
        self.letters: dict[str, tuple[str, ...]] = dict(letters or {})  # each variable's axes as a formula wrote them
        self.taken: set[str] = set()  # names of variables and named subexpressions: no constant's label

    def _written(self, names) -> None:
        self.anchored.update(names)
        self.emitted.update(names)

    def show(self, node: Expr, names: tuple[str, ...]) -> Node:
        name = self.named.get(bare(node))
        if name is not None:
            self._written(names)
            return Ref(name, tuple(names))
        return self.body(node, names)

    def body(self, node: Expr, names: tuple[str, ...]) -> Node:
        """``node`` written out, even when it has a name of its own (for its definition)."""
        names = tuple(names)
        if isinstance(node, Var):
            self._written(names)
            return Ref(node.name, names)
        if isinstance(node, Const):
            if node.ndim == 0:
                return Number(float(node.value))
            self._written(names)
            if node not in self.consts:
                taken = self.taken | set(self.consts.values())
                self.consts[node] = next(c for k in itertools.count() if (c := f"C{k}") not in taken)
            self.shown_consts[node] = None
            return Ref(self.consts[node], names)
        if isinstance(node, Map):
            return Func(node.fn, self.show(node.arg, names), node.param)
        if isinstance(node, CallExpr):
            return self._call(node, names)
        if isinstance(node, Add):
            return self._add(node, names)
        if isinstance(node, Contract):
            return self._contract(node, names)
        if isinstance(node, Materialize):
            return self.body(node.arg, names)
        if isinstance(node, ReshapeExpr):
            self._written(names)  # the new shape gives their sizes
            inner_names = tuple(self.names.fresh(n) for n in node.arg.shape)
            return Reshape(inner_names, tuple(node.shape), self.bound(node.arg, inner_names), names)
        raise TypeError(f"cannot print a {type(node).__name__}")

    def _call(self, node: CallExpr, names) -> Node:
        syntax = FUNCTIONS[node.fn].syntax
        if syntax is not None and syntax.form == "piecewise":  # every argument carries the node's own indices
            extremum = _extremum(node)
            if extremum:  # maximum(a, b), as ed.maximum builds it from where
                return Piecewise(extremum, tuple(self.show(arg, names) for arg in node.args[1:]))
            return Piecewise(node.fn, tuple(self.show(arg, names) for arg in node.args))
        if syntax is not None and syntax.along is not None:
            return self._along(node, names)
        self._written(names)
        shown = FUNCTIONS[node.fn].notation.param
        key = shown(node) if shown else ""
        if all(_whole(arg, self.named) for arg in node.args):
            return Call(node.fn, tuple(self.show(arg, ()) for arg in node.args), None, names, key=key)
        binders = tuple(tuple(self.names.fresh(n) for n in arg.shape) for arg in node.args)
        args = tuple(self.bound(arg, group) for arg, group in zip(node.args, binders, strict=True))
        return Call(node.fn, args, binders, names, key=key)

    def _along(self, node: CallExpr, names) -> Node:
        """logsumexp[j](x[i,j]): the axes ``param`` names, named as a sum names them, the others free."""
        (x,) = node.args
        if not self.named_reductions and len(node.param) == x.ndim and _whole(x, self.named):
            return Call(node.fn, (self.show(x, ()),), None, ())
        along = {p: self.names.fresh(x.shape[p]) for p in node.param}
        kept = iter(names)
        body = self.bound(x, tuple(along[p] if p in along else next(kept) for p in range(x.ndim)))
        return Along(node.fn, tuple(along.values()), body)

    def letters_of(self, node: Contract, i: int) -> list[str]:
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

    def bound(self, arg: Expr, names) -> Node:
        """``arg`` shown with the names a function binds; a name it does not show goes in the legend."""
        before = {n: self.emitted[n] for n in names}
        tree = self.show(arg, names)
        self.unsized.update((n, None) for n in names if self.emitted[n] == before[n])
        return tree

    def _add(self, node: Add, names) -> Node:
        if not node.terms:
            return Number(0.0)
        if scaled(node):  # 2 (a - b), not 2 a - 2 b
            common = abs(node.coeffs[0])
            unit = Add(node.terms, tuple(c / common for c in node.coeffs), node.shape)
            return Product(common, (Paren(self._add(unit, names)),))
        terms = []
        outer_names = set(self.names.used)
        seen = set(outer_names)
        # Positive terms first: 1 - tanh(u)^2 reads better than -tanh(u)^2 + 1.
        for term, c in sorted(zip(node.terms, node.coeffs, strict=True), key=lambda tc: tc[1] < 0):
            self.names.used = set(outer_names)  # each term is its own scope for summed indices
            terms.append(Term(c, self.show(term, names)))
            seen |= self.names.used
        self.names.used = seen
        return Sum(tuple(terms))

    def _contract(self, node: Contract, names) -> Node:
        index_name: dict[int, str] = {}
        deltas = []
        for position, i in enumerate(node.output):
            if i in index_name:
                if index_name[i] != names[position]:
                    deltas.append(Delta(index_name[i], names[position]))
                    self.emitted.update((index_name[i], names[position]))
                    if not any(i in idx for idx in node.inputs):  # no sibling tensor gives its size
                        self.unsized[index_name[i]] = None
            else:
                index_name[i] = names[position]
        for i in sorted({i for idx in node.inputs for i in idx} - set(index_name)):
            index_name[i] = self.names.fresh(node.sizes[i], self.letters_of(node, i))
        pairs, number = _numbers_first(reading_order(node), self.named)
        trees, seen_in = [], {}
        for k, (op, idx) in enumerate(pairs):
            op_names = tuple(index_name[i] for i in idx)
            before = {n: self.emitted[n] for n in op_names}
            trees.append(self.show(op, op_names))
            for i, n in zip(idx, op_names, strict=True):
                if self.emitted[n] > before[n]:  # a broadcast operand (c + d)[i] does not show i
                    seen_in.setdefault(i, set()).add(k)
        explicit, scale = [], 1
        for i in sorted({i for idx in node.inputs for i in idx} - set(node.output)):
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
        if len(trees) + len(deltas) + (scale != 1) > 1 or not explicit:  # a lone sum needs none: Σ[k](a[k] + b[k])
            trees = [self._factor(op, tree) for (op, _), tree in zip(pairs, trees, strict=True)]
        body = product(scale * number, deltas + trees)
        return Sigma(tuple(explicit), body) if explicit else body

    def _factor(self, op: Expr, tree: Node) -> Node:
        """Brackets around a sum that stands as a factor of a product."""
        op = bare(op)
        if not isinstance(op, Add) or not op.terms or op in self.named or scaled(op):
            return tree  # "2 (a - b)" is already a product
        return Paren(tree)

    def formula(self, expr: Expr, indices, avoid=(), named=None, constants=None) -> Formula:
        """``expr``'s free index names, its right side and its legend."""
        from ..errors import OperandError

        self.named = dict(named or {})
        self.taken = {v.name for v in variables(expr)} | set(self.named.values())
        if constants is not None:  # one label per constant across the lines of one formula
            self.consts = constants
        self.names.used.update(avoid)
        if indices is None:
            free = tuple(self.names.fresh(n) for n in expr.shape)
        else:
            free = tuple(indices)
            if len(free) != expr.ndim or len(set(free)) != len(free) or not all(
                    isinstance(i, str) and i.isidentifier() for i in free):
                raise OperandError(
                    f"indices={indices!r}: give {expr.ndim} distinct identifier names, one per axis of shape {expr.shape}"
                )
            self.names.used.update(free)
            self.names.size_of.update(zip(free, expr.shape, strict=True))
        body = self.body(expr, free)
        # Sizes a reader cannot see on any tensor (an index only on a delta, or broadcast).
        unseen = [i for i in free if i not in self.anchored] + [i for i in self.unsized if i not in free]
        legend = Legend(tuple((i, self.names.size_of[i]) for i in unseen),
                        tuple((self.consts[c], tuple(c.shape)) for c in self.shown_consts))
        return Formula(free, outer(body), legend)


def to_tree(expr: Expr, indices=None, letters=None, *, avoid=(), named=None, constants=None,
            named_reductions: bool = False) -> Formula:
    """``expr``'s formula as a tree: free indices ``indices`` (default i, j, ...), summed ones
    after the ``letters`` a formula wrote on each variable (``{"A": "ik"}``) and apart from
    ``avoid``; nodes in ``named`` written as tensors of those names; ``constants`` (filled in)
    labels constant arrays alike across the lines of one formula; with ``named_reductions``
    a reduction over all of a tensor names its indices too (as LaTeX writes it)."""
    return Builder(named_reductions, letters).formula(expr, indices, avoid, named, constants)


def reading_order(node: Contract) -> list[tuple[Expr, tuple[int, ...]]]:
    """A product's operands (with their indices) as a textbook reads them, its layout's order:
    factors carrying earlier output indices first (A[i,j] x[j])."""
    return [(node.operands[p], node.inputs[p]) for p in layout(node).order]


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
        if isinstance(inner, Add) and scaled(inner):
            common = abs(inner.coeffs[0])
            number *= common
            op = Add(inner.terms, tuple(c / common for c in inner.coeffs), inner.shape)
        kept.append((op, idx))
    return kept, number


def _extremum(node: CallExpr) -> str | None:
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
    if is_ones(node):
        return 1.0
    if isinstance(node, Contract) and len(node.operands) == 1 and not node.inputs[0]:
        return _number(node.operands[0])
    if isinstance(node, Add) and len(node.terms) == 1:
        inner = _number(node.terms[0])
        return None if inner is None else node.coeffs[0] * inner
    return None


def scaled(node: Add) -> bool:
    """A sum whose terms share one coefficient other than ±1: printed as 2 (a - b)."""
    return len(node.terms) > 1 and abs(node.coeffs[0]) != 1 and all(abs(c) == abs(node.coeffs[0]) for c in node.coeffs)


def _tensor_like(node: Expr, named=()) -> bool:
    """Printed with its indices in one bracket, as a tensor: X[i,j], inv(X)[i,j], t1[i,j]."""
    node = bare(node)
    return (isinstance(node, Var | Const | ReshapeExpr) or node in named
            or (isinstance(node, CallExpr) and FUNCTIONS[node.fn].notation.indexed))


def _whole(node: Expr, named=()) -> bool:
    """Printed as a whole tensor, with no indices: a variable, inv(X), det(solve(A, B)), t1."""
    node = bare(node)
    return node in named or (_tensor_like(node) and (not isinstance(node, CallExpr)
                                                    or all(_whole(arg, named) for arg in node.args)))


def normal(node: Node) -> Node:
    """``node`` up to how it is written: no brackets (a reader infers them from the
    structure), numbers folded into a product's scale, products flattened, a lone term or
    factor as a product, a sign as a coefficient. Two formulas that read the same have the
    same normal tree: what a printed formula reads back as (:func:`einsdiff.notation.parse.read_tree`)
    is compared with what it was printed from this way.

    >>> normal(Sum((Term(-2.0, Product(1.0, (Paren(Ref("x", ("i",))),))),)))
    Product(scale=-2.0, factors=(Ref(name='x', indices=('i',)),))
    """
    if isinstance(node, Paren):
        return normal(node.body)
    if isinstance(node, Sum):
        terms = tuple(_normal_term(term.coeff, normal(term.body)) for term in node.terms)
        if len(terms) == 1:
            coeff, body = terms[0].coeff, terms[0].body
            return _normal_product(coeff, (body,))
        return Sum(terms)
    if isinstance(node, Product):
        return _normal_product(node.scale, tuple(normal(f) for f in node.factors))
    if isinstance(node, Func):
        return Func(node.fn, normal(node.arg), node.param)
    if isinstance(node, Sigma):
        return Sigma(node.indices, normal(node.body))
    if isinstance(node, Call):
        return Call(node.fn, tuple(map(normal, node.args)), node.binders, node.indices, key=node.key)
    if isinstance(node, Along):
        return Along(node.fn, node.indices, normal(node.body))
    if isinstance(node, Piecewise):
        return Piecewise(node.fn, tuple(map(normal, node.args)))
    if isinstance(node, Reshape):
        return Reshape(node.names, node.shape, normal(node.arg), node.indices)
    return node


def _normal_product(scale: float, factors: tuple[Node, ...]) -> Node:
    flat = []
    for f in factors:
        if isinstance(f, Product):
            scale *= f.scale
            flat += f.factors
        elif isinstance(f, Number):
            scale *= f.value
        else:
            flat.append(f)
    return product(float(scale), flat)


def _normal_term(coeff: float, body: Node) -> Term:
    if isinstance(body, Number):
        return Term(coeff * body.value, Number(1.0))
    if isinstance(body, Product):
        return Term(coeff * body.scale, product(1.0, body.factors))
    return Term(coeff, body)
