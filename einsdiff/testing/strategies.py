"""Hypothesis strategies for property tests: random einsums (:func:`einsum_cases`), random
compositions of every node type with an independent numpy twin (:func:`expressions`,
:func:`expressions_with_reference`), and seeded values for them (:func:`bindings_for`).
hypothesis is imported when a strategy is built, so this module imports without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from ..ir import build, matrix
from ..ir.expr import Expr, Var
from ..ir.subscripts import einsum
from ..ir.variables import variables


@dataclass(frozen=True)
class EinsumCase:
    """A random einsum: subscripts, and one variable per operand (shared ones repeat).

    >>> import einsdiff as ed
    >>> case = EinsumCase("ij,j->i", (ed.var("A", (2, 3)), ed.var("x", (3,))))
    >>> ed.einsum(case.subscripts, *case.operands).shape
    (2,)
    """

    subscripts: str
    operands: tuple[Var, ...]

    def expr(self) -> Expr:
        return einsum(self.subscripts, *self.operands)

    def variables(self) -> tuple[Var, ...]:
        return tuple(dict.fromkeys(self.operands))


def _st():
    import hypothesis.strategies as st

    return st


def einsum_cases(max_operands: int = 3, max_size: int = 3, ellipsis: bool = True):
    """Valid numpy einsums: repeated indices, ellipsis with broadcasting, size-1
    broadcasting, implicit and explicit mode, scalars, and one variable shared by
    several operands.

    >>> import numpy as np, einsdiff as ed
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5, derandomize=True, database=None)
    ... @given(einsum_cases())
    ... def test_value_is_numpys(case):
    ...     values = bindings_for(tuple(dict.fromkeys(case.operands)), seed=0)
    ...     arrays = [values[v.name] for v in case.operands]
    ...     got = ed.evaluate(ed.einsum(case.subscripts, *case.operands), values)
    ...     assert np.allclose(got, np.einsum(case.subscripts, *arrays))
    >>> test_value_is_numpys()
    """
    st = _st()

    @st.composite
    def strategy(draw):
        letters = "abcde"
        sizes = {ch: draw(st.integers(1, max_size)) for ch in letters}
        n_ops = draw(st.integers(1, max_operands))
        use_ellipsis = ellipsis and draw(st.booleans())
        ell_shape = tuple(draw(st.lists(st.integers(1, max_size), max_size=2))) if use_ellipsis else ()
        terms, shapes = [], []
        for _ in range(n_ops):
            term = draw(st.lists(st.sampled_from(letters), max_size=3))
            shape = [sizes[ch] for ch in term]
            for pos, ch in enumerate(term):  # a size-1 occurrence broadcasts against the others
                if term.count(ch) == 1 and draw(st.integers(0, 5)) == 0:
                    shape[pos] = 1
            text = "".join(term)
            if use_ellipsis and draw(st.booleans()):
                k = draw(st.integers(0, len(ell_shape)))
                ell = [n if draw(st.integers(0, 3)) else 1 for n in ell_shape[len(ell_shape) - k:]]
                at = draw(st.integers(0, len(term)))
                text = text[:at] + "..." + text[at:]
                shape[at:at] = ell
            terms.append(text)
            shapes.append(tuple(shape))
        if use_ellipsis and not any("..." in t for t in terms):
            terms[0], shapes[0] = "..." + terms[0], tuple(ell_shape) + shapes[0]
        lhs = ",".join(terms)
        if draw(st.booleans()):
            subscripts = lhs
        else:
            used = sorted({ch for t in terms for ch in t if ch != "."})
            out = draw(st.permutations(used))[: draw(st.integers(0, len(used)))]
            out = "".join(out)
            if use_ellipsis:
                at = draw(st.integers(0, len(out)))
                out = out[:at] + "..." + out[at:]
            subscripts = f"{lhs}->{out}"
        operands: list[Var] = []
        for k, shape in enumerate(shapes):
            twins = [v for v in operands if v.shape == shape]
            if twins and draw(st.booleans()):
                operands.append(draw(st.sampled_from(twins)))
            else:
                operands.append(Var(f"x{k}", shape))
        return EinsumCase(subscripts, tuple(operands))

    return strategy()


def bindings_for(vars_: tuple[Var, ...], seed: int, low: float = -1.0, high: float = 1.0) -> dict:
    """Random float64 arrays for ``vars_`` from a seeded generator (reproducible); a symmetric
    variable's is symmetrized.

    >>> import einsdiff as ed
    >>> b = bindings_for((ed.var("x", (3,)), ed.var("S", (2, 2), symmetric=True)), seed=0)
    >>> b["x"].shape, bool((b["S"] == b["S"].T).all())
    ((3,), True)
    """
    rng = np.random.default_rng(seed)
    values = {v.name: rng.uniform(low, high, v.shape) for v in vars_}
    for v in vars_:
        if v.symmetric:
            values[v.name] = (values[v.name] + np.swapaxes(values[v.name], -1, -2)) / 2
    return values


# Domain-safe wrappers: every function is applied where it is smooth and finite. Each
# comes with its numpy twin, so a drawn expression carries an independent reference.
def _sq(u):
    return build.elementwise("square", u)


_UNARY = {
    "exp": (lambda u: build.elementwise("exp", u), np.exp),
    "log": (lambda u: build.elementwise("log", 1 + _sq(u)), lambda a: np.log(1 + a * a)),
    "log1p": (lambda u: build.elementwise("log1p", _sq(u)), lambda a: np.log1p(a * a)),
    "sin": (lambda u: build.elementwise("sin", u), np.sin),
    "cos": (lambda u: build.elementwise("cos", u), np.cos),
    "tanh": (lambda u: build.elementwise("tanh", u), np.tanh),
    "sigmoid": (lambda u: build.elementwise("sigmoid", u), lambda a: 1 / (1 + np.exp(-a))),
    "relu": (lambda u: build.elementwise("relu", u), lambda a: np.where(a > 0, a, 0.0)),
    "abs": (lambda u: build.elementwise("abs", u), np.abs),
    "sqrt": (lambda u: build.elementwise("sqrt", 1 + _sq(u)), lambda a: np.sqrt(1 + a * a)),
    "square": (_sq, lambda a: a * a),
    "reciprocal": (lambda u: 1 / (1 + _sq(u)), lambda a: 1 / (1 + a * a)),
    "power": (lambda u: (1 + _sq(u)) ** 1.5, lambda a: (1 + a * a) ** 1.5),
}


@dataclass(frozen=True)
class Reference:
    """A drawn expression and a numpy function of the bindings that computes the same
    value without einsdiff (from the same random construction).

    >>> import numpy as np, einsdiff as ed
    >>> x = ed.var("x", (3,))
    >>> ref = Reference(ed.tanh(x), lambda b: np.tanh(b["x"]), (x,))
    >>> b = bindings_for(ref.variables, seed=0)
    >>> np.allclose(ed.evaluate(ref.expr, b), ref.numpy(b))
    True
    """

    expr: Expr
    numpy: Callable[[Mapping], np.ndarray]
    variables: tuple[Var, ...] = ()  # all it may read: simplification can drop some from expr


def _random_einsum_over(draw, operands: list[Reference], max_out: int = 3) -> Reference:
    """An einsum of ``operands`` with random subscripts that fit their shapes,
    averaged over its summed indices so values stay of order one."""
    st = _st()
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    size_of: dict[str, int] = {}
    terms = []
    for op in operands:
        term = ""
        for n in op.expr.shape:
            same = [ch for ch, m in size_of.items() if m == n]
            if same and draw(st.booleans()):
                ch = draw(st.sampled_from(same))
            else:
                ch = next(letters)
                size_of[ch] = n
            term += ch
        terms.append(term)
    used = list(dict.fromkeys("".join(terms)))
    out = "".join(draw(st.permutations(used))[: draw(st.integers(0, min(max_out, len(used))))])
    subscripts = ",".join(terms) + "->" + out
    scale = 1.0 / math.prod(size_of[ch] for ch in used if ch not in out)
    expr = einsum(subscripts, *(op.expr for op in operands))
    return Reference(
        expr * scale if scale != 1 else expr,
        lambda b: np.einsum(subscripts, *(op.numpy(b) for op in operands)) * scale,
    )


# Functions of whole tensors (``functions=True``), each drawn where finite differences stay
# valid: matrices are well conditioned by construction, the switch of a comparison is a step
# that kink_distance sees, and a norm's sqrt is seen by finite_difference_margin. A builder
# takes the operand drawn so far and a way to draw another, and returns a Reference.
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _tanh(a: Reference) -> Reference:
    return Reference(build.elementwise("tanh", a.expr), lambda b: np.tanh(a.numpy(b)))


def _mix(draw, a: Reference, shape: tuple[int, ...], bound: float) -> Reference:
    """A linear map of ``a`` onto ``shape`` (constant weights from a drawn seed) whose entries
    are at most ``bound`` times max |a|."""
    st = _st()
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    weights = rng.uniform(-1.0, 1.0, a.expr.shape + shape) * (bound / max(1, a.expr.size))
    lhs, rhs = _LETTERS[: a.expr.ndim], _LETTERS[a.expr.ndim : a.expr.ndim + len(shape)]
    subscripts = f"{lhs},{lhs}{rhs}->{rhs}"
    return Reference(einsum(subscripts, a.expr, weights), lambda b: np.einsum(subscripts, a.numpy(b), weights))


def _square_matrix(draw, a: Reference) -> Reference:
    """A matrix (or a batch of two) made from ``a`` with singular values in [1/2, 3/2], so
    inverses, determinants and their derivatives stay of order one: M + I, where
    M = mix(tanh a) has entries at most 1/(2n), so ‖M‖₂ <= 1/2; or the symmetric positive
    definite 2 M Mᵀ + I/2. Both have det > 0 (the eigenvalues of M + I lie in the disk
    |λ - 1| <= 1/2)."""
    st = _st()
    n = draw(st.integers(1, 3))
    m = _mix(draw, _tanh(a), draw(st.sampled_from([(), (2,)])) + (n, n), 0.5 / n)
    eye = build.identity(n)
    if draw(st.booleans()):
        return Reference(m.expr + eye, lambda b: m.numpy(b) + np.eye(n))
    gram = "...ij,...kj->...ik"
    return Reference(
        2.0 * einsum(gram, m.expr, m.expr) + 0.5 * eye, lambda b: 2.0 * np.einsum(gram, m.numpy(b), m.numpy(b)) + 0.5 * np.eye(n)
    )


def _inv(draw, a: Reference, more: Callable[[], Reference]) -> Reference:
    """X⁻¹."""
    x = _square_matrix(draw, a)
    return Reference(matrix.inv(x.expr), lambda b: np.linalg.inv(x.numpy(b)))


def _det(draw, a: Reference, more: Callable[[], Reference]) -> Reference:
    """det X."""
    x = _square_matrix(draw, a)
    return Reference(matrix.det(x.expr), lambda b: np.linalg.det(x.numpy(b)))


def _logdet(draw, a: Reference, more: Callable[[], Reference]) -> Reference:
    """log det X, log|det(-X)| (a negative determinant for odd n) or sign · log|det(-X)| by slogdet."""
    st = _st()
    x = _square_matrix(draw, a)
    form = draw(st.sampled_from(["logdet", "absolute", "slogdet"]))
    if form == "logdet":
        return Reference(matrix.logdet(x.expr), lambda b: np.log(np.linalg.det(x.numpy(b))))
    if form == "absolute":
        return Reference(matrix.logdet(-x.expr, absolute=True), lambda b: np.log(np.abs(np.linalg.det(-x.numpy(b)))))
    sign, logabs = matrix.slogdet(-x.expr)
    return Reference(sign * logabs, lambda b: np.prod(np.linalg.slogdet(-x.numpy(b)), axis=0))


def _cholesky(draw, a: Reference, more: Callable[[], Reference]) -> Reference:
    """chol(X) + 1/4: both of _square_matrix's forms have a positive definite symmetric part; the
    shift keeps the zeros above the diagonal off the kinks of what may follow (a norm, abs)."""
    x = _square_matrix(draw, a)
    return Reference(matrix.cholesky(x.expr) + 0.25,
                     lambda b: np.linalg.cholesky((x.numpy(b) + np.swapaxes(x.numpy(b), -1, -2)) / 2) + 0.25)


def _solve(draw, a: Reference, more: Callable[[], Reference]) -> Reference:
    """X⁻¹ B for B a vector, a matrix, or a batch of matrices made from a second operand."""
    st = _st()
    x = _square_matrix(draw, a)
    n, k = x.expr.shape[-1], draw(st.integers(1, 2))
    shape = draw(st.sampled_from([(n,), (n, k), x.expr.shape[:-2] + (n, k)]))
    rhs = _mix(draw, more(), shape, 1.0)
    return Reference(matrix.solve(x.expr, rhs.expr), lambda b: _np_solve(x.numpy(b), rhs.numpy(b)))


def _np_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """numpy.linalg.solve with ``b`` a vector (n,) or matrices (..., n, k) for every matrix of
    ``a``'s batch, written out in full: numpy 1.x reads a b of one axis fewer than ``a`` as
    stacked vectors, numpy 2 as matrices, and both read a full batch of matrices alike."""
    vector = b.ndim == 1
    rhs = b[:, None] if vector else b
    x = np.linalg.solve(a, np.broadcast_to(rhs, a.shape[:-2] + rhs.shape[-2:]))
    return x[..., 0] if vector else x


def _np_logsumexp(v: np.ndarray, axis) -> np.ndarray:
    m = np.max(v, axis=axis, keepdims=True)
    return np.squeeze(np.log(np.sum(np.exp(v - m), axis=axis, keepdims=True)) + m, axis=axis)


def _axis(draw, ndim: int):
    st = _st()
    return draw(st.integers(-ndim, ndim - 1))


def _logsumexp(draw, a: Reference, more: Callable[[], Reference]) -> Reference:
    """log Σ exp over all axes, one axis or several."""
    st = _st()
    if a.expr.ndim == 0:
        return _softplus(draw, a, more)
    axis = draw(st.one_of(st.none(), st.integers(-a.expr.ndim, a.expr.ndim - 1),
                          st.lists(st.integers(0, a.expr.ndim - 1), min_size=1, unique=True).map(tuple)))
    return Reference(matrix.logsumexp(a.expr, axis), lambda b: _np_logsumexp(a.numpy(b), axis))


def _softmax(draw, a: Reference, more: Callable[[], Reference]) -> Reference:
    """softmax or log_softmax along one axis."""
    st = _st()
    if a.expr.ndim == 0:
        return _softplus(draw, a, more)
    axis, log = _axis(draw, a.expr.ndim), draw(st.booleans())

    def twin(b):
        v = a.numpy(b)
        shifted = v - np.max(v, axis=axis, keepdims=True)
        total = np.sum(np.exp(shifted), axis=axis, keepdims=True)
        return shifted - np.log(total) if log else np.exp(shifted) / total

    return Reference((matrix.log_softmax if log else matrix.softmax)(a.expr, axis), twin)


def _broadcastable(other: Reference, a: Reference) -> Reference:
    """``other``, or its sum (a scalar) when its shape does not broadcast onto ``a``'s."""
    if other.expr.shape == a.expr.shape or other.expr.shape == a.expr.shape[a.expr.ndim - other.expr.ndim:]:
        return other
    return Reference(other.expr.sum(), lambda b: np.sum(other.numpy(b)))


