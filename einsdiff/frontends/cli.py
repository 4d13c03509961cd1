"""The ``einsdiff`` command: a derivative from the shell.

    einsdiff "ij,j->i" --wrt 0 --shape 2x3 --shape 3
    einsdiff "relu(W[i,j]*x[j] + b[i])" --wrt W --shape W=3x4 --shape x=4 --shape b=3 --format explain
    einsdiff serve --port 8000      # the web playground (pip install 'einsdiff[web]')

An expression is an einsum equation (operands named A, B, C, ... by position) or a
formula in index notation (as ``ed.parse`` reads it); it may start with ``-``. Standard
output holds only what was asked for (``--format numpy > f.py`` is a module), diagnostics
such as the ``--check`` line go to stderr. Bad input, including an option that would
change nothing, exits with status 2 and one line on stderr phrased in the command's own
flags; a failed ``--check`` exits with status 1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import sys
from dataclasses import dataclass

import numpy as np

from ..notation.codegen import to_einsum, to_numpy_code
from ..config import config
from ..calculus.derive import hessian, jacobian
from ..errors import EinsdiffError, EvaluationError, MemoryLimitError, OperandError, OptionError, UnknownVariableError
from ..engine.evaluate import evaluate
from ..notation.explain import explain
from ..ir.expr import Call, Expr, Var
from ..notation.matrixform import derivative_notation, matrix_form
from ..notation.parse import formula_letters, parse
from ..notation.printing import _LETTERS, Latex, Text, definitions, render, shared
from ..ir.subscripts import einsum
from ..testing import finite_difference_jacobian, finite_difference_margin
from ..ir.variables import topological, variables

FORMATS = ("text", "latex", "matrix", "einsum", "numpy", "explain")
_EINSUM = re.compile(r"^[\sA-Za-z.,]*(->[\sA-Za-z.]*)?$")
_USAGE = """einsdiff EXPRESSION --wrt VARIABLE [--shape NAME=3x4 ...] [options]
       einsdiff serve [--host HOST] [--port PORT]"""
_EPILOG = """examples:
  einsdiff "ij,j->i" --wrt 0 --shape 2x3 --shape 3
  einsdiff "relu(W[i,j]*x[j] + b[i])" --wrt W --shape W=3x4 --shape x=4 --shape b=3 --check
  einsdiff "-sum[i](z[i])" --wrt z --shape z=3      (an expression may start with -)

the web playground:
  einsdiff serve [--host HOST] [--port PORT]       (pip install 'einsdiff[web]'; einsdiff serve --help)"""


class _Usage(EinsdiffError):
    """A command-line mistake (an unknown flag, a malformed shape)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and status 2, like every other bad input
        raise _Usage(f"{message} (see {self.prog} --help)")


_VALUED = ("--wrt", "--shape", "--format", "--value", "--order", "--seed")  # the options below that take a value


def _arguments() -> argparse.ArgumentParser:
    p = _Parser(prog="einsdiff", usage=_USAGE, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                description="Derivatives of tensor expressions in index notation.")
    p.add_argument("expression", metavar="EXPRESSION", help='an einsum equation "ij,j->i" or a formula "relu(W[i,j]*x[j] + b[i])"')
    p.add_argument("--wrt", required=True, metavar="VARIABLE", help="the variable to differentiate by: a name, or an operand position")
    p.add_argument("--shape", action="append", default=[], metavar="[NAME=]3x4",
                   help="a shape: NAME=3x4 for a formula, or one per einsum operand in order; 'scalar' for ()")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text: index notation (the default); latex; matrix: matrix notation where it exists; "
                        "einsum: einsum calls; numpy: a module of NumPy code; explain: the derivation step by step")
    p.add_argument("--hessian", action="store_true",
                   help="the second derivative (of a tensor-valued expression: one Hessian per entry)")
    p.add_argument("--share", action="store_true",
                   help="text and latex: write each subexpression the derivative would repeat once, as t1, t2, ...")
    p.add_argument("--check", action="store_true",
                   help="compare with central finite differences at random values ±[0.5, 1.5] with random signs "
                        "(so both sides of relu, abs and where), redrawn near a kink or pole; a variable where the "
                        "formula is undefined at negative values (log, sqrt) is drawn positive; with a matrix "
                        "function (inv, det, logdet, solve, ...) a square n×n variable gets a positive diagonal "
                        "plus 1.5·n, so it is invertible with det > 0. The result goes to stderr; exit status 1 "
                        "on a mismatch")
    p.add_argument("--value", action="append", default=[], metavar="NAME=JSON",
                   help="with --format explain: a value for its numbers, e.g. A=[[1,2,3],[4,5,6]]")
    p.add_argument("--order", choices=("row", "column"), help="with --format explain or matrix: how vec flattens "
                                                              "matrices, stacking rows or columns (default row)")
    p.add_argument("--seed", type=_seed, help="with --check: the seed of its random values (default 0)")
    return p


