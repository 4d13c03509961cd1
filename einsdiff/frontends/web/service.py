"""What the playground's page asks of einsdiff: pure functions from a JSON request to a JSON
answer, with every size bounded before any work starts. They run in the worker process
(:mod:`einsdiff.frontends.web.worker`), which also bounds time and memory."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from ...errors import EinsdiffError, OptionError, ParseError, UnknownVariableError, example_shape
from ...engine.evaluate import evaluate
from ...ir.expr import bare
from ...ir.variables import children, topological, variables
from ...notation.codegen import to_einsum
from ...notation.mathml import MathML, math as mathml, rows as table
from ...notation.matrixform import derivative_notation, to_matrix_notation
from ...notation.parse import NOTATIONS, formula_letters
from ...notation.printing import Latex, Text, aligned, shared
from ..session import (Derivation, build_formula, check as check_numerically, differentiate, heading, parse_shape,
                       sample_point)


@dataclass(frozen=True)
class Limits:
    """How much one request may ask for."""

    formula_chars: int = 500
    axis_size: int = 64
    variable_entries: int = 4096
    table_entries: int = 4096  # a derivative is shown as a matrix up to this many entries
    share_chars: int = 300  # a longer derivative names its repeated subexpressions (t1, t2, ...)
    typeset_chars: int = 20_000  # index notation typeset as MathML up to this length
    text_chars: int = 200_000  # each text (derivation, code) is clipped to this length
    check_entries: int = 100_000  # finite differences evaluate the function 2·(variable entries) times
    seconds: float = 10.0
    memory_bytes: int = 2 * 2**30  # the worker's address space
    body_bytes: int = 100_000


class RequestError(EinsdiffError):
    """A request the playground will not run: malformed, or larger than its limits."""


EXAMPLES = (
    {"title": "least squares in matrix notation, ‖Ax − y‖²", "formula": "L = (A*x - y)'*(A*x - y)", "wrt": "x",
     "order": 1, "shapes": {"A": "4x3", "x": "3", "y": "4"}, "values": {}},
    {"title": "a quadratic form ½xᵀSx − bᵀx, S symmetric", "formula": "q = x'*S*x/2 - b'*x", "wrt": "x",
     "order": 1, "shapes": {"S": "3x3", "x": "3", "b": "3"}, "values": {}, "symmetric": ["S"]},
    {"title": "Z = AW + B (a dense layer)", "formula": "Z[i,j] = A[i,k]*W[k,j] + B[j]", "wrt": "W", "order": 1,
     "shapes": {"A": "2x3", "W": "3x2", "B": "2"}, "values": {"A": "[[1,2,3],[4,5,6]]"}},
    {"title": "a relu neuron", "formula": "a = relu(w[i]*x[i] + b)", "wrt": "w", "order": 1,
     "shapes": {"w": "3", "x": "3", "b": "scalar"}, "values": {}},
    {"title": "the MSE loss of a relu neuron", "formula": "C = sum[n]((y[n] - relu(X[n,i]*w[i] + b))^2) / 4",
     "wrt": "w", "order": 1, "shapes": {"y": "4", "X": "4x3", "w": "3", "b": "scalar"}, "values": {}},
    {"title": "xᵀAx (a quadratic form)", "formula": "q = x[i]*A[i,j]*x[j]", "wrt": "x", "order": 2,
     "shapes": {"x": "3", "A": "3x3"}, "values": {}},
    {"title": "‖Ax − y‖² (least squares)", "formula": "L = sum[i]((A[i,j]*x[j] - y[i])^2)", "wrt": "x",
     "order": 1, "shapes": {"A": "4x3", "x": "3", "y": "4"}, "values": {}},
)


def inspect(request: dict, limits: Limits) -> dict:
    """The formula's name, free indices and variables (with the letters each is first written
    with), so the page can ask for their shapes."""
    formula = _formula(request, limits)
    name, out, letters = formula_letters(formula, notation=_notation(request))
    return {"name": name or "f", "indices": list(out),
            "variables": [{"name": v, "letters": list(ls)} for v, ls in letters.items()]}


def derive(request: dict, limits: Limits) -> dict:
    """The formula and its derivative as MathML and text, and in matrix notation where matrices
    can say it (then ``headline`` is "matrix": the page leads with that form), the derivation,
    the shape, the einsum form, NumPy code, and the derivative as a matrix at the given (or
    random) values.
    A derivative can be exponentially longer than its formula (nested functions): past
    ``limits.typeset_chars`` it comes as text only, and long texts are clipped."""
    d = _derivation(request, limits)
    f, wrt, derivative = d.formula.expr, d.formula.wrt, d.derivative
    text, style, latex = Text(), MathML(), Latex()
    formula_text = d.formula_line(text)
    # Past a few lines, name what the written-out derivative would repeat (t1, t2, ...). Written
    # out, it can be exponentially long: it is rendered to measure only when it must be short.
    named = shared(derivative)
    if _written_leaves(derivative) <= limits.share_chars and \
            len("".join(d.derivative_lines(text))) <= limits.share_chars:
        named = {}
    derivative_text = "\n".join(d.derivative_lines(text, named))
    typeset = len(derivative_text) <= limits.typeset_chars
    labels = list(named.values())
    listed = ", ".join(labels) if len(labels) <= 3 else f"{labels[0]}, …, {labels[-1]}"
    notes = [f"{listed} name subexpressions the derivative would otherwise repeat"] if named else []
    if not typeset:
        notes.append(f"{len(derivative_text):,} characters in index notation: too long to typeset "
                     f"(up to {limits.typeset_chars:,}), so shown as text")
    rows = math.prod(f.shape) * (math.prod(wrt.shape) if d.order == 2 else 1)
    dims, layout = _layout(d, rows)
    answer = {
        "formula_mathml": mathml(d.formula_line(style)) if len(formula_text) <= limits.typeset_chars else None,
        "derivative_mathml": mathml(table(d.derivative_lines(style, named))) if typeset else None,
        "formula_text": _clip(formula_text, limits),
        "latex": _clip(aligned(d.derivative_lines(latex.block(len(named) + 1), named)), limits),
        "derivative_text": _clip(derivative_text, limits),
        "typeset_note": "; ".join(notes),
        "steps": _clip(d.steps(), limits).splitlines(),
        "matrix_notation": _matrix_notation(d),
        "formula_matrix_notation": _formula_matrix_notation(d),
        "matrix_mathml": _matrix_notation(d, "mathml"),
        "formula_matrix_mathml": _formula_matrix_notation(d, "mathml"),
        "shape": d.shape_text,
        "matrix_shape": dims,
        "layout": layout,
        "einsum": _clip(to_einsum(derivative), limits),
        "numpy": _clip(d.numpy_code(), limits),
    }
    # The matrix form leads where there is one, as matrix-calculus texts write results; index notation beside it.
    answer["headline"] = "matrix" if answer["matrix_notation"] else "index"
    answer.update(_matrix(request, f, derivative, answer["matrix_shape"], limits))
    return answer


def _layout(d: Derivation, rows: int) -> tuple[list[int], str]:
    """How the page lays the derivative out as a table, as explain does: the gradient of a
    scalar by a matrix in that matrix's shape, anything else flattened row by row."""
    f, wrt, fname = d.formula.expr, d.formula.wrt, d.formula.name
    cols = math.prod(wrt.shape)
    if d.order == 1 and f.ndim == 0 and wrt.ndim == 2:
        return list(wrt.shape), (f"{heading(Text(), fname, (), wrt.name, (), 1)} in the shape of {wrt.name}, "
                                 f"{wrt.shape[0]}×{wrt.shape[1]} "
                                 f"(a 1×{cols} row when flattened row by row)")
    if rows == 1:
        return [1, cols], f"a 1×{cols} row when flattened row by row"
    return [rows, cols], f"a {rows}×{cols} matrix when flattened row by row"


