"""Oracles that do not trust einsdiff's rules: central finite differences, a brute-force
loop evaluator with forward-mode tangents for every node type, and :func:`check_jacobian`,
which checks derivatives of every order and accumulation mode against finite differences.
No hypothesis here: the command line's ``--check`` uses these too.

>>> import numpy as np, einsdiff as ed
>>> x = ed.var("x", (3,))
>>> check_jacobian(ed.tanh(x) * x, x, {"x": np.array([0.1, -0.2, 0.3])}, order=2)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..calculus.derive import jacobian
from ..engine.evaluate import evaluate
from ..errors import EvaluationError, OptionError
from ..ir.expr import Add, Call, Const, Contract, Expr, Map, Materialize, Reshape, Var
from ..ir.variables import topological
from .dump import describe


def finite_difference_jacobian(expr: Expr, wrt: Var, bindings: Mapping, eps: float = 1e-6) -> np.ndarray:
    """Central differences, one element of ``wrt`` at a time: shape ``expr.shape + wrt.shape``.

    A symmetric ``wrt`` moves along the symmetric direction E_ab + E_ba, which stays a valid
    value; the difference is ⟨G, E_ab + E_ba⟩ = 2 G_ab off the diagonal (G symmetric), so it is
    halved there: the derivative within the symmetric matrices, as ed.jacobian gives it.

    >>> import numpy as np, einsdiff as ed
    >>> x = ed.var("x", (3,))
    >>> finite_difference_jacobian(x * x, x, {"x": np.array([1.0, 2.0, 3.0])}).round(6)
    array([[2., 0., 0.],
           [0., 4., 0.],
           [0., 0., 6.]])
    """
    base = {k: np.asarray(v, dtype=np.float64) for k, v in bindings.items()}
    x0 = base[wrt.name]
    out = np.zeros(expr.shape + wrt.shape)
    for e in np.ndindex(*wrt.shape):
        mirror = e[:-2] + (e[-1], e[-2]) if wrt.symmetric else e
        h = eps * max(1.0, abs(float(x0[e])))
        plus, minus = x0.copy(), x0.copy()
        for entry in dict.fromkeys((e, mirror)):
            plus[entry] += h
            minus[entry] -= h
        f_plus = evaluate(expr, {**base, wrt.name: plus})
        f_minus = evaluate(expr, {**base, wrt.name: minus})
        out[(...,) + e] = (f_plus - f_minus) / (2 * h * (1 if mirror == e else 2))
    return out


# Values and derivatives of the elementwise functions, written independently of
# einsdiff.ir.ops so the brute-force oracle does not trust the rules it checks.
_SCALAR = {
    "exp": (math.exp, math.exp),
    "log": (math.log, lambda u: 1 / u),
    "log1p": (math.log1p, lambda u: 1 / (1 + u)),
    "expm1": (math.expm1, math.exp),
    "sin": (math.sin, math.cos),
    "cos": (math.cos, lambda u: -math.sin(u)),
    "tanh": (math.tanh, lambda u: 1 - math.tanh(u) ** 2),
    "tan": (math.tan, lambda u: 1 / math.cos(u) ** 2),
    "arcsin": (math.asin, lambda u: 1 / math.sqrt(1 - u * u)),
    "arccos": (math.acos, lambda u: -1 / math.sqrt(1 - u * u)),
    "arctan": (math.atan, lambda u: 1 / (1 + u * u)),
    "sigmoid": (lambda u: 1 / (1 + math.exp(-u)), lambda u: math.exp(-u) / (1 + math.exp(-u)) ** 2),
    "softplus": (lambda u: max(u, 0.0) + math.log1p(math.exp(-abs(u))), lambda u: 1 / (1 + math.exp(-u))),
    "relu": (lambda u: max(u, 0.0), lambda u: 1.0 if u > 0 else 0.0),
    "abs": (abs, lambda u: (u > 0) - (u < 0)),
    "step": (lambda u: 1.0 if u > 0 else 0.0, lambda u: 0.0),
    "sign": (lambda u: float((u > 0) - (u < 0)), lambda u: 0.0),
    "sqrt": (math.sqrt, lambda u: 0.5 / math.sqrt(u)),
    "square": (lambda u: u * u, lambda u: 2 * u),
    "reciprocal": (lambda u: 1 / u, lambda u: -1 / (u * u)),
}


def _scalar(fn: str, param):
    if fn == "power":
        return (lambda u: u**param, lambda u: param * u ** (param - 1))
    return _SCALAR[fn]


def brute_force_jacobian(expr: Expr, wrt: Var, bindings: Mapping) -> np.ndarray:
    """Exact Jacobian by explicit loops over every index assignment (forward mode, one
    element of ``wrt`` at a time). For tiny shapes only: it never calls numpy.einsum
    or einsdiff's derivative rules.

    >>> import numpy as np, einsdiff as ed
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> values = {"A": np.arange(6.0).reshape(2, 3) / 6, "x": np.array([0.5, -1.0, 2.0])}
    >>> exact = ed.evaluate(ed.jacobian(ed.tanh(A @ x), x), values)
    >>> np.allclose(brute_force_jacobian(ed.tanh(A @ x), x, values), exact)
    True
    """
    out = np.zeros(expr.shape + wrt.shape)
    for e in np.ndindex(*wrt.shape):
        seed = np.zeros(wrt.shape)
        seed[e] = 1.0
        _, tangent = _dual_evaluate(expr, wrt, seed, bindings)
        out[(...,) + e] = tangent
    return out


def brute_force_value(expr: Expr, bindings: Mapping) -> np.ndarray:
    """The value of ``expr`` by explicit loops (tiny shapes only).

    >>> import numpy as np, einsdiff as ed
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> brute_force_value(A @ x, {"A": np.ones((2, 3)), "x": np.arange(3.0)})
    array([3., 3.])
    """
    probe = Var("__no_variable__", ())
    return _dual_evaluate(expr, probe, np.zeros(()), bindings)[0]


def _dual_evaluate(expr: Expr, wrt: Var, seed: np.ndarray, bindings: Mapping):
    values: dict[Expr, tuple[np.ndarray, np.ndarray]] = {}
    for node in topological([expr]):
        if isinstance(node, Var):
            v = np.asarray(bindings[node.name], dtype=np.float64)
            values[node] = (v, seed if node == wrt else np.zeros(node.shape))
        elif isinstance(node, Const):
            values[node] = (np.asarray(node.value, dtype=np.float64), np.zeros(node.shape))
        elif isinstance(node, Map):
            u, du = values[node.arg]
            f, fprime = _scalar(node.fn, node.param)
            val, tan = np.zeros(node.shape), np.zeros(node.shape)
            for p in np.ndindex(*node.shape):
                val[p] = f(float(u[p]))
                tan[p] = fprime(float(u[p])) * du[p] if du[p] != 0 else 0.0
            values[node] = (val, tan)
        elif isinstance(node, Add):
            val, tan = np.zeros(node.shape), np.zeros(node.shape)
            for term, c in zip(node.terms, node.coeffs, strict=True):
                val = val + c * values[term][0]
                tan = tan + c * values[term][1]
            values[node] = (val, tan)
        elif isinstance(node, Reshape):
            u, du = values[node.arg]
            values[node] = (u.reshape(node.shape), du.reshape(node.shape))
        elif isinstance(node, Materialize):
            values[node] = values[node.arg]
        elif isinstance(node, Contract):
            values[node] = _loop_contract(node, [values[o] for o in node.operands])
        elif isinstance(node, Call):
            values[node] = _loop_call(node, [values[a] for a in node.args])
        else:
            raise TypeError(f"the brute-force oracle has no rule for a {type(node).__name__} node")
    return values[expr]


@dataclass(frozen=True, slots=True)
class _Dual:
    """A number with its tangent: forward mode by hand, for the whole-tensor functions."""

    v: float
    t: float = 0.0

    def __add__(self, o):
        o = _dual(o)
        return _Dual(self.v + o.v, self.t + o.t)

    __radd__ = __add__

    def __sub__(self, o):
        o = _dual(o)
        return _Dual(self.v - o.v, self.t - o.t)

    def __mul__(self, o):
        o = _dual(o)
        return _Dual(self.v * o.v, self.t * o.v + self.v * o.t)

    __rmul__ = __mul__

    def __truediv__(self, o):
        o = _dual(o)
        return _Dual(self.v / o.v, (self.t * o.v - self.v * o.t) / (o.v * o.v))


def _dual(x) -> _Dual:
    return x if isinstance(x, _Dual) else _Dual(float(x))


def _d_exp(x: _Dual) -> _Dual:
    return _Dual(math.exp(x.v), math.exp(x.v) * x.t)


def _d_log(x: _Dual) -> _Dual:
    return _Dual(math.log(x.v), x.t / x.v)


def _leibniz(m) -> _Dual:
    """det M = Σ_σ sign(σ) Π_i M[i, σ(i)], over all permutations (tiny n only)."""
    n = len(m)
    total = _Dual(0.0)
    for perm in itertools.permutations(range(n)):
        inversions = sum(perm[a] > perm[b] for a in range(n) for b in range(a + 1, n))
        term = _Dual(-1.0 if inversions % 2 else 1.0)
        for i in range(n):
            term = term * m[i][perm[i]]
        total = total + term
    return total


def _inverse(m) -> list:
    """M⁻¹ = adj(M) / det M, the adjugate from cofactors (Cramer's rule)."""
    n, det = len(m), _leibniz(m)
    if det.v == 0:
        raise EvaluationError("the brute-force oracle met a singular matrix")

    def minor(r, c):
        return [[m[i][j] for j in range(n) if j != c] for i in range(n) if i != r]

    cof = [[_leibniz(minor(r, c)) * (-1.0 if (r + c) % 2 else 1.0) if n > 1 else _Dual(1.0) for c in range(n)]
           for r in range(n)]
    return [[cof[c][r] / det for c in range(n)] for r in range(n)]


def _d_sqrt(x: _Dual) -> _Dual:
    root = math.sqrt(x.v)
    return _Dual(root, x.t / (2 * root) if x.t else 0.0)


def _symmetric_part(m) -> list:
    n = len(m)
    return [[(m[i][j] + m[j][i]) * 0.5 for j in range(n)] for i in range(n)]


def _cholesky(m) -> list:
    """L with sym(M) = L Lᵀ, row by row (Cholesky–Banachiewicz)."""
    s, n = _symmetric_part(m), len(m)
    low = [[_Dual(0.0)] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            total = s[i][j]
            for k in range(j):
                total = total - low[i][k] * low[j][k]
            if i == j and total.v <= 0:
                raise EvaluationError("cholesky: the brute-force oracle met a matrix that is not positive definite")
            low[i][j] = _d_sqrt(total) if i == j else total / low[j][j]
    return low


def _jacobi(m) -> tuple[list, list]:
    """Eigenvalues ascending and eigenvectors (columns, largest entry positive) of sym(M) by cyclic
    Jacobi rotations, each chosen to zero one off-diagonal entry, tangent included, until all are ~0."""
    a, n = _symmetric_part(m), len(m)
    vec = [[_Dual(1.0 if i == j else 0.0) for j in range(n)] for i in range(n)]
    scale = 1.0 + max(abs(a[i][i].v) for i in range(n))
    for _ in range(60):
        if all(abs(a[i][j].v) + abs(a[i][j].t) <= 1e-15 * scale for i in range(n) for j in range(n) if i != j):
            break
        for p, q in itertools.combinations(range(n), 2):
            y, x = a[p][q] * 2.0, a[q][q] - a[p][p]
            if y.v == 0 and y.t == 0:
                continue
            if x.v == 0 and y.v == 0:
                raise EvaluationError("eigh: the brute-force oracle met repeated eigenvalues")
            theta = _Dual(0.5 * math.atan2(y.v, x.v), 0.5 * (x.v * y.t - y.v * x.t) / (x.v * x.v + y.v * y.v))
            c = _Dual(math.cos(theta.v), -math.sin(theta.v) * theta.t)
            s = _Dual(math.sin(theta.v), math.cos(theta.v) * theta.t)
            for rows in (a, vec):  # columns p, q of A J and V J
                for k in range(n):
                    kp, kq = rows[k][p], rows[k][q]
                    rows[k][p], rows[k][q] = c * kp - s * kq, s * kp + c * kq
            for k in range(n):  # rows p, q of Jᵀ (A J)
                pk, qk = a[p][k], a[q][k]
                a[p][k], a[q][k] = c * pk - s * qk, s * pk + c * qk
    order = sorted(range(n), key=lambda k: a[k][k].v)
    values = [a[k][k] for k in order]
    vectors = [[vec[i][k] for k in order] for i in range(n)]
    for k in range(n):
        biggest = max(range(n), key=lambda i: abs(vectors[i][k].v))
        if vectors[biggest][k].v < 0:
            for i in range(n):
                vectors[i][k] = vectors[i][k] * -1.0
    return values, vectors


def _jacobi_svd(m) -> tuple[list, list, list]:
    """The thin SVD (U columns, s, V columns) by one-sided Jacobi rotations on the columns of
    M (of Mᵀ when M is wide), the rotation angle from the values and tangents alike, sorted
    descending, each U column's largest-magnitude entry positive."""
    if len(m) < len(m[0]):
        v, s, u = _jacobi_svd([list(col) for col in zip(*m, strict=True)])
        return _signs(u, s, v)
    rows, n = len(m), len(m[0])
    w = [[m[i][j] for i in range(rows)] for j in range(n)]  # columns
    v = [[_Dual(1.0 if i == j else 0.0) for i in range(n)] for j in range(n)]

    def dot(a, b):
        total = _Dual(0.0)
        for x, y in zip(a, b, strict=True):
            total = total + x * y
        return total

    for _ in range(60):
        largest = 0.0
        for p, q in itertools.combinations(range(n), 2):
            alpha, beta, gamma = dot(w[p], w[p]), dot(w[q], w[q]), dot(w[p], w[q])
            scale = math.sqrt(alpha.v * beta.v) or 1.0
            largest = max(largest, abs(gamma.v) / scale, abs(gamma.t) / scale)
            if gamma.v == 0 and gamma.t == 0:
                continue
            d = beta - alpha  # tan θ = 2γ / (d + sign(d) √(d² + 4γ²)), smooth in γ where d ≠ 0
            t = gamma * 2.0 / (d + _d_sqrt(d * d + gamma * gamma * 4.0) * (1.0 if d.v >= 0 else -1.0))
            c = _Dual(1.0) / _d_sqrt(t * t + 1.0)
            sn = c * t
            for cols in (w, v):
                cols[p], cols[q] = ([c * x - sn * y for x, y in zip(cols[p], cols[q], strict=True)],
                                    [sn * x + c * y for x, y in zip(cols[p], cols[q], strict=True)])
        if largest < 1e-15:
            break
    s = [_d_sqrt(dot(col, col)) for col in w]
    order = sorted(range(n), key=lambda j: -s[j].v)
    u = [[x / s[j] for x in w[j]] for j in order]
    return _signs(u, [s[j] for j in order], [v[j] for j in order])


def _signs(u, s, v):
    """Each U column flipped so that its largest-magnitude entry is positive, V's with it."""
    flip = [-1.0 if max(col, key=lambda x: abs(x.v)).v < 0 else 1.0 for col in u]
    return ([[x * f for x in col] for col, f in zip(u, flip, strict=True)], s,
            [[x * f for x in col] for col, f in zip(v, flip, strict=True)])


def _singular(fn: str, m) -> np.ndarray:
    """A function of the SVD of one matrix, from :func:`_jacobi_svd`."""
    u, s, v = _jacobi_svd(m)
    k = len(s)
    if fn == "svdvals":
        return np.array(s, dtype=object)
    if fn == "svdinv":
        return np.array([_Dual(1.0) / x for x in s], dtype=object)
    if fn == "svdgap":
        return np.array([[_Dual(0.0) if i == j else _Dual(1.0) / (s[j] * s[j] - s[i] * s[i]) for j in range(k)]
                         for i in range(k)], dtype=object)
    if fn == "svd_u":
        return np.array(u, dtype=object).T
    if fn == "svd_vh":
        return np.array(v, dtype=object)
    # pinv: V S⁻¹ Uᵀ
    out = np.empty((len(v[0]), len(u[0])), dtype=object)
    for r, c in np.ndindex(*out.shape):
        out[r, c] = sum((v[j][r] * u[j][c] / s[j] for j in range(k)), _Dual(0.0))
    return out


_SINGULAR = ("svdvals", "svd_u", "svd_vh", "svdgap", "svdinv", "pinv")


def _duals(value: np.ndarray, tangent: np.ndarray) -> np.ndarray:
    out = np.empty(value.shape, dtype=object)
    for p in np.ndindex(*value.shape):
        out[p] = _Dual(float(value[p]), float(tangent[p]))
    return out


def _split(duals: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    val, tan = np.zeros(shape), np.zeros(shape)
    for p in np.ndindex(*shape):
        val[p], tan[p] = duals[p].v, duals[p].t
    return val, tan


def _logsumexp(entries: list) -> _Dual:
    m = max(e.v for e in entries)
    total = _Dual(0.0)
    for e in entries:
        total = total + _d_exp(e - m)
    return _d_log(total) + m


def _extremum(pick):
    """The max (min) of duals: its tangent the mean of the tangents of the entries that attain it."""
    def reduce(entries: list) -> _Dual:
        best = pick(e.v for e in entries)
        ties = [e.t for e in entries if e.v == best]
        return _Dual(best, sum(ties) / len(ties))

    return reduce


def _product(entries: list) -> _Dual:
    total = _Dual(1.0)
    for e in entries:
        total = total * e
    return total


# One reduced slice's entries to the dual of the result.
_REDUCED = {"logsumexp": _logsumexp, "max": _extremum(max), "min": _extremum(min), "prod": _product}


def _loop_call(node: Call, args):
    """A function of whole tensors from its definition, one matrix (or reduced slice) at a time."""
    a = [_duals(v, t) for v, t in args]
    out = np.empty(node.shape, dtype=object)
    if node.fn == "where":
        for p in np.ndindex(*node.shape):
            out[p] = a[1][p] if a[0][p].v != 0 else a[2][p]
        return _split(out, node.shape)
    if node.fn in ("take", "put"):  # by definition: out[.., i, ..] reads x[.., P[i], ..]; put adds y back there
        axis, at = node.param[0], node.param[-1]
        if node.fn == "take":
            for p in np.ndindex(*node.shape):
                out[p] = a[0][p[:axis] + (at[p[axis]],) + p[axis + 1:]]
            return _split(out, node.shape)
        for p in np.ndindex(*node.shape):
            out[p] = _Dual(0.0)
        for p in np.ndindex(*node.args[0].shape):
            q = p[:axis] + (at[p[axis]],) + p[axis + 1:]
            out[q] = out[q] + a[0][p]
        return _split(out, node.shape)
    if node.fn in ("logsumexp", "max", "min", "prod"):
        axes = tuple(ax % a[0].ndim for ax in node.param)
        kept = [ax for ax in range(a[0].ndim) if ax not in axes]
        for p in np.ndindex(*node.shape):
            where = [slice(None)] * a[0].ndim
            for ax, k in zip(kept, p, strict=True):
                where[ax] = k
            out[p] = _REDUCED[node.fn](list(a[0][tuple(where)].ravel()))
        return _split(out, node.shape)
    if node.fn in _SPECTRAL:
        return _split(_spectral_loop(node, a), node.shape)
    if node.fn == "eiggap":  # 1/(w[j] - w[i]) off the diagonal
        for p in np.ndindex(*node.shape):
            *b, i, j = p
            out[p] = _Dual(0.0) if i == j else _Dual(1.0) / (a[0][(*b, j)] - a[0][(*b, i)])
        return _split(out, node.shape)
    batch = node.args[0].shape[:-2]
    for b in np.ndindex(*batch):
        m = a[0][b].tolist()
        if node.fn in ("cholesky", "tril_half", "eigvalsh", "eigvecs"):
            n = len(m)
            if node.fn == "cholesky":
                out[b] = np.array(_cholesky(m), dtype=object)
            elif node.fn == "tril_half":
                out[b] = np.array([[m[i][j] * (0.5 if i == j else 1.0 if i > j else 0.0) for j in range(n)]
                                   for i in range(n)], dtype=object)
            else:
                values, vectors = _jacobi(m)
                out[b] = np.array(values if node.fn == "eigvalsh" else vectors, dtype=object)
            continue
        if node.fn in ("det", "logdet", "logabsdet", "detsign"):
            det = _leibniz(m)
            if node.fn == "det":
                out[b] = det
            elif node.fn == "detsign":
                out[b] = _Dual(float(np.sign(det.v)))
            elif node.fn == "logdet" and det.v <= 0:
                raise EvaluationError("logdet: the brute-force oracle met a determinant <= 0")
            else:
                out[b] = _d_log(det) if det.v > 0 else _d_log(_Dual(0.0) - det)
        elif node.fn == "inv":
            out[b] = np.array(_inverse(m), dtype=object)
        elif node.fn in _SINGULAR:
            out[b] = _singular(node.fn, m)
        elif node.fn == "solve":
            inv, rhs, n = _inverse(m), a[1][b], len(m)
            for q in np.ndindex(*rhs.shape[1:]):
                for i in range(n):
                    total = _Dual(0.0)
                    for k in range(n):
                        total = total + inv[i][k] * rhs[(k,) + q]
                    out[b + (i,) + q] = total
        else:
            raise TypeError(f"the brute-force oracle has no rule for the function {node.fn!r}")
    return _split(out, node.shape)


# expm, sqrtm, logm from their definitions on lists of duals: a power series, Denman–Beavers'
# iteration, and square roots then the series 2 artanh(Z), Z = (S - I)(S + I)⁻¹.
def _real(x) -> float:
    while isinstance(x, _Dual):
        x = x.v
    return float(x)


def _mat(p, q) -> list:
    n = len(p)
    return [[sum((p[i][k] * q[k][j] for k in range(n)), _Dual(0.0)) for j in range(n)] for i in range(n)]


def _lin(c, p, d, q) -> list:
    return [[c * x + d * y for x, y in zip(pr, qr, strict=True)] for pr, qr in zip(p, q, strict=True)]


def _eye(n) -> list:
    return [[_Dual(1.0 if i == j else 0.0) for j in range(n)] for i in range(n)]


def _expm_series(m) -> list:
    n = len(m)
    squarings = max(0, math.ceil(math.log2(max(sum(abs(_real(x)) for x in row) for row in m) / 0.25 + 1e-300)))
    x = [[e * 0.5**squarings for e in row] for row in m]
    total, term = _eye(n), _eye(n)
    for k in range(1, 30):
        term = [[e * (1.0 / k) for e in row] for row in _mat(term, x)]
        total = _lin(1.0, total, 1.0, term)
    for _ in range(squarings):
        total = _mat(total, total)
    return total


def _sqrtm_iteration(m) -> list:
    y, z = m, _eye(len(m))
    for _ in range(40):
        y, z = _lin(0.5, y, 0.5, _inverse(z)), _lin(0.5, z, 0.5, _inverse(y))
    return y


def _logm_series(m) -> list:
    for _ in range(3):
        m = _sqrtm_iteration(m)
    n = len(m)
    z = _mat(_lin(1.0, m, -1.0, _eye(n)), _inverse(_lin(1.0, m, 1.0, _eye(n))))
    z2, power, total = _mat(z, z), z, z
    for k in range(3, 80, 2):
        power = _mat(power, z2)
        total = _lin(1.0, total, 1.0 / k, power)
    return [[e * 16.0 for e in row] for row in total]  # 2 artanh, times 2³ for the square roots


_SPECTRAL = {"expm": _expm_series, "sqrtm": _sqrtm_iteration, "logm": _logm_series,
             "dexpm": _expm_series, "dsqrtm": _sqrtm_iteration, "dlogm": _logm_series}


def _lift(d, depth: int):
    for _ in range(depth):
        d = _Dual(d, 0.0)
    return d


def _spectral_loop(node: Call, a) -> np.ndarray:
    """f(A), or Dᵏf(A)[E₁, ..., E_k] as the coefficient of ε₁⋯ε_k in f(A + Σ εₘ Eₘ) (nested duals,
    one level per direction, the oracle's own tangent innermost); sqrtm, logm of symmetric parts."""
    (x, *es), fn = a, node.fn
    n, batch, out = x.shape[-1], x.shape[:-2], np.empty(node.shape, dtype=object)
    trailing = [e.shape[x.ndim:] for e in es]
    for b in np.ndindex(*batch):
        for qs in itertools.product(*(list(np.ndindex(*t)) for t in trailing)):
            mats = [x[b]] + [e[b + (slice(None), slice(None)) + q] for e, q in zip(es, qs, strict=True)]
            if fn not in ("expm", "dexpm"):
                mats = [(m + m.T) * 0.5 for m in mats]
            m = mats[0].tolist()
            for level, e in enumerate(mats[1:]):
                m = [[_Dual(m[i][j], _lift(e[i, j], level)) for j in range(n)] for i in range(n)]
            r = _SPECTRAL[fn](m)
            for _ in es:
                r = [[e.t if isinstance(e, _Dual) else 0.0 for e in row] for row in r]
            for i, j in itertools.product(range(n), range(n)):
                out[b + (i, j) + sum(qs, ())] = _dual(r[i][j])
    return out


def _loop_contract(node: Contract, args):
    val, tan = np.zeros(node.shape), np.zeros(node.shape)
    for assignment in itertools.product(*(range(n) for n in node.sizes)):
        place = tuple(assignment[i] for i in node.output)
        factors = [(v[tuple(assignment[i] for i in idx)], t[tuple(assignment[i] for i in idx)])
                   for (v, t), idx in zip(args, node.inputs, strict=True)]
        product = 1.0
        for f, _ in factors:
            product *= f
        derivative = 0.0
        for k, (_, dk) in enumerate(factors):
            if dk != 0:
                rest = 1.0
                for j, (f, _) in enumerate(factors):
                    if j != k:
                        rest *= f
                derivative += dk * rest
        val[place] += product
        tan[place] += derivative
    return val, tan


def kink_distance(expr: Expr, bindings: Mapping) -> float:
    """The smallest ``|u|`` over the arguments u of relu, abs, step and sign in ``expr``, and half
    the gap between the two largest (smallest) entries a max (min) reduces: finite differences
    are only trustworthy away from those kinks.

    >>> import numpy as np, einsdiff as ed
    >>> x = ed.var("x", (3,))
    >>> float(kink_distance(ed.relu(x), {"x": np.array([0.5, -0.2, 1.0])}))
    0.2
    """
    smallest = math.inf
    for node in topological([expr]):
        if isinstance(node, Map) and node.fn in ("relu", "abs", "step", "sign"):
            u = evaluate(node.arg, bindings)
            smallest = min(smallest, float(np.min(np.abs(u), initial=math.inf)))
        elif isinstance(node, Call) and node.fn in ("max", "min"):
            u = evaluate(node.args[0], bindings)
            kept = [p for p in range(u.ndim) if p not in node.param]
            slices = np.sort(np.transpose(u, kept + list(node.param)).reshape(node.size, -1), axis=1)
            gaps = slices[:, -1] - slices[:, -2] if node.fn == "max" else slices[:, 1] - slices[:, 0]
            smallest = min(smallest, float(np.min(gaps, initial=math.inf)) / 2)
    return smallest


def finite_difference_margin(expr: Expr, bindings: Mapping) -> float:
    """How far ``bindings`` are from a point where central differences of ``expr`` break
    down: :func:`kink_distance`, or the distance to a pole or the edge of a domain if that
    is smaller (log, sqrt and fractional powers at 0, where a norm's derivative blows up
    too; reciprocal and negative powers at 0; log1p at -1). Negative where ``expr`` is
    undefined.

    >>> import numpy as np, einsdiff as ed
    >>> x = ed.var("x", (3,))
    >>> float(finite_difference_margin(ed.log(x), {"x": np.array([0.5, 0.2, 1.0])}))  # log's pole at 0
    0.2
    """
    smallest = kink_distance(expr, bindings)
    for node in topological([expr]):
        if not isinstance(node, Map) or node.fn not in _EDGES:
            continue
        edge = _EDGES[node.fn](node.param)
        if edge is not None:
            smallest = min(smallest, float(np.min(edge(evaluate(node.arg, bindings)), initial=math.inf)))
    return smallest


def _power_edge(p):
    if p is None or p >= 1 and float(p).is_integer():
        return None  # a polynomial: smooth everywhere
    return np.abs if float(p).is_integer() else (lambda u: u)  # a pole at 0, or a domain u >= 0


# For each function with a pole or a domain edge: the distance to it, as a function of the argument.
_EDGES = {
    "log": lambda p: (lambda u: u),
    "sqrt": lambda p: (lambda u: u),
    "log1p": lambda p: (lambda u: 1 + u),
    "reciprocal": lambda p: np.abs,
    "tan": lambda p: (lambda u: np.abs(np.cos(u))),  # poles where cos u = 0: |cos u| ≈ the distance to one
    "arcsin": lambda p: (lambda u: 1 - np.abs(u)),  # the domain is |u| <= 1, the derivative infinite at its ends
    "arccos": lambda p: (lambda u: 1 - np.abs(u)),
    "power": _power_edge,
}


MODES = ("forward", "reverse")


def check_jacobian(expr: Expr, wrt, bindings: Mapping, eps: float = 1e-6, rtol: float = 1e-5, *,
                   modes=MODES, order: int = 1) -> None:
    """Assert that ``ed.jacobian(expr, w, mode)`` matches central finite differences for each
    variable ``w`` of ``wrt`` (one or a tuple) and each of ``modes``; with ``order=2`` also each
    second derivative ``jacobian(jacobian(expr, w, mode), v, mode)``, against finite differences
    of the first (as autograd's ``check_grads(f, modes, order)``).

    Tolerances scale with the magnitude of the values; on failure the message names the
    derivative, the mode, the variable and the worst entry.

    >>> import numpy as np, einsdiff as ed
    >>> x = ed.var("x", (2,))
    >>> check_jacobian(ed.sin(x).sum(), x, {"x": np.array([0.3, -1.2])}, order=2)
    """
    if order not in (1, 2):
        raise OptionError(f"check_jacobian checks derivatives of order 1 or 2, got order={order!r}")
    ws = tuple(wrt) if isinstance(wrt, tuple | list) else (wrt,)
    for w in ws:
        want = _Differences(expr, w, bindings, eps)  # one set of differences for every mode
        for mode in modes:
            first = jacobian(expr, w, mode)
            want.compare(first, rtol, f"the jacobian of {describe(expr)} ({mode} mode)")
            for v in ws if order == 2 else ():
                _Differences(first, v, bindings, eps).compare(
                    jacobian(first, v, mode), rtol,
                    f"the second derivative of {describe(expr)} by {w.name} and {v.name} ({mode} mode)")


class _Differences:
    """Central differences of ``of`` by ``w``, and the magnitude a derivative's error is judged by."""

    def __init__(self, of: Expr, w: Var, bindings: Mapping, eps: float):
        self.w, self.bindings = w, bindings
        self.want = finite_difference_jacobian(of, w, bindings, eps)
        self.scale = max(1.0, float(np.max(np.abs(self.want), initial=0.0)),
                         float(np.max(np.abs(evaluate(of, bindings)), initial=0.0)))

    def compare(self, derivative: Expr, rtol: float, what: str) -> None:
        """Assert that ``derivative`` evaluates to these differences, within ``rtol`` of the scale."""
        got, want = evaluate(derivative, self.bindings), self.want
        err = np.abs(got - want)
        if not np.all(err <= rtol * self.scale + rtol * np.abs(want)):
            worst = np.unravel_index(np.argmax(err), err.shape) if err.size else ()
            raise AssertionError(
                f"{what} with respect to {self.w.name} disagrees with finite differences: "
                f"max error {float(err.max()):.3g} at {worst} (got {got[worst]!r}, want {want[worst]!r}); "
                f"bindings {dict(self.bindings)!r}"
            )
