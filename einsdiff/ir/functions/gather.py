"""Selection along one axis: ``take`` (x's entries at fixed positions) and ``put``, its transpose.

take(x)[..., i, ...] = x[..., P[i], ...] for a fixed tuple of positions P along one axis; put
adds each of y's entries into a zero tensor of n entries along that axis at P[i]. Both are
linear, each the other's transpose, so their derivatives of every order are takes and puts
again, and they cost what numpy's slicing and ``np.add.at`` cost: no dense 0/1 selection tensor.
Positions are stored as a ``range`` (a slice, normalized) or a tuple of ints.

Notation. The bracket holds the key as numpy writes it, ``:`` on the axes left alone:
``take[1:, :](X)[i,j]`` is X[1:, :] indexed by i and j, ``take[k,l; [0, 2, 2], :](A[k,m] B[m,l])[i,j]``
binds the argument's axes first, as ``inv[k,l](...)`` does. ``put[1: of 5](y)[i]`` is the
vector of 5 entries whose entries 1: are y's and whose others are 0. An affine index
(``x[i+1]``) would read better for a slice, but not for an index array, and none of the
printers nor the formula parser writes or reads index arithmetic; a key in numpy's spelling
is exact for both and says what the code does. Formulas cannot call them (no Syntax): index
notation states a selection by naming the selected entries, which is what ``x[1:]`` in Python
already does; matrix notation refuses them as it refuses constants.

>>> import numpy as np, einsdiff as ed
>>> x = ed.var("x", (4,))
>>> print(take(x, 0, range(1, 4)))
f[i] = take[1:](x)[i]
>>> print(ed.grad(ed.sum(take(x, 0, (0, 2, 2)) ** 2), x))
f[i] = put[j; [0, 2, 2] of 4](2 take[[0, 2, 2]](x)[j])[i]
>>> ed.evaluate(put(x, 0, 6, range(1, 5)), x=np.arange(4.0))
array([0., 0., 1., 2., 3., 0.])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..expr import Call, Const, Expr, is_zero, zero
from ..registry import Function, Notation

Positions = range | tuple[int, ...]


def positions(chosen: Sequence[int]) -> Positions:
    """``chosen`` (non-negative ints) in normal form, one per sequence: a range when they step
    evenly, else a tuple.

    >>> positions([4, 2, 0]), positions([0, 2, 2])
    (range(4, -2, -2), (0, 2, 2))
    """
    if isinstance(chosen, range) and len(chosen) >= 2:
        return range(chosen[0], chosen[0] + chosen.step * len(chosen), chosen.step)
    chosen = tuple(int(c) for c in chosen)
    if len(chosen) < 2:
        return range(chosen[0], chosen[0] + 1) if chosen else range(0)
    step = chosen[1] - chosen[0]
    if step and all(b - a == step for a, b in zip(chosen, chosen[1:], strict=False)):
        return range(chosen[0], chosen[0] + step * len(chosen), step)
    return chosen


def _unique(at: Positions) -> bool:
    return isinstance(at, range) or len(set(at)) == len(at)


def take(x: Expr, axis: int, at: Positions) -> Expr:
    """x's entries at positions ``at`` along ``axis``."""
    at, n = positions(at), x.shape[axis]
    shape = x.shape[:axis] + (len(at),) + x.shape[axis + 1:]
    if at == range(n):
        return x
    if is_zero(x):
        return zero(shape)
    if isinstance(x, Const):
        return Const(_take(x.value, axis, at))
    if isinstance(x, Call) and x.fn == "take" and x.param[0] == axis:  # take of take: one take
        inner = x.param[1]
        return take(x.args[0], axis, positions(inner[p] for p in at))
    if isinstance(x, Call) and x.fn == "put" and x.param[0] == axis and x.param[2] == at and _unique(at):
        return x.args[0]  # put then take at the same (distinct) positions: what was put
    return Call("take", (x,), (axis, at), shape)


def put(y: Expr, axis: int, n: int, at: Positions) -> Expr:
    """Zeros of ``n`` entries along ``axis`` with y's entries added at positions ``at``."""
    at = positions(at)
    shape = y.shape[:axis] + (n,) + y.shape[axis + 1:]
    if at == range(n):
        return y
    if is_zero(y):
        return zero(shape)
    if isinstance(y, Const):
        return Const(_put(y.value, axis, n, at))
    return Call("put", (y,), (axis, n, at), shape)


def _index(axis: int, at: Positions):
    """What numpy indexes with: a slice for a range (stop None when it runs down past 0), else a list."""
    if isinstance(at, range):
        picked = slice(at.start, at.stop if at.stop >= 0 else None, at.step)
    else:
        picked = list(at)
    return (slice(None),) * axis + (picked,)


def _take(x: np.ndarray, axis: int, at: Positions) -> np.ndarray:
    return x[_index(axis, at)] if isinstance(at, range) else np.take(x, list(at), axis=axis)


def _put(y: np.ndarray, axis: int, n: int, at: Positions) -> np.ndarray:
    out = np.zeros(y.shape[:axis] + (n,) + y.shape[axis + 1:], dtype=np.result_type(y, np.float64))
    if _unique(at):
        out[_index(axis, at)] = y
    else:
        np.add.at(out, _index(axis, at), y)
    return out


