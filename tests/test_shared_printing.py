"""share=True: a subexpression the written-out formula would repeat is defined once, as a
tensor of its own, and every line reads back with ed.parse."""

import functools
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import einsdiff as ed
from einsdiff.notation import printing
from einsdiff.notation.printing import shared
from einsdiff.testing import bindings_for, expressions
from einsdiff.ir.variables import variables
from test_parse import _constants_as_variables

A, x = ed.var("A", (3, 3)), ed.var("x", (3,))


def deep(depth: int) -> ed.Expr:
    """Σ tanh(A tanh(A ... tanh(A x))): the written-out Hessian grows much faster than depth."""
    h = x
    for _ in range(depth):
        h = ed.tanh(A @ h)
    return ed.sum(h)


def read_back(text: str, values: dict) -> np.ndarray:
    """Parse and evaluate the lines in order, each defined tensor a variable of the next."""
    values = dict(values)
    for line in text.splitlines():
        name = line.split("[")[0].split(" =")[0]
        e = ed.parse(line, **{n: np.shape(v) for n, v in values.items()})
        values[name] = ed.evaluate(e, **{v.name: values[v.name] for v in variables(e)})
    return values[name]


def test_a_deep_hessian_is_short_when_shared():
    H = ed.hessian(deep(9), A)
    plain, short = ed.to_index_notation(H), ed.to_index_notation(H, share=True)
    assert len(plain) > 100_000 and len(short) < 3_000
    lines = short.splitlines()
    assert len(lines) == len(shared(H)) + 1
    assert lines[0] == "t1[i] = tanh(A[i,j] x[j])" and lines[1] == "t2[i] = 1 - square(t1[i])"
    for k in range(1, len(lines)):  # every definition is used by a later line
        assert any(f"t{k}[" in later for later in lines[k:]), f"t{k} is never used"
    values = bindings_for((A, x), seed=3)
    np.testing.assert_allclose(read_back(short, values), ed.evaluate(H, **values), rtol=1e-12, atol=1e-12)


def test_nothing_repeated_means_one_line():
    f = ed.tanh(A @ x)
    assert ed.to_index_notation(f, share=True) == ed.to_index_notation(f) == "f[i] = tanh(A[i,j] x[j])"
    assert shared(f) == {}


def test_names_avoid_the_variables_and_latex_aligns():
    t1 = ed.var("t1", (3,))
    g = ed.grad(ed.sum(ed.tanh(ed.tanh(A @ t1))), t1)
    assert ed.to_index_notation(g, share=True).splitlines()[0] == "u1[i] = tanh(A[i,j] t1[j])"
    latex = ed.to_latex(g, share=True)
    assert latex.startswith("\\begin{aligned}\n\\mathrm{u1}_{i} &= \\tanh") and latex.endswith("\\end{aligned}")
    with pytest.raises(ed.OperandError, match="share='yes'"):
        ed.to_index_notation(g, share="yes")


def check_read_back(e, values):
    text = ed.to_index_notation(e, share=True)
    note(text)
    want = ed.evaluate(e, **values)
    got = read_back(text, values)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * (1 + np.abs(want).max(initial=0)))


# Random expressions rarely repeat a subexpression of four nodes; naming every repeated
# one (min_size=1) puts a name in nearly every example.
every_repeat = mock.patch.object(printing, "shared", functools.partial(shared, min_size=1))


@settings(max_examples=150)
@given(expressions(max_depth=4), st.integers(0, 2**32 - 1))
def test_shared_lines_read_back_to_the_same_values(expr, seed):
    vs = variables(expr)
    values = bindings_for(vs, seed)
    scalar = expr if expr.ndim == 0 else ed.sum(expr)
    targets = [expr, *(ed.jacobian(expr, v) for v in vs), *(ed.hessian(scalar, v) for v in vs[:1])]  # Hessians share most
    with every_repeat:
        for e in targets:
            check_read_back(e, values)


@settings(max_examples=80)
@given(expressions(max_depth=3, functions=True), st.integers(0, 2**32 - 1))
def test_shared_functions_of_whole_tensors_read_back(drawn, seed):
    expr, constants = _constants_as_variables(drawn)
    values = bindings_for(variables(drawn), seed) | constants
    with every_repeat:
        for e in (expr, *(ed.jacobian(expr, v) for v in variables(drawn))):
            check_read_back(e, values)