def _seed(text: str) -> int:
    """A --seed: a whole number >= 0 (numpy's generators take no negative seeds)."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0, e.g. --seed 1")
    return int(text)


def _expression_last(argv: list[str]) -> list[str]:
    """``argv`` with the expression moved behind ``--``, so one that starts with ``-``
    (``-sum[i](z[i])``) is not read as an option: the token after ``--``, or the first one
    that is neither an option, nor an option's value, nor a ``--long`` flag."""
    rest, expressions = [], []
    tokens = iter(argv)
    for token in tokens:
        name = token.split("=", 1)[0]
        if token == "--":
            expressions += list(itertools.islice(tokens, 1))
        elif token in ("-h", "--help") or (name.startswith("--") and len(name) > 2):
            rest.append(token)
            options = [o for o in _VALUED if o.startswith(name)]  # argparse takes unique prefixes
            if "=" not in token and len(options) == 1:
                rest += list(itertools.islice(tokens, 1))
        else:
            expressions.append(token)
    return rest + ["--", *expressions] if expressions else rest


def _unused_options(args: argparse.Namespace) -> None:
    """An option that would change nothing is a mistake: say what it is for."""
    def refuse(option: str, purpose: str, fix: str):
        raise _Usage(f"{option} {purpose} only; {fix}, or drop {option}")

    if args.value and args.format != "explain":
        refuse("--value", "gives --format explain its numbers", "add --format explain")
    if args.order and args.format not in ("explain", "matrix"):
        refuse("--order", "sets how --format explain and matrix flatten matrices", "add --format explain")
    if args.seed is not None and not args.check:
        refuse("--seed", "seeds the random values of --check", "add --check")
    if args.share and args.format not in ("text", "latex"):
        refuse("--share", "names repeated subexpressions in --format text and latex", "use it with one of those")


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
        raise _Usage(f"{what}: {text!r} is not a shape; write sizes joined by x, e.g. 3x4, or 'scalar'")
    return tuple(int(part) for part in parts)


def build(expression: str, wrt: str, shapes: list[str]) -> tuple[Expr, Var, str, tuple[str, ...], tuple[str, ...] | None]:
    """The expression, the variable, the function's name, its index names and the variable's
    letters, from the command's text: ``shapes`` as ``--shape`` takes them."""
    if not expression.strip():
        raise _Usage('the expression is empty; write a formula, e.g. "A[i,j]*x[j]", or an einsum equation, e.g. "ij,j->i"')
    if is_equation(expression, shapes):
        return _from_einsum(expression, wrt, shapes)
    shaped = [item.partition("=")[0].strip() for item in shapes]
    names = tuple(formula_letters(expression, shaped)[2])  # a syntax error first: it marks the column
    sizes, given = {}, {}
    for item in shapes:
        name, sep, dims = (part.strip() for part in item.partition("="))
        if not sep or not name.isidentifier():
            raise _Usage(f"--shape {item!r}: for a formula give NAME=SIZES, e.g. W=3x4")
        if name not in names:
            raise _Usage(f"--shape {item}: the formula has no variable {name!r}; its variables are {', '.join(names)}")
        if name in given:
            raise _Usage(f"--shape {name} is given twice ({given[name]} and {dims}); give each variable one shape")
        if not dims:
            raise _Usage(f"--shape {item}: no sizes after '='; write e.g. {name}=3x4, or {name}=scalar")
        sizes[name], given[name] = parse_shape(dims, f"--shape {item}"), dims
    try:
        return build_formula(expression, wrt, sizes)
    except UnknownVariableError as err:  # its hint is Python's (x=(3, 4)): say it in flags
        example = "x".join(map(str, err.example)) or "scalar"
        raise _Usage(f"no shape for {err.name!r} (column {err.position + 1}), which the formula writes with "
                     f"{err.ndim} {'index' if err.ndim == 1 else 'indices'}; add --shape {err.name}={example}, "
                     f"one size per index") from err


