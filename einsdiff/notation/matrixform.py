"""Matrix notation, as matrix-calculus notes write results: ``2 Aᵀ (A x − y)``.

An expression of scalars, vectors (columns) and matrices reads as products, transposes,
traces, ``diag`` and elementwise functions when each of its contraction networks is a set
of chains: every summed index joins two factors. Then a chain that ends at the output is
a product ``A B x``, one that ends at two vectors a scalar ``xᵀ A y``, a closed one a
trace. An index shared by three factors (an elementwise product) is split by writing a
vector on it as ``diag(v)``; ``diag(u) v`` then reads ``u ⊙ v``. An index summed in one
factor only is a product with the ones vector ``𝟙``. A Jacobian of matrices (3 or 4 axes)
whose network splits in two is, flattened row-major (vec stacks rows) or column-major (vec
stacks columns, the Matrix Cookbook's convention), a Kronecker product ``X ⊗ Y``. What cannot
be written so (a commutation matrix, an index in three matrices) raises :class:`OptionError`:
index notation says it.

The form is a small tree (products, transposes, Kronecker products, diag, ⊙, traces);
one visitor writes its text, another evaluates it with numpy, which the tests compare with
``ed.evaluate``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import OptionError
from ..ir.expr import Add, Call, Const, Contract, Expr, Map, Var, bare, is_symmetric
from ..ir.functions import FUNCTIONS
from .printing import _fmt_number
from .tree import scaled

_SUPERSCRIPT = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")
_ATOM, _PRODUCT, _LOOSE = 2, 1, 0  # how tightly a piece binds: a name or f(...); juxtaposed factors; a sum, ⊙, ⊗


class _Unsupported(Exception):
    """This part has no matrix form; the message says why."""


# -- the matrix form's tree ------------------------------------------------------------


class M:
    """Base of the matrix form's nodes."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Name(M):
    """A variable: a scalar, a vector (a column) or a matrix."""

    name: str
    ndim: int
    symmetric: bool = False  # Sᵀ is S


@dataclass(frozen=True, slots=True)
class Number(M):
    value: float
    ndim = 0


@dataclass(frozen=True, slots=True)
class Ones(M):
    """The ones vector ``𝟙``."""

    size: int
    ndim = 1


@dataclass(frozen=True, slots=True)
class Identity(M):
    """The identity matrix ``I``."""

    size: int
    ndim = 2


@dataclass(frozen=True, slots=True)
class Zeros(M):
    shape: tuple[int, ...]

    @property
    def ndim(self) -> int:
        return len(self.shape)


@dataclass(frozen=True, slots=True)
class Transpose(M):
    arg: M

    @property
    def ndim(self) -> int:
        return self.arg.ndim


@dataclass(frozen=True, slots=True)
class Matmul(M):
    """``A B``: the matrix product (a row vector first, a column vector last)."""

    left: M
    right: M
    ndim: int


@dataclass(frozen=True, slots=True)
class Scale(M):
    """Scalars in front: ``2 c Aᵀ x``."""

    factors: tuple[M, ...]

    @property
    def ndim(self) -> int:
        return self.factors[-1].ndim


@dataclass(frozen=True, slots=True)
class Hadamard(M):
    """``u ⊙ v``, the elementwise product of vectors."""

    left: M
    right: M
    ndim = 1


@dataclass(frozen=True, slots=True)
class Kron(M):
    """``X ⊗ Y``."""

    left: M
    right: M
    ndim = 2


@dataclass(frozen=True, slots=True)
class Outer(M):
    """``u vᵀ``."""

    left: M
    right: M
    ndim = 2


@dataclass(frozen=True, slots=True)
class Diag(M):
    """``diag(v)``, a vector on a diagonal, or ``diag(A)``, a matrix's diagonal. With
    ``hadamard`` it splits an index three factors share: it is symmetric, and times a
    vector reads ``u ⊙ v``."""

    arg: M
    hadamard: bool = False

    @property
    def ndim(self) -> int:
        return 2 if self.arg.ndim == 1 else 1


@dataclass(frozen=True, slots=True)
class Vec(M):
    """``vec(G)``: a matrix's entries stacked by rows, or by columns with ``column``."""

    arg: M
    column: bool
    ndim = 1


