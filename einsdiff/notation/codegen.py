"""Code out of expressions: the einsum calls that evaluate them, and standalone NumPy functions.

Both walk the expression DAG in dependency order and give each node one line, so a
shared subexpression is computed once. ``to_einsum`` writes one ``np.einsum`` per
contraction, for reading. ``to_numpy_code`` prints the source ``ed.compile`` runs, the
program lowered by :mod:`einsdiff.engine.lowering` (a line per pairwise step of the order
compile chose, as ``@``, broadcast products and sums, or compile's Gram form), with a
header and an input check around it. Either way a contraction's core is placed as its
:class:`~einsdiff.ir.layout.Layout` says: broadcast over the output indices no operand
carries, and written onto a diagonal view of a zeroed array where an output index
repeats, so a Kronecker delta never becomes a dense identity operand.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from dataclasses import dataclass

from ..engine.lowering import NumpyWriter, array_literal, helper_name, lower, reserved_names
from ..engine.program import compile_program, plan_step
from ..errors import OperandError
from ..ir.expr import Expr, Materialize
from ..ir.variables import children, topological, variables
from .printing import to_index_notation

# Checks every argument of a generated function; integers become float64, as in ed.evaluate.
_INPUT_HELPER = '''\
def _input(name, value, shape):
    array = np.asarray(value)
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    elif array.dtype.kind != "f":
        raise TypeError(f"argument {name!r} must be a real array, got dtype {array.dtype}")
    if array.shape != shape:
        raise ValueError(f"argument {name!r} must have shape {shape}, got shape {array.shape}")
    return array
'''


def _check_expr(expr, what: str) -> Expr:
    if not isinstance(expr, Expr):
        raise OperandError(
            f"{what} must be an einsdiff expression, got {type(expr).__name__}; build it from ed.var"
        )
    return expr


def to_einsum(expr: Expr, name: str = "f") -> str:
    """The NumPy lines that evaluate ``expr``, one per intermediate, for reading and running.

    They run as printed once the variables are bound: ``exec(text, {"A": ..., "x": ...})``
    leaves the value in ``name``. A Kronecker delta is written as the evaluator computes
    it, onto a diagonal view of a zeroed array; an index no operand carries broadcasts.

    >>> import einsdiff as ed
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> print(ed.to_einsum(ed.tanh(A @ x).sum()))
    import numpy as np
    t0 = np.einsum("ij,j->i", A, x)
    t1 = np.tanh(t0)
    t2 = np.einsum("i->", t1)
    f = t2
    >>> print(ed.to_einsum(ed.jacobian(A @ x, A)))
    import numpy as np
    t0 = np.zeros((2, 2, 3))
    np.einsum("iij->ij", t0)[...] = x  # a view of the diagonal
    f = t0
    """
    _check_expr(expr, "to_einsum's argument")
    _check_name(name, "the result's name")
    names = {v.name for v in variables(expr)}
    if name in names or name in reserved_names() | {helper_name(_INPUT_HELPER)}:
        raise OperandError(f"the result's name {name!r} would hide a name the lines use; pick another")
    writer = NumpyWriter(names | {name} | reserved_names() | {helper_name(_INPUT_HELPER)}, plain=True)
    for node in topological([expr]):
        writer.write(plan_step(node))
    sections = ["import numpy as np", *writer.constants, *writer.helpers, *writer.lines, f"{name} = {writer.names[expr]}"]
    return "\n".join(section.rstrip("\n") for section in sections)


_RETURNS = {"single": "{}", "tuple": "({})", "dict": "a dict of {}"}


@dataclass(frozen=True, slots=True)
class _Outputs:
    """What a generated function returns: expressions under names, in one of three forms."""

    exprs: tuple[Expr, ...]
    names: tuple[str, ...]  # used in the header's formulas
    form: str  # "single", "tuple" or "dict"


def _outputs(exprs, name: str) -> _Outputs:
    if isinstance(exprs, Expr):
        return _Outputs((exprs,), (name,), "single")
    if isinstance(exprs, Mapping):
        for key in exprs:
            if not isinstance(key, str) or not key:
                raise OperandError(f"output names must be non-empty strings, got {key!r}")
        items = [(_check_expr(e, f"output {key!r}"), key) for key, e in exprs.items()]
        form = "dict"
    elif isinstance(exprs, str) or not hasattr(exprs, "__iter__"):
        raise OperandError(
            f"to_numpy_code takes an expression, a sequence of them or a dict of them, "
            f"got {type(exprs).__name__}"
        )
    else:
        items = [(_check_expr(e, f"output {k}"), f"out{k}") for k, e in enumerate(exprs)]
        form = "tuple"
    if not items:
        raise OperandError("to_numpy_code needs at least one expression to compute")
    return _Outputs(tuple(e for e, _ in items), tuple(n for _, n in items), form)


_FORMULA_MAX_TERMS = 100


def _formula(expr: Expr, label: str) -> str:
    """``expr`` in index notation for the header, unless that would be too long to read:
    the formula spells out every use of a shared subexpression, so it can grow
    exponentially with depth where the code does not."""
    written: dict[Expr, int] = {}  # how many nodes the formula writes for each node
    for node in topological([expr]):
        written[node] = (not isinstance(node, Materialize)) + sum(written[c] for c in children(node))
    if written[expr] > _FORMULA_MAX_TERMS:
        return f"{label}: shape {expr.shape}, a formula of {written[expr]} terms (too long to show)"
    return to_index_notation(expr, label) if label.isidentifier() else f"{label}: {to_index_notation(expr)}"


def _check_name(name, what: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise OperandError(f"{what} must be a Python identifier that is not a keyword, got {name!r}")
    return name


def to_numpy_code(exprs, name: str = "f", *, passes=None) -> str:
    """Source of a standalone Python function ``name`` that computes ``exprs`` with numpy alone.

    ``exprs`` is an expression (the function returns one array), a sequence of them (a
    tuple) or a dict of them (a dict with the same keys). The function takes the
    variables as arguments, sorted by name, checks their shapes, and computes each
    shared subexpression once. Its body is the source ``ed.compile(exprs, passes=passes)``
    runs (:mod:`einsdiff.engine.lowering`), line for line: each contraction in the order
    compile chose, a pairwise step per line as a direct call (``A @ x``, a broadcast
    product, ``.sum(axis=...)``), so numpy neither searches nor parses at run time, and a
    symmetric network in its Gram form (``_gram``: one triangle through syrk) where compile's is.

    >>> import einsdiff as ed, numpy as np
    >>> x = ed.var("x", (3,))
    >>> source = ed.to_numpy_code({"value": x @ x, "grad": ed.grad(x @ x, x)})
    >>> namespace = {}
    >>> exec(source, namespace)
    >>> out = namespace["f"](x=np.array([1.0, 2.0, 3.0]))
    >>> float(out["value"]), out["grad"].tolist()
    (14.0, [2.0, 4.0, 6.0])
    """
    _check_name(name, "the function name")
    outputs = _outputs(exprs, name)
    inputs = sorted(variables(*outputs.exprs), key=lambda v: v.name)
    reserved = reserved_names() | {helper_name(_INPUT_HELPER)}
    if name in reserved:
        raise OperandError(f"the function name {name!r} would hide a name the generated code uses; pick another")
    for v in inputs:
        _check_name(v.name, f"variable name {v.name!r} (an argument of the generated function)")
        if v.name in reserved:
            raise OperandError(
                f"variable {v.name!r} would hide {v.name!r} inside the generated function; rename the variable"
            )

    program = compile_program(outputs.exprs, passes=passes)  # the steps ed.compile runs
    lowered = lower(program, frozenset({v.name for v in inputs} | {name} | reserved))

    body = [f'{v.name} = _input("{v.name}", {v.name}, {v.shape})' for v in inputs]
    if lowered.uses_dtype:
        dtype_args = [v.name for v in inputs] + list(lowered.constants)
        body.append(f"{lowered.dtype} = " + (f"np.result_type({', '.join(dtype_args)})" if dtype_args else "np.float64"))
    body += lowered.lines
    results = [f"np.array({r})" if view else r for r, view in zip(lowered.results, lowered.views, strict=True)]
    if outputs.form == "single":
        body.append(f"return {results[0]}")
    elif outputs.form == "tuple":
        body.append(f"return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    else:
        keys = [f'"{k}"' if k.isidentifier() else repr(k) for k in outputs.names]  # valid keys, any text
        body.append("return {" + ", ".join(f"{k}: {r}" for k, r in zip(keys, results, strict=True)) + "}")

    labels = [n if n.isidentifier() else repr(n) for n in outputs.names]  # one line each, even "a\nb"
    signature = ", ".join(v.name for v in inputs)
    header = [
        "# Generated by einsdiff; needs only numpy.",
        f"# {name}({signature}) returns {_RETURNS[outputs.form].format(', '.join(labels))}:",
        *(f"#   {_formula(e, label)}" for e, label in zip(outputs.exprs, labels, strict=True)),
    ]
    sections = ["\n".join(header) + "\n\nimport numpy as np"]
    if lowered.constants:
        sections.append("\n".join(f"{c} = {array_literal(value)}" for c, value in lowered.constants.items()))
    if inputs:
        sections.append(_INPUT_HELPER)
    sections += list(lowered.helpers)
    sections.append(f"def {name}({signature}):\n" + "".join(f"    {line}\n" for line in body))
    return "\n\n\n".join(section.rstrip("\n") for section in sections) + "\n"
