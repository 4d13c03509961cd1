"""The function registry (einsdiff.ir.functions): one entry per function, complete and true.

The entries' notation is checked against what the printers print, their syntax against what
ed.parse reads, and the reverse rules derived by transposition against the hand-written ones
they replaced (structurally, so printed gradients and plans cannot change, and numerically).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import einsdiff as ed
from einsdiff.calculus.derive import transposed_vjp
from einsdiff.ir import matrix
from einsdiff.ir.expr import Call, Var
from einsdiff.ir.functions import CALLS, FUNCTIONS, Function, Notation, Syntax, extrema, gather, inv_node, softmax_of
from einsdiff.ir.functions.base import contract, matrix_labels, neg
from einsdiff.ir.functions.spectral import directional
from einsdiff.ir.ops import OPS, apply
from einsdiff.ir.simplify import add
from einsdiff.ir.variables import variables
from einsdiff.notation import parse

# -- the table is complete ---------------------------------------------------------------------


def test_every_node_function_and_every_builder_has_one_entry():
    assert set(OPS) == {n for n, f in FUNCTIONS.items() if f.kind == "elementwise"}
    assert set(CALLS) == {"inv", "det", "logdet", "logabsdet", "detsign", "solve", "logsumexp", "max", "min", "prod",
                          "where", "take", "put", "svdvals", "svd_u", "svd_vh", "svdgap", "svdinv", "pinv",
                          "expm", "sqrtm", "logm", "dexpm", "dsqrtm", "dlogm",
                          "cholesky", "tril_half", "eigvalsh", "eigvecs", "eiggap"}
    builders = {f.builder for f in FUNCTIONS.values()}
    for name in matrix.__all__:
        if name != "flatten":  # a helper of reshape and outer, not a function of formulas or of ed
            assert getattr(matrix, name) in builders, name
            assert getattr(ed, name) is getattr(matrix, name)
    assert ed.transpose in builders
    for name in set(OPS) - {"power", "step", "sign"}:  # ed.pow is build.power; step and sign are internal
        assert getattr(ed, name) is OPS[name].builder, name
    assert all(f.name == name and f.notation.name == name for name, f in FUNCTIONS.items())


def test_an_entry_missing_what_its_kind_needs_is_refused():
    with pytest.raises(ValueError, match="needs numpy, array, jvp, source"):
        Function("expm", "call", Notation("expm"))
    with pytest.raises(ValueError, match="kind must be one of"):
        Function("expm", "matrix", Notation("expm"))
    with pytest.raises(ValueError, match="form"):
        Syntax(("expm",), "prefix")


# -- syntax: what parse reads today, from the entries -------------------------------------------


def _syntax(form: str) -> dict[str, tuple[Function, Syntax]]:
    return {name: (f, f.syntax) for f in FUNCTIONS.values() if f.syntax and f.syntax.form == form
            for name in f.syntax.names}


def test_parse_reads_every_name_with_syntax_and_no_other():
    """parse keeps no table of its own: what a formula may call is each entry's syntax."""
    assert set(parse.FUNCTIONS) == {name for f in FUNCTIONS.values() if f.syntax for name in f.syntax.names}
    assert parse._SPELLINGS == {wrong: right for f in FUNCTIONS.values() if f.syntax for wrong, right in f.syntax.spellings}
    for name in ("WHOLE", "ALONG", "_PIECEWISE", "_REDUCING", "ELEMENTWISE"):
        assert not hasattr(parse, name)


@pytest.mark.parametrize("name", sorted(_syntax("piecewise")))
def test_piecewise_operands_are_what_parse_says_on_a_wrong_count(name):
    syntax = _syntax("piecewise")[name][1]
    with pytest.raises(ed.ParseError, match=re.escape(f"{name} takes {syntax.arity} arguments ({syntax.operands})")):
        ed.parse(f"{name}(x[i])", x=(3,))


def test_formulas_call_every_function_with_syntax():
    X = ed.var("X", (2, 2))
    values = {"X": np.array([[2.0, 0.3], [-0.4, 1.5]])}
    for f in FUNCTIONS.values():
        if f.syntax is None or f.syntax.form != "whole" or f.syntax.param:
            continue
        for name in f.syntax.names:
            args = ", ".join(["X"] * f.syntax.arity)
            want = f.syntax.builder(*[X] * f.syntax.arity)
            formula = f"{name}({args})" + (f"[{','.join('ijk'[:want.ndim])}]" if f.syntax.indexed else "")
            got = ed.parse(formula, X=(2, 2))
            np.testing.assert_allclose(ed.evaluate(got, values), ed.evaluate(want, values), err_msg=formula)


