"""Spectral matrix functions: expm (any square matrix), sqrtm and logm (symmetric positive
definite, reading sym(A) = (A + Aᵀ)/2), and matrix_power, batched over leading axes.

Their derivatives of every order are Fréchet derivatives, one Call node per function and
order: ``dexpm(A, E1, ..., Ek)`` is Dᵏexp(A)[E1, ..., Ek], symmetric in the directions, each
direction Eₘ of shape A.shape + its own trailing axes, which the result carries in order. Its
forward rule in A is the node of the next order, in Eₘ the same node with Eₘ's tangent (it is
multilinear); its reverse rule is written out, as ⟨G, Dᵏf(A)[..., Eₘ, ...]⟩ =
⟨Dᵏf(Aᵀ)[E1ᵀ, ..., G, ..., Ekᵀ], Eₘ⟩ (f a power series with real coefficients). So the
gradient of expm is one node application, and Hessians take the node of the next order.

Values: Dᵏf at a symmetric A = U diag(λ) Uᵀ is Daleckii–Krein's
U (Σ_σ Σ_l f[λᵢ, λ_l1, ..., λⱼ] Ẽσ1[i,l1] ... Ẽσk[l_{k-1},j]) Uᵀ with Ẽ = Uᵀ E U and f[...]
the divided differences, computed so that they stay accurate at repeated and nearly repeated
eigenvalues (:func:`divided_difference`). For expm at a non-symmetric A, the first derivative
differentiates the Padé approximant with its scaling and squaring (Al-Mohy and Higham), and the
k-th is the top-right block of expm of the block-bidiagonal matrix with A on the diagonal and
Eσ1, ..., Eσk above it, summed over the orders σ.

A node has no summed axes of its own, so a reverse sweep through one whose directions carry
axes (a forward-mode Jacobian, differentiated again in reverse) forms the outer product of the
adjoint's axes with theirs and then takes its diagonal: correct, at the cost of that product.
"""

from __future__ import annotations

import inspect
import itertools
import math

import numpy as np

from .. import build
from ...errors import EvaluationError, OperandError, OptionError, ShapeError
from ..expr import Add, Call, Contract, Expr
from ..registry import Function, Notation, Syntax
from ..simplify import add
from .base import contract, describe, labels, shared_factorization, sizes_of, square_matrix
from .linalg import inv

# -- expm's value: scaling and squaring with the [13/13] Padé approximant (Higham 2005) -----------------
_THETA13 = 5.371920351148152  # the largest 1-norm for which [13/13] Padé is accurate to double precision
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0, 129060195264000.0,
           10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)


def _squarings(xp, a):
    """s per matrix, so that 2⁻ˢ a has 1-norm at most θ₁₃, and the largest s (a bound when traced)."""
    norm = xp.max(xp.sum(xp.abs(a), axis=-2), axis=-1)
    s = xp.where(norm > _THETA13, xp.ceil(xp.log2(xp.where(norm > _THETA13, norm, 1.0) / _THETA13)), 0.0)
    try:
        steps = int(xp.max(xp.reshape(s, (-1,)), axis=0)) if math.prod(tuple(s.shape)) else 0
    except TypeError:  # traced (jax.jit), so not known yet: a bound, each matrix squared its own s times
        steps = 64
    return s, steps


