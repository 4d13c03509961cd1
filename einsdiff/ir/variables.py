"""Walking an expression DAG: its nodes in dependency order, its variables, and the values
bound to them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ..errors import BindingError, VariableConflictError
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
            if other.symmetric != node.symmetric and other.shape == node.shape:
                raise VariableConflictError(
                    f"two variables are named {node.name!r}, one symmetric and one not; make "
                    f"{node.name!r} with ed.var({node.name!r}, {node.shape}, symmetric=True) everywhere, or rename one"
                )
            if other.shape != node.shape:
                raise VariableConflictError(
                    f"two variables are named {node.name!r}, with shapes {other.shape} and "
                    f"{node.shape}; give them different names or one shape"
                )
    return tuple(found.values())


def gather_bindings(caller: str, mapping, keywords: dict, options: tuple[str, ...], wanted) -> dict:
    """The values of variables, given as one mapping and/or as keywords, by name.

    A variable named like one of ``caller``'s options (``order``, ``format`` ...) cannot be a
    keyword, since the keyword sets the option: it must come in the mapping.

    >>> gather_bindings("evaluate", {"order": 1.0}, {"x": 2.0}, ("order",), ())
    {'order': 1.0, 'x': 2.0}
    """
    if mapping is None:
        mapping = {}
    elif not isinstance(mapping, Mapping):
        raise BindingError(
            f"{caller} takes the variables' values as a mapping of names to arrays (or as keywords), "
            f"got {type(mapping).__name__}"
        )
    both = sorted(set(mapping) & set(keywords))
    if both:
        raise BindingError(f"{caller}: variable {both[0]!r} is bound twice, in the mapping and as a keyword; keep one")
    bindings = {**mapping, **keywords}
    for v in wanted:
        if v.name in options and v.name not in bindings:
            raise BindingError(
                f"variable {v.name!r} has the name of {caller}'s option {v.name}=, so a keyword {v.name}=... "
                f"sets the option; pass the variables as a mapping instead: {{{v.name!r}: <array of shape {v.shape}>}}"
            )
    return bindings
