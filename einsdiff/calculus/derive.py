"""Jacobians by index manipulation: one named rule per node type and direction.

The Jacobian of f with respect to a variable X has shape ``f.shape + X.shape``.
Differentiating X itself gives the identity, a contraction with no operands whose
output repeats its indices (a Kronecker delta); splicing it into a parent network
unifies indices, so the delta is eliminated by renaming wherever it meets a summed
index. The chain rule is that splicing: nested contractions flatten into one.

Two directions build the same tensor. Bottom-up (forward) carries dN/dX from the
leaves to f; top-down (reverse) carries df/dN from f to the leaves. Flattening
stops at sums (forward) or at nodes with several consumers (reverse), so the
direction decides which intermediates are materialized: reverse when f is smaller
than X (gradients), forward otherwise. Within each network, opt_einsum orders the
contraction.
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import NotScalarError, OperandError, OptionError, VariableConflictError, WrtError
from ..ir.expr import Add, Call, Const, Contract, Expr, Map, Materialize, Reshape, Var, zero
from ..ir.functions import FUNCTIONS
from ..ir.ops import OPS
from ..ir.simplify import add, contract
from ..ir.variables import children, topological, variables


def _derivative_labels(x: Var) -> tuple:
    return tuple(("d", p) for p in range(x.ndim))


def _var_rule(node: Var, wrt: Var, jac) -> Expr | None:
    """dX/dX = δ (identity on X's indices); dY/dX = 0."""
    if node != wrt:
        return None
    d = _derivative_labels(wrt)
    return contract([], [], d + d, dict(zip(d, wrt.shape, strict=True)))


def _const_rule(node: Const, wrt: Var, jac) -> Expr | None:
    """dC/dX = 0."""
    return None


def _contract_rule(node: Contract, wrt: Var, jac) -> Expr | None:
    """d(prod_k T_k) = sum_k (prod_{j != k} T_j) dT_k  (product rule, one network per operand)."""
    d = _derivative_labels(wrt)
    sizes = dict(enumerate(node.sizes))
    sizes.update(zip(d, wrt.shape, strict=True))
    terms = []
    for k, operand in enumerate(node.operands):
        dk = jac(operand)
        if dk is None:
            continue
        operands = list(node.operands)
        operands[k] = dk
        inputs = list(node.inputs)
        inputs[k] = node.inputs[k] + d
        terms.append(contract(operands, inputs, node.output + d, sizes))
    return _sum(terms, node.shape + wrt.shape)


def _map_rule(node: Map, wrt: Var, jac) -> Expr | None:
    """d f(u) = f'(u) ⊙ du: f'(u) rides on u's indices, never as a diagonal matrix."""
    du = jac(node.arg)
    if du is None:
        return None
    fprime = OPS[node.fn].derivative(node.arg, node, node.param)
    if fprime is None:
        return None
    own = tuple(range(node.ndim))
    d = _derivative_labels(wrt)
    sizes = dict(zip(own, node.shape, strict=True)) | dict(zip(d, wrt.shape, strict=True))
    return contract([fprime, du], [own, own + d], own + d, sizes)


def _call_rule(node: Call, wrt: Var, jac) -> Expr | None:
    """The function's own forward rule, from its arguments' Jacobians (einsdiff.ir.functions)."""
    tangents = tuple(jac(a) for a in node.args)
    if all(t is None for t in tangents):
        return None
    return FUNCTIONS[node.fn].jvp(node, tangents, wrt.shape)


def _add_rule(node: Add, wrt: Var, jac) -> Expr | None:
    """d(sum_k c_k T_k) = sum_k c_k dT_k."""
    pairs = [(jac(t), c) for t, c in zip(node.terms, node.coeffs, strict=True)]
    pairs = [(j, c) for j, c in pairs if j is not None]
    if not pairs:
        return None
    return add([j for j, _ in pairs], [c for _, c in pairs], node.shape + wrt.shape)


def _reshape_rule(node: Reshape, wrt: Var, jac) -> Expr | None:
    """d reshape(T) = reshape(dT) on the leading axes."""
    dt = jac(node.arg)
    return None if dt is None else Reshape(dt, node.shape + wrt.shape)


def _materialize_rule(node: Materialize, wrt: Var, jac) -> Expr | None:
    """d M(T) = dT: materializing changes how a value is computed, not what it is."""
    return jac(node.arg)


FORWARD_RULES: dict[type, Callable] = {
    Var: _var_rule,
    Const: _const_rule,
    Contract: _contract_rule,
    Map: _map_rule,
    Add: _add_rule,
    Call: _call_rule,
    Reshape: _reshape_rule,
    Materialize: _materialize_rule,
}


def _sum(terms: list[Expr], shape) -> Expr | None:
    return add(terms, [1.0] * len(terms), shape) if terms else None


def _check_wrt(f: Expr, wrt, where: str = "wrt") -> Var:
    if not isinstance(wrt, Var):
        raise WrtError(
            f"{where} must be a variable made by ed.var (or a tuple of them), got {type(wrt).__name__}"
            + (f" of shape {wrt.shape}" if isinstance(wrt, Expr) else "")
        )
    for v in variables(f):
        if v.name == wrt.name and v.shape == wrt.shape and v.symmetric != wrt.symmetric:
            raise VariableConflictError(
                f"wrt variable {wrt.name!r} is {_kind(wrt)} but the expression's variable {v.name!r} is "
                f"{_kind(v)}; differentiate with respect to the variable the expression holds"
            )
        if v.name == wrt.name and v.shape != wrt.shape:
            raise VariableConflictError(
                f"wrt variable {wrt.name!r} has shape {wrt.shape} but the expression's variable "
                f"{v.name!r} has shape {v.shape}; use one shape per name"
            )
    return wrt


def _kind(v: Var) -> str:
    return "symmetric" if v.symmetric else "not symmetric"


def _forward(f: Expr, x: Var) -> Expr | None:
    """One bottom-up sweep from x to f. Along a scalar x (a jvp, an hvp), a tangent that flows
    into several consumers is materialized once instead of spliced into each consumer's
    network: spliced, a deep chain's tangents grow by a factor per layer, and the sweep with
    them (quadratic in depth, to build and to plan)."""
    order = topological([f])
    memo: dict[Expr, Expr | None] = {}
    uses: dict[Expr, int] = {}
    for node in order:
        for c in set(children(node)):
            uses[c] = uses.get(c, 0) + 1
    scalar = math.prod(x.shape) == 1
    for node in order:  # children first, so the rules only look up
        tangent = FORWARD_RULES[type(node)](node, x, memo.__getitem__)
        if scalar and uses.get(node, 0) > 1 and isinstance(tangent, Contract) and len(tangent.operands) > 1:
            tangent = Materialize(tangent)
        memo[node] = tangent
    return memo[f]


def _seed_labels(lead: tuple[int, ...]) -> tuple:
    return tuple(("f", p) for p in range(len(lead)))


# The reverse rules carry df/dN with the axes ``lead`` (f's) in front of N's.
def _reverse_contract(node: Contract, adj: Expr, lead: tuple[int, ...], push) -> None:
    """df/dT_k = df/dN contracted with the other operands, onto T_k's indices (repeats become deltas)."""
    top = _seed_labels(lead)
    sizes = dict(enumerate(node.sizes)) | dict(zip(top, lead, strict=True))
    for k, operand in enumerate(node.operands):
        others = [j for j in range(len(node.operands)) if j != k]
        push(
            operand,
            contract(
                [adj] + [node.operands[j] for j in others],
                [top + node.output] + [node.inputs[j] for j in others],
                top + node.inputs[k],
                sizes,
            ),
        )


def _reverse_map(node: Map, adj: Expr, lead: tuple[int, ...], push) -> None:
    """df/du = df/dN ⊙ f'(u) on u's indices."""
    fprime = OPS[node.fn].derivative(node.arg, node, node.param)
    if fprime is None:
        return
    top, own = _seed_labels(lead), tuple(range(node.ndim))
    sizes = dict(zip(own, node.shape, strict=True)) | dict(zip(top, lead, strict=True))
    push(node.arg, contract([adj, fprime], [top + own, own], top + own, sizes))


def _reverse_add(node: Add, adj: Expr, lead: tuple[int, ...], push) -> None:
    """df/dT_k = c_k df/dN."""
    for term, c in zip(node.terms, node.coeffs, strict=True):
        push(term, add([adj], [c], adj.shape))


def _reverse_call(node: Call, adj: Expr, lead: tuple[int, ...], push) -> None:
    """Each argument's share of df/dN, by the function's reverse rule: its own, or its forward rule transposed."""
    rule = FUNCTIONS[node.fn].vjp or transposed_vjp
    for arg, share in zip(node.args, rule(node, adj, lead), strict=True):
        if share is not None:
            push(arg, share)


def _reverse_reshape(node: Reshape, adj: Expr, lead: tuple[int, ...], push) -> None:
    """df/dT = df/dN reshaped back to T's shape on the trailing axes."""
    push(node.arg, Reshape(adj, tuple(lead) + node.arg.shape))


def _reverse_materialize(node: Materialize, adj: Expr, lead: tuple[int, ...], push) -> None:
    """df/dT = df/dM."""
    push(node.arg, adj)


REVERSE_RULES: dict[type, Callable] = {
    Contract: _reverse_contract,
    Map: _reverse_map,
    Add: _reverse_add,
    Call: _reverse_call,
    Reshape: _reverse_reshape,
    Materialize: _reverse_materialize,
}


# An adjoint network with more operands is materialized even where it flows on into one
# consumer: a deep chain's adjoint would otherwise be rebuilt, one operand longer, at every layer.
_LONGEST_ADJOINT = 8


def _reverse(f: Expr, xs: tuple[Var, ...], seed: Expr | None = None, lead: tuple[int, ...] | None = None) -> dict[Var, Expr]:
    """One top-down sweep from f to every variable in ``xs``, starting from ``seed`` (df/df = δ
    by default; any adjoint with the axes ``lead`` in front of f's).

    For a scalar f this is backpropagation: an adjoint that flows on into several
    operands is materialized once instead of spliced into (and recomputed by) each
    consumer's network, so deep chains cost one pass, not one pass per variable.
    """
    order = topological([f])
    depends: set[Expr] = set()
    for node in order:
        if node in xs or any(c in depends for c in children(node)):
            depends.add(node)
    if seed is None:
        lead = f.shape
        top = _seed_labels(lead)
        seed = contract([], [], top + top, dict(zip(top, lead, strict=True)))  # df/df = δ
    scalar = math.prod(lead) == 1
    parts: dict[Expr, list[Expr]] = {}
    found: dict[Var, Expr] = {}

    def push(node: Expr, contribution: Expr) -> None:
        if node in depends:
            parts.setdefault(node, []).append(contribution)

    push(f, seed)
    for node in reversed(order):  # every consumer before the node it consumes
        if node not in parts:
            continue
        adj = _sum(parts.pop(node), tuple(lead) + node.shape)
        if node in xs:
            found[node] = adj
            continue
        fan_out = sum(1 for c in children(node) if c in depends)
        # a product's number (2 Σ...) stays outside, where it joins the consumers' numbers
        c, inner = (adj.coeffs[0], adj.terms[0]) if isinstance(adj, Add) and len(adj.terms) == 1 else (1.0, adj)
        if scalar and isinstance(inner, Contract) and (fan_out > 1 and len(inner.operands) > 1
                                                       or len(inner.operands) > _LONGEST_ADJOINT):
            adj = add([Materialize(inner)], [c], inner.shape)
        REVERSE_RULES[type(node)](node, adj, lead, push)
    return found


# Placeholders stand for a rule's inputs while it is built once per function and shape; a
# process-wide counter keeps them distinct from each other and, not being identifiers, from variables.
_PLACEHOLDERS = itertools.count()


def _placeholder(shape: tuple[int, ...]) -> Var:
    return Var(f"⟨{next(_PLACEHOLDERS)}⟩", shape)


def _bind(expr: Expr, mapping: dict[Expr, Expr]) -> Expr:
    """``expr`` with the nodes in ``mapping`` replaced, rebuilt by the smart constructors (a
    Call by its entry's ``node``) only above what changes."""
    done: dict[Expr, Expr] = {}
    for node in topological([expr], lambda n: () if n in mapping else children(n)):
        if node in mapping:
            done[node] = mapping[node]
        elif all(done[c] is c for c in children(node)):
            done[node] = node
        elif isinstance(node, Contract):
            done[node] = contract([done[o] for o in node.operands], node.inputs, node.output, dict(enumerate(node.sizes)))
        elif isinstance(node, Add):
            done[node] = add([done[t] for t in node.terms], node.coeffs, node.shape)
        elif isinstance(node, Map):
            done[node] = Map(node.fn, done[node.arg], node.param)
        elif isinstance(node, Call):
            args, make = tuple(done[a] for a in node.args), FUNCTIONS[node.fn].node
            done[node] = make(*args) if make else Call(node.fn, args, node.param, node.shape)
        elif isinstance(node, Reshape):
            done[node] = Reshape(done[node.arg], node.shape)
        else:
            done[node] = Materialize(done[node.arg])
    return done[expr]


_TRANSPOSING = threading.local()  # .names: the functions whose reverse rule this thread is deriving


@functools.lru_cache(maxsize=512)
def _transposed(entry, shapes: tuple, param: tuple, shape: tuple, lead: tuple, k: int):
    """Argument k's share of an adjoint, built once per function and shapes over placeholders:
    the node, its arguments and the adjoint (the node itself, so the share may use its value)."""
    if not hasattr(_TRANSPOSING, "names"):
        _TRANSPOSING.names = set()
    busy = _TRANSPOSING.names
    if entry.name in busy:
        raise ValueError(
            f"the forward rule of {entry.name} applies {entry.name} to the tangent, so transposing it needs the "
            f"reverse rule being derived; give the registry entry {entry.name!r} a vjp (as solve's)"
        )
    args = tuple(_placeholder(s) for s in shapes)
    node, seed, tangent = Call(entry.name, args, param, shape), _placeholder(lead + shape), _placeholder(shapes[k])
    busy.add(entry.name)
    try:
        linear = entry.jvp(node, tuple(tangent if j == k else None for j in range(len(args))), ())
        share = None if linear is None else _reverse(linear, (tangent,), seed, lead).get(tangent)
    finally:
        busy.discard(entry.name)
    return share, node, args, seed


def transposed_vjp(node: Call, adj: Expr, lead: tuple[int, ...]) -> tuple[Expr | None, ...]:
    """The reverse rule of a function from its forward rule: jvp is linear in each tangent dX_k,
    so ⟨adj, jvp(dX_k)⟩ = ⟨vjp_k(adj), dX_k⟩ and vjp_k is the reverse sweep of jvp(T) down to a
    placeholder tangent T (no derivative axes: ``extra`` is empty). The sweep runs once per
    function and shapes, from a placeholder adjoint over placeholder arguments, which are then
    bound to ``adj`` and the node's own; so a jvp should see its arguments through their
    shapes and the node constructors (``inv_node``), and a scale the rule puts on the adjoint
    stays a coefficient of the whole share, as a hand-written rule writes it.

    >>> import einsdiff as ed
    >>> X = ed.var("X", (2, 2))
    >>> from einsdiff.ir.expr import Var
    >>> (share,) = transposed_vjp(ed.inv(X), Var("G", (2, 2)), ())  # -X⁻ᵀ G X⁻ᵀ
    >>> print(share)
    f[i,j] = -inv(X)[k,i] inv(X)[j,l] G[k,l]
    """
    entry = FUNCTIONS[node.fn]
    shapes, lead = tuple(a.shape for a in node.args), tuple(lead)
    shares: list[Expr | None] = []
    for k in range(len(node.args)):
        share = None
        if k not in entry.constant_in:
            share, own, args, seed = _transposed(entry, shapes, node.param, node.shape, lead, k)
        if share is not None:
            share = _bind(share, {own: node, seed: adj} | dict(zip(args, node.args, strict=True)))
        shares.append(share)
    return tuple(shares)


MODES = ("auto", "forward", "reverse")


def _check_f(f) -> Expr:
    if not isinstance(f, Expr):
        raise OperandError(f"f must be an einsdiff expression, got {type(f).__name__}; build it from ed.var")
    return f


def _check_all(f, wrt) -> None:
    """Check ``f`` and every variable up front, naming a bad one by its position."""
    _check_f(f)
    if isinstance(wrt, tuple | list):
        for k, w in enumerate(wrt):
            _check_wrt(f, w, f"wrt[{k}]")


def _jacobians(f: Expr, wrt: tuple, mode: str, names: tuple[str, ...]) -> tuple[Expr, ...]:
    _check_f(f)
    xs = tuple(_check_wrt(f, w, where) for w, where in zip(wrt, names, strict=True))
    if mode not in MODES:
        raise OptionError(f"mode must be one of {MODES}, got {mode!r}")
    reverse = [x for x in xs if mode == "reverse" or (mode == "auto" and f.size <= x.size)]
    swept = _reverse(f, tuple(dict.fromkeys(reverse))) if reverse else {}
    results = []
    for x in xs:
        result = swept.get(x) if x in reverse else _forward(f, x)
        results.append(zero(f.shape + x.shape) if result is None else _symmetrized(result, x))
        if x in reverse and result is not None:
            remember(results[-1], Origin(f, x, tuple(swept)))
    return tuple(results)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a derivative came from: the reverse sweep of ``f`` down to ``x`` (one sweep down to
    all of ``swept``), then ``finish`` applied to that Jacobian (None: the Jacobian itself; hvp's
    is a jvp of the gradient)."""

    f: Expr
    x: Var
    swept: tuple[Var, ...]
    finish: Callable[[Expr], Expr] | None = None


# The origins of the latest derivatives, so that ed.compile can give derivatives of one function,
# taken separately, the one sweep a tuple of variables gets (shared_sweeps). Bounded, as it holds
# the functions (and their constants): a derivative whose origin was forgotten compiles as written.
# A lock, as threads may derive concurrently.
_ORIGINS: OrderedDict[Expr, Origin] = OrderedDict()
_ORIGINS_KEPT = 64
_ORIGINS_LOCK = threading.Lock()


def remember(result: Expr, origin: Origin) -> None:
    """Record that ``result`` is the derivative ``origin`` describes (the latest record wins)."""
    with _ORIGINS_LOCK:
        _ORIGINS[result] = origin
        _ORIGINS.move_to_end(result)
        while len(_ORIGINS) > _ORIGINS_KEPT:
            _ORIGINS.popitem(last=False)


def shared_sweeps(outputs: tuple[Expr, ...]) -> tuple[Expr, ...]:
    """``outputs`` with the derivatives of one function, taken separately (``grad(L, W1)``,
    ``grad(L, W2)``, hvps), re-derived from one reverse sweep down to all their variables:
    each is then what the tuple form ``grad(L, (W1, W2))`` gives, so the adjoints that sweep
    materializes are computed once for all of them. Single derivatives and what they print
    stay as derived; only their compiled program changes.

    >>> import einsdiff as ed
    >>> x, W1, W2 = ed.var("x", (3,)), ed.var("W1", (3, 3)), ed.var("W2", (3, 3))
    >>> L = ed.sum(ed.tanh(W2 @ ed.tanh(W1 @ x)))
    >>> separate = shared_sweeps((ed.grad(L, W1), ed.grad(L, W2)))
    >>> separate == ed.grad(L, (W1, W2))
    True
    """
    nodes = topological(outputs)
    with _ORIGINS_LOCK:
        found = {n: _ORIGINS[n] for n in nodes if n in _ORIGINS}
    variables_of: dict[Expr, dict[Var, None]] = {}  # f -> its variables, in order (a set that keeps it)
    for origin in found.values():
        variables_of.setdefault(origin.f, {})[origin.x] = None
    # Only a sweep from one entry materializes adjoints; from more, each variable's sweep is the
    # joint one already. Nor is a sweep repeated when one sweep gave every derivative of f found.
    sweeps: dict[Expr, set[tuple[Var, ...]]] = {}
    for origin in found.values():
        sweeps.setdefault(origin.f, set()).add(origin.swept)
    joint = {f: _reverse(f, tuple(xs)) for f, xs in variables_of.items()
             if f.size == 1 and not (len(sweeps[f]) == 1 and set(xs) <= set(next(iter(sweeps[f]))))}
    mapping: dict[Expr, Expr] = {}
    for node, origin in found.items():
        if origin.f not in joint:
            continue
        jac = _symmetrized(joint[origin.f][origin.x], origin.x)
        mapping[node] = jac if origin.finish is None else origin.finish(jac)
    return tuple(_bind(o, mapping) for o in outputs) if mapping else outputs


def _symmetrized(jac: Expr, x: Var) -> Expr:
    """For a symmetric x, the Jacobian within the symmetric matrices: (J + Jᵀ)/2 on x's last two
    axes. J is the derivative as if x were unconstrained; the directional derivative along a
    symmetric V is ⟨J, V⟩ = ⟨(J + Jᵀ)/2, V⟩, and (J + Jᵀ)/2 is the one symmetric tensor that
    gives it (the Frobenius-inner-product convention, as matrixcalculus.org's). Both modes end
    here, so the convention is applied once: J·P, with P the symmetrizer the seed would carry."""
    if not x.symmetric:
        return jac
    axes = tuple(range(jac.ndim))
    swapped = axes[:-2] + (axes[-1], axes[-2])
    transposed = contract([jac], [axes], swapped, dict(zip(axes, jac.shape, strict=True)))
    return add([jac, transposed], [0.5, 0.5], jac.shape)


def jacobian(f: Expr, wrt, mode: str = "auto"):
    """The Jacobian of ``f`` with shape ``f.shape + wrt.shape``; a tuple for a tuple of variables.

    ``mode`` picks the accumulation direction: "reverse" (top-down, as backpropagation),
    "forward" (bottom-up), or "auto": reverse when ``f.size <= wrt.size``. All give the
    same tensor; they differ in which intermediates are materialized.

    With respect to a symmetric variable (``ed.var(..., symmetric=True)``) the result is the
    derivative within the symmetric matrices: (J + Jᵀ)/2 on its last two axes, J being the
    derivative with respect to an unconstrained matrix (so d tr(S A)/dS = (A + Aᵀ)/2).

    >>> import einsdiff as ed
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> print(ed.jacobian(ed.einsum("ij,j->i", A, x), A))
    f[i,j,k] = δ[i,j] x[k]; i:2, j:2
    """
    if isinstance(wrt, tuple | list):
        return _jacobians(f, tuple(wrt), mode, tuple(f"wrt[{k}]" for k in range(len(wrt))))
    return _jacobians(f, (wrt,), mode, ("wrt",))[0]


def grad(f: Expr, wrt, mode: str = "auto"):
    """The gradient of a scalar ``f``: shape ``wrt.shape`` (a tuple for a tuple of variables).

    >>> import einsdiff as ed
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> print(ed.grad(ed.sum((A @ x) ** 2), x))
    f[i] = 2 A[k,i] x[j] A[k,j]
    """
    if _check_f(f).shape != ():
        raise NotScalarError(
            f"grad needs a scalar expression, got shape {f.shape}; use ed.jacobian, "
            f"or reduce it first (e.g. .sum())"
        )
    return jacobian(f, wrt, mode)


def hessian(f: Expr, wrt, mode: str = "auto"):
    """The Jacobian of the Jacobian: shape ``f.shape + wrt.shape + wrt.shape``.

    For a tuple of variables, a tuple of tuples of blocks ``H[i][j] = d/dw_j (d f / d w_i)``.

    >>> import einsdiff as ed
    >>> A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    >>> print(ed.hessian(ed.sum((A @ x) ** 2), x))
    f[i,j] = 2 A[k,i] A[k,j]
    """
    _check_all(f, wrt)
    if isinstance(wrt, tuple | list):
        return tuple(tuple(jacobian(jacobian(f, wi, mode), wj, mode) for wj in wrt) for wi in wrt)
    return jacobian(jacobian(f, wrt, mode), wrt, mode)