def build_formula(expression: str, wrt: str, sizes: dict) -> tuple[Expr, Var, str, tuple[str, ...], tuple[str, ...] | None]:
    """:func:`build` for a formula in index notation, with its variables' shapes."""
    f = parse(expression, **sizes)
    fname, out, letters = formula_letters(expression)
    by_name = {v.name: v for v in variables(f)}
    var = by_name.get(wrt)
    if var is None:
        has = f"it has {', '.join(sorted(by_name))}" if by_name else "it has none (it is a constant)"
        raise OperandError(f"--wrt {wrt!r} is not a variable of the formula; {has}")
    return f, var, fname or "f", out, letters.get(var.name)


def _from_einsum(expression: str, wrt: str, shapes: list[str]):
    equation = expression.replace(" ", "")
    inputs = equation.split("->")[0].split(",")
    named = [s for s in shapes if "=" in s]
    if named:
        raise _Usage(f"--shape {named[0]}: an einsum equation's operands take shapes in order, without names "
                     f"(--shape 2x3 --shape 3 for A, B)")
    if len(shapes) != len(inputs):
        raise _Usage(f"{equation!r} has {len(inputs)} operands; give one --shape each, in order (got {len(shapes)})")
    names = [_operand_name(k) for k in range(len(inputs))]
    operands = [Var(n, parse_shape(s, f"--shape {s}")) for n, s in zip(names, shapes, strict=True)]
    f = einsum(equation, *operands)
    position = int(wrt) if wrt.isdigit() else names.index(wrt) if wrt in names else None
    if position is None or position >= len(operands):
        raise OperandError(f"--wrt {wrt!r}: give an operand position 0..{len(operands) - 1} or a name "
                           f"{', '.join(names)}")
    if "->" in equation:
        out = equation.split("->")[1]
    else:  # numpy's implicit output: the letters written once, in alphabetical order
        letters = "".join(inputs)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    letters = tuple(inputs[position]) if "." not in inputs[position] else None
    return f, operands[position], "f", tuple(out) if "." not in equation else None, letters


def is_equation(expression: str, shapes: list[str]) -> bool:
    """Whether the command's expression is an einsum equation ("ij,j->i") rather than a
    formula: letters, commas and an arrow only, its shapes unnamed (a lone "x" with
    ``--shape x=scalar`` is a formula).

    >>> is_equation("ij,j->i", ["2x3", "3"]), is_equation("x", ["x=scalar"]), is_equation("x[i]", [])
    (True, False, False)
    """
    if not _EINSUM.match(expression) or "[" in expression:
        return False
    return "," in expression or "->" in expression or not any("=" in s for s in shapes)


def written_letters(expression: str, equation: bool) -> dict[str, tuple[str, ...]]:
    """The letters the expression writes on each variable's axes (an einsum ``equation``'s
    operands are A, B, ... by position), so printed formulas can name summed indices the same way."""
    if equation:
        inputs = expression.replace(" ", "").split("->")[0].split(",")
        return {_operand_name(k): tuple(term) for k, term in enumerate(inputs) if "." not in term}
    return formula_letters(expression)[2]


def _operand_name(k: int) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[k] if k < 26 else f"T{k}"


