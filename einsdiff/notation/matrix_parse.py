"""Formulas in matrix notation, as matrix-calculus texts and matrixcalculus.org write them,
read into the same expressions as index notation.

Vectors are columns; ``*`` (or ``@``) is the matrix product, a scaling when one side is a
scalar; ``'``, ``ᵀ``, ``^T`` and ``.T`` transpose; ``.*`` (or ``⊙``), ``./`` and ``.^`` work
entry by entry; ``/`` divides by a scalar and ``^`` raises a scalar (``X^-1``, ``X⁻¹`` and
``X^2`` are the inverse and powers of a square matrix); a scalar added to a vector or matrix
adds to every entry; a 1×1 result (``x'*y``) is a scalar. Functions: ``tr``, ``det``,
``logdet``, ``inv``, ``norm1``, ``norm2`` (Euclidean for vectors, Frobenius for matrices; ``‖r‖``),
``sum`` (every entry), ``diag`` (vector to diagonal matrix and back), ``eye(n)``, and every
elementwise function of the registry (``exp``, ``log``, ``tanh``, ...).

It reads back everything :func:`einsdiff.to_matrix_notation` prints: factors side by side
are a product (``2 Aᵀ (A x − y)``; ``/`` and a product bind alike, left to right, so
``2/3 x`` and ``Aᵀ r / ‖r‖`` mean what they say), ``−`` is minus, ``‖r‖``, ``‖X‖_F``,
``‖r‖²`` and ``‖r‖₁`` are norms, superscripts are powers (``s²``, ``X⁻¹``, ``X⁻ᵀ``, ``x∘²``,
``u∘⁻¹⁄³`` entry by entry), ``⊙`` (looser than a product: ``u ⊙ A x`` is ``u ⊙ (A x)``) and
``log det(X)``. ``𝟙`` (the ones vector) and ``I`` (the identity, unless a variable is called
``I``) take their size from what they multiply or are added to (``A 𝟙``, ``x + 𝟙``); where
nothing gives it, the error says so.

>>> import einsdiff as ed
>>> read("x'*A*x", {"x": ed.var("x", (3,)), "A": ed.var("A", (3, 3))}).shape
()
>>> read("A*x", {"x": ed.var("x", (4,)), "A": ed.var("A", (4, 3))})
Traceback (most recent call last):
...
einsdiff.errors.FormulaShapeError: A*x: A is 4×3 but x has 4 entries (column 2)
  A*x
   ^
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from ..errors import EinsdiffError, FormulaShapeError, ParseError, ShapeError, UnknownVariableError
from ..ir import build
from ..ir.expr import Expr
from ..ir.functions import FUNCTIONS as _ENTRIES
from ..ir.ops import apply
from ..ir.simplify import contract

_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_TOKEN = re.compile(
    r"\s*(?:(?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?)"  # not \d: 𝟙 is a digit
    r"|(?P<op>(?<=‖)_F(?![A-Za-z_0-9])|\.T(?![A-Za-z_0-9])|\.\*|\./|\.\^|\*\*|⁻ᵀ|[-−+*/^()',=@⊙·∘ᵀ‖𝟙₁₂])"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    # A power in superscript, as the matrix form writes one: ², ⁻¹, ⁰·⁵, ⁻¹⁄³ (a fraction), ¹ᵉ⁻¹².
    rf"|(?P<sup>[⁻⁺]?[{_DIGITS}]+(?:·[{_DIGITS}]+)?(?:ᵉ[⁻⁺]?[{_DIGITS}]+)?(?:[⁄/][{_DIGITS}]+)?))"
)
_PLAIN = str.maketrans(_DIGITS + "⁻⁺·ᵉ", "0123456789-+.e")
_N = -1  # in the shape of 𝟙 or I (or a value made from them): the size the formula has not given yet
# What a formula may call, by every name: the registry's syntax, plus matrix notation's own.
_SYNTAX = {name: f.syntax for f in _ENTRIES.values() if f.syntax for name in f.syntax.names}
_ELEMENTWISE = frozenset(name for name, s in _SYNTAX.items() if s.form == "elementwise")
_OWN = ("sum", "diag", "eye")
_KNOWN = tuple(sorted(set(_SYNTAX) | set(_OWN)))
_HINTS = {".": "; write functions without a module (tanh(x), not np.tanh)",
          "[": "; a formula with index brackets is index notation"}
_SPELLINGS = {wrong: right for s in _SYNTAX.values() for wrong, right in s.spellings}


@dataclass(frozen=True)
class Token:
    kind: str  # "number" | "name" | "op" | "end"
    text: str
    pos: int


def tokenize(formula: str) -> list[Token]:
    tokens, pos = [], 0
    while formula[pos:].strip():
        m = _TOKEN.match(formula, pos)
        if not m:
            bad = pos + len(formula[pos:]) - len(formula[pos:].lstrip())
            hint = _HINTS.get(formula[bad], "")
            err = ParseError(f"unexpected character {formula[bad]!r} in matrix notation{hint}", formula, bad)
            err.syntax = True
            raise err
        text = m.group(m.lastgroup)
        tokens.append(Token(m.lastgroup, "-" if text == "−" else text, m.start(m.lastgroup)))
        pos = m.end()
    tokens.append(Token("end", "", len(formula)))
    return tokens


@dataclass(frozen=True)
class _Unsized:
    """``𝟙`` or ``I``, or a value made from them, waiting for the size the rest of the formula
    gives: ``make(n)`` builds it at size n, ``shape`` has ``_N`` on the axes of that size;
    ``symbol`` and ``pos`` name the first ``𝟙`` or ``I`` that waits, for the error when nothing does."""

    make: Callable[[int], Expr]
    shape: tuple[int, ...]
    symbol: str
    pos: int

    @property
    def ndim(self) -> int:
        return len(self.shape)


@dataclass(frozen=True)
class _Val:
    """A value as matrix notation sees it: a number (``expr`` a float), a scalar, a column
    (or, transposed, a row) vector, a matrix; ``start``/``end`` its columns in the formula."""

    expr: object
    start: int
    end: int
    row: bool = False

    @property
    def ndim(self) -> int:
        return 0 if isinstance(self.expr, float) else self.expr.ndim

    @property
    def rows_cols(self) -> tuple:
        """A vector's or a matrix's (rows, columns), None where a vector has no such axis."""
        shape = self.expr.shape
        if len(shape) == 1:
            return (None, shape[0]) if self.row else (shape[0], None)
        return shape


def _describe(text: str, v: _Val) -> str:
    shape = tuple("n" if n == _N else n for n in (() if isinstance(v.expr, float) else v.expr.shape))
    if not shape:
        return f"{text} is a scalar"
    if len(shape) == 1:
        return f"{text} is a row of {shape[0]} entries" if v.row else f"{text} has {shape[0]} entries"
    return f"{text} is {'×'.join(map(str, shape))}"


def _unsized(v: _Val) -> bool:
    return isinstance(v.expr, _Unsized)


class _Reader:
    def __init__(self, formula: str, variables: dict[str, Expr]):
        self.formula, self.variables = formula, variables
        self.tokens = tokenize(formula)
        self.k = 0
        self.bars = 0  # how many ‖ are open: inside, a bar closes the norm rather than opening one

    @property
    def tok(self) -> Token:
        return self.tokens[self.k]

    def error(self, message: str, pos: int | None = None) -> ParseError:
        return ParseError(message, self.formula, self.tok.pos if pos is None else pos)

    def syntax_error(self, message: str) -> ParseError:
        """An error in the formula's form (not in its names or shapes): ``ed.parse`` then
        reports index notation's reading of a formula that reads as index notation."""
        err = self.error(message)
        err.syntax = True
        return err

    def text(self, v: _Val) -> str:
        return self.formula[v.start:v.end].strip()

    def shape_error(self, a: _Val, b: _Val, pos: int, what: str = "") -> ShapeError:
        """``A*x: A is 4×3 but x has 4 entries``: the operation as written, then both operands' shapes."""
        whole = self.formula[a.start:b.end].strip()
        message = f"{whole}: {_describe(self.text(a), a)} but {_describe(self.text(b), b)}{what}"
        return FormulaShapeError(message, self.formula, pos)

    def take(self, text: str) -> Token:
        if self.tok.text != text or self.tok.kind == "end":
            found = "the end" if self.tok.kind == "end" else repr(self.tok.text)
            raise self.syntax_error(f"expected {text!r}, found {found}")
        self.k += 1
        return self.tokens[self.k - 1]

    def accept(self, text: str) -> Token | None:
        if self.tok.text == text and self.tok.kind != "end":
            self.k += 1
            return self.tokens[self.k - 1]
        return None

    # -- grammar: formula = [name '='] sum; sum = loose (+|- loose)*; loose = product (⊙ product)*;
    #    product = unary ((* | @ | / | .* | ./ | · | side by side) unary)*; unary = -unary | power;
    #    power = postfix (^ unary)?; postfix = atom (' | ᵀ | .T | ^T | ⁻ᵀ | superscript | ∘superscript)*

    def formula_(self) -> Expr:
        if self.tok.kind == "name" and self.tokens[self.k + 1].text == "=":
            self.k += 2  # "f = ...": the left side names the result
        v = self.sum_()
        if self.tok.kind != "end":
            raise self.unexpected()
        if _unsized(v):
            raise self.unsized_error(v.expr)
        return build.as_expr(v.expr)

    def unsized_error(self, u: _Unsized) -> ParseError:
        what = "the ones vector 𝟙" if u.symbol == "𝟙" else "the identity I"
        hint = "" if u.symbol == "𝟙" else "; or write eye(n) for the n×n identity"
        return self.error(f"{what} has no size here: it takes the size of what it multiplies or is added to "
                          f"(A {u.symbol}, x + {u.symbol}), and nothing here has a known shape{hint}", u.pos)

    def unexpected(self) -> ParseError:
        return self.syntax_error(f"unexpected {self.tok.text!r}")

    # -- 𝟙 and I, sized by their neighbours

    @staticmethod
    def resolve(v: _Val, n: int) -> _Val:
        """``v`` with its 𝟙 and I of size ``n``."""
        return _Val(v.expr.make(n), v.start, v.end, v.row) if _unsized(v) else v

    def settle(self, a: _Val, b: _Val, matmul: bool = False) -> tuple[_Val, _Val]:
        """An unsized operand takes its size from a sized one: the shared axis of a product
        (``A 𝟙``, ``𝟙ᵀ A``), the matching axis of a sum or an entrywise product (``x + 𝟙``)."""
        if _unsized(a) == _unsized(b) or min(a.ndim, b.ndim) == 0:
            return a, b
        if matmul:
            (_, ca), (rb, _) = a.rows_cols, b.rows_cols
            mine, theirs = (ca, rb) if _unsized(a) else (rb, ca)
            n = theirs if mine == _N and theirs not in (None, _N) else None
        else:
            unsized, sized = (a, b) if _unsized(a) else (b, a)
            pairs = zip(unsized.expr.shape, sized.expr.shape) if unsized.ndim == sized.ndim else ()
            n = next((theirs for mine, theirs in pairs if mine == _N), None)
        return (a, b) if n is None else (self.resolve(a, n), self.resolve(b, n))

    def lift(self, op: Callable[..., _Val], *vals: _Val) -> _Val:
        """``op`` of values of which some still wait for a size: a value that waits too (its
        shape found by building it at two sizes), or ``op`` of them as they are. ``op`` is
        called again once the size is known: it binds what it needs now (``partial``), not a
        variable of the reader's loop that moves on."""
        waiting = [v for v in vals if _unsized(v)]
        if not waiting:
            return op(*vals)
        two, three = (op(*(self.resolve(v, n) for v in vals)) for n in (2, 3))
        shape = tuple(p if p == q else _N for p, q in zip(two.expr.shape, three.expr.shape, strict=True))
        first = waiting[0].expr
        made = _Unsized(lambda n: op(*(self.resolve(v, n) for v in vals)).expr, shape, first.symbol, first.pos)
        return _Val(made, two.start, two.end, two.row)

    # -- sums and products

    def sum_(self) -> _Val:
        left = self.loose()
        while self.tok.text in ("+", "-"):
            op = self.tok
            self.k += 1
            right = self.loose()
            left = self.lift(partial(self.add, op=op), *self.settle(left, right))
        return left

    def add(self, a: _Val, b: _Val, op: Token) -> _Val:
        if a.ndim and b.ndim and (a.expr.shape != b.expr.shape or a.row != b.row):
            raise self.shape_error(a, b, op.pos)
        fn = build.add if op.text == "+" else build.subtract
        if isinstance(a.expr, float) and isinstance(b.expr, float):
            value = a.expr + b.expr if op.text == "+" else a.expr - b.expr
        else:
            value = fn(a.expr, b.expr)
        return _Val(value, a.start, b.end, a.row if a.ndim else b.row)

    def loose(self) -> _Val:
        """Entrywise products, binding looser than a product written side by side: ``u ⊙ A x``."""
        left = self.product()
        while self.tok.text == "⊙":
            op = self.tok
            self.k += 1
            right = self.product()
            left = self.lift(partial(self.binary, op=op), *self.settle(left, right))
        return left

    def starts_factor(self) -> bool:
        """Whether the next token begins a factor written beside the one before (``A x``);
        inside ‖ ‖ a bar closes the norm."""
        tok = self.tok
        return tok.kind in ("number", "name") or tok.text in ("(", "𝟙") or (tok.text == "‖" and not self.bars)

    def product(self) -> _Val:
        left = self.unary()
        while True:
            if self.tok.text in ("*", "@", "/", ".*", "./", "·"):
                op = self.tok
                self.k += 1
            elif self.starts_factor():  # side by side, as printed: A x, 2 Aᵀ (A x − y)
                op = Token("op", "*", self.tok.pos)
            else:
                return left
            right = self.unary()
            left = self.lift(partial(self.binary, op=op), *self.settle(left, right, op.text in ("*", "@", "·")))

    def binary(self, a: _Val, b: _Val, op: Token) -> _Val:
        if op.text in ("*", "@", "·") and a.ndim and b.ndim:
            return self.matmul(a, b, op)
        if op.text == "/":
            if b.ndim:
                raise self.shape_error(a, b, op.pos, "; / divides by a scalar: use ./ entry by entry, "
                                       "or *inv(...) for a matrix")
            if isinstance(a.expr, float) and isinstance(b.expr, float):
                if not b.expr:
                    raise self.error(f"{self.formula[a.start:b.end].strip()} divides by zero", op.pos)
                return _Val(a.expr / b.expr, a.start, b.end)
            return _Val(build.divide(a.expr, b.expr), a.start, b.end, a.row)
        if a.ndim and b.ndim and (a.expr.shape != b.expr.shape or a.row != b.row):
            raise self.shape_error(a, b, op.pos)
        row = a.row if a.ndim else b.row
        if isinstance(a.expr, float) and isinstance(b.expr, float):
            if op.text == "./" and not b.expr:
                raise self.error(f"{self.formula[a.start:b.end].strip()} divides by zero", op.pos)
            return _Val(a.expr / b.expr if op.text == "./" else a.expr * b.expr, a.start, b.end)
        if op.text == "./":
            return _Val(build.divide(a.expr, b.expr), a.start, b.end, row)
        return _Val(build.multiply(a.expr, b.expr), a.start, b.end, row)

    def matmul(self, a: _Val, b: _Val, op: Token) -> _Val:
        """The matrix product, a vector a column (a transposed one a row); 1×1 is a scalar."""
        if a.ndim > 2 or b.ndim > 2:
            raise self.shape_error(a, b, op.pos, "; the matrix product takes vectors and matrices")
        (ra, ca), (rb, cb) = a.rows_cols, b.rows_cols
        if (ca or 1) != (rb or 1):
            raise self.shape_error(a, b, op.pos)
        # Axis labels: rows "i", the shared inner axis "j" (unshared when only one side has it: size 1,
        # summed away), columns "k".
        inner_a, inner_b = ("j", "j") if ca and rb else ("ja", "jb")
        la = tuple(lab for lab, n in (("i", ra), (inner_a, ca)) if n)
        lb = tuple(lab for lab, n in ((inner_b, rb), ("k", cb)) if n)
        out = tuple(lab for lab, n in (("i", ra), ("k", cb)) if n)
        sizes = dict(zip(la, a.expr.shape)) | dict(zip(lb, b.expr.shape))
        value = contract([a.expr, b.expr], [la, lb], out, sizes)
        return _Val(value, a.start, b.end, row=out == ("k",))

    def unary(self) -> _Val:
        if self.tok.text in ("-", "+"):
            op = self.tok
            self.k += 1
            v = self.unary()
            if op.text == "+":
                return _Val(v.expr, op.pos, v.end, v.row)
            return self.lift(partial(self.negate, pos=op.pos), v)
        return self.power()

    def power(self) -> _Val:
        base = self.postfix()
        if self.tok.text not in ("^", "**", ".^"):
            return base
        op = self.tok
        self.k += 1
        exponent = self.unary()
        return self.lift(partial(self.raise_, op=op), base, exponent)

    def raise_(self, base: _Val, exponent: _Val, op: Token) -> _Val:
        end = exponent.end
        if exponent.ndim and (op.text != ".^" or exponent.expr.shape != getattr(base.expr, "shape", ())):
            raise self.shape_error(base, exponent, op.pos, "; an exponent is a scalar (or, with .^, "
                                   "of the base's shape)")
        if isinstance(base.expr, float) and isinstance(exponent.expr, float):
            try:
                return _Val(math.pow(base.expr, exponent.expr), base.start, end)
            except (ValueError, OverflowError):  # 0⁻¹, (-8)^(1/3), 10^400
                raise self.error(f"{self.formula[base.start:end].strip()} is not a finite real number", op.pos) from None
        if op.text == ".^" or base.ndim == 0:
            return _Val(build.power(base.expr, exponent.expr), base.start, end, base.row)
        p = exponent.expr if isinstance(exponent.expr, float) else None
        if base.ndim == 2 and p is not None and p == int(p) and p != 0:
            return self.matrix_power(base, int(p), op, end)
        hint = "a whole number" if base.ndim == 2 else "a scalar; write .^ entry by entry"
        raise FormulaShapeError(f"{self.formula[base.start:end].strip()}: ^ of a "
                               f"{'matrix' if base.ndim == 2 else 'vector'} takes {hint}", self.formula, op.pos)

    def matrix_power(self, base: _Val, p: int, op: Token, end: int) -> _Val:
        rows, cols = base.expr.shape
        if rows != cols:
            raise FormulaShapeError(f"{self.formula[base.start:end].strip()}: a power of a matrix needs a square "
                                   f"matrix, but {_describe(self.text(base), base)}", self.formula, op.pos)
        m = base.expr if p > 0 else self.call_builder("inv", [base.expr], op.pos)
        value = m
        for _ in range(abs(p) - 1):
            value = build.matmul(value, m)
        return _Val(value, base.start, end)

    def postfix(self) -> _Val:
        v = self.atom()
        while True:
            tok = self.tok
            end = tok.pos + len(tok.text)
            if tok.text in ("'", "ᵀ", ".T") or (tok.text == "^" and self.tokens[self.k + 1].text == "T"
                                               and "T" not in self.variables):
                self.k += 1 if tok.text != "^" else 2
                v = self.lift(partial(self.transpose, tok=self.tokens[self.k - 1]), v)
            elif tok.kind == "sup":  # s², X⁻¹: a power (of a square matrix, its matrix power)
                self.k += 1
                power = self.exponent(tok)
                v = self.lift(partial(self.raise_, exponent=power, op=Token("op", "^", tok.pos)), v)
            elif tok.text == "⁻ᵀ":  # X⁻ᵀ, the transposed inverse
                self.k += 1
                v = self.lift(partial(self.inverse_transpose, tok=tok), v)
            elif tok.text == "∘":  # x∘², u∘⁻¹⁄³: a power entry by entry
                sup = self.tokens[self.k + 1]
                if sup.kind != "sup":
                    raise self.syntax_error("∘ takes a power in superscript, as in x∘² or x∘⁻¹")
                self.k += 2
                power = self.exponent(sup)
                v = self.lift(partial(self.raise_, exponent=power, op=Token("op", ".^", tok.pos)), v)
            else:
                return v

    def exponent(self, sup: Token) -> _Val:
        """A superscript power: ``⁻¹⁄³`` is -1/3 (the nearest float, as the fraction printed)."""
        p, _, q = sup.text.translate(_PLAIN).replace("⁄", "/").partition("/")
        if q and not float(q):
            raise self.error(f"the power {sup.text} divides by zero", sup.pos)
        return _Val(float(p) / float(q) if q else float(p), sup.pos, sup.pos + len(sup.text))

    def negate(self, v: _Val, pos: int) -> _Val:
        return _Val(-v.expr if isinstance(v.expr, float) else build.negative(v.expr), pos, v.end, v.row)

    def inverse_transpose(self, v: _Val, tok: Token) -> _Val:
        """``X⁻ᵀ``, the transposed inverse."""
        end = tok.pos + len(tok.text)
        return self.transpose(self.raise_(v, _Val(-1.0, tok.pos, end), Token("op", "^", tok.pos)), tok)

    def transpose(self, v: _Val, tok: Token) -> _Val:
        end = tok.pos + len(tok.text)
        if v.ndim > 2:
            raise FormulaShapeError(f"{self.formula[v.start:end].strip()}: a transpose takes a vector or a matrix, "
                                   f"but {_describe(self.text(v), v)}", self.formula, tok.pos)
        if v.ndim == 2:
            return _Val(build.transpose(v.expr), v.start, end)
        return _Val(v.expr, v.start, end, row=not v.row if v.ndim else False)

    def atom(self) -> _Val:
        tok = self.tok
        if tok.kind == "number":
            self.k += 1
            return _Val(float(tok.text), tok.pos, tok.pos + len(tok.text))
        if tok.text == "(":
            self.k += 1
            bars, self.bars = self.bars, 0  # a bar inside brackets opens a norm of its own
            inner = self.sum_()
            self.bars = bars
            close = self.take(")")
            return _Val(inner.expr, tok.pos, close.pos + 1, inner.row)
        if tok.text == "‖":
            return self.norm(tok)
        if tok.text == "𝟙":
            self.k += 1
            return _Val(_Unsized(lambda n: build.ones((n,)), (_N,), "𝟙", tok.pos), tok.pos, tok.pos + len(tok.text))
        if tok.kind != "name":
            found = "the end of the formula" if tok.kind == "end" else repr(tok.text)
            raise self.syntax_error(f"expected a number, a variable, a function or '(', found {found}")
        self.k += 1
        if tok.text == "log" and self.tok.text == "det" and self.tokens[self.k + 1].text == "(":
            self.k += 1  # log det(X), as the matrix form writes logdet
            return self.call(Token("name", "logdet", tok.pos))
        if self.tok.text == "(" and (self.tok.pos == tok.pos + len(tok.text) or tok.text not in self.variables):
            return self.call(tok)  # tr(X) is a call even where tr is also a variable, as in index notation
        value = self.variables.get(tok.text)
        if value is None and tok.text == "I":
            return _Val(_Unsized(build.identity, (_N, _N), "I", tok.pos), tok.pos, tok.pos + 1)
        if value is None:
            if tok.text in _KNOWN:
                raise self.error(f"{tok.text} is a function: call it with parentheses, as in {tok.text}(X)", tok.pos)
            ndim = 2 if tok.text[:1].isupper() else 1  # matrix notation's custom: A a matrix, x a vector
            err = UnknownVariableError(tok.text, ndim, self.formula, tok.pos)
            close = difflib.get_close_matches(tok.text, list(self.variables), n=1)
            if close:
                err.args = (err.args[0].replace("; pass", f"; did you mean {close[0]}? Or pass", 1),)
            raise err
        return _Val(value, tok.pos, tok.pos + len(tok.text))

    def norm(self, tok: Token) -> _Val:
        """``‖r‖`` (Euclidean; of a matrix, Frobenius), ``‖X‖_F``, ``‖r‖₁`` (the sum of absolute
        values), ``‖r‖₂``."""
        self.k += 1
        self.bars += 1
        inner = self.sum_()
        self.bars -= 1
        close = self.take("‖")
        end, fn = close.pos + 1, "norm2"
        if self.tok.text == "_F" or (self.tok.text in ("₁", "₂") and self.tok.pos == end):
            if self.tok.text == "_F" and inner.ndim != 2:
                raise FormulaShapeError(f"{self.formula[tok.pos:end + 2]}: the Frobenius norm takes a matrix, but "
                                       f"{_describe(self.text(inner), inner)}", self.formula, tok.pos)
            fn = "norm1" if self.tok.text == "₁" else "norm2"
            end = self.tok.pos + len(self.tok.text)
            self.k += 1
        along = _SYNTAX[fn].along
        return self.lift(lambda u: _Val(along(build.as_expr(u.expr), tuple(range(u.ndim))), tok.pos, end), inner)

    # -- functions

    def arguments(self) -> tuple[list[_Val], int]:
        self.take("(")
        bars, self.bars = self.bars, 0
        args = [self.sum_()]
        while self.accept(","):
            args.append(self.sum_())
        self.bars = bars
        return args, self.take(")").pos + 1

    def call(self, tok: Token) -> _Val:
        name = tok.text
        if name not in _KNOWN:
            if name in self.variables:
                raise self.error(f"{name!r} is a variable, not a function: write a product with *, {name}*(...)",
                                 tok.pos)
            guess = _SPELLINGS.get(name) or next(iter(difflib.get_close_matches(name.lower(), _KNOWN, n=1)), None)
            hint = f"; did you mean {guess}?" if guess else "."
            raise self.error(f"unknown function {name!r}{hint} The functions are {', '.join(_KNOWN)}", tok.pos)
        if name == "eye":
            return self.eye(tok)
        args, end = self.arguments()
        syntax = _SYNTAX.get(name)
        arity = syntax.arity if syntax else 1
        if len(args) != arity:
            other = f"; did you mean {_SPELLINGS[name]}?" if name in _SPELLINGS else ""  # max(a, b): maximum
            raise self.error(f"{name} takes {arity} argument{'s' * (arity > 1)}, got {len(args)}{other}", tok.pos)
        return self.lift(lambda *vals: self.applied(tok, list(vals), end), *args)

    def applied(self, tok: Token, args: list[_Val], end: int) -> _Val:
        """The function ``tok`` names, of its arguments."""
        name = tok.text
        syntax = _SYNTAX.get(name)
        exprs = [build.as_expr(a.expr) for a in args]
        if name in _ELEMENTWISE:
            return _Val(apply(_ENTRIES_BY_NAME[name], exprs[0]), tok.pos, end, args[0].row)
        if name == "sum":
            return _Val(build.reduce_sum(exprs[0]), tok.pos, end)
        if name == "diag":
            if exprs[0].ndim not in (1, 2):
                raise FormulaShapeError(f"{self.formula[tok.pos:end]}: diag takes a vector or a square matrix, but "
                                       f"{_describe(self.text(args[0]), args[0])}", self.formula, tok.pos)
            return _Val(self.call_builder("diag", exprs, tok.pos), tok.pos, end)
        if syntax.form == "piecewise":
            shape = build.broadcast_shape(*(e.shape for e in exprs))
            exprs = [build.broadcast_to(e, shape) for e in exprs]
            return _Val(syntax.builder(*exprs), tok.pos, end, next((a.row for a in args if a.ndim), False))
        if syntax.along is not None and (syntax.form == "along" or syntax.reduces):
            x = exprs[0]
            if not syntax.reduces and x.ndim > 1:
                raise self.error(f"{name} of a matrix: say along which axis in index notation, as in "
                                 f"{name}[j](X[i,j])", tok.pos)
            return _Val(syntax.along(x, tuple(range(x.ndim))), tok.pos, end, args[0].row)
        return _Val(self.call_builder(name, exprs, tok.pos), tok.pos, end)

    def call_builder(self, name: str, exprs: list[Expr], pos: int) -> Expr:
        builder = _SYNTAX[name].builder if name in _SYNTAX else _ENTRIES[name].builder
        try:
            return builder(*exprs)
        except ShapeError as err:
            raise FormulaShapeError(str(err), self.formula, pos) from err
        except EinsdiffError as err:
            raise self.error(str(err), pos) from err

    def eye(self, tok: Token) -> _Val:
        """``eye(n)``: the n×n identity; n a whole number."""
        self.take("(")
        size = self.tok
        if size.kind != "number" or not size.text.isdigit() or int(size.text) < 1:
            raise self.error("eye takes a whole number, the size, as in eye(3)")
        self.k += 1
        end = self.take(")").pos + 1
        return _Val(build.identity(int(size.text)), tok.pos, end)


