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

Each piece also carries NumPy code, which the tests evaluate against ``ed.evaluate``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import OptionError
from ..ir.expr import Add, Call, Const, Contract, Expr, Map, Var, bare
from .printing import _fmt_number
from .tree import scaled

_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|𝟙")
_SUPERSCRIPT = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")


class _Unsupported(Exception):
    """This part has no matrix form; the message says why."""


@dataclass(frozen=True)
class _M:
    """A piece of the formula: its text, its NumPy code, and how tightly it binds."""

    text: str
    code: str
    ndim: int
    level: int  # 0: a sum or a negation, 1: a product, 2: an atom (a name, f(...), (...))
    vector: _M | None = None  # for diag(v), v

    def atom(self) -> _M:
        return self if self.level == 2 else _M(f"({self.text})", f"({self.code})", self.ndim, 2)

    def factor(self) -> _M:
        """As a factor of a product: a sum gets brackets."""
        return self if self.level >= 1 else self.atom()


def _transpose(m: _M) -> _M:
    if m.ndim == 0 or m.vector is not None:  # diag(v)ᵀ = diag(v)
        return m
    if m.text.endswith("ᵀ") and _NAME.fullmatch(m.text[:-1]):
        return _M(m.text[:-1], m.code.removesuffix(".T"), m.ndim, 2)
    text = f"{m.text}ᵀ" if _NAME.fullmatch(m.text) else f"({m.text})ᵀ"
    code = m.atom().code if m.ndim == 1 else f"{m.atom().code}.T"  # an atom: (a + b) @ v, not a + b @ v
    return _M(text, code, m.ndim, 2)


def _product(factors: list[_M], ndim: int) -> _M:
    """Factors already oriented (a row vector first, a column vector last) multiplied. In
    a vector, diag(u) times the rest is u ⊙ (the rest)."""
    acc = factors[-1]
    for f in reversed(factors[:-1]):
        if f.vector is not None and ndim == 1:
            u = f.vector  # a product inside ⊙ gets brackets: y ⊙ (A x)
            left = u.atom().text if u.level < 2 else u.text
            right = acc.atom().text if acc.level == 1 else acc.factor().text
            acc = _M(f"{left} ⊙ {right}", f"{u.atom().code} * {acc.atom().code}", 1, 0)
        else:
            acc = _M(f"{f.factor().text} {acc.factor().text}", f"{f.atom().code} @ {acc.atom().code}", ndim, 1)
    return _M(acc.text, acc.code, ndim, acc.level, acc.vector if len(factors) == 1 else None)


def _times(scalars: list[_M], m: _M) -> _M:
    """Scalar factors in front: ``2 c Aᵀ x``."""
    if not scalars:
        return m
    if m.text == "1" and m.ndim == 0:
        m, scalars = scalars[-1], scalars[:-1]
        if not scalars:
            return m
    text = " ".join(s.factor().text for s in scalars + [m])
    code = " * ".join(s.atom().code for s in scalars + [m])
    return _M(text, code, m.ndim, 1)