_COMPARISONS = {
    ">": (lambda u, v: u > v, np.greater),
    "<": (lambda u, v: u < v, np.less),
    ">=": (lambda u, v: u >= v, np.greater_equal),
    "<=": (lambda u, v: u <= v, np.less_equal),
}


def _piecewise(draw, a: Reference, more: Callable[[], Reference]) -> Reference:
    """maximum, minimum, or where(a ? other, a, other / 2) for a comparison ?."""
    st = _st()
    other = _broadcastable(more(), a)
    form = draw(st.sampled_from(["maximum", "minimum", *_COMPARISONS]))
    if form in ("maximum", "minimum"):
        twin = np.maximum if form == "maximum" else np.minimum
        return Reference(getattr(matrix, form)(a.expr, other.expr), lambda b: twin(a.numpy(b), other.numpy(b)))
    compare, np_compare = _COMPARISONS[form]
    return Reference(
        matrix.where(compare(a.expr, other.expr), a.expr, 0.5 * other.expr),
        lambda b: np.where(np_compare(a.numpy(b), other.numpy(b)), a.numpy(b), 0.5 * other.numpy(b)),
    )


def _norm(draw, a: Reference, more: Callable[[], Reference]) -> Reference:
    """The 2-norm of all entries, a 2- or 1-norm along one axis, or the Frobenius norm."""
    st = _st()
    if a.expr.ndim == 0:
        return _softplus(draw, a, more)
    forms = ["all", "axis"] + (["fro"] if a.expr.ndim >= 2 else [])
    form = draw(st.sampled_from(forms))
    if form == "all":
        return Reference(matrix.norm(a.expr), lambda b: np.linalg.norm(a.numpy(b)))
    if form == "fro":
        return Reference(matrix.norm(a.expr, "fro"), lambda b: np.linalg.norm(a.numpy(b), "fro", axis=(-2, -1)))
    order, axis = draw(st.sampled_from([None, 2, 1])), _axis(draw, a.expr.ndim)
    return Reference(matrix.norm(a.expr, order, axis), lambda b: np.linalg.norm(a.numpy(b), order, axis=axis))


