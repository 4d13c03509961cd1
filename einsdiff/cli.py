"""The ``einsdiff`` command: a derivative from the shell.

    einsdiff "ij,j->i" --wrt 0 --shape 2x3 --shape 3
    einsdiff "relu(W[i,j]*x[j] + b[i])" --wrt W --shape W=3x4 --shape x=4 --shape b=3 --format explain
    einsdiff serve --port 8000      # the web playground (pip install 'einsdiff[web]')

An expression is an einsum equation (operands named A, B, C, ... by position) or a
formula in index notation (as ``ed.parse`` reads it). Bad input exits with status 2
and one line on stderr; a failed ``--check`` exits with status 1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from dataclasses import dataclass

import numpy as np

from .codegen import to_einsum, to_numpy_code
from .derive import hessian, jacobian
from .errors import EinsdiffError, OperandError
from .evaluate import evaluate
from .explain import explain
from .expr import Call, Expr, Var
from .matrixform import derivative_notation, matrix_form
from .parse import formula_letters, parse
from .printing import _LETTERS, Latex, Text, definitions, render, shared
from .subscripts import einsum
from .testing import finite_difference_jacobian, kink_distance
from .variables import topological, variables

FORMATS = ("text", "latex", "matrix", "einsum", "numpy", "explain")
_EINSUM = re.compile(r"^[\sA-Za-z.,]*(->[\sA-Za-z.]*)?$")


class _Usage(EinsdiffError):
    """A command-line mistake (an unknown flag, a malformed shape)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and status 2, like every other bad input
        raise _Usage(message)


def _arguments() -> argparse.ArgumentParser:
    p = _Parser(prog="einsdiff", description="Derivatives of tensor expressions in index notation.")
    p.add_argument("expression", help='an einsum equation "ij,j->i" or a formula "relu(W[i,j]*x[j] + b[i])"')
    p.add_argument("--wrt", required=True, help="the variable to differentiate by: a name, or an operand position")
    p.add_argument("--shape", action="append", default=[], metavar="[NAME=]3x4",
                   help="a shape: NAME=3x4 for a formula, or one per einsum operand in order; 'scalar' for ()")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--hessian", action="store_true", help="the second derivative (the expression must be a scalar)")
    p.add_argument("--share", action="store_true",
                   help="text and latex: write each subexpression the derivative would repeat once, as t1, t2, ...")
    p.add_argument("--check", action="store_true",
                   help="compare with central finite differences on random inputs in [0.5, 1.5]; with a matrix "
                        "function (inv, det, logdet, solve, ...) a square n×n variable also gets 1.5·n added to its "
                        "diagonal, so it is invertible with det > 0")
    p.add_argument("--value", action="append", default=[], metavar="NAME=JSON",
                   help="a value for the numbers in --format explain, e.g. A=[[1,2,3],[4,5,6]]")
    p.add_argument("--order", choices=("row", "column"), default="row", help="how explain flattens matrices")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs of --check")
    return p


def parse_shape(text: str, what: str) -> tuple[int, ...]:
    """``3x4`` (or ``3×4``, ``3,4``; ``scalar`` for ()) as a shape; ``what`` names it in the error."""
    text = text.strip()
    if text in ("scalar", "()", ""):
        return ()
    parts = text.replace("×", "x").replace(",", "x").split("x")
    if not all(part.strip().isdigit() for part in parts):
        raise _Usage(f"{what}: {text!r} is not a shape; write sizes joined by x, e.g. 3x4, or 'scalar'")
    return tuple(int(part) for part in parts)


def build(expression: str, wrt: str, shapes: list[str]) -> tuple[Expr, Var, str, tuple[str, ...], tuple[str, ...] | None]:
    """The expression, the variable, the function's name, its index names and the variable's
    letters, from the command's text: ``shapes`` as ``--shape`` takes them."""
    if _EINSUM.match(expression) and "[" not in expression:
        return _from_einsum(expression, wrt, shapes)
    sizes = {}
    for item in shapes:
        name, sep, dims = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise _Usage(f"--shape {item!r}: for a formula give NAME=SIZES, e.g. W=3x4")
        sizes[name.strip()] = parse_shape(dims, f"--shape {item}")
    return build_formula(expression, wrt, sizes)


