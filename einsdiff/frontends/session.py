"""What the command line and the playground share: a formula read from text (:class:`Formula`),
its derivative with the index names every format prints it with (:class:`Derivation`), and
the numeric check against finite differences at a random point (:class:`Check`).

>>> formula = build_formula("Z[i,j] = A[i,k]*W[k,j]", "W", {"A": (2, 3), "W": (3, 2)})
>>> d = differentiate(formula, 1)
>>> print(d.formula_line(Text()))
Z[i,j] = A[i,k] W[k,j]
>>> print(*d.derivative_lines(Text()))
∂Z[i,j]/∂W[a,b] = δ[j,b] A[i,a]; j:2, b:2
>>> d.shape_text, check(d, seed=0).ok
('(2×2)×(3×2)', True)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..calculus.derive import hessian, jacobian
from ..config import config
from ..engine.evaluate import evaluate
from ..errors import EvaluationError, MemoryLimitError, OperandError, OptionError, ShapeError
from ..ir.expr import Call, Expr, Var
from ..ir.variables import topological, variables
from ..notation.codegen import to_numpy_code
from ..notation.explain import explain
from ..notation.matrixform import derivative_notation, vec_order
from ..notation.parse import formula_letters, read
from ..notation.printing import Latex, Text, definitions, derivative_head, line  # noqa: F401 - Latex: doctests
from ..notation.tree import LETTERS, Ref
from ..testing.oracles import finite_difference_jacobian, finite_difference_margin

__all__ = ["Check", "Derivation", "Formula", "Sample", "build_formula", "check", "derivation", "differentiate",
           "heading", "index_names", "parse_shape", "sample_point"]


@dataclass(frozen=True)
class Formula:
    """A function read from text, and the variable to differentiate it by."""

    expr: Expr
    wrt: Var
    name: str  # the left side's name, "f" when the text has none
    indices: tuple[str, ...] | None  # the free indices as written (None: not writable, e.g. an ellipsis)
    wrt_letters: tuple[str, ...] | None  # the letters the text writes on wrt's axes
    letters: Mapping[str, tuple[str, ...]]  # every variable's letters as written
    notation: str = "index"  # how the text was written: "index", or "matrix" (it writes no indices)


@dataclass(frozen=True)
class Derivation:
    """The derivative of ``order`` 1 or 2 of a :class:`Formula`, with the index names every
    format prints it with: ``indices`` for the formula's free axes, then ``wrt_indices``,
    ``order`` groups of one name per axis of the variable."""

    formula: Formula
    order: int
    derivative: Expr
    indices: tuple[str, ...]
    wrt_indices: tuple[str, ...]

    @property
    def shape_text(self) -> str:
        """The derivative's shape as grouped axes: (2×2)×(3×2)."""
        f, wrt = self.formula.expr, self.formula.wrt
        return "×".join(f"({'×'.join(map(str, s)) or '1'})" for s in (f.shape,) + (wrt.shape,) * self.order)

    def formula_line(self, style: Text) -> str:
        """``Z[i,j] = A[i,k] W[k,j]`` in ``style``."""
        return line(style, Ref(self.formula.name, self.indices), self.formula.expr, self.indices,
                    letters=self.formula.letters)

    def derivative_lines(self, style: Text, named: Mapping | None = None) -> list[str]:
        """The definitions of the subexpressions ``named`` (t1, t2, ...), then
        ``∂Z[i,j]/∂W[a,b] = ...`` in ``style``."""
        named = named or {}
        letters = self.formula.letters
        head = derivative_head(self.formula.name, self.indices, self.formula.wrt.name, self.wrt_indices, self.order)
        return [*definitions(named, style, letters),
                line(style, head, self.derivative, self.indices + self.wrt_indices, named=named, letters=letters)]

    def matrix_notation(self, vec: str = "row") -> str:
        """∂L/∂x = 2 Aᵀ (A x − y), or ∂vec(Z)/∂vec(W) = A ⊗ I with how vec flattens; raises
        :class:`~einsdiff.OptionError` where matrices cannot write it."""
        f, wrt = self.formula.expr, self.formula.wrt
        text = derivative_notation(f, wrt, self.derivative, self.order, self.formula.name, vec=vec)
        return f"{text}   (vec stacks {vec_order(vec)}s)" if self.derivative.ndim > 2 else text  # Kronecker forms flatten

    def numpy_code(self) -> str:
        """A module of NumPy code for the value and the derivative (``jacobian`` or ``hessian``)."""
        key = "hessian" if self.order == 2 else "jacobian"
        return to_numpy_code({"value": self.formula.expr, key: self.derivative}, name=self.formula.name)

    def steps(self, values: Mapping | None = None, flatten: str = "row") -> str:
        """The derivation step by step (:func:`derivation`)."""
        f = self.formula
        return derivation(f.expr, f.wrt, f.name, self.indices, self.wrt_indices, self.order, values, flatten,
                          letters=f.letters)