def expm_array(xp, a):
    """exp of each matrix of ``a`` (batch + (n, n)) in the namespace ``xp`` (numpy's names):
    scaled by 2⁻ˢ until its 1-norm is at most θ₁₃, the [13/13] Padé approximant, squared s times."""
    n = a.shape[-1]
    s, steps = _squarings(xp, a)
    x = a * (0.5 ** s)[..., None, None]
    b = _PADE13
    eye = xp.eye(n, dtype=a.dtype)
    x2 = xp.matmul(x, x)
    x4 = xp.matmul(x2, x2)
    x6 = xp.matmul(x4, x2)
    odd = xp.matmul(x6, b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2 + b[1] * eye
    u = xp.matmul(x, odd)
    v = xp.matmul(x6, b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 + b[0] * eye
    r = xp.linalg.solve(v - u, v + u)
    for step in range(steps):
        r = xp.where((s > step)[..., None, None], xp.matmul(r, r), r)
    return r


def expm_frechet_array(xp, a, e):
    """D exp(A)[E] for A: (B, n, n) and directions E: (B, n, n, P), by the [13/13] Padé
    approximant differentiated along with its scaling and squaring (Al-Mohy and Higham 2009):
    about three times the work of exp(A), where the block method takes eight."""
    n = a.shape[-1]
    s, steps = _squarings(xp, a)
    scale = (0.5 ** s)[:, None, None, None]
    x = (a * scale[..., 0])[:, None]  # (B, 1, n, n), against directions (B, P, n, n)
    d = xp.moveaxis(e, -1, 1) * scale
    b = _PADE13
    eye = xp.eye(n, dtype=a.dtype)
    x2 = xp.matmul(x, x)
    x4 = xp.matmul(x2, x2)
    x6 = xp.matmul(x4, x2)
    d2 = xp.matmul(x, d) + xp.matmul(d, x)
    d4 = xp.matmul(x2, d2) + xp.matmul(d2, x2)
    d6 = xp.matmul(x4, d2) + xp.matmul(d4, x2)
    w1, z1 = b[13] * x6 + b[11] * x4 + b[9] * x2, b[12] * x6 + b[10] * x4 + b[8] * x2
    w = xp.matmul(x6, w1) + b[7] * x6 + b[5] * x4 + b[3] * x2 + b[1] * eye
    u, v = xp.matmul(x, w), xp.matmul(x6, z1) + b[6] * x6 + b[4] * x4 + b[2] * x2 + b[0] * eye
    dw1, dz1 = b[13] * d6 + b[11] * d4 + b[9] * d2, b[12] * d6 + b[10] * d4 + b[8] * d2
    dw = xp.matmul(x6, dw1) + xp.matmul(d6, w1) + b[7] * d6 + b[5] * d4 + b[3] * d2
    du = xp.matmul(x, dw) + xp.matmul(d, w)
    dv = xp.matmul(x6, dz1) + xp.matmul(d6, z1) + b[6] * d6 + b[4] * d4 + b[2] * d2
    q = v - u
    r = xp.linalg.solve(q, v + u)
    dr = xp.linalg.solve(xp.broadcast_to(q, d.shape), du + dv + xp.matmul(du - dv, r))
    for step in range(steps):
        more = (s > step)[:, None, None, None]
        dr = xp.where(more, xp.matmul(r, dr) + xp.matmul(dr, r), dr)
        r = xp.where(more, xp.matmul(r, r), r)
    return xp.moveaxis(dr, 1, -1)


# -- divided differences, accurate at coincident points ------------------------------------------------
_TERMS = 40  # Taylor terms: the spread is at most 1/4 of the distance to a singularity (exp: at most 1)


def _taylor_coefficients(f: str, c: np.ndarray, m_max: int) -> list[np.ndarray]:
    """f⁽ᵐ⁾(c)/m! for m = 0..m_max."""
    if f == "exp":
        e = np.exp(c)
        return [e / math.factorial(m) for m in range(m_max + 1)]
    if f == "log":
        return [np.log(c)] + [(-1.0) ** (m - 1) / (m * c**m) for m in range(1, m_max + 1)]
    out = [np.sqrt(c)]  # sqrt: binom(1/2, m) c^(1/2 - m)
    for m in range(1, m_max + 1):
        out.append(out[-1] * (1.5 - m) / (m * c))
    return out


def _first(xp, f: str, a, b):
    """f[a, b] in closed forms free of cancellation: 1/(√a + √b), log1p(d/a)/d and
    eᵃ expm1(d)/d with d = b - a (f'(a) where d = 0)."""
    d = b - a
    same = d == 0
    safe = xp.where(same, 1.0, d)
    if f == "sqrt":
        return 1.0 / (xp.sqrt(a) + xp.sqrt(b))
    if f == "log":
        return xp.where(same, 1.0 / a, xp.log1p(d / a) / safe)
    return xp.where(d > 1.0, (xp.exp(b) - xp.exp(a)) / safe, xp.exp(a) * xp.where(same, 1.0, xp.expm1(d) / safe))


def divided_difference(f: str, points: np.ndarray) -> np.ndarray:
    """f[x₀, ..., x_k] of f ∈ {"exp", "sqrt", "log"} over the last axis of ``points``.

    Two points: closed forms. More: where the points' spread about their mean c is small (at
    most c/4 for sqrt and log, whose singularity is 0; at most 1 for exp), the Taylor series
    about c, Σⱼ f⁽ᵏ⁺ʲ⁾(c)/(k+j)! hⱼ(x - c), hⱼ the complete homogeneous symmetric polynomials;
    elsewhere the recursion over the sorted points, dividing by the extreme pair's difference,
    which is then not small.

    >>> float(divided_difference("exp", np.array([2.0, 2.0])))  # f'(2)
    7.38905609893065
    >>> round(float(divided_difference("log", np.array([1.0, 1.0, 1.0]))), 12)  # f''(1)/2
    -0.5
    """
    x = np.sort(np.asarray(points, dtype=float), axis=-1)
    k = x.shape[-1] - 1
    with np.errstate(all="ignore"):
        if k == 0:
            return {"exp": np.exp, "sqrt": np.sqrt, "log": np.log}[f](x[..., 0])
        if k == 1:
            return _first(np, f, x[..., 0], x[..., 1])
        c = np.mean(x, axis=-1)
        spread = np.maximum(x[..., -1] - c, c - x[..., 0])
        near = spread <= 1.0 if f == "exp" else (c > 0) & (spread <= 0.25 * c)
        out = np.empty(c.shape)
        y, c_near = x[near] - c[near][:, None], c[near]
        coeffs = _taylor_coefficients(f, c_near, k + _TERMS)
        h = [np.ones_like(c_near)] + [np.zeros_like(c_near) for _ in range(_TERMS)]
        for v in range(k + 1):
            for j in range(1, _TERMS + 1):
                h[j] = h[j] + y[:, v] * h[j - 1]
        out[near] = sum(coeffs[k + j] * h[j] for j in range(_TERMS + 1))
        far = x[~near]
        out[~near] = (divided_difference(f, far[:, 1:]) - divided_difference(f, far[:, :-1])) / (far[:, -1] - far[:, 0])
        return out


def _divided_differences(f: str, w: np.ndarray, k: int) -> np.ndarray:
    """F[b, i₀, ..., i_k] = f[w[b, i₀], ..., w[b, i_k]] for eigenvalues ``w`` of shape (B, n)."""
    nb, n = w.shape
    full = (nb,) + (n,) * (k + 1)
    axes = [np.broadcast_to(w.reshape((nb,) + (1,) * m + (n,) + (1,) * (k - m)), full) for m in range(k + 1)]
    return divided_difference(f, np.stack(axes, axis=-1))


# -- Fréchet derivatives of every order ---------------------------------------------------------------
_DERIVATIVES = {"expm": "dexpm", "sqrtm": "dsqrtm", "logm": "dlogm"}
_OF = {d: f for f, d in _DERIVATIVES.items()}


def _eigh(node, name: str, s: np.ndarray, positive: bool):
    """The eigendecomposition of the symmetric ``s`` (batch flattened), checked positive definite."""
    try:
        w, u = shared_factorization("spectral.eigh", s, lambda: np.linalg.eigh(s))
    except np.linalg.LinAlgError as err:  # not finite
        raise EvaluationError(f"{name}: the eigendecomposition of {describe(node.args[0])} failed ({err}); "
                              f"give it finite values") from err
    if positive and np.any(w <= 0):
        at = np.unravel_index(np.argmin(w), w.shape)
        x = node.args[0]
        where = f" (matrix {tuple(map(int, np.unravel_index(at[0], x.shape[:-2])))} of the batch)" if x.ndim > 2 else ""
        raise EvaluationError(
            f"{name}: {describe(x)} must be symmetric positive definite (its symmetric part is read), "
            f"but it has the eigenvalue {w[at]:.6g} <= 0{where}; make it positive definite, e.g. add a "
            f"multiple of the identity"
        )
    return w, u


def _eig_directional(f: str, w: np.ndarray, u: np.ndarray, es: list[np.ndarray]) -> np.ndarray:
    """Dᵏf(U diag(w) Uᵀ)[E₁, ..., E_k] by Daleckii–Krein; Eₘ of shape (B, n, n, Pₘ), the result
    (B, n, n, P₁, ..., P_k)."""
    k = len(es)
    big = _divided_differences(f, w, k)
    rotated = [np.einsum("bki,bklp,blj->bijp", u, e, u, optimize=True) for e in es]
    i, p = [1 + m for m in range(k + 1)], [k + 2 + m for m in range(k)]
    total = 0.0
    for order in itertools.permutations(range(k)):
        operands = [big, [0] + i]
        for s, m in enumerate(order):
            operands += [rotated[m], [0, i[s], i[s + 1], p[m]]]
        total = total + np.einsum(*operands, [0, i[0], i[-1]] + p, optimize=True)
    r, c, q, l = 40, 41, 42, 43  # labels apart from the ones above
    return np.einsum(u, [0, r, q], total, [0, q, l] + p, u, [0, c, l], [0, r, c] + p, optimize=True)


def _block_directional(xp, a, es: list) -> object:
    """Dᵏexp(A)[E₁, ..., E_k] for any A: the top-right block of expm of the block-bidiagonal
    matrix [[A, Eσ1], [0, A, Eσ2], ...], summed over the orders σ. A: (B, n, n); Eₘ: (B, n, n, Pₘ)."""
    k, n, nb = len(es), a.shape[-1], a.shape[0]
    ps = tuple(e.shape[-1] for e in es)
    shape = (nb,) + ps
    total = 0.0
    for order in itertools.permutations(range(k)):
        rows = []
        for r in range(k + 1):
            row = []
            for c in range(k + 1):
                if c == r:
                    block = xp.broadcast_to(xp.reshape(a, (nb,) + (1,) * k + (n, n)), shape + (n, n))
                elif c == r + 1:
                    m = order[r]
                    moved = xp.moveaxis(es[m], -1, 1)  # (B, Pₘ, n, n)
                    spread = (nb,) + tuple(q if j == m else 1 for j, q in enumerate(ps)) + (n, n)
                    block = xp.broadcast_to(xp.reshape(moved, spread), shape + (n, n))
                else:
                    block = xp.zeros(shape + (n, n), dtype=a.dtype)
                row.append(block)
            rows.append(xp.concatenate(row, axis=-1))
        big = expm_array(xp, xp.concatenate(rows, axis=-2))
        total = total + big[..., :n, k * n:]
    return xp.moveaxis(xp.moveaxis(total, -2, 1), -1, 2)  # (B, n, n, P₁, ..., P_k)


_FUNCTION_OF = {"expm": "exp", "sqrtm": "sqrt", "logm": "log", "dexpm": "exp", "dsqrtm": "sqrt", "dlogm": "log"}


def spectral_numpy(name, *arrays, eigh=None):
    """The value of ``name`` (expm, sqrtm, logm, or a Fréchet derivative dexpm, dsqrtm, dlogm
    in the directions ``arrays[1:]``, each A's shape plus its own trailing axes) at A =
    ``arrays[0]``, batched; sqrtm, logm read symmetric parts. ``eigh`` factorizes a stack of
    symmetric matrices (numpy's by default, which must find them positive definite).

    >>> spectral_numpy("sqrtm", np.diag([4.0, 9.0]))
    array([[2., 0.],
           [0., 3.]])
    >>> spectral_numpy("dexpm", np.zeros((2, 2)), np.eye(2))  # D exp(0)[I] = I
    array([[1., 0.],
           [0., 1.]])
    """
    a = np.asarray(arrays[0], dtype=float)
    n, nb, f = a.shape[-1], math.prod(a.shape[:-2]), _FUNCTION_OF[name]
    trailing = tuple(q for e in arrays[1:] for q in np.shape(e)[a.ndim:])
    flat = np.reshape(a, (nb, n, n))
    es = [np.reshape(np.asarray(e, dtype=float), (nb, n, n, -1)) for e in arrays[1:]]
    with np.errstate(all="ignore"):
        if f == "exp" and not (es and np.array_equal(flat, np.swapaxes(flat, -1, -2))):
            if not es:
                out = expm_array(np, flat)
            else:
                out = expm_frechet_array(np, flat, es[0]) if len(es) == 1 else _block_directional(np, flat, es)
        else:
            if f != "exp":  # the symmetric parts
                flat = 0.5 * (flat + np.swapaxes(flat, 1, 2))
                es = [0.5 * (e + np.swapaxes(e, 1, 2)) for e in es]
            w, u = np.linalg.eigh(flat) if eigh is None else eigh(flat)
            if f != "exp" and np.any(w <= 0):
                raise ValueError(f"{name}: the matrix must be symmetric positive definite; it has the eigenvalue "
                                 f"{np.min(w):.6g}")
            if es:
                out = _eig_directional(f, w, u, es)
            else:
                out = np.einsum("bik,bk,bjk->bij", u, np.sqrt(w) if f == "sqrt" else np.log(w), u)
    dtype = np.result_type(*arrays, np.float32)  # computed in float64, returned in the arguments' precision
    return np.reshape(out, a.shape + trailing).astype(dtype, copy=False)


def _spectral_entry_numpy(node: Call, args) -> np.ndarray:
    """The checked value: a matrix that is not positive definite is an EvaluationError naming the variable."""
    name = _OF.get(node.fn, node.fn)
    return spectral_numpy(node.fn, *args, eigh=lambda s: _eigh(node, name, s, positive=name != "expm"))


def _directional_array(xp, node: Call, args):
    """Other backends: the block method for expm, and for sqrtm, logm the first-order
    Daleckii–Krein sum; their higher orders run on the host through numpy (the divided
    differences of order k are numpy code), and come back as the backend's arrays."""
    name = _OF[node.fn]
    a = args[0]
    n, nb = a.shape[-1], math.prod(tuple(a.shape[:-2]))
    es = [xp.reshape(e, (nb, n, n, -1)) for e in args[1:]]
    a = xp.reshape(a, (nb, n, n))
    if name == "expm":
        out = expm_frechet_array(xp, a, es[0]) if len(es) == 1 else _block_directional(xp, a, es)
        return xp.reshape(out, tuple(node.shape))
    if len(es) != 1:
        try:
            host = [np.asarray(x) for x in args]
        except TypeError as err:  # a traced array (jax.jit) has no values to bring to the host
            raise EvaluationError(
                f"{node.fn}: derivatives of order {len(es)} of {name} compute their divided differences with numpy, "
                f"on the host, which a traced (jit-compiled) backend cannot do; use backend='numpy' or 'torch'"
            ) from err
        return xp.asarray(spectral_numpy(node.fn, *host))
    e = 0.5 * (es[0] + xp.moveaxis(es[0], 1, 2))
    w, u = xp.linalg.eigh(0.5 * (a + xp.moveaxis(a, -1, -2)))
    rotated = xp.einsum("bklp,blj->bkjp", xp.einsum("bki,bklp->bilp", u, e), u)  # pairwise: n³, not n⁴
    inner = _first(xp, _FUNCTION_OF[name], w[:, :, None], w[:, None, :])[..., None] * rotated
    return xp.reshape(xp.einsum("bklp,bjl->bkjp", xp.einsum("bik,bklp->bilp", u, inner), u), tuple(node.shape))


def directional(name: str, a: Expr, directions) -> Expr:
    """Dᵏf(A)[E₁, ..., E_k] for f the function ``name`` ("expm", "sqrtm", "logm"): each Eₘ has
    shape A.shape + its own trailing axes, which the result carries in order (sqrtm, logm read
    the symmetric parts of A and of every Eₘ).

    >>> import einsdiff as ed
    >>> A, E = ed.var("A", (2, 2)), ed.var("E", (2, 2))
    >>> print(directional("expm", A, [E]))
    f[i,j] = dexpm(A, E)[i,j]
    """
    directions, d = tuple(directions), _DERIVATIVES[name]
    if not directions:
        raise OperandError(f"{d}: give at least one direction E (the derivative of order 0 is ed.{name})")
    for k, e in enumerate(directions):
        if e.shape[: a.ndim] != a.shape:
            raise ShapeError(f"{d}: direction {k} has shape {e.shape}; it must begin with the matrix's shape {a.shape}")
    scale = _identity_scale(directions[0], a) if len(directions) == 1 else None
    if scale is not None:  # Df(A)[c I] = c f′(A): I commutes with A (the gradient of tr f(A) is f′(A)ᵀ)
        slope = {"expm": lambda: function_node("expm", a), "sqrtm": lambda: inv(function_node("sqrtm", a)),
                 "logm": lambda: inv(0.5 * (a + build.transpose(a)))}[name]()  # f′ of sym(A)
        return add([slope], [scale * (0.5 if name == "sqrtm" else 1.0)], a.shape)
    shape = a.shape + tuple(q for e in directions for q in e.shape[a.ndim:])
    return Call(_DERIVATIVES[name], (a, *directions), (), shape)


def _identity_scale(e: Expr, a: Expr) -> float | None:
    """c when ``e`` is c times the identity over A's matrix axes (a delta, broadcast over A's batch)."""
    c, core = (e.coeffs[0], e.terms[0]) if isinstance(e, Add) and len(e.terms) == 1 else (1.0, e)
    if isinstance(core, Contract) and not core.operands and core.shape == a.shape:
        out = core.output
        if out[-1] == out[-2] and len(set(out)) == len(out) - 1:
            return c
    return None


def function_node(name: str, x: Expr) -> Expr:
    """f(X) for f in expm, sqrtm, logm, with f(Bᵀ) written f(B)ᵀ (expm), or f(B) (sqrtm and logm,
    which read the symmetric part): a transposed argument shares the node of the untransposed one."""
    if isinstance(x, Contract) and len(x.operands) == 1 and len(set(x.output)) == x.ndim \
            and x.inputs[0] == x.output[:-2] + (x.output[-1], x.output[-2]):
        inner = x.operands[0]
        node = Call(name, (inner,), (), inner.shape)
        return _matrix_transposed(node, x.ndim - 2) if name == "expm" else node
    return Call(name, (x,), (), x.shape)


def _counts(node: Call) -> tuple[int, ...]:
    """How many trailing axes each direction carries."""
    a = node.args[0]
    return tuple(e.ndim - a.ndim for e in node.args[1:])


def _matrix_transposed(e: Expr, nb: int) -> Expr:
    every = tuple(range(e.ndim))
    swapped = every[:nb] + (every[nb + 1], every[nb]) + every[nb + 2:]
    return contract([e], [every], swapped, sizes_of(every, e.shape))


def _direction_labels(node: Call, extra: tuple[int, ...] = ()):
    """Labels of the result: A's, then each direction's own, then ``extra`` ones; with all sizes."""
    a = node.args[0]
    base = labels("a", a.ndim)
    own = [labels(("e", m), c) for m, c in enumerate(_counts(node))]
    d = labels("d", len(extra))
    sizes = sizes_of(base, a.shape) | sizes_of(d, extra)
    for e, names in zip(node.args[1:], own, strict=True):
        sizes |= sizes_of(names, e.shape[a.ndim:])
    return base, own, d, sizes


def _directional_jvp(node: Call, tangents, extra):
    """d Dᵏf(A)[E…] = Dᵏ⁺¹f(A)[E…, dA] + Σₘ Dᵏf(A)[…, dEₘ, …] (multilinear in the Eₘ)."""
    name, (a, *es) = _OF[node.fn], node.args
    base, own, d, sizes = _direction_labels(node, extra)
    out = base + tuple(x for names in own for x in names) + d
    shape = node.shape + tuple(extra)
    terms = []
    if tangents[0] is not None:
        terms.append(directional(name, a, [*es, tangents[0]]))
    for m, t in enumerate(tangents[1:]):
        if t is None:
            continue
        moved = directional(name, a, [*es[:m], t, *es[m + 1:]])
        written = base + tuple(x for j, names in enumerate(own) for x in (names + d if j == m else names))
        terms.append(contract([moved], [written], out, sizes))
    return add(terms, [1.0] * len(terms), shape) if terms else None


def _directional_vjp(node: Call, adj: Expr, lead):
    """⟨G, Dᵏf(A)[…, Eₘ, …]⟩ = ⟨Dᵏf(Aᵀ)[E₁ᵀ, …, G, …, E_kᵀ], Eₘ⟩ and, in A, the node of the
    next order with G as its last direction (sqrtm, logm: self-adjoint, as they read symmetric parts).
    G carries ``lead`` and every direction's own axes; those of the other directions are summed
    against them (a diagonal in the network)."""
    name, (a, *es) = _OF[node.fn], node.args
    nb = a.ndim - 2
    base, own, t, sizes = _direction_labels(node, tuple(lead))
    flat_own = tuple(x for names in own for x in names)
    g = contract([adj], [t + base + flat_own], base + t + flat_own, sizes)
    if name == "expm":
        a, es = _matrix_transposed(a, nb), [_matrix_transposed(e, nb) for e in es]
    shares = [contract([directional(name, a, [*es, g])], [base + flat_own + t + flat_own], t + base, sizes)]
    for m in range(len(es)):
        written = base + tuple(x for j, names in enumerate(own) for x in (t + flat_own if j == m else names))
        share = contract([directional(name, a, [*es[:m], g, *es[m + 1:]])], [written], t + base + own[m], sizes)
        shares.append(share)
    return tuple(shares)


# -- the functions ------------------------------------------------------------------------------------
def expm(x) -> Expr:
    """The matrix exponential exp(X) = Σ Xⁿ/n! (batched), evaluated by scaling and squaring with
    the [13/13] Padé approximant; derivatives of every order, finite at repeated eigenvalues.

    >>> import einsdiff as ed, numpy as np
    >>> A = ed.var("A", (2, 2))
    >>> print(ed.expm(A))
    f[i,j] = expm(A)[i,j]
    >>> ed.evaluate(ed.expm(A), {"A": np.zeros((2, 2))})
    array([[1., 0.],
           [0., 1.]])
    """
    return function_node("expm", square_matrix("expm", x))


def sqrtm(x) -> Expr:
    """The principal square root of a symmetric positive definite matrix (batched). It reads the
    symmetric part (S + Sᵀ)/2, so its value is numpy's for a symmetric S and its derivative the
    true one for any S; a matrix that is not positive definite raises
    :class:`~einsdiff.EvaluationError` when evaluated.

    >>> import einsdiff as ed, numpy as np
    >>> S = ed.var("S", (2, 2))
    >>> ed.evaluate(ed.sqrtm(S), {"S": np.diag([4.0, 9.0])})
    array([[2., 0.],
           [0., 3.]])
    """
    return function_node("sqrtm", square_matrix("sqrtm", x))


def logm(x) -> Expr:
    """The principal logarithm of a symmetric positive definite matrix (batched), reading its
    symmetric part (S + Sᵀ)/2 as :func:`sqrtm` does; tr(logm(S)) = logdet(S).

    >>> import einsdiff as ed, numpy as np
    >>> S = ed.var("S", (2, 2))
    >>> np.round(ed.evaluate(ed.logm(S), {"S": np.diag([1.0, np.e])}), 12)
    array([[0., 0.],
           [0., 1.]])
    """
    return function_node("logm", square_matrix("logm", x))


def matrix_power(x, k) -> Expr:
    """Xᵏ for an integer k (batched): a product of X's by repeated squaring, X⁻¹'s for k < 0, and
    the identity (a Kronecker delta) for k = 0, as numpy.linalg.matrix_power.

    >>> import einsdiff as ed
    >>> X = ed.var("X", (2, 2))
    >>> print(ed.to_matrix_notation(ed.matrix_power(X, 3)))
    f = X X X
    """
    x = square_matrix("matrix_power", x)
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise OptionError(f"matrix_power: the exponent k must be an integer, got {k!r}; for a real power of an "
                          f"SPD matrix use ed.expm(t * ed.logm(S))")
    if k == 0:
        return build.broadcast_to(build.identity(x.shape[-1]), x.shape)
    square, result, left = inv(x) if k < 0 else x, None, abs(int(k))
    while left:
        if left & 1:
            result = square if result is None else build.matmul(result, square)
        left >>= 1
        if left:
            square = build.matmul(square, square)
    return result


def _function_array(xp, node: Call, args):
    a = args[0]
    if node.fn == "expm":
        return expm_array(xp, a)
    w, u = xp.linalg.eigh(0.5 * (a + xp.moveaxis(a, -1, -2)))
    f = xp.sqrt(w) if node.fn == "sqrtm" else xp.log(w)
    return xp.einsum("...ik,...k,...jk->...ij", u, f, u)


def _function_jvp(node: Call, tangents, extra):
    """d f(A) = Df(A)[dA], the first Fréchet derivative."""
    (da,) = tangents
    return directional(node.fn, node.args[0], [da])


# -- the entries --------------------------------------------------------------------------------------
def _helper_source() -> str:
    """Generated code's copy of :func:`spectral_numpy` and what it calls (numpy alone)."""
    parts = [inspect.getsource(spectral_numpy), "import itertools\nimport math\n",
             f"_THETA13 = {_THETA13!r}\n_PADE13 = {_PADE13!r}\n_TERMS = {_TERMS!r}\n"
             f"_FUNCTION_OF = {_FUNCTION_OF!r}\n"]
    parts += [inspect.getsource(fn) for fn in (_squarings, expm_array, expm_frechet_array, _taylor_coefficients, divided_difference,
                                               _first, _divided_differences, _eig_directional, _block_directional)]
    return "\n\n".join(parts)


_HELPER = _helper_source()


class _Directions(str):
    """A template for a node with any number of directions, written ``head|joiner|tail``: the
    first argument goes into ``head`` as ``{0}``, the directions are joined after it
    (``str.format`` would drop all but the arguments it names)."""

    __slots__ = ()

    def format(self, *args, **kwargs):  # the template protocol printers call
        head, joiner, tail = str(self).split("|")
        return head.format(args[0]) + joiner.join(args[1:]) + tail


def _entry(name: str, latex: str, mathml: str, builder, rule_text: str, rule_latex: str) -> Function:
    return Function(
        name, "call",
        Notation(name, text=f"{name}({{0}})", latex=latex, mathml=mathml,
                 matrix=f"{name}({{0}})", indexed=True, rule=f"{name} rule", rule_text=rule_text,
                 rule_latex=rule_latex),
        Syntax((name,), "whole", 1, builder, indexed=True, example=f"{name}(A)[i,j]"),
        builder=builder, numpy=_spectral_entry_numpy, array=_function_array, jvp=_function_jvp,
        source=f"spectral_numpy({name!r}, {{0}})", helper=_HELPER, node=lambda x: function_node(name, x),
    )


def _derivative_entry(name: str, latex: str, mathml: str) -> Function:
    """Dᵏf(A)[E₁, ..., E_k], in LaTeX D f(A)[E₁, ..., E_k]; formulas read the first derivative
    (``dexpm(A, E)[i,j]``)."""
    d, braced = _DERIVATIVES[name], latex.replace("{", "{{").replace("}", "}}")

    def builder(a, *directions):
        return directional(name, build.as_expr(a, f"{d}'s argument"),
                           [build.as_expr(e, f"{d}'s direction") for e in directions])

    return Function(
        d, "call",
        Notation(d, text=_Directions(f"{d}({{0}}, |, |)"),
                 latex=_Directions(f"D{braced}\\left({{0}}\\right)\\left[|, |\\right]"),
                 mathml=_Directions(f"<mi>D</mi>{mathml}<mo>&#x2061;</mo><mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>"
                                    "<mrow><mo>[</mo>|<mo>,</mo>|<mo>]</mo></mrow>"),
                 indexed=True, rule=f"Fréchet derivative of {name}",
                 rule_text=f"D{name}(A)[E] is linear in E; its derivative in A is the next order",
                 rule_latex=f"D{latex}(A)[E]"),
        Syntax((d,), "whole", 2, builder, indexed=True, example=f"{d}(A, B)[i,j]", operands="a matrix and a direction"),
        builder=builder,
        numpy=_spectral_entry_numpy, array=_directional_array, jvp=_directional_jvp, vjp=_directional_vjp,
        source=_Directions(f"spectral_numpy({d!r}, {{0}}, |, |)"), helper=_HELPER,
        node=lambda a, *directions: directional(name, a, directions),
    )


_APPLIED = "<mo>&#x2061;</mo><mrow><mo>(</mo>{0}<mo>)</mo></mrow>"

ENTRIES = (
    _entry("expm", r"\exp\left({0}\right)", "<mi>exp</mi>" + _APPLIED, expm,
           "d exp(A) = ∫₀¹ exp(sA) dA exp((1-s)A) ds",
           r"d\exp(A) = \int_0^1 e^{sA}\, dA\, e^{(1-s)A}\, ds"),
    _entry("sqrtm", r"\sqrt{{{0}}}", "<msqrt>{0}</msqrt>", sqrtm,
           "d√S = U (F ⊙ Uᵀ dS U) Uᵀ, F[i,j] = √·[λᵢ, λⱼ]",
           r"d\sqrt{S} = U (F \odot U^T dS\, U) U^T"),
    _entry("logm", r"\log\left({0}\right)", "<mi>log</mi>" + _APPLIED, logm,
           "d log S = U (F ⊙ Uᵀ dS U) Uᵀ, F[i,j] = log[λᵢ, λⱼ]",
           r"d\log S = U (F \odot U^T dS\, U) U^T"),
    _derivative_entry("expm", r"\exp", "<mi>exp</mi>"),
    _derivative_entry("sqrtm", r"\sqrt{\cdot}", "<msqrt><mo>·</mo></msqrt>"),
    _derivative_entry("logm", r"\log", "<mi>log</mi>"),
    Function("matrix_power", "composite", Notation("matrix_power"), builder=matrix_power),
)