# -- notation: what the printers print today, from the entries -----------------------------------

_MATH = '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block"><mrow>{}</mrow></math>'


def _tokens(mathml: str) -> str:
    """The printer's bare brackets and commas between elements, as the MathML printer finishes them."""
    parts = re.split(r"(<[^>]*>)", mathml)
    out, depth = [], 0
    for part in parts:
        if part.startswith("<"):
            out.append(part)
            if re.match(r"<(mi|mn|mo|mtext)\b", part):
                depth += 1
            elif re.match(r"</(mi|mn|mo|mtext)>", part):
                depth -= 1
        elif depth:
            out.append(part)
        else:
            out.append("".join(f"<mo>{c}</mo>" for c in part if not c.isspace()))
    return "".join(out)


def _mi(name: str, indices: str = "") -> str:
    return f"<msub><mi>{name}</mi><mrow>{''.join(f'<mi>{i}</mi>' for i in indices)}</mrow></msub>" if indices \
        else f"<mi>{name}</mi>"


SUPERSCRIPT = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")


class _Arg:
    """An argument as the matrix renderer formats it: its text and how tightly it binds."""

    def __init__(self, text: str, binds: str = "name"):
        self.text, self.binds = text, binds

    def __format__(self, spec: str) -> str:
        bracket = {"name": self.binds != "name", "atom": self.binds != "name", "factor": self.binds == "sum"}.get(spec)
        return f"({self.text})" if bracket else self.text


@pytest.mark.parametrize("fn", sorted(OPS))
def test_elementwise_notation_is_what_the_printers_print(fn):
    note = OPS[fn].notation
    x, s = ed.var("x", (3,)), ed.var("s", ())
    e = apply(fn, x, 3.0 if fn == "power" else None)
    assert ed.to_index_notation(e) == "f[i] = " + note.text.format("x[i]", p="3")
    assert ed.to_latex(e) == "f_{i} = " + note.latex.format("x_{i}", p="3")
    assert ed.to_mathml(e) == _MATH.format(_mi("f", "i") + "<mo>=</mo>" + _tokens(
        note.mathml.format(_mi("x", "i"), p="<mn>3</mn>")))
    p = "3".translate(SUPERSCRIPT)
    assert ed.to_matrix_notation(e) == "f = " + note.matrix.format(_Arg("x"), p=p)
    assert ed.to_matrix_notation(apply(fn, x + x, 3.0 if fn == "power" else None)) == "f = " + note.matrix.format(
        _Arg("2 x", "product"), p=p)
    scalar = apply(fn, s, 3.0 if fn == "power" else None)
    assert ed.to_matrix_notation(scalar) == "f = " + (note.matrix_scalar or note.matrix).format(_Arg("s"), p=p)


X, A, B = ed.var("X", (3, 3)), ed.var("A", (3, 3)), ed.var("B", (3, 2))
CALL_CASES = {  # the node, its arguments' names, the indices of its result
    "inv": (ed.inv(X), "X", "ij"), "det": (ed.det(X), "X", ""), "logdet": (ed.logdet(X), "X", ""),
    "logabsdet": (ed.logdet(X, absolute=True), "X", ""), "detsign": (ed.slogdet(X)[0], "X", ""),
    "solve": (ed.solve(A, B), "AB", "ij"),
    "svdvals": (ed.svdvals(X), "X", "i"), "svd_u": (ed.svd(X)[0], "X", "ij"), "svd_vh": (ed.svd(X)[2], "X", "ij"),
    "svdgap": (FUNCTIONS["svdgap"].builder(X), "X", "ij"), "svdinv": (FUNCTIONS["svdinv"].builder(X), "X", "i"),
    "pinv": (ed.pinv(X), "X", "ij"),
    "expm": (ed.expm(X), "X", "ij"), "sqrtm": (ed.sqrtm(X), "X", "ij"), "logm": (ed.logm(X), "X", "ij"),
    "dexpm": (directional("expm", X, [A]), "XA", "ij"), "dsqrtm": (directional("sqrtm", X, [A, A]), "XAA", "ij"),
    "dlogm": (directional("logm", X, [A]), "XA", "ij"),
    "cholesky": (ed.cholesky(X), "X", "ij"), "tril_half": (FUNCTIONS["tril_half"].builder(X), "X", "ij"),
    "eigvalsh": (ed.eigvalsh(X), "X", "i"), "eigvecs": (ed.eigh(X)[1], "X", "ij"),
    "eiggap": (FUNCTIONS["eiggap"].builder(ed.var("w", (3,))), "w", "ij"),
}