class _Converter:
    def __init__(self):
        self.done: dict[Expr, _M] = {}

    def convert(self, node: Expr) -> _M:
        node = bare(node)
        if node not in self.done:
            if node.ndim > 2:
                raise _Unsupported(f"a tensor of {node.ndim} axes (shape {node.shape})")
            self.done[node] = self._convert(node)
        return self.done[node]

    def _convert(self, node: Expr) -> _M:
        if isinstance(node, Var):
            return _M(node.name, node.name, node.ndim, 2)
        if isinstance(node, Const):
            if node.ndim:
                raise _Unsupported(f"a constant array of shape {node.shape}")
            c = float(node.value)
            return _M(_fmt_number(c), repr(c), 0, 2 if c >= 0 else 0)
        if isinstance(node, Map):
            return self._map(node)
        if isinstance(node, Add):
            return self._add(node)
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Contract):
            return self._contract(node)
        raise _Unsupported(f"a {type(node).__name__.lower()}")

    def _map(self, node: Map) -> _M:
        x = self.convert(node.arg)
        code = f"_op({node.fn!r}, {x.code}, {node.param!r})"
        if node.fn in ("square", "power"):
            p = 2 if node.fn == "square" else node.param
            mark = "" if x.ndim == 0 else "∘"  # ∘: elementwise, not a matrix power
            return _M(f"{x.atom().text}{mark}{_fmt_number(p).translate(_SUPERSCRIPT)}", code, x.ndim, 2)
        if node.fn == "reciprocal" and x.ndim == 0:
            return _M(f"1/{x.atom().text}", code, 0, 1)
        return _M(f"{node.fn}({x.text})", code, x.ndim, 2)

    def _add(self, node: Add) -> _M:
        if not node.terms:
            return _M("0", f"np.zeros({node.shape})", node.ndim, 2)
        if node.coeffs == (1.0,):
            return self.convert(node.terms[0])
        text, code = "", []
        for k, (term, c) in enumerate(sorted(zip(node.terms, node.coeffs, strict=True), key=lambda tc: tc[1] < 0)):
            t = self.convert(term)
            body = t.factor().text if abs(c) != 1 else (t.text if t.level >= 1 or k == 0 and c > 0 else t.atom().text)
            if abs(c) != 1:
                body = f"{_fmt_number(abs(c))} {body}"
            if k == 0:
                text = f"−{body}" if c < 0 else body
            else:
                text += f" {'−' if c < 0 else '+'} {body}"
            code.append(f"{c!r} * {t.atom().code}")
        level = 0 if len(node.terms) > 1 or node.coeffs[0] < 0 else 1
        return _M(text, " + ".join(code), node.ndim, level)

    def _call(self, node: Call) -> _M:
        args = [self.convert(a) for a in node.args]
        a = args[0]
        if node.fn == "inv":
            name = a.text if _NAME.fullmatch(a.text) else f"({a.text})"
            return _M(f"{name}⁻¹", f"np.linalg.inv({a.code})", 2, 2)
        if node.fn == "det":
            return _M(f"det({a.text})", f"np.linalg.det({a.code})", 0, 2)
        if node.fn == "logdet":
            return _M(f"log det({a.text})", f"np.linalg.slogdet({a.code})[1]", 0, 2)
        if node.fn == "solve":
            name = a.text if _NAME.fullmatch(a.text) else f"({a.text})"
            return _M(f"{name}⁻¹ {args[1].factor().text}", f"np.linalg.solve({a.code}, {args[1].code})", args[1].ndim, 1)
        if node.fn == "where" and all(arg.shape == node.shape for arg in node.args):  # elementwise
            m, p, q = args
            return _M(f"where({m.text}, {p.text}, {q.text})", f"np.where({m.code} != 0, {p.code}, {q.code})", a.ndim, 2)
        if node.fn == "logsumexp" and len(node.param) == a.ndim:  # over all of a
            return _M(f"logsumexp({a.text})", f"np.log(np.sum(np.exp({a.code})))", 0, 2)
        raise _Unsupported(f"{node.fn}(...)")

    def kronecker(self, node: Expr, rows: int, column: bool = False) -> _M:
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
                shape = (math.prod(node.shape[:rows]), math.prod(node.shape[rows:]))
                return _M("0", f"np.zeros({shape})", 2, 2)
            return self._add_parts([self.kronecker(t, rows, column) for t in node.terms], node.coeffs)
        if not isinstance(node, Contract):
            raise _Unsupported(f"a tensor of {node.ndim} axes (shape {node.shape}) that is not a product")
        if column:  # J[r1,r2,c1,c2] read column-major is P[r2,r1,c2,c1] read row-major
            output = node.output[:rows][::-1] + node.output[rows:][::-1]
            node = Contract(node.operands, node.inputs, output, node.sizes)
        return self._kron(node, rows, column)

    def _kron(self, node: Contract, rows: int, column: bool) -> _M:
        """The row-major Kronecker form of ``node`` (already reordered for a column-major vec)."""
        cols = node.ndim - rows
        scaled = self._row_scale(node, rows, column)
        if scaled is not None:
            return scaled
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
                column_vector = positions[0] < rows
                m = _M(m.text, f"{m.atom().code}[:, None]", 1, m.level) if column_vector \
                    else _M(_transpose(m).text, f"{m.atom().code}[None, :]", 1, 2)
            factors.append(m)
        x, y = factors
        # Level 0: as a factor it gets brackets, diag(v) (A ⊗ I), since ⊗ binds looser than juxtaposition.
        return _M(f"{x.factor().text} ⊗ {y.factor().text}", f"np.kron({x.atom().code}, {y.atom().code})", 2, 0)

    def _row_scale(self, node: Contract, rows: int, column: bool) -> _M | None:
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
                g = _transpose(g)
            rest = Contract(node.operands[:k] + node.operands[k + 1:], node.inputs[:k] + node.inputs[k + 1:],
                            node.output, node.sizes)
            try:
                inner = self._kron(rest, rows, column)
            except _Unsupported:
                return None
            vec = g.text if rows == 1 else f"vec({g.text})"
            ravel = f"np.ravel({g.code}, order='F')" if column and rows == 2 else f"np.ravel({g.code})"
            return _M(f"diag({vec}) {inner.factor().text}", f"np.diag({ravel}) @ {inner.atom().code}", 2, 1)
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

    def _part(self, ops, output: tuple[int, ...], sizes) -> _M:
        used = sorted({i for _, idx in ops for i in idx} | set(output))
        renumber = {i: k for k, i in enumerate(used)}
        sub = Contract(tuple(op for op, _ in ops), tuple(tuple(renumber[i] for i in idx) for _, idx in ops),
                       tuple(renumber[i] for i in output), tuple(sizes[i] for i in used))
        return self._contract(sub)

    def _add_parts(self, parts: list[_M], coeffs) -> _M:
        text, code = "", []
        for k, (m, c) in enumerate(zip(parts, coeffs, strict=True)):
            body = m.text if abs(c) == 1 else f"{_fmt_number(abs(c))} {m.factor().text}"
            text = (f"−{body}" if c < 0 else body) if k == 0 else f"{text} {'−' if c < 0 else '+'} {body}"
            code.append(f"{c!r} * {m.atom().code}")
        return _M(text, " + ".join(code), 2, 0 if len(parts) > 1 or coeffs[0] < 0 else 1)

    def _contract(self, node: Contract) -> _M:
        scalars: list[_M] = []
        slots: list[tuple[_M, list[int]]] = []
        for op, idx in zip(node.operands, node.inputs, strict=True):
            inner = bare(op)
            if isinstance(inner, Add) and scaled(inner):  # 2 Aᵀ (A x − y), not Aᵀ (2 A x − 2 y)
                common = abs(inner.coeffs[0])
                scalars.append(_M(_fmt_number(common), repr(common), 0, 2))
                op = Add(inner.terms, tuple(c / common for c in inner.coeffs), inner.shape)
            m = self.convert(op)
            if not idx:
                scalars.append(m)
            elif len(idx) == 2 and idx[0] == idx[1]:
                slots.append((_M(f"diag({m.text})", f"np.diagonal({m.code})", 1, 2), [idx[0]]))
            else:
                slots.append((m, list(idx)))
        out = list(dict.fromkeys(node.output))
        size = dict(enumerate(node.sizes))
        for i in range(len(node.sizes)):  # a summed index on no factor: a factor of its size
            if i not in out and not any(i in idx for _, idx in slots):
                scalars.append(_M(str(size[i]), str(size[i]), 0, 2))
        slots = self._split(slots, out, size)
        core = self._chains(slots, out, scalars)
        if len(node.output) == 2 and node.output[0] == node.output[1]:  # a delta: the core on a diagonal
            if core.text == "𝟙":
                return _M("I", f"np.eye({size[out[0]]})", 2, 2)
            if core.text.endswith(" 𝟙") and core.level == 1:
                scale = core.text[: -len(" 𝟙")]
                return _M(f"{scale} I", f"{core.code} * np.eye({size[out[0]]})", 2, 1)
            return _M(f"diag({core.text})", f"np.diag({core.code})", 2, 2)
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
                slots[vector] = (_M(f"diag({m.text})", f"np.diag({m.code})", 2, 2, m), [i, j])
                om, oidx = slots[other]
                slots[other] = (om, [j if x == i else x for x in oidx])
            if count(i) == 1:
                slots.append((_M("𝟙", f"np.ones({size[i]})", 1, 2), [i]))
        return slots

    def _chains(self, slots, out, scalars) -> _M:
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
                chain.append(m if idx[0] == i else _transpose(m))
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
                second = _product(second, 1)
                result = _M(f"{first.factor().text} {_transpose(second).text}",
                            f"np.outer({first.code}, {second.code})", 2, 1)
        # What is left closes into scalars: paths between two vectors first (from a ones
        # vector where there is one: 𝟙ᵀ v is sum(v)), then loops.
        for k, (m, idx) in sorted(enumerate(slots), key=lambda ks: (len(ks[1][1]), ks[1][0].text != "𝟙")):
            if k in used:
                continue
            used.add(k)
            if len(idx) == 1:  # xᵀ A y
                rest, _ = follow(idx[0])
                if m.text == "𝟙" and len(rest) == 1:
                    scalars.append(_M(f"sum({rest[0].text})", f"np.sum({rest[0].code})", 0, 2))
                else:
                    scalars.append(_product([_transpose(m)] + rest, 0))
            else:  # tr(A B C)
                rest, _ = follow(idx[1])
                loop = _product([m] + rest, 2)
                scalars.append(_M(f"tr({loop.text})", f"np.trace({loop.code})", 0, 2))
        if result is None:
            if not scalars:
                return _M("1", "1.0", 0, 2)
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


def matrix_form(expr: Expr, rows: int | None = None, *, order: str = "row") -> _M:
    """The matrix form's text and NumPy code (the code reads ``_op(fn, x, param)`` for an
    elementwise function and the variables by name). With ``rows`` (for a Jacobian of 3 or 4
    axes: how many lead axes are its function's), the matrix ∂vec(f)/∂vec(X) of its
    flattening in ``order`` ("row" or "column" major), as Kronecker products:
    ∂vec(A W + B)/∂vec(W) = A ⊗ I row-major, I ⊗ A column-major."""
    if order not in ("row", "column"):
        raise OptionError(f"order={order!r}: use 'row' (vec stacks rows) or 'column' (vec stacks columns)")
    try:
        converter = _Converter()
        if rows is not None and expr.ndim > 2:
            return converter.kronecker(expr, rows, column=order == "column")
        return converter.convert(expr)
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
