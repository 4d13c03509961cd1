"""The singular value decomposition and what is built on it: ``svd`` (thin: A = U diag(s) Vᵀ),
``svdvals``, ``pinv`` and the spectral and nuclear norms. Matrices are the last two axes (m × n,
k = min(m, n)); leading axes are a batch.

Each factor is a Call node of its own ("svdvals", "svd_u", "svd_vh"); numpy evaluates one
factorization for all three (:func:`~einsdiff.ir.functions.base.shared_factorization`). Sign
convention: each column of U is scaled so that its entry of largest magnitude is positive, and
the matching row of Vᵀ flips with it; so the factors are the same on every backend and
continuous in A while the singular values stay apart.

The rules, with dP = Uᵀ dA V and F[i,j] = 1/(s_j² - s_i²) off the diagonal (0 on it):
ds = diag(dP); dU = U (F ∘ (dP S + S dPᵀ)) + (I - U Uᵀ) dA V S⁻¹;
dV = V (F ∘ (S dP + dPᵀ S)) + (I - V Vᵀ) dAᵀ U S⁻¹. F and S⁻¹ are nodes of their own ("svdgap",
"svdinv") that raise :class:`~einsdiff.EvaluationError` where two singular values are nearly
equal, or one is nearly 0 (relative to the largest, at sqrt of the dtype's eps), instead of
returning inf; ds uses only U and V, so a symmetric function of the singular values (the
nuclear norm) has a first derivative where they repeat.
"""

from __future__ import annotations

import numpy as np

from .. import build
from ...errors import BackendError, EvaluationError, ShapeError
from ..expr import Call, Expr
from ..registry import Function, Notation, Syntax
from ..simplify import add
from .base import contract, converged, describe, labels, name_of, neg, shared_factorization, sizes_of
from .extrema import amax

_APPLY = "<mo>&#x2061;</mo>"  # MathML's function application


def _matrix(fn: str, x) -> Expr:
    x = build.as_expr(x, f"{fn}'s argument")
    if x.ndim < 2:
        raise ShapeError(
            f"{fn}: {name_of(x)} has shape {x.shape}; it must be a matrix (or a stack of them: shape (..., m, n))"
        )
    return x


def _k(a: Expr) -> int:
    return min(a.shape[-2:])


def svdvals_node(a: Expr) -> Call:
    return Call("svdvals", (a,), (), a.shape[:-2] + (_k(a),))


def svd_u_node(a: Expr) -> Call:
    return Call("svd_u", (a,), (), a.shape[:-1] + (_k(a),))


def svd_vh_node(a: Expr) -> Call:
    return Call("svd_vh", (a,), (), a.shape[:-2] + (_k(a), a.shape[-1]))


def _gap(a: Expr) -> Call:
    return Call("svdgap", (a,), (), a.shape[:-2] + (_k(a), _k(a)))


def _inverse_values(a: Expr) -> Call:
    return Call("svdinv", (a,), (), a.shape[:-2] + (_k(a),))


def svdvals(a) -> Expr:
    """The singular values of A (..., m, n), descending, shape (..., min(m, n));
    d s_i = U[:,i]ᵀ dA V[:,i].

    >>> import einsdiff as ed, numpy as np
    >>> A = ed.var("A", (3, 2))
    >>> ed.evaluate(ed.svdvals(A), A=np.array([[3.0, 0], [0, -2], [0, 0]]))
    array([3., 2.])
    """
    return svdvals_node(_matrix("svdvals", a))


def svd(a) -> tuple[Expr, Expr, Expr]:
    """The thin SVD (U, s, Vᵀ) of A (..., m, n), as numpy.linalg.svd(A, full_matrices=False):
    U (..., m, k), s (..., k) descending, Vᵀ (..., k, n), k = min(m, n). Each column of U has its
    largest-magnitude entry positive (Vᵀ's row flips with it). The derivatives of U and Vᵀ raise
    :class:`~einsdiff.EvaluationError` where two singular values are nearly equal (or, for a
    non-square A, one is nearly 0).

    >>> import einsdiff as ed, numpy as np
    >>> A = ed.var("A", (2, 2))
    >>> U, s, Vh = ed.svd(A)
    >>> a = np.array([[0.0, -2], [-1, 0]])
    >>> ed.evaluate(s, A=a), ed.evaluate(U, A=a) + 0.0, ed.evaluate(Vh, A=a) + 0.0
    (array([2., 1.]), array([[1., 0.],
           [0., 1.]]), array([[ 0., -1.],
           [-1.,  0.]]))
    """
    a = _matrix("svd", a)
    return svd_u_node(a), svdvals_node(a), svd_vh_node(a)