@pytest.mark.parametrize("fn", sorted(CALL_CASES))
def test_call_notation_is_what_the_printers_print(fn):
    note, (e, args, out) = FUNCTIONS[fn].notation, CALL_CASES[fn]
    assert note.indexed
    text = note.text.format(*args)
    assert ed.to_index_notation(e) == f"f{'[' + ','.join(out) + ']' if out else ''} = {text}" + (
        f"[{','.join(out)}]" if out else "")
    latex = note.latex.format(*args)
    assert ed.to_latex(e) == (f"f_{{{out}}} = \\left({latex}\\right)_{{{out}}}" if out else f"f = {latex}")
    body = note.mathml.format(*(f"<mrow><mi>{a}</mi></mrow>" for a in args))
    lhs = _mi("f", out)
    rhs = f"<msub><mrow>({body})</mrow><mrow>{''.join(f'<mi>{i}</mi>' for i in out)}</mrow></msub>" if out \
        else f"<mrow>({body})</mrow>"
    assert ed.to_mathml(e) == _MATH.format(lhs + "<mo>=</mo>" + _tokens(rhs))
    if note.matrix:
        assert ed.to_matrix_notation(e) == "f = " + note.matrix.format(*map(_Arg, args))
        product, text = (A @ ed.var("X", (3,)), "A X") if e.args[0].ndim == 1 else (A @ X, "A X")  # eiggap's: a vector
        composite = FUNCTIONS[fn].builder(*([product] if len(args) == 1 else [product, B + B]))
        assert ed.to_matrix_notation(composite) == "f = " + note.matrix.format(
            _Arg(text, "product"), _Arg("2 B", "product"))
    else:
        with pytest.raises(ed.OptionError, match=f"{fn}"):
            ed.to_matrix_notation(e)


def test_piecewise_and_logsumexp_notation_is_what_the_printers_print():
    x, s = ed.var("x", (3,)), ed.var("s", ())
    mask = ed.to_index_notation(ed.where(x > 0, x, s)).split("where(")[1].split(",")[0]  # step(x[i])
    where = FUNCTIONS["where"].notation
    assert ed.to_index_notation(ed.where(x > 0, x, s)) == "f[i] = " + where.text.format(mask, "x[i]", "s")
    assert ed.to_latex(ed.where(x > 0, x, s)) == "f_{i} = " + where.latex.format(
        r"\operatorname{H}\left(x_{i}\right)", "x_{i}", "s")
    assert ed.to_mathml(ed.where(x > 0, x, s)) == _MATH.format(_mi("f", "i") + "<mo>=</mo>" + _tokens(where.mathml.format(
        OPS["step"].notation.mathml.format(_mi("x", "i")), _mi("x", "i"), "<mi>s</mi>")))
    for fn in ("maximum", "minimum"):
        note, e = FUNCTIONS[fn].notation, FUNCTIONS[fn].builder(x, s)
        assert ed.to_index_notation(e) == "f[i] = " + note.text.format("x[i]", "s")
        assert ed.to_latex(e) == "f_{i} = " + note.latex.format("x_{i}", "s")
        assert ed.to_mathml(e) == _MATH.format(_mi("f", "i") + "<mo>=</mo>" + _tokens(
            note.mathml.format(_mi("x", "i"), "<mi>s</mi>")))
    lse, Z = FUNCTIONS["logsumexp"].notation, ed.var("Z", (2, 3))
    assert ed.to_index_notation(ed.logsumexp(Z, 1)) == "f[i] = " + lse.text.format("Z[i,j]", r="j")
    assert ed.to_latex(ed.logsumexp(Z, 1)) == "f_{i} = " + lse.latex.format("Z_{ij}", r="j")
    assert ed.to_mathml(ed.logsumexp(Z, 1)) == _MATH.format(_mi("f", "i") + "<mo>=</mo>" + _tokens(
        lse.mathml.format(_mi("Z", "ij"), r="<mrow><mi>j</mi></mrow>")))
    assert ed.to_matrix_notation(ed.logsumexp(x)) == "f = " + lse.matrix.format("x")
    reshape = FUNCTIONS["reshape"].notation
    assert ed.to_index_notation(ed.reshape(X, (9,))) == "f[i] = " + reshape.text.format("X[j,k]", r="j,k", p="(9,)") + "[i]"
    assert ed.to_latex(ed.reshape(X, (9,))) == "f_{i} = \\left[" + reshape.latex.format(
        "X_{jk}", r="j,k", p="(9,)") + "\\right]_{i}"


