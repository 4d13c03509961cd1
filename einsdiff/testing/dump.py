"""The IR as nested calls: what a failing test shows of an expression even when the
printer cannot write it."""

from __future__ import annotations

from ..ir.expr import Add, Call, Const, Contract, Expr, Map, Materialize, Reshape, Var


def describe(expr: Expr) -> str:
    """``str(expr)``; for a node type the printer does not know, the IR as nested calls
    (so a failing property test can always show its expression).

    >>> import einsdiff as ed
    >>> f = ed.var("x", (2,)) * 2
    >>> describe(f) == str(f)
    True
    """
    try:
        return str(expr)
    except Exception:  # noqa: BLE001 - any printer failure: fall back to the raw IR
        return _ir_text(expr, {})


def _ir_text(node: Expr, done: dict) -> str:
    if node in done:
        return done[node]
    if isinstance(node, Var):
        text = node.name
    elif isinstance(node, Const):
        text = f"const{node.shape}" if node.size > 4 else f"const({node.value.tolist()!r})"
    elif isinstance(node, Map):
        param = "" if node.param is None else f", {node.param!r}"
        text = f"{node.fn}({_ir_text(node.arg, done)}{param})"
    elif isinstance(node, Add):
        text = "(" + " + ".join(f"{c!r}*{_ir_text(t, done)}" for t, c in zip(node.terms, node.coeffs, strict=True)) + ")"
        text = text if node.terms else f"zeros{node.shape}"
    elif isinstance(node, Contract):
        letter = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        subscripts = ",".join("".join(letter[i] for i in idx) for idx in node.inputs)
        subscripts += "->" + "".join(letter[i] for i in node.output)
        sizes = ",".join(f"{letter[i]}:{n}" for i, n in enumerate(node.sizes))
        text = f"einsum('{subscripts}' [{sizes}]" + "".join(f", {_ir_text(o, done)}" for o in node.operands) + ")"
    elif isinstance(node, Reshape):
        text = f"reshape({_ir_text(node.arg, done)}, {node.shape})"
    elif isinstance(node, Materialize):
        text = _ir_text(node.arg, done)
    elif isinstance(node, Call):
        parts = [_ir_text(a, done) for a in node.args] + ([f"param={node.param!r}"] if node.param else [])
        text = f"{node.fn}({', '.join(parts)})"
    else:
        text = repr(node)
    done[node] = text
    return text
