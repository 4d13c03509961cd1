"""Compile-time passes by name: ``ed.compile(outputs, passes=...)`` switches them, and
``to_numpy_code`` prints the program the same passes make."""

import numpy as np
import pytest

import einsdiff as ed
from einsdiff.engine.passes import ALL, PASSES, check_passes
from einsdiff.engine.program import WeightedSum
from einsdiff.ir.expr import Add, Call

rng = np.random.default_rng(5)


def _solve_and_inverse():
    S, C = ed.var("S", (5, 5)), ed.var("C", (5, 5))
    return ed.grad(ed.logdet(S) + ed.trace(ed.solve(S, C)), S), dict(S=rng.normal(size=(5, 5)) + 5 * np.eye(5),
                                                                      C=rng.normal(size=(5, 5)))


def _calls(f) -> list[str]:
    return sorted(n.fn for n in f.nodes if isinstance(n, Call))


def test_every_pass_is_on_by_default_and_named_once():
    assert ALL == ("one_sweep", "reuse_inverses", "distribute_sums", "gram", "twins")
    assert len({p.name for p in PASSES}) == len(PASSES)
    assert ed.compile(ed.var("x", (2,))).program.passes == ALL


def test_reuse_inverses_can_be_switched_off():
    g, b = _solve_and_inverse()
    assert _calls(ed.compile(g)) == ["inv"]
    without = ed.compile(g, passes=[p for p in ALL if p != "reuse_inverses"])
    assert _calls(without) == ["inv", "solve"]
    np.testing.assert_allclose(without(b)[0], ed.compile(g)(b)[0], rtol=1e-12)


def test_distribute_sums_can_be_switched_off():
    A, x = ed.var("A", (800, 80)), ed.var("x", (80,))
    H = ed.hessian(ed.logsumexp(A @ x), x)
    dense_difference = [n for n in ed.compile(H, passes=()).nodes if isinstance(n, Add) and n.shape == (80, 800)]
    assert dense_difference  # A − 𝟙 pᵀA, as written
    assert not [n for n in ed.compile(H).nodes if isinstance(n, Add) and n.shape == (80, 800)]


def test_symmetric_forms_can_be_switched_off():
    X, w = ed.var("X", (600, 80)), ed.var("w", (80,))
    H = ed.hessian(ed.sum(ed.softplus(X @ w)), w)
    assert [c.form for c in ed.compile(H).plan.contractions].count("gram") == 1
    assert [c.form for c in ed.compile(H, passes=("twins",)).plan.contractions].count("gram") == 0
    assert "_gram(" not in ed.to_numpy_code(H, passes=("twins",))
    A, B, x = ed.var("A", (6, 4)), ed.var("B", (6, 4)), ed.var("x", (4,))
    twins = ed.hessian(ed.sum((A @ x) * (B @ x)), x)
    sums = [s.plan for s in ed.compile(twins, passes=("gram",)).steps if isinstance(s.plan, WeightedSum)]
    assert len(ed.compile(twins, passes=("gram",)).plan.contractions) == 2 and not sums[0].twins
    assert len(ed.compile(twins).plan.contractions) == 1


def test_generated_code_follows_the_passes():
    g, b = _solve_and_inverse()
    assert "np.linalg.solve" not in ed.to_numpy_code(g)
    assert "np.linalg.solve" in ed.to_numpy_code(g, passes=())


@pytest.mark.parametrize("passes, named", [(["gram", "syrk"], "'syrk'"), (("fast",), "'fast'"), ("gram", "'gram'")])
def test_unknown_passes_are_refused_by_name(passes, named):
    x = ed.var("x", (3,))
    with pytest.raises(ed.OptionError, match=named) as err:
        ed.compile(x @ x, passes=passes)
    for name in ALL:
        assert name in str(err.value)


def test_passes_are_keyword_only_and_in_order():
    x = ed.var("x", (3,))
    with pytest.raises(TypeError):
        ed.compile([x], "numpy", None, ())
    assert check_passes(["twins", "reuse_inverses"]) == ("reuse_inverses", "twins")
    assert check_passes(None) == ALL