_SOURCE = """\
def _index(axis, at):
    if isinstance(at, range):
        return (slice(None),) * axis + (slice(at.start, at.stop if at.stop >= 0 else None, at.step),)
    return (slice(None),) * axis + (list(at),)


def _take(x, axis, at):
    return x[_index(axis, at)] if isinstance(at, range) else np.take(x, list(at), axis=axis)


def _put(y, axis, n, at):
    out = np.zeros(y.shape[:axis] + (n,) + y.shape[axis + 1:], dtype=np.result_type(y, np.float64))
    if isinstance(at, range) or len(set(at)) == len(at):
        out[_index(axis, at)] = y
    else:
        np.add.at(out, _index(axis, at), y)
    return out
"""


# Other backends, through what every array namespace indexes with: a slice with a positive step, a
# list of ints along one axis. put gathers from y with a zero slice appended, once per layer of
# distinct positions (a position listed twice is in two layers, whose values add).
def _take_array(xp, node, a):
    axis, at = node.param
    picked = _index(axis, at) if isinstance(at, range) and at.step > 0 else (slice(None),) * axis + (list(at),)
    return a[0][picked]


def _put_array(xp, node, a):
    (y,), (axis, n, at) = a, node.param
    layers: list[list[tuple[int, int]]] = []
    seen: dict[int, int] = {}
    for k, p in enumerate(at):
        seen[p] = seen.get(p, -1) + 1
        if seen[p] == len(layers):
            layers.append([])
        layers[seen[p]].append((k, p))
    blank = xp.zeros(tuple(y.shape[:axis]) + (1,) + tuple(y.shape[axis + 1:]), dtype=y.dtype)
    out = xp.zeros(node.shape, dtype=y.dtype) if not layers else None
    for layer in layers:
        source = [len(layer)] * n
        for j, (_, p) in enumerate(layer):
            source[p] = j
        part = y if len(layer) == len(at) else y[(slice(None),) * axis + ([k for k, _ in layer],)]
        placed = xp.concatenate([part, blank], axis=axis)[(slice(None),) * axis + (source,)]
        out = placed if out is None else out + placed
    return out


def _take_jvp(node, tangents, extra):
    """d take(x) = take(dx), along the same axis."""
    (dx,) = tangents
    return take(dx, *node.param)


def _take_vjp(node, adj, lead):
    """df/dx = put(df/dy): each adjoint entry goes back to the position it was read from."""
    axis, at = node.param
    return (put(adj, axis + len(lead), node.args[0].shape[axis], at),)


def _put_jvp(node, tangents, extra):
    """d put(y) = put(dy), along the same axis."""
    (dy,) = tangents
    return put(dy, *node.param)


def _put_vjp(node, adj, lead):
    """df/dy = take(df/dz) at the positions y was put at."""
    axis, _, at = node.param
    return (take(adj, axis + len(lead), at),)


def key_text(node: Call) -> str:
    """The key as numpy writes it, ``:`` on the axes left alone: ``:, 1:3``, ``[0, 2, 2]``, ``1: of 5``."""
    axis, at = node.param[0], node.param[-1]
    n = node.args[0].shape[axis] if node.fn == "take" else node.param[1]
    picked = _positions_text(at, n) + (f" of {n}" if node.fn == "put" else "")
    return ", ".join(picked if p == axis else ":" for p in range(node.ndim))


def _positions_text(at: Positions, n: int) -> str:
    if not isinstance(at, range):
        return f"[{', '.join(map(str, at))}]"
    if not at:
        return "0:0"
    first, last, step = at[0], at[-1], at.step
    if step > 0:
        start, stop = ("" if first == 0 else str(first)), ("" if last + step >= n else str(last + 1))
    else:
        start, stop = ("" if first == n - 1 else str(first)), ("" if last + step < 0 else str(last - 1))
    return f"{start}:{stop}" + ("" if step == 1 else f":{step}")


def _notation(fn: str, rule_text: str, rule_latex: str) -> Notation:
    return Notation(fn, text=f"{fn}[{{p}}]({{0}})", latex=rf"\operatorname{{{{{fn}}}}}_{{{{\text{{{{{{p}}}}}}}}}}\left({{0}}\right)",
                    mathml=(f"<msub><mi>{fn}</mi><mtext>{{p}}</mtext></msub><mo>&#x2061;</mo>"
                            "<mrow><mo>(</mo>{0}<mo>)</mo></mrow>"),
                    indexed=True, rule=f"{fn} rule", rule_text=rule_text, rule_latex=rule_latex, param=key_text)


ENTRIES = (
    Function(
        "take", "call",
        _notation("take", "take is linear: d take(x) = take(dx), and its transpose is put",
                  r"d \operatorname{take}(x) = \operatorname{take}(dx)"),
        builder=take, numpy=lambda node, a: _take(a[0], *node.param), array=_take_array,
        jvp=_take_jvp, vjp=_take_vjp, source="_take({0}, *{p})", helper=_SOURCE,
    ),
    Function(
        "put", "call",
        _notation("put", "put is linear: d put(y) = put(dy), and its transpose is take",
                  r"d \operatorname{put}(y) = \operatorname{put}(dy)"),
        builder=put, numpy=lambda node, a: _put(a[0], *node.param), array=_put_array,
        jvp=_put_jvp, vjp=_put_vjp, source="_put({0}, *{p})", helper=_SOURCE,
    ),
)