def pinv(a) -> Expr:
    """The Moore-Penrose pseudo-inverse A⁺ (..., n, m), numpy.linalg.pinv with its default cutoff
    (singular values below 1e-15 times the largest count as 0). Its derivative holds where the
    rank is constant: dA⁺ = -A⁺ dA A⁺ + A⁺ A⁺ᵀ dAᵀ (I - A A⁺) + (I - A⁺ A) dAᵀ A⁺ᵀ A⁺.

    >>> import einsdiff as ed, numpy as np
    >>> A = ed.var("A", (2, 1))
    >>> ed.evaluate(ed.pinv(A), A=np.array([[3.0], [4.0]]))
    array([[0.12, 0.16]])
    """
    a = _matrix("pinv", a)
    return Call("pinv", (a,), (), a.shape[:-2] + (a.shape[-1], a.shape[-2]))


def spectral_norm(a) -> Expr:
    """The largest singular value of the last two axes, written max(svdvals(A)) (it reads so)."""
    return amax(svdvals(a), -1)


def nuclear_norm(a) -> Expr:
    """The sum of the singular values of the last two axes."""
    return build.reduce_sum(svdvals(a), -1)


# -- values -----------------------------------------------------------------------------------------
def _signed(xp, u, s, vh):
    """Each column of U scaled so that its largest-magnitude entry is positive, Vᵀ's row with it
    (an exact tie of opposite signs counts as positive), in ``xp``'s functions only."""
    big = xp.abs(u) == xp.max(xp.abs(u), axis=-2, keepdims=True)
    pick = xp.sum(xp.where(big, u, 0.0 * u), axis=-2, keepdims=True)  # (..., 1, k)
    sign = xp.where(pick < 0, -1.0 + 0.0 * pick, 1.0 + 0.0 * pick)
    return u * sign, s, vh * xp.reshape(sign, tuple(sign.shape[:-2]) + (sign.shape[-1], 1))


def _factors(node, x: np.ndarray):
    def compute():
        return _signed(np, *converged(node, "the SVD", lambda: np.linalg.svd(x, full_matrices=False)))

    return shared_factorization("svd", x, compute)


def _tolerance(s: np.ndarray) -> np.ndarray:
    """sqrt(eps) times the largest singular value of each matrix (a tiny floor for zero)."""
    eps = np.finfo(s.dtype if np.issubdtype(s.dtype, np.floating) else np.float64).eps
    return np.maximum(np.sqrt(eps) * s[..., :1], np.finfo(np.float64).tiny)


def _where(s: np.ndarray, at: tuple) -> str:
    return f" (matrix {tuple(int(p) for p in at)} of the batch)" if s.ndim > 1 else ""


def _svdgap_numpy(node, a):
    _, s, _ = _factors(node, a[0])
    diff = s[..., None, :] ** 2 - s[..., :, None] ** 2
    close = np.abs(s[..., None, :] - s[..., :, None]) <= _tolerance(s)[..., None]
    close &= ~np.eye(s.shape[-1], dtype=bool)
    if np.any(close):
        *at, i, j = np.argwhere(close)[0]
        x = node.args[0]
        raise EvaluationError(
            f"svd: the singular vectors of {describe(x)} (shape {x.shape}) have no derivative at the given values: "
            f"singular values {i} and {j} are nearly equal{_where(s, at)} (s[{i}] = {float(s[(*at, i)])!r}, "
            f"s[{j}] = {float(s[(*at, j)])!r}); differentiate a symmetric function of the singular values "
            f"(ed.svdvals(A).sum(), ed.norm(A, 'nuc')) or ed.pinv instead, or perturb the matrix"
        )
    return np.where(np.eye(s.shape[-1], dtype=bool), 0.0, 1.0 / np.where(diff == 0, 1.0, diff)).astype(s.dtype)


def _svdinv_numpy(node, a):
    _, s, _ = _factors(node, a[0])
    small = s <= _tolerance(s)
    if np.any(small):
        *at, i = np.argwhere(small)[0]
        x = node.args[0]
        raise EvaluationError(
            f"svd: the singular vectors of {describe(x)} (shape {x.shape}, not square) have no derivative at the "
            f"given values: singular value {i} is nearly 0{_where(s, at)} (s[{i}] = {float(s[(*at, i)])!r}); "
            f"differentiate where the matrix has full rank, e.g. add a small multiple of a full-rank matrix"
        )
    return 1.0 / s


def _svd_array(xp, a):
    svd_of = getattr(xp.linalg, "svd", None)
    if svd_of is None:
        raise BackendError("this backend's linalg has no svd; evaluate the SVD on the numpy backend")
    u, s, vh = svd_of(a, full_matrices=False)
    return _signed(xp, u, s, vh)


