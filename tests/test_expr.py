"""The expression nodes as a user meets them in the REPL."""

import numpy as np

import einsdiff as ed


def test_repr_shows_the_formula_and_shape():
    A, x = ed.var("A", (2, 3)), ed.var("x", (3,))
    J = ed.jacobian(ed.tanh(A @ x), A)
    assert repr(J) == "<f[i,j,k] = δ[i,j] (1 - square(tanh(A[i,l] x[l]))) x[k]; j:2  shape (2, 2, 3)>"
    assert repr(ed.grad(x @ x, x)) == "<f[i] = 2 x[i]  shape (3,)>"
    assert repr(x) == "var('x', (3,))"
    assert repr([x @ x]) == "[<f = x[i] x[i]  shape ()>]"


def test_repr_of_a_deep_derivative_is_short_and_fast_to_make():
    x = ed.var("x", (3,))
    e = x
    for _ in range(12):
        e = ed.tanh(ed.einsum("ij,j->i", np.ones((3, 3)), e))
    text = repr(ed.hessian(e.sum(), x))
    assert len(text) < 450 and "characters; print() shows all)" in text and text.endswith("shape (3, 3)>")
    assert text.startswith("<t1[i] = tanh(")  # repeated subexpressions named, as share=True prints


def test_version():
    assert isinstance(ed.__version__, str) and ed.__version__.count(".") == 2
    assert "__version__" in ed.__all__