def index_names(f: Expr, wrt: Var, out, letters, count: int, *,
                written: dict | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
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
    out = tuple(out) if out is not None and len(out) == f.ndim else tuple(_LETTERS[: f.ndim])
    own = tuple(letters) if letters is not None and len(letters) == wrt.ndim else ()
    written_anywhere = {c for ls in (written or {}).values() for c in ls}
    avoid = set(own) | {v.name for v in variables(f)}
    taken = set(out)
    derivative = []
    spare = (c for c in itertools.chain("abcdefgh", _LETTERS, (f"d{k}" for k in itertools.count(1))))
    apart = written is not None  # every group apart from the formula's letters
    for rep in range(count):
        for p in range(wrt.ndim):
            letter = own[p] if own and rep == 0 and not apart else None
            if letter is None or letter in taken or own.count(letter) > 1:
                letter = next(c for c in spare if c not in taken and c not in avoid and c not in written_anywhere)
            taken.add(letter)
            derivative.append(letter)
    return out, tuple(derivative)


def _values(items: list[str], found) -> dict:
    """The arrays of ``--value NAME=JSON`` items, each of its variable's shape."""
    shapes = {v.name: v.shape for v in found}
    values = {}
    for item in items:
        name, sep, text = (part.strip() for part in item.partition("="))
        if not sep:
            raise _Usage(f"--value {item!r}: write NAME=JSON, e.g. A=[[1,2],[3,4]]")
        if name not in shapes:
            raise _Usage(f"--value {item}: the expression has no variable {name!r}; its variables are "
                         f"{', '.join(sorted(shapes))}")
        if name in values:
            raise _Usage(f"--value {name} is given twice; give each variable one value")
        try:
            values[name] = np.asarray(json.loads(text), dtype=float)
        except (ValueError, TypeError) as err:
            raise _Usage(f"--value {item!r}: write NAME=JSON, e.g. A=[[1,2],[3,4]] ({err})") from err
        if values[name].shape != shapes[name]:
            raise _Usage(f"--value {item}: an array of shape {values[name].shape}, but {name} has shape "
                         f"{shapes[name]}; give an array of that shape")
    return values


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


def check(f: Expr, wrt: Var, derivative: Expr, order: int, seed: int) -> Check:
    """Compare ``derivative`` (of ``order`` 1 or 2) with central differences at :func:`sample_point`."""
    nbytes = 8 * derivative.size
    if nbytes > config.max_dense_bytes:
        raise MemoryLimitError(f"the check compares all {derivative.size:,} entries of the derivative, "
                               f"{nbytes / 2**30:.3g} GiB, above the {config.max_dense_bytes / 2**30:.3g} GiB "
                               f"einsdiff allows itself; check the formula at smaller shapes")
    sample = sample_point(f, seed)
    target = f if order == 1 else jacobian(f, wrt)
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


@dataclass(frozen=True)
class Output:
    """What one command prints: the requested text on stdout, diagnostics on stderr."""

    stdout: str
    stderr: tuple[str, ...]
    status: int


def run(argv: list[str]) -> Output:
    """The command's output for ``argv`` (without the program name)."""
    args = _arguments().parse_args(_expression_last(argv))
    _unused_options(args)
    f, wrt, fname, out, letters = build(args.expression, args.wrt, args.shape)
    order = 2 if args.hessian else 1
    derivative = hessian(f, wrt) if args.hessian else jacobian(f, wrt)
    written = written_letters(args.expression, is_equation(args.expression, args.shape))
    # Every format names the derivative's indices alike, apart from the letters the formula writes.
    free, dnames = index_names(f, wrt, out, letters, order, written=written)
    lines = []
    if args.format in ("text", "latex"):
        style = Latex() if args.format == "latex" else Text()
        _, body, legend = render(f, free, style, letters=written)
        named = shared(derivative) if args.share else {}
        _, dbody, dlegend = render(derivative, free + dnames, style, named=named, letters=written)
        den = " ".join(_partial(style, wrt.name, dnames[k * wrt.ndim:(k + 1) * wrt.ndim]) for k in range(order))
        head = style.ref(fname, free)
        lines += [f"{head} = {body}{legend}", *definitions(named, style, written)]
        if args.format == "latex":
            num = rf"\partial^{{2}} {head}" if order == 2 else rf"\partial {head}"
            lines.append(rf"\frac{{{num}}}{{{den}}} = {dbody}{dlegend}")
        else:
            lines.append(f"{'∂²' if order == 2 else '∂'}{head}/{den} = {dbody}{dlegend}")
        lines.append(f"shape: {shape_text(f, wrt, order)} = {derivative.shape}")
    elif args.format == "matrix":
        try:
            lines += [f"{fname} = {matrix_form(f).text}" if f.ndim <= 2 else f"{fname}: a tensor of {f.ndim} axes",
                      derivative_notation(f, wrt, derivative, order, fname, vec=args.order or "row")
                      + (f"   (vec stacks {args.order or 'row'}s)" if derivative.ndim > 2 else "")]
        except OptionError as err:  # its advice names the Python API
            raise _Usage("--format matrix: matrices cannot write this (it needs a commutation, a tensor of 3 or "
                         "more axes, or an index shared by three factors); use --format text for index "
                         "notation") from err
    elif args.format == "einsum":
        lines.append(to_einsum(derivative))
    elif args.format == "numpy":
        key = "hessian" if args.hessian else "jacobian"
        lines.append(to_numpy_code({"value": f, key: derivative}, name=fname if fname != "f" else "f"))
    else:
        values = _values(args.value, variables(f)) if args.value else None
        lines.append(derivation(f, wrt, fname, free, dnames, order, values, args.order or "row",
                                letters=written))
    if not args.check:
        return Output("\n".join(lines), (), 0)
    result = check(f, wrt, derivative, order, 0 if args.seed is None else args.seed)
    return Output("\n".join(lines), (result.text,), 0 if result.ok else 1)


def derivation(f: Expr, wrt: Var, fname: str, free, dnames, order: int, values=None, flatten: str = "row", *,
               letters=None) -> str:
    """:func:`explain` of the derivative of ``order`` 1 or 2: a Hessian is explained as the
    Jacobian of the gradient g_f. With ``letters`` (as :func:`written_letters` gives them),
    summed indices keep the letters the formula wrote; derivative names among those letters
    give way to ones the formula does not write (:func:`index_names`)."""
    if letters is not None:
        written = {c for ls in letters.values() for c in ls}
        if set(dnames[(order - 1) * wrt.ndim:]) & written:
            _, dnames = index_names(f, wrt, free, letters.get(wrt.name), order, written=letters)
    if order == 2:
        return explain(jacobian(f, wrt), wrt, values=values, order=flatten, name=f"g_{fname}",
                       indices=tuple(free) + dnames[: wrt.ndim], wrt_indices=dnames[wrt.ndim:], letters=letters)
    return explain(f, wrt, values=values, order=flatten, name=fname, indices=free, wrt_indices=dnames, letters=letters)


def shape_text(f: Expr, wrt: Var, order: int) -> str:
    """The derivative's shape as grouped axes: (2×2)×(3×2)."""
    return "×".join(f"({'×'.join(map(str, s)) or '1'})" for s in (f.shape,) + (wrt.shape,) * order)


def _serve(argv: list[str]) -> int:
    """``einsdiff serve``: the web playground on localhost (the extra ``einsdiff[web]``)."""
    p = _Parser(prog="einsdiff serve", description="The einsdiff playground: a page on this machine.")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes; each request holds one, so a slow one delays only itself "
                        "(default: one per core)")
    args = p.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        raise _Usage(f"--workers {args.workers}: give at least 1")
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        print(f"einsdiff: error: the playground needs the web extra ({err.name} is missing); "
              f"install it with: pip install 'einsdiff[web]'", file=sys.stderr)
        return 2
    import socket

    try:  # a clear message for a taken port, before the server starts its worker
        with socket.create_server((args.host, args.port)):
            pass
    except OSError as err:
        print(f"einsdiff: error: cannot listen on {args.host}:{args.port} ({err.strerror}); "
              f"pick another port with --port", file=sys.stderr)
        return 2
    from .web.app import serve

    serve(args.host, args.port, workers=args.workers)
    return 0


def _partial(style, name: str, names) -> str:
    ref = style.ref(name, names)
    return rf"\partial {ref}" if isinstance(style, Latex) else f"∂{ref}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["serve"] and "--wrt" not in argv:  # a formula may be a variable called serve
            return _serve(argv[1:])
        output = run(argv)
    except EinsdiffError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"einsdiff: error: {first}", file=sys.stderr)
        return 2
    print(output.stdout)
    for line in output.stderr:  # diagnostics, so stdout stays what was asked for (code that runs)
        print(line, file=sys.stderr)
    return output.status
