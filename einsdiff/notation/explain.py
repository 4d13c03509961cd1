"""Derivations a learner can follow: ``ed.explain(f, wrt)``, one rule a line.

The walk goes top-down through ``f``: a sum takes the sum rule, a product the
product rule (one term per factor that depends on the variable), an elementwise
function the chain rule with its derivative, a function of whole tensors (inv, det,
solve, ...) its own rule and then the chain rule through its arguments. A factor that is itself a formula
becomes a named intermediate ``U1, U2, ...``, and the chain rule through it is the
contraction over its grouped indices. Each level of a small intermediate ends with its
simplified result, computed by :func:`einsdiff.jacobian`, so every line can be checked on its
own. A big subexpression that a line would write twice, or that an earlier line wrote out,
is written by the name of an intermediate (defined once, on a ``let`` line), so a
derivation grows with the size of the expression's graph: linearly with the depth of
nested layers, where the formula written out grows exponentially.
"""

from __future__ import annotations

import collections
import itertools
import math
import numbers
from dataclasses import dataclass

import numpy as np

from ..calculus.derive import _check_f, _check_wrt, jacobian
from ..errors import OperandError, OptionError
from ..engine.evaluate import evaluate
from ..ir.expr import Add, Call, Const, Contract, Expr, Map, Var, bare
from ..ir.layout import layout
from .matrixform import derivative_notation
from ..ir.functions import FUNCTIONS
from .printing import Latex, Text, _fmt_number
from .tree import (LETTERS as _LETTERS, Builder, Delta, Equals, Node, Number, Paren, Partial, Phrase, Product, Ref,
                   Piecewise, Sigma, Terms, Word, is_sum, product, reading_order, supply, to_tree)
from ..ir.simplify import substitute
from ..ir.variables import children, topological, variables

_MAX_PRINTED = 4096  # entries of a numeric matrix worth reading
_BIG = 12  # nodes a subexpression spans written out, from which a second writing gets a name instead
# Nodes of an intermediate up to which its level ends with its own simplified Jacobian ("so: ..."):
# past it that Jacobian is long, and costs a derivative of its whole graph at each level.
_SO_NODES = 12


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a derivation: the rule it applies, what it says (a notation tree) and a
    note (wording, with math in it)."""

    rule: str
    math: Node
    note: tuple[str | Node, ...] = ()


@dataclass(frozen=True, slots=True)
class Matrix:
    """Numbers printed under the step before, as rows."""

    rows: tuple[tuple[float, ...], ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    """A derivation's steps and how they are written (plain text or LaTeX); ``str()`` gives its lines."""

    steps: tuple[Step | Matrix, ...]
    latex: bool = False

    def lines(self) -> list[str]:
        n = _Notation(self.latex)
        return [line for step in self.steps for line in n.lines(step)]

    def __str__(self) -> str:
        return "\n".join(self.lines())