def _written_leaves(expr) -> int:
    """How many variables and constants ``expr`` writes out, counting repeats: a lower bound
    on the length of its text, in time linear in its DAG."""
    count = {}
    for node in topological([bare(expr)], lambda n: tuple(bare(c) for c in children(n))):
        parts = [count[bare(c)] for c in children(node)]
        count[node] = sum(parts) if parts else 1
    return count[bare(expr)]


def _matrix_notation(d: Derivation, style: str = "text") -> str | None:
    """∂L/∂x = 2 Aᵀ (A x − y) or ∂vec(Z)/∂vec(W) = A ⊗ I, where matrices can say it, as text
    or (``style`` "mathml") as MathML."""
    f = d.formula
    try:
        if style == "text":
            return d.matrix_notation()
        return derivative_notation(f.expr, f.wrt, d.derivative, d.order, f.name, format=style)
    except OptionError:
        return None


def _formula_matrix_notation(d: Derivation, style: str = "text") -> str | None:
    """L = ‖A x − y‖²: the formula itself in matrix notation, where matrices can say it."""
    try:
        return to_matrix_notation(d.formula.expr, d.formula.name, format=style)
    except OptionError:
        return None


def _clip(text: str, limits: Limits) -> str:
    if len(text) <= limits.text_chars:
        return text
    return (text[: limits.text_chars] + f"\n… and {len(text) - limits.text_chars:,} more characters "
            f"(the playground shows {limits.text_chars:,}; einsdiff itself has no such limit)")


