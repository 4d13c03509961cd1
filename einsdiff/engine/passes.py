"""The compile-time passes, by name: what ``ed.compile(outputs, passes=...)`` may switch.

A pass either rewrites the graph into one of equal value that costs less (run in the
order of :data:`PASSES`, before planning), or lets the planner choose a cheaper form
for a step. Every pass is on by default; ``passes=()`` compiles the expressions as written.

>>> [p.name for p in PASSES]
['one_sweep', 'reuse_inverses', 'distribute_sums', 'gram', 'twins']

Factoring a common operand out of a sum is not a pass: the constructor of sums does it
(:func:`einsdiff.ir.simplify.add`), so derivatives print factored too.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from ..calculus.derive import shared_sweeps
from ..errors import OptionError
from ..ir.expr import Add, Call, Contract, Expr, bare
from ..ir.simplify import distribute
from ..ir.variables import children, topological
from .contraction import plan_contraction

Outputs = tuple[Expr, ...]


def _rewrite(outputs: Outputs, rewrite: Callable[[Expr], Expr | None]) -> Outputs:
    """``outputs`` rebuilt bottom-up, each node replaced by ``rewrite(node)`` where that is not None."""
    done: dict[Expr, Expr] = {}
    for node in topological(outputs):  # children first
        new = tuple(done[c] for c in children(node))
        if any(a is not b for a, b in zip(new, children(node), strict=True)):
            field = {Contract: "operands", Add: "terms", Call: "args"}.get(type(node))
            node_ = replace(node, **({field: new} if field else {"arg": new[0]}))
        else:
            node_ = node
        replacement = rewrite(node_)
        done[node] = node_ if replacement is None else replacement
    return tuple(done[o] for o in outputs)


def one_sweep(outputs: Outputs, passes: tuple[str, ...] = ()) -> Outputs:
    """Derivatives of one function taken separately (``grad(L, W1)``, ``grad(L, W2)``, hvps)
    share one reverse sweep and the adjoints it materializes, as ``grad(L, (W1, W2))``'s do."""
    return shared_sweeps(outputs)


def reuse_inverses(outputs: Outputs, passes: tuple[str, ...] = ()) -> Outputs:
    """solve(A, B) where inv(A) is computed anyway is inv(A) B: one matrix product instead of
    a second LU factorization of A (the gradient of log det S + tr(S⁻¹ C) needs both); and
solve(Mᵀ, B) is M⁻ᵀ B (the reverse rule of a solve with a Cholesky factor)."""
    nodes = topological(outputs)
    inverted = {n.args[0] for n in nodes if isinstance(n, Call) and n.fn == "inv" and n.ndim == 2}

    def inverse_of(a: Expr) -> tuple[Expr, tuple[int, int]] | None:
        """inv(A) and its indices in A⁻¹ b, also for A = Mᵀ with M inverted (A⁻¹ = M⁻ᵀ: a Cholesky factor's)."""
        if a in inverted:
            return Call("inv", (a,), (), a.shape), (0, 1)
        if (isinstance(a, Contract) and len(a.operands) == 1 and len(set(a.output)) == 2
                and a.inputs[0] == a.output[::-1] and a.operands[0] in inverted):
            m = a.operands[0]
            return Call("inv", (m,), (), m.shape), (1, 0)
        return None

    if not any(isinstance(n, Call) and n.fn == "solve" and inverse_of(n.args[0]) for n in nodes):
        return outputs

    def rewrite(node: Expr) -> Expr | None:
        found = inverse_of(node.args[0]) if isinstance(node, Call) and node.fn == "solve" else None
        if found is None:
            return None
        (inverse, at), (a, b) = found, node.args
        rest = tuple(range(2, b.ndim + 1))
        sizes = (a.shape[0], a.shape[1]) + b.shape[1:]
        return Contract((inverse, b), (at, (1,) + rest), (0,) + rest, sizes)

    return _rewrite(outputs, rewrite)


def distribute_sums(outputs: Outputs, passes: tuple[str, ...] = ("gram",)) -> Outputs:
    """A contraction with a sum as an operand runs as one contraction per term when that
    costs fewer flops, and the sum, a pass over memory, is never made: the Hessian of
    logsumexp(Ax) is (A − 𝟙 pᵀA)ᵀ diag(p) A, whose terms are a Gram form (syrk) and a
    rank-one product. Costs count Gram forms where ``passes`` has "gram"."""
    symmetric = "gram" in passes
    readers = collections.Counter(bare(c) for n in topological(outputs) for c in children(n))

    def rewrite(node: Expr) -> Expr | None:
        if not isinstance(node, Contract):
            return None
        sums = [k for k, op in enumerate(node.operands)
                if isinstance(bare(op), Add) and len(bare(op).terms) > 1 and readers[bare(op)] == 1]
        if not sums:
            return None
        before = plan_contraction(node, symmetric).flops
        for k in sums:
            split = distribute(node, k)
            after = sum(plan_contraction(t, symmetric).flops if isinstance(t, Contract) else t.size
                        for t in split.terms)
            if after < before:  # and the sum's pass over memory is saved too
                return split
        return None

    return _rewrite(outputs, rewrite)


@dataclass(frozen=True, slots=True)
class Pass:
    """A named compile-time pass: a graph rewrite (given the outputs and the names of every
    pass that runs), or (``rewrite`` None) a form the planner may choose."""

    name: str
    rewrite: Callable[[Outputs, tuple[str, ...]], Outputs] | None
    summary: str


PASSES: tuple[Pass, ...] = (
    Pass("one_sweep", one_sweep, "derivatives of one function taken separately from one reverse sweep"),
    Pass("reuse_inverses", reuse_inverses, "solve(A, B) as inv(A) B where inv(A) is computed anyway"),
    Pass("distribute_sums", distribute_sums, "a product with a sum as one product per term, where cheaper"),
    Pass("gram", None, "a mirror-symmetric network as Yᵀ Y, one triangle through syrk (numpy)"),
    Pass("twins", None, "in AᵀB + BᵀA, BᵀA read as the transpose of AᵀB (numpy)"),
)
ALL = tuple(p.name for p in PASSES)


def check_passes(passes: Iterable[str] | None) -> tuple[str, ...]:
    """The pass names to run, in :data:`PASSES` order (None: all of them).

    >>> check_passes(["twins", "gram"])
    ('gram', 'twins')
    """
    if passes is None:
        return ALL
    if isinstance(passes, str) or not isinstance(passes, Iterable):
        raise OptionError(f"passes must be a list of pass names (some of {', '.join(ALL)}), got {passes!r}")
    chosen = list(passes)
    unknown = [p for p in chosen if p not in ALL]
    if unknown:
        raise OptionError(
            f"passes: unknown pass {', '.join(map(repr, unknown))}; the passes are {', '.join(ALL)} "
            f"(passes=() compiles the expressions as written)"
        )
    return tuple(p for p in ALL if p in chosen)


def run_passes(outputs: Outputs, passes: tuple[str, ...]) -> Outputs:
    """``outputs`` after the graph rewrites among ``passes`` (checked names), in order."""
    for p in PASSES:
        if p.rewrite is not None and p.name in passes:
            outputs = p.rewrite(outputs, passes)
    return outputs
