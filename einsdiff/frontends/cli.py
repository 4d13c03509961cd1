"""The ``einsdiff`` command: a derivative from the shell.

    einsdiff "ij,j->i" --wrt 0 --shape 2x3 --shape 3
    einsdiff "relu(W[i,j]*x[j] + b[i])" --wrt W --shape W=3x4 --shape x=4 --shape b=3 --format explain
    einsdiff serve --port 8000      # the web playground (pip install 'einsdiff[web]')

An expression is an einsum equation (operands named A, B, C, ... by position) or a
formula in index or matrix notation (as ``ed.parse`` reads it, ``--notation`` to choose);
it may start with ``-``. Standard
output holds only what was asked for (``--format numpy > f.py`` is a module), diagnostics
such as the ``--check`` line go to stderr. Bad input, including an option that would
change nothing, exits with status 2 and one line on stderr phrased in the command's own
flags; a failed ``--check`` exits with status 1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from dataclasses import dataclass

import numpy as np

from ..errors import EinsdiffError, OperandError, OptionError, UnknownVariableError
from ..ir.expr import Var
from ..ir.subscripts import einsum
from ..ir.variables import variables
from ..notation.codegen import to_einsum
from ..notation.matrixform import matrix_form
from ..notation.parse import NOTATIONS, formula_letters
from ..notation.printing import Latex, Text, shared
from .session import Derivation, Formula, build_formula, check, differentiate, parse_shape

FORMATS = ("text", "latex", "matrix", "einsum", "numpy", "explain")
_EINSUM = re.compile(r"^[\sA-Za-z.,]*(->[\sA-Za-z.]*)?$")
_USAGE = """einsdiff EXPRESSION --wrt VARIABLE [--shape NAME=3x4 ...] [options]
       einsdiff serve [--host HOST] [--port PORT]"""
_EPILOG = """examples:
  einsdiff "ij,j->i" --wrt 0 --shape 2x3 --shape 3
  einsdiff "relu(W[i,j]*x[j] + b[i])" --wrt W --shape W=3x4 --shape x=4 --shape b=3 --check
  einsdiff "-sum[i](z[i])" --wrt z --shape z=3      (an expression may start with -)
  einsdiff "x'*A*x" --wrt x --shape x=3 --shape A=3x3   (matrix notation: no index brackets)

the web playground:
  einsdiff serve [--host HOST] [--port PORT]       (pip install 'einsdiff[web]'; einsdiff serve --help)"""


class _Usage(EinsdiffError):
    """A command-line mistake (an unknown flag, a malformed shape)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and status 2, like every other bad input
        raise _Usage(f"{message} (see {self.prog} --help)")


_VALUED = ("--wrt", "--shape", "--format", "--value", "--order", "--seed", "--notation", "--symmetric")  # the options below that take a value