@dataclass(frozen=True, slots=True)
class AsMatrix(M):
    """A vector as a one-column matrix, or as a one-row matrix (written ``vᵀ``) with ``row``."""

    arg: M
    row: bool
    ndim = 1


@dataclass(frozen=True, slots=True)
class Trace(M):
    arg: M
    ndim = 0


@dataclass(frozen=True, slots=True)
class Total(M):
    """``sum(v)``: 𝟙ᵀ v."""

    arg: M
    ndim = 0


@dataclass(frozen=True, slots=True)
class Elementwise(M):
    """``tanh(A x)``, ``x∘²``, ``1/c``."""

    fn: str
    arg: M
    param: float | None = None

    @property
    def ndim(self) -> int:
        return self.arg.ndim


@dataclass(frozen=True, slots=True)
class Applied(M):
    """A function of whole tensors: ``X⁻¹``, ``det(X)``, ``X⁻¹ b``; ``node`` is its expression."""

    fn: str
    args: tuple[M, ...]
    node: Call
    ndim: int


@dataclass(frozen=True, slots=True)
class Sum(M):
    """Terms with their coefficients, in the order they print. ``loose`` (a Kronecker form's
    terms): no term is bracketed, ⊗ binding tighter than + and −."""

    terms: tuple[tuple[float, M], ...]
    ndim: int
    loose: bool = False


# -- questions of the tree -------------------------------------------------------------


def _name_like(m: M) -> bool:
    """Written as a single name: a transpose or an inverse needs no brackets around it."""
    return isinstance(m, Name | Ones | Identity)


def _notation(m: Elementwise | Applied) -> tuple[str, str]:
    """The function's matrix template and how tightly it binds, from its registry entry
    (a scalar argument may read differently: x², 1/x)."""
    note = FUNCTIONS[m.fn].notation
    if m.ndim == 0 and note.matrix_scalar:
        return note.matrix_scalar, note.matrix_scalar_binds
    return note.matrix, note.matrix_binds


def _binding(m: M) -> int:
    if isinstance(m, Number):
        return _ATOM if m.value >= 0 else _LOOSE
    if isinstance(m, Matmul | Scale | Outer):
        return _PRODUCT
    if isinstance(m, Elementwise | Applied):
        return _PRODUCT if _notation(m)[1] == "product" else _ATOM
    if isinstance(m, Hadamard | Kron):
        return _LOOSE
    if isinstance(m, Sum):
        return _LOOSE if len(m.terms) > 1 or m.terms[0][0] < 0 else _PRODUCT
    if isinstance(m, AsMatrix):
        return _ATOM if m.row else _binding(m.arg)
    return _ATOM


def transpose(m: M) -> M:
    """``mᵀ``: a scalar and diag(v) are their own transposes, and (Aᵀ)ᵀ is A."""
    if m.ndim == 0 or (isinstance(m, Diag) and m.hadamard):
        return m
    if isinstance(m, Transpose) and _name_like(m.arg):
        return m.arg
    if (isinstance(m, Name) and m.symmetric) or (isinstance(m, Applied) and is_symmetric(m.node)):
        return m
    return Transpose(m)


# -- rendering: one visitor writes text, another evaluates with numpy ------------------


def text(m: M) -> str:
    """The matrix form as matrix-calculus notes write it."""
    return _TEXT[type(m)](m)


def _atom(m: M) -> str:
    return text(m) if _binding(m) == _ATOM else f"({text(m)})"


def _factor(m: M) -> str:
    """As a factor of a product: a sum gets brackets."""
    return text(m) if _binding(m) >= _PRODUCT else f"({text(m)})"


def _named(m: M) -> str:
    return text(m) if _name_like(m) else f"({text(m)})"


def _sum_text(m: Sum) -> str:
    out = ""
    for k, (c, term) in enumerate(m.terms):
        if abs(c) != 1:
            body = f"{_fmt_number(abs(c))} {_factor(term)}"
        elif m.loose or _binding(term) >= _PRODUCT or (k == 0 and c > 0):
            body = text(term)
        else:
            body = _atom(term)
        out += (f"−{body}" if c < 0 else body) if k == 0 else f" {'−' if c < 0 else '+'} {body}"
    return out