def check(request: dict, limits: Limits) -> dict:
    """The derivative against central finite differences at random inputs."""
    d = _derivation(request, limits)
    work = d.derivative.size * (math.prod(d.formula.wrt.shape) if d.order == 2 else 1)
    if work > limits.check_entries:
        raise RequestError(f"the numeric check of a derivative with {d.derivative.size:,} entries would take "
                           f"{work:,} function entries; the playground checks up to {limits.check_entries:,}: "
                           f"make the shapes smaller")
    result = check_numerically(d, _seed(request))
    return {"max_error": _json_number(result.error), "scale": _json_number(result.scale), "entries": result.entries,
            "ok": result.ok, "sampled": result.sampled, "text": result.text}


HANDLERS = {"inspect": inspect, "derive": derive, "check": check}


def error_answer(err: EinsdiffError) -> dict:
    """What the page shows of an error: its first line, and for a formula the column it marks."""
    message = str(err).splitlines()[0] if str(err) else type(err).__name__
    if isinstance(err, UnknownVariableError):  # in the playground's words: shapes are typed 3x4
        need = _sizes_example(err.ndim) if err.ndim else "empty or 'scalar'"
        message = f"unknown variable {err.name!r}: give its shape ({need})"
    if isinstance(err, ParseError):
        message = message.removesuffix(f" (column {err.position + 1})")
        return {"error": {"message": message, "position": err.position}}
    return {"error": {"message": message, "position": None}}


def _derivation(request: dict, limits: Limits) -> Derivation:
    formula = _formula(request, limits)
    # A syntax error first (it marks a position); the letters name summed indices as typed.
    shaped = request.get("shapes") if isinstance(request.get("shapes"), dict) else ()
    notation = _notation(request)
    letters = formula_letters(formula, shaped, notation)[2]  # given shapes make A (x[i]) a product, A(i,j) a variable
    wrt_name = _field(request, "wrt", str)
    order = _field(request, "order", int, 1)
    if order not in (1, 2):
        raise RequestError(f"order {order}: the playground gives the first (1) or second (2) derivative")
    sizes = _shapes(request, limits, letters)
    return differentiate(build_formula(formula, wrt_name, sizes, notation, _symmetric(request, sizes)), order)