def test_take_and_put_notation_is_what_the_printers_print():
    x = ed.var("x", (4,))
    for fn, e, key in (("take", x[1:], "1:"), ("put", np.concatenate([x, [1.0]]), ":4 of 5")):
        note = FUNCTIONS[fn].notation
        assert note.indexed and note.param(e.terms[0] if fn == "put" else e) == key
        if fn == "put":
            e = e.terms[0]
        assert ed.to_index_notation(e) == "f[i] = " + note.text.format("x", p=key) + "[i]"
        assert ed.to_latex(e) == "f_{i} = \\left(" + note.latex.format("x", p=key) + "\\right)_{i}"
        assert ed.to_mathml(e) == _MATH.format(_mi("f", "i") + "<mo>=</mo>" + _tokens(
            f"<msub><mrow>({note.mathml.format('<mrow><mi>x</mi></mrow>', p=key)})</mrow><mrow><mi>i</mi></mrow></msub>"))
        with pytest.raises(ed.OptionError, match=fn):
            ed.to_matrix_notation(e)


def test_composite_matrix_notation_is_what_the_matrix_form_prints():
    assert ed.to_matrix_notation(ed.trace(A @ X)) == "f = " + FUNCTIONS["trace"].notation.matrix.format("X A")
    transpose = FUNCTIONS["transpose"].notation.matrix
    assert ed.to_matrix_notation(ed.transpose(A)) == "f = " + transpose.format(_Arg("A"))
    assert ed.to_matrix_notation(ed.transpose(ed.tanh(A))) == "f = " + transpose.format(_Arg("tanh(A)", "atom"))
    for fn, arg in (("diag", ed.var("v", (3,))), ("diagonal", A)):
        assert ed.to_matrix_notation(FUNCTIONS[fn].builder(arg)) == "f = " + FUNCTIONS[fn].notation.matrix.format(arg.name)


@pytest.mark.parametrize("fn", sorted(CALLS))
def test_explain_writes_each_call_rule_from_its_entry(fn):
    note = FUNCTIONS[fn].notation
    x, M = ed.var("x", (3,)), ed.var("M", (3, 3))
    f = {"solve": lambda: ed.sum(ed.solve(M, x)), "logsumexp": lambda: ed.logsumexp(x),
         "where": lambda: ed.sum(ed.where(x > 0, x, 2 * x)), "take": lambda: ed.sum(x[1:] ** 2),
         "put": lambda: ed.sum(np.concatenate([x, x]) ** 2),
         **{d: (lambda d=d: ed.sum(FUNCTIONS[d].builder(M, M))) for d in ("dexpm", "dsqrtm", "dlogm")},
         }.get(fn, lambda: ed.sum(FUNCTIONS[fn].builder(M)))()
    wrt = x if fn in ("logsumexp", "where", "take", "put") else M
    assert f"{note.rule}: " in ed.explain(f, wrt) and f"({note.rule_text})" in ed.explain(f, wrt)
    assert note.rule_latex in ed.explain(f, wrt, latex=True)


# -- reverse rules derived from forward rules ---------------------------------------------------
# The hand-written reverse rules the derived ones replaced, kept as the reference.
def _inv_vjp(node, adj, lead):
    """df/dX[k,l] = -Y[i,k] df/dY[i,j] Y[l,j]."""
    b, _, t, sizes = matrix_labels(node.args[0], (), lead)
    return (neg(contract([adj, node, node], [t + b + ("i", "j"), b + ("i", "k"), b + ("l", "j")], t + b + ("k", "l"), sizes)),)


