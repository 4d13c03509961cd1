"""What a contraction sums, places on a diagonal and broadcasts, computed once per node.

A :class:`~einsdiff.ir.expr.Contract` is computed as its *core*, the contraction of its
operands onto the output indices some operand carries, and then *placed*: broadcast over
the output indices no operand carries and written onto a diagonal where an output index
repeats. :func:`layout` gives that as a record, read alike by the evaluator, the array
backends, the sparse evaluator, the code generator and the printers (who read the
operands in :attr:`Layout.order`).

>>> from einsdiff.ir.expr import Contract, Var
>>> x = Var("x", (3,))
>>> lay = layout(Contract((x,), ((0,),), (0, 0, 1), (3, 2, 4)))  # x[i] δ[i,i'] broadcast over j, Σ_k: 4 x
>>> lay.distinct, lay.core, lay.absent, lay.factor, lay.diagonal
((0, 1), (0,), (1,), 4, (0, 0, 1))
>>> lay.place(np.array([1.0, 2.0, 3.0])).shape
(3, 3, 2)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .expr import Contract


@dataclass(frozen=True, slots=True)
class Layout:
    """A contraction's result from its core: indices are the node's index numbers."""

    output: tuple[int, ...]  # the node's output, an index repeating where it has a delta
    sizes: tuple[int, ...]  # size of every index of the network
    distinct: tuple[int, ...]  # output indices, each once, in order of first appearance
    core: tuple[int, ...]  # the distinct output indices some operand carries: the core's axes
    absent: tuple[int, ...]  # the distinct output indices no operand carries: broadcast
    summed: tuple[int, ...]  # indices some operand carries that the output does not, ascending
    factor: int  # product of the sizes of summed indices no operand carries
    order: tuple[int, ...]  # operand positions as read: operands carrying earlier output indices first

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.sizes[i] for i in self.output)

    @property
    def distinct_shape(self) -> tuple[int, ...]:
        return tuple(self.sizes[i] for i in self.distinct)

    @property
    def core_axes(self) -> tuple[int, ...]:
        """Where the core's axes go among the distinct indices."""
        return tuple(self.distinct.index(i) for i in self.core)

    @property
    def repeats(self) -> bool:
        """Whether an output index repeats: the result lies on a diagonal."""
        return len(self.distinct) != len(self.output)

    @property
    def diagonal(self) -> tuple[int, ...] | None:
        """The distinct index (its position) at each output position; None when none repeats."""
        return tuple(self.distinct.index(i) for i in self.output) if self.repeats else None

    def broadcast(self, core: np.ndarray) -> np.ndarray:
        """``core`` over the distinct indices: a read-only broadcast view where some are absent."""
        expanded = [1] * len(self.distinct)
        for axis, n in zip(self.core_axes, np.shape(core), strict=True):
            expanded[axis] = n
        if tuple(expanded) == self.distinct_shape:
            return np.reshape(core, expanded)  # nothing to broadcast: keep it writable
        return np.broadcast_to(np.reshape(core, expanded), self.distinct_shape)

    def diagonal_view(self, out: np.ndarray) -> np.ndarray:
        """The writable view of ``out`` (of the full shape) that holds the distinct indices."""
        strides = [0] * len(self.distinct)
        for position, index in enumerate(self.diagonal or range(len(self.distinct))):
            strides[index] += out.strides[position]
        return np.lib.stride_tricks.as_strided(out, self.distinct_shape, strides)

    def onto_diagonal(self, spread: np.ndarray) -> np.ndarray:
        """The full result from its values over the distinct indices: written onto the
        diagonal of a zeroed array where an index repeats, else ``spread`` itself."""
        if not self.repeats:
            return spread
        out = np.zeros(self.shape, dtype=spread.dtype)
        self.diagonal_view(out)[...] = spread
        return out

    def place(self, core: np.ndarray) -> np.ndarray:
        """The full result from ``core``: broadcast, and onto a diagonal where an index repeats."""
        return self.onto_diagonal(self.broadcast(core))


def layout(node: Contract) -> Layout:
    """The layout of ``node``: it depends only on the indices, so it is cached by them (a
    cache keyed by nodes would keep whole graphs alive and compare them)."""
    return _layout(node.inputs, node.output, node.sizes)


@functools.lru_cache(maxsize=4096)
def _layout(inputs: tuple[tuple[int, ...], ...], output: tuple[int, ...], sizes: tuple[int, ...]) -> Layout:
    carried = {i for idx in inputs for i in idx}
    distinct = tuple(dict.fromkeys(output))
    first_place = {i: p for p, i in reversed(list(enumerate(output)))}
    never = len(output)
    order = sorted(range(len(inputs)),
                   key=lambda k: min((first_place.get(i, never) for i in inputs[k]), default=never))
    return Layout(
        output=output,
        sizes=sizes,
        distinct=distinct,
        core=tuple(i for i in distinct if i in carried),
        absent=tuple(i for i in distinct if i not in carried),
        summed=tuple(sorted(carried - set(output))),
        factor=math.prod(n for i, n in enumerate(sizes) if i not in carried and i not in output),
        order=tuple(order),
    )
