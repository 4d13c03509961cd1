"""Sparse output: a tensor's stored entries read off its delta pattern.

A contraction whose output repeats an index lies on a diagonal. Its entries are the
core over the distinct output indices (broadcast over the indices no operand carries),
and their coordinates repeat the distinct coordinates into the output positions: no
array of the dense shape is ever allocated, so memory and time follow the number of
stored entries. Sums concatenate their terms' entries; a product with a structured
factor is distributed over that factor's terms, so that each term keeps its own pattern.

Stored entries are structural: values are never inspected, so an entry that happens to
be 0.0 is kept and ``nnz`` depends only on the expression and its shapes. A node with no
delta structure at the top (an elementwise function, a matrix inverse) is evaluated
densely and stores every entry.

Needs the optional packages ``sparse`` and ``scipy``: ``pip install "einsdiff[sparse]"``.

>>> import einsdiff as ed, numpy as np
>>> x = ed.var("x", (4,))
>>> J = ed.evaluate(ed.jacobian(ed.sin(x), x), format="sparse", x=np.zeros(4))
>>> J.shape, J.nnz, float(J.todense().trace())
((4, 4), 4, 4.0)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..config import config
from ..errors import MemoryLimitError, OptionError
from .contraction import Contraction, plan_contraction
from .compiled import compile_outputs
from ..ir.expr import Add, Contract, Expr, Materialize, Reshape
from ..ir.layout import Layout
from ..ir.simplify import contract
from ..ir.variables import topological

# A structured operand of a product is distributed when its terms store at most this
# fraction of its entries: above it, merging the terms' entries costs more than the dense
# operand they replace.
_SPARSE_ENOUGH = 0.5
# Distributing a product over several structured sums multiplies their term counts.
_MAX_TERMS = 64


def _require_sparse():
    """The optional ``sparse`` package, or an error that says how to install it."""
    try:
        import scipy.sparse  # noqa: F401 - csr output, and pydata sparse's own dependency
        import sparse
    except ImportError as err:
        raise OptionError(
            f'format="sparse" needs the optional packages sparse and scipy ({err}); '
            f'install them with: pip install "einsdiff[sparse]"'
        ) from err
    return sparse


def _index_dtype(shape: tuple[int, ...]) -> np.dtype:
    """The smallest integer type that holds every coordinate: coordinates dominate memory."""
    return np.dtype(np.int32 if max(shape, default=0) <= np.iinfo(np.int32).max else np.intp)


@dataclass(frozen=True, slots=True)
class Grid:
    """Entries that fill the grid of ``sizes`` in row-major order; output axis p holds
    grid axis ``position[p]`` (an axis named twice is a diagonal)."""

    sizes: tuple[int, ...]
    position: tuple[int, ...]

    @classmethod
    def of(cls, layout: Layout) -> Grid:
        """The grid of a contraction's distinct output indices, placed as its layout places them."""
        return cls(layout.distinct_shape, layout.diagonal or tuple(range(len(layout.distinct))))

    def coords(self, dtype) -> np.ndarray:
        """Row p: the output coordinate p of each entry, in grid order (sorted, distinct)."""
        out = np.empty((len(self.position), math.prod(self.sizes)), dtype=dtype)
        for p, d in enumerate(self.position):
            along = [1] * len(self.sizes)
            along[d] = -1
            out[p].reshape(self.sizes)[...] = np.arange(self.sizes[d], dtype=dtype).reshape(along)
        return out


@dataclass(frozen=True, slots=True)
class Entries:
    """A tensor's stored entries: ``data[n]`` sits at the n-th coordinate of ``where``,
    a :class:`Grid` or explicit coordinates (one row per axis). ``canonical``: sorted
    row-major with no duplicates."""

    shape: tuple[int, ...]
    data: np.ndarray
    where: Grid | np.ndarray
    canonical: bool = True

    @classmethod
    def dense(cls, value: np.ndarray, scale: float = 1.0) -> Entries:
        data = np.ravel(value)
        return cls(value.shape, data * scale if scale != 1 else data, Grid(value.shape, tuple(range(value.ndim))))

    def coords(self) -> np.ndarray:
        if isinstance(self.where, Grid):
            return self.where.coords(_index_dtype(self.shape))
        return self.where


def _stored_bounds(root: Expr) -> dict[Expr, int]:
    """For each node, an upper bound on the entries its sparse form stores.

    A contraction stores at most its grid of distinct output indices, and at most a
    structured operand's entries times the output indices that operand does not carry.
    """
    bound: dict[Expr, int] = {}
    for node in topological([root]):
        if isinstance(node, Contract):
            distinct = tuple(dict.fromkeys(node.output))
            best = math.prod(node.sizes[i] for i in distinct)
            for op, idx in zip(node.operands, node.inputs, strict=True):
                if bound[op] < op.size:
                    best = min(best, bound[op] * math.prod(node.sizes[i] for i in distinct if i not in idx))
            bound[node] = best
        elif isinstance(node, Add):
            bound[node] = min(node.size, sum(bound[t] for t in node.terms))
        elif isinstance(node, Reshape | Materialize):
            bound[node] = bound[node.arg]
        else:
            bound[node] = node.size
    return bound