@dataclass(frozen=True, slots=True)
class _Argument:
    """An argument put into a template; its format spec says how it is bracketed: ``name``
    unless a bare name, ``atom`` unless it binds as an atom, ``factor`` when it is a sum."""

    m: M

    def __format__(self, spec: str) -> str:
        return {"": text, "name": _named, "atom": _atom, "factor": _factor}[spec](self.m)


def _function_text(m: Elementwise | Applied) -> str:
    args = (m.arg,) if isinstance(m, Elementwise) else m.args
    param = getattr(m, "param", None)
    p = "" if param is None else _fmt_number(param).translate(_SUPERSCRIPT)
    return _notation(m)[0].format(*map(_Argument, args), p=p)


def _hadamard_text(m: Hadamard) -> str:
    return f"{_atom(m.left)} ⊙ {_atom(m.right)}"  # a product inside ⊙ gets brackets: y ⊙ (A x)


_TEXT = {
    Name: lambda m: m.name,
    Number: lambda m: _fmt_number(m.value),
    Ones: lambda m: "𝟙",
    Identity: lambda m: "I",
    Zeros: lambda m: "0",
    Transpose: lambda m: f"{_named(m.arg)}ᵀ",
    Matmul: lambda m: f"{_factor(m.left)} {_factor(m.right)}",
    Scale: lambda m: " ".join(map(_factor, m.factors)),
    Hadamard: _hadamard_text,
    Kron: lambda m: f"{_factor(m.left)} ⊗ {_factor(m.right)}",
    Outer: lambda m: f"{_factor(m.left)} {text(transpose(m.right))}",
    Diag: lambda m: f"diag({text(m.arg)})",
    Vec: lambda m: f"vec({text(m.arg)})",
    AsMatrix: lambda m: text(transpose(m.arg)) if m.row else text(m.arg),
    Trace: lambda m: f"tr({text(m.arg)})",
    Total: lambda m: f"sum({text(m.arg)})",
    Elementwise: _function_text,
    Applied: _function_text,
    Sum: _sum_text,
}


def evaluate(m: M, values) -> np.ndarray:
    """The matrix form's value with numpy, the variables' arrays by name from ``values``."""
    return _VALUE[type(m)](m, lambda node: evaluate(node, values), values)


def _transpose_value(m: Transpose, value) -> np.ndarray:
    v = value(m.arg)
    return v.T if m.ndim == 2 else v


_VALUE = {
    Name: lambda m, value, values: np.asarray(values[m.name]),
    Number: lambda m, value, values: m.value,
    Ones: lambda m, value, values: np.ones(m.size),
    Identity: lambda m, value, values: np.eye(m.size),
    Zeros: lambda m, value, values: np.zeros(m.shape),
    Transpose: lambda m, value, values: _transpose_value(m, value),
    Matmul: lambda m, value, values: value(m.left) @ value(m.right),
    Scale: lambda m, value, values: math.prod((value(f) for f in m.factors[1:]), start=value(m.factors[0])),
    Hadamard: lambda m, value, values: value(m.left) * value(m.right),
    Kron: lambda m, value, values: np.kron(value(m.left), value(m.right)),
    Outer: lambda m, value, values: np.outer(value(m.left), value(m.right)),
    Diag: lambda m, value, values: np.diag(value(m.arg)),
    Vec: lambda m, value, values: np.ravel(value(m.arg), order="F" if m.column else "C"),
    AsMatrix: lambda m, value, values: value(m.arg)[None, :] if m.row else value(m.arg)[:, None],
    Trace: lambda m, value, values: np.trace(value(m.arg)),
    Total: lambda m, value, values: np.sum(value(m.arg)),
    Elementwise: lambda m, value, values: FUNCTIONS[m.fn].numpy(value(m.arg), m.param),
    Applied: lambda m, value, values: FUNCTIONS[m.fn].numpy(m.node, [value(a) for a in m.args]),
    Sum: lambda m, value, values: sum(c * value(t) for c, t in m.terms),
}


