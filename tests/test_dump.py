"""The IR dump (einsdiff.testing.dump): what a failing test shows when the printer cannot."""

import einsdiff as ed
from einsdiff.ir.expr import Expr
from einsdiff.testing import describe


def test_describe_is_the_printed_text():
    f = ed.tanh(ed.var("x", (2,))) * 2
    assert describe(f) == str(f)


def test_describe_falls_back_to_the_ir_as_nested_calls(monkeypatch):
    x, A = ed.var("x", (2,)), ed.var("A", (2, 2))
    f = ed.logdet(A) + ed.einsum("ij,j->i", A, ed.tanh(x)).sum()

    def broken(self):
        raise RuntimeError("a printer bug")

    monkeypatch.setattr(Expr, "__str__", broken)
    text = describe(f)  # e.g. (1.0*logdet(A) + 1.0*einsum('a,ba->' [a:2,b:2], tanh(x), A))
    assert text.startswith("(1.0*logdet(A) + 1.0*einsum('") and "[a:2,b:2]" in text and "tanh(x)" in text