def _svdgap_array(xp, node, a):
    _, s, _ = _svd_array(xp, a[0])
    diff = s[..., None, :] ** 2 - s[..., :, None] ** 2  # exactly 0 on the diagonal
    return xp.where(diff == 0, 0.0 * diff, 1.0 / xp.where(diff == 0, 1.0 + 0.0 * diff, diff))


_SVD_SOURCE = """\
def _svd(a):
    # The thin SVD; each column of U with its largest-magnitude entry positive, Vᵀ's row with it.
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    big = np.abs(u) == np.max(np.abs(u), axis=-2, keepdims=True)
    sign = np.where(np.sum(np.where(big, u, 0.0), axis=-2, keepdims=True) < 0, -1.0, 1.0)
    return u * sign, s, vh * np.swapaxes(sign, -1, -2)


def _svdgap(a):
    # 1/(s_j² - s_i²) off the diagonal, 0 on it.
    s = _svd(a)[1]
    tol = np.sqrt(np.finfo(s.dtype).eps) * s[..., :1, None]
    off = ~np.eye(s.shape[-1], dtype=bool)
    if np.any((np.abs(s[..., None, :] - s[..., :, None]) <= tol) & off):
        raise ValueError("svd: two singular values are nearly equal; the singular vectors have no derivative")
    diff = s[..., None, :] ** 2 - s[..., :, None] ** 2
    return np.where(off, 1.0 / np.where(off, diff, 1.0), 0.0)


def _svdinv(a):
    s = _svd(a)[1]
    if np.any(s <= np.sqrt(np.finfo(s.dtype).eps) * s[..., :1]):
        raise ValueError("svd: a singular value is nearly 0; the singular vectors have no derivative")
    return 1.0 / s
"""


# -- rules ------------------------------------------------------------------------------------------
class _Labels:
    """A rule's labels: each axis written by name in one string, "ma mb mc" for the m rows, "na nb nc"
    for the n columns, "i j l" for the k singular values, "d" for the variable's axes; the batch
    axes lead every operand."""

    def __init__(self, a: Expr, extra):
        m, n = a.shape[-2:]
        self.batch, self.d = labels("b", a.ndim - 2), labels("d", len(extra))
        self.sizes = sizes_of(self.batch, a.shape[:-2]) | sizes_of(self.d, tuple(extra))
        self.sizes |= {"ma": m, "mb": m, "mc": m, "na": n, "nb": n, "nc": n, "i": _k(a), "j": _k(a), "l": _k(a)}

    def of(self, spec: str) -> tuple:
        out = self.batch
        for name in spec.split():
            out += self.d if name == "d" else (name,)
        return out

    def net(self, out: str, *factors) -> Expr:
        """The contraction of (operand, labels) pairs onto ``out``."""
        return contract([f for f, _ in factors], [self.of(spec) for _, spec in factors], self.of(out), self.sizes)


def _svdvals_jvp(node, tangents, extra):
    """ds_i = U[a,i] dA[a,b] V[b,i]."""
    (da,) = tangents
    a = node.args[0]
    return _Labels(a, extra).net("i d", (svd_u_node(a), "ma i"), (da, "ma na d"), (svd_vh_node(a), "i na"))


def _svd_u_jvp(node, tangents, extra):
    """dU = U (F ∘ (dP S + S dPᵀ)) + (I - U Uᵀ) dA V S⁻¹, dP = Uᵀ dA V."""
    (da,) = tangents
    a = node.args[0]
    ix = _Labels(a, extra)
    u, s, vh, f = svd_u_node(a), svdvals_node(a), svd_vh_node(a), _gap(a)
    terms = [
        ix.net("ma i d", (u, "ma j"), (f, "j i"), (u, "mb j"), (da, "mb na d"), (vh, "i na"), (s, "i")),
        ix.net("ma i d", (u, "ma j"), (f, "j i"), (s, "j"), (u, "mb i"), (da, "mb na d"), (vh, "j na")),
    ]
    if a.shape[-2] > a.shape[-1]:  # U's columns do not span the space of A's columns
        r = _inverse_values(a)
        terms.append(ix.net("ma i d", (da, "ma na d"), (vh, "i na"), (r, "i")))
        terms.append(neg(ix.net("ma i d", (u, "ma l"), (u, "mb l"), (da, "mb na d"), (vh, "i na"), (r, "i"))))
    return add(terms, [1.0] * len(terms), node.shape + tuple(extra))