@dataclass(frozen=True, slots=True)
class MatrixForm:
    """An expression's matrix form: its tree, the text it reads as, and its value.

    >>> import einsdiff as ed, numpy as np
    >>> A, x = ed.var("A", (2, 2)), ed.var("x", (2,))
    >>> form = matrix_form(ed.grad(x @ A @ x, x))
    >>> form.text
    'A x + Aᵀ x'
    >>> form.evaluate({"A": np.eye(2), "x": np.ones(2)}).tolist()
    [2.0, 2.0]
    """

    tree: M

    @property
    def text(self) -> str:
        return text(self.tree)

    def evaluate(self, values) -> np.ndarray:
        """The value with numpy, each variable's array by name from ``values``."""
        with np.errstate(all="ignore"):
            return np.asarray(evaluate(self.tree, values), dtype=float)


# -- from expressions ------------------------------------------------------------------


def _product(factors: list[M], ndim: int) -> M:
    """Factors already oriented (a row vector first, a column vector last) multiplied. In
    a vector, diag(u) times the rest is u ⊙ (the rest)."""
    acc = factors[-1]
    for f in reversed(factors[:-1]):
        if isinstance(f, Diag) and f.hadamard and ndim == 1:
            acc = Hadamard(f.arg, acc)
        else:
            acc = Matmul(f, acc, ndim)
    return acc


def _times(scalars: list[M], m: M) -> M:
    """Scalar factors in front: ``2 c Aᵀ x``."""
    if not scalars:
        return m
    if m == Number(1.0):
        m, scalars = scalars[-1], scalars[:-1]
        if not scalars:
            return m
    return Scale((*scalars, m))