def _det_vjp(with_det: bool):
    def vjp(node, adj, lead):
        x = node.args[0]
        b, _, t, sizes = matrix_labels(x, (), lead)
        ops, ins = [adj, inv_node(x)], [t + b, b + ("l", "k")]
        if with_det:
            ops, ins = ops + [node], ins + [b]
        return (contract(ops, ins, t + b + ("k", "l"), sizes),)

    return vjp


def _weighted_vjp(weights):
    """df/dx = adj broadcast over the reduced axes, times the weights (ties' shares, cofactors)."""
    def vjp(node, adj, lead):
        x = node.args[0]
        every, t = tuple(("x", p) for p in range(x.ndim)), tuple(("t", p) for p in range(len(lead)))
        kept = tuple(lab for p, lab in enumerate(every) if p not in node.param)
        sizes = dict(zip(every + t, x.shape + tuple(lead), strict=True))
        return (contract([adj, weights(node)], [t + kept, every], t + every, sizes),)

    return vjp




def _spectral_vjp(node, adj, lead):
    """df/dA = Df(Aᵀ)[G] (sqrtm, logm: Df(A)[G], which reads symmetric parts), G's lead axes behind A's."""
    a = node.args[0]
    b, _, t, sizes = matrix_labels(a, (), lead)
    g = contract([adj], [t + b + ("i", "j")], b + ("i", "j") + t, sizes)
    if node.fn == "expm":
        a = contract([a], [b + ("i", "j")], b + ("j", "i"), sizes)
    return (contract([directional(node.fn, a, [g])], [b + ("k", "l") + t], t + b + ("k", "l"), sizes),)


HAND = {"inv": _inv_vjp, "det": _det_vjp(True), "logdet": _det_vjp(False), "logabsdet": _det_vjp(False),
        "detsign": lambda node, adj, lead: (None,), "logsumexp": _weighted_vjp(softmax_of),
        "max": _weighted_vjp(extrema.tie_weights), "min": _weighted_vjp(extrema.tie_weights),
        "prod": _weighted_vjp(extrema.cofactors), "expm": _spectral_vjp, "sqrtm": _spectral_vjp, "logm": _spectral_vjp}


def _nodes(batch: tuple[int, ...]):
    Y, b, z = ed.var("Y", batch + (3, 3)), ed.var("b", batch + (3, 2)), ed.var("z", batch + (4,))
    return {
        "inv": ed.inv(Y), "det": ed.det(Y), "logdet": ed.logdet(Y), "logabsdet": ed.logdet(Y, absolute=True),
        "detsign": ed.slogdet(Y)[0], "solve": ed.solve(Y, b), "where": ed.where(z > 0, z, ed.exp(z)),
        "logsumexp": ed.logsumexp(z, -1), "max": ed.max(z, -1), "min": ed.min(z, -1), "prod": ed.prod(z, -1),
        "take": gather.take(z, z.ndim - 1, (3, 0, 0)), "put": gather.put(z, z.ndim - 1, 6, (0, 2, 2, 5)),
        **{fn: FUNCTIONS[fn].builder(b) for fn in DERIVED_ONLY},
        "expm": ed.expm(Y), "sqrtm": ed.sqrtm(Y), "logm": ed.logm(Y), "dexpm": directional("expm", Y, [Y @ Y]),
        "dsqrtm": directional("sqrtm", Y, [ed.einsum("...ij,...k->...ijk", Y, z)]),
        "dlogm": directional("logm", Y, [Y, Y]),
        "cholesky": ed.cholesky(Y), "tril_half": FUNCTIONS["tril_half"].builder(Y), "eigvalsh": ed.eigvalsh(Y),
        "eigvecs": ed.eigh(Y)[1], "eiggap": FUNCTIONS["eiggap"].builder(z),
    }


DERIVED_ONLY = ("svdvals", "svd_u", "svd_vh", "svdgap", "svdinv", "pinv")  # no hand-written reference rule


def test_entries_without_a_reverse_rule_are_those_derived():
    assert {n for n, f in CALLS.items() if f.vjp is None} == set(HAND) | set(DERIVED_ONLY) | {"eigvalsh", "eiggap"}
    assert {n for n, f in CALLS.items() if f.vjp is not None} == {"solve", "where", "take", "put", "dexpm", "dsqrtm",
                                                                  "dlogm", "cholesky", "tril_half", "eigvecs"}


