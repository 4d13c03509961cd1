"""The compiled program: the steps ``ed.compile`` runs and ``ed.to_numpy_code`` prints.

:func:`compile_program` applies the passes (:mod:`einsdiff.engine.passes`), orders the
nodes, and plans each step once: a contraction's layout and order (and its Gram form),
a sum's terms (a term with a delta is added straight into the sum's diagonal; a term that
is another's transpose is read as that transpose). :class:`Plan` summarizes the costs.

>>> import einsdiff as ed
>>> A, x = ed.var("A", (30, 20)), ed.var("x", (20,))
>>> program = compile_program([A @ x])
>>> [type(s.node).__name__ for s in program.steps]
['Var', 'Var', 'Contract']
>>> print(program.plan)
ab,b->a: 1,200 flops, largest intermediate 30 elements -> shape (30,)
total: 1,200 flops in 1 contraction(s)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..ir.expr import Add, Const, Contract, Expr, Materialize, Reshape, Var
from ..ir.layout import Layout
from ..ir.variables import children, topological
from .contraction import Contraction, plan_contraction
from .passes import check_passes, run_passes
from .symmetry import transposed_twins


@dataclass(frozen=True, slots=True)
class PlacedTerm:
    """A term of a sum added straight into the sum's diagonal (its operands are the step's inputs)."""

    contraction: Contraction
    coefficient: float


@dataclass(frozen=True, slots=True)
class TwinTerm:
    """A term of a sum read as the transpose of a dense term computed anyway."""

    source: int  # position among the dense terms
    axes: tuple[int, ...]
    coefficient: float


@dataclass(frozen=True, slots=True)
class WeightedSum:
    """A weighted sum: the dense terms' arrays are the step's first inputs, then the operands
    of each placed term in turn."""

    shape: tuple[int, ...]
    dense: tuple[float, ...]  # coefficients of the terms evaluated as arrays
    placed: tuple[PlacedTerm, ...] = ()
    twins: tuple[TwinTerm, ...] = ()
    constant: float = 0.0  # added to every entry: the terms that are a number broadcast (the 1 of 1 − tanh²)

    def run(self, args: list[np.ndarray], dtype) -> np.ndarray:
        dense, rest = args[: len(self.dense)], args[len(self.dense):]
        if not dense and len(self.placed) == 1 and not self.constant:
            term = self.placed[0]
            return term.contraction.run(rest, dtype, term.coefficient)
        coeffs = self.dense + tuple(t.coefficient for t in self.twins)
        dense += [dense[t.source].transpose(t.axes) for t in self.twins]
        # An empty sum (a zero, e.g. the Jacobian of a constant) follows the precision of the inputs.
        out = _combine(dense, coeffs, self.shape, dtype if self.placed or not dense else None, self.constant)
        for term in self.placed:
            n = len(term.contraction.node.operands)
            operands, rest = rest[:n], rest[n:]
            term.contraction.layout.diagonal_view(out)[...] += term.contraction.spread(operands, dtype, term.coefficient)
        return out


def _combine(arrays: list[np.ndarray], coeffs: tuple[float, ...], shape, dtype, constant: float = 0.0) -> np.ndarray:
    """A fresh array holding constant + sum_k coeffs[k] arrays[k] (``constant`` in ``dtype``
    when there are no arrays)."""
    if not arrays:
        return np.full(shape, constant, dtype=dtype)
    if constant:
        if len(arrays) == 1 and abs(coeffs[0]) == 1:  # 1 - t, t + 1: one pass
            a = arrays[0]
            target = np.result_type(a.dtype, *([dtype] if dtype is not None else []))  # dtypes: no value-based casting
            return np.asarray(np.subtract(constant, a, dtype=target) if coeffs[0] == -1 else np.add(a, constant, dtype=target))
        out = _combine(arrays, coeffs, shape, dtype)
        out += constant
        return out
    common = abs(coeffs[0])
    if len(arrays) > 1 and common != 1 and all(abs(c) == common for c in coeffs):
        out = _combine(arrays, tuple(c / common for c in coeffs), shape, dtype)  # c (a - b): one scaling
        out *= common
        return out
    target = np.result_type(*arrays, *([dtype] if dtype is not None else []))
    (a, ca), rest = (arrays[0], coeffs[0]), list(zip(arrays[1:], coeffs[1:], strict=True))
    if rest and ca == 1 and abs(rest[0][1]) == 1:  # the common a + b, a - b: one pass
        b, cb = rest.pop(0)
        out = np.add(a, b, dtype=target) if cb == 1 else np.subtract(a, b, dtype=target)
    else:
        out = np.multiply(a, ca, dtype=target)
    out = np.asarray(out)  # ufuncs return scalars for 0-d inputs
    for b, cb in rest:
        if cb == 1:
            np.add(out, b, out=out)
        elif cb == -1:
            np.subtract(out, b, out=out)
        else:
            out += np.multiply(b, cb, dtype=target)
    return out


@dataclass(frozen=True, slots=True)
class Step:
    """One node's computation: the nodes it reads and, for a contraction or a sum, its plan."""

    node: Expr
    inputs: tuple[Expr, ...]
    plan: Contraction | WeightedSum | None = None

    @property
    def contractions(self) -> tuple[Contraction, ...]:
        """The contractions this step runs (a sum's placed terms are contracted inside it)."""
        if isinstance(self.plan, Contraction):
            return (self.plan,)
        if isinstance(self.plan, WeightedSum):
            return tuple(t.contraction for t in self.plan.placed)
        return ()

    @property
    def layout(self) -> Layout | None:
        """A contraction's layout (None for other steps; a sum's placed terms carry their own)."""
        return self.plan.layout if isinstance(self.plan, Contraction) else None

    @property
    def flops(self) -> int:
        """opt_einsum's count for the step's contractions (elementwise work is not counted)."""
        return sum(c.flops for c in self.contractions)

    @property
    def intermediate(self) -> int:
        """Elements of the largest intermediate of its contractions."""
        return max((c.largest_intermediate for c in self.contractions), default=0)

    @property
    def dense_elements(self) -> int:
        """The most elements the step allocates at once (inputs and views allocate nothing)."""
        own = 0 if isinstance(self.node, Var | Const | Reshape | Materialize) else self.node.size
        return max(own, self.intermediate)


