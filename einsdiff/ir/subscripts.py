"""numpy's einsum grammar parsed into a :class:`~einsdiff.ir.expr.Contract`.

Explicit (``->``) and implicit mode, repeated indices inside one operand, ellipsis
with broadcasting, size-1 axes broadcast against larger ones, scalars (``,->``).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from ..errors import ShapeError, SubscriptError
from .expr import Expr, as_expr
from .simplify import contract

ELLIPSIS = "..."


@dataclass(frozen=True, slots=True)
class Term:
    """One operand's subscripts: letters, with the ellipsis (if any) at ``ellipsis_at``."""

    letters: tuple[str, ...]
    ellipsis_at: int | None


def _parse_term(text: str, where: str) -> Term:
    letters: list[str] = []
    ellipsis_at = None
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch in string.ascii_letters:
            letters.append(ch)
            pos += 1
        elif text.startswith(ELLIPSIS, pos):
            if ellipsis_at is not None:
                raise SubscriptError(f"{where} {text!r} has more than one ellipsis '...'")
            ellipsis_at = len(letters)
            pos += 3
        elif ch == ".":
            raise SubscriptError(f"{where} {text!r} has a '.' that is not part of an ellipsis '...'")
        else:
            raise SubscriptError(
                f"{where} {text!r} has the character {ch!r}; subscripts are letters a-z, A-Z and '...'"
            )
    return Term(tuple(letters), ellipsis_at)


def parse(subscripts: str, n_operands: int) -> tuple[list[Term], Term | None]:
    """Split ``subscripts`` into one :class:`Term` per operand and the output (None: implicit)."""
    if not isinstance(subscripts, str):
        raise SubscriptError(f"einsum subscripts must be a string, got {type(subscripts).__name__}")
    text = subscripts.replace(" ", "")
    if text.count("->") > 1:
        raise SubscriptError(f"subscripts {subscripts!r} have more than one '->'")
    lhs, arrow, rhs = text.partition("->")
    if ("-" in lhs or ">" in lhs) or ("-" in rhs or ">" in rhs):
        raise SubscriptError(f"subscripts {subscripts!r} have a stray '-' or '>'; write '->' once")
    texts = lhs.split(",")
    if len(texts) != n_operands:
        raise SubscriptError(
            f"subscripts {subscripts!r} name {len(texts)} operand(s) but {n_operands} were given"
        )
    terms = [_parse_term(t, f"operand {k}'s subscripts") for k, t in enumerate(texts)]
    return terms, (_parse_term(rhs, "output subscripts") if arrow else None)


def einsum(subscripts: str, *operands) -> Expr:
    """``numpy.einsum`` as an expression; operands are expressions or array-likes.

    >>> import einsdiff as ed
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> ed.einsum("ij,j->i", A, x).shape
    (2,)
    """
    ops = [as_expr(op, f"operand {k}") for k, op in enumerate(operands)]
    terms, out_term = parse(subscripts, len(ops))

    # How many axes each ellipsis stands for; all ellipses align from the right.
    ell_dims = []
    for k, (op, term) in enumerate(zip(ops, terms, strict=True)):
        extra = op.ndim - len(term.letters)
        if extra < 0 or (extra > 0 and term.ellipsis_at is None):
            raise SubscriptError(
                f"operand {k} has shape {op.shape} ({op.ndim} axes) but subscripts "
                f"{''.join(term.letters) if term.ellipsis_at is None else _show(term)!r} "
                f"name {len(term.letters)}{' plus an ellipsis' if term.ellipsis_at is not None else ''}"
            )
        ell_dims.append(extra)
    n_ell = max(ell_dims, default=0)
    any_ellipsis = any(t.ellipsis_at is not None for t in terms)

    # Every axis gets a label; a label's size is the largest of its occurrences,
    # and size-1 occurrences of a larger label broadcast (they get a fresh label).
    axis_labels: list[list] = []
    for op, term, extra in zip(ops, terms, ell_dims, strict=True):
        labels: list = list(term.letters)
        if term.ellipsis_at is not None:
            labels[term.ellipsis_at:term.ellipsis_at] = [(ELLIPSIS, n_ell - extra + p) for p in range(extra)]
        axis_labels.append(labels)
    sizes: dict = {}
    first_seen: dict = {}
    for k, (op, labels) in enumerate(zip(ops, axis_labels, strict=True)):
        for label, n in zip(labels, op.shape, strict=True):
            old = sizes.get(label)
            if old is not None and old != n and 1 not in (old, n):
                raise ShapeError(
                    f"index {_label_name(label)!r} has size {old} in operand {first_seen[label]} "
                    f"but size {n} in operand {k}; make the sizes agree (or 1 to broadcast)"
                )
            if old is None or n > old:
                sizes[label], first_seen[label] = n, k
    inputs = []
    for k, (op, labels) in enumerate(zip(ops, axis_labels, strict=True)):
        idx = []
        for axis, (label, n) in enumerate(zip(labels, op.shape, strict=True)):
            if n == 1 and sizes[label] > 1:
                label = ("broadcast", k, axis)
                sizes[label] = 1
            idx.append(label)
        inputs.append(tuple(idx))

    ell_labels = [(ELLIPSIS, p) for p in range(n_ell)]
    for label in ell_labels:
        sizes.setdefault(label, 1)
    if out_term is None:
        counts: dict[str, int] = {}
        for term in terms:
            for ch in term.letters:
                counts[ch] = counts.get(ch, 0) + 1
        output = ell_labels + sorted(ch for ch, c in counts.items() if c == 1)
    else:
        output = _explicit_output(subscripts, terms, out_term, ell_labels, any_ellipsis)
    return contract(ops, inputs, tuple(output), sizes)


def _explicit_output(subscripts, terms, out_term, ell_labels, any_ellipsis) -> list:
    seen_letters = {ch for t in terms for ch in t.letters}
    for pos, ch in enumerate(out_term.letters):
        if ch in out_term.letters[:pos]:
            raise SubscriptError(
                f"output index {ch!r} is repeated in {subscripts!r}; an output index may appear "
                f"once (use a Kronecker delta expression for a diagonal)"
            )
        if ch not in seen_letters:
            raise SubscriptError(f"output index {ch!r} in {subscripts!r} appears in no input")
    if (out_term.ellipsis_at is not None) != any_ellipsis:
        side = "output" if out_term.ellipsis_at is not None else "inputs"
        raise SubscriptError(
            f"subscripts {subscripts!r} have an ellipsis '...' on the {side} only; "
            f"write it on both sides of '->'"
        )
    output: list = list(out_term.letters)
    if out_term.ellipsis_at is not None:
        output[out_term.ellipsis_at:out_term.ellipsis_at] = ell_labels
    return output


def _show(term: Term) -> str:
    letters = list(term.letters)
    if term.ellipsis_at is not None:
        letters.insert(term.ellipsis_at, ELLIPSIS)
    return "".join(letters)


def _label_name(label) -> str:
    return label if isinstance(label, str) else f"...[{label[1]}]"
