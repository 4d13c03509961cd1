"""Formulas in index notation, Einstein convention, read into expressions.

``relu(W[i,j]*x[j] + b[i])``: an index repeated in a product and not free outside it
is summed; ``sum[i](...)`` (or ``Σ[i](...)``) sums explicitly; ``delta[i,j]`` (or
``δ[i,j]``) is the Kronecker delta. ``L = ...`` or ``f[i,j] = ...`` fixes the output
indices and their order; without it, the free indices in order of first appearance.
This reads back what :func:`einsdiff.to_index_notation` prints.

Functions of whole tensors read like tensors, ``inv(X)[i,j]``, ``logdet(X)``,
``solve(A, b)[i]``; an argument that is a formula gets its axes named first:
``inv[k,l](A[k,m] B[m,l])[i,j]``, ``solve[k,l; k](A[k,l], c[k,m] d[m])[i]`` (a group
per argument). ``logsumexp[j](x[i,j])`` and ``softmax[j](...)`` work along ``j``;
``where(x[i] > 0, x[i], 0.1*x[i])``, ``maximum(x[i], 0)`` and ``minimum`` are elementwise,
and ``a > b`` is the mask ``step(a - b)``. ``norm2(A[i,j] x[j] - y[i])`` (the Euclidean or
Frobenius norm) and ``norm1(...)`` (the sum of absolute values) reduce over every index of
their argument, ``norm2[j](A[i,j])`` along ``j`` only; ``tr`` is ``trace``, as matrix-calculus
texts write it. ``reshape[k,l -> (9,)](X[k,l])[i]`` reshapes in numpy's row-major order.

A name directly followed by ``(`` is always a function call: ``tr(X)`` is the trace, and an
unknown name there is an error naming it. With a space between them the name is a call only
if it is a function and not a variable given a shape, so ``s (a[i] + b[i])``, the way
products print, stays a product.

The text after ``;`` gives what the formula alone does not: index sizes ``i:3`` and constants
``C0: constant (3, 3)``, whose value is bound like a variable's shape, ``C0=array``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np

from ..ir import build
from ..errors import EinsdiffError, OptionError, ParseError, UnknownVariableError
from ..ir.expr import Expr, Var
from ..ir.functions import FUNCTIONS as _ENTRIES
from ..ir.ops import apply
from ..ir.registry import Syntax
from ..ir.simplify import add, contract
from . import tree as t
from .matrix_parse import Token  # one token record for both readers
from .matrix_parse import names as matrix_names
from .matrix_parse import read as read_matrix

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*|Σ|δ)"
    r"|(?P<op>\*\*|->|>=|<=|[-+*/^()\[\],=;:<>]))"
)
_COMPARISONS = (">", "<", ">=", "<=")


# Matrix and code notation a learner may type, and how index notation writes it.
_HINTS = {
    "@": "; write a matrix product with indices: A[i,j]*x[j] for A @ x",
    "T": "; write a transpose by swapping indices: x[i]*A[i,j]*x[j] for xᵀAx, A[j,i] for Aᵀ",
    "'": "; write a transpose by swapping indices: A[j,i] for A'",
    ".": "; write functions without a module (tanh(x[i]), not np.tanh) and products as *",
    ",": "; an einsum equation like ij,j->i is written A[i,j]*x[j] here",
}
# What a formula may call, by every name it may call it by: each function's syntax, from its registry entry.
SYNTAX: dict[str, Syntax] = {name: f.syntax for f in _ENTRIES.values() if f.syntax for name in f.syntax.names}
FUNCTIONS = tuple(sorted(SYNTAX))
# What an error offers a learner: not the nodes only derivatives make (they read back all the same).
OFFERED = tuple(name for name in FUNCTIONS if SYNTAX[name].offered)
# Names a learner may reach for, and the function they mean (for "did you mean").
_SPELLINGS = {wrong: right for syntax in SYNTAX.values() for wrong, right in syntax.spellings}


def _form(name: str) -> str | None:
    """How a formula calls ``name`` (elementwise, piecewise, whole, along), None if no function."""
    syntax = SYNTAX.get(name)
    return None if syntax is None else syntax.form


def _along(name: str) -> bool:
    """Whether ``name`` works along named axes (``logsumexp[j](...)``, ``softmax[j](...)``)."""
    syntax = SYNTAX.get(name)
    return syntax is not None and syntax.along is not None


def _example(name: str) -> str:
    return SYNTAX[name].example.format(name=name)


def tokenize(formula: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(formula):
        if formula[pos:].strip() == "":
            break
        m = _TOKEN.match(formula, pos)
        if not m or m.end() == pos:
            bad = pos + len(formula[pos:]) - len(formula[pos:].lstrip())
            raise ParseError(f"unexpected character {formula[bad]!r}{_HINTS.get(formula[bad], '')}", formula, bad)
        kind = m.lastgroup
        tokens.append(Token(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    tokens.append(Token("end", "", len(formula)))
    return tokens


# -- syntax tree ------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: float
    pos: int


@dataclass(frozen=True)
class Ref:
    name: str
    indices: tuple[str, ...]
    pos: int


@dataclass(frozen=True)
class Delta:
    indices: tuple[str, str]
    pos: int


@dataclass(frozen=True)
class Func:
    name: str
    arg: object
    pos: int


@dataclass(frozen=True)
class Pow:
    base: object
    exponent: float
    pos: int


@dataclass(frozen=True)
class Neg:
    arg: object
    pos: int


@dataclass(frozen=True)
class Prod:
    factors: tuple[tuple[object, bool], ...]  # (factor, divides)
    pos: int


@dataclass(frozen=True)
class Sum:
    terms: tuple[tuple[object, float], ...]  # (term, sign)
    pos: int


@dataclass(frozen=True)
class SumOver:
    indices: tuple[str, ...]
    body: object
    pos: int


@dataclass(frozen=True)
class Apply:
    """``inv(X)[i,j]``; with ``binders`` (a group of names per argument) ``inv[k,l](...)[i,j]``.
    ``indices`` is None where no bracket follows: the whole result, as an argument. ``param``
    is the new shape of a ``reshape[k -> (2, 3)](...)``."""

    name: str
    binders: tuple[tuple[str, ...], ...] | None
    args: tuple
    indices: tuple[str, ...] | None
    pos: int
    param: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Along:
    """``logsumexp[j](body)``: a function along the named axes of its body; ``indices`` None
    (``norm2(body)``) reduces all of them."""

    name: str
    indices: tuple[str, ...] | None
    body: object
    pos: int


@dataclass(frozen=True)
class Piecewise:
    """``where(mask, a, b)``, ``maximum(a, b)``, ``minimum(a, b)``: elementwise in every argument."""

    name: str
    args: tuple
    pos: int


@dataclass(frozen=True)
class Legend:
    """What follows the ``;``: index sizes (``i:3``) and constants (``C0: constant (3, 3)``),
    each constant with the column where the legend names it."""

    sizes: dict[str, int]
    constants: dict[str, tuple[tuple[int, ...], int]]


def _is_whole(node) -> bool:
    """Written as a whole tensor, without indices: ``X``, ``inv(X)``."""
    return (isinstance(node, Ref) and not node.indices) or (isinstance(node, Apply) and node.indices is None)


def _closest_function(name: str) -> str | None:
    """The function a misspelled or foreign name most likely means, if any."""
    if name in _SPELLINGS:
        return _SPELLINGS[name]
    # Swapped letters first: tahn is tanh, though difflib finds tan a little closer.
    swapped = [f for f in OFFERED if sorted(f) == sorted(name.lower())]
    if swapped:
        return swapped[0]
    close = difflib.get_close_matches(name.lower(), OFFERED, n=1, cutoff=0.7)
    return close[0] if close else None


class _Parser:
    """The syntax tree of a formula; ``variables``, the names given a shape (None where they
    are not known yet), decide whether a name, a space and ``(`` is a product or a call."""

    def __init__(self, formula: str, variables: frozenset[str] | None = None):
        self.formula = formula
        self.tokens = tokenize(formula)
        self.known_names = variables is not None
        self.variables = variables or frozenset()
        self.k = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.k]

    def error(self, message: str, token: Token | None = None) -> ParseError:
        return ParseError(message, self.formula, (token or self.tok).pos)

    def take(self, text: str) -> Token:
        if self.tok.text != text:
            found = "the end" if self.tok.kind == "end" else repr(self.tok.text)
            raise self.error(f"expected {text!r}, found {found}")
        self.k += 1
        return self.tokens[self.k - 1]

    def accept(self, text: str) -> bool:
        if self.tok.text == text and self.tok.kind != "end":
            self.k += 1
            return True
        return False

    def formula_(self):
        lhs = None
        if self.tok.kind == "name" and any(t.text == "=" for t in self.tokens):
            start = self.tok
            self.k += 1
            indices = self.index_list() if self.tok.text == "[" else ()
            if len(set(indices)) != len(indices):
                raise self.error("an index repeats on the left side", start)
            lhs = (start.text, indices)
            self.take("=")
        body = self.comparison()
        legend = Legend({}, {})
        if self.accept(";"):  # "; i:2, C0: constant (3, 3)" gives what the formula alone does not
            while True:
                self.legend_item(legend)
                if not self.accept(","):
                    break
        if self.tok.kind != "end":
            raise self.error(f"unexpected {self.tok.text!r}{_HINTS.get(self.tok.text, '')}")
        return lhs, body, legend

    def legend_item(self, legend: Legend) -> None:
        """``i:3``, an index size, or ``C0: constant (3, 3)``, a constant bound by name."""
        if self.tok.kind != "name":
            raise self.error("expected an index name, as in '; i:3'")
        name = self.tok
        self.k += 1
        self.take(":")
        if self.accept("constant"):
            legend.constants[name.text] = (self.shape(), name.pos)
            return
        if self.tok.kind != "number" or not self.tok.text.isdigit():
            raise self.error("expected a whole number for the index size (or 'constant (3, 3)' for a constant)")
        legend.sizes[name.text] = int(self.tok.text)
        self.k += 1

    def shape(self) -> tuple[int, ...]:
        """``(2, 3)``, ``(6,)`` or ``()``, as Python writes a shape."""
        self.take("(")
        sizes = []
        while self.tok.text != ")":
            if self.tok.kind != "number" or not self.tok.text.isdigit():
                raise self.error("expected a whole number in the shape, as in (2, 3)")
            sizes.append(int(self.tok.text))
            self.k += 1
            if not self.accept(","):
                break
        self.take(")")
        return tuple(sizes)

    def arguments(self) -> tuple:
        self.take("(")
        args = [self.comparison()]
        while self.accept(","):
            args.append(self.comparison())
        self.take(")")
        return tuple(args)

    def function(self, tok: Token):
        """``inv(X)[i,j]``, ``inv[k,l](...)[i,j]``, ``solve[k,l; k](..., ...)[i]``, ``logsumexp[j](...)``,
        ``norm2(...)`` or ``reshape[k -> (2, 3)](...)[i,j]``."""
        groups, param = None, None
        if self.accept("["):
            groups = [self.names(empty=tok.text == "reshape")]
            if tok.text == "reshape":
                self.take("->")
                param = self.shape()
            while self.accept(";"):
                groups.append(self.names())
            self.take("]")
        if tok.text == "reshape" and param is None:
            raise self.error(f"reshape names its argument's axes and the new shape, as in {_example('reshape')}",
                             tok)
        if _along(tok.text) and (groups is not None or _form(tok.text) != "whole"):  # logsumexp is both
            if groups is not None and len(groups) != 1:
                raise self.error(f"{tok.text}[...] takes one group of indices, the axes it works along", tok)
            if groups is None and not SYNTAX[tok.text].reduces:
                raise self.error(f"{tok.text} works along axes; name them, as in {tok.text}[j](x[i,j])", tok)
            return Along(tok.text, None if groups is None else groups[0], self.single(tok), tok.pos)
        args = self.arguments()
        if tok.text == "logsumexp" and len(args) == 1 and not _is_whole(args[0]):
            return Along(tok.text, None, args[0], tok.pos)  # logsumexp(x[i,j]): over every index
        indices = self.index_list() if self.tok.text == "[" else None
        return Apply(tok.text, None if groups is None else tuple(groups), args, indices, tok.pos, param)

    def single(self, tok: Token):
        """The one argument of a function that takes one."""
        args = self.arguments()
        if len(args) != 1:
            other = f"; did you mean {_SPELLINGS[tok.text]}?" if tok.text in _SPELLINGS else ""  # max(a, b): maximum
            raise self.error(f"{tok.text} takes one argument, got {len(args)}{other}", tok)
        return args[0]

    def names(self, empty: bool = False) -> tuple[str, ...]:
        """Index names separated by commas (none, where ``empty`` allows: a scalar's reshape)."""
        names = []
        if empty and self.tok.text == "->":
            return ()
        while True:
            if self.tok.kind != "name":
                raise self.error("expected an index name")
            names.append(self.tok.text)
            self.k += 1
            if not self.accept(","):
                break
        return tuple(names)

    def index_list(self) -> tuple[str, ...]:
        self.take("[")
        names = self.names()
        self.take("]")
        return names

    def comparison(self):
        """``a > b`` is the mask step(a - b) and ``a >= b`` is 1 - step(b - a), as ed.greater and
        ed.greater_equal build them; a formula without a comparison is a sum."""
        left = self.sum_()
        if self.tok.text not in _COMPARISONS:
            return left
        op = self.tok
        self.k += 1
        right = self.sum_()
        big, small = (left, right) if op.text in (">", "<=") else (right, left)
        difference = big if isinstance(small, Num) and small.value == 0 else Sum(((big, 1.0), (small, -1.0)), op.pos)
        mask = Func("step", difference, op.pos)
        return mask if op.text in (">", "<") else Sum(((Num(1.0, op.pos), 1.0), (mask, -1.0)), op.pos)

    def sum_(self):
        pos = self.tok.pos
        terms = [(self.product(), 1.0)]
        while self.tok.text in ("+", "-"):
            sign = 1.0 if self.tok.text == "+" else -1.0
            self.k += 1
            terms.append((self.product(), sign))
        return terms[0][0] if len(terms) == 1 else Sum(tuple(terms), pos)

    def _starts_atom(self) -> bool:
        return self.tok.kind in ("number", "name") or self.tok.text == "("

    def product(self):
        pos = self.tok.pos
        if self.tok.text in ("-", "+"):  # a sign before a product is the whole product's: -δ[i,j] x[j]
            negative = self.tok.text == "-"
            self.k += 1
            inner = self.product()
            return Neg(inner, pos) if negative else inner
        factors = [(self.unary(), False)]
        while True:
            if self.tok.text in ("*", "/"):
                divides = self.tok.text == "/"
                self.k += 1
                factor = self.unary()
                if (divides and isinstance(factor, Num) and factor.value and isinstance(factors[-1][0], Num)
                        and not factors[-1][1]):
                    last = factors[-1][0]  # p/q is one number, the float nearest p/q, as a fraction prints
                    factors[-1] = (Num(last.value / factor.value, last.pos), False)
                    continue
                factors.append((factor, divides))
            elif self._starts_atom():  # juxtaposition, as printed: A[i,j] x[j]
                factors.append((self.unary(), False))
            else:
                break
        return factors[0][0] if len(factors) == 1 else Prod(tuple(factors), pos)

    def unary(self):
        if self.tok.text == "-":
            pos = self.tok.pos
            self.k += 1
            return Neg(self.unary(), pos)
        if self.tok.text == "+":
            self.k += 1
            return self.unary()
        return self.power()

    def power(self):
        base = self.atom()
        if self.tok.text in ("^", "**"):
            pos = self.tok.pos
            self.k += 1
            return Pow(base, self.constant_exponent(), pos)
        return base

    def constant_exponent(self) -> float:
        sign = -1.0 if self.accept("-") else 1.0
        if self.accept("("):
            value = self.constant_exponent()
            if self.accept("/"):  # a fraction, as an exponent prints: (x[i])^(2/3)
                divisor = self.constant_exponent()
                if not divisor:
                    raise self.error("an exponent divides by zero")
                value /= divisor
            self.take(")")
            return sign * value
        if self.tok.kind != "number":
            hint = _HINTS["T"] if self.tok.text == "T" else ""
            raise self.error(f"an exponent must be a constant number{hint}")
        self.k += 1
        return sign * float(self.tokens[self.k - 1].text)

    def atom(self):
        tok = self.tok
        if tok.kind == "number":
            self.k += 1
            return Num(float(tok.text), tok.pos)
        if tok.text == "(":
            self.k += 1
            inner = self.comparison()
            self.take(")")
            return inner
        if tok.kind != "name":
            found = "the end of the formula" if tok.kind == "end" else repr(tok.text)
            raise self.error(f"expected a number, a variable, a function or '(', found {found}")
        self.k += 1
        if tok.text in ("sum", "Σ"):
            if self.tok.text == "(":
                raise self.sum_without_indices(tok)
            indices = self.index_list()
            self.take("(")
            body = self.comparison()
            self.take(")")
            return SumOver(indices, body, tok.pos)
        if tok.text in ("delta", "δ"):
            if self.tok.text == "(":
                raise self.error(f"a delta takes its indices in brackets, as in {tok.text}[i,j]", tok)
            indices = self.index_list()
            if len(indices) != 2:
                raise self.error("a delta takes two indices, as in delta[i,j]", tok)
            return Delta(indices, tok.pos)
        if self.calls(tok):
            return self.call(tok)
        indices = self.index_list() if self.tok.text == "[" else ()
        return Ref(tok.text, indices, tok.pos)

    def calls(self, tok: Token) -> bool:
        """Whether the name ``tok`` is a function call: directly followed by ``(`` always; after a
        space only when it is a function (or nearly a function's name) and not a variable; and
        ``inv[k,l](...)``, a function that names its argument's axes."""
        if self.tok.text == "(":
            if self.tok.pos == tok.pos + len(tok.text):
                return True
            if tok.text in self.variables:
                return False
            return tok.text in FUNCTIONS or (self.known_names and _closest_function(tok.text) is not None)
        if self.tok.text == "[" and (_form(tok.text) == "whole" or _along(tok.text)):
            depth = 0
            for k in range(self.k, len(self.tokens)):
                depth += {"[": 1, "]": -1}.get(self.tokens[k].text, 0)
                if depth == 0:
                    after, spaced = self.tokens[k + 1], self.tokens[k + 1].pos != self.tokens[k].pos + 1
                    return after.text == "(" and not (spaced and tok.text in self.variables)
        return False

    def call(self, tok: Token):
        if _form(tok.text) == "elementwise":
            return Func(tok.text, self.single(tok), tok.pos)
        if _form(tok.text) == "piecewise":
            syntax = SYNTAX[tok.text]
            args = self.arguments()
            if len(args) != syntax.arity:
                raise self.error(f"{tok.text} takes {syntax.arity} arguments ({syntax.operands}), got {len(args)}", tok)
            return Piecewise(tok.text, args, tok.pos)
        if _form(tok.text) == "whole" or _along(tok.text):
            return self.function(tok)
        spaced = self.tok.pos != tok.pos + len(tok.text)
        raise self.unknown_function(tok, self.arguments(), spaced)

    def unknown_function(self, tok: Token, args: tuple, spaced: bool) -> ParseError:
        """``tahn(x[i])``: the name, what it likely means, and the functions there are."""
        name = tok.text
        indexing = all(isinstance(a, Ref) and not a.indices and a.name not in self.variables for a in args)
        bracket = f"{name}[{','.join(a.name for a in args)}]" if indexing else ""
        if name in self.variables:
            fix = f"index it with brackets, {bracket}" if indexing else f"write a product with *, {name}*(...)"
            return self.error(f"{name!r} is a variable, not a function: {fix}", tok)
        guess = _closest_function(name)
        message = f"unknown function {name!r}"
        if guess:
            message += f"; did you mean {guess}?"
        elif indexing:
            message += f"; to index a tensor, write {bracket}."
        else:
            message += "."
        if spaced:
            message += f" For a product, give {name}'s shape."
        return self.error(f"{message} The functions are {', '.join(OFFERED)}", tok)

    def sum_without_indices(self, tok: Token) -> ParseError:
        """``sum(x[i])``: a sum names the indices it sums."""
        start = self.tok.pos
        args = self.arguments()
        inner = self.formula[start + 1:self.tokens[self.k - 1].pos].strip()
        free = _Lowering(self.formula, {}, {}).free(args[0], frozenset()) if len(args) == 1 else ()
        names = free or tuple(dict.fromkeys(i for a in args for r in _refs(a) for i in r.indices)) or ("i",)
        return self.error(f"{tok.text} names the indices it sums: write {tok.text}[{','.join(names)}]({inner})", tok)


# -- lowering to expressions ------------------------------------------------------


@dataclass(frozen=True)
class _Indexed:
    """An expression whose axes carry the index names ``indices`` (distinct)."""

    expr: Expr
    indices: tuple[str, ...]


class _Lowering:
    def __init__(self, formula: str, variables: dict[str, Expr], known: dict[str, int], legend: Legend | None = None):
        self.formula = formula
        self.variables = variables  # each name's variable, or the constant bound to it
        self.known = known  # index sizes declared after a semicolon
        self.legend = legend or Legend({}, {})
        self.scope: dict[str, int] = {}  # the one size each index has on the formula's tensors, where it has one
        self.calls: dict[int, Expr] = {}  # each function call's value, by the id of its syntax node
        # Free indices by (id of a syntax node, the protected indices it writes): each level of a
        # nested formula asks about its factors under two protections, so without this the work
        # doubles with each level. Only protected indices the node writes can change its answer.
        self.frees: dict[tuple[int, frozenset], tuple[str, ...]] = {}
        self.written: dict[int, frozenset] = {}

    def error(self, message: str, pos: int) -> ParseError:
        return ParseError(message, self.formula, pos)

    def free(self, node, protected: frozenset) -> tuple[str, ...]:
        """The free indices of ``node`` (Einstein convention), without building anything."""
        key = (id(node), protected & self.writes(node))
        if key not in self.frees:
            self.frees[key] = self._free(node, key[1])
        return self.frees[key]

    def writes(self, node) -> frozenset:
        """Every index name written anywhere in ``node``."""
        if id(node) not in self.written:
            own = [getattr(node, "indices", None) or (), *(getattr(node, "binders", None) or ())]
            self.written[id(node)] = frozenset(i for group in own for i in group).union(
                *(self.writes(child) for child in _children_of(node)))
        return self.written[id(node)]

    def _free(self, node, protected: frozenset) -> tuple[str, ...]:
        if isinstance(node, Num):
            return ()
        if isinstance(node, Delta):
            return tuple(dict.fromkeys(node.indices))
        if isinstance(node, Ref | Apply):  # A[i,i] and inv(X)[i,i] are traces unless i is free outside
            indices = node.indices or ()
            return tuple(i for i in dict.fromkeys(indices) if indices.count(i) == 1 or i in protected)
        if isinstance(node, Along):
            if node.indices is None:
                return ()
            inner = self.free(node.body, protected | set(node.indices))
            return tuple(i for i in inner if not SYNTAX[node.name].reduces or i not in node.indices)
        if isinstance(node, Piecewise):
            return tuple(dict.fromkeys(i for a in node.args for i in self.free(a, protected)))
        if isinstance(node, Func | Neg):
            return self.free(node.arg, protected)
        if isinstance(node, Pow):
            return self.free(node.base, protected)
        if isinstance(node, SumOver):
            inner = self.free(node.body, protected | set(node.indices))
            return tuple(i for i in inner if i not in node.indices)
        if isinstance(node, Sum):
            return tuple(dict.fromkeys(i for t, _ in node.terms for i in self.free(t, protected)))
        counts: dict[str, int] = {}
        for factor, inner in zip(node.factors, self.factor_protection(node, protected), strict=True):
            for i in self.free(factor[0], inner):
                counts[i] = counts.get(i, 0) + 1
        return tuple(i for i, c in counts.items() if c == 1 or i in protected)

    def factor_protection(self, node: Prod, protected: frozenset) -> list[frozenset]:
        """For each factor, the indices free around it: the outer ones and every index a sibling
        shows (all of a tensor's, so v[i,i] w[i,i] is one sum over i, not two traces)."""
        shown = [set(f.indices or ()) if isinstance(f, Ref | Delta | Apply) else set(self.free(f, protected))
                 for f, _ in node.factors]
        return [protected.union(*(s for m, s in enumerate(shown) if m != k)) for k in range(len(shown))]

    def lower(self, node, protected: frozenset) -> _Indexed:
        if isinstance(node, Num):
            return _Indexed(build.as_expr(node.value), ())
        if isinstance(node, Ref):
            return self.ref(node, self.free(node, protected))
        if isinstance(node, Delta):
            part = self.delta(node, {})
            return _Indexed(contract([part.expr], [node.indices], part.indices, dict(zip(part.indices, part.expr.shape))),
                            part.indices)
        if isinstance(node, Func):
            inner = self.lower(node.arg, protected)
            return _Indexed(apply(node.name, inner.expr), inner.indices)
        if isinstance(node, Pow):
            inner = self.lower(node.base, protected)
            return _Indexed(build.power(inner.expr, node.exponent), inner.indices)
        if isinstance(node, Neg):
            inner = self.lower(node.arg, protected)
            return _Indexed(build.negative(inner.expr), inner.indices)
        if isinstance(node, Sum):
            return self.sum_(node, protected)
        if isinstance(node, Apply):
            return self.apply_(node, protected)
        if isinstance(node, Along):
            return self.along(node, protected)
        if isinstance(node, Piecewise):
            union, parts = self.aligned([self.lower(a, protected) for a in node.args], node.pos, node.args)
            return _Indexed(SYNTAX[node.name].builder(*parts), union)
        if isinstance(node, SumOver):
            inner = self.lower(node.body, protected | set(node.indices))
            for i in node.indices:
                if i not in inner.indices:
                    raise self.error(f"sum over {i!r}, which its body does not use", node.pos)
            out = tuple(i for i in inner.indices if i not in node.indices)
            return _Indexed(contract([inner.expr], [inner.indices], out, self.sizes([inner], node.pos)), out)
        return self.product(node, protected)

    def delta(self, node: Delta, sizes: dict[str, int]) -> _Indexed:
        """The identity on the delta's indices, sized by its siblings, by the '; i:n' sizes, or by
        the size the index has on the formula's tensors (Y[i,k] Y[j,k] - δ[i,j])."""
        n = [sizes.get(i, self.known.get(i, self.scope.get(i))) for i in node.indices]
        if n.count(None) == 1:  # a delta is square: one known side sizes the other
            n = [m if m is not None else n[1 - k] for k, m in enumerate(n)]
        if None in n:
            missing = node.indices[n.index(None)]
            raise self.error(
                f"the size of index {missing!r} of this delta is not known; add it after a semicolon, "
                f"as in '; {missing}:3'", node.pos
            )
        if n[0] != n[1]:
            raise self.error(f"a delta over indices of sizes {n[0]} and {n[1]}", node.pos)
        return _Indexed(build.identity(n[0]), tuple(dict.fromkeys(node.indices)))

    def ref(self, node: Ref, out: tuple[str, ...]) -> _Indexed:
        value = self.variable(node)
        what = f"variable {node.name!r}" if isinstance(value, Var) else f"constant {node.name!r}"
        return self.indexed(value, what, node.indices, out, node.pos)

    def variable(self, node: Ref) -> Expr:
        var = self.variables.get(node.name)
        if var is not None:
            return var
        if node.name in self.legend.constants:
            shape = self.legend.constants[node.name][0]
            raise self.error(
                f"{node.name!r} is a constant of shape {shape} (as the text after ';' says); pass its value, "
                f"as in ed.parse(text, {node.name}=array)", node.pos
            )
        if node.name in FUNCTIONS and not node.indices:  # tanh x[i]; but tr[i,j] is a tensor
            raise self.error(f"{node.name} is a function: call it with parentheses, as in {node.name}(...)", node.pos)
        raise UnknownVariableError(node.name, len(node.indices), self.formula, node.pos)

    def indexed(self, expr: Expr, what: str, indices, out: tuple[str, ...], pos: int) -> _Indexed:
        """``expr`` with its axes named ``indices``, onto ``out`` (a repeated index takes the diagonal)."""
        if len(indices) != expr.ndim:
            raise self.error(f"{what} has shape {expr.shape} ({expr.ndim} axes) but {len(indices)} indices", pos)
        sizes: dict[str, int] = {}
        for i, n in zip(indices, expr.shape, strict=True):
            if sizes.setdefault(i, n) != n:
                raise self.error(f"index {i!r} is used for axes of sizes {sizes[i]} and {n} of {what}", pos)
        return _Indexed(contract([expr], [indices], out, sizes), out)

    def apply_(self, node: Apply, protected: frozenset) -> _Indexed:
        value = self.whole_call(node)
        if node.indices is None and value.ndim:
            raise self.error(
                f"{node.name}(...) has shape {value.shape}; name its axes, as in "
                f"{node.name}(...)[{','.join('ijklmn'[:value.ndim])}]", node.pos
            )
        return self.indexed(value, f"{node.name}(...)", node.indices or (), self.free(node, protected), node.pos)

    def whole_call(self, node: Apply) -> Expr:
        """The value of a function of whole tensors, its arguments read whole or by their bound indices
        (once per call: sizing the formula's indices asks for it too)."""
        if id(node) not in self.calls:
            self.calls[id(node)] = self._whole_call(node)
        return self.calls[id(node)]

    def _whole_call(self, node: Apply) -> Expr:
        spec = SYNTAX[node.name]
        if len(node.args) != spec.arity:
            raise self.error(f"{node.name} takes {spec.arity} argument{'s' * (spec.arity > 1)}, got {len(node.args)}",
                             node.pos)
        if node.binders is None:
            args = [self.whole(arg, node.name) for arg in node.args]
        elif len(node.binders) != len(node.args):
            raise self.error(
                f"{node.name}[...] binds {len(node.binders)} groups of indices for {len(node.args)} arguments; "
                f"give one group per argument, separated by ';'", node.pos
            )
        else:
            args = [self.bound(arg, group, node) for arg, group in zip(node.args, node.binders, strict=True)]
        try:
            return spec.builder(*args) if node.param is None else spec.builder(*args, node.param)
        except EinsdiffError as err:
            raise self.error(str(err), node.pos) from err

    def whole(self, arg, fn: str) -> Expr:
        """An argument without bound indices: a variable, or a function of variables (det(inv(X)))."""
        if isinstance(arg, Ref) and not arg.indices:
            return self.variable(arg)
        if isinstance(arg, Apply) and arg.indices is None:
            return self.whole_call(arg)
        if isinstance(arg, Ref):
            hint = f"write {fn}({arg.name})" + (" and index the result" if SYNTAX[fn].indexed else "")
        else:
            hint = "name the axes of a formula"
        raise self.error(f"{fn} takes whole tensors: {hint}, as in {_example(fn)}", arg.pos)

    def bound(self, body, group: tuple[str, ...], node: Apply) -> Expr:
        """The argument ``body`` as a tensor whose axes are the indices ``group``, in order."""
        if len(set(group)) != len(group):
            raise self.error(f"an index repeats in the indices {node.name}[...] binds: {','.join(group)}", node.pos)
        inner = self.lower(body, frozenset(group))
        stray = [i for i in inner.indices if i not in group]
        if stray:
            raise self.error(
                f"index {stray[0]!r} is free in an argument of {node.name} but not among the indices it binds "
                f"({','.join(group)})", body.pos
            )
        sizes = dict(zip(inner.indices, inner.expr.shape, strict=True))
        for i in group:
            size = sizes.get(i, self.known.get(i, self.scope.get(i)))
            if size is None:
                raise self.error(
                    f"the size of index {i!r} bound by {node.name} is not known; add it after a semicolon, "
                    f"as in '; {i}:3'", node.pos
                )
            sizes[i] = size
        return contract([inner.expr], [inner.indices], group, sizes)

    def along(self, node: Along, protected: frozenset) -> _Indexed:
        """logsumexp[j](x[i,j]) over j; softmax[j] and log_softmax[j] keep j; norm2(r[i]) and
        logsumexp(x[i,j]) reduce every index of their argument."""
        if node.indices is None:
            if _is_whole(node.body):
                value = self.whole(node.body, node.name)
            else:
                inner = self.lower(node.body, frozenset())
                shared = [i for i in inner.indices if i in protected]
                if shared:
                    raise self.error(
                        f"index {shared[0]!r} is free both inside {node.name}(...) and outside it; {node.name}(...) "
                        f"reduces every index of its argument: name those it reduces, as in {node.name}[j](A[{shared[0]},j])",
                        node.pos,
                    )
                value = inner.expr
            return _Indexed(SYNTAX[node.name].along(value, tuple(range(value.ndim))), ())
        inner = self.lower(node.body, protected | set(node.indices))
        for i in node.indices:
            if i not in inner.indices:
                raise self.error(f"{node.name} over {i!r}, which its body does not use", node.pos)
        if len(set(node.indices)) != len(node.indices):
            raise self.error(f"an index repeats in {node.name}[{','.join(node.indices)}]", node.pos)
        value = SYNTAX[node.name].along(inner.expr, tuple(inner.indices.index(i) for i in node.indices))
        kept = tuple(i for i in inner.indices if not SYNTAX[node.name].reduces or i not in node.indices)
        return _Indexed(value, kept)

    def sizes(self, parts: list[_Indexed], pos: int, sources=()) -> dict[str, int]:
        """Each index's size across ``parts``; a conflict names the tensors of the syntax nodes
        ``sources`` (one per part) that carry the index: A[i,j] has j:4, x[j] has j:3."""
        sizes, origin = {}, {}
        for k, part in enumerate(parts):
            for i, n in zip(part.indices, part.expr.shape, strict=True):
                if sizes.setdefault(i, n) == n:
                    origin.setdefault(i, k)
                    continue
                seen = [(self.witness(sources[m], i, size) if sources else None, size)
                        for m, size in ((origin[i], sizes[i]), (k, n))]
                which = ", ".join(f"{w} has {i}:{size}" for w, size in seen if w)
                raise self.error(f"index {i!r} has sizes {sizes[i]} and {n} here" + (f": {which}" if which else ""), pos)
        return sizes

    def witness(self, node, i: str, n: int) -> str | None:
        """A tensor in ``node`` on whose axis index ``i`` has size ``n``, as the formula writes it."""
        for ref in _refs(node):
            value = self.variables.get(ref.name)
            if value is not None and value.ndim == len(ref.indices) and (i, n) in zip(ref.indices, value.shape):
                return f"{ref.name}[{','.join(ref.indices)}]"
        return None

    def sum_(self, node: Sum, protected: frozenset) -> _Indexed:
        sources = [t for t, _ in node.terms]
        union, terms = self.aligned([self.lower(t, protected) for t in sources], node.pos, sources)
        shape = terms[0].shape
        return _Indexed(add(terms, [s for _, s in node.terms], shape), union)

    def aligned(self, parts: list[_Indexed], pos: int, sources) -> tuple[tuple[str, ...], list[Expr]]:
        """The union of the parts' indices, and each part broadcast onto it (for a sum or a where)."""
        union = tuple(dict.fromkeys(i for p in parts for i in p.indices))
        sizes = self.sizes(parts, pos, sources)
        return union, [contract([p.expr], [p.indices], union, sizes) for p in parts]

    def product(self, node: Prod, protected: frozenset) -> _Indexed:
        factors = [f for f, _ in node.factors]
        lowered: list[_Indexed | None] = []
        for k, (f, inner) in enumerate(zip(factors, self.factor_protection(node, protected), strict=True)):
            if isinstance(f, Delta):
                lowered.append(None)
                continue
            part = self.lower(f, inner)
            if node.factors[k][1]:  # x / 4 is 0.25 x: a constant divisor folds
                part = _Indexed(build.divide(1.0, part.expr), part.indices)
            lowered.append(part)
        sizes = self.sizes([p for p in lowered if p is not None], node.pos,
                           [f for f, p in zip(factors, lowered, strict=True) if p is not None])
        operands, inputs = [], []
        for f, part in zip(factors, lowered, strict=True):
            if part is None:
                part = self.delta(f, sizes)
                sizes.update(zip(part.indices, part.expr.shape, strict=True))
            operands.append(part.expr)
            inputs.append(f.indices if isinstance(f, Delta) else part.indices)
        counts: dict[str, int] = {}
        for idx in inputs:
            for i in idx:
                counts[i] = counts.get(i, 0) + 1
        out = tuple(i for i, c in counts.items() if c == 1 or i in protected)
        return _Indexed(contract(operands, inputs, out, sizes), out)


def _refs(node):
    """Every tensor reference in a syntax tree."""
    if isinstance(node, Ref):
        yield node
    for child in _children_of(node):
        yield from _refs(child)


def _indexed(node, into_binders: bool = False):
    """What carries the formula's own indices: tensor references and indexed functions, but
    nothing inside a function that binds indices of its own (the k, l of inv[k,l](...)),
    unless ``into_binders``."""
    if isinstance(node, Ref) or (isinstance(node, Apply) and node.indices is not None):
        yield node
    if isinstance(node, Apply) and node.binders is not None and not into_binders:
        return
    for child in _children_of(node):
        yield from _indexed(child, into_binders)


def _children_of(node) -> tuple:
    if isinstance(node, Func | Neg):
        return (node.arg,)
    if isinstance(node, Pow):
        return (node.base,)
    if isinstance(node, SumOver | Along):
        return (node.body,)
    if isinstance(node, Apply | Piecewise):
        return node.args
    if isinstance(node, Sum | Prod):
        return tuple(child for child, _ in (node.terms if isinstance(node, Sum) else node.factors))
    return ()


def read_tree(formula: str, variables=()) -> tuple[t.Ref | None, t.Formula]:
    """The formula's left side (None when it has none) and its notation tree, the same kind
    of tree :func:`einsdiff.notation.tree.to_tree` builds from an expression; ``variables``
    names those known to be variables (``A (x[i])`` is then a product), as :func:`parse`
    reads them.

    >>> lhs, formula = read_tree("f[i] = 2 A[i,j] x[j]; j:3")
    >>> lhs, formula.body
    (Ref(name='f', indices=('i',)), Product(scale=2.0, factors=(Ref(name='A', indices=('i', 'j')), Ref(name='x', indices=('j',)))))
    >>> formula.legend
    Legend(sizes=(('j', 3),), constants=())
    """
    lhs, body, legend = _Parser(formula, frozenset(variables)).formula_()
    free = tuple(lhs[1]) if lhs is not None else _Lowering(formula, {}, legend.sizes).free(body, frozenset())
    tree_legend = t.Legend(tuple(legend.sizes.items()), tuple((name, shape) for name, (shape, _) in legend.constants.items()))
    return (None if lhs is None else t.Ref(lhs[0], tuple(lhs[1]))), t.Formula(free, _lifted(body), tree_legend)


def _lifted(node) -> t.Node:
    """A syntax node as a notation tree node (a product of numbers and factors, signed terms, ...)."""
    if isinstance(node, Num):
        return t.Number(node.value)
    if isinstance(node, Ref):
        return t.Ref(node.name, tuple(node.indices))
    if isinstance(node, Delta):
        return t.Delta(*node.indices)
    if isinstance(node, Func):
        return t.Func(node.name, _lifted(node.arg))
    if isinstance(node, Pow):
        return t.Func("power", _lifted(node.base), node.exponent)
    if isinstance(node, Neg):
        return t.Product(-1.0, (_lifted(node.arg),))
    if isinstance(node, Prod):
        factors = [t.Func("reciprocal", _lifted(f)) if divides else _lifted(f) for f, divides in node.factors]
        scale = factors.pop(0).value if isinstance(factors[0], t.Number) else 1.0  # 2 A[i,j]: the number in front
        return t.product(scale, factors)
    if isinstance(node, Sum):
        return t.Sum(tuple(t.Term(sign, _lifted(term)) for term, sign in node.terms))
    if isinstance(node, SumOver):
        return t.Sigma(tuple(node.indices), _lifted(node.body))
    if isinstance(node, Apply):
        args = tuple(map(_lifted, node.args))
        if node.name == "reshape":
            return t.Reshape(tuple(node.binders[0]), tuple(node.param), args[0], tuple(node.indices or ()))
        binders = None if node.binders is None else tuple(map(tuple, node.binders))
        return t.Call(node.name, args, binders, tuple(node.indices or ()))
    if isinstance(node, Along):
        if node.indices is None:
            return t.Call(node.name, (_lifted(node.body),), None, ())
        return t.Along(node.name, tuple(node.indices), _lifted(node.body))
    if isinstance(node, Piecewise):
        args = tuple(map(_lifted, node.args))
        return t.Piecewise(node.name, args)
    raise TypeError(f"no notation node for a {type(node).__name__}")


def formula_letters(formula: str, variables=(), notation: str = "auto"
                    ) -> tuple[str | None, tuple[str, ...], dict[str, tuple[str, ...]]]:
    """The left side's name (or None), the output's index names, and the letters each
    variable is first written with, so printed derivatives can use the formula's own names.
    ``variables`` names those known to be variables (``A (x[i])`` is then a product), as
    :func:`parse` reads them. A formula in matrix notation (chosen as :func:`parse` chooses)
    writes no letters: its variables map to ``()`` and its output to ``()``."""
    if notation == "matrix" or (notation == "auto" and "[" not in formula and "->" not in formula
                                and not _reads_as_index(formula, variables)):
        try:
            name, found = matrix_names(formula)
        except ParseError:
            if notation == "matrix":
                raise
        else:
            return name, (), {v: () for v in found}
    lhs, body, legend = _Parser(formula, frozenset(variables)).formula_()
    letters: dict[str, tuple[str, ...]] = {}
    for ref in _refs(body):
        letters.setdefault(ref.name, ref.indices)
    if lhs is not None:
        return lhs[0], tuple(lhs[1]), letters
    return None, _Lowering(formula, {}, legend.sizes).free(body, frozenset()), letters


def _binding(name: str, given) -> Expr:
    """What a keyword of :func:`parse` binds ``name`` to: a shape (a tuple or an int) makes a
    variable, a numpy array a constant, an expression stands for itself."""
    if isinstance(given, Expr):
        return given
    if isinstance(given, np.ndarray | np.floating):
        try:
            return build.as_expr(given, f"the array given for {name!r}")
        except EinsdiffError as err:
            raise ParseError(str(err)) from err
    try:
        return Var(name, (given,) if isinstance(given, int | np.integer) else tuple(given))
    except (TypeError, ValueError, EinsdiffError) as err:
        raise ParseError(
            f"{name}={given!r}: give a shape (a tuple of sizes) for a variable, or a numpy array for a constant"
        ) from err


def _scope_sizes(body, lowering: _Lowering) -> dict[str, int]:
    """The size of each index on the formula's tensors, where every tensor that carries it agrees
    (an index reused with two sizes in separate sums has none)."""
    seen: dict[str, set[int]] = {}
    for node in _indexed(body, into_binders=True):
        if isinstance(node, Ref):
            value = lowering.variables.get(node.name)
        else:
            try:
                value = lowering.whole_call(node)
            except EinsdiffError:
                value = None  # reported where the call itself is lowered
        if value is not None and value.ndim == len(node.indices):
            for i, n in zip(node.indices, value.shape, strict=True):
                seen.setdefault(i, set()).add(n)
    return {i: ns.pop() for i, ns in seen.items() if len(ns) == 1}


NOTATIONS = ("auto", "index", "matrix")


def parse(formula: str, *, notation: str = "auto", **shapes) -> Expr:
    """An expression from a formula in index notation or in matrix notation; each keyword
    binds a name: a shape (a tuple, or an int for a vector) makes a variable, a numpy array
    a constant (the ``C0: constant (3, 3)`` that printing writes for a constant array), an
    expression (``ed.var``) stands for itself.

    ``notation="auto"`` (the default) reads a formula with index brackets ``[`` (or an
    einsum equation, ``->``) as index notation; one without them is read as index notation
    when that reading succeeds (scalar formulas like ``s*t``, whole-tensor calls like
    ``logdet(X)``: there both readings agree, and index notation keeps their meaning), and
    otherwise as matrix notation (:mod:`einsdiff.notation.matrix_parse`: ``x'*A*x``,
    ``norm2(A*x - y)^2``); when neither reads it, the error is matrix notation's, unless the
    formula has index notation's form but not matrix notation's (``s t`` for a product, ``a > b``).
    ``"index"`` and ``"matrix"`` choose one.

    >>> import einsdiff as ed
    >>> e = ed.parse("relu(W[i,j]*x[j] + b[i])", W=(3, 4), x=(4,), b=(3,))
    >>> print(e)
    f[i] = relu(W[i,j] x[j] + b[i])
    >>> print(ed.parse("L = (A[i,j]*x[j] - y[i])*(A[i,k]*x[k] - y[i])", A=(2, 3), x=(3,), y=(2,)).shape)
    ()
    >>> print(ed.parse("L = logdet(X) - inv(X)[i,j] A[j,i]", X=(3, 3), A=(3, 3)))
    f = logdet(X) - inv(X)[i,j] A[j,i]
    >>> import numpy as np
    >>> print(ed.parse("f[i] = C0[i,j] x[j]; C0: constant (2, 3)", C0=np.ones((2, 3)), x=(3,)))
    f[i] = C0[i,j] x[j]; C0: constant (2, 3)
    >>> print(ed.parse("x'*A*x", x=(3,), A=(3, 3)).shape)
    ()
    """
    return read(formula, notation=notation, **shapes)[0]


def read(formula: str, *, notation: str = "auto", **shapes) -> tuple[Expr, str]:
    """:func:`parse`'s expression and the notation it read the formula in, ``"index"`` or
    ``"matrix"`` (so a front end can answer in the notation it was asked in).

    >>> read("x'*A*x", x=(3,), A=(3, 3))[1], read("x[i]*x[i]", x=(3,))[1]
    ('matrix', 'index')
    """
    if not isinstance(formula, str):
        raise ParseError(f"a formula is a string, got {type(formula).__name__}")
    if notation not in NOTATIONS:
        raise OptionError(f"notation={notation!r}: choose one of {', '.join(map(repr, NOTATIONS))}")
    variables = {name: _binding(name, given) for name, given in shapes.items()}
    if notation == "matrix":
        return read_matrix(formula, variables), "matrix"
    if notation == "index" or "[" in formula or "->" in formula:
        return _parse_index(formula, variables), "index"
    try:
        return _parse_index(formula, variables), "index"
    except EinsdiffError as index_error:
        try:
            return read_matrix(formula, variables), "matrix"
        except EinsdiffError as matrix_error:
            if getattr(matrix_error, "syntax", False) and _reads_as_index(formula, variables):
                raise index_error from None
            raise


def _reads_as_index(formula: str, variables) -> bool:
    """Whether the formula has the form of index notation (its names and shapes aside)."""
    try:
        _Parser(formula, frozenset(variables)).formula_()
    except ParseError:
        return False
    return True


def _parse_index(formula: str, variables: dict[str, Expr]) -> Expr:
    """:func:`parse` for a formula in index notation, its names bound."""
    lhs, body, legend = _Parser(formula, frozenset(variables)).formula_()
    for name, (shape, pos) in legend.constants.items():
        given = variables.get(name)
        if given is not None and given.shape != shape:
            raise ParseError(f"{name!r} is a constant of shape {shape} here, but what was given for it has shape "
                             f"{given.shape}", formula, pos)
    known = legend.sizes
    lowering = _Lowering(formula, variables, known, legend)
    lowering.scope = _scope_sizes(body, lowering)
    if lhs is None:
        result = lowering.lower(body, frozenset())
        return result.expr
    _, out = lhs
    # The left side's indices are free everywhere, so a tensor anywhere fixes their sizes.
    for node in _indexed(body):
        value = variables.get(node.name) if isinstance(node, Ref) else lowering.whole_call(node)
        if value is not None and value.ndim == len(node.indices):
            for i, n in zip(node.indices, value.shape, strict=True):
                if i in out:
                    known.setdefault(i, n)
    result = lowering.lower(body, frozenset(out))
    extra = [i for i in result.indices if i not in out]
    if extra:
        raise ParseError(f"index {extra[0]!r} is free on the right side but not on the left", formula, 0)
    sizes = dict(zip(result.indices, result.expr.shape, strict=True))
    missing = [i for i in out if i not in sizes and i not in known]
    if missing:
        raise ParseError(
            f"index {missing[0]!r} of the left side does not appear on the right, so its size is unknown",
            formula, formula.index("="),
        )
    sizes.update((i, known[i]) for i in out if i not in sizes)  # broadcast over sized-only indices
    return contract([result.expr], [result.indices], out, sizes)