class _Notation:
    """How a derivation line looks: plain text or LaTeX."""

    def __init__(self, latex: bool):
        self.latex = latex
        self.style = Latex() if latex else Text()

    def shape(self, shape) -> Word:
        return Word((r" \times " if self.latex else "×").join(map(str, shape)) or "1")

    def note(self, note) -> str:
        """Wording as it is; math in it rendered, between dollars in LaTeX (whose notes are text)."""
        return "".join(piece if isinstance(piece, str) else
                       f"${self.style.render(piece)}$" if self.latex else self.style.render(piece) for piece in note)

    def lines(self, step) -> list[str]:
        if isinstance(step, Matrix):
            return self.matrix(step.rows)
        math_, note = self.style.render(step.math), self.note(step.note)
        if self.latex:
            tail = rf"\quad \text{{({note})}}" if note else ""
            return [rf"\text{{{step.rule}:}}\quad {math_}{tail}"]
        return [f"{step.rule}: {math_}" + (f"   ({note})" if note else "")]

    def matrix(self, rows) -> list[str]:
        cells = [[_number(v) for v in row] for row in rows]
        if self.latex:
            body = r" \\ ".join(" & ".join(row) for row in cells)
            return [rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"]
        width = max(len(c) for row in cells for c in row)
        return ["  [ " + "  ".join(c.rjust(width) for c in row) + " ]" for row in cells]


def _d(num: Node, den: Node) -> Partial:
    return Partial(num, (den,))


def _over(names, body: Node) -> Node:
    """``body`` summed over ``names`` (none: as it is)."""
    return Sigma(tuple(names), body) if names else body


def _intermediate(expr: Expr, n: _Notation) -> tuple:
    return ("an intermediate of shape ", n.shape(expr.shape)) if expr.ndim else ("a scalar intermediate",)


def _number(v: float) -> str:
    v = float(v)
    return _fmt_number(v) if v.is_integer() else f"{v:.6g}"


class _Explainer:
    def __init__(self, wrt: Var, dnames: tuple[str, ...], notation: _Notation, letters: dict, prefix: str):
        self.wrt, self.dnames, self.n = wrt, dnames, notation
        self.letters = letters  # each variable's axes as the formula wrote them: summed indices keep them
        self.builder = Builder(letters=letters)  # asked which letters an index runs along, as to_tree does
        self.den = Ref(wrt.name, dnames)
        self.steps: list[Step | Matrix] = []
        self.named: dict[Expr, tuple[Var, tuple[str, ...]]] = {}
        self.table: dict[Expr, str] = {}  # intermediates written by name: big ones seen before
        self.seen: set[Expr] = set()  # big subexpressions already written out on the page
        self.derived: set[Expr] = set()
        self.intermediates = (f"{prefix}{k}" for k in itertools.count(1))
        self.top_chain = None  # (f with U as a variable, U, U's formula) for the numeric chain rule
        self.shown: set[Node] = set()  # right sides already on the page
        self.last_math: Node | None = None

    def say(self, rule: str, math_: Node, note=()) -> None:
        self.steps.append(Step(rule, math_, tuple(note)))
        self.last_math = math_

    def define(self, rule: str, label: Node, body: Node, note=()) -> None:
        self.shown.add(body)
        self.say(rule, Equals((label, body)), note)

    def body(self, expr: Expr, names) -> Node:
        """``expr`` written out, with each big subexpression it repeats, or that an earlier line
        wrote out, by the name of an intermediate: so a derivation grows with the size of the
        expression's graph, not with the size of the formula written out (exponential in depth)."""
        root = bare(expr)

        def inner(node):  # a named subexpression is written as a name: its insides are not on the line
            return () if node in self.table and node != root else tuple(bare(c) for c in children(node))

        order = topological([root], inner)  # children first
        size = {}
        for node in order:
            size[node] = min(1 + sum(size[c] for c in inner(node)), _BIG)
        written = collections.Counter({root: 1})  # how often the line would write each node out
        chosen = set()
        for node in reversed(order):  # parents first: a node's count is complete when it is reached
            if node != root and size[node] >= _BIG and (written[node] >= 2 or node in self.seen):
                chosen.add(node)
            for child in inner(node):
                written[child] += 1 if node in chosen else written[node]
        for node in order:
            if node in chosen:
                self.name(node)
        tree = to_tree(expr, tuple(names), self.letters, avoid=self.dnames, named=self.table,
                       named_reductions=self.n.style.named_reductions).body
        self.seen.update(node for node in topological([root], inner) if size.get(node, 0) >= _BIG)
        return tree

    def name(self, node: Expr) -> None:
        """Write ``node`` by the name of an intermediate from now on, defining one if it has none."""
        if node not in self.named:
            u = Var(next(self.intermediates), node.shape)
            names = tuple(itertools.islice(self.spare(()), node.ndim))
            self.named[node] = (u, names)
            self.define("let", Ref(u.name, names), self.body(node, names),
                        (*_intermediate(node, self.n), ", used more than once"))
        self.table[node] = self.named[node][0].name

    def result(self, node: Expr, names) -> Node:
        return self.body(jacobian(node, self.wrt), tuple(names) + self.dnames)

    @staticmethod
    def ref(node: Expr, names) -> Node:
        if isinstance(node, Const) and node.ndim == 0:
            return Number(float(node.value))
        return Ref(getattr(node, "name", "C"), tuple(names))

    def derive(self, node: Expr, label: Node, names: tuple[str, ...], top: bool = False) -> None:
        """Explain ∂label/∂wrt, where ``label`` is ``node`` with free indices ``names``."""
        dl = _d(label, self.den)
        if self.wrt not in variables(node):
            self.say("constant", Equals((dl, Number(0.0))), (label, f" does not depend on {self.wrt.name}"))
            return
        node = bare(node)
        if node == self.wrt:
            deltas = [Delta(a, b) for a, b in zip(names, self.dnames, strict=True)]
            self.say("derivative of a variable", Equals((dl, product(1, deltas))),
                     ("each index of the variable meets its derivative index in a delta",))
            return
        if isinstance(node, Add):
            self.add(node, dl, names)
        elif isinstance(node, Contract):
            self.product(node, label, dl, names, top)
        elif isinstance(node, Map):
            self.elementwise(node, dl, names)
        elif isinstance(node, Call) and node.fn == "where":
            self.where(node, dl, names)
        elif isinstance(node, Call):
            self.call(node, label, dl, names, top)
        else:
            self.say("reshape", Equals((dl, self.result(node, names))))
            return
        if top or not _small(node):  # the top level ends with the result
            return
        so = Equals((dl, self.result(node, names)))
        if so != self.last_math:
            self.say("so", so)

    def add(self, node: Add, dl: Node, names) -> None:
        labels = []
        for term in node.terms:
            tree = self.body(term, names)
            self.shown.add(tree)
            labels.append(Paren(tree) if self.n.style.spaced(tree) else tree)
        parts = []
        for k, (label, c) in enumerate(zip(labels, node.coeffs, strict=True)):
            sign = "-" if c < 0 else ("+" if k else "")
            mag = "" if abs(c) == 1 else f"{_fmt_number(abs(c))} "
            lead = f"{sign} {mag}".lstrip()
            parts += [Word(" " if k else ""), Word(lead), _d(label, self.den)]
        self.say("sum rule", Equals((dl, Phrase(tuple(parts)))), ("differentiate term by term",))
        for term, label in zip(node.terms, labels, strict=True):
            self.derive(term, label, names)

    def elementwise(self, node: Map, dl: Node, names) -> None:
        arg_label, arg_var = self.operand_label(node.arg, names)
        u = Var("u", ())
        rule = FUNCTIONS[node.fn].derivative(u, Map(node.fn, u, node.param), node.param)
        here = FUNCTIONS[node.fn].derivative(arg_var, Map(node.fn, arg_var, node.param), node.param)
        slope_here = Number(0.0) if here is None else self.body(here, names)
        if is_sum(slope_here):  # (1 - square(tanh(u))) ∂u, not 1 - square(tanh(u)) ∂u
            slope_here = Paren(slope_here)
        slope = Number(0.0) if rule is None else self.body(rule, ())
        self.say(f"chain rule for the elementwise {node.fn}",
                 Equals((dl, Product(1.0, (slope_here, _d(arg_label, self.den))))),
                 (Equals((Word(f"{node.fn}'(u)"), slope)),))
        if arg_var != node.arg:
            self.derive_intermediate(node.arg, arg_var)

    def rule_note(self, fn: str) -> tuple:
        """The function's rule, from its registry entry, as a step's note."""
        note = FUNCTIONS[fn].notation
        return (Word(note.rule_latex),) if self.n.latex else (note.rule_text,)

    def call(self, node: Call, label: Node, dl: Node, names, top: bool) -> None:
        """The function's rule for ∂label/∂(each argument), then the chain rule through the arguments."""
        entry = FUNCTIONS[node.fn]
        rule, note = entry.notation.rule, self.rule_note(node.fn)
        args = [bare(arg) for arg in node.args]
        dependent = [k for k, arg in enumerate(args) if self.wrt in variables(arg) and k not in entry.constant_in]
        if not dependent:
            self.say(rule, Equals((dl, Number(0.0))), note)
            return
        spare = self.spare(names)
        slots = {k: self.dnames if args[k] == self.wrt else tuple(next(spare) for _ in args[k].shape)
                 for k in dependent}
        stands = [self.intermediate(arg, slots[k]) if k in slots and arg != self.wrt else arg
                  for k, arg in enumerate(args)]
        local = Call(node.fn, tuple(stands), node.param, node.shape)  # composite arguments as variables U
        terms = []
        for k in dependent:
            ref = Ref(stands[k].name, slots[k])
            outer = self.body(_partial(local, k), tuple(names) + slots[k])
            partial = (Phrase((outer, Word(", one term of "), dl)) if args[k] == self.wrt and len(dependent) > 1
                       else Equals((_d(label, ref), outer)))
            self.say(rule, partial, note if k == dependent[0] else ())
            chain = Product(1.0, (_d(label, ref), _d(ref, self.den)))
            terms.append(Paren(outer) if args[k] == self.wrt else _over(slots[k], chain))
        through = [k for k in dependent if args[k] != self.wrt]
        if len(terms) > 1 or through:
            self.say("chain rule" + "".join(f" through {stands[k].name}" for k in through),
                     Equals((dl, Terms(tuple(terms)))),
                     ("the contraction over each argument's indices, one term per argument that depends on "
                      f"{self.wrt.name}",))
        if top and len(dependent) == 1 and through:
            self.top_chain = (local, stands[dependent[0]], args[dependent[0]])
        for k in through:
            self.derive_intermediate(args[k], stands[k])

    def where(self, node: Call, dl: Node, names) -> None:
        """d where(m, a, b) = where(m, da, db): each branch's derivative where it is chosen."""
        mask, *branches = (bare(arg) for arg in node.args)
        parts, through = [], []
        for branch in branches:
            if self.wrt not in variables(branch):
                parts.append(Number(0.0))
                continue
            label, stand = self.operand_label(branch, names)
            parts.append(_d(label, self.den))
            if stand != branch:
                through.append((branch, stand))
        self.say(FUNCTIONS["where"].notation.rule, Equals((dl, Piecewise("where", (self.body(mask, names), *parts)))),
                 self.rule_note("where"))
        for branch, stand in through:
            self.derive_intermediate(branch, stand)

    def spare(self, names):
        """Index names for summed indices and arguments, as the printer names them: never a free
        or a derivative index."""
        taken = set(names) | set(self.dnames)
        return (c for c in supply() if c not in taken)

    def operand_label(self, operand: Expr, names) -> tuple[Node, Expr]:
        """A variable or constant stands for itself; anything else becomes a named intermediate."""
        if isinstance(operand, Var | Const):
            return self.ref(operand, names), operand
        u = self.intermediate(operand, names)
        return Ref(u.name, tuple(names)), u

    def intermediate(self, expr: Expr, names) -> Var:
        """The intermediate standing for ``expr``, defined (with index names ``names``) on first use."""
        expr = bare(expr)  # one name for a value, whether or not it is marked for materializing
        if expr not in self.named:
            u = Var(next(self.intermediates), expr.shape)
            self.named[expr] = (u, tuple(names))
            self.define("let", Ref(u.name, tuple(names)), self.body(expr, names), _intermediate(expr, self.n))
        return self.named[expr][0]

    def derive_intermediate(self, expr: Expr, u: Var) -> None:
        """Explain ∂U/∂wrt once, with U's own index names, however often U is used."""
        expr = bare(expr)
        if expr in self.derived:
            return
        self.derived.add(expr)
        names = self.named[expr][1]
        self.derive(expr, Ref(u.name, names), names)

    def product(self, node: Contract, label: Node, dl: Node, names, top: bool) -> None:
        label_of: dict[int, str] = {}
        deltas = []
        for name, i in zip(names, node.output, strict=True):
            if i in label_of:
                deltas.append(Delta(label_of[i], name))
            else:
                label_of[i] = name
        pool = self.spare(names)
        taken = set(label_of.values())
        for i in sorted({i for idx in node.inputs for i in idx} - set(label_of)):  # in to_tree's order
            written = [c for c in self.builder.letters_of(node, i) if c not in taken and c not in self.dnames]
            label_of[i] = written[0] if written else next(c for c in pool if c not in taken)
            taken.add(label_of[i])
        counts = collections.Counter(i for idx in node.inputs for i in idx)
        scale = layout(node).factor
        # Factors as references: composite operands become intermediates U1, U2, ...
        factors = []  # (operand, its index names, its tree, the variable standing for it)
        pairs = reading_order(node)  # as the printer orders them: A[i,k] W[k,j]
        inputs = [idx for _, idx in pairs]
        for op, idx in pairs:
            slot = tuple(label_of[i] for i in idx)
            if isinstance(op, Var | Const):
                factors.append((op, slot, self.ref(op, slot), op))
                continue
            own = slot  # U's definition needs distinct names; a repeated slot (U[k,k]) takes fresh ones
            if len(set(slot)) < len(slot):
                own = tuple(next(c for c in pool if c not in taken) for _ in slot)
            u = self.intermediate(op, own)
            factors.append((op, slot, Ref(u.name, slot), u))
        summed = [i for i in sorted(counts) if i not in node.output]
        explicit = [label_of[i] for i in summed if counts[i] < 2]

        def side_by_side(trees) -> Node:
            return product(scale, deltas + list(trees))

        whole = _over(explicit, side_by_side(f[2] for f in factors))
        if whole not in self.shown and Paren(whole) != label:
            self.say("as a product", Equals((label, whole)))
        terms, dependent = [], []
        for k, (op, slot, ftree, stand) in enumerate(factors):
            if self.wrt not in variables(op):
                continue
            terms.append(_over(explicit, side_by_side(_d(f[2], self.den) if m == k else f[2]
                                                      for m, f in enumerate(factors))))
            dependent.append(k)
        rule = "product rule" if len(factors) > 1 else "linearity"
        note = ("one term per factor that depends on " + self.wrt.name,) if len(factors) > 1 else ()
        if len(factors) > 1 or factors[0][0] == self.wrt:  # a lone intermediate: the chain rule says it
            self.say(rule, Equals((dl, Terms(tuple(terms)))), note)
        network = Contract(tuple(f[3] for f in factors), tuple(inputs), node.output, node.sizes)
        done = set()
        for k in dependent:
            op, slot, ftree, stand = factors[k]
            if op == self.wrt:
                self.variable_factor(node, inputs[k], slot, ftree, label_of)
                continue
            if stand in done:
                continue
            grouped = list(dict.fromkeys(n for n, i in zip(slot, inputs[k], strict=True) if i not in node.output))
            uses = [m for m in dependent if factors[m][3] == stand]
            if len(grouped) == len(slot) and all(factors[m][1] == slot for m in uses):
                # ∂f/∂U itself, so a factor used twice (U[i] U[i]) shows as one term (2 U[i]).
                outer = self.body(jacobian(network, stand), tuple(names) + slot)
                done.add(stand)
                whole_chain = len(uses) == len(dependent)
            else:
                outer = side_by_side(f[2] for m, f in enumerate(factors) if m != k)
                whole_chain = len(dependent) == 1
            chain = _over(grouped, Product(1.0, (_d(label, ftree), _d(ftree, self.den))))
            self.say(
                f"chain rule through {stand.name}",
                Equals((dl, chain)) if whole_chain else Phrase((chain, Word(", one term of "), dl)),
                (f"the contraction over the grouped indices {','.join(grouped) or '(none)'} of {stand.name} (shape ",
                 self.n.shape(op.shape), "), with ", Equals((_d(label, ftree), outer))),
            )
            if top and whole_chain:
                self.top_chain = (network, stand, op)
            self.derive_intermediate(op, stand)

    def variable_factor(self, node: Contract, idx, slot, ftree: Node, label_of) -> None:
        """∂W[l,j]/∂W[k,a] = δ[l,k] δ[j,a], and what each delta does to the product."""
        deltas = [Delta(a, b) for a, b in zip(slot, self.dnames, strict=True)]
        self.say("derivative of a variable", Equals((_d(ftree, self.den), product(1, deltas))))
        free = set(node.output)
        for delta, i, b in zip(deltas, idx, self.dnames, strict=True):
            a = label_of[i]
            if i in free:
                self.say("delta", delta, (f"{a} is free: the entry depends on ", self.den, f" only where {a} = {b}"))
            else:
                self.say("delta", delta, (f"renames the summed {a} to {b}: the sum over {a} collapses",))


def explain(f: Expr, wrt, values: dict | None = None, order: str = "row", latex: bool = False,
            name: str = "f", indices=None, wrt_indices=None, *, letters=None) -> str:
    """The derivation of ∂f/∂wrt as text, one step a line: :func:`explain_steps` written out.

    >>> import einsdiff as ed
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> print(ed.explain(A @ x, A))
    shapes: f has shape 2 and A has shape 2×3, so ∂f/∂A has shape (2)×(2×3), a 2×6 matrix when flattened
    formula: f[i] = A[i,j] x[j]
    product rule: ∂f[i]/∂A[a,b] = ∂A[i,j]/∂A[a,b] x[j]   (one term per factor that depends on A)
    derivative of a variable: ∂A[i,j]/∂A[a,b] = δ[i,a] δ[j,b]
    delta: δ[i,a]   (i is free: the entry depends on A[a,b] only where i = a)
    delta: δ[j,b]   (renames the summed j to b: the sum over j collapses)
    result: ∂f[i]/∂A[a,b] = δ[i,a] x[b]
    in matrix notation: ∂f/∂vec(A) = I ⊗ xᵀ   (vec stacks rows)
    """
    return str(explain_steps(f, wrt, values, order, latex, name, indices, wrt_indices, letters=letters))


def explain_steps(f: Expr, wrt, values: dict | None = None, order: str = "row", latex: bool = False,
                  name: str = "f", indices=None, wrt_indices=None, *, letters=None) -> Explanation:
    """The derivation of ∂f/∂wrt, one step a line: shapes, the sum, product and chain
    rules, each delta and the index it renames, and the simplified result. With
    ``values`` (arrays for the variables), also the Jacobian as a matrix of flattened
    indices in ``order`` "row" (C) or "column" (Fortran) major order, and the matrix
    notation for that order. ``letters`` (each variable's index letters as a formula
    wrote them, ``{"A": "ik", "W": "kj"}``) keeps the formula's summed letters; the
    derivative's own indices (``wrt_indices``, by default a, b, ...) are then letters the
    formula does not write.

    >>> import einsdiff as ed
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> steps = explain_steps(A @ x, A).steps
    >>> [step.rule for step in steps][:3]
    ['shapes', 'formula', 'product rule']
    >>> steps[-2].math
    Equals(sides=(Partial(num=Ref(name='f', indices=('i',)), den=(Ref(name='A', indices=('a', 'b')),)), Product(scale=1.0, factors=(Delta(a='i', b='a'), Ref(name='x', indices=('b',))))))
    """
    f = _check_f(f)
    wrt = _check_wrt(f, wrt)
    if order not in ("row", "column"):
        raise OptionError(f"order={order!r}: use 'row' (row-major, C order) or 'column' (column-major)")
    if not isinstance(name, str) or not name.isidentifier():
        raise OperandError(f"name={name!r}: the function's name must be an identifier")
    letters = _letters(letters)
    n = _Notation(bool(latex))
    out_names = _names(indices, f.shape, "indices", set())
    written = {c for ls in letters.values() for c in ls} | {v.name for v in variables(f)}
    dnames = _names(wrt_indices, wrt.shape, "wrt_indices", set(out_names), start="abcdefgh" + _LETTERS,
                    avoid=written)
    taken = {v.name for v in variables(f)}  # U1 names an intermediate unless a variable is called so
    prefix = next(p for p in "UVQRS" if not any(t.startswith(p) and t[len(p):].isdigit() for t in taken))
    ex = _Explainer(wrt, dnames, n, letters, prefix)
    label = Ref(name, out_names)
    dl = _d(label, ex.den)
    fs, ws = n.shape(f.shape).text, n.shape(wrt.shape).text
    rows, cols = math.prod(f.shape), math.prod(wrt.shape)
    if latex:
        shapes = (rf"{name} \in \mathbb{{R}}^{{{fs}}},\ {wrt.name} \in \mathbb{{R}}^{{{ws}}},\ "
                  rf"\frac{{\partial {name}}}{{\partial {wrt.name}}} \in \mathbb{{R}}^{{({fs}) \times ({ws})}} "
                  rf"\cong \mathbb{{R}}^{{{rows} \times {cols}}}")
    elif f.ndim == 0:
        shapes = (f"{name} is a scalar and {wrt.name} has shape {ws}, so ∂{name}/∂{wrt.name} has the shape "
                  f"of {wrt.name}, {ws} (a 1×{cols} row when flattened)")
    else:
        shapes = (f"{name} has shape {fs} and {wrt.name} has shape {ws}, so ∂{name}/∂{wrt.name} has shape "
                  f"({fs})×({ws}), a {rows}×{cols} matrix when flattened")
    ex.say("shapes", Word(shapes))
    ex.define("formula", label, ex.body(f, out_names))
    ex.derive(f, label, out_names, top=True)
    jac = jacobian(f, wrt)
    if wrt.symmetric:  # the steps above treat it as unconstrained; jacobian applies the convention
        said = (f"{wrt.name} is symmetric, so the derivative is the one within the symmetric matrices: "
                f"(G + Gᵀ)/2 of the G above, over {wrt.name}'s last two indices")
        if latex:
            said = (rf"\text{{{wrt.name} is symmetric: within the symmetric matrices the derivative is }} "
                    rf"\tfrac{{1}}{{2}}(G + G^\top)")
        ex.say("symmetric variable", Word(said))
    ex.say("result", Equals((dl, ex.body(jac, out_names + dnames))))
    if not latex:  # the same, as matrix-calculus notes write it, where vectors and matrices can
        try:
            ex.say("in matrix notation", Word(derivative_notation(f, wrt, jac, 1, name, vec=order)),
                   ("numerator layout: vectors are columns" if f.ndim + wrt.ndim <= 2 else f"vec stacks {order}s",))
        except OptionError:
            pass
    if values is not None:
        formulas = {u: expr for expr, (u, _) in ex.named.items()}
        ex.steps += _numbers(f, wrt, jac, values, order, n, ex.top_chain, formulas, name)
    return Explanation(tuple(ex.steps), bool(latex))


def _small(node: Expr) -> bool:
    """At most ``_SO_NODES`` nodes in ``node``'s graph (counted only that far, so a walk stays linear)."""
    seen, todo = {node}, [node]
    while todo and len(seen) <= _SO_NODES:
        for child in children(todo.pop()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return len(seen) <= _SO_NODES


def _partial(node: Call, k: int) -> Expr:
    """∂node/∂(its argument k) alone, even where that argument also stands at another place (solve(X, X))."""
    probe = Var("∂", node.args[k].shape)  # a name no variable has
    own = Call(node.fn, node.args[:k] + (probe,) + node.args[k + 1:], node.param, node.shape)
    return substitute(jacobian(own, probe), {probe: node.args[k]})


def _names(given, shape, what: str, taken: set, start: str = _LETTERS, avoid=frozenset()) -> tuple[str, ...]:
    """The ``given`` index names, checked; by default the first of ``start`` not taken nor avoided."""
    if given is None:
        pool = (c for c in supply(start) if c not in taken and c not in avoid)
        return tuple(itertools.islice(pool, len(shape)))
    names = tuple(given)
    if len(names) != len(shape) or len(set(names)) != len(names) or set(names) & taken or not all(
        isinstance(c, str) and c.isidentifier() for c in names
    ):
        raise OperandError(f"{what}={given!r}: give {len(shape)} distinct identifier names, not used elsewhere")
    return names


def _letters(letters) -> dict[str, tuple[str, ...]]:
    """``letters`` checked, as a dict from variable names to tuples of index letters."""
    if letters is None:
        return {}
    if not isinstance(letters, dict) or not all(isinstance(name, str) for name in letters):
        raise OperandError(f"letters={letters!r}: give a dict from variable names to their index letters, "
                           f"e.g. {{'A': 'ik', 'W': 'kj'}}")
    out = {}
    for name, written in letters.items():
        written = tuple(written) if isinstance(written, str | tuple | list) else None
        if written is None or not all(isinstance(c, str) and c.isidentifier() for c in written):
            raise OperandError(f"letters[{name!r}]={letters[name]!r}: give the variable's index letters, e.g. 'ik'")
        out[name] = written
    return out


def _numbers(f: Expr, wrt: Var, jac: Expr, values: dict, order: str, n: _Notation, chain, formulas: dict,
             name: str) -> list:
    """The Jacobian as numbers: a matrix of flattened indices (and the chain rule's product;
    ``formulas`` gives each intermediate U's expression)."""
    if not isinstance(values, dict):
        raise OperandError(f"values must be a dict of arrays by variable name, got {type(values).__name__}")
    fortran = order == "column"
    rows, cols = math.prod(f.shape), math.prod(wrt.shape)
    if rows * cols > _MAX_PRINTED:
        return [Step("numbers", Word(f"the {rows}×{cols} Jacobian matrix is too large to print"))]

    def flat(j, lead: int) -> np.ndarray:
        """Rows: the first ``lead`` axes flattened (vec); columns: the rest."""
        j = np.asarray(j)
        if fortran:
            j = np.transpose(j, tuple(reversed(range(lead))) + tuple(reversed(range(lead, j.ndim))))
        return np.reshape(j, (math.prod(j.shape[:lead]), math.prod(j.shape[lead:])))

    def vec(name: str) -> Word:
        return Word(rf"\operatorname{{vec}}({name})" if n.latex else f"vec({name})")

    def show(rule: str, num: Word, den: Word, matrix: np.ndarray) -> list:
        rows_ = tuple(tuple(float(v) for v in row) for row in np.atleast_2d(matrix))
        return [Step(rule, _d(num, den), (n.shape(matrix.shape),)), Matrix(rows_)]

    where = f"{order}-major vec"
    J = np.asarray(evaluate(jac, _needed(jac, values)))
    lines = []
    if f.ndim == 0:
        if chain is not None:
            network, u, formula = chain
            outer, inner = jacobian(network, u), jacobian(formula, wrt)
            g = evaluate(outer, _needed(outer, values, formulas))  # ∂f/∂U may read U and other intermediates
            du = evaluate(inner, _needed(inner, values))
            lines += show(f"chain rule in numbers ({where})", Word(name), vec(u.name), flat(np.asarray(g)[None], 1))
            lines += show("times", vec(u.name), vec(wrt.name), flat(du, u.ndim))
        lines += show(f"gradient as a row ({where})", Word(name), vec(wrt.name), flat(J[None], 1))
        if wrt.ndim == 2:
            lines += show(f"reshaped to the shape of {wrt.name}", Word(name), Word(wrt.name), J)
        return lines
    return show(f"Jacobian matrix ({where})", vec(name), vec(wrt.name), flat(J, f.ndim))


def _needed(expr: Expr, values: dict, formulas=None) -> dict:
    """The bindings ``expr`` reads (an unused value is no error here; a missing one is), an
    intermediate in ``formulas`` (U → its expression) evaluated from the values."""
    out = {}
    for v in variables(expr):
        if formulas and v in formulas:
            out[v.name] = evaluate(formulas[v], _needed(formulas[v], values))
            continue
        if v.name not in values:
            raise OperandError(f"explain needs a value for variable {v.name!r} of shape {v.shape} to print numbers")
        value = values[v.name]
        out[v.name] = np.asarray(value, dtype=float) if isinstance(value, list | tuple | numbers.Number) else value
    return out
