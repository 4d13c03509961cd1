"""Smart constructors that keep expressions flat and canonical.

``contract`` splices nested contractions into one network (the chain rule is
flattening), eliminates deltas by unifying indices, folds scalar factors into a
coefficient and renames indices canonically, so alpha-equivalent networks are
equal nodes. ``add`` flattens nested sums, prunes zeros and merges equal terms.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Hashable, Mapping, Sequence

from ..errors import OperandError, ShapeError
from .expr import Add, Call, Const, Contract, Expr, Map, Materialize, Reshape, Var, as_expr, bare, is_symmetric, is_zero, zero
from .ops import apply, power_of, raised
from .variables import topological


class _Unifier:
    """Union-find over index labels; merged indices must have one size."""

    def __init__(self, sizes: Mapping[Hashable, int]):
        self.parent: dict[Hashable, Hashable] = {}
        self.sizes = dict(sizes)

    def add(self, label, size: int):
        self.sizes[label] = size

    def find(self, label):
        root = label
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while label != root:  # path compression
            label, self.parent[label] = self.parent.get(label, label), root
        return root

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.sizes[ra] != self.sizes[rb]:
            raise ShapeError(
                f"cannot identify two indices of sizes {self.sizes[ra]} and {self.sizes[rb]}"
            )
        self.parent[rb] = ra


# Labels of spliced indices: never repeated, so a network already holding spliced labels
# (a where hoisted, powers merged) can be built again without two indices sharing one label.
_SPLICES = itertools.count()


def contract(
    operands: Sequence[Expr],
    inputs: Sequence[Sequence[Hashable]],
    output: Sequence[Hashable],
    sizes: Mapping[Hashable, int],
) -> Expr:
    """Build the contraction ``output <- prod_k operands[k][inputs[k]]``, simplified.

    Labels may be any hashable; ``sizes`` must give the extent of every label,
    including summed labels that appear in no input (each is a factor of its size).

    >>> import einsdiff as ed
    >>> x = ed.var("x", (3,))
    >>> contract([x], [("i",)], ("i",), {"i": 3}) is x
    True
    """
    uf = _Unifier(sizes)
    coeff = 1.0
    ops: list[Expr] = []
    idxs: list[tuple] = []
    work = list(zip(operands, (tuple(i) for i in inputs), strict=True))
    # A sum's shared number joins a product or a sum over indices; moved out of a bare
    # transposition it saves nothing and c (a + b) would round otherwise than c a + c b.
    folds = len(work) > 1 or any(not set(idx) <= set(output) for _, idx in work)
    # A product s with a power of s (s · 1/√s) keeps s whole, so the two can merge into √s.
    powered = {(base, idx) for op, idx in work if (base := power_of(op)[0]) is not op}
    while work:
        op, idx = work.pop(0)
        if is_zero(op):
            return zero(tuple(uf.sizes[i] for i in output))
        if isinstance(op, Add) and len(op.terms) == 1:
            coeff *= op.coeffs[0]
            work.insert(0, (op.terms[0], idx))
        elif folds and isinstance(op, Add) and _common_coefficient(op) is not None:
            # 2 a - 2 b in a product is 2 (a - b): the 2 joins the product's other numbers.
            m = _common_coefficient(op)
            coeff *= m
            work.insert(0, (add(op.terms, [c / m for c in op.coeffs], op.shape), idx))
        elif isinstance(op, Const) and op.ndim == 0 and op.value.dtype.kind == "f":
            coeff *= float(op.value)
        elif isinstance(op, Contract) and (op, idx) not in powered:
            tag = next(_SPLICES)
            rename = {i: ("splice", tag, i) for i in range(len(op.sizes))}
            for i, n in enumerate(op.sizes):
                uf.add(rename[i], n)
            for parent_label, child_index in zip(idx, op.output, strict=True):
                uf.union(parent_label, rename[child_index])
            work[0:0] = [
                (child, tuple(rename[i] for i in cidx))
                for child, cidx in zip(op.operands, op.inputs, strict=True)
            ]
        else:
            ops.append(op)
            idxs.append(idx)

    _cancel_inverses(ops, idxs, output, uf)
    out = [uf.find(i) for i in output]
    ins = [tuple(uf.find(i) for i in idx) for idx in idxs]
    # A where or powers of one base may show only once nested products are spliced (2 where(..)).
    roots = {uf.find(label): None for label in uf.sizes}  # in the callers' order: numbers multiply alike
    node = _hoist_where(ops, ins, out, {r: uf.sizes[r] for r in roots})
    merged = _merge_powers(ops, ins, out) if node is None else None
    if merged is not None:
        node = contract(merged[0], merged[1], out, {r: uf.sizes[r] for r in roots})
    if node is not None:
        return node if coeff == 1.0 else add([node], [coeff], node.shape)
    ops, ins, canon = _canonical_names(ops, ins, out)
    # A summed index that appears nowhere is a factor of its size.
    for root in roots:
        if root not in canon:
            coeff *= uf.sizes[root]
    canon_sizes = [0] * len(canon)
    for label, i in canon.items():
        canon_sizes[i] = uf.sizes[label]
    new_out = tuple(canon[i] for i in out)
    new_ins = tuple(tuple(canon[i] for i in idx) for idx in ins)
    shape = tuple(canon_sizes[i] for i in new_out)
    if coeff == 0.0:
        return zero(shape)
    if len(ops) == 1 and new_ins[0] == new_out and len(set(new_out)) == len(new_out):
        node = ops[0]
    else:
        node = Contract(tuple(ops), new_ins, new_out, tuple(canon_sizes))
    if coeff == 1.0:
        return node
    # c (a + b) is the sum c a + c b, as ``add`` builds it: one form, so rebuilding changes nothing.
    return add([node], [coeff], shape) if isinstance(node, Add) else Add((node,), (coeff,), shape)


def _common_coefficient(op: Add) -> float | None:
    """The magnitude every coefficient of the sum ``op`` shares, when it is not 1."""
    m = abs(op.coeffs[0])
    if m in (0.0, 1.0) or any(abs(c) != m for c in op.coeffs):
        return None
    return m


def _merge_powers(ops: list[Expr], ins: list[tuple], out: list) -> tuple[list, list] | None:
    """Factors of one base over the same indices multiply into one power: √s·(1/√s) = 1,
    s·s^-½ = √s, square(sqrt(u)) = u (each equal to the product wherever the product is
    defined). None when nothing merges. A factor that cancels to 1 is dropped unless it alone
    carries an output index; a factor repeated as it is (u u) is left alone."""
    groups: dict[tuple, list[int]] = {}
    powers = [power_of(op) for op in ops]
    for k, ((base, _), idx) in enumerate(zip(powers, ins, strict=True)):
        groups.setdefault((base, idx), []).append(k)
    if len(groups) == len(ops):  # no two factors share a base: nothing to merge
        return None
    new_ops: list[Expr] = []
    new_ins: list[tuple] = []
    changed = False

    def alone(members: list[int]) -> set:
        """The output indices only these factors carry."""
        return set(out) - {i for k, other in enumerate(ins) if k not in members for i in other}

    for (base, idx), members in groups.items():
        total = sum(powers[k][1] for k in members)
        plain = all(powers[k][0] is ops[k] for k in members)  # u u stays as written, not square(u)
        if plain or (len(members) == 1 and total != 1.0) or (total == 0.0 and alone(members) & set(idx)):
            new_ops.extend(ops[k] for k in members)
            new_ins.extend(idx for _ in members)
            continue
        if total == 0.0:
            changed = True
            continue
        changed = True
        new_ops.append(raised(base, total))
        new_ins.append(idx)
    return (new_ops, new_ins) if changed else None


def _cancel_inverses(ops: list[Expr], idxs: list[tuple], output, uf: _Unifier) -> None:
    """X X⁻¹ = X⁻¹ X = I in place: a matrix and its inverse summed over one index that
    nothing else has leave the product, their outer indices identified (a delta)."""
    while any(isinstance(op, Call) and op.fn == "inv" for op in ops) and _cancel_one_inverse(ops, idxs, output, uf):
        pass


def _cancel_one_inverse(ops: list[Expr], idxs: list[tuple], output, uf: _Unifier) -> bool:
    count = collections.Counter(uf.find(i) for i in [*output, *itertools.chain.from_iterable(idxs)])
    pairs = [(k, m) for m, inverse in enumerate(ops) if isinstance(inverse, Call) and inverse.fn == "inv"
             and inverse.ndim == 2 for k, matrix in enumerate(ops) if k != m and bare(matrix) == bare(inverse.args[0])]
    for k, m in pairs:
        (x0, x1), (i0, i1) = tuple(map(uf.find, idxs[k])), tuple(map(uf.find, idxs[m]))
        # X[a,s] X⁻¹[s,d] = δ[a,d] and X⁻¹[c,s] X[s,b] = δ[c,b], s in nothing else.
        for shared, left, right, chained in ((x1, x0, i1, x1 == i0), (i1, i0, x1, i1 == x0)):
            if chained and count[shared] == 2:
                uf.union(left, right)
                uf.union(left, shared)  # the delta sums it away: no factor of its size
                for j in sorted((k, m), reverse=True):
                    del ops[j], idxs[j]
                return True
    return False


def _hoist_where(operands, inputs, output, sizes) -> Expr | None:
    """where(m, A, 0) · B = where(m, A · B, 0) when every index of the where is free: the
    unchosen branch is then exactly 0, even where B is inf or nan (a reverse-mode adjoint
    through a branch that is undefined where it is not chosen)."""
    for k, (op, idx) in enumerate(zip(operands, inputs, strict=True)):
        if not (isinstance(op, Call) and op.fn == "where" and set(idx) <= set(output)):
            continue
        mask, a, b = op.args
        if not (is_zero(a) or is_zero(b)) or len(operands) == 1:
            continue
        rest = list(operands)
        rest[k] = b if is_zero(a) else a
        inner = contract(rest, inputs, output, sizes)
        used = set(idx) | set(output)
        spread = contract([mask], [tuple(idx)], output, {i: n for i, n in sizes.items() if i in used})
        branches = (zero(inner.shape), inner) if is_zero(a) else (inner, zero(inner.shape))
        return inner if is_zero(inner) else Call("where", (spread, *branches), (), inner.shape)
    return None


_MOST_FLIPS = 6  # symmetric operands whose index orders are searched; beyond, the rest stay as they come


def _canonical_names(ops: list[Expr], ins: list[tuple], out: list) -> tuple[list, list, dict]:
    """The operands in canonical order and each label's canonical name: order of first
    appearance in the output, then the inputs.

    A symmetric variable reads alike with its last two indices swapped (S[i,j] = S[j,i]), so
    of the networks those swaps give, the one with the least canonical index lists is taken:
    S x and Sᵀ x become one term, and Sᵀ becomes S."""
    flips = [k for k, op in enumerate(ops) if op.ndim >= 2 and ins[k][-1] != ins[k][-2] and is_symmetric(op)]
    best = None
    for chosen in itertools.product((False, True), repeat=min(len(flips), _MOST_FLIPS)):
        variant = list(ins)
        for k, flip in zip(flips, chosen, strict=False):
            if flip:
                variant[k] = variant[k][:-2] + (variant[k][-1], variant[k][-2])
        ordered, variant = _canonical_order(ops, variant, out)
        canon: dict[Hashable, int] = {}
        for label in itertools.chain(out, *variant):
            canon.setdefault(label, len(canon))
        if not flips:
            return ordered, variant, canon
        key = tuple(tuple(canon[i] for i in idx) for idx in variant)
        if best is None or key < best[0]:
            best = (key, ordered, variant, canon)
    return best[1], best[2], best[3]


def _canonical_order(ops: list[Expr], ins: list[tuple], out: list) -> tuple[list, list]:
    """Order operands by a key blind to index names, so product-rule twins coincide."""

    def key(k: int):
        idx = ins[k]
        pattern = tuple(idx.index(i) for i in idx)  # repeated indices within the operand
        places = tuple(out.index(i) if i in out else -1 for i in idx)
        return (ops[k]._hash, pattern, places)

    order = sorted(range(len(ops)), key=key)
    return [ops[k] for k in order], [ins[k] for k in order]


def add(terms: Sequence[Expr], coeffs: Sequence[float], shape: tuple[int, ...]) -> Expr:
    """Build ``sum_k coeffs[k] * terms[k]``: nested sums flattened, zeros pruned, equal terms merged."""
    merged: dict[Expr, float] = {}
    stack = list(zip(terms, coeffs, strict=True))
    flat: list[tuple[Expr, float]] = []
    while stack:
        term, c = stack.pop(0)
        if term.shape != tuple(shape):
            raise ShapeError(f"cannot add a term of shape {term.shape} to a sum of shape {tuple(shape)}")
        if isinstance(term, Add):
            stack[0:0] = [(t, c * k) for t, k in zip(term.terms, term.coeffs, strict=True)]
        else:
            flat.append((term, c))
    for term, c in flat:
        merged[term] = merged.get(term, 0.0) + c
    kept = [(t, c) for t, c in merged.items() if c != 0.0 and not _zero_constant(t)]
    if len(kept) == 1 and kept[0][1] == 1.0:
        return kept[0][0]
    merged_terms = _merge_wheres(kept, tuple(shape))
    if merged_terms is None:
        merged_terms = _merge_vector_factors(kept)
    if merged_terms is not None:
        return add([t for t, _ in merged_terms], [c for _, c in merged_terms], shape)
    factored = _factor_common(kept, tuple(shape))
    if factored is not None:
        return factored
    return Add(tuple(t for t, _ in kept), tuple(c for _, c in kept), tuple(shape))


def distribute(e: Contract, k: int) -> Add:
    """``e`` as the sum over the terms of its operand ``k`` (a sum): Σ_t c_t e[operand k = t]."""
    inner = bare(e.operands[k])
    sizes = dict(enumerate(e.sizes))
    terms = []
    for t in inner.terms:
        ops = list(e.operands)
        ops[k] = t
        terms.append(contract(ops, e.inputs, e.output, sizes))
    return Add(tuple(terms), inner.coeffs, e.shape)


def _zero_constant(t: Expr) -> bool:
    """A constant that is all zeros (x > 0 is step(x - 0)): it adds nothing."""
    return isinstance(t, Const) and not t.value.any()


def _vector_sketches(t: Contract) -> dict[int, tuple]:
    """For each index j that vectors multiply, what a term must share with t to merge on j:
    the other factors (a fingerprint of their multiset) and the sizes."""
    # A sum of hashes is a multiset's fingerprint, so each index costs only its own vectors.
    total, on = sum(map(hash, t.operands)), {}
    for op, idx in zip(t.operands, t.inputs, strict=True):
        if len(idx) == 1:
            on[idx[0]] = on.get(idx[0], 0) + hash(op)
    return {j: ((total - on[j]) % 2**64, t.sizes[j], t.shape) for j in sorted(on)}


def _vector_splits(t: Contract, wanted: set[int]) -> list[tuple[Expr, int, list[Expr]]]:
    """For each index j of ``wanted`` that vectors multiply: (key, j, those vectors), where key
    is t with them replaced by one placeholder vector on j."""
    splits = []
    for j in sorted({idx[0] for idx in t.inputs if len(idx) == 1} & wanted):
        vec = [k for k, idx in enumerate(t.inputs) if idx == (j,)]
        # Vectors alone on j: merged they are one sum over j (Σ a + Σ b = Σ (a + b)) when j is
        # summed; on a free j they are the term itself, with nothing to share.
        if len(vec) == len(t.operands) and j in t.output:
            continue
        rest = [k for k in range(len(t.operands)) if k not in vec]
        ops = [t.operands[k] for k in rest] + [_slot(t.sizes[j])]
        ins = [t.inputs[k] for k in rest] + [(j,)]
        key = contract(ops, ins, t.output, dict(enumerate(t.sizes)))
        splits.append((key, j, [t.operands[k] for k in vec]))
    return splits


def _slot(n: int) -> Var:
    return Var("_einsdiff_slot", (n,))  # a name no user variable can take


def _merge_vector_factors(terms: list[tuple[Expr, float]]) -> list[tuple[Expr, float]] | None:
    """sum_t c_t P[.., j] V_t[j] = P[.., j] (sum_t c_t V_t[j]): terms that differ only in the
    vectors on one index j share the rest of their network, evaluated once (a Hessian-vector
    product's terms s and s² of a logistic's second derivative)."""
    # A cheap signature first (the other factors and the index's size): the network with a
    # placeholder is built only where another term could share it, not for every index of
    # every term (a deep chain's forward terms carry many vector indices).
    sketches: dict[tuple, set[int]] = {}
    for k, (t, _) in enumerate(terms):
        if isinstance(t, Contract):
            for sketch in _vector_sketches(t).values():
                sketches.setdefault(sketch, set()).add(k)
    shared = {sketch for sketch, ks in sketches.items() if len(ks) > 1}
    groups: dict[Expr, list[tuple[int, int, list[Expr]]]] = {}
    for k, (t, _) in enumerate(terms):
        if isinstance(t, Contract):
            wanted = {j for j, sketch in _vector_sketches(t).items() if sketch in shared}
            for key, j, vectors in _vector_splits(t, wanted):
                groups.setdefault(key, []).append((k, j, vectors))
    used: set[int] = set()
    merged: list[tuple[Expr, float]] = []
    for key, members in groups.items():
        members = [m for m in members if m[0] not in used]
        if len(members) < 2 or len({m[0] for m in members}) < len(members):
            continue
        used.update(m[0] for m in members)
        k, j, _ = members[0]
        n = terms[k][0].sizes[j]  # the key may have simplified into another node (a hoisted where)
        products = [contract(vs, [("j",)] * len(vs), ("j",), {"j": n}) for _, _, vs in members]
        combined = add(products, [terms[k][1] for k, _, _ in members], (n,))
        merged.append((substitute(key, {_slot(n): combined}), 1.0))
    if not merged:
        return None
    return [tc for k, tc in enumerate(terms) if k not in used] + merged


def _merge_wheres(terms: list[tuple[Expr, float]], shape: tuple[int, ...]) -> list[tuple[Expr, float]] | None:
    """sum_t c_t where(m, a_t, b_t) = where(m, sum_t c_t a_t, sum_t c_t b_t): one choice per mask,
    exact even where a branch that is not chosen is inf or nan; where(m, a, a) = a."""
    groups: dict[Expr, list[int]] = {}
    for k, (t, _) in enumerate(terms):
        if isinstance(t, Call) and t.fn == "where":
            groups.setdefault(t.args[0], []).append(k)
    merged = []
    for mask, members in groups.items():
        if len(members) > 1:
            a, b = (add([terms[k][0].args[side] for k in members], [terms[k][1] for k in members], shape)
                    for side in (1, 2))
            if a == b:  # both branches alike (or both 0): no choice left
                merged.append((a, 1.0))
            else:
                merged.append((Call("where", (mask, a, b), (), shape), 1.0))
    taken = {k for members in groups.values() if len(members) > 1 for k in members}
    if not taken:
        return None
    return [tc for k, tc in enumerate(terms) if k not in taken] + merged


def _spectators(t: Contract) -> list[tuple[Expr, tuple[int, ...]]]:
    """Operands all of whose indices are free: (operand, the output position of each of its axes)."""
    first = {i: p for p, i in reversed(list(enumerate(t.output)))}
    return [
        (op, tuple(first[i] for i in idx))
        for op, idx in zip(t.operands, t.inputs, strict=True)
        if all(i in first for i in idx)
    ]


def _without(t: Contract, spectator: tuple[Expr, tuple[int, ...]], keep: list[int]) -> Expr:
    """Term ``t`` with one occurrence of ``spectator`` removed, on the output positions ``keep``."""
    op, pattern = spectator
    first = {i: p for p, i in reversed(list(enumerate(t.output)))}
    k = next(k for k, (o, idx) in enumerate(zip(t.operands, t.inputs, strict=True))
             if o == op and all(i in first for i in idx) and tuple(first[i] for i in idx) == pattern)
    ops = t.operands[:k] + t.operands[k + 1:]
    ins = t.inputs[:k] + t.inputs[k + 1:]
    out = tuple(t.output[p] for p in keep)
    used = set(out).union(*ins)
    return contract(ops, ins, out, {i: n for i, n in enumerate(t.sizes) if i in used})


def _needed(t: Contract, position: int, pattern: tuple[int, ...]) -> bool:
    """Whether the rest of ``t`` (without the spectator) varies along output ``position``."""
    i = t.output[position]
    occurrences = sum(idx.count(i) for idx in t.inputs) - sum(1 for p in pattern if t.output[p] == i)
    return occurrences > 0 or t.output.count(i) > 1


def _factor_common(terms: list[tuple[Expr, float]], shape: tuple[int, ...]) -> Expr | None:
    """sum_t c_t O[free] R_t = O[free] sum_t c_t R_t: an operand whose indices are all free and
    that multiplies every term is taken out of the sum, and the sum shrinks to the axes the
    rests still vary along (a Hessian's X_ki X_kj s_k stays one product, not two dense terms)."""
    if len(terms) < 2 or not all(isinstance(t, Contract) for t, _ in terms):
        return None
    common = _spectators(terms[0][0])
    for t, _ in terms[1:]:
        theirs = _spectators(t)
        common = [s for s in common if s in theirs]
    if not common:
        return None
    spectator = common[0]
    _, pattern = spectator
    keep = [p for p in range(len(shape))
            if p not in pattern or any(_needed(t, p, pattern) for t, _ in terms)]
    rests = [_without(t, spectator, keep) for t, _ in terms]
    inner = add(rests, [c for _, c in terms], tuple(shape[p] for p in keep))
    labels = tuple(("p", p) for p in range(len(shape)))
    return contract(
        [spectator[0], inner],
        [tuple(labels[p] for p in pattern), tuple(labels[p] for p in keep)],
        labels,
        dict(zip(labels, shape, strict=True)),
    )


def substitute(expr: Expr, mapping: Mapping[Var, Expr]) -> Expr:
    """``expr`` with each variable in ``mapping`` replaced by its expression (same shape).

    >>> import einsdiff as ed
    >>> x, y = ed.var("x", (2,)), ed.var("y", (2,))
    >>> print(substitute(x * x, {x: y + 1}))
    f[i] = (y[i] + 1) (y[i] + 1)
    """

    if not isinstance(expr, Expr):
        raise OperandError(f"substitute needs an einsdiff expression, got {type(expr).__name__}")
    mapping = {v: as_expr(e, f"the value for {v!r}") for v, e in mapping.items()}
    for v, e in mapping.items():
        if not isinstance(v, Var):
            raise OperandError(f"substitute replaces variables made by ed.var, got the key {v!r}")
        if v.shape != e.shape:
            raise ShapeError(f"cannot substitute an expression of shape {e.shape} for {v.name!r} of shape {v.shape}")
    done: dict[Expr, Expr] = {}
    for node in topological([expr]):
        if isinstance(node, Var):
            new = mapping.get(node, node)
        elif isinstance(node, Contract):
            new = contract(
                [done[o] for o in node.operands], node.inputs, node.output, dict(enumerate(node.sizes))
            )
        elif isinstance(node, Map):
            new = apply(node.fn, done[node.arg], node.param)
        elif isinstance(node, Add):
            new = add([done[t] for t in node.terms], node.coeffs, node.shape)
        elif isinstance(node, Call):
            new = Call(node.fn, tuple(done[a] for a in node.args), node.param, node.shape)
        elif isinstance(node, Reshape):
            new = Reshape(done[node.arg], node.shape)
        elif isinstance(node, Materialize):
            new = Materialize(done[node.arg])
        else:
            new = node
        done[node] = new
    return done[expr]


def simplify(expr: Expr) -> Expr:
    """``expr`` rebuilt through the smart constructors (flattened, merged, factored).

    Expressions made by einsdiff are already simplified, so this is the identity on them.

    >>> import einsdiff as ed, numpy as np
    >>> x, y, A = ed.var("x", (3,)), ed.var("y", (3,)), ed.var("A", (2, 3))
    >>> print(ed.simplify(x + x - x))
    f[i] = x[i]
    """
    return substitute(expr, {})