class _Converter:
    def __init__(self):
        self.done: dict[Expr, M] = {}

    def convert(self, node: Expr) -> M:
        node = bare(node)
        if node not in self.done:
            if node.ndim > 2:
                raise _Unsupported(f"a tensor of {node.ndim} axes (shape {node.shape})")
            self.done[node] = self._convert(node)
        return self.done[node]

    def _convert(self, node: Expr) -> M:
        if isinstance(node, Var):
            return Name(node.name, node.ndim, node.symmetric)
        if isinstance(node, Const):
            if node.ndim:
                raise _Unsupported(f"a constant array of shape {node.shape}")
            return Number(float(node.value))
        if isinstance(node, Map):
            return Elementwise(node.fn, self.convert(node.arg), node.param)
        if isinstance(node, Add):
            return self._add(node)
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Contract):
            return self._contract(node)
        raise _Unsupported(f"a {type(node).__name__.lower()}")

    def _add(self, node: Add) -> M:
        if not node.terms:
            return Zeros(node.shape)
        if node.coeffs == (1.0,):
            return self.convert(node.terms[0])
        ordered = sorted(zip(node.terms, node.coeffs, strict=True), key=lambda tc: tc[1] < 0)
        return Sum(tuple((c, self.convert(term)) for term, c in ordered), node.ndim)

    def _call(self, node: Call) -> M:
        """A function with a matrix template of its own (``X⁻¹``, ``det(X)``), its arguments
        whole: none broadcast, a reduction over all of its argument (logsumexp(x), not along an axis)."""
        args = tuple(self.convert(a) for a in node.args)
        entry = FUNCTIONS[node.fn]
        broadcast = entry.syntax is not None and entry.syntax.form == "piecewise" and any(
            arg.shape != node.shape for arg in node.args)
        partial = bool(node.param) and len(node.param) != node.args[0].ndim
        if not entry.notation.matrix or broadcast or partial:
            raise _Unsupported(f"{node.fn}(...)")
        return Applied(node.fn, args, node, node.ndim)

    def kronecker(self, node: Expr, rows: int, column: bool = False) -> M:
        """A tensor of 3 or 4 axes, ``rows`` of them row axes, flattened into a matrix: a sum
        of products X[r1,c1] Y[r2,c2] is X ⊗ Y (a missing axis makes Y a column or a row
        vector). Row-major vec runs the last axis fastest; column-major vec (``column``) the
        first, which is row-major vec of the tensor with each group's axes reversed."""
        node = bare(node)
        cols = node.ndim - rows
        if node.ndim not in (3, 4) or not (1 <= rows <= 2 and 1 <= cols <= 2):
            raise _Unsupported(f"a tensor of {node.ndim} axes (shape {node.shape})")
        if isinstance(node, Add):
            if not node.terms:
                return Zeros((math.prod(node.shape[:rows]), math.prod(node.shape[rows:])))
            parts = [self.kronecker(t, rows, column) for t in node.terms]
            return Sum(tuple(zip(node.coeffs, parts, strict=True)), 2, loose=True)
        if not isinstance(node, Contract):
            raise _Unsupported(f"a tensor of {node.ndim} axes (shape {node.shape}) that is not a product")
        if column:  # J[r1,r2,c1,c2] read column-major is P[r2,r1,c2,c1] read row-major
            output = node.output[:rows][::-1] + node.output[rows:][::-1]
            node = Contract(node.operands, node.inputs, output, node.sizes)
        return self._kron(node, rows, column)

    def _kron(self, node: Contract, rows: int, column: bool) -> M:
        """The row-major Kronecker form of ``node`` (already reordered for a column-major vec)."""
        cols = node.ndim - rows
        scaled_rows = self._row_scale(node, rows, column)
        if scaled_rows is not None:
            return scaled_rows
        # kron(X, Y)[(r1, r2), (c1, c2)] = X[r1,c1] Y[r2,c2]; with one axis fewer, X or Y is a vector.
        splits = {(2, 2): [((0, 2), (1, 3))], (2, 1): [((0, 2), (1,)), ((0,), (1, 2))],
                  (1, 2): [((0, 1), (2,)), ((1,), (0, 2))]}[rows, cols]
        for first, second in splits:
            parts = self._split_network(node, first, second)
            if parts is not None:
                break
        else:
            raise _Unsupported(f"a tensor of {node.ndim} axes (shape {node.shape}) that is no Kronecker product")
        factors = []
        for positions, ops in zip((first, second), parts, strict=True):
            m = self._part(ops, tuple(node.output[p] for p in positions), dict(enumerate(node.sizes)))
            if m.ndim == 1:  # a vector: a column on a row axis, a row on a column axis
                m = AsMatrix(m, row=positions[0] >= rows)
            factors.append(m)
        return Kron(*factors)

    def _row_scale(self, node: Contract, rows: int, column: bool) -> M | None:
        """diag(vec(G)) (the rest): a factor on exactly the row indices scales each row (the
        Jacobian of an elementwise function of A W is diag(vec(1 − tanh(A W)∘²)) (A ⊗ I)).
        ``node``'s row indices are reversed for a column-major vec, so G keeps its own
        orientation there and vec stacks its columns."""
        row_indices = node.output[:rows]
        if len(set(row_indices)) < rows:
            return None
        own = row_indices[::-1] if column else row_indices  # the function's axes in its own order
        for k, idx in enumerate(node.inputs):
            if set(idx) != set(row_indices) or len(idx) != rows:
                continue
            g = self.convert(node.operands[k])
            if rows == 2 and idx != own:
                g = transpose(g)
            rest = Contract(node.operands[:k] + node.operands[k + 1:], node.inputs[:k] + node.inputs[k + 1:],
                            node.output, node.sizes)
            try:
                inner = self._kron(rest, rows, column)
            except _Unsupported:
                return None
            return Matmul(Diag(g if rows == 1 else Vec(g, column)), inner, 2)
        return None

    @staticmethod
    def _split_network(node: Contract, first, second):
        """The operands on X's output positions and those on Y's, when no index joins the two."""
        mine = {node.output[p] for p in first}
        ops = list(zip(node.operands, node.inputs, strict=True))
        grown = True
        while grown:  # X's operands: those sharing an index with X's part, and their indices
            grown = False
            for _, idx in ops:
                if set(idx) & mine and not set(idx) <= mine:
                    mine |= set(idx)
                    grown = True
        part_x = [(op, idx) for op, idx in ops if set(idx) & mine or not idx]
        part_y = [(op, idx) for op, idx in ops if not (set(idx) & mine or not idx)]
        if any(node.output[p] in mine for p in second):
            return None
        return part_x, part_y

    def _part(self, ops, output: tuple[int, ...], sizes) -> M:
        used = sorted({i for _, idx in ops for i in idx} | set(output))
        renumber = {i: k for k, i in enumerate(used)}
        sub = Contract(tuple(op for op, _ in ops), tuple(tuple(renumber[i] for i in idx) for _, idx in ops),
                       tuple(renumber[i] for i in output), tuple(sizes[i] for i in used))
        return self._contract(sub)

    def _contract(self, node: Contract) -> M:
        scalars: list[M] = []
        slots: list[tuple[M, list[int]]] = []
        for op, idx in zip(node.operands, node.inputs, strict=True):
            inner = bare(op)
            if isinstance(inner, Add) and scaled(inner):  # 2 Aᵀ (A x − y), not Aᵀ (2 A x − 2 y)
                common = abs(inner.coeffs[0])
                scalars.append(Number(common))
                op = Add(inner.terms, tuple(c / common for c in inner.coeffs), inner.shape)
            m = self.convert(op)
            if not idx:
                scalars.append(m)
            elif len(idx) == 2 and idx[0] == idx[1]:
                slots.append((Diag(m), [idx[0]]))
            else:
                slots.append((m, list(idx)))
        out = list(dict.fromkeys(node.output))
        size = dict(enumerate(node.sizes))
        for i in range(len(node.sizes)):  # a summed index on no factor: a factor of its size
            if i not in out and not any(i in idx for _, idx in slots):
                scalars.append(Number(float(size[i])))
        slots = self._split(slots, out, size)
        core = self._chains(slots, out, scalars)
        if len(node.output) == 2 and node.output[0] == node.output[1]:  # a delta: the core on a diagonal
            n = size[out[0]]
            if isinstance(core, Ones):
                return Identity(n)
            if isinstance(core, Scale) and isinstance(core.factors[-1], Ones):  # c 𝟙 on a diagonal: c I
                return Scale(core.factors[:-1] + (Identity(n),))
            return Diag(core)
        if len(node.output) == 2 and node.output != (out[0], out[1]):
            raise _Unsupported("a repeated output index")
        return core

    def _split(self, slots, out, size):
        """Every index on exactly two slots (counting the output as one): an index on three
        or more is split by a vector on it becoming diag(v); an index on one gets 𝟙."""
        slots = [(m, list(idx)) for m, idx in slots]

        def count(i):
            return sum(idx.count(i) for _, idx in slots) + out.count(i)

        for i in sorted({i for _, idx in slots for i in idx} | set(out)):
            while count(i) > 2:
                vector = next((k for k, (_, idx) in enumerate(slots) if idx == [i]), None)
                other = next((k for k, (_, idx) in enumerate(slots) if i in idx and k != vector), None)
                if vector is None or other is None:
                    raise _Unsupported(f"an index shared by {count(i)} factors, none of them a vector")
                j = max(size) + 1
                size[j] = size[i]
                m, _ = slots[vector]
                slots[vector] = (Diag(m, hadamard=True), [i, j])
                om, oidx = slots[other]
                slots[other] = (om, [j if x == i else x for x in oidx])
            if count(i) == 1:
                slots.append((Ones(size[i]), [i]))
        return slots

    def _chains(self, slots, out, scalars) -> M:
        used: set[int] = set()

        def follow(i):
            """The oriented factors from index i to a vector (end None) or back to an output index."""
            chain = []
            while True:
                k = next((k for k, (_, idx) in enumerate(slots) if i in idx and k not in used), None)
                if k is None:
                    return chain, i
                used.add(k)
                m, idx = slots[k]
                if len(idx) == 1:
                    return chain + [m], None
                chain.append(m if idx[0] == i else transpose(m))
                i = idx[1] if idx[0] == i else idx[0]

        result = None
        if len(out) == 1:
            chain, end = follow(out[0])
            result = _product(chain, 1)
        elif len(out) == 2:
            chain, end = follow(out[0])
            if end == out[1]:
                result = _product(chain, 2)
            else:
                first = _product(chain, 1)
                second, _ = follow(out[1])
                result = Outer(first, _product(second, 1))
        # What is left closes into scalars: paths between two vectors first (from a ones
        # vector where there is one: 𝟙ᵀ v is sum(v)), then loops.
        for k, (m, idx) in sorted(enumerate(slots), key=lambda ks: (len(ks[1][1]), not isinstance(ks[1][0], Ones))):
            if k in used:
                continue
            used.add(k)
            if len(idx) == 1:  # xᵀ A y
                rest, _ = follow(idx[0])
                if isinstance(m, Ones) and len(rest) == 1:
                    scalars.append(Total(rest[0]))
                else:
                    scalars.append(_product([transpose(m)] + rest, 0))
            else:  # tr(A B C)
                rest, _ = follow(idx[1])
                scalars.append(Trace(_product([m] + rest, 2)))
        if result is None:
            if not scalars:
                return Number(1.0)
            return _times(scalars[:-1], scalars[-1])
        return _times(scalars, result)


