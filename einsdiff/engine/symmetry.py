"""Networks that are symmetric under swapping two blocks of their output, evaluated one
triangle at a time.

A Hessian's networks mostly read ``Σ_s L[s,I] w[s] L[s,J]``: two mirror images joined by
weights on the indices they share (Xᵀ diag(σ'(Xw)) X for a logistic loss, the Gram
matrix of a layer for a tanh network). The mirror is found on the network itself: an
involution of the operands that maps every operand to an equal one and the index names
consistently, moving each output index to another output index. Then the core is
``Yᵀ Y`` with ``Y = sqrt(w) L``, which numpy's matmul hands to BLAS syrk: one triangle is
computed and mirrored, so it costs half a GEMM and comes out exactly symmetric.

A sum's symmetry may instead pair two terms, ``AᵀB + BᵀA``: :func:`transposed_twins` finds
the terms that are another term with two blocks of axes swapped, so that one is computed
and the other read as its transpose.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..ir.expr import Contract, Expr
from .paths import PathPlan, plan_path
from ..ir.simplify import contract

_SEARCH_BUDGET = 10_000  # backtracking steps; networks with many equal operands give up


@dataclass(frozen=True, slots=True)
class Gram:
    """``core[I,J] = Σ_s L[s,I] w[s] L[s,J]``, axes put back into the core's order."""

    left: tuple[int, ...]  # operand positions of L
    middle: tuple[int, ...]  # operand positions of w (the operands the mirror fixes)
    left_plan: PathPlan  # L's operands (and sqrt|w|) -> Y[S..., I...]
    middle_plan: PathPlan | None  # w's operands -> w over the S indices it has (None: no weights)
    shared_shape: tuple[int, ...]  # sizes of S
    weight_shape: tuple[int, ...]  # w's shape with 1 where an S index is absent from it
    block_shape: tuple[int, ...]  # sizes of I (and of J)
    axes: tuple[int, ...]  # transpose of the (I..., J...) result into the core's order
    flops: int
    largest_intermediate: int

    def __call__(self, *args: np.ndarray, scale: float = 1.0) -> np.ndarray:
        rows, cols = math.prod(self.shared_shape), math.prod(self.block_shape)
        operands = [args[p] for p in self.left]
        if self.middle_plan is None:  # no weights: scale the (smaller) result
            y = np.reshape(self.left_plan.expression(*operands), (rows, cols))
            core = _signed_gram(y, None)
            if scale != 1:
                core *= scale
        else:
            w = self.middle_plan.expression(*(args[p] for p in self.middle)) * scale
            # sqrt|w| joins L's own contraction: one pass over the rows, not two.
            y = np.reshape(self.left_plan.expression(*operands, np.sqrt(np.abs(w))), (rows, cols))
            core = _signed_gram(y, np.broadcast_to(np.reshape(w, self.weight_shape), self.shared_shape).reshape(rows))
        return core.reshape(self.block_shape * 2).transpose(self.axes)


