"""Lowering: a compiled program as straight-line NumPy source, one line per step.

:func:`lower` turns the steps of a :class:`~einsdiff.engine.program.Program` into the
body of a Python function; ``ed.compile`` compiles that source once and a call runs it
(no step interpreter, no path search, no equation parsing), and ``ed.to_numpy_code``
prints the same body. Each pairwise step of a contraction's planned order becomes the
cheapest direct call: ``@`` (BLAS) with its transposes and reshapes fixed when an index
is summed between the two operands, a broadcast product when none is, ``.sum(axis=...)``
for an index only one operand carries; only an index repeated within one operand goes
through ``np.einsum`` (without ``optimize``, so numpy neither parses a path nor searches).
A contraction's core is then placed by its :class:`~einsdiff.ir.layout.Layout`: broadcast,
or written onto a diagonal view of a zeroed array, as the step interpreter does.

>>> import einsdiff as ed
>>> from einsdiff.engine.program import compile_program
>>> A, x = ed.var("A", (5, 3)), ed.var("x", (3,))
>>> print(lower(compile_program([A.T @ (A @ x)])).body)
t0 = A @ x
t1 = A.T @ t0
"""

from __future__ import annotations

import ast
import functools
import keyword
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import opt_einsum

from ..ir.expr import Call, Const, Contract, Expr, Map, Materialize, Reshape, Var
from ..ir.functions import FUNCTIONS
from ..ir.layout import layout
from ..ir.variables import variables as variables_of
from ..ir.ops import OPS
from .contraction import Contraction
from .program import Program, Step, WeightedSum

# Einsum letters from i, as in textbooks; np.einsum takes these 52 only.
_ASCII_LETTERS = "ijklmnopqrstuvwxyzabcdefgh" + "ijklmnopqrstuvwxyzabcdefgh".upper()



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




def helper_name(source: str) -> str:
    return re.match(r"def (\w+)\(", source).group(1)