def to_matrix_notation(expr: Expr, name: str = "f", rows: int | None = None, *, order: str = "row") -> str:
    """``expr`` in matrix notation, vectors as columns: ``f = 2 Aᵀ (A x − y)``; ``ᵀ``
    transposes, ``⊙`` and ``∘`` are elementwise, ``𝟙`` is the ones vector. A Jacobian of 3
    or 4 axes, ``rows`` of them its function's, is written as the matrix of its flattening
    in Kronecker products: with ``order="row"`` vec stacks rows (C order), ``∂vec(A W)/∂vec(W)
    = A ⊗ I``; with ``order="column"`` vec stacks columns, as the Matrix Cookbook does, and the
    same Jacobian is ``I ⊗ A``. Raises :class:`OptionError` for what matrices cannot say (use
    :func:`to_index_notation`).

    >>> import einsdiff as ed
    >>> A, x, y = ed.var("A", (4, 3)), ed.var("x", (3,)), ed.var("y", (4,))
    >>> print(ed.to_matrix_notation(ed.grad(ed.sum((A @ x - y) ** 2), x)))
    f = 2 Aᵀ (A x − y)
    >>> print(ed.to_matrix_notation(ed.hessian(x @ ed.var("B", (3, 3)) @ x, x), name="H"))
    H = Bᵀ + B
    >>> W = ed.var("W", (3, 2))
    >>> print(ed.to_matrix_notation(ed.jacobian(A @ W, W), name="J", rows=2))
    J = A ⊗ I
    >>> print(ed.to_matrix_notation(ed.jacobian(A @ W, W), name="J", rows=2, order="column"))
    J = I ⊗ A
    """
    if not isinstance(expr, Expr):
        raise OptionError(f"to_matrix_notation needs an einsdiff expression, got {type(expr).__name__}")
    return f"{name} = {matrix_form(expr, rows, order=order).text}"