@pytest.mark.parametrize("batch", [(), (2,)])
@pytest.mark.parametrize("lead", [(), (2,)])
@pytest.mark.parametrize("fn", sorted(HAND))
def test_derived_reverse_rule_is_the_hand_written_one(fn, lead, batch):
    node = _nodes(batch)[fn]
    adj = Var("G", tuple(lead) + node.shape)
    assert transposed_vjp(node, adj, lead) == HAND[fn](node, adj, lead)


def _evaluate_shares(node, rule, lead, seed):
    rng = np.random.default_rng(seed)
    adj = Var("G", tuple(lead) + node.shape)
    values = {v.name: rng.standard_normal(v.shape) for v in sorted(variables(node), key=lambda v: v.name)}
    for name in values:
        if name == "Y":  # well conditioned, positive determinant
            values[name] = values[name] * 0.2 + 2 * np.eye(3)
    values["G"] = rng.standard_normal(adj.shape)
    return [None if s is None else ed.evaluate(s, values) for s in rule(node, adj, lead)]


@pytest.mark.parametrize("batch", [(), (2,)])
@pytest.mark.parametrize("fn", sorted(CALLS))
def test_derived_reverse_rule_agrees_numerically_with_the_entry_and_the_hand_written_one(fn, batch):
    node = _nodes(batch)[fn]
    for lead in ((), (2,)):
        derived = _evaluate_shares(node, transposed_vjp, lead, 5)
        for rule in filter(None, (CALLS[fn].vjp, HAND.get(fn))):
            want = _evaluate_shares(node, rule, lead, 5)
            assert len(derived) == len(want)
            for d, w in zip(derived, want, strict=True):
                if w is None:
                    assert d is None or not np.any(d)
                else:
                    np.testing.assert_allclose(d, w, rtol=1e-10, atol=1e-12)


GRADIENT_CASES = {  # printed gradients and plans hang on these; same Exprs means same text and flops
    "inv": lambda: (ed.trace(ed.inv(X) @ A), (X,)),
    "inv_composite": lambda: (ed.sum(ed.inv(X @ A)), (X, A)),
    "det": lambda: (ed.det(X @ A + B @ B.T), (X, A, B)),
    "logdet": lambda: (ed.sum(ed.logdet(ed.var("Y", (2, 3, 3)))), (ed.var("Y", (2, 3, 3)),)),
    "logabsdet": lambda: (ed.logdet(X @ A, absolute=True) * ed.slogdet(X)[0], (X, A)),
    "logsumexp": lambda: (ed.sum(ed.logsumexp(ed.var("Z", (2, 4)), 1) ** 2), (ed.var("Z", (2, 4)),)),
    "solve_of_inv": lambda: (ed.sum(ed.solve(X, ed.inv(A) @ B)), (X, A, B)),
    "det_of_transpose": lambda: (ed.det(A.T) * ed.logdet(X.T @ A), (X, A)),
}


@pytest.mark.parametrize("case", sorted(GRADIENT_CASES))
def test_gradients_with_derived_rules_are_those_of_the_hand_written_rules(case, monkeypatch):
    f, wrt = GRADIENT_CASES[case]()
    derived = [ed.jacobian(f, w, mode=mode) for w in wrt for mode in ("reverse", "forward")]
    for fn, rule in HAND.items():
        monkeypatch.setitem(FUNCTIONS, fn, dataclasses.replace(FUNCTIONS[fn], vjp=rule))
    hand = [ed.jacobian(f, w, mode=mode) for w in wrt for mode in ("reverse", "forward")]
    assert derived == hand
    assert [str(ed.compile([j]).plan) for j in derived] == [str(ed.compile([j]).plan) for j in hand]


def test_a_transposed_rule_is_built_once_per_function_and_shapes():
    from einsdiff.calculus.derive import _transposed

    Y = ed.var("Y", (5, 5))
    ed.grad(ed.logdet(Y), Y)
    before = _transposed.cache_info()
    g = ed.grad(ed.logdet(Y @ Y) + ed.logdet(Y.T), Y)
    after = _transposed.cache_info()
    assert after.hits == before.hits + 2 and after.misses == before.misses
    assert "inv(Y)[j,i]" in str(g)  # (Yᵀ)⁻¹ bound through inv_node: the transpose of the one inverse


def test_a_forward_rule_that_applies_its_own_function_to_the_tangent_needs_a_reverse_rule(monkeypatch):
    monkeypatch.setitem(FUNCTIONS, "solve", dataclasses.replace(FUNCTIONS["solve"], vjp=None))
    with pytest.raises(ValueError, match="give the registry entry 'solve' a vjp"):
        ed.grad(ed.sum(ed.solve(X, B)), B)