def _svd_vh_jvp(node, tangents, extra):
    """dV = V (F ∘ (S dP + dPᵀ S)) + (I - V Vᵀ) dAᵀ U S⁻¹, and dVᵀ its transpose."""
    (da,) = tangents
    a = node.args[0]
    ix = _Labels(a, extra)
    u, s, vh, f = svd_u_node(a), svdvals_node(a), svd_vh_node(a), _gap(a)
    terms = [
        ix.net("i na d", (vh, "j na"), (f, "j i"), (s, "j"), (u, "ma j"), (da, "ma nb d"), (vh, "i nb")),
        ix.net("i na d", (vh, "j na"), (f, "j i"), (s, "i"), (u, "ma i"), (da, "ma nb d"), (vh, "j nb")),
    ]
    if a.shape[-1] > a.shape[-2]:  # Vᵀ's rows do not span the space of A's rows
        r = _inverse_values(a)
        terms.append(ix.net("i na d", (da, "ma na d"), (u, "ma i"), (r, "i")))
        terms.append(neg(ix.net("i na d", (vh, "l na"), (vh, "l nb"), (da, "ma nb d"), (u, "ma i"), (r, "i"))))
    return add(terms, [1.0] * len(terms), node.shape + tuple(extra))


def _svdgap_jvp(node, tangents, extra):
    """F[i,j] = 1/(s_j² - s_i²): dF[i,j] = 2 F[i,j]² (s_i ds_i - s_j ds_j)."""
    (da,) = tangents
    a = node.args[0]
    ix = _Labels(a, extra)
    s, ds = svdvals_node(a), _svdvals_jvp(svdvals_node(a), (da,), extra)
    terms = [ix.net("i j d", (node, "i j"), (node, "i j"), (s, end), (ds, f"{end} d")) for end in ("i", "j")]
    return add(terms, [2.0, -2.0], node.shape + tuple(extra))


def _svdinv_jvp(node, tangents, extra):
    """d(1/s_i) = -ds_i / s_i²."""
    (da,) = tangents
    a = node.args[0]
    ds = _svdvals_jvp(svdvals_node(a), (da,), extra)
    return neg(_Labels(a, extra).net("i d", (node, "i"), (node, "i"), (ds, "i d")))


def _pinv_jvp(node, tangents, extra):
    """dA⁺ = -A⁺ dA A⁺ + A⁺ A⁺ᵀ dAᵀ (I - A A⁺) + (I - A⁺ A) dAᵀ A⁺ᵀ A⁺ (A's rank constant)."""
    (da,) = tangents
    a, y = node.args[0], node
    ix = _Labels(a, extra)
    terms = [
        ix.net("na ma d", (y, "na mb"), (da, "mb nb d"), (y, "nb ma")),
        ix.net("na ma d", (y, "na mb"), (y, "nb mb"), (da, "ma nb d")),
        ix.net("na ma d", (y, "na mb"), (y, "nb mb"), (da, "mc nb d"), (a, "mc nc"), (y, "nc ma")),
        ix.net("na ma d", (da, "mb na d"), (y, "nb mb"), (y, "nb ma")),
        ix.net("na ma d", (y, "na mc"), (a, "mc nb"), (da, "mb nb d"), (y, "nc mb"), (y, "nc ma")),
    ]
    return add(terms, [-1.0, 1.0, -1.0, 1.0, -1.0], node.shape + tuple(extra))


def _pinv_array(xp, node, a):
    pinv_of = getattr(xp.linalg, "pinv", None)
    if pinv_of is None:
        raise BackendError("this backend's linalg has no pinv; evaluate ed.pinv on the numpy backend")
    return pinv_of(a[0])


def _pinv_numpy(node, a):
    return converged(node, "the SVD", lambda: np.linalg.pinv(a[0]))


# -- the entries ------------------------------------------------------------------------------------
def _factor(name: str, builder, example: str, matrix: str, latex: str, rule_text: str, rule_latex: str,
            offered: bool = True, **fields) -> Function:
    return Function(
        name, "call",
        Notation(name, text=f"{name}({{0}})", latex=latex,
                 mathml=f"<mi>{name}</mi>{_APPLY}<mrow><mo>(</mo>{{0}}<mo>)</mo></mrow>", matrix=matrix, indexed=True,
                 rule="singular value decomposition rule", rule_text=rule_text, rule_latex=rule_latex),
        Syntax((name,), "whole", 1, builder, indexed=True, example=example, offered=offered),
        builder=builder, **fields,
    )