def build_formula(expression: str, wrt: str, sizes: dict) -> tuple[Expr, Var, str, tuple[str, ...], tuple[str, ...] | None]:
    """:func:`build` for a formula in index notation, with its variables' shapes."""
    f = parse(expression, **sizes)
    fname, out, letters = formula_letters(expression)
    by_name = {v.name: v for v in variables(f)}
    var = by_name.get(wrt)
    if var is None:
        raise OperandError(f"--wrt {wrt!r} is not a variable of the formula; it has {', '.join(sorted(by_name))}")
    return f, var, fname or "f", out, letters.get(var.name)


def _from_einsum(expression: str, wrt: str, shapes: list[str]):
    equation = expression.replace(" ", "")
    inputs = equation.split("->")[0].split(",")
    if len(shapes) != len(inputs):
        raise _Usage(f"{equation!r} has {len(inputs)} operands; give one --shape each (got {len(shapes)})")
    names = [_operand_name(k) for k in range(len(inputs))]
    operands = [Var(n, parse_shape(s, f"--shape {s}")) for n, s in zip(names, shapes, strict=True)]
    f = einsum(equation, *operands)
    position = int(wrt) if wrt.isdigit() else names.index(wrt) if wrt in names else None
    if position is None or position >= len(operands):
        raise OperandError(f"--wrt {wrt!r}: give an operand position 0..{len(operands) - 1} or a name {names}")
    out = tuple(equation.split("->")[1]) if "->" in equation else None
    letters = tuple(inputs[position]) if "." not in inputs[position] else None
    return f, operands[position], "f", out if out and "." not in out else None, letters


def written_letters(expression: str) -> dict[str, tuple[str, ...]]:
    """The letters the expression writes on each variable's axes (an einsum's operands are
    A, B, ... by position), so printed formulas can name summed indices the same way."""
    if _EINSUM.match(expression) and "[" not in expression:
        inputs = expression.replace(" ", "").split("->")[0].split(",")
        return {_operand_name(k): tuple(term) for k, term in enumerate(inputs) if "." not in term}
    return formula_letters(expression)[2]


def _operand_name(k: int) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[k] if k < 26 else f"T{k}"