def _signed_gram(y: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Σ_s sign(w[s]) y[s,I] y[s,J] through syrk, rows of positive and negative weight apart
    (a nan weight counts as negative: its rows stay in, and the nan with them)."""
    if weights is None:
        y = np.ascontiguousarray(y)
        return y.T @ y
    positive = weights >= 0
    if positive.all() or not positive.any():
        y = np.ascontiguousarray(y)
        return y.T @ y if positive.all() else -(y.T @ y)
    up, down = y[positive], y[~positive]
    core = up.T @ up
    core -= down.T @ down
    return core


def gram(
    operands: Sequence[Expr], inputs: Sequence[tuple[int, ...]], core: Sequence[int], sizes: Sequence[int]
) -> Gram | None:
    """The Gram form of the network ``core <- Π operands[inputs]``, or None when it has none."""
    mirror = _mirror(operands, inputs, core)
    if mirror is None:
        return None
    pi, sigma = mirror.operands, mirror.indices
    moved = [p for p in range(len(operands)) if pi[p] != p]
    # Operands joined by a moved index belong to the same side of the mirror.
    side = list(range(len(operands)))

    def find(p):
        while side[p] != p:
            side[p] = side[side[p]]
            p = side[p]
        return p

    holders: dict[int, int] = {}
    for p in moved:
        for t in inputs[p]:
            if sigma[t] != t:
                side[find(p)] = find(holders.setdefault(t, p))
    members: dict[int, list[int]] = {}
    for p in moved:
        members.setdefault(find(p), []).append(p)
    left: list[int] = []
    for group in members.values():
        image = find(pi[group[0]])
        if image == find(group[0]):
            return None  # a side is its own mirror image: no Gram split
        if min(group) < min(members[image]):
            left += group
    left.sort()
    middle = [p for p in range(len(operands)) if pi[p] == p]

    in_left = [t for p in left for t in inputs[p]]
    block = [t for t in core if t in in_left]
    shared = list(dict.fromkeys(t for t in in_left if sigma[t] == t))
    in_middle = {t for p in middle for t in inputs[p]}
    weight = [t for t in shared if t in in_middle]
    middle_plan, flops, largest = None, 0, 0
    left_inputs, left_shapes = [inputs[p] for p in left], [operands[p].shape for p in left]
    if middle:
        middle_plan = plan_path([inputs[p] for p in middle], weight, [operands[p].shape for p in middle])
        flops, largest = middle_plan.flops, middle_plan.largest_intermediate
        left_inputs.append(tuple(weight))
        left_shapes.append(tuple(sizes[t] for t in weight))
    left_plan = plan_path(left_inputs, shared + block, left_shapes)
    rows, cols = math.prod(sizes[t] for t in shared), math.prod(sizes[t] for t in block)
    flops += left_plan.flops + rows * cols * (cols + 1)  # syrk: half of the multiply-adds
    largest = max(largest, left_plan.largest_intermediate)
    order = block + [sigma[t] for t in block]
    return Gram(
        left=tuple(left),
        middle=tuple(middle),
        left_plan=left_plan,
        middle_plan=middle_plan,
        shared_shape=tuple(sizes[t] for t in shared),
        weight_shape=tuple(sizes[t] if t in weight else 1 for t in shared),
        block_shape=tuple(sizes[t] for t in block),
        axes=tuple(order.index(t) for t in core),
        flops=flops,
        largest_intermediate=max(largest, rows * cols, cols * cols),
    )


@dataclass(frozen=True, slots=True)
class _Mirror:
    """An involution of a network: the operand at position p maps to the one at ``operands[p]``,
    index t to ``indices[t]``."""

    operands: tuple[int, ...]
    indices: dict[int, int]


def _mirror(operands, inputs, core) -> _Mirror | None:
    """An involution ``pi`` of the operand positions and ``sigma`` of the indices with
    ``operands[pi[p]] == operands[p]`` and ``sigma(inputs[p]) == inputs[pi[p]]`` that moves
    every core index to another core index; None when there is none."""
    n, core_set = len(operands), set(core)
    if len(core) < 2 or len(core) % 2:
        return None
    pi: list[int | None] = [None] * n
    budget = [_SEARCH_BUDGET]

    def extend(sigma, a, b):
        new = dict(sigma)
        for t, u in zip(a, b, strict=True):
            for x, y in ((t, u), (u, t)):
                if new.setdefault(x, y) != y:
                    return None
                if x in core_set and (y == x or y not in core_set):
                    return None
        return new

    def search(p, sigma):
        budget[0] -= 1
        if budget[0] < 0:
            return None
        while p < n and pi[p] is not None:
            p += 1
        if p == n:
            return sigma
        for q in [*range(p + 1, n), p]:  # pairing first: a fixed operand fixes its indices
            if pi[q] is not None or operands[q] != operands[p]:
                continue
            grown = extend(sigma, inputs[p], inputs[q])
            if grown is None:
                continue
            pi[p], pi[q] = q, p
            found = search(p + 1, grown)
            if found is not None:
                return found
            pi[p] = pi[q] = None
        return None

    sigma = search(0, {})
    return None if sigma is None else _Mirror(tuple(pi), sigma)


@dataclass(frozen=True, slots=True)
class Twin:
    """A term that is ``terms[source].transpose(axes)``."""

    source: int
    axes: tuple[int, ...]


def transposed_twins(terms: Sequence[Expr], shape: tuple[int, ...]) -> dict[int, Twin]:
    """Terms equal to an earlier term with two equal-shaped blocks of axes swapped, by position:
    ``terms[position] == terms[twin.source].transpose(twin.axes)``."""
    swaps = _block_swaps(shape)
    groups: dict[tuple[int, ...], list[int]] = {}
    for k, t in enumerate(terms):
        if swaps and isinstance(t, Contract):  # a twin has the same operands
            groups.setdefault(tuple(sorted(op._hash for op in t.operands)), []).append(k)
    found: dict[int, Twin] = {}
    for members in groups.values():
        for a in members[:-1]:
            if a in found:
                continue
            labels = tuple(range(len(shape)))
            for axes in swaps:
                image = contract([terms[a]], [labels], [labels[i] for i in axes], dict(zip(labels, shape)))
                for b in members:
                    if b > a and b not in found and terms[b] == image:
                        found[b] = Twin(a, axes)
    return found


def _block_swaps(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The transpositions of two adjacent blocks of axes with equal shapes."""
    swaps = []
    for width in range(1, len(shape) // 2 + 1):
        for start in range(len(shape) - 2 * width + 1):
            first, second = range(start, start + width), range(start + width, start + 2 * width)
            if [shape[i] for i in first] == [shape[i] for i in second]:
                axes = list(range(len(shape)))
                axes[start : start + 2 * width] = [*second, *first]
                swaps.append(tuple(axes))
    return swaps