def matrix_form(expr: Expr, rows: int | None = None, *, order: str = "row") -> MatrixForm:
    """The matrix form: its tree, its text, and its value with numpy. With ``rows`` (for a Jacobian of 3 or 4
    axes: how many lead axes are its function's), the matrix ∂vec(f)/∂vec(X) of its
    flattening in ``order`` ("row" or "column" major), as Kronecker products:
    ∂vec(A W + B)/∂vec(W) = A ⊗ I row-major, I ⊗ A column-major."""
    if order not in ("row", "column"):
        raise OptionError(f"order={order!r}: use 'row' (vec stacks rows) or 'column' (vec stacks columns)")
    try:
        converter = _Converter()
        if rows is not None and expr.ndim > 2:
            return MatrixForm(converter.kronecker(expr, rows, column=order == "column"))
        return MatrixForm(converter.convert(expr))
    except _Unsupported as why:
        raise OptionError(f"no matrix notation for this expression: it has {why}; "
                          f"use ed.to_index_notation") from None


def derivative_notation(f: Expr, wrt: Var, derivative: Expr, order: int, name: str = "f", *,
                        vec: str = "row") -> str:
    """``∂L/∂x = 2 Aᵀ (A x − y)``, or for tensors of more axes ``∂vec(Z)/∂vec(W) = A ⊗ I``
    (``vec`` "row": vec stacks rows; "column": ``I ⊗ A``); raises :class:`OptionError` where
    matrices cannot say it."""
    if derivative.ndim <= 2:
        head = f"∂²{name}/∂{wrt.name}²" if order == 2 else f"∂{name}/∂{wrt.name}"
        return f"{head} = {matrix_form(derivative).text}"
    rows = f.ndim + (wrt.ndim if order == 2 else 0)
    num = f"vec({name})" if f.ndim > 1 else name
    den = f"vec({wrt.name})" if wrt.ndim > 1 else wrt.name
    head = f"∂²{num}/∂{den}²" if order == 2 else f"∂{num}/∂{den}"
    return f"{head} = {matrix_form(derivative, rows, order=vec).text}"