def differentiate(formula: Formula, order: int) -> Derivation:
    """The derivative of ``order`` 1 (the Jacobian) or 2 (the Hessian), its indices named
    apart from every letter the formula writes (:func:`index_names`)."""
    if order not in (1, 2):
        raise OptionError(f"order {order}: give 1 (the Jacobian) or 2 (the Hessian)")
    f, wrt = formula.expr, formula.wrt
    derivative = hessian(f, wrt) if order == 2 else jacobian(f, wrt)
    free, dnames = index_names(f, wrt, formula.indices, formula.wrt_letters, order, written=formula.letters)
    return Derivation(formula, order, derivative, free, dnames)


def heading(style: Text, name: str, indices, wrt: str, wrt_indices, order: int) -> str:
    """The left side of a derivative, ``∂f[i]/∂x[a]`` (``∂²f/∂x[a] ∂x[b]`` for ``order`` 2),
    in ``style``: text, LaTeX or MathML.

    >>> heading(Text(), "f", "i", "x", "ab", 2), heading(Latex(), "f", "i", "x", "a", 1)
    ('∂²f[i]/∂x[a] ∂x[b]', '\\\\frac{\\\\partial f_{i}}{\\\\partial x_{a}}')
    """
    return style.render(derivative_head(name, tuple(indices), wrt, tuple(wrt_indices), order))


def parse_shape(text: str, what: str) -> tuple[int, ...]:
    """``3x4`` (or ``3×4``, ``3,4``, ``(3, 4)``; ``scalar`` for ()) as a shape; ``what`` names it in the error.

    >>> parse_shape("3x4", "x"), parse_shape("(3,)", "x"), parse_shape("scalar", "x")
    ((3, 4), (3,), ())
    """
    text = text.strip()
    if text in ("scalar", "()", ""):
        return ()
    parts = text.removeprefix("(").removesuffix(")").removesuffix(",").replace("×", "x").replace(",", "x").split("x")
    if not all(part.strip().isdigit() for part in parts):
        raise ShapeError(f"{what}: {text!r} is not a shape; write sizes joined by x, e.g. 3x4, or 'scalar'")
    return tuple(int(part) for part in parts)