def index_names(f: Expr, wrt: Var, out, letters, count: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Free names of f (the formula's own), then derivative names that follow the variable's
    letters where those are free, else a, b, c, ..."""
    out = tuple(out) if out is not None and len(out) == f.ndim else tuple(_LETTERS[: f.ndim])
    taken = set(out)
    derivative = []
    spare = (c for c in itertools.chain("abcdefgh", _LETTERS, (f"d{k}" for k in itertools.count(1))))
    for rep in range(count):
        for p in range(wrt.ndim):
            letter = letters[p] if letters is not None and rep == 0 and len(letters) == wrt.ndim else None
            if letter is None or letter in taken or letters.count(letter) > 1:
                letter = next(c for c in spare if c not in taken and (letters is None or c not in letters))
            taken.add(letter)
            derivative.append(letter)
    return out, tuple(derivative)


def _values(items: list[str]) -> dict:
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        try:
            values[name.strip()] = np.asarray(json.loads(text), dtype=float)
        except (ValueError, TypeError) as err:
            raise _Usage(f"--value {item!r}: write NAME=JSON, e.g. A=[[1,2],[3,4]] ({err})") from err
        if not sep:
            raise _Usage(f"--value {item!r}: write NAME=JSON, e.g. A=[[1,2],[3,4]]")
    return values


@dataclass(frozen=True)
class Check:
    """A derivative against central finite differences at one random point."""

    error: float  # max |derivative - finite differences|
    scale: float  # max(1, largest |entry|): the error is judged relative to it
    entries: int
    ok: bool
    text: str  # one line that says all of it


def sample_point(f: Expr, seed: int) -> tuple[dict, list[Var]]:
    """Random values in [0.5, 1.5] (inside log's and sqrt's domains) for the variables of f,
    resampled while a relu or abs argument sits too close to its kink; with a matrix function
    in f, each square matrix variable gets 1.5·n on its diagonal (returned too), which
    outweighs the rest of its row: invertible, with det > 0."""
    square = [v for v in variables(f) if v.ndim >= 2 and v.shape[-1] == v.shape[-2]]
    shifted = square if any(isinstance(node, Call) for node in topological([f])) else []
    for attempt in range(20):
        rng = np.random.default_rng(seed + attempt)
        point = {v.name: rng.uniform(0.5, 1.5, v.shape) for v in variables(f)}
        for v in shifted:
            point[v.name] += 1.5 * v.shape[-1] * np.eye(v.shape[-1])
        if kink_distance(f, point) > 1e-3:
            break
    return point, shifted


def check(f: Expr, wrt: Var, derivative: Expr, order: int, seed: int) -> Check:
    """Compare ``derivative`` (of ``order`` 1 or 2) with central differences at :func:`sample_point`."""
    point, shifted = sample_point(f, seed)
    target = f if order == 1 else jacobian(f, wrt)
    want = finite_difference_jacobian(target, wrt, point)
    got = np.asarray(evaluate(derivative, **{v.name: point[v.name] for v in variables(derivative)}))
    err = float(np.max(np.abs(got - want), initial=0.0))
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    ok = err <= 1e-5 * scale
    inputs = "random inputs in [0.5, 1.5]" + "".join(f", {v.name} + {1.5 * v.shape[-1]:g}·I" for v in shifted)
    text = (f"check: max |derivative - central finite differences| = {err:.3g} over {want.size} entries "
            f"(values up to {scale:.3g}, {inputs}, seed {seed}): {'ok' if ok else 'MISMATCH'}")
    return Check(err, scale, int(want.size), ok, text)


def run(argv: list[str]) -> tuple[str, int]:
    args = _arguments().parse_args(argv)
    f, wrt, fname, out, letters = build(args.expression, args.wrt, args.shape)
    order = 2 if args.hessian else 1
    derivative = hessian(f, wrt) if args.hessian else jacobian(f, wrt)
    free, dnames = index_names(f, wrt, out, letters, order)
    lines = []
    if args.format in ("text", "latex"):
        style = Latex() if args.format == "latex" else Text()
        letters = written_letters(args.expression)
        _, body, legend = render(f, free, style, letters=letters)
        named = shared(derivative) if args.share else {}
        _, dbody, dlegend = render(derivative, free + dnames, style, named=named, letters=letters)
        den = " ".join(_partial(style, wrt.name, dnames[k * wrt.ndim:(k + 1) * wrt.ndim]) for k in range(order))
        head = style.ref(fname, free)
        lines += [f"{head} = {body}{legend}", *definitions(named, style, letters)]
        if args.format == "latex":
            num = rf"\partial^{{2}} {head}" if order == 2 else rf"\partial {head}"
            lines.append(rf"\frac{{{num}}}{{{den}}} = {dbody}{dlegend}")
        else:
            lines.append(f"{'∂²' if order == 2 else '∂'}{head}/{den} = {dbody}{dlegend}")
        lines.append(f"shape: {shape_text(f, wrt, order)} = {derivative.shape}")
    elif args.format == "matrix":
        lines += [f"{fname} = {matrix_form(f).text}" if f.ndim <= 2 else f"{fname}: a tensor of {f.ndim} axes",
                  derivative_notation(f, wrt, derivative, order, fname)]
    elif args.format == "einsum":
        lines.append(to_einsum(derivative))
    elif args.format == "numpy":
        key = "hessian" if args.hessian else "jacobian"
        lines.append(to_numpy_code({"value": f, key: derivative}, name=fname if fname != "f" else "f"))
    else:
        values = _values(args.value) if args.value else None
        lines.append(derivation(f, wrt, fname, free, dnames, order, values, args.order))
    status = 0
    if args.check:
        result = check(f, wrt, derivative, order, args.seed)
        lines.append(result.text)
        status = 0 if result.ok else 1
    return "\n".join(lines), status


def derivation(f: Expr, wrt: Var, fname: str, free, dnames, order: int, values=None, flatten: str = "row") -> str:
    """:func:`explain` of the derivative of ``order`` 1 or 2: a Hessian is explained as the
    Jacobian of the gradient g_f."""
    if order == 2:
        return explain(jacobian(f, wrt), wrt, values=values, order=flatten, name=f"g_{fname}",
                       indices=tuple(free) + dnames[: wrt.ndim], wrt_indices=dnames[wrt.ndim:])
    return explain(f, wrt, values=values, order=flatten, name=fname, indices=free, wrt_indices=dnames)


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
        if argv[:1] == ["serve"]:
            return _serve(argv[1:])
        text, status = run(argv)
    except EinsdiffError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"einsdiff: error: {first}", file=sys.stderr)
        return 2
    print(text)
    return status