def _arguments() -> argparse.ArgumentParser:
    p = _Parser(prog="einsdiff", usage=_USAGE, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                description="Derivatives of tensor expressions in index notation.")
    p.add_argument("expression", metavar="EXPRESSION", help='an einsum equation "ij,j->i" or a formula "relu(W[i,j]*x[j] + b[i])"')
    p.add_argument("--wrt", required=True, metavar="VARIABLE", help="the variable to differentiate by: a name, or an operand position")
    p.add_argument("--shape", action="append", default=[], metavar="[NAME=]3x4",
                   help="a shape: NAME=3x4 for a formula, or one per einsum operand in order; 'scalar' for ()")
    p.add_argument("--format", choices=FORMATS,
                   help="text: index notation (the default; a formula in matrix notation is answered in matrix "
                        "notation first, where it has one, then in index notation); latex; matrix: matrix "
                        "notation where it exists; "
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
    p.add_argument("--notation", choices=NOTATIONS, default="auto",
                   help="how the formula is written: index notation (W[i,j]*x[j]), matrix notation (x'*A*x), or "
                        "auto (default: matrix notation when the formula has no index brackets)")
    p.add_argument("--symmetric", action="append", default=[], metavar="NAME",
                   help="a formula's square matrix variable that is symmetric (S = Sᵀ): its derivatives use "
                        "that, e.g. ∂(x'*S*x)/∂x = 2 S x; repeat the flag for more than one")
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


def build(expression: str, wrt: str, shapes: list[str], notation: str = "auto",
          symmetric: tuple[str, ...] = ()) -> Formula:
    """The formula to differentiate, from the command's text: ``shapes`` as ``--shape`` takes
    them, ``symmetric`` the names ``--symmetric`` gives."""
    if not expression.strip():
        raise _Usage('the expression is empty; write a formula, e.g. "A[i,j]*x[j]", or an einsum equation, e.g. "ij,j->i"')
    if notation != "matrix" and is_equation(expression, shapes):
        if symmetric:
            raise _Usage(f"--symmetric {symmetric[0]}: an einsum equation's operands cannot be symmetric; write "
                         f"the formula with named variables, e.g. \"x'*S*x\" --shape S=3x3 --symmetric S")
        return _from_einsum(expression, wrt, shapes)
    shaped = [item.partition("=")[0].strip() for item in shapes]
    names = tuple(formula_letters(expression, shaped, notation)[2])  # a syntax error first: it marks the column
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
    for name in symmetric:
        if name not in names:
            raise _Usage(f"--symmetric {name}: the formula has no variable {name!r}; its variables are {', '.join(names)}")
        if name not in sizes:
            raise _Usage(f"--symmetric {name}: give {name} a square shape too, e.g. --shape {name}=3x3")
        shape = sizes[name]
        if len(shape) < 2 or shape[-1] != shape[-2]:
            raise _Usage(f"--symmetric {name}: {name} has shape {given[name]}, but a symmetric matrix is square; "
                         f"give it e.g. --shape {name}={(shape or (3,))[-1]}x{(shape or (3,))[-1]}")
    try:
        return build_formula(expression, wrt, sizes, notation, tuple(dict.fromkeys(symmetric)))
    except UnknownVariableError as err:  # its hint is Python's (x=(3, 4)): say it in flags
        example = "x".join(map(str, err.example)) or "scalar"
        if "[" not in expression:  # matrix notation writes no indices to count
            raise _Usage(f"no shape for {err.name!r} (column {err.position + 1}); add --shape {err.name}={example}, "
                         f"or {err.name}=3 for a vector, {err.name}=scalar for a number") from err
        raise _Usage(f"no shape for {err.name!r} (column {err.position + 1}), which the formula writes with "
                     f"{err.ndim} {'index' if err.ndim == 1 else 'indices'}; add --shape {err.name}={example}, "
                     f"one size per index") from err


def _from_einsum(expression: str, wrt: str, shapes: list[str]) -> Formula:
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
    return Formula(f, operands[position], "f", tuple(out) if "." not in equation else None, letters,
                   written_letters(expression, True))


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
class Output:
    """What one command prints: the requested text on stdout, diagnostics on stderr."""

    stdout: str
    stderr: tuple[str, ...]
    status: int


def run(argv: list[str]) -> Output:
    """The command's output for ``argv`` (without the program name)."""
    args = _arguments().parse_args(_expression_last(argv))
    default_format, args.format = args.format is None, args.format or "text"
    _unused_options(args)
    d = differentiate(build(args.expression, args.wrt, args.shape, args.notation, tuple(args.symmetric)), 2 if args.hessian else 1)
    f = d.formula
    lines = []
    if args.format in ("text", "latex"):
        style = Latex() if args.format == "latex" else Text()
        named = shared(d.derivative) if args.share else {}
        *defined, derivative = d.derivative_lines(style, named)
        index = [d.formula_line(style), *defined, derivative]
        # Asked in matrix notation, answer in it first; index notation is the bridge below.
        matrix = None
        if default_format and f.notation == "matrix":
            try:
                matrix = _matrix_lines(d)
            except OptionError:  # matrices cannot write it: index notation alone
                pass
        lines += [*matrix, "in index notation:", *index] if matrix else index
        lines.append(f"shape: {d.shape_text} = {d.derivative.shape}")
    elif args.format == "matrix":
        try:
            lines += _matrix_lines(d, args.order or "row")
        except OptionError as err:  # its advice names the Python API
            raise _Usage("--format matrix: matrices cannot write this (it needs a commutation, a tensor of 3 or "
                         "more axes, or an index shared by three factors); use --format text for index "
                         "notation") from err
    elif args.format == "einsum":
        lines.append(to_einsum(d.derivative))
    elif args.format == "numpy":
        lines.append(d.numpy_code())
    else:
        values = _values(args.value, variables(f.expr)) if args.value else None
        lines.append(d.steps(values, args.order or "row"))
    if not args.check:
        return Output("\n".join(lines), (), 0)
    result = check(d, 0 if args.seed is None else args.seed)
    return Output("\n".join(lines), (result.text,), 0 if result.ok else 1)


def _matrix_lines(d: Derivation, vec: str = "row") -> list[str]:
    """The formula and its derivative in matrix notation; raises OptionError where it has none."""
    f = d.formula
    head = f"{f.name} = {matrix_form(f.expr).text}" if f.expr.ndim <= 2 else f"{f.name}: a tensor of {f.expr.ndim} axes"
    return [head, d.matrix_notation(vec=vec)]


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