def build_formula(expression: str, wrt: str, sizes: Mapping[str, tuple[int, ...]], notation: str = "auto",
                  symmetric: Sequence[str] = ()) -> Formula:
    """A formula in index or matrix notation (``notation`` as :func:`~einsdiff.parse` takes it)
    with its variables' shapes, to differentiate by ``wrt``. The variables given ``sizes`` are
    read as variables (``A (x[i])`` is then a product), as :func:`~einsdiff.parse` reads them;
    those named in ``symmetric`` are symmetric matrices (``ed.var(name, shape, symmetric=True)``).

    >>> d = differentiate(build_formula("x'*S*x", "x", {"x": (3,), "S": (3, 3)}, symmetric=["S"]), 1)
    >>> print(d.derivative_lines(Text())[-1])
    ∂f/∂x[a] = 2 S[a,i] x[i]
    """
    bound = dict(sizes)
    for name in symmetric:
        if name not in sizes:
            listed = ", ".join(sizes) or "none"
            raise OperandError(f"symmetric {name!r}: no variable {name!r} has a shape; give it one "
                               f"(the variables with shapes: {listed})")
        shape = tuple(sizes[name])
        if len(shape) < 2 or shape[-1] != shape[-2]:
            n = (shape or (3,))[-1]
            raise ShapeError(f"symmetric {name!r}: {name} has shape {shape}, but a symmetric matrix is square; "
                             f"give it a shape n×n, e.g. {name}={n}x{n}")
        bound[name] = Var(name, shape, symmetric=True)
    f, reading = read(expression, notation=notation, **bound)
    name, out, letters = formula_letters(expression, tuple(sizes), notation)
    by_name = {v.name: v for v in variables(f)}
    var = by_name.get(wrt)
    if var is None:
        has = f"it has {', '.join(sorted(by_name))}" if by_name else "it has none (it is a constant)"
        raise OperandError(f"--wrt {wrt!r} is not a variable of the formula; {has}")
    # Text with no indices (logdet(X)) reads alike in both; with a vector or matrix in it, it
    # was written as matrices are.
    tensors = any(v.ndim for v in variables(f))
    written = "matrix" if reading == "matrix" or ("[" not in expression and tensors) else "index"
    return Formula(f, var, name or "f", out, letters.get(var.name), letters, written)


