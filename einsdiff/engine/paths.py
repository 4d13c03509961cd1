"""The contraction-order search every planner shares (evaluation, the Gram form of
symmetric networks, generated NumPy code), in bounded time.

Dynamic programming finds the flop-optimal order of a derivative network (opt_einsum's
'auto' choice for mid-sized networks, branch-and-bound, can settle on huge outer
products). Its search combines pairs of connected sub-networks, so its time follows how
many there are, not how many operands: a chain of 20 matrices has 210, while 14 vectors
sharing one index have 16,383, and dp needs seconds. Before searching, the pairs are
counted (cheaply, stopping past a limit); a network with too many is planned in bounded
time by greedy, by opt_einsum's 'auto' and by dp with its most shared summed indices held
open until the count fits, and keeps the plan with the fewest flops.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass

import opt_einsum

# Pairs of sub-networks dp may combine: about half a microsecond each, so at this many its
# search takes some 30 ms. T8's 12-operand network (18,104 pairs) stays under it.
DP_SEARCH_LIMIT = 2**16
# A network that needs more indices held open is not a few hubs in an otherwise small
# network, and dp's order over what is left is no better than greedy's.
MAX_HELD_OPEN = 8


def _split(equation: str) -> tuple[list[str], str]:
    inputs, output = equation.split("->")
    return inputs.split(","), output


def _adjacency(inputs: list[str], output: str) -> list[int]:
    """Bitmask per operand of the other operands it shares a summed index with."""
    carriers: dict[str, int] = {}
    for k, term in enumerate(inputs):
        for index in term:
            if index not in output:
                carriers[index] = carriers.get(index, 0) | 1 << k
    adjacent = [0] * len(inputs)
    for k, term in enumerate(inputs):
        for index in term:
            adjacent[k] |= carriers.get(index, 0)
        adjacent[k] &= ~(1 << k)
    return adjacent


def _bits(mask: int):
    """Positions of the set bits of ``mask``, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def dp_search_size(inputs: list[str], output: str, limit: int = DP_SEARCH_LIMIT) -> int:
    """The pairs dp's search visits, counted up to the first value past ``limit``: for
    each size n, every connected sub-network of m operands against every one of n - m.

    Operands sharing a summed index are connected; dp searches each connected component
    on its own, and one pass over it visits these pairs (cost capping may repeat a pass).

    >>> dp_search_size(["ab", "bc", "cd"], "ad")  # a chain: 3 * 3 pairs for n = 2, 3 * 2 for n = 3
    15
    >>> dp_search_size(["i"] * 14, "") > DP_SEARCH_LIMIT  # one index everywhere
    True
    """
    adjacent = _adjacency(inputs, output)
    pairs, done = 0, 0
    for start in range(len(inputs)):
        if done >> start & 1:
            continue
        component, frontier = 0, 1 << start
        while frontier:
            component |= frontier
            frontier = 0
            for k in _bits(component):
                frontier |= adjacent[k]
            frontier &= ~component
        done |= component
        count = [0, component.bit_count()]  # count[m]: connected sub-networks of m operands
        level = {1 << k: adjacent[k] for k in _bits(component)}  # sub-network: operands it touches
        while len(count) <= count[1]:
            # Checked before the next size is enumerated: pairs with one operand alone
            # already bound its cost.
            if pairs + count[1] * count[-1] > limit:
                return pairs + count[1] * count[-1]
            grown: dict[int, int] = {}
            for subset, reach in level.items():
                for k in _bits(reach & ~subset):
                    if subset | 1 << k not in grown:
                        grown[subset | 1 << k] = reach | adjacent[k]
            level = grown
            count.append(len(level))
            size = len(count) - 1
            pairs += sum(count[m] * count[size - m] for m in range(1, size // 2 + 1))
            if pairs > limit:
                return pairs
    return pairs


def held_open(inputs: list[str], output: str) -> str | None:
    """For a network whose dp search is past :data:`DP_SEARCH_LIMIT`: the fewest of its
    most shared summed indices that, kept like output indices (contracted only at the
    end), bring the search within it; None when that takes more than
    :data:`MAX_HELD_OPEN` of them.

    >>> held_open(["i"] * 14, "")
    'i'
    """
    shared = collections.Counter(i for term in inputs for i in dict.fromkeys(term) if i not in output)
    order = "".join(sorted(shared, key=lambda i: -shared[i]))[:MAX_HELD_OPEN]  # ties: first seen first
    if dp_search_size(inputs, output + order) > DP_SEARCH_LIMIT:
        return None
    # Holding an index open only removes connections, so the count falls as the prefix grows.
    low, high = 1, len(order)  # holding none does not fit
    while low < high:
        middle = (low + high) // 2
        if dp_search_size(inputs, output + order[:middle]) <= DP_SEARCH_LIMIT:
            high = middle
        else:
            low = middle + 1
    return order[:low]


def contraction_path(equation: str, shapes: list[tuple[int, ...]]):
    """opt_einsum's path and path info for ``equation`` over operands of ``shapes``: dp's
    flop-optimal order where its search is small enough, else the best of greedy's,
    opt_einsum's 'auto' and dp's with the most shared indices held open.

    >>> path, info = contraction_path(",".join(["i"] * 14) + "->", [(2,)] * 14)
    >>> int(info.opt_cost)
    28
    """
    inputs, output = _split(equation)
    if any(0 in shape for shape in shapes):
        # An empty network: every order costs nothing, and opt_einsum 3.3's report divides
        # its naive cost by its optimal one, 0 by 0. Plan it as if the empty axes had size 1.
        shapes = [tuple(max(n, 1) for n in shape) for shape in shapes]
    if dp_search_size(inputs, output) <= DP_SEARCH_LIMIT:
        return opt_einsum.contract_path(equation, *shapes, shapes=True, optimize="dp")
    orders = ["greedy", "auto"]  # auto: branch-and-bound up to 14 operands, greedy beyond
    held = held_open(inputs, output)
    if held is not None:
        relaxed = ",".join(inputs) + "->" + output + held
        orders.append(opt_einsum.contract_path(relaxed, *shapes, shapes=True, optimize="dp")[0])
    plans = [opt_einsum.contract_path(equation, *shapes, shapes=True, optimize=order) for order in orders]
    return min(plans, key=lambda plan: plan[1].opt_cost)


@dataclass(frozen=True, slots=True)
class PathPlan:
    """How one network contracts: opt_einsum's order for ``inputs -> output`` (index
    numbers, lettered by ``opt_einsum.get_symbol``), its cost and the expression that runs it.

    >>> plan = plan_path(((0, 1), (1,)), (0,), [(2, 3), (3,)])
    >>> plan.equation, plan.flops, plan.path
    ('ab,b->a', 12, ((0, 1),))
    """

    inputs: tuple[tuple[int, ...], ...]
    output: tuple[int, ...]
    equation: str
    path: tuple[tuple[int, ...], ...]  # opt_einsum's: positions in the list of operands left, popped, result appended
    flops: int  # opt_einsum's count for this order
    largest_intermediate: int  # elements
    expression: Callable  # an opt_einsum expression: call it with the operands


def equation_of(inputs, output) -> str:
    """The opt_einsum equation of a network given by index numbers: ``((0, 1), (1,)), (0,)`` is ``'ab,b->a'``."""
    symbol = opt_einsum.get_symbol
    return ",".join("".join(symbol(i) for i in idx) for idx in inputs) + "->" + "".join(symbol(i) for i in output)


def plan_path(inputs, output, shapes: list[tuple[int, ...]]) -> PathPlan:
    """The :class:`PathPlan` of the network ``inputs -> output`` over operands of ``shapes``."""
    equation = equation_of(inputs, output)
    path, info = contraction_path(equation, shapes)
    return PathPlan(
        inputs=tuple(tuple(idx) for idx in inputs),
        output=tuple(output),
        equation=equation,
        path=tuple(tuple(int(k) for k in step) for step in path),
        flops=int(info.opt_cost),
        largest_intermediate=int(info.largest_intermediate),
        expression=opt_einsum.contract_expression(equation, *shapes, optimize=path),
    )