def placed_in_sum(term: Expr, add: Add) -> bool:
    """Whether a term is contracted inside the sum (a delta, or the sum is just a scaled contraction)."""
    return isinstance(term, Contract) and (len(set(term.output)) < len(term.output) or len(add.terms) == 1)


def _is_one_broadcast(term: Expr) -> bool:
    """Whether ``term`` is 1 everywhere: a product of no operands with no index summed or repeated."""
    return (isinstance(term, Contract) and not term.operands and len(set(term.output)) == len(term.output)
            and len(term.output) == len(term.sizes))


def plan_step(node: Expr, numpy: bool = True, passes: tuple[str, ...] = ()) -> Step:
    """The step computing ``node`` (its inputs computed already), planned for numpy or another
    library, with the planning passes among ``passes``."""
    if isinstance(node, Contract):
        return Step(node, node.operands, plan_contraction(node, symmetric=numpy and "gram" in passes))
    if isinstance(node, Add) and not numpy:  # no writable views elsewhere: plain sums
        return Step(node, node.terms, WeightedSum(node.shape, node.coeffs))
    if isinstance(node, Add):
        pairs = list(zip(node.terms, node.coeffs, strict=True))
        constant = sum(c for t, c in pairs if _is_one_broadcast(t))
        pairs = [(t, c) for t, c in pairs if not _is_one_broadcast(t)]
        dense = [(t, c) for t, c in pairs if not placed_in_sum(t, node)]
        placed = [(t, c) for t, c in pairs if placed_in_sum(t, node)]
        # AᵀB + BᵀA: compute AᵀB once.
        twins = transposed_twins([t for t, _ in dense], node.shape) if "twins" in passes else {}
        kept = [k for k in range(len(dense)) if k not in twins]
        plan = WeightedSum(
            node.shape,
            tuple(dense[k][1] for k in kept),
            tuple(PlacedTerm(plan_contraction(t, symmetric="gram" in passes), c) for t, c in placed),
            tuple(TwinTerm(kept.index(twin.source), twin.axes, dense[k][1]) for k, twin in twins.items()),
            float(constant),
        )
        inputs = tuple(dense[k][0] for k in kept) + tuple(op for t, _ in placed for op in t.operands)
        return Step(node, inputs, plan)
    return Step(node, children(node))


@dataclass(frozen=True, slots=True)
class Plan:
    """The costs of a compiled program; prints one line per contraction and the total,
    like opt_einsum's PathInfo."""

    contractions: tuple[Contraction, ...]  # those with operands, in the order they run
    total_flops: int
    largest_intermediate: int  # elements, over all contractions
    peak_elements: int  # the largest dense array a call creates (a result or an intermediate)

    def __str__(self) -> str:
        lines = []
        for c in self.contractions:
            form = " (symmetric: Gram form, one triangle)" if c.gram is not None else ""
            lines.append(
                f"{c.equation}: {c.flops:,} flops, largest intermediate {c.largest_intermediate:,}"
                f" elements -> shape {c.layout.shape}{form}"
            )
        return "\n".join(lines + [f"total: {self.total_flops:,} flops in {len(lines)} contraction(s)"])


@dataclass(frozen=True, slots=True)
class Program:
    """The steps that compute ``outputs`` (the expressions after the passes), in order."""

    outputs: tuple[Expr, ...]
    steps: tuple[Step, ...]
    passes: tuple[str, ...]
    numpy: bool  # planned for numpy (Gram forms, sums into diagonal views) or for another backend

    @property
    def plan(self) -> Plan:
        contractions = tuple(c for s in self.steps for c in s.contractions if c.path is not None)
        return Plan(
            contractions,
            sum(c.flops for c in contractions),
            max((c.largest_intermediate for c in contractions), default=0),
            max((s.dense_elements for s in self.steps), default=0),
        )


def compile_program(outputs: Iterable[Expr], *, numpy: bool = True, passes: Iterable[str] | None = None) -> Program:
    """The program computing ``outputs``: the passes named (None: all), then one step per node."""
    names = check_passes(passes)
    graph = run_passes(tuple(outputs), names)
    steps: dict[Expr, Step] = {}

    def inputs_of(node: Expr) -> tuple[Expr, ...]:
        if node not in steps:
            steps[node] = plan_step(node, numpy, names)
        return steps[node].inputs

    nodes = topological(graph, inputs_of)
    return Program(graph, tuple(steps[n] for n in nodes), names, numpy)
