"""One contraction as compiled: its :class:`~einsdiff.ir.layout.Layout` and the order its core runs in.

The core (the contraction onto the output indices some operand carries) runs as one
opt_einsum expression in the order :mod:`einsdiff.engine.paths` chose, or, for a
mirror-symmetric network on numpy, in its Gram form (:mod:`einsdiff.engine.symmetry`);
the layout then places it. Evaluation, generated code and the sparse evaluator all read
this one record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.expr import Contract
from ..ir.layout import Layout, layout
from .paths import PathPlan, equation_of, plan_path
from .symmetry import Gram, gram

# Below this many flops a GEMM is as fast as syrk and the Gram form's extra calls show.
_GRAM_MIN_FLOPS = 2**22


@dataclass(frozen=True, slots=True)
class Contraction:
    """How ``node`` runs: its core by ``path`` (or by ``gram`` where set), placed by ``layout``.

    >>> from einsdiff.ir.expr import Contract, Var
    >>> A, x = Var("A", (2, 3)), Var("x", (3,))
    >>> c = plan_contraction(Contract((A, x), ((0, 1), (1,)), (0,), (2, 3)))
    >>> c.equation, c.flops, c.form
    ('ab,b->a', 12, 'einsum')
    """

    node: Contract
    layout: Layout
    path: PathPlan | None  # None: no operands, the core is the scalar 1
    gram: Gram | None = None  # the core's Gram form (Yᵀ Y through syrk), when it runs in it

    @property
    def equation(self) -> str:
        """The core's opt_einsum equation, operands in the node's order."""
        return equation_of(self.node.inputs, self.layout.core)

    @property
    def form(self) -> str:
        """How the core runs: "einsum", "gram" (one triangle), or "none" (no operands)."""
        return "gram" if self.gram is not None else "einsum" if self.path is not None else "none"

    @property
    def flops(self) -> int:
        return self.gram.flops if self.gram is not None else self.path.flops if self.path is not None else 0

    @property
    def largest_intermediate(self) -> int:
        """Elements of the largest intermediate the core's contraction creates."""
        if self.gram is not None:
            return self.gram.largest_intermediate
        return self.path.largest_intermediate if self.path is not None else 0

    def spread(self, args: list[np.ndarray], dtype, scale: float = 1.0) -> np.ndarray:
        """``scale`` times the result over the distinct output indices (a broadcast view where indices are absent)."""
        c = self.layout.factor * scale
        if c != 1 and args and self.gram is None:
            # Scale the smallest operand when it is smaller than the core: an outer product's
            # core is far larger than its operands.
            k = min(range(len(args)), key=lambda a: args[a].size)
            if args[k].size < int(np.prod(self.layout.distinct_shape, dtype=np.int64)):
                args = list(args)
                args[k], c = args[k] * c, 1
        if self.path is None:
            core = np.ones((), dtype=dtype)
        elif self.gram is not None:  # both halves read the same operands: scale the weights
            core, c = self.gram(*args, scale=c), 1
        else:
            core = self.path.expression(*args)
        if c != 1:
            core = core * c
        return self.layout.broadcast(core)

    def run(self, args: list[np.ndarray], dtype, scale: float = 1.0) -> np.ndarray:
        """``scale`` times the full result."""
        return self.layout.onto_diagonal(self.spread(args, dtype, scale))


def plan_contraction(node: Contract, symmetric: bool = True) -> Contraction:
    """The :class:`Contraction` of ``node``; ``symmetric`` lets a mirror-symmetric network
    run in its Gram form (numpy only: it relies on numpy's matmul choosing syrk for ``Yᵀ Y``)."""
    lay = layout(node)
    if not node.operands:
        return Contraction(node, lay, None)
    path = plan_path(node.inputs, lay.core, [op.shape for op in node.operands])
    mirrored = gram(node.operands, node.inputs, lay.core, node.sizes) if symmetric else None
    if mirrored is not None and mirrored.flops < path.flops and path.flops >= _GRAM_MIN_FLOPS:
        return Contraction(node, lay, path, mirrored)
    return Contraction(node, lay, path)
