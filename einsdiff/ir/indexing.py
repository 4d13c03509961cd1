"""NumPy's indexing and joining on expressions, as take and put nodes (:mod:`.functions.gather`).

``x[key]`` is one take per selected axis: a slice or an integer array takes those positions, an
int takes one (its axis then goes, as np.squeeze drops it), a boolean mask over k axes takes the
true positions of those axes merged into one (row-major); ``None`` adds an axis of size 1 and
``:`` leaves an axis alone. Joining is a sum of parts, each put in place: ``concatenate(parts)``
is Σ_k put(x_k). Nothing costs more than the entries it moves: no 0/1 selection tensor is formed.

>>> import einsdiff as ed
>>> x = ed.var("x", (3, 4))
>>> x[:, 1:3].shape, x[-1].shape, x[..., None].shape, x[[0, 2, 2]].shape
((3, 2), (4,), (3, 4, 1), (3, 4))
>>> concatenate([x, x[:1]]).shape
(4, 4)
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ..errors import OperandError, ShapeError
from .expr import Const, Expr, Var, as_expr
from .functions import gather
from .functions.shapes import flatten, reshape
from .simplify import add, contract


class _Pick(NamedTuple):
    """One item of an index after reading: its ``kind`` (int, slice, array, mask, new or
    ellipsis), the key position it was written at and, for int/array/mask, its value."""

    kind: str
    position: int
    value: object = None


def select(x: Expr, key) -> Expr:
    """``x[key]`` as numpy's basic indexing, with at most one integer array or boolean mask.

    >>> import einsdiff as ed
    >>> print(ed.var("x", (3,))[1:])
    f[i] = take[1:](x)[i]
    """
    items = key if isinstance(key, tuple) else (key,)
    where = _spelled(x, items)
    picks = [_read(item, k, where) for k, item in enumerate(items)]
    picks = _expand_ellipsis(x, picks, where)
    advanced = [q for q in picks if q.kind in ("array", "mask")]
    if len(advanced) > 1:
        raise OperandError(
            f"{where}: {len(advanced)} array indices (at positions {', '.join(str(q.position) for q in advanced)}); "
            f"einsdiff takes one integer array or mask per indexing. Select one axis at a time "
            f"(x[rows][:, cols] takes every pair), or pass one mask over the axes concerned"
        )
    # With an array present numpy counts ints as advanced too: the selected axis stays in place
    # when all of them stand together in the key, and goes first otherwise.
    grouped = [q.position for q in picks if q.kind in ("array", "mask") or (advanced and q.kind == "int")]
    in_place = not grouped or grouped == list(range(grouped[0], grouped[0] + len(grouped)))
    # One take per selected axis (an int keeps its axis, of size 1, a mask's axes are first merged
    # into one), then one contraction that drops the ints' axes, adds None's and moves an array's.
    picked, p, a, output, sizes, moved = x, 0, 0, [], {}, None  # p: the axis of x a pick reads, a: of picked
    for q in picks:
        if q.kind == "new":
            output.append(("new", q.position))
            sizes[("new", q.position)] = 1
            continue
        n = x.shape[p]
        if q.kind == "slice":
            picked = gather.take(picked, a, range(*q.value.indices(n)))
        elif q.kind == "int":
            i = _in_range(q.value, p, n, x, where)
            picked = gather.take(picked, a, range(i, i + 1))
        else:
            moved = ("axis", a)
            chosen = _chosen(q, x, p, where)
            if len(chosen) > 1:  # a mask over several axes: those axes as one, row-major
                covered = x.shape[p:p + len(chosen)]
                picked = reshape(picked, picked.shape[:a] + (int(np.prod(covered)),) + picked.shape[a + len(chosen):])
                chosen = (np.ravel_multi_index(chosen, covered),)
            picked = gather.take(picked, a, chosen[0])
        p += 1 if q.kind in ("slice", "int", "array") else q.value.ndim
        sizes[("axis", a)] = picked.shape[a]
        if q.kind != "int":
            output.append(("axis", a))
        a += 1
    if advanced and not in_place:
        output.remove(moved)
        output.insert(0, moved)
    if isinstance(x, Const):  # a constant's entries are known: no selection to keep
        return Const(x.value[key])
    axes = tuple(("axis", a) for a in range(picked.ndim))
    return picked if tuple(output) == axes else contract([picked], [axes], tuple(output), sizes)


def _read(item, position: int, where: str) -> _Pick:
    """One item of an index, checked to be a kind numpy's indexing and einsdiff both take."""
    if item is None:
        return _Pick("new", position)
    if item is Ellipsis:
        return _Pick("ellipsis", position)
    if isinstance(item, slice):
        for part in (item.start, item.stop, item.step):
            if part is not None and not _is_int(part):
                raise OperandError(
                    f"{where}: slice {_item_text(item)} at position {position} has the bound {part!r}; "
                    f"slice bounds and steps are ints or None"
                )
        if item.step is not None and int(item.step) == 0:
            raise ShapeError(f"{where}: slice {_item_text(item)} at position {position} has step 0; use a step other than 0")
        return _Pick("slice", position, item)
    if isinstance(item, Expr):
        raise OperandError(
            f"{where}: the index at position {position} is an einsdiff expression; which entries it selects "
            f"would depend on values, which have no derivative. Index with constants, or blend values with "
            f"np.where(mask, x, 0)"
        )
    if _is_int(item):
        return _Pick("int", position, int(item))
    try:
        array = np.asarray(item)
    except Exception as err:  # numpy raises many kinds for ragged input
        raise OperandError(f"{where}: the index at position {position} cannot be read as an array: {err}") from err
    if array.dtype == bool:
        if array.ndim == 0:
            raise OperandError(
                f"{where}: the index at position {position} is the bool {item!r}; einsdiff takes a boolean mask "
                f"array, not a single bool (use None to add an axis)"
            )
        return _Pick("mask", position, array)
    if array.size == 0 and array.ndim == 1:  # x[[]]: numpy reads an empty list as no integers
        array = array.astype(np.intp)
    if array.dtype.kind not in "iu":
        raise OperandError(
            f"{where}: the index at position {position} is {_item_text(item)} of dtype {array.dtype}; "
            f"an index is an int, a slice, None, ..., a 1-D integer array or a boolean mask"
            + ("; convert it with int(...)" if array.dtype.kind == "f" else "")
        )
    if array.ndim == 0:
        return _Pick("int", position, int(array))
    if array.ndim > 1:
        raise OperandError(
            f"{where}: the integer array at position {position} has shape {array.shape}; einsdiff takes "
            f"1-D integer arrays. Select with the flattened array and reshape: "
            f"x[idx.ravel()].reshape(...)"
        )
    return _Pick("array", position, array)