def index_names(f: Expr, wrt: Var, out, letters, count: int, *,
                written: Mapping | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Free names of f (the formula's own), then ``count`` groups of derivative names that
    follow the variable's ``letters`` where those are free, else a, b, c, ... (never a
    variable's name). With ``written`` (every variable's letters as the formula wrote them),
    every group takes letters the formula does not write, so that a derivative printed beside
    the formula keeps the formula's own letters and never reuses one for another index.

    >>> import einsdiff as ed
    >>> Z = ed.parse("Z[i,j] = A[i,k]*W[k,j]", A=(2, 3), W=(3, 2))
    >>> W = ed.var("W", (3, 2))
    >>> index_names(Z, W, "ij", "kj", 1)
    (('i', 'j'), ('k', 'a'))
    >>> index_names(Z, W, "ij", "kj", 1, written={"A": "ik", "W": "kj"})
    (('i', 'j'), ('a', 'b'))
    >>> index_names(Z, W, "ij", "kj", 2, written={"A": "ik", "W": "kj"})
    (('i', 'j'), ('a', 'b', 'c', 'd'))
    """
    out = tuple(out) if out is not None and len(out) == f.ndim else tuple(LETTERS[: f.ndim])
    own = tuple(letters) if letters is not None and len(letters) == wrt.ndim else ()
    written_anywhere = {c for ls in (written or {}).values() for c in ls}
    avoid = set(own) | {v.name for v in variables(f)}
    taken = set(out)
    derivative = []
    spare = (c for c in itertools.chain("abcdefgh", LETTERS, (f"d{k}" for k in itertools.count(1))))
    apart = written is not None  # every group apart from the formula's letters
    for rep in range(count):
        for p in range(wrt.ndim):
            letter = own[p] if own and rep == 0 and not apart else None
            if letter is None or letter in taken or own.count(letter) > 1:
                letter = next(c for c in spare if c not in taken and c not in avoid and c not in written_anywhere)
            taken.add(letter)
            derivative.append(letter)
    return out, tuple(derivative)


def derivation(f: Expr, wrt: Var, fname: str, free, dnames, order: int, values=None, flatten: str = "row", *,
               letters=None) -> str:
    """:func:`~einsdiff.explain` of the derivative of ``order`` 1 or 2: a Hessian is explained
    as the Jacobian of the gradient g_f. With ``letters`` (every variable's letters as the
    formula wrote them), summed indices keep the letters the formula wrote; derivative names
    among those letters give way to ones the formula does not write (:func:`index_names`)."""
    if letters is not None:
        written = {c for ls in letters.values() for c in ls}
        if set(dnames[(order - 1) * wrt.ndim:]) & written:
            _, dnames = index_names(f, wrt, free, letters.get(wrt.name), order, written=letters)
    if order == 2:
        return explain(jacobian(f, wrt), wrt, values=values, order=flatten, name=f"g_{fname}",
                       indices=tuple(free) + dnames[: wrt.ndim], wrt_indices=dnames[wrt.ndim:], letters=letters)
    return explain(f, wrt, values=values, order=flatten, name=fname, indices=free, wrt_indices=dnames, letters=letters)


@dataclass(frozen=True)
class Check:
    """A derivative against central finite differences at one random point."""

    error: float  # max |derivative - finite differences|
    scale: float  # max(1, largest |entry|): the error is judged relative to it
    entries: int
    ok: bool
    sampled: str  # how the point was drawn (Sample.describe)
    text: str  # one line that says all of it


@dataclass(frozen=True)
class Sample:
    """Random values for the variables of an expression, and how they were drawn."""

    values: dict  # variable name -> array
    shifted: tuple[Var, ...]  # square matrices whose diagonal was raised by 1.5·n
    positive: tuple[str, ...]  # drawn positive only: the expression is undefined at some of their negative values
    margin: float  # finite_difference_margin of the expression at the values

    def describe(self, names=None) -> str:
        """How the values of ``names`` (all by default) were drawn, in one phrase.

        >>> x, X = Var("x", (2,)), Var("X", (3, 3))
        >>> print(Sample({"x": 0, "X": 0}, (X,), ("x",), 1.0).describe().replace("; ", ";\\n"))
        ±[0.5, 1.5] with random signs, both in every variable of 2 or more entries;
        x positive (the formula is undefined at some negative x);
        X's diagonal in [0.5, 1.5] + 4.5, so X is invertible with det > 0
        """
        names = tuple(self.values) if names is None else tuple(names)
        parts = ["±[0.5, 1.5] with random signs, both in every variable of 2 or more entries"]
        positive = [n for n in self.positive if n in names]
        if positive:
            listed = ", ".join(positive)
            parts.append(f"{listed} positive (the formula is undefined at some negative {listed})")
        parts += [f"{v.name}'s diagonal in [0.5, 1.5] + {1.5 * v.shape[-1]:g}, so {v.name} is invertible with det > 0"
                  for v in self.shifted if v.name in names]
        if self.margin <= _KINK_MARGIN:
            parts.append(f"no draw kept every argument {_KINK_MARGIN:g} from a kink or pole of its function "
                         f"(closest: {self.margin:.2g})")
        return "; ".join(parts)


_KINK_MARGIN = 1e-3  # central differences step ~1e-6: an argument this far from a kink or pole stays on its side
_TRIES = 20


def sample_point(f: Expr, seed: int) -> Sample:
    """Random values for the variables of f: magnitudes in [0.5, 1.5] with random signs, so
    both branches of relu, abs and where are exercised. Values are redrawn (up to 20 times)
    while an argument sits within 1e-3 of a kink or pole (:func:`finite_difference_margin`). A variable at
    whose negative values f is undefined (log, sqrt, logdet of a product) is drawn positive.
    With a matrix function in f, each square matrix variable gets a positive diagonal plus
    1.5·n, which outweighs the rest of its row (at most 1.5·(n-1)): every eigenvalue has a
    positive real part, so it is invertible with det > 0."""
    found = variables(f)
    square = [v for v in found if v.ndim >= 2 and v.shape[-1] == v.shape[-2]]
    shifted = tuple(square if any(isinstance(node, Call) for node in topological([f])) else ())
    if seed < 0:
        raise OptionError(f"the seed of the random values must be a whole number >= 0, got {seed}")
    best = None
    for attempt in range(_TRIES):
        rng = np.random.default_rng((seed, attempt))  # seeds 1 and 2 share no draws
        size, sign = {}, {}
        for v in found:  # a shifted matrix's diagonal: positive, raised by 1.5·n
            diagonal = np.zeros(v.shape, dtype=bool)
            if v in shifted:
                diagonal = np.broadcast_to(np.eye(v.shape[-1], dtype=bool), v.shape)
            size[v.name] = rng.uniform(0.5, 1.5, v.shape) + 1.5 * (v.shape or (0,))[-1] * diagonal
            sign[v.name] = _signs(rng, ~diagonal)
            if v.symmetric:  # symmetric values: the mean of the sizes and their transpose, signs mirrored
                size[v.name] = (size[v.name] + np.swapaxes(size[v.name], -1, -2)) / 2
                upper = np.triu(np.ones(v.shape[-2:], dtype=bool))
                sign[v.name] = np.where(upper, sign[v.name], np.swapaxes(sign[v.name], -1, -2))
        positive = _positive(f, size, sign, [v.name for v in found])
        values = {name: size[name] * (1.0 if name in positive else sign[name]) for name in size}
        margin = _margin(f, values)
        if best is None or margin > best.margin:
            best = Sample(values, shifted, positive, margin)
        if margin > _KINK_MARGIN:
            break
    return best


def _signs(rng: np.random.Generator, where: np.ndarray) -> np.ndarray:
    """±1 at ``where`` (1 elsewhere), shuffled: half of them -1, so a variable of two or more
    entries always has both signs (a lone entry's sign is a coin flip)."""
    count = int(where.sum())
    signs = np.where(np.arange(count) < count // 2, -1.0, 1.0)
    if count % 2:  # the odd one out: either sign
        signs[-1] = rng.choice((-1.0, 1.0))
    out = np.ones(where.shape)
    out[where] = rng.permutation(signs)
    return out


def _defined(f: Expr, values: dict) -> bool:
    """Whether f evaluates to finite numbers at ``values`` (log of a negative number does not)."""
    try:
        with np.errstate(all="ignore"):
            return bool(np.all(np.isfinite(evaluate(f, values))))
    except EvaluationError:  # logdet where det <= 0, inv of a singular matrix
        return False


def _margin(f: Expr, values: dict) -> float:
    """finite_difference_margin, or -inf where f is undefined."""
    if not _defined(f, values):
        return -math.inf
    with np.errstate(all="ignore"):
        return finite_difference_margin(f, values)


def _positive(f: Expr, size: dict, sign: dict, names: list[str]) -> tuple[str, ...]:
    """The fewest variables (greedily, in order) to draw positive for f to be defined:
    none if it is defined with the signs drawn."""
    def defined(positive):
        return _defined(f, {n: size[n] * (1.0 if n in positive else sign[n]) for n in names})

    chosen = []
    for name in names:
        if defined(chosen):
            break
        chosen.append(name)
    if not defined(chosen):  # positive values do not help either
        return ()
    for name in chosen[:-1]:  # then drop each earlier one that f turns out not to need
        if defined([n for n in chosen if n != name]):
            chosen.remove(name)
    return tuple(chosen)


def check(d: Derivation, seed: int) -> Check:
    """Compare the derivative with central differences at :func:`sample_point`."""
    derivative, f, wrt = d.derivative, d.formula.expr, d.formula.wrt
    nbytes = 8 * derivative.size
    if nbytes > config.max_dense_bytes:
        raise MemoryLimitError(f"the check compares all {derivative.size:,} entries of the derivative, "
                               f"{nbytes / 2**30:.3g} GiB, above the {config.max_dense_bytes / 2**30:.3g} GiB "
                               f"einsdiff allows itself; check the formula at smaller shapes")
    sample = sample_point(f, seed)
    target = f if d.order == 1 else jacobian(f, wrt)
    with np.errstate(all="ignore"):  # a nan shows as a MISMATCH, not as a numpy warning
        want = finite_difference_jacobian(target, wrt, sample.values)
        got = np.asarray(evaluate(derivative, {v.name: sample.values[v.name] for v in variables(derivative)}))
        err = float(np.max(np.abs(got - want), initial=0.0))
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    ok = err <= 1e-5 * scale
    sampled = sample.describe()
    text = (f"check: max |derivative - central finite differences| = {err:.3g} over {want.size} "
            f"entr{'y' if want.size == 1 else 'ies'} "
            f"(entries up to {scale:.3g}; random inputs {sampled}; seed {seed}): {'ok' if ok else 'MISMATCH'}")
    return Check(err, scale, int(want.size), ok, sampled, text)