def _softplus(draw, a: Reference, more: Callable[[], Reference]) -> Reference:
    """log(1 + exp a)."""
    return Reference(build.elementwise("softplus", a.expr), lambda b: np.logaddexp(0.0, a.numpy(b)))


#: The functions of whole tensors ``expressions(functions=True)`` draws, by kind: each drawer takes
#: (draw, a reference, a way to draw more) and returns a :class:`Reference`.
FUNCTION_KINDS: dict[str, Callable] = {
    "inv": _inv,
    "det": _det,
    "logdet": _logdet,
    "solve": _solve,
    "cholesky": _cholesky,
    "logsumexp": _logsumexp,
    "softmax": _softmax,
    "piecewise": _piecewise,
    "norm": _norm,
    "softplus": _softplus,
}
_KINKED_KINDS = ("piecewise", "norm")  # left out when smooth=True: a norm is |a| in one dimension


def expressions_with_reference(
    max_depth: int = 4,
    max_size: int = 3,
    n_vars: int = 2,
    over: tuple[Var, ...] = (),
    smooth: bool = False,
    functions: bool = False,
):
    """Like :func:`expressions`, but draws a :class:`Reference`: the expression together
    with a numpy function that computes it independently.

    >>> import numpy as np, einsdiff as ed
    >>> from hypothesis import given, settings, strategies as st
    >>> @settings(max_examples=5, derandomize=True, database=None)
    ... @given(expressions_with_reference(max_depth=2), st.integers(0, 2**32 - 1))
    ... def test_value(ref, seed):
    ...     b = bindings_for(ref.variables, seed)
    ...     assert np.allclose(ed.evaluate(ref.expr, b), ref.numpy(b))
    >>> test_value()
    """
    st = _st()
    unary = sorted(fn for fn in _UNARY if not (smooth and fn in ("relu", "abs")))
    kinds = ["einsum1", "einsum2", "unary", "sum", "add", "mul", "scale"]
    if functions:
        kinds += [kind for kind in FUNCTION_KINDS if not (smooth and kind in _KINKED_KINDS)]

    @st.composite
    def strategy(draw):
        pool = list(over) or [
            Var(f"v{k}", tuple(draw(st.lists(st.integers(1, max_size), max_size=2))))
            for k in range(n_vars)
        ]

        def leaf(v: Var) -> Reference:
            return Reference(v, lambda b: np.asarray(b[v.name], dtype=np.float64))

        def grow(depth: int) -> Reference:
            if depth == 0 or draw(st.integers(0, 4)) == 0:
                return leaf(draw(st.sampled_from(pool)))
            kind = draw(st.sampled_from(kinds))
            a = grow(depth - 1)
            if kind in FUNCTION_KINDS:
                return FUNCTION_KINDS[kind](draw, a, lambda: grow(depth - 1))
            if kind == "einsum1":
                return _random_einsum_over(draw, [a])
            if kind == "einsum2":
                return _random_einsum_over(draw, [a, grow(depth - 1)])
            if kind == "unary":
                make, twin = _UNARY[draw(st.sampled_from(unary))]
                return Reference(make(a.expr), lambda b: twin(a.numpy(b)))
            if kind == "sum":
                axis = draw(st.integers(-a.expr.ndim, a.expr.ndim - 1)) if a.expr.ndim and draw(st.booleans()) else None
                return Reference(a.expr.sum(axis=axis), lambda b: np.sum(a.numpy(b), axis=axis))
            if kind == "scale":
                c, shift = draw(st.sampled_from([-1.0, 0.5, 2.0])), draw(st.sampled_from([0.0, 1.0]))
                return Reference(c * a.expr + shift, lambda b: c * a.numpy(b) + shift)
            other = grow(depth - 1)
            if other.expr.shape != a.expr.shape and other.expr.shape != a.expr.shape[a.expr.ndim - other.expr.ndim:]:
                inner = other
                other = Reference(inner.expr.sum(), lambda b: np.sum(inner.numpy(b)))  # a scalar broadcasts
            if kind == "add":
                return Reference(a.expr + other.expr, lambda b: a.numpy(b) + other.numpy(b))
            return Reference(a.expr * other.expr, lambda b: a.numpy(b) * other.numpy(b))

        return replace(grow(max_depth), variables=tuple(pool))

    return strategy()


