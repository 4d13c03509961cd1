"""Matrix notation out and back in (issue 15): what ed.to_matrix_notation prints, ed.parse reads
back (notation="matrix") as an expression of the same value and the same derivatives."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.ir.variables import variables

SHAPES = dict(s=(), t=(), x=(3,), y=(3,), z=(4,), A=(4, 3), S=(3, 3), X=(3, 3))
V = {name: ed.var(name, shape) for name, shape in SHAPES.items()}


def _values():
    rng = np.random.default_rng(11)
    values = {name: rng.normal(size=shape) for name, shape in SHAPES.items()}
    values["X"] = values["X"] / 4 + np.eye(3)  # well-conditioned, det > 0: inv, det and logdet are tame
    values["s"], values["t"] = np.float64(0.7), np.float64(-1.3)
    return values


VALUES = _values()


def _close(got, want):
    want = np.asarray(want, dtype=float)
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    np.testing.assert_allclose(np.broadcast_to(got, want.shape), want, rtol=1e-9, atol=1e-9 * scale)


def read_back(expr):
    """``expr`` printed in matrix notation and read back: the text (without ``f = ``) and the expression."""
    text = ed.to_matrix_notation(expr).removeprefix("f = ")
    return text, ed.parse(text, notation="matrix", **{v.name: v for v in variables(expr)})


# -- a fixed list: the derivatives, as printed ------------------------------------------------

x, y, z, A, S, X, s = (V[n] for n in "xyzASXs")
DERIVATIVES = {
    "x'Ax": (S @ x) @ x,
    "‖Ax − y‖²": ed.sum((A @ x - z) ** 2),
    "‖Ax − y‖": ed.norm(A @ x - z),
    "½‖x‖²": 0.5 * ed.norm(x) ** 2,
    "tr(X'AX)": ed.trace(X.T @ S @ X),
    "log det X": ed.logdet(X),
    "det X": ed.det(X),
    "x' X⁻¹ y": x @ ed.inv(X) @ y,
    "sum(tanh(Ax))": ed.sum(ed.tanh(A @ x)),
    "x'x / 3": x @ x / 3,
    "logistic": ed.sum(ed.softplus(-z * (A @ x))),
    "‖X‖_F": ed.norm(X, "fro"),
    "norm1": ed.norm(x, 1),
}


@pytest.mark.parametrize("case", sorted(DERIVATIVES))
def test_printed_derivatives_read_back(case):
    f = DERIVATIVES[case]
    for v in sorted(variables(f), key=lambda v: v.name):
        g = ed.grad(f, v)
        text, again = read_back(g)
        assert again.shape == g.shape, text
        _close(ed.evaluate(again, VALUES), ed.evaluate(g, VALUES))
    text, again = read_back(f)
    _close(ed.evaluate(again, VALUES), ed.evaluate(f, VALUES))


# -- a property: random expressions over vectors, matrices and scalars ------------------------------

NUMBERS = st.sampled_from([2.0, 0.5, -1.0, 2 / 3, 1 / 7, 0.1, 3.0])


@st.composite
def _scalar(draw, depth):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from([s, V["t"], x @ y, z @ A @ x, ed.trace(S), ed.sum(x)]))
    kind = draw(st.integers(0, 11))
    if kind == 0:
        return draw(_vector(depth - 1, 3)) @ draw(_vector(depth - 1, 3))
    if kind == 1:
        return ed.trace(draw(_square(depth - 1)))
    if kind == 2:
        return ed.det(X) if draw(st.booleans()) else ed.logdet(X)
    if kind == 3:
        return ed.sum(draw(_vector(depth - 1, 3)))
    if kind == 4:
        return ed.norm(draw(_vector(depth - 1, draw(st.sampled_from([3, 4])))) + 0.5)  # + 0.5: away from 0
    if kind == 5:
        return ed.norm(draw(_vector(depth - 1, 3)), 1)
    if kind == 6:
        return ed.norm(draw(_square(depth - 1)), "fro")
    if kind == 7:
        return draw(NUMBERS) * draw(_scalar(depth - 1))
    if kind == 8:
        return draw(_scalar(depth - 1)) + draw(_scalar(depth - 1))
    if kind == 9:
        return ed.tanh(draw(_scalar(depth - 1)))
    if kind == 10:  # of a leaf: the matrix form still writes (s²)² as s²², which reads as s to the 22nd
        return draw(st.sampled_from([s, x @ y, ed.trace(S)])) ** 2
    return z @ A @ draw(_vector(depth - 1, 3))


@st.composite
def _vector(draw, depth, n=3):
    if n == 4:
        if depth == 0 or draw(st.booleans()):
            return z
        kind = draw(st.integers(0, 2))
        if kind == 0:
            return A @ draw(_vector(depth - 1, 3))
        if kind == 1:
            return ed.tanh(draw(_vector(depth - 1, 4)))
        return draw(_vector(depth - 1, 4)) - z
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from([x, y]))
    kind = draw(st.integers(0, 10))
    if kind == 0:
        return draw(_square(depth - 1)) @ draw(_vector(depth - 1))
    if kind == 1:
        return A.T @ draw(_vector(depth - 1, 4))
    if kind == 2:
        return draw(_vector(depth - 1)) + draw(_vector(depth - 1))
    if kind == 3:
        return draw(_vector(depth - 1)) - draw(_vector(depth - 1))
    if kind == 4:
        return draw(_scalar(depth - 1)) * draw(_vector(depth - 1))
    if kind == 5:
        return draw(_vector(depth - 1)) * draw(_vector(depth - 1))  # u ⊙ v
    if kind == 6:
        return draw(st.sampled_from([ed.tanh, ed.sin, ed.exp, ed.sigmoid]))(draw(_vector(depth - 1)))
    if kind == 7:
        return draw(_vector(depth - 1)) / s
    if kind == 8:
        return draw(_vector(depth - 1)) ** 2
    if kind == 9:
        return ed.inv(X) @ draw(_vector(depth - 1))
    return draw(NUMBERS) * draw(_vector(depth - 1))


@st.composite
def _square(draw, depth):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from([S, X, S.T]))
    kind = draw(st.integers(0, 8))
    if kind == 0:
        return draw(_square(depth - 1)) @ draw(_square(depth - 1))
    if kind == 1:
        return draw(_square(depth - 1)) + draw(_square(depth - 1))
    if kind == 2:
        return draw(_square(depth - 1)).T
    if kind == 3:
        return draw(_scalar(depth - 1)) * draw(_square(depth - 1))
    if kind == 4:
        return ed.inv(X)
    if kind == 5:
        return A.T @ A
    if kind == 6:
        return ed.einsum("i,j->ij", draw(_vector(depth - 1)), draw(_vector(depth - 1)))  # u vᵀ
    if kind == 7:
        return ed.tanh(draw(_square(depth - 1)))
    return draw(_square(depth - 1)) - draw(NUMBERS) * S


@st.composite
def _expressions(draw):
    kind = draw(st.sampled_from(["scalar", "vector", "square"]))
    strategy = {"scalar": _scalar, "vector": _vector, "square": _square}[kind]
    return draw(strategy(3))


@settings(max_examples=100, derandomize=True, deadline=None)
@given(_expressions(), st.data())
def test_matrix_notation_reads_back_as_what_it_printed(expr, data):
    """parse ∘ print is the identity on values, and on the derivatives by one variable; a scalar's
    printed gradient reads back too."""
    assume(variables(expr))  # x - x is 0
    try:
        text, again = read_back(expr)
    except ed.OptionError:  # no matrix form (say, an index shared by three factors)
        assume(False)
    assert again.shape == expr.shape or text == "0", text  # a zero of any shape prints 0
    _close(ed.evaluate(again, VALUES), ed.evaluate(expr, VALUES))
    wrt = data.draw(st.sampled_from(sorted(variables(expr), key=lambda v: v.name)))
    _close(ed.evaluate(ed.jacobian(again, wrt), VALUES), ed.evaluate(ed.jacobian(expr, wrt), VALUES))
    if expr.ndim == 0:
        g = ed.grad(expr, wrt)
        try:
            text, again = read_back(g)
        except ed.OptionError:
            return
        except ed.ParseError as err:  # 𝟙 or I alone: the printed text does not say its size
            assert "has no size here" in str(err), text
            return
        _close(ed.evaluate(again, VALUES), ed.evaluate(g, VALUES))


# -- reductions by max, min and product (issue 16) ------------------------------------------------------

REDUCTIONS = {
    "max(A x)": ed.max(A @ x),
    "min(x) + max(y)": ed.min(x) + ed.max(y),
    "prod(x)": ed.prod(x),
    "prod(tanh(A x)) · s": ed.prod(ed.tanh(A @ x)) * s,
    "max(X) − min(S)": ed.max(X) - ed.min(S),
}


@pytest.mark.parametrize("case", sorted(REDUCTIONS))
def test_printed_reductions_and_their_gradients_read_back(case):
    f = REDUCTIONS[case]
    text, again = read_back(f)
    assert text.startswith(("max(", "min(", "prod(")), text
    _close(ed.evaluate(again, VALUES), ed.evaluate(f, VALUES))
    for v in sorted(variables(f), key=lambda v: v.name):
        g = ed.grad(f, v)
        _close(ed.evaluate(ed.grad(again, v), VALUES), ed.evaluate(g, VALUES))
        try:
            text, g_again = read_back(g)
        except ed.OptionError:  # a gradient the matrix form cannot write (prod's cofactors)
            continue
        _close(ed.evaluate(g_again, VALUES), ed.evaluate(g, VALUES))
