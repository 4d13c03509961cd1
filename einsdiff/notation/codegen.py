"""Code out of expressions: the einsum calls that evaluate them, and standalone NumPy functions.

Both walk the expression DAG in dependency order and give each node one line, so a
shared subexpression is computed once. ``to_numpy_code`` prints the program that
``ed.compile`` runs (:mod:`einsdiff.engine.program`): one ``np.einsum`` per contraction
over the output indices that some operand carries (the core), in the order compile chose
(or compile's Gram form); the core is then placed as the contraction's
:class:`~einsdiff.ir.layout.Layout` says: broadcast over the other output indices, and
written onto a diagonal view of a zeroed array where an output index repeats, so a
Kronecker delta never becomes a dense identity operand.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import opt_einsum

from ..engine.contraction import Contraction
from ..engine.program import Step, WeightedSum, compile_program, plan_step
from ..errors import OperandError
from ..ir.expr import Call, Const, Contract, Expr, Map, Materialize, Reshape, Var
from ..ir.functions import FUNCTIONS
from ..ir.layout import layout
from ..ir.ops import OPS
from ..ir.variables import children, topological, variables
from .printing import to_index_notation

# Einsum letters from i, as in textbooks; np.einsum takes these 52 only.
_ASCII_LETTERS = "ijklmnopqrstuvwxyzabcdefgh" + "ijklmnopqrstuvwxyzabcdefgh".upper()

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


def _number(c: float) -> str:
    """``c`` as Python source that reads back exactly (``2``, ``0.1``, ``np.inf``)."""
    c = float(c)
    if not math.isfinite(c):
        return "np.nan" if math.isnan(c) else ("np.inf" if c > 0 else "-np.inf")
    if c == 0 and math.copysign(1.0, c) < 0:
        return "-0.0"
    return str(int(c)) if c.is_integer() and abs(c) < 1e15 else repr(c)


def _tuple(values) -> str:
    """A parameter as Python source: ``(1,)``, ``(0, 2)``, ``(0, range(1, 4))`` (take's)."""
    return repr(tuple(v if isinstance(v, range | tuple) else int(v) for v in values))


def _letter(k: int) -> str:
    return _ASCII_LETTERS[k] if k < len(_ASCII_LETTERS) else opt_einsum.get_symbol(k)


@dataclass(frozen=True, slots=True)
class _Einsum:
    """A contraction as written: operands in reading order, a letter per index."""

    operands: tuple[Expr, ...]
    inputs: tuple[tuple[int, ...], ...]
    letter: dict[int, str]

    def word(self, indices) -> str:
        return "".join(self.letter[i] for i in indices)


def _as_einsum(node: Contract) -> _Einsum:
    """Operands in the layout's reading order, carrying earlier output indices first (``ij,j->i``,
    not ``j,ij->i``); letters from ``i`` in order of first appearance in the output, then the inputs."""
    order = layout(node).order
    inputs = tuple(node.inputs[k] for k in order)
    used = dict.fromkeys(i for idx in (node.output, *inputs) for i in idx)
    return _Einsum(tuple(node.operands[k] for k in order), inputs, {i: _letter(k) for k, i in enumerate(used)})


def _reading_path(path: tuple[tuple[int, ...], ...], order: tuple[int, ...]) -> list[tuple[int, ...]]:
    """A contraction path over operands in node order, restated over the same operands in
    ``order``: each step pops its operands (positions in the list left) and appends the result.

    >>> _reading_path(((0, 2), (0, 1)), (2, 0, 1))  # operands c, a, b: a with c, then b with ac
    [(0, 1), (0, 1)]
    """
    ids, read, restated = list(range(len(order))), list(order), []
    for made, step in enumerate(path, start=len(order)):  # ``made`` names the step's result
        taken = [ids[k] for k in step]
        restated.append(tuple(sorted(read.index(t) for t in taken)))
        for t in taken:
            ids.remove(t)
            read.remove(t)
        ids.append(made)
        read.append(made)
    return restated


def _linear_combination(names: list[str], coeffs: tuple[float, ...]) -> str:
    """``a + 2 * b - c``: the sum of ``coeffs[k] * names[k]``."""
    text = ""
    for k, (name, c) in enumerate(zip(names, coeffs, strict=True)):
        body = name if abs(c) == 1 else f"{_number(abs(c))} * {name}"
        if k == 0:
            text = f"-{body}" if c < 0 else body
        else:
            text += f" {'-' if c < 0 else '+'} {body}"
    return text


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
    if name in names or name in _reserved():
        raise OperandError(f"the result's name {name!r} would hide a name the lines use; pick another")
    writer = _NumpyWriter(names | {name} | _reserved(), plain=True)
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


def _helper_name(source: str) -> str:
    return re.match(r"def (\w+)\(", source).group(1)


class _NumpyWriter:
    """The body of a generated function, one line per node, and the module-level
    definitions (constants, helper functions) that the body uses."""

    def __init__(self, taken: set[str], plain: bool = False):
        self.taken = taken  # names the body must not assign or shadow
        self.plain = plain  # for reading: float64 arrays, no precomputed contraction orders
        self.next_number: dict[str, int] = {}
        self.lines: list[str] = []
        self.constants: list[str] = []
        self.helpers: dict[str, None] = {}
        self.names: dict[Expr, str] = {}
        self.shared_views: set[str] = set()  # values that may be read-only views, copied on return
        self.dtype = self.fresh("dtype")
        self.uses_dtype = False

    def fresh(self, stem: str, numbered: bool = False) -> str:
        """``stem`` (or ``stem0, stem1, ...``), skipping names already taken."""
        k = self.next_number.get(stem, 0)
        while (name := f"{stem}{k}" if numbered else stem + "_" * k) in self.taken:
            k += 1
        self.next_number[stem] = k + 1
        self.taken.add(name)
        return name

    def assign(self, node: Expr, text: str) -> str:
        name = self.names[node] = self.fresh("t", numbered=True)
        self.lines.append(f"{name} = {text}")
        return name

    def write(self, step: Step) -> None:
        """Define the value of ``step``'s node, its inputs being defined already."""
        node = step.node
        if isinstance(node, Var):
            self.names[node] = node.name
        elif isinstance(node, Const):
            self.names[node] = self.fresh("C" if self.plain else "_C", numbered=True)
            self.constants.append(f"{self.names[node]} = {_array_literal(node.value)}")
            self.shared_views.add(self.names[node])
        elif isinstance(node, Materialize):
            self.names[node] = self.names[node.arg]
        elif isinstance(node, Map):
            op = OPS[node.fn]
            if op.helper:
                self.helpers[op.helper] = None
            param = "" if node.param is None else _number(node.param)
            self.assign(node, op.source.format(x=self.names[node.arg], p=param))
        elif isinstance(node, Call):
            fn = FUNCTIONS[node.fn]
            if fn.helper:
                self.helpers[fn.helper] = None
            self.assign(node, fn.source.format(*(self.names[a] for a in node.args), p=_tuple(node.param)))
        elif isinstance(node, Reshape):
            self.assign(node, f"np.reshape({self.names[node.arg]}, {node.shape})")
            if self.names[node.arg] in self.shared_views:
                self.shared_views.add(self.names[node])
        elif isinstance(step.plan, Contraction):
            self.contraction(node, step.plan, 1.0)
        elif isinstance(step.plan, WeightedSum):
            self.sum(step)
        else:
            raise TypeError(f"cannot write a {type(node).__name__} as NumPy code")

    def full(self, shape, value: str) -> str:
        if self.plain:
            return f"np.full({shape}, {value}, dtype=float)"
        self.uses_dtype = True
        return f"np.full({shape}, {value}, dtype={self.dtype})"

    def zeros(self, shape) -> str:
        if self.plain:
            return f"np.zeros({shape})"
        self.uses_dtype = True
        return f"np.zeros({shape}, dtype={self.dtype})"

    def sum(self, step: Step) -> None:
        """A weighted sum; a term with a delta adds its core into the sum's diagonal, a
        transposed twin is read as the transpose of the term it mirrors."""
        node, plan = step.node, step.plan
        names = [self.names[t] for t in step.inputs[: len(plan.dense)]]
        names += [f"{names[t.source]}.transpose({_tuple(t.axes)})" for t in plan.twins]
        coeffs = plan.dense + tuple(t.coefficient for t in plan.twins)
        if plan.constant:  # the number leads: 1 - t
            names, coeffs = [_number(abs(plan.constant)), *names], (1.0 if plan.constant > 0 else -1.0, *coeffs)
        if not names and len(plan.placed) == 1:
            self.contraction(node, plan.placed[0].contraction, plan.placed[0].coefficient)
            return
        if not names:
            name = self.assign(node, self.zeros(node.shape))
        elif len(names) == 1 and plan.constant:
            name = self.assign(node, self.full(node.shape, names[0] if coeffs[0] > 0 else f"-{names[0]}"))
        elif len(names) == 1 and coeffs[0] == 1:
            name = self.assign(node, f"{names[0]}.copy()")  # a fresh array to add into
        else:
            name = self.assign(node, _linear_combination(names, coeffs))
        for term in plan.placed:
            self.contraction(node, term.contraction, term.coefficient, into=name)

    def contraction(self, node: Expr, plan: Contraction, scale: float, into: str | None = None) -> None:
        """``node = scale * term``, or ``into += scale * term`` when ``into`` is given, for the
        contraction ``term`` that ``plan`` computes, placed as its layout says."""
        term, lay = plan.node, plan.layout
        e = _as_einsum(term)
        factor = lay.factor * scale
        if not term.operands:
            core = _number(factor)  # a product of no operands is the number itself
        elif plan.gram is not None and not self.plain and len(e.letter) <= len(_ASCII_LETTERS):
            core = self.gram(e, plan, factor)
        else:
            core = self.core(e, lay.core, plan)
            core = core if factor == 1 else f"{_number(factor)} * {core}"
        if lay.repeats:  # a delta: the core goes onto a diagonal view
            target = into or self.assign(node, self.zeros(term.shape))
            # Absent indices first: the core broadcasts against the view's leading axes for free.
            view = e.word(term.output) + "->" + e.word(lay.absent + lay.core)
            operator = "+=" if into else "="
            self.lines.append(f'np.einsum("{view}", {target})[...] {operator} {core}  # a view of the diagonal')
        elif not term.operands:
            self.uses_dtype = not self.plain
            dtype = ", dtype=float" if self.plain else f", dtype={self.dtype}"
            self.assign(node, f"np.full({term.shape}, {core}{dtype})")
        elif lay.absent:
            # Broadcast: new axes where absent indices follow a carried one (leading ones come free).
            positions = [p for p, i in enumerate(term.output) if i in lay.core]
            tail = term.output[positions[0]:] if positions else ()
            if any(i in lay.absent for i in tail):
                core += "[" + ", ".join("None" if i in lay.absent else ":" for i in tail) + "]"
            self.assign(node, f"np.broadcast_to({core}, {term.shape})")
            self.shared_views.add(self.names[node])
        elif core.isidentifier():  # already computed, by the steps of a long network or a Gram form
            self.names[node] = core
        else:
            name = self.assign(node, core)
            if len(term.operands) == 1 and self.names[term.operands[0]] in self.shared_views:
                self.shared_views.add(name)  # a one-operand einsum may be a view of its operand

    def core(self, e: _Einsum, kept: tuple[int, ...], plan: Contraction) -> str:
        """Source of the contraction of ``e``'s operands onto the indices ``kept``, in the order ``plan`` chose."""
        args = [self.names[op] for op in e.operands]
        equation = ",".join(e.word(idx) for idx in e.inputs) + "->" + e.word(kept)
        if len(args) == 1:
            return args[0] if e.inputs[0] == kept else _np_einsum(equation, args)
        path = _reading_path(plan.path.path, layout(plan.node).order)
        if len(e.letter) <= len(_ASCII_LETTERS):
            return _np_einsum(equation, args, "greedy" if self.plain else path)
        # Too many indices for one np.einsum call: one call per step of the path, each
        # with letters of its own (opt_einsum lists a step's operands as it pops them).
        # Empty axes count as size 1: opt_einsum's report would divide 0 flops by 0.
        shapes = [tuple(max(n, 1) for n in op.shape) for op in e.operands]
        _, info = opt_einsum.contract_path(equation, *shapes, shapes=True, optimize=path)
        for step in info.contraction_list:
            positions, step_equation = step[0], step[2]
            step_args = [args.pop(k) for k in positions]
            local = {ch: _letter(k) for k, ch in enumerate(dict.fromkeys(re.sub("[,>-]", "", step_equation)))}
            name = self.fresh("t", numbered=True)
            relabelled = "".join(local.get(ch, ch) for ch in step_equation)
            self.lines.append(f"{name} = {_np_einsum(relabelled, step_args, [tuple(range(len(step_args)))])}")
            args.append(name)
        return args[0]

    def gram(self, e: _Einsum, plan: Contraction, factor: float) -> str:
        """The name of ``factor`` times the core in its Gram form: Y = √|w| L contracted once,
        then Yᵀ Y through syrk, one triangle, as the compiled function computes it."""
        g = plan.gram
        self.helpers[_GRAM_HELPER] = None
        rows, cols = math.prod(g.shared_shape), math.prod(g.block_shape)

        def einsum(path_plan, args: list[str]) -> str:
            if len(args) == 1 and path_plan.inputs[0] == path_plan.output:
                return args[0]
            equation = ",".join(e.word(idx) for idx in path_plan.inputs) + "->" + e.word(path_plan.output)
            return _np_einsum(equation, args, list(path_plan.path))

        def scaled(text: str) -> str:
            return text if factor == 1 else f"{_number(factor)} * {text}"

        left = [self.names[plan.node.operands[p]] for p in g.left]
        if g.middle_plan is None:  # no weights: the result is scaled
            y = self.fresh("t", numbered=True)
            self.lines.append(f"{y} = np.reshape({einsum(g.left_plan, left)}, ({rows}, {cols}))")
            gram = f"_gram({y})"
        else:  # the weights are scaled
            weights = scaled(einsum(g.middle_plan, [self.names[plan.node.operands[p]] for p in g.middle]))
            w = weights if weights.isidentifier() else self.fresh("t", numbered=True)
            if w != weights:
                self.lines.append(f"{w} = {weights}")
            y = self.fresh("t", numbered=True)
            self.lines.append(f"{y} = np.reshape({einsum(g.left_plan, [*left, f'np.sqrt(np.abs({w}))'])}, ({rows}, {cols}))")
            row_weights = f"np.reshape({w}, {rows})"
            if g.weight_shape != g.shared_shape:  # w lacks some of the summed indices: repeat it along them
                row_weights = f"np.broadcast_to(np.reshape({w}, {g.weight_shape}), {g.shared_shape}).reshape({rows})"
            gram = f"_gram({y}, {row_weights})"
        if len(g.block_shape) > 1:
            gram += f".reshape({g.block_shape * 2})"
        if g.axes != tuple(range(len(g.axes))):
            gram += f".transpose({_tuple(g.axes)})"
        name = self.fresh("t", numbered=True)
        self.lines.append(f"{name} = {scaled(gram) if g.middle_plan is None else gram}  # symmetric: one triangle (syrk)")
        return name


# Σ_s sign(w[s]) y[s,I] y[s,J] as the compiled function computes it (einsdiff.engine.symmetry).
_GRAM_HELPER = '''\
def _gram(y, weights=None):
    """Yᵀ Y through BLAS syrk (one triangle, mirrored), rows of negative weight subtracted."""
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
'''


def _reserved() -> set[str]:
    """Names generated code uses for itself: numpy, the input check and the helper functions."""
    return {"np", _helper_name(_INPUT_HELPER), _helper_name(_GRAM_HELPER)} | {
        _helper_name(entry.helper) for entry in (*OPS.values(), *FUNCTIONS.values()) if entry.helper
    }


def _np_einsum(equation: str, args: list[str], path=None) -> str:
    """An ``np.einsum`` call; with ``path``, in that order (BLAS where it applies, no search),
    or with numpy's own search where ``path`` names one."""
    if path is None or len(args) == 1 or (isinstance(path, str) and len(args) == 2):
        return f'np.einsum("{equation}", {", ".join(args)})'
    if isinstance(path, str):
        return f'np.einsum("{equation}", {", ".join(args)}, optimize="{path}")'
    path_text = repr(["einsum_path", *(tuple(int(k) for k in step) for step in path)])
    return f'np.einsum("{equation}", {", ".join(args)}, optimize={path_text})'


_PORTABLE_DTYPES = ("float16", "float32", "float64", "complex64", "complex128")  # exact through Python numbers


def _array_literal(value: np.ndarray) -> str:
    """Source that rebuilds ``value`` exactly: nested lists of exact numbers and the dtype."""

    def element(x) -> str:
        if isinstance(x, list):
            return "[" + ", ".join(element(y) for y in x) + "]"
        if isinstance(x, complex):
            return f"complex({_number(x.real)}, {_number(x.imag)})"
        return _number(x)

    if value.dtype.name not in _PORTABLE_DTYPES:  # e.g. long double: Python floats would round it
        raw = np.ascontiguousarray(value).tobytes().hex()
        return f'np.frombuffer(bytes.fromhex("{raw}"), dtype="{value.dtype.str}").reshape({value.shape})'
    return f"np.array({element(value.tolist())}, dtype=np.{value.dtype.name})"


def to_numpy_code(exprs, name: str = "f", *, passes=None) -> str:
    """Source of a standalone Python function ``name`` that computes ``exprs`` with numpy alone.

    ``exprs`` is an expression (the function returns one array), a sequence of them (a
    tuple) or a dict of them (a dict with the same keys). The function takes the
    variables as arguments, sorted by name, checks their shapes, and computes each
    shared subexpression once. It is the program ``ed.compile(exprs, passes=passes)`` runs
    (:mod:`einsdiff.engine.program`), step for step: every ``np.einsum`` carries the
    contraction order compile chose (``optimize=['einsum_path', ...]``), so numpy searches
    for none at run time, and a symmetric network runs in its Gram form (``_gram``: one
    triangle through syrk) where compile's does.

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
    reserved = _reserved()
    if name in reserved:
        raise OperandError(f"the function name {name!r} would hide a name the generated code uses; pick another")
    for v in inputs:
        _check_name(v.name, f"variable name {v.name!r} (an argument of the generated function)")
        if v.name in reserved:
            raise OperandError(
                f"variable {v.name!r} would hide {v.name!r} inside the generated function; rename the variable"
            )

    writer = _NumpyWriter({v.name for v in inputs} | {name} | reserved)

    program = compile_program(outputs.exprs, passes=passes)  # the steps ed.compile runs
    for step in program.steps:
        writer.write(step)
    graph = program.outputs

    body = [f'{v.name} = _input("{v.name}", {v.name}, {v.shape})' for v in inputs]
    if writer.uses_dtype:
        dtype_args = [v.name for v in inputs] + [writer.names[n] for n in writer.names if isinstance(n, Const)]
        body.append(f"{writer.dtype} = " + (f"np.result_type({', '.join(dtype_args)})" if dtype_args else "np.float64"))
    body += writer.lines

    def returned(e: Expr) -> str:
        value = writer.names[e]
        return f"np.array({value})" if value in writer.shared_views or e.ndim == 0 else value

    results = [returned(e) for e in graph]
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
    if writer.constants:
        sections.append("\n".join(writer.constants))
    if inputs:
        sections.append(_INPUT_HELPER)
    sections += list(writer.helpers)
    sections.append(f"def {name}({signature}):\n" + "".join(f"    {line}\n" for line in body))
    return "\n\n\n".join(section.rstrip("\n") for section in sections) + "\n"