def expressions(
    max_depth: int = 4,
    max_size: int = 3,
    n_vars: int = 2,
    over: tuple[Var, ...] = (),
    smooth: bool = False,
    functions: bool = False,
):
    """Random compositions of einsums, elementwise functions, sums and broadcasting
    arithmetic, up to ``max_depth`` levels, over the variables ``over`` (or ``n_vars``
    random ones). ``smooth=True`` leaves out relu and abs (no kinks for finite
    differences to trip on). ``functions=True`` adds the functions of whole tensors
    (:data:`FUNCTION_KINDS`: inv, det, logdet, slogdet, solve on well-conditioned matrices,
    logsumexp, softmax, where, maximum, minimum, norm, softplus); guard finite differences
    with :func:`finite_difference_margin`. Draws an expression of at least one variable
    (one that simplifies to a constant, such as logsumexp(log_softmax(x)) = 0, is drawn
    again); its variables are ``variables(expr)``.

    >>> import einsdiff as ed
    >>> from hypothesis import given, settings, strategies as st
    >>> from einsdiff.ir.variables import variables
    >>> from einsdiff.testing import check_jacobian
    >>> @settings(max_examples=5, derandomize=True, database=None)
    ... @given(expressions(max_depth=2, smooth=True), st.integers(0, 2**32 - 1))
    ... def test_derivatives(expr, seed):
    ...     vs = variables(expr)
    ...     check_jacobian(expr, vs, bindings_for(vs, seed))
    >>> test_derivatives()
    """
    drawn = expressions_with_reference(max_depth, max_size, n_vars, over, smooth, functions)
    return drawn.map(lambda r: r.expr).filter(lambda e: len(variables(e)) > 0)


def nested_tanh_formula(depth: int) -> str:
    """A scalar of ``depth`` nested tanh layers over A (n×n) and x (n): written out, its
    derivatives repeat each level below, the case that must stay linear in depth.

    >>> nested_tanh_formula(2)
    'L = sum[j](tanh(A[j,k]*tanh(A[k,t]*x[t])))'
    """
    letters = "jklmnpqrsuvwxyzbcdefghoJKLMNPQRSUVWXYZ"
    if not 1 <= depth <= len(letters):
        raise ValueError(f"depth {depth}: give 1 to {len(letters)}")
    body = f"A[{letters[depth - 1]},t]*x[t]"
    for d in range(depth - 2, -1, -1):
        body = f"A[{letters[d]},{letters[d + 1]}]*tanh({body})"
    return f"L = sum[j](tanh({body}))"


