"""The contraction-order search every planner shares (evaluation, the Gram form of
symmetric networks, generated NumPy code)."""

from __future__ import annotations

import opt_einsum

_DP_MAX_OPERANDS = 24


def contraction_path(equation: str, shapes: list[tuple[int, ...]]):
    """opt_einsum's path and path info for ``equation`` over operands of ``shapes``.

    Dynamic programming finds the flop-optimal order of a derivative network (its 'auto'
    choice for mid-sized networks, branch-and-bound, can settle on huge outer products);
    beyond a few dozen operands its search grows too slow and greedy takes over.
    """
    optimize = "dp" if len(shapes) <= _DP_MAX_OPERANDS else "greedy"
    return opt_einsum.contract_path(equation, *shapes, shapes=True, optimize=optimize)


def contraction(equation: str, shapes: list[tuple[int, ...]]):
    """(opt_einsum expression, flops, largest intermediate in elements) for ``equation``."""
    path, info = contraction_path(equation, shapes)
    expression = opt_einsum.contract_expression(equation, *shapes, optimize=path)
    return expression, int(info.opt_cost), int(info.largest_intermediate)
