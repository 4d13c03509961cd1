"""Formulas in index notation, Einstein convention, read into expressions.

``relu(W[i,j]*x[j] + b[i])``: an index repeated in a product and not free outside it
is summed; ``sum[i](...)`` (or ``Σ[i](...)``) sums explicitly; ``delta[i,j]`` (or
``δ[i,j]``) is the Kronecker delta. ``L = ...`` or ``f[i,j] = ...`` fixes the output
indices and their order; without it, the free indices in order of first appearance.
This reads back what :func:`einsdiff.to_index_notation` prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import build
from .errors import EinsdiffError, ParseError
from .expr import Expr, Var
from .ops import OPS, apply
from .simplify import add, contract

FUNCTIONS = tuple(sorted(name for name in OPS if name != "power"))
_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*|Σ|δ)"
    r"|(?P<op>\*\*|[-+*/^()\[\],=;:]))"
)


@dataclass(frozen=True)
class Token:
    kind: str  # "number" | "name" | "op" | "end"
    text: str
    pos: int


def tokenize(formula: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(formula):
        if formula[pos:].strip() == "":
            break
        m = _TOKEN.match(formula, pos)
        if not m or m.end() == pos:
            bad = pos + len(formula[pos:]) - len(formula[pos:].lstrip())
            raise ParseError(f"unexpected character {formula[bad]!r}", formula, bad)
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


class _Parser:
    def __init__(self, formula: str):
        self.formula = formula
        self.tokens = tokenize(formula)
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
        body = self.sum_()
        sizes = {}
        if self.accept(";"):  # "; i:2, j:3" gives sizes the formula alone does not fix
            while True:
                if self.tok.kind != "name":
                    raise self.error("expected an index name, as in '; i:3'")
                name = self.tok.text
                self.k += 1
                self.take(":")
                if self.tok.kind != "number" or not self.tok.text.isdigit():
                    raise self.error("expected a whole number for the index size")
                sizes[name] = int(self.tok.text)
                self.k += 1
                if not self.accept(","):
                    break
        if self.tok.kind != "end":
            raise self.error(f"unexpected {self.tok.text!r}")
        return lhs, body, sizes

    def index_list(self) -> tuple[str, ...]:
        self.take("[")
        names = []
        while True:
            if self.tok.kind != "name":
                raise self.error("expected an index name")
            names.append(self.tok.text)
            self.k += 1
            if not self.accept(","):
                break
        self.take("]")
        return tuple(names)

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
        factors = [(self.unary(), False)]
        while True:
            if self.tok.text in ("*", "/"):
                divides = self.tok.text == "/"
                self.k += 1
                factors.append((self.unary(), divides))
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
            self.take(")")
            return sign * value
        if self.tok.kind != "number":
            raise self.error("an exponent must be a constant number")
        self.k += 1
        return sign * float(self.tokens[self.k - 1].text)

    def atom(self):
        tok = self.tok
        if tok.kind == "number":
            self.k += 1
            return Num(float(tok.text), tok.pos)
        if tok.text == "(":
            self.k += 1
            inner = self.sum_()
            self.take(")")
            return inner
        if tok.kind != "name":
            found = "the end of the formula" if tok.kind == "end" else repr(tok.text)
            raise self.error(f"expected a number, a variable, a function or '(', found {found}")
        self.k += 1
        if tok.text in ("sum", "Σ"):
            indices = self.index_list()
            self.take("(")
            body = self.sum_()
            self.take(")")
            return SumOver(indices, body, tok.pos)
        if tok.text in ("delta", "δ"):
            indices = self.index_list()
            if len(indices) != 2:
                raise self.error("a delta takes two indices, as in delta[i,j]", tok)
            return Delta(indices, tok.pos)
        if tok.text in FUNCTIONS:
            self.take("(")
            arg = self.sum_()
            self.take(")")
            return Func(tok.text, arg, tok.pos)
        indices = self.index_list() if self.tok.text == "[" else ()
        return Ref(tok.text, indices, tok.pos)


# -- lowering to expressions ------------------------------------------------------


@dataclass(frozen=True)
class _Indexed:
    """An expression whose axes carry the index names ``indices`` (distinct)."""

    expr: Expr
    indices: tuple[str, ...]


class _Lowering:
    def __init__(self, formula: str, variables: dict[str, Var], known: dict[str, int]):
        self.formula = formula
        self.variables = variables
        self.known = known  # index sizes declared after a semicolon

    def error(self, message: str, pos: int) -> ParseError:
        return ParseError(message, self.formula, pos)

    def free(self, node, protected: frozenset) -> tuple[str, ...]:
        """The free indices of ``node`` (Einstein convention), without building anything."""
        if isinstance(node, Num):
            return ()
        if isinstance(node, Delta):
            return tuple(dict.fromkeys(node.indices))
        if isinstance(node, Ref):  # A[i,i] is a trace unless i is free outside
            return tuple(i for i in dict.fromkeys(node.indices) if node.indices.count(i) == 1 or i in protected)
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
        shown = [set(f.indices) if isinstance(f, Ref | Delta) else set(self.free(f, protected))
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
        if isinstance(node, SumOver):
            inner = self.lower(node.body, protected | set(node.indices))
            for i in node.indices:
                if i not in inner.indices:
                    raise self.error(f"sum over {i!r}, which its body does not use", node.pos)
            out = tuple(i for i in inner.indices if i not in node.indices)
            return _Indexed(contract([inner.expr], [inner.indices], out, self.sizes([inner], node.pos)), out)
        return self.product(node, protected)

    def delta(self, node: Delta, sizes: dict[str, int]) -> _Indexed:
        """The identity on the delta's indices, sized by its siblings or by the '; i:n' sizes."""
        n = [sizes.get(i, self.known.get(i)) for i in node.indices]
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
        var = self.variables.get(node.name)
        if var is None:
            raise self.error(
                f"unknown variable {node.name!r}; pass its shape, e.g. {node.name}=(3, 4)", node.pos
            )
        if len(node.indices) != var.ndim:
            raise self.error(
                f"variable {node.name!r} has shape {var.shape} ({var.ndim} axes) but {len(node.indices)} "
                f"indices", node.pos
            )
        sizes: dict[str, int] = {}
        for i, n in zip(node.indices, var.shape, strict=True):
            if sizes.setdefault(i, n) != n:
                raise self.error(f"index {i!r} is used for axes of sizes {sizes[i]} and {n} of {node.name!r}", node.pos)
        return _Indexed(contract([var], [node.indices], out, sizes), out)

    def sizes(self, parts: list[_Indexed], pos: int, known: dict | None = None) -> dict[str, int]:
        sizes = dict(known or {})
        for part in parts:
            for i, n in zip(part.indices, part.expr.shape, strict=True):
                if sizes.setdefault(i, n) != n:
                    raise self.error(f"index {i!r} has sizes {sizes[i]} and {n} here", pos)
        return sizes

    def sum_(self, node: Sum, protected: frozenset) -> _Indexed:
        parts = [self.lower(t, protected) for t, _ in node.terms]
        union = tuple(dict.fromkeys(i for p in parts for i in p.indices))
        sizes = self.sizes(parts, node.pos)
        shape = tuple(sizes[i] for i in union)
        terms = [contract([p.expr], [p.indices], union, sizes) for p in parts]
        return _Indexed(add(terms, [s for _, s in node.terms], shape), union)

    def product(self, node: Prod, protected: frozenset) -> _Indexed:
        factors = [f for f, _ in node.factors]
        lowered: list[_Indexed | None] = []
        for k, (f, inner) in enumerate(zip(factors, self.factor_protection(node, protected), strict=True)):
            if isinstance(f, Delta):
                lowered.append(None)
                continue
            part = self.lower(f, inner)
            if node.factors[k][1]:
                part = _Indexed(apply("reciprocal", part.expr), part.indices)
            lowered.append(part)
        sizes = self.sizes([p for p in lowered if p is not None], node.pos)
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