def _expand_ellipsis(x: Expr, picks: list[_Pick], where: str) -> list[_Pick]:
    """The picks with ``...`` (or, without one, the end) filled with full slices."""
    ellipses = [q.position for q in picks if q.kind == "ellipsis"]
    if len(ellipses) > 1:
        raise OperandError(f"{where}: an index holds at most one ... (it has {len(ellipses)}, at positions "
                           f"{', '.join(map(str, ellipses))}); spell out the axes between them with :")
    used = sum(1 if q.kind in ("int", "slice", "array") else q.value.ndim if q.kind == "mask" else 0 for q in picks)
    if used > x.ndim:
        raise ShapeError(
            f"{where}: {used} indexed axes but the expression has {x.ndim} (shape {x.shape}); give at most "
            f"{x.ndim} (None and ... index no axis)"
        )
    fill = [_Pick("slice", ellipses[0] if ellipses else len(picks), slice(None))] * (x.ndim - used)
    if not ellipses:
        return picks + fill
    k = next(k for k, q in enumerate(picks) if q.kind == "ellipsis")
    return picks[:k] + fill + picks[k + 1:]


def _chosen(q: _Pick, x: Expr, p: int, where: str) -> tuple[np.ndarray, ...]:
    """The input positions an integer array or a mask reads, one array per axis it covers."""
    if q.kind == "mask":
        covered = x.shape[p:p + q.value.ndim]
        if q.value.shape != covered:
            raise ShapeError(
                f"{where}: the mask at position {q.position} has shape {q.value.shape} but it covers axes "
                f"{p} to {p + q.value.ndim - 1} of shape {covered} (the expression's shape is {x.shape}); "
                f"give a mask of shape {covered}"
            )
        return np.nonzero(q.value)
    n = x.shape[p]
    bad = q.value[(q.value < -n) | (q.value >= n)]
    if bad.size:
        raise ShapeError(
            f"{where}: the integer array at position {q.position} holds {int(bad[0])}, out of range for axis "
            f"{p} of size {n}; its entries must lie in -{n} .. {n - 1}"
        )
    return (q.value % n if n else q.value,)


def _in_range(i: int, p: int, n: int, x: Expr, where: str) -> int:
    if not -n <= i < n:
        raise ShapeError(
            f"{where}: index {i} is out of range for axis {p} of size {n} (shape {x.shape}); "
            + (f"use an index in -{n} .. {n - 1}" if n else "the axis is empty")
        )
    return i % n


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _spelled(x: Expr, items: tuple) -> str:
    """The indexing as written, for messages: ``x[:, 1:3]``."""
    name = x.name if isinstance(x, Var) else "x"
    return f"{name}[{', '.join(_item_text(item) for item in items)}]" if items else f"{name}[()]"