_RULE_U = "dU = U (F ∘ (Uᵀ dA V S + S Vᵀ dAᵀ U)) + (I - U Uᵀ) dA V S⁻¹, F[i,j] = 1/(s_j² - s_i²)"
_RULE_V = "dV = V (F ∘ (S Uᵀ dA V + Vᵀ dAᵀ U S)) + (I - V Vᵀ) dAᵀ U S⁻¹, F[i,j] = 1/(s_j² - s_i²)"
_LATEX_U = (r"dU = U \left(F \circ (U^{\top} dA\, V S + S V^{\top} dA^{\top} U)\right)"
            r" + (I - U U^{\top})\, dA\, V S^{-1}")
_LATEX_V = (r"dV = V \left(F \circ (S U^{\top} dA\, V + V^{\top} dA^{\top} U S)\right)"
            r" + (I - V V^{\top})\, dA^{\top} U S^{-1}")

ENTRIES = (
    _factor("svdvals", svdvals, "svdvals(A)[k]", "svdvals({0})", r"\sigma\left({0}\right)",
            "d s_i = U[:,i]ᵀ dA V[:,i]", r"d\sigma_i = u_i^{\top} dA\, v_i",
            numpy=lambda node, a: _factors(node, a[0])[1], array=lambda xp, node, a: _svd_array(xp, a[0])[1],
            jvp=_svdvals_jvp, source="_svd({0})[1]", helper=_SVD_SOURCE, node=svdvals_node),
    _factor("svd_u", lambda a: svd(a)[0], "svd_u(A)[i,k]", "svd_u({0})", r"U\left({0}\right)", _RULE_U, _LATEX_U,
            numpy=lambda node, a: _factors(node, a[0])[0], array=lambda xp, node, a: _svd_array(xp, a[0])[0],
            jvp=_svd_u_jvp, source="_svd({0})[0]", helper=_SVD_SOURCE, node=svd_u_node),
    _factor("svd_vh", lambda a: svd(a)[2], "svd_vh(A)[k,j]", "svd_vh({0})", r"V^{{\top}}\left({0}\right)", _RULE_V,
            _LATEX_V,
            numpy=lambda node, a: _factors(node, a[0])[2], array=lambda xp, node, a: _svd_array(xp, a[0])[2],
            jvp=_svd_vh_jvp, source="_svd({0})[2]", helper=_SVD_SOURCE, node=svd_vh_node),
    _factor("svdgap", lambda a: _gap(_matrix("svdgap", a)), "svdgap(A)[i,j]", "svdgap({0})",
            r"F\left({0}\right)", "F[i,j] = 1/(s_j² - s_i²): dF[i,j] = 2 F[i,j]² (s_i ds_i - s_j ds_j)",
            r"dF_{ij} = 2 F_{ij}^2 (\sigma_i\, d\sigma_i - \sigma_j\, d\sigma_j)",
            offered=False, numpy=_svdgap_numpy, array=_svdgap_array, jvp=_svdgap_jvp, source="_svdgap({0})",
            helper=_SVD_SOURCE),
    _factor("svdinv", lambda a: _inverse_values(_matrix("svdinv", a)), "svdinv(A)[k]", "svdinv({0})",
            r"\sigma^{{-1}}\left({0}\right)", "d(1/s_i) = -ds_i / s_i²", r"d\sigma_i^{-1} = -d\sigma_i / \sigma_i^2",
            numpy=_svdinv_numpy, array=lambda xp, node, a: 1.0 / _svd_array(xp, a[0])[1], jvp=_svdinv_jvp,
            source="_svdinv({0})", helper=_SVD_SOURCE, offered=False),
    Function(
        "pinv", "call",
        Notation("pinv", text="pinv({0})", latex="{0}^{{+}}", mathml="<msup>{0}<mo>+</mo></msup>", matrix="pinv({0})",
                 indexed=True, rule="pseudo-inverse rule",
                 rule_text="dA⁺ = -A⁺ dA A⁺ + A⁺ A⁺ᵀ dAᵀ (I - A A⁺) + (I - A⁺ A) dAᵀ A⁺ᵀ A⁺",
                 rule_latex=(r"dA^{+} = -A^{+} dA\, A^{+} + A^{+} A^{+\top} dA^{\top} (I - A A^{+})"
                             r" + (I - A^{+} A)\, dA^{\top} A^{+\top} A^{+}")),
        Syntax(("pinv",), "whole", 1, pinv, indexed=True, example="pinv(A)[i,j] or pinv[k,l](A[k,m] B[m,l])[i,j]"),
        builder=pinv, numpy=_pinv_numpy, array=_pinv_array, jvp=_pinv_jvp, source="np.linalg.pinv({0})",
    ),
    Function("svd", "composite", Notation("svd"), builder=svd),
)
