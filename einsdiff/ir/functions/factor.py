"""Factorizations of symmetric matrices: the Cholesky factor and the symmetric eigendecomposition.

Each reads the symmetric part sym(A) = (A + Aᵀ)/2 of its argument (as JAX does): the value is
numpy's for a symmetric A, and the derivative is the true one for any A, the rules seeing
sym(dA). Matrices are the last two axes; leading axes are a batch. The rules are contractions
of the factors with a mask, as the textbook writes them:

- cholesky, L with sym(S) = L Lᵀ: dL = L Φ(L⁻¹ sym(dS) L⁻ᵀ), Φ keeping the lower triangle and
  halving the diagonal (the node tril_half);
- eigvalsh, the eigenvalues λ ascending: dλ[k] = U[p,k] dA[p,q] U[q,k];
- eigvecs, U (column k the eigenvector of λ[k]): dU = U (F ⊙ Uᵀ sym(dA) U), with the divided
  differences F[i,j] = 1/(λ[j] - λ[i]) off the diagonal, 0 on it (the node eiggap).

Eigenvector signs: each column of U is scaled so that its entry of largest magnitude (the
first, of equal ones) is positive, on every backend (deterministic, and continuous along small steps). Eigenvectors are
undetermined where eigenvalues coincide: evaluating eiggap (any derivative of U) raises
:class:`~einsdiff.EvaluationError` when two eigenvalues are nearly equal, |λᵢ - λⱼ| <=
sqrt(eps) · max |λ|. Symmetric functions of the eigenvalues (their sum, Σ g(λ)) never need it:
their gradient U diag(g'(λ)) Uᵀ is finite and right at repeated eigenvalues too.

>>> import einsdiff as ed
>>> S = ed.var("S", (3, 3))
>>> print(ed.cholesky(S))
f[i,j] = cholesky(S)[i,j]
>>> print(ed.grad(ed.sum(ed.eigvalsh(S)), S))
f[i,j] = eigvecs(S)[i,k] eigvecs(S)[j,k]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import build
from ...errors import EvaluationError, ShapeError
from ..expr import Add, Call, Contract, Expr
from ..registry import Function, Notation, Syntax
from ..simplify import add
from .base import contract, converged, describe, matrix_labels, shared_factorization, sizes_of, square_matrix
from .linalg import inv_node

_APPLY = "<mo>&#x2061;</mo>"  # MathML's function application


def _symmetric(a: np.ndarray) -> np.ndarray:
    out = a + np.swapaxes(a, -1, -2)
    out *= 0.5  # in place: one pass over the matrix fewer
    return out


def _sym(dx: Expr, b: tuple, d: tuple, sizes: dict) -> Expr:
    """sym(dX) = (dX + dXᵀ)/2 over the matrix axes of a tangent (derivative axes ``d`` last)."""
    flipped = contract([dx], [b + ("p", "q") + d], b + ("q", "p") + d, sizes)
    return add([dx, flipped], [0.5, 0.5], dx.shape)


def _with_pq(sizes: dict) -> dict:
    return sizes | {"p": sizes["i"], "q": sizes["i"]}


# -- cholesky -------------------------------------------------------------------------------------
def cholesky(x) -> Expr:
    """The lower Cholesky factor L of sym(S) = (S + Sᵀ)/2, sym(S) = L Lᵀ (batched over leading
    axes); dL = L Φ(L⁻¹ sym(dS) L⁻ᵀ), Φ the lower triangle with its diagonal halved. Evaluating
    it where sym(S) is not positive definite raises :class:`~einsdiff.EvaluationError`.

    >>> import einsdiff as ed, numpy as np
    >>> S = ed.var("S", (2, 2))
    >>> ed.evaluate(ed.cholesky(S), S=np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 0.],
           [1., 2.]])
    """
    x = square_matrix("cholesky", x)
    return Call("cholesky", (x,), (), x.shape)


def _factors(m: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(m)
    except np.linalg.LinAlgError:
        return False
    return True


def _cholesky_numpy(node, a):
    s = _symmetric(a[0])
    try:
        with np.errstate(all="ignore"):
            return np.linalg.cholesky(s)
    except np.linalg.LinAlgError as err:
        x = node.args[0]
        at = next((b for b in np.ndindex(*s.shape[:-2]) if not _factors(s[b])), ()) if s.ndim > 2 else ()
        where = f", batch entry {at}" if at else ""  # the first matrix of the batch that fails
        raise EvaluationError(
            f"cholesky: {describe(x)} (a matrix of shape {x.shape}{where}) is not symmetric positive definite at "
            f"the given values (its symmetric part (S + Sᵀ)/2 is factored); make it positive definite, e.g. add a "
            f"multiple of the identity (S + 1e-6 I)"
        ) from err


def tril_half(x) -> Expr:
    """Φ(X): the lower triangle of X (the last two axes) with its diagonal halved, so that
    Φ(X) + Φ(X)ᵀ = X for a symmetric X. The mask of the Cholesky rule; linear, Φ(dX) its derivative.

    >>> import einsdiff as ed, numpy as np
    >>> ed.evaluate(tril_half(ed.var("X", (2, 2))), X=np.array([[2.0, 3.0], [4.0, 6.0]]))
    array([[1., 0.],
           [4., 3.]])
    """
    x = square_matrix("tril_half", x)
    if _upper_triangular(x):  # its lower triangle is its diagonal: Φ(X) = ½ diag(X)
        every = tuple(range(x.ndim))
        diagonal = every[:-1] + (every[-2],)
        return add([contract([x], [diagonal], diagonal, sizes_of(every, x.shape))], [0.5], x.shape)
    return Call("tril_half", (x,), (), x.shape)


def _upper_triangular(x: Expr) -> bool:
    """X is upper triangular by construction: a product with a factor Lᵀ, L a Cholesky factor
    (X[a,b] = L[b,a] ⋯, zero where a > b), as in Lᵀ L̄ for the adjoint L̄ of a function of diag(L)."""
    if isinstance(x, Add) and len(x.terms) == 1:  # c X
        x = x.terms[0]
    if not isinstance(x, Contract):
        return False
    a, b = x.output[-2], x.output[-1]
    return a != b and x.output.count(a) == x.output.count(b) == 1 and any(
        isinstance(op, Call) and op.fn == "cholesky" and ins[-2:] == (b, a) and ins.count(a) == ins.count(b) == 1
        for op, ins in zip(x.operands, x.inputs, strict=True))


def _tril_half_jvp(node, tangents, extra):
    """dΦ(X) = Φ(dX), the derivative axes moved in front of the matrix axes and back."""
    (dx,) = tangents
    b, d, _, sizes = matrix_labels(node.args[0], extra)
    front = contract([dx], [b + ("i", "j") + d], b + d + ("i", "j"), sizes)
    return contract([tril_half(front)], [b + d + ("i", "j")], b + ("i", "j") + d, sizes)


def _tril_half_vjp(node, adj, lead):
    """Φ is a mask, its own transpose: X̄ = Φ(adj) (the adjoint's matrix axes are its last two)."""
    return (tril_half(adj),)


def _cholesky_jvp(node, tangents, extra):
    """dL[i,j] = L[i,k] Φ(L⁻¹ sym(dS) L⁻ᵀ)[k,j]."""
    (ds,) = tangents
    b, d, _, sizes = matrix_labels(node.args[0], extra)
    sizes = _with_pq(sizes)
    linv = inv_node(node)
    inner = contract([linv, _sym(ds, b, d, sizes), linv], [b + ("k", "p"), b + ("p", "q") + d, b + ("j", "q")],
                     b + d + ("k", "j"), sizes)
    return contract([node, tril_half(inner)], [b + ("i", "k"), b + d + ("k", "j")], b + ("i", "j") + d, sizes)


def _cholesky_vjp(node, adj, lead):
    """S̄ = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹) = ½ L⁻ᵀ C L⁻¹ with C = Φ + Φᵀ (symmetric): Murray's form (the
    transposed forward rule would form both halves of the symmetric part apart). L⁻¹ is formed
    once, by halves in matrix products (a third of a general inverse's work), and shared: the
    solves with L and Lᵀ elsewhere in the program become products with it (reuse_inverses)."""
    b, _, t, sizes = matrix_labels(node.args[0], (), lead)
    sizes = _with_pq(sizes)
    phi = tril_half(contract([node, adj], [b + ("i", "k"), t + b + ("i", "j")], t + b + ("k", "j"), sizes))
    c = add([phi, contract([phi], [t + b + ("k", "j")], t + b + ("j", "k"), sizes)], [0.5, 0.5], phi.shape)
    linv = inv_node(node)
    return (contract([linv, c, linv], [b + ("k", "p"), t + b + ("k", "j"), b + ("j", "q")], t + b + ("p", "q"), sizes),)


_CHOLESKY_SOURCE = """\
def _cholesky(x):
    # The factor of the symmetric part.
    return np.linalg.cholesky((x + np.swapaxes(x, -1, -2)) / 2)
"""


# -- eigh: eigvalsh, eigvecs and the divided differences eiggap ------------------------------------
class EighResult(NamedTuple):
    """What :func:`eigh` gives, as numpy.linalg.eigh: unpack it, or read the fields."""

    eigenvalues: Expr
    eigenvectors: Expr


def eigvalsh(x) -> Expr:
    """The eigenvalues of sym(A) = (A + Aᵀ)/2, ascending (shape batch + (n,));
    dλ[k] = U[p,k] dA[p,q] U[q,k], finite at repeated eigenvalues.

    >>> import einsdiff as ed, numpy as np
    >>> A = ed.var("A", (2, 2))
    >>> ed.evaluate(ed.eigvalsh(A), A=np.array([[2.0, 1.0], [1.0, 2.0]]))
    array([1., 3.])
    """
    x = square_matrix("eigvalsh", x)
    return Call("eigvalsh", (x,), (), x.shape[:-1])


def eigvecs(x) -> Expr:
    """The eigenvectors of sym(A) as the columns of U, in the order of :func:`eigvalsh`, each
    scaled so that its entry of largest magnitude is positive."""
    x = square_matrix("eigvecs", x)
    return Call("eigvecs", (x,), (), x.shape)


def eigh(x) -> EighResult:
    """(eigenvalues ascending, eigenvectors as columns) of sym(A) = (A + Aᵀ)/2, as numpy.linalg.eigh;
    each eigenvector's entry of largest magnitude (the first, of equal ones) is positive. Derivatives of the eigenvectors
    raise :class:`~einsdiff.EvaluationError` where two eigenvalues nearly coincide.

    >>> import einsdiff as ed, numpy as np
    >>> w, U = ed.eigh(ed.var("A", (2, 2)))
    >>> ed.evaluate(U, A=np.array([[2.0, 1.0], [1.0, 2.0]])).round(4)
    array([[ 0.7071,  0.7071],
           [-0.7071,  0.7071]])
    """
    x = square_matrix("eigh", x)
    return EighResult(eigvalsh(x), eigvecs(x))


def eiggap(w) -> Expr:
    """The divided differences of eigenvalues ``w`` (batch + (n,)): F[i,j] = 1/(w[j] - w[i]) off
    the diagonal, 0 on it; evaluating it where two are nearly equal raises EvaluationError."""
    w = build.as_expr(w, "eiggap's argument")
    if w.ndim < 1:
        raise ShapeError(f"eiggap: the argument has shape {w.shape}; it must be a vector of eigenvalues (..., n)")
    return Call("eiggap", (w,), (), w.shape + w.shape[-1:])


def _sign_fixed(w, u, xp=np):
    """Each column of ``u`` scaled so that its entry of largest magnitude (the first of equal ones) is positive."""
    first = xp.arange(u.shape[-1])[:, None] == xp.argmax(xp.abs(u), -2)[..., None, :]  # torch names it dim
    sign = xp.sum(xp.where(first, u, 0.0), axis=-2, keepdims=True)
    return w, xp.where(sign < 0, -u, u)


def _eigh(node, a: np.ndarray):
    def compute():
        return _sign_fixed(*converged(node, "the eigendecomposition", lambda: np.linalg.eigh(_symmetric(a))))

    return shared_factorization("eigh", a, compute)


def _eigh_array(xp, a):
    return _sign_fixed(*xp.linalg.eigh((a + xp.swapaxes(a, -1, -2)) / 2), xp=xp)


def _eigvalsh_jvp(node, tangents, extra):
    """dλ[k] = U[p,k] dA[p,q] U[q,k] (the same for sym(dA))."""
    (da,) = tangents
    b, d, _, sizes = matrix_labels(node.args[0], extra)
    sizes = _with_pq(sizes)
    u = eigvecs(node.args[0])
    return contract([u, da, u], [b + ("p", "k"), b + ("p", "q") + d, b + ("q", "k")], b + ("k",) + d, sizes)


def _eigvecs_jvp(node, tangents, extra):
    """dU[i,j] = U[i,k] F[k,j] U[p,k] sym(dA)[p,q] U[q,j]."""
    (da,) = tangents
    b, d, _, sizes = matrix_labels(node.args[0], extra)
    sizes = _with_pq(sizes)
    f = eiggap(eigvalsh(node.args[0]))
    return contract(
        [node, f, node, _sym(da, b, d, sizes), node],
        [b + ("i", "k"), b + ("k", "j"), b + ("p", "k"), b + ("p", "q") + d, b + ("q", "j")],
        b + ("i", "j") + d, sizes,
    )


def _eigvecs_vjp(node, adj, lead):
    """Ā = sym(U (F ⊙ Uᵀ Ū) Uᵀ) = ½ U (G + Gᵀ) Uᵀ with G = F ⊙ Uᵀ Ū: three products (the
    transposed forward rule would form both halves of the symmetric part apart)."""
    b, _, t, sizes = matrix_labels(node.args[0], (), lead)
    sizes = _with_pq(sizes)
    f = eiggap(eigvalsh(node.args[0]))
    g = contract([node, adj, f], [b + ("i", "k"), t + b + ("i", "j"), b + ("k", "j")], t + b + ("k", "j"), sizes)
    both = add([g, contract([g], [t + b + ("k", "j")], t + b + ("j", "k"), sizes)], [1.0, 1.0], g.shape)
    share = contract([node, both, node], [b + ("p", "k"), t + b + ("k", "j"), b + ("q", "j")], t + b + ("p", "q"), sizes)
    return (add([share], [0.5], share.shape),)


def _nearly_equal(w: np.ndarray) -> np.ndarray:
    """|w[i] - w[j]| <= sqrt(eps) · max |w| (with a tiny floor), as a boolean batch + (n, n)."""
    eps = np.finfo(w.dtype if np.issubdtype(w.dtype, np.floating) else np.float64).eps
    scale = np.maximum(np.max(np.abs(w), axis=-1, initial=0.0), np.finfo(float).tiny)[..., None, None]
    return np.abs(w[..., None, :] - w[..., :, None]) <= np.sqrt(eps) * scale


def _gaps(xp, w):
    diff = w[..., None, :] - w[..., :, None]
    off = ~(xp.eye(w.shape[-1]) > 0)
    return xp.where(off, 1.0 / xp.where(off, diff, 1.0), 0.0)


def _eiggap_numpy(node, a):
    (w,) = a
    n = w.shape[-1]
    close = _nearly_equal(w) & ~np.eye(n, dtype=bool)
    if np.any(close):
        at = tuple(int(p) for p in np.argwhere(close)[0])
        *batch, i, j = at
        (arg,) = node.args
        whose = describe(arg.args[0]) if isinstance(arg, Call) and arg.fn == "eigvalsh" else "its argument"
        where = f" (batch entry {tuple(batch)})" if batch else ""
        raise EvaluationError(
            f"eigvecs: eigenvalues {i} and {j} of {whose}{where} are nearly equal ({float(w[at[:-1]])!r} and "
            f"{float(w[tuple(batch) + (j,)])!r}, within sqrt(eps) of the largest): its eigenvectors are not "
            f"determined there and have no derivative; differentiate a symmetric function of the eigenvalues "
            f"(ed.sum(ed.eigvalsh(A)), ed.trace, ed.logdet) or a spectral function (ed.expm, ed.sqrtm, ed.logm) "
            f"instead, or perturb the matrix so that its eigenvalues separate"
        )
    with np.errstate(all="ignore"):
        return _gaps(np, w)


def _eiggap_jvp(node, tangents, extra):
    """dF[i,j] = -F[i,j]² (dλ[j] - dλ[i])."""
    (dw,) = tangents
    w = node.args[0]
    nb = w.ndim - 1
    b, d = tuple(("b", p) for p in range(nb)), tuple(("d", p) for p in range(len(extra)))
    sizes = dict(zip(b + d, w.shape[:nb] + tuple(extra), strict=True)) | {"i": w.shape[-1], "j": w.shape[-1]}
    ins = [b + ("i", "j"), b + ("i", "j")]
    at_j = contract([node, node, dw], [*ins, b + ("j",) + d], b + ("i", "j") + d, sizes)
    at_i = contract([node, node, dw], [*ins, b + ("i",) + d], b + ("i", "j") + d, sizes)
    return add([at_j, at_i], [-1.0, 1.0], node.shape + tuple(extra))


_EIGH_SOURCE = """\
def _eigh(x):
    # Of the symmetric part; each eigenvector's entry of largest magnitude made positive.
    w, u = np.linalg.eigh((x + np.swapaxes(x, -1, -2)) / 2)
    first = np.arange(u.shape[-1])[:, None] == np.argmax(np.abs(u), axis=-2)[..., None, :]
    return w, np.where(np.sum(np.where(first, u, 0.0), axis=-2, keepdims=True) < 0, -u, u)
"""

_EIGGAP_SOURCE = """\
def _eiggap(w):
    # 1 / (w[j] - w[i]) off the diagonal, 0 on it.
    off = ~np.eye(w.shape[-1], dtype=bool)
    with np.errstate(divide="ignore"):
        return np.where(off, 1.0 / np.where(off, w[..., None, :] - w[..., :, None], 1.0), 0.0)
"""


# -- the entries ----------------------------------------------------------------------------------
def _whole(names: tuple[str, ...], builder, example: str, offered: bool = True) -> Syntax:
    return Syntax(names, "whole", 1, builder, indexed=True, example=example, offered=offered)


ENTRIES = (
    Function(
        "cholesky", "call",
        Notation("cholesky", text="cholesky({0})", latex=r"\operatorname{{chol}}\left({0}\right)",
                 mathml=f"<mi>chol</mi>{_APPLY}<mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>", matrix="chol({0})",
                 indexed=True, rule="Cholesky rule", rule_text="L = chol(S), so dL = L Φ(L⁻¹ dS L⁻ᵀ)",
                 rule_latex=r"L = \operatorname{chol}(S),\ dL = L\, \Phi(L^{-1} dS\, L^{-\top})"),
        _whole(("cholesky", "chol"), cholesky, "chol(X)[i,j] or cholesky[k,l](A[k,m] A[l,m])[i,j]"),
        builder=cholesky, numpy=_cholesky_numpy,
        array=lambda xp, node, a: xp.linalg.cholesky((a[0] + xp.swapaxes(a[0], -1, -2)) / 2), jvp=_cholesky_jvp,
        vjp=_cholesky_vjp, source="_cholesky({0})", helper=_CHOLESKY_SOURCE,
    ),
    Function(
        "tril_half", "call",
        Notation("tril_half", text="tril_half({0})", latex=r"\Phi\left({0}\right)",
                 mathml=f"<mi>Φ</mi>{_APPLY}<mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>", matrix="Φ({0})", indexed=True,
                 rule="lower-triangle mask", rule_text="Φ(X) = the lower triangle of X, its diagonal halved: dΦ(X) = Φ(dX)",
                 rule_latex=r"d\Phi(X) = \Phi(dX)"),
        _whole(("tril_half",), tril_half, "tril_half(X)[i,j] or tril_half[k,l](A[k,m] B[m,l])[i,j]", offered=False),
        builder=tril_half, numpy=lambda node, a: 0.5 * (np.tril(a[0]) + np.tril(a[0], -1)),
        array=lambda xp, node, a: 0.5 * (xp.tril(a[0]) + xp.tril(a[0], -1)), jvp=_tril_half_jvp, vjp=_tril_half_vjp,
        source="0.5 * (np.tril({0}) + np.tril({0}, -1))",
    ),
    Function(
        "eigvalsh", "call",
        Notation("eigvalsh", text="eigvalsh({0})", latex=r"\lambda\left({0}\right)",
                 mathml=f"<mi>λ</mi>{_APPLY}<mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>", matrix="eigvalsh({0})",
                 indexed=True, rule="eigenvalue rule", rule_text="dλₖ = uₖᵀ dA uₖ",
                 rule_latex=r"d\lambda_k = u_k^\top dA\, u_k"),
        _whole(("eigvalsh",), eigvalsh, "eigvalsh(A)[k]"),
        builder=eigvalsh, numpy=lambda node, a: _eigh(node, a[0])[0],
        array=lambda xp, node, a: _eigh_array(xp, a[0])[0], jvp=_eigvalsh_jvp, source="_eigh({0})[0]",
        helper=_EIGH_SOURCE,
    ),
    Function(
        "eigvecs", "call",
        Notation("eigvecs", text="eigvecs({0})", latex=r"\operatorname{{eigvecs}}\left({0}\right)",
                 mathml=f"<mi>eigvecs</mi>{_APPLY}<mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>", matrix="eigvecs({0})",
                 indexed=True, rule="eigenvector rule", rule_text="dU = U (F ⊙ Uᵀ dA U), F[i,j] = 1/(λⱼ - λᵢ)",
                 rule_latex=r"dU = U (F \odot U^\top dA\, U),\ F_{ij} = \frac{1}{\lambda_j - \lambda_i}"),
        _whole(("eigvecs",), eigvecs, "eigvecs(A)[i,k]"),
        builder=eigvecs, numpy=lambda node, a: _eigh(node, a[0])[1],
        array=lambda xp, node, a: _eigh_array(xp, a[0])[1], jvp=_eigvecs_jvp, vjp=_eigvecs_vjp, source="_eigh({0})[1]",
        helper=_EIGH_SOURCE,
    ),
    Function(
        "eiggap", "call",
        Notation("eiggap", text="eiggap({0})", latex=r"\operatorname{{eiggap}}\left({0}\right)",
                 mathml=f"<mi>eiggap</mi>{_APPLY}<mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>", matrix="eiggap({0})",
                 indexed=True,
                 rule="divided differences", rule_text="F[i,j] = 1/(λⱼ - λᵢ), so dF[i,j] = -F[i,j]² (dλⱼ - dλᵢ)",
                 rule_latex=r"F_{ij} = \frac{1}{\lambda_j - \lambda_i},\ dF_{ij} = -F_{ij}^2 (d\lambda_j - d\lambda_i)"),
        Syntax(("eiggap",), "whole", 1, eiggap, indexed=True, example="eiggap(b)[i,j]", offered=False),
        builder=eiggap, numpy=_eiggap_numpy, array=lambda xp, node, a: _gaps(xp, a[0]), jvp=_eiggap_jvp,
        source="_eiggap({0})", helper=_EIGGAP_SOURCE,
    ),
    # (eigvalsh, eigvecs), as numpy.linalg.eigh returns them.
    Function("eigh", "composite", Notation("eigh"), builder=eigh),
)