@dataclass(frozen=True, slots=True)
class Term:
    """One term of an expression expanded into a sum: ``coefficient * node``."""

    node: Expr
    coefficient: float


Terms = tuple[Term, ...]


class SparsePlan:
    """``expr`` as a sum of terms, planned once: each term is a contraction (its entries
    fill the grid of its distinct output indices), a reshape of such a sum, or a node
    evaluated densely. Calling it with bindings returns a ``sparse.COO``.

    >>> import einsdiff as ed, numpy as np
    >>> A, W = ed.var("A", (3, 2)), ed.var("W", (2, 4))
    >>> plan = SparsePlan(ed.jacobian(A @ W, W))
    >>> plan({"A": np.ones((3, 2)), "W": np.ones((2, 4))}).nnz  # δ over the 4 columns: 3 * 4 * 2
    24
    """

    def __init__(self, expr: Expr):
        self.expr = expr
        self._bound = _stored_bounds(expr)
        self._terms: dict[Expr, Terms] = {}
        self._plans: dict[Contract, Contraction] = {}
        leaves: dict[Expr, None] = {}  # evaluated densely, all in one compiled call
        for term in self._expand(expr):
            self._collect(term.node, leaves)
        self._leaves = tuple(leaves)
        self._compiled = compile_outputs(list(self._leaves)) if self._leaves else None
        self.stored = self._count(self._expand(expr))  # entries before duplicates are summed

    # -- planning ---------------------------------------------------------------------------
    def _structured(self, node: Expr) -> bool:
        if node not in self._bound:  # a node made by distributing
            self._bound.update(_stored_bounds(node))
        return self._bound[node] <= _SPARSE_ENOUGH * node.size and isinstance(node, Add | Contract | Materialize)

    def _expand(self, node: Expr) -> Terms:
        """``node`` as sum_t c_t term_t, with products distributed over structured sums."""
        if node in self._terms:
            return self._terms[node]
        if isinstance(node, Add):
            terms = tuple(Term(t.node, c * t.coefficient) for term, c in zip(node.terms, node.coeffs, strict=True)
                          for t in self._expand(term))
        elif isinstance(node, Materialize):
            terms = self._expand(node.arg)
        elif isinstance(node, Contract):
            terms = self._distribute(node)
        else:
            terms = (Term(node, 1.0),)
        self._terms[node] = terms
        return terms

    def _distribute(self, node: Contract) -> Terms:
        """prod_k (sum_t c_kt T_kt) = sum over choices of prod_k c_kt T_kt: each choice is one
        network, where a delta inside T_kt becomes the product's own."""
        structured = [self._structured(op) for op in node.operands]
        choices = [self._expand(op) if s else (Term(op, 1.0),)
                   for op, s in zip(node.operands, structured, strict=True)]
        if not any(structured) or math.prod(len(c) for c in choices) > _MAX_TERMS:
            return (Term(node, 1.0),)
        terms = []
        for choice in itertools.product(*choices):
            product = contract([t.node for t in choice], node.inputs, node.output, dict(enumerate(node.sizes)))
            scale = math.prod(t.coefficient for t in choice)
            expanded = (Term(product, 1.0),) if product == node else self._expand(product)
            terms.extend(Term(t.node, scale * t.coefficient) for t in expanded)
        return tuple(terms)

    def _collect(self, node: Expr, leaves: dict) -> None:
        """Record the nodes a term evaluates densely."""
        if isinstance(node, Contract):
            self._plans.setdefault(node, plan_contraction(node))
            leaves.update(dict.fromkeys(node.operands))
        elif isinstance(node, Reshape):
            for t in self._expand(node.arg):
                self._collect(t.node, leaves)
        else:
            leaves[node] = None

    def _count(self, terms: Terms) -> int:
        total = 0
        for node in (t.node for t in terms):
            if isinstance(node, Contract):
                total += math.prod(self._plans[node].layout.distinct_shape)
            elif isinstance(node, Reshape):
                total += self._count(self._expand(node.arg))
            else:
                total += node.size
        return total

    # -- evaluation -------------------------------------------------------------------------
    def __call__(self, bindings: dict, /):
        sparse = _require_sparse()
        floats = [b.dtype for b in bindings.values() if isinstance(b, np.ndarray) and b.dtype.kind == "f"]
        self._check_memory(np.result_type(*floats) if floats else np.dtype(np.float64))
        values = dict(zip(self._leaves, self._compiled(bindings), strict=True)) if self._compiled else {}
        if values:
            floats = [v.dtype for v in values.values()]
        dtype = np.result_type(*floats) if floats else np.dtype(np.float64)
        entries = self._sum(self._expand(self.expr), self.expr.shape, values, dtype)
        entries = _canonical(entries)
        return sparse.COO(entries.coords(), entries.data, entries.shape, has_duplicates=False, sorted=True)

    def _check_memory(self, dtype: np.dtype) -> None:
        """Refuse, before allocating, entries whose values and coordinates exceed the limit."""
        shape = self.expr.shape
        nbytes = self.stored * (dtype.itemsize + len(shape) * _index_dtype(shape).itemsize)
        if nbytes > config.max_dense_bytes:
            raise MemoryLimitError(
                f"the sparse result of shape {shape} stores {self.stored:,} entries, {nbytes:,} bytes of "
                f"values and coordinates, above ed.config.max_dense_bytes = {config.max_dense_bytes:,}; "
                f"its delta pattern leaves that many entries. "
                f"Instead: ed.jvp, ed.vjp and ed.hvp give its product with a vector, ed.jacobian_diagonal "
                f"and ed.hessian_diagonal its diagonal; or raise ed.config.max_dense_bytes if the memory is there"
            )

    def _sum(self, terms: Terms, shape, values: dict, dtype) -> Entries:
        """Entries of sum_t c_t term_t: terms on one grid add their data; others are
        concatenated (duplicates are summed when the result is built)."""
        on_grid: dict[Grid, np.ndarray] = {}
        loose: list[Entries] = []
        for term in terms:
            e = self._entries(term.node, term.coefficient, values, dtype)
            if isinstance(e.where, Grid):
                on_grid[e.where] = on_grid[e.where] + e.data if e.where in on_grid else e.data
            else:
                loose.append(e)
        parts = [Entries(shape, data, grid) for grid, data in on_grid.items()] + loose
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return Entries(shape, np.zeros(0, dtype), np.zeros((len(shape), 0), _index_dtype(shape)))
        return Entries(
            shape,
            np.concatenate([p.data for p in parts]),
            np.concatenate([p.coords() for p in parts], axis=1),
            canonical=False,
        )

    def _entries(self, node: Expr, scale: float, values: dict, dtype) -> Entries:
        if isinstance(node, Contract):
            plan = self._plans[node]
            spread = plan.spread([values[op] for op in node.operands], dtype, scale)
            return Entries(node.shape, np.ravel(spread), Grid.of(plan.layout))
        if isinstance(node, Reshape):
            return _reshape(self._sum(self._expand(node.arg), node.arg.shape, values, dtype), node.shape, scale)
        return Entries.dense(values[node], scale)