class NumpyWriter:
    """The body of a generated function, one line per node, and the module-level
    definitions (constants, helper functions) that the body uses."""

    def __init__(self, taken: set[str], plain: bool = False, variables: dict[str, str] | None = None,
                 checked: bool = False):
        self.taken = taken  # names the body must not assign or shadow
        self.plain = plain  # for reading: float64 arrays, one np.einsum per contraction
        self.checked = checked  # functions of whole tensors through their checked numpy values
        self.bound: dict[str, Callable] = {}  # what checked calls call
        self.temporaries: list[str] = []  # the intermediates' names, in order
        self.variables = variables or {}  # a variable's name in the source, where it is not its own
        self.next_number: dict[str, int] = {}
        self.lines: list[str] = []
        self.constant_values: dict[str, np.ndarray] = {}
        self.helpers: dict[str, None] = {}
        self.names: dict[Expr, str] = {}
        self.shared_views: set[str] = set()  # values that may be read-only views, copied on return
        self.dtype = self.fresh("dtype")
        self.uses_dtype = False

    @property
    def constants(self) -> list[str]:
        """The constants' definitions as source (exact literals)."""
        return [f"{name} = {array_literal(value)}" for name, value in self.constant_values.items()]

    def fresh(self, stem: str, numbered: bool = False) -> str:
        """``stem`` (or ``stem0, stem1, ...``), skipping names already taken."""
        k = self.next_number.get(stem, 0)
        while (name := f"{stem}{k}" if numbered else stem + "_" * k) in self.taken:
            k += 1
        self.next_number[stem] = k + 1
        self.taken.add(name)
        if stem == "t":
            self.temporaries.append(name)
        return name

    def assign(self, node: Expr, text: str) -> str:
        name = self.names[node] = self.fresh("t", numbered=True)
        self.lines.append(f"{name} = {text}")
        return name

    def write(self, step: Step) -> None:
        """Define the value of ``step``'s node, its inputs being defined already."""
        node = step.node
        if isinstance(node, Var):
            self.names[node] = self.variables.get(node.name, node.name)
            self.shared_views.add(self.names[node])  # the caller's array
        elif isinstance(node, Const):
            self.names[node] = self.fresh("C" if self.plain else "_C", numbered=True)
            self.constant_values[self.names[node]] = node.value
            self.shared_views.add(self.names[node])
        elif isinstance(node, Materialize):
            self.names[node] = self.names[node.arg]
        elif isinstance(node, Map):
            op = OPS[node.fn]
            if op.helper:
                self.helpers[op.helper] = None
            param = "" if node.param is None else _number(node.param)
            self.assign(node, op.source.format(x=self.names[node.arg], p=param))
            self.shared_if_any(node, [node.arg])
        elif isinstance(node, Call):
            fn = FUNCTIONS[node.fn]
            if fn.helper:
                self.helpers[fn.helper] = None
            args = [self.names[a] for a in node.args]
            if self.checked:  # a singular matrix raises an EvaluationError naming it
                call = self.fresh("_call", numbered=True)
                self.bound[call] = functools.partial(_checked, fn.numpy, node)
                self.assign(node, f"{call}({', '.join(args)})")
            else:
                self.assign(node, fn.source.format(*args, p=_tuple(node.param)))
            self.shared_if_any(node, node.args)  # a selection may be a view
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

    def shared_if_any(self, node: Expr, args) -> None:
        """``node``'s value may share memory with its arguments' where theirs may with an input."""
        if any(self.names[a] in self.shared_views for a in args):
            self.shared_views.add(self.names[node])

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
            core = self.core(e, lay.core, plan, factor)
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
        elif core.isidentifier():  # already computed, by the steps of a network or a Gram form
            self.names[node] = core
            if len(term.operands) == 1 and self.names[term.operands[0]] in self.shared_views:
                self.shared_views.add(core)  # a transpose is a view of its operand
        else:
            name = self.assign(node, core)
            if len(term.operands) == 1 and self.names[term.operands[0]] in self.shared_views:
                self.shared_views.add(name)  # a one-operand einsum may be a view of its operand

    def core(self, e: _Einsum, kept: tuple[int, ...], plan: Contraction, factor: float = 1.0) -> str:
        """Source of ``factor`` times the contraction of ``e``'s operands onto the indices ``kept``,
        in the order ``plan`` chose: one np.einsum for reading, else a line per pairwise step."""
        args = [self.names[op] for op in e.operands]
        equation = ",".join(e.word(idx) for idx in e.inputs) + "->" + e.word(kept)
        if len(args) == 1 and e.inputs[0] == kept:
            return _scaled(args[0], factor)
        if self.plain and len(e.letter) <= len(_ASCII_LETTERS):
            return _scaled(_np_einsum(equation, args, "greedy"), factor)
        node = plan.node
        operands = [(self.names[op], idx) for op, idx in zip(node.operands, node.inputs, strict=True)]
        # Scale the smallest operand where it is smaller than the core, as the evaluator does.
        k = min(range(len(operands)), key=lambda k: node.operands[k].size)
        if factor != 1 and node.operands[k].size < math.prod(node.sizes[i] for i in kept):
            operands[k], factor = (f"({_number(factor)} * {operands[k][0]})", operands[k][1]), 1.0
        return _scaled(self.network(operands, kept, plan.path.path, node.sizes), factor)

    def network(self, operands: list[tuple[str, tuple[int, ...]]], output: tuple[int, ...],
                path: tuple[tuple[int, ...], ...], sizes: tuple[int, ...]) -> str:
        """Source of Σ Π operands onto ``output``, each step of ``path`` (opt_einsum's: positions
        among the operands left, the result appended) on a line of its own."""
        operands = list(operands)
        for step in path:
            taken = [operands[k] for k in sorted(step)]
            for k in sorted(step, reverse=True):
                del operands[k]
            keep = set(output).union(*(idx for _, idx in operands))
            if len(taken) == 2 and not any(_repeats(idx) for _, idx in taken):
                result = self.pair(*taken, keep, sizes, output)
            elif len(taken) == 1 and not _repeats(taken[0][1]):
                order = tuple(i for i in taken[0][1] if i in keep)
                result = (self.single(*taken[0], order), order)
            else:
                order = tuple(dict.fromkeys(i for _, idx in taken for i in idx if i in keep))
                result = (self.einsum(taken, order), order)
            operands.append(result)
        ((name, indices),) = operands
        return self.einsum([(name, indices)], output) if _repeats(indices) else self.single(name, indices, output)

    def single(self, name: str, indices: tuple[int, ...], output: tuple[int, ...]) -> str:
        """``name`` summed over the indices ``output`` lacks, its axes then put in ``output``'s order."""
        summed = tuple(p for p, i in enumerate(indices) if i not in output)
        if summed:
            name = self.line(f"{name}.sum(axis={summed})")
            indices = tuple(i for i in indices if i in output)
        return name if indices == output else self.line(_transposed(name, indices, output))

    def line(self, text: str) -> str:
        """A fresh name assigned ``text``."""
        name = self.fresh("t", numbered=True)
        self.lines.append(f"{name} = {text}")
        return name

    def einsum(self, operands: list[tuple[str, tuple[int, ...]]], output: tuple[int, ...]) -> str:
        """One np.einsum over ``operands`` (numpy's C loop: no path, nothing parsed in Python)."""
        letter = {i: _letter(k) for k, i in enumerate(dict.fromkeys(i for _, idx in operands for i in idx))}

        def word(indices) -> str:
            return "".join(letter[i] for i in indices)

        equation = ",".join(word(idx) for _, idx in operands) + "->" + word(output)
        return self.line(_np_einsum(equation, [name for name, _ in operands]))

    def pair(self, a: tuple[str, tuple[int, ...]], b: tuple[str, tuple[int, ...]], keep: set[int],
             sizes: tuple[int, ...], output: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
        """Σ a b over the indices both carry that ``keep`` lacks: ``@`` when there are some
        (the operand carrying ``output``'s earlier indices on the left), else a broadcast
        product; an index only one of them carries, and ``keep`` lacks, summed first."""
        (x, xi), (y, yi) = a, b
        alone = [p for p, i in enumerate(xi) if i not in yi and i not in keep]
        if alone:
            x, xi = self.line(f"{x}.sum(axis={tuple(alone)})"), tuple(i for i in xi if i in yi or i in keep)
        alone = [p for p, i in enumerate(yi) if i not in xi and i not in keep]
        if alone:
            y, yi = self.line(f"{y}.sum(axis={tuple(alone)})"), tuple(i for i in yi if i in xi or i in keep)
        summed = tuple(i for i in xi if i in yi and i not in keep)
        if not summed:  # a Hadamard or outer product: x's axes, then y's others
            order = xi + tuple(i for i in yi if i not in xi)
            if not set(xi) & set(yi):  # an outer product is written in the output's order: no strided copy later
                rank = {i: p for p, i in enumerate(output)}
                order = tuple(sorted(order, key=lambda i: (rank.get(i, len(output)), order.index(i))))
            return self.line(f"{_expanded(x, xi, order)} * {_expanded(y, yi, order)}"), order
        batch = tuple(i for i in xi if i in yi and i in keep)
        rows, cols = tuple(i for i in xi if i not in yi), tuple(i for i in yi if i not in xi)
        first = {i: p for p, i in reversed(list(enumerate(output)))}

        def place(indices) -> int:
            return min((first.get(i, len(output)) for i in indices), default=len(output))

        # A @ x, not x @ A.T; A @ W, not (W.T @ A.T).T
        if (not batch and not rows and cols) or (rows and cols and place(cols) < place(rows)):
            (x, xi), (y, yi), rows, cols = (y, yi), (x, xi), cols, rows
        row_vector, column_vector = not batch and not rows, not batch and not cols
        product = (f"{_matrix(x, xi, batch, rows, summed, sizes, row_vector)} @ "
                   f"{_matrix(y, yi, batch, summed, cols, sizes, column_vector)}")
        natural = tuple(sizes[i] for i in batch)  # the shape @ gives
        natural += () if row_vector else (math.prod(sizes[i] for i in rows),)
        natural += () if column_vector else (math.prod(sizes[i] for i in cols),)
        order = batch + rows + cols
        shape = tuple(sizes[i] for i in order)
        return self.line(product if natural == shape else f"({product}).reshape({shape})"), order

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


def reserved_names() -> set[str]:
    """Names generated code uses for itself: numpy and the helper functions."""
    return {"np", helper_name(_GRAM_HELPER)} | {
        helper_name(entry.helper) for entry in (*OPS.values(), *FUNCTIONS.values()) if entry.helper
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


def array_literal(value: np.ndarray) -> str:
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




# Below this many elements in the largest array a call creates, holding every intermediate
# to the end costs little memory, and the code reads better without ``del`` lines.
_RELEASE_FROM = 2**15


def _released(lines: tuple[str, ...], temporaries: list[str]) -> tuple[str, ...]:
    """``lines`` with each intermediate deleted after the last line that reads it, so a call
    holds no more arrays at once than the step interpreter does."""
    last: dict[str, int] = {}
    wanted = set(temporaries)
    for k, line in enumerate(lines):
        for node in ast.walk(ast.parse(line)):
            if isinstance(node, ast.Name) and node.id in wanted:
                last[node.id] = k
    dead: dict[int, list[str]] = {}
    for name in temporaries:
        if name in last:
            dead.setdefault(last[name], []).append(name)
    out: list[str] = []
    for k, line in enumerate(lines):
        out.append(line)
        if k in dead and k + 1 < len(lines):
            out.append(f"del {', '.join(dead[k])}")
    return tuple(out)


def _checked(numpy: Callable, node: Call, *args):
    return numpy(node, list(args))


def _scaled(text: str, factor: float) -> str:
    return text if factor == 1 else f"{_number(factor)} * {text}"


def _repeats(indices: tuple[int, ...]) -> bool:
    return len(set(indices)) != len(indices)


def _transposed(name: str, indices: tuple[int, ...], order: tuple[int, ...]) -> str:
    """``name`` (axes ``indices``) with its axes in ``order`` (the same indices)."""
    if indices == order:
        return name
    if len(order) == 2:
        return f"{name}.T"
    return f"{name}.transpose({tuple(indices.index(i) for i in order)})"


def _expanded(name: str, indices: tuple[int, ...], order: tuple[int, ...]) -> str:
    """``name`` broadcasting against axes ``order`` (a superset of ``indices``): its axes in
    that order, new axes where it lacks one after its first (leading ones come free)."""
    mine = tuple(i for i in order if i in indices)
    text = _transposed(name, indices, mine)
    tail = order[order.index(mine[0]):] if mine else ()
    if len(tail) != len(mine):
        text += "[" + ", ".join(":" if i in indices else "None" for i in tail) + "]"
    return text


def _matrix(name: str, indices: tuple[int, ...], batch: tuple[int, ...], rows: tuple[int, ...],
            cols: tuple[int, ...], sizes: tuple[int, ...], vector: bool) -> str:
    """``name`` as ``@`` reads it: batch axes, then rows × cols (one axis each, or only the
    columns of a ``vector``)."""
    text = _transposed(name, indices, batch + rows + cols)
    shape = tuple(sizes[i] for i in batch)
    if vector:
        shape += (math.prod(sizes[i] for i in rows + cols),)
    else:
        shape += (math.prod(sizes[i] for i in rows), math.prod(sizes[i] for i in cols))
    return text if shape == tuple(sizes[i] for i in batch + rows + cols) else f"{text}.reshape({shape})"


@dataclass(frozen=True, slots=True)
class Lowered:
    """A program as the body of a function of its variables (and ``dtype``, the dtype a call
    computes in): straight-line NumPy source, the constants and helper functions it reads."""

    lines: tuple[str, ...]
    results: tuple[str, ...]  # the outputs' names in the body
    views: tuple[bool, ...]  # per output: whether it may be a read-only view or a numpy scalar
    constants: Mapping[str, np.ndarray]
    helpers: tuple[str, ...]  # source of helper functions the body calls
    bound: Mapping[str, Callable]  # the checked functions of whole tensors (``checked=True``)
    dtype: str  # the name of the dtype argument
    uses_dtype: bool

    @property
    def body(self) -> str:
        return "\n".join(self.lines)

    def function(self, arguments: Sequence[str]) -> Callable:
        """The body compiled once, as ``f(dtype, *arguments) -> list of results``."""
        namespace = {"np": np, **self.constants, **self.bound}
        for helper in self.helpers:
            exec(compile(helper, "<einsdiff helper>", "exec"), namespace)  # noqa: S102 - our own source
        source = (f"def lowered({', '.join([self.dtype, *arguments])}):\n"
                  + "".join(f"    {line}\n" for line in self.lines) + f"    return [{', '.join(self.results)}]\n")
        exec(compile(source, "<einsdiff lowered program>", "exec"), namespace)  # noqa: S102 - our own source
        return namespace["lowered"]


def source_names(names: Sequence[str]) -> dict[str, str]:
    """A Python identifier for each variable name: itself where it can be one and hides
    nothing the body uses, else ``v0``, ``v1``, ...

    >>> source_names(["x", "np", "W'"])
    {'x': 'x', 'np': 'v0', "W'": 'v1'}
    """
    reserved, given, k = reserved_names(), {}, 0
    for name in names:
        if name.isidentifier() and not keyword.iskeyword(name) and name not in reserved:
            given[name] = name
    for name in names:
        if name not in given:
            while f"v{k}" in given.values() or f"v{k}" in names:
                k += 1
            given[name] = f"v{k}"
            k += 1
    return {name: given[name] for name in names}


def lower(program: Program, taken: frozenset[str] = frozenset(), names: Mapping[str, str] | None = None, *,
          checked: bool = False) -> Lowered:
    """``program`` as straight-line source; ``names`` gives a variable's name in the source
    where it is not its own, ``taken`` names the body must leave alone; ``checked`` calls
    the functions of whole tensors through their checked values (an
    :class:`~einsdiff.EvaluationError` for a singular matrix) instead of printing their source."""
    names = dict(names or {})
    given = {names.get(v.name, v.name) for v in variables_of(*program.outputs)}
    writer = NumpyWriter(set(taken) | given | reserved_names(), variables=names, checked=checked)
    for step in program.steps:
        writer.write(step)
    results = tuple(writer.names[e] for e in program.outputs)
    lines = tuple(writer.lines)
    if program.plan.peak_elements >= _RELEASE_FROM:
        lines = _released(lines, [t for t in writer.temporaries if t not in results])
    return Lowered(
        lines, results,
        tuple(r in writer.shared_views or e.ndim == 0 for r, e in zip(results, program.outputs, strict=True)),
        dict(writer.constant_values), tuple(writer.helpers), dict(writer.bound), writer.dtype, writer.uses_dtype,
    )