# -- a new function is one entry ------------------------------------------------------------------
def _gram_jvp(node, tangents, extra):
    """d(Xᵀ X) = dXᵀ X + Xᵀ dX."""
    (dx,) = tangents
    x = node.args[0]
    d = tuple(("d", p) for p in range(len(extra)))
    sizes = {"i": x.shape[0], "j": x.shape[1], "k": x.shape[1]} | dict(zip(d, extra, strict=True))
    return add([contract([dx, x], [("i", "j") + d, ("i", "k")], ("j", "k") + d, sizes),
                               contract([x, dx], [("i", "j"), ("i", "k") + d], ("j", "k") + d, sizes)],
                              [1.0, 1.0], node.shape + tuple(extra))


def test_a_new_whole_tensor_function_is_one_entry(monkeypatch):
    """XᵀX as a node of its own: value, forward rule and notation; its reverse rule is derived."""
    def build(x):
        return Call("gram", (x,), (), (x.shape[1], x.shape[1]))

    gram = Function(
        "gram", "call",
        Notation("gram", text="gram({0})", latex=r"{0}^\top {0}", mathml="<msup>{0}<mi>T</mi></msup>{0}",
                 matrix="{0:name}ᵀ {0:name}", matrix_binds="product", indexed=True, rule="Gram rule",
                 rule_text="d(XᵀX) = dXᵀ X + Xᵀ dX", rule_latex=r"d(X^\top X) = dX^\top X + X^\top dX"),
        Syntax(("gram",), "whole", 1, build, indexed=True, example="gram(X)[i,j] or gram[k,l](A[k,m] B[m,l])[i,j]"),
        builder=build, numpy=lambda node, a: a[0].T @ a[0], array=lambda xp, node, a: a[0].T @ a[0], jvp=_gram_jvp,
        source="{0}.T @ {0}",
    )
    monkeypatch.setitem(FUNCTIONS, "gram", gram)
    W = ed.var("W", (4, 3))
    C = ed.var("C", (3, 3))
    f = ed.sum(build(W) * C)
    values = {"W": np.random.default_rng(1).standard_normal((4, 3)), "C": np.random.default_rng(2).standard_normal((3, 3))}
    want = values["W"] @ (values["C"] + values["C"].T)
    for mode in ("reverse", "forward"):
        np.testing.assert_allclose(ed.evaluate(ed.grad(f, W, mode=mode), values), want, rtol=1e-12)
    assert gram.vjp is None and "gram(W)" in str(f)
    namespace = {"np": np}
    exec(ed.to_numpy_code(ed.grad(f, W)), namespace)
    np.testing.assert_allclose(namespace["f"](**values), want, rtol=1e-12)


def test_log_of_one_plus_exp_is_softplus_and_differentiates_to_sigmoid():
    """log(1 + exp(v)) as typed (any order, log1p too) is softplus(v): finite where exp overflows."""
    v = ed.var("v", (3,))
    for typed in (ed.log(1 + ed.exp(v)), ed.log(ed.exp(v) + 1), ed.log1p(ed.exp(v))):
        assert typed == ed.softplus(v)
    big = np.array([800.0, 0.0, -800.0])
    assert np.allclose(ed.evaluate(ed.log(1 + ed.exp(v)), v=big), [800.0, np.log(2), 0.0])
    assert str(ed.grad(ed.sum(ed.log(1 + ed.exp(v))), v)) == "f[i] = sigmoid(v[i])"
    assert ed.log(2 + ed.exp(v)) != ed.softplus(v) and ed.log(1 + ed.exp(2 * v)) == ed.softplus(2 * v)


def test_the_inverse_of_an_inverse_is_the_matrix():
    X = ed.var("X", (3, 3))
    assert ed.inv(ed.inv(X)) == X and ed.inv(ed.inv(X.T)) == X.T
    x = np.array([[3.0, 1, 0], [1, 4, 1], [0, 1, 5]])
    g = ed.evaluate(ed.grad(ed.det(ed.inv(X)), X), X=x)
    np.testing.assert_allclose(g, -np.linalg.det(np.linalg.inv(x)) * np.linalg.inv(x).T, rtol=1e-12)
