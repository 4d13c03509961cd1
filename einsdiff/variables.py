"""Walking an expression DAG: its nodes in dependency order, and its variables."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .errors import VariableConflictError
from .expr import Add, Call, Contract, Expr, Map, Materialize, Reshape, Var


def children(node: Expr) -> tuple[Expr, ...]:
    if isinstance(node, Contract):
        return node.operands
    if isinstance(node, Add):
        return node.terms
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Map | Reshape | Materialize):
        return (node.arg,)
    return ()


def topological(roots: Iterable[Expr], children_of: Callable[[Expr], Iterable[Expr]] = children) -> list[Expr]:
    """Every node reachable from ``roots`` once, each after its children (deterministic)."""
    order: list[Expr] = []
    seen: set[Expr] = set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(tuple(children_of(node))) if c not in seen)
    return order


def variables(*roots: Expr) -> tuple[Var, ...]:
    """The distinct variables of ``roots`` in order of appearance; one shape per name."""
    found: dict[str, Var] = {}
    for node in topological(roots):
        if isinstance(node, Var):
            other = found.setdefault(node.name, node)
            if other.shape != node.shape:
                raise VariableConflictError(
                    f"two variables are named {node.name!r}, with shapes {other.shape} and "
                    f"{node.shape}; give them different names or one shape"
                )
    return tuple(found.values())