def _children_of(node) -> tuple:
    if isinstance(node, Func | Neg):
        return (node.arg,)
    if isinstance(node, Pow):
        return (node.base,)
    if isinstance(node, SumOver):
        return (node.body,)
    if isinstance(node, Sum | Prod):
        return tuple(child for child, _ in (node.terms if isinstance(node, Sum) else node.factors))
    return ()


def formula_letters(formula: str) -> tuple[str | None, tuple[str, ...], dict[str, tuple[str, ...]]]:
    """The left side's name (or None), the output's index names, and the letters each
    variable is first written with, so printed derivatives can use the formula's own names."""
    lhs, body, known = _Parser(formula).formula_()
    letters: dict[str, tuple[str, ...]] = {}
    for ref in _refs(body):
        letters.setdefault(ref.name, ref.indices)
    if lhs is not None:
        return lhs[0], tuple(lhs[1]), letters
    return None, _Lowering(formula, {}, known).free(body, frozenset()), letters


def parse(formula: str, **shapes) -> Expr:
    """An expression from a formula in index notation; ``shapes`` gives each variable's
    shape (or the variable itself).

    >>> import einsdiff as ed
    >>> e = ed.parse("relu(W[i,j]*x[j] + b[i])", W=(3, 4), x=(4,), b=(3,))
    >>> print(e)
    f[i] = relu(W[i,j] x[j] + b[i])
    >>> print(ed.parse("L = (A[i,j]*x[j] - y[i])*(A[i,k]*x[k] - y[i])", A=(2, 3), x=(3,), y=(2,)).shape)
    ()
    """
    if not isinstance(formula, str):
        raise ParseError(f"a formula is a string, got {type(formula).__name__}")
    variables = {}
    for name, shape in shapes.items():
        try:
            variables[name] = shape if isinstance(shape, Var) else Var(name, tuple(shape) if not isinstance(shape, int) else (shape,))
        except (TypeError, EinsdiffError) as err:
            raise ParseError(f"the shape given for {name!r} is not a tuple of sizes: {shape!r}") from err
    lhs, body, known = _Parser(formula).formula_()
    lowering = _Lowering(formula, variables, known)
    if lhs is None:
        result = lowering.lower(body, frozenset())
        return result.expr
    _, out = lhs
    # The left side's indices are free everywhere, so a tensor anywhere fixes their sizes.
    for ref in _refs(body):
        var = variables.get(ref.name)
        if var is not None and var.ndim == len(ref.indices):
            for i, n in zip(ref.indices, var.shape, strict=True):
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