def _canonical(e: Entries) -> Entries:
    """Sorted row-major with duplicates summed (in numpy: pydata's own pass compiles with
    numba on first use, a second of latency)."""
    if e.canonical:
        return e
    coords = e.where
    # The last key is the primary one; a 0-d tensor has no keys, and every entry sits at ().
    order = np.lexsort(coords[::-1]) if len(coords) else np.arange(e.data.size)
    coords, data = coords[:, order], e.data[order]
    first = np.ones(data.size, dtype=bool)
    first[1:] = np.any(coords[:, 1:] != coords[:, :-1], axis=0)
    starts = np.flatnonzero(first)
    return Entries(e.shape, np.add.reduceat(data, starts) if data.size else data, coords[:, starts])


def _reshape(e: Entries, shape: tuple[int, ...], scale: float) -> Entries:
    """The same entries under a row-major reshape (row-major order, hence sortedness, is kept)."""
    flat = np.ravel_multi_index(tuple(e.coords()), e.shape) if e.shape else np.zeros(e.data.size, np.intp)
    coords = np.empty((len(shape), flat.size), dtype=_index_dtype(shape))
    for p, row in enumerate(np.unravel_index(flat, shape) if shape else ()):
        coords[p] = row
    return Entries(shape, e.data * scale if scale != 1 else e.data, coords, e.canonical)


def evaluate_sparse(expr: Expr, /, **bindings):
    """The value of ``expr`` as a ``sparse.COO`` whose stored entries follow its delta pattern."""
    return SparsePlan(expr)(bindings)


def to_csr(matrix):
    """A 2-D ``sparse.COO`` (canonical: sorted, no duplicates) as a ``scipy.sparse.csr_matrix``,
    in one pass: row counts give the row pointers."""
    import scipy.sparse

    rows, cols = matrix.coords
    indptr = np.zeros(matrix.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=matrix.shape[0]), out=indptr[1:])
    return scipy.sparse.csr_matrix((matrix.data, cols, indptr), shape=matrix.shape)