def _notation(request: dict) -> str:
    notation = _field(request, "notation", str, "auto")
    if notation not in NOTATIONS:
        raise RequestError(f"notation {notation!r}: choose one of {', '.join(NOTATIONS)}")
    return notation


def _symmetric(request: dict, sizes: dict) -> tuple[str, ...]:
    """The variables ticked symmetric: each a square matrix the request gives a shape."""
    names = _field(request, "symmetric", list, [])
    for name in names:
        if not isinstance(name, str):
            raise RequestError(f"the request needs 'symmetric' as a list of variable names, got {name!r} in it")
        if name not in sizes:
            raise RequestError(f"{name} is ticked symmetric but has no shape; give it a square shape, e.g. 3x3")
        if len(sizes[name]) != 2 or sizes[name][0] != sizes[name][1]:
            shape = "×".join(map(str, sizes[name])) or "scalar"
            raise RequestError(f"{name} is ticked symmetric but has shape {shape}; a symmetric matrix is "
                               f"square: give it a shape like 3x3, or untick symmetric")
    return tuple(dict.fromkeys(names))


def _formula(request: dict, limits: Limits) -> str:
    formula = _field(request, "formula", str).strip()
    if not formula:
        raise RequestError("type a formula, e.g. Z[i,j] = A[i,k]*W[k,j] + B[j]")
    if len(formula) > limits.formula_chars:
        raise RequestError(f"the formula has {len(formula):,} characters; the playground takes up to "
                           f"{limits.formula_chars:,}")
    return formula


def _shapes(request: dict, limits: Limits, letters: dict) -> dict[str, tuple[int, ...]]:
    """The variables' shapes, each within the limits; an empty shape is a scalar."""
    shapes = _field(request, "shapes", dict, {})
    sizes = {}
    for name, text in shapes.items():
        if not isinstance(text, str):
            raise RequestError(f"the shape of {name} must be text like 3x4, got {text!r}")
        written = letters.get(name, ())
        if not text.strip() and written:
            raise RequestError(f"the shape of {name} is empty, which means a scalar, but the formula writes "
                               f"{name}[{','.join(written)}] with {len(written)} "
                               f"{'index' if len(written) == 1 else 'indices'}: give {_sizes_example(len(written))}")
        shape = parse_shape(text, f"the shape of {name}")
        if any(n > limits.axis_size for n in shape) or math.prod(shape) > limits.variable_entries:
            raise RequestError(f"{name} has shape {'×'.join(map(str, shape))}; the playground takes axes up to "
                               f"{limits.axis_size} and up to {limits.variable_entries:,} entries per variable")
        sizes[name] = shape
    return sizes


def _sizes_example(ndim: int) -> str:
    return f"{ndim} size{'s' * (ndim != 1)}, e.g. {'x'.join(map(str, example_shape(ndim)))}"


def _matrix(request: dict, f, derivative, dims: list[int], limits: Limits) -> dict:
    """The derivative as a ``dims`` table (row-major) at the given values, random ones for
    the rest, when it is small enough to read."""
    sample = sample_point(f, _seed(request))
    point = dict(sample.values)
    given = _field(request, "values", dict, {})
    used = {}
    for v in variables(f):
        text = given.get(v.name, "")
        if not isinstance(text, str):
            raise RequestError(f"values for {v.name}: send them as JSON text, like {_example(v.shape)!r}; "
                               f"got {text!r}")
        if text.strip():
            point[v.name] = _value(v, text)
            used[v.name] = "given"
        else:
            used[v.name] = "random"
    if derivative.size > limits.table_entries:  # after the values: a typo in them is still reported
        return {"matrix": None, "values": {},
                "matrix_note": f"{dims[0]}×{dims[1]} = {derivative.size:,} entries: too many for a table "
                               f"(the page shows up to {limits.table_entries:,})"}
    matrix = np.asarray(evaluate(derivative, {v.name: point[v.name] for v in variables(derivative)}))
    randoms = [name for name, how in used.items() if how == "random"]
    note = (f"at random values for {', '.join(randoms)}: {sample.describe(randoms)} (seed {_seed(request)})"
            if randoms else "at the given values")
    if not np.all(np.isfinite(matrix)):
        note += "; nan and inf mark entries where the derivative is undefined or overflows"
    rows = [[_json_number(x) for x in row] for row in matrix.reshape(dims).tolist()]
    return {"matrix": rows, "matrix_note": note,
            "values": {name: np.round(point[name], 4).tolist() for name in randoms}}


