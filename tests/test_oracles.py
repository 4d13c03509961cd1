"""The oracles (einsdiff.testing.oracles): finite differences, the brute-force loop evaluator
and check_jacobian, which must catch a wrong derivative in any mode and at any order."""

import subprocess
import sys

import numpy as np
import pytest
from test_derive import AT, CASES

import einsdiff as ed
from einsdiff.ir.ops import OPS
from einsdiff.testing import (
    brute_force_value,
    check_jacobian,
    finite_difference_jacobian,
    finite_difference_margin,
    kink_distance,
)
from einsdiff.testing import oracles

x, y = ed.var("x", (3,)), ed.var("y", (2,))
B = {"x": np.array([0.3, -1.2, 2.0]), "y": np.array([0.5, -0.4])}


def test_the_brute_force_oracle_knows_every_elementwise_function():
    assert set(OPS) - {"power"} <= set(oracles._SCALAR)  # power takes its exponent from the node


@pytest.mark.parametrize("name", CASES)
def test_the_brute_force_value_is_einsdiffs(name):
    """Loops over every index assignment, with the functions written independently of einsdiff's
    table; test_derive's cases hold every node type and every function of FUNCTIONS."""
    f = CASES[name]
    np.testing.assert_allclose(brute_force_value(f, AT), ed.evaluate(f, AT), rtol=1e-12, atol=1e-14)


def test_finite_differences_step_relative_to_the_value():
    big = {"x": np.array([1e6, -2.0, 0.5])}
    np.testing.assert_allclose(finite_difference_jacobian(x * x, x, big), np.diag(2 * big["x"]), rtol=1e-6)
    assert finite_difference_jacobian((x * x).sum(), x, B).shape == (3,)


@pytest.mark.parametrize("f, at, margin", [
    (ed.relu(x - 1.0), np.array([1.2, 3.0, -2.0]), 0.2),  # a kink
    (ed.log(x), np.array([0.05, 1.0, 2.0]), 0.05),  # a domain edge
    (ed.sqrt(x) + 1 / x, np.array([0.5, -0.1, 2.0]), -0.1),  # outside sqrt's domain: negative
    (ed.tanh(x), np.array([0.0, 0.0, 0.0]), np.inf),  # smooth everywhere
])
def test_the_margin_is_the_distance_to_the_nearest_kink_pole_or_edge(f, at, margin):
    with np.errstate(invalid="ignore"):
        assert finite_difference_margin(f, {"x": at}) == pytest.approx(margin)
    assert kink_distance(ed.abs(x) * ed.log(x), {"x": at}) == pytest.approx(np.min(np.abs(at)))


def test_check_jacobian_checks_every_mode_and_order():
    f = ed.tanh(ed.einsum("i,j->ij", x, y)).sum() + ed.logsumexp(x)
    check_jacobian(f, (x, y), B, order=2)
    check_jacobian(ed.exp(x) * x, x, B, modes=("reverse",))
    with pytest.raises(ed.OptionError, match="order 1 or 2, got order=3"):
        check_jacobian(f, x, B, order=3)
    with pytest.raises(ed.OptionError, match="mode must be one of"):
        check_jacobian(f, x, B, modes=("fwd",))


def _wrong_in(monkeypatch, mode=None, second=False):
    """Make oracles.jacobian off by 1% in ``mode`` (every mode if None); with ``second``, only
    a derivative of a derivative is wrong."""
    right = oracles.jacobian
    firsts = []

    def jacobian(f, wrt, how):
        d = right(f, wrt, how)
        firsts.append(d)
        wrong = (mode in (None, how)) and (not second or any(f is g for g in firsts[:-1]))
        return d * 1.01 if wrong else d

    monkeypatch.setattr(oracles, "jacobian", jacobian)


def test_check_jacobian_catches_a_wrong_jacobian_in_the_mode_that_has_it(monkeypatch):
    f = ed.sin(x) * x.sum()
    _wrong_in(monkeypatch, "forward")
    check_jacobian(f, x, B, modes=("reverse",))
    with pytest.raises(AssertionError, match=r"the jacobian of .* \(forward mode\) with respect to x disagrees "
                                             r"with finite differences: max error"):
        check_jacobian(f, x, B)


def test_check_jacobian_catches_a_wrong_second_derivative_at_order_2(monkeypatch):
    f = ed.sin(x).sum() * ed.exp(y).sum()
    _wrong_in(monkeypatch, second=True)
    check_jacobian(f, (x, y), B)  # the first derivatives are right
    with pytest.raises(AssertionError, match=r"the second derivative of .* by x and x \(forward mode\) "
                                             r"with respect to x disagrees"):
        check_jacobian(f, (x, y), B, order=2)


def test_the_oracles_need_no_hypothesis():
    code = """
import sys
sys.modules["hypothesis"] = None  # as if not installed
import numpy as np, einsdiff as ed
from einsdiff.testing import bindings_for, check_jacobian, expressions
x = ed.var("x", (2,))
check_jacobian(ed.tanh(x), x, bindings_for((x,), 0), order=2)
try:
    expressions()
except ImportError:
    print("strategies need hypothesis")
"""
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0 and ran.stdout == "strategies need hypothesis\n", ran.stderr