def _item_text(item) -> str:
    if item is Ellipsis:
        return "..."
    if isinstance(item, slice):
        parts = ["" if v is None else str(v) for v in (item.start, item.stop, item.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if item.step is not None else "")
    if isinstance(item, np.ndarray):
        text = np.array2string(item, threshold=8, separator=", ")
        return text if len(text) <= 40 else f"an array of shape {item.shape}"
    text = repr(item)
    return text if len(text) <= 40 else f"a {type(item).__name__}"


# -- joining -------------------------------------------------------------------------------------
def concatenate(parts, axis=0, fn: str = "np.concatenate") -> Expr:
    """The parts joined along an existing ``axis`` (None: flattened, then joined), as numpy.

    >>> import einsdiff as ed
    >>> x, y = ed.var("x", (2,)), ed.var("y", (3,))
    >>> print(concatenate([x, y]))
    f[i] = put[:2 of 5](x)[i] + put[2: of 5](y)[i]
    """
    exprs = joined_parts(parts, fn)
    if axis is None:
        exprs, axis = [flatten(e) for e in exprs], 0
    first = exprs[0]
    if first.ndim == 0:
        raise ShapeError(f"{fn}: part 0 is a scalar; scalars cannot be concatenated. Join them with np.stack")
    p = _axis(axis, first.ndim, fn)
    for k, e in enumerate(exprs):
        if e.ndim != first.ndim or e.shape[:p] + e.shape[p + 1:] != first.shape[:p] + first.shape[p + 1:]:
            raise ShapeError(
                f"{fn}: part {k} has shape {e.shape} but part 0 has shape {first.shape}; the parts' shapes "
                f"must agree except along axis {p}"
            )
    total = sum(e.shape[p] for e in exprs)
    offsets = np.cumsum([0] + [e.shape[p] for e in exprs])
    return _join(exprs, p, [np.arange(o, o + e.shape[p]) for o, e in zip(offsets, exprs, strict=False)], total)


def stack(parts, axis=0, fn: str = "np.stack") -> Expr:
    """The parts (all of one shape) joined along a new ``axis``.

    >>> import einsdiff as ed
    >>> stack([ed.var("x", (2, 3)), 1.0 * ed.var("y", (2, 3))], axis=-1).shape
    (2, 3, 2)
    """
    exprs = joined_parts(parts, fn)
    for k, e in enumerate(exprs):
        if e.shape != exprs[0].shape:
            raise ShapeError(f"{fn}: part {k} has shape {e.shape} but part 0 has shape {exprs[0].shape}; "
                             f"the parts to stack must have one shape")
    p = _axis(axis, exprs[0].ndim + 1, fn)
    return _join(exprs, p, list(range(len(exprs))), len(exprs))


def _join(exprs: list[Expr], p: int, places: list, total: int) -> Expr:
    """Σ_k put(x_k) along axis ``p`` of ``total`` entries: part k's entries along p land at
    ``places[k]`` (an array), or the whole part at index ``places[k]`` (an int) of a new axis p.
    The constant parts are placed in one constant."""
    new = isinstance(places[0], int)
    rest = exprs[0].shape if new else exprs[0].shape[:p] + exprs[0].shape[p + 1:]
    shape = rest[:p] + (total,) + rest[p:]
    fixed, terms = None, []
    for e, place in zip(exprs, places, strict=True):
        if isinstance(e, Const):
            fixed = np.zeros(shape, np.result_type(e.value, np.float64)) if fixed is None else fixed
            fixed[(slice(None),) * p + (place,)] = e.value
            continue
        if new:  # the part as a slice of one entry along the new axis
            labels = tuple(range(e.ndim))
            e = contract([e], [labels], labels[:p] + ("new",) + labels[p:], dict(zip(labels, e.shape, strict=True)) | {"new": 1})
            place = [place]
        if len(place):  # an empty part adds nothing
            terms.append(gather.put(e, p, total, place))
    if fixed is not None:
        terms.append(Const(fixed))
    return add(terms, [1.0] * len(terms), shape)


def joined_parts(parts, fn: str) -> list[Expr]:
    """The parts to join as expressions: a sequence of arrays, numbers or expressions (one array or
    expression is the sequence of its rows, as numpy iterates it)."""
    exprs = [as_expr(part, f"{fn}'s part {k}") for k, part in enumerate(parts)]
    if not exprs:
        raise ShapeError(f"{fn}: needs at least one array to join, got none")
    return exprs


def _axis(axis, ndim: int, fn: str) -> int:
    if not _is_int(axis) or not -ndim <= axis < ndim:
        raise ShapeError(f"{fn}: axis {axis!r} is out of range for a result of {ndim} axes; use an int in "
                         f"-{ndim} .. {ndim - 1}")
    return int(axis) % ndim