# The registry entry each elementwise name calls (apply takes the entry's name).
_ENTRIES_BY_NAME = {name: f.name for f in _ENTRIES.values() if f.syntax for name in f.syntax.names}


def names(formula: str) -> tuple[str | None, tuple[str, ...]]:
    """The left side's name (None without one) and the variables a matrix formula writes, in
    order of first appearance: every name but those called (``tr(X)``, the ``log`` of
    ``log det(X)``), the ``T`` of ``^T`` and ``I``, the identity.

    >>> names("f = x'*A*x + tr(X^T)")
    ('f', ('x', 'A', 'X'))
    """
    tokens = tokenize(formula)
    lhs = None
    if len(tokens) > 2 and tokens[0].kind == "name" and tokens[1].text == "=":
        lhs, tokens = tokens[0].text, tokens[2:]
    found = []
    for k, tok in enumerate(tokens[:-1]):  # the last is the end
        called = tokens[k + 1].text == "(" and tokens[k + 1].pos == tok.pos + len(tok.text)
        transpose = tok.text == "T" and k and tokens[k - 1].text == "^"
        log_det = tok.text == "log" and tokens[k + 1].text == "det"
        if tok.kind == "name" and not (called or transpose or log_det or tok.text == "I"):
            found.append(tok.text)
    return lhs, tuple(dict.fromkeys(found))


def read(formula: str, variables: dict[str, Expr]) -> Expr:
    """The expression a formula in matrix notation means; ``variables`` binds each name to
    its variable (or constant), as :func:`einsdiff.parse` makes them from its keywords.

    >>> import einsdiff as ed
    >>> x, y = ed.var("x", (3,)), ed.var("y", (3,))
    >>> read("x'*y", {"x": x, "y": y}).shape
    ()
    >>> read("2*x + 1", {"x": x}).shape
    (3,)
    """
    return _Reader(formula, variables).formula_()


__all__ = ["read", "names", "tokenize"]