def _json_number(x: float) -> float | str:
    """JSON has no nan or inf: they travel as the strings "nan", "inf", "-inf"."""
    return x if math.isfinite(x) else str(x)


def _value(v, text: str) -> np.ndarray:
    """The values typed for ``v``: JSON numbers nested in lists to ``v``'s shape."""
    expected = f"expected {_nested(v.shape)}, like {_example(v.shape)}"
    try:
        data = json.loads(text)
    except ValueError as err:
        where = f" at character {err.pos + 1}" if isinstance(err, json.JSONDecodeError) else ""
        reason = getattr(err, "msg", str(err)).lower()
        raise RequestError(f"values for {v.name}: not valid JSON ({reason}{where}); "
                           f"{expected}") from err
    try:
        shape = _regular(data, "")
    except _Irregular as err:
        raise RequestError(f"values for {v.name}: {expected}; got {err}") from err
    if shape != v.shape:
        raise RequestError(f"values for {v.name}: {expected}; got {_nested(shape)}")
    return np.asarray(data, dtype=float)


class _Irregular(ValueError):
    """What in a JSON value is not a number or not a list of equal parts."""


def _regular(data, path: str) -> tuple[int, ...]:
    """The shape of numbers nested in lists of equal lengths; ``path`` says where data sits."""
    at = f" at {path}" if path else ""
    if isinstance(data, list):
        parts = [_regular(x, f"{path}[{k}]") for k, x in enumerate(data)]
        for k, part in enumerate(parts):
            if part != parts[0]:
                raise _Irregular(f"{_nested(part)} at {path}[{k}], where {path}[0] is {_nested(parts[0])}")
        return (len(data), *(parts[0] if parts else ()))
    if isinstance(data, bool) or not isinstance(data, int | float):
        what = "an object {…}" if isinstance(data, dict) else json.dumps(data)  # true, null, "a"
        raise _Irregular(f"{what}{at}, where a number goes")
    try:
        float(data)
    except OverflowError as err:
        raise _Irregular(f"a number too large for a float{at}") from err
    return ()


def _nested(shape: tuple[int, ...]) -> str:
    """What a value of ``shape`` is, in words.

    >>> _nested(()), _nested((3,)), _nested((2, 3))
    ('a number', 'a list of 3 numbers', 'a 2×3 nested list of numbers')
    """
    if not shape:
        return "a number"
    if len(shape) == 1:
        return f"a list of {shape[0]} number{'s' * (shape[0] != 1)}"
    return f"a {'×'.join(map(str, shape))} nested list of numbers"


def _example(shape: tuple[int, ...]) -> str:
    """A value of ``shape`` to copy, with … past four entries an axis.

    >>> _example(()), _example((2, 3)), _example((6,))
    ('1', '[[1,2,3],[4,5,6]]', '[1,2,3,…]')
    """
    count = iter(range(1, math.prod(shape) + 1))

    def nest(axes):
        if not axes:
            return str(next(count))
        items = [nest(axes[1:]) for _ in range(axes[0])]
        return "[" + ",".join(items if len(items) <= 4 else items[:3] + ["…"]) + "]"

    return nest(shape)


def _seed(request: dict) -> int:
    return _field(request, "seed", int, 0)


def _field(request: dict, key: str, kind: type, default=None):
    value = request.get(key, default)
    if value is None or not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RequestError(f"the request needs {key!r} as {kind.__name__}, got {value!r}")
    return value
