"""Contraction order: dp's flop-optimal plans where its search is small, bounded plans
where many operands share an index (no test here reads a clock: search work is counted)."""

import math
import subprocess
import sys

import numpy as np
import opt_einsum
import pytest
try:
    from opt_einsum.testing import rand_equation
except ImportError:  # opt_einsum < 3.4
    from opt_einsum.helpers import rand_equation

import einsdiff as ed
from einsdiff.engine import paths

# dp scores each pair of sub-networks it may join with this one function: its calls are
# dp's search work. The networks below cost old-style dp millions of them (seconds).
_WORK_CAP = 200_000


class SearchTooLong(Exception):
    pass


@pytest.fixture
def dp_calls(monkeypatch):
    """The number of pairs dp has scored so far; past _WORK_CAP the search is stopped."""
    calls = [0]
    compare = opt_einsum.paths._dp_compare_flops

    def counted(*args):
        calls[0] += 1
        if calls[0] > _WORK_CAP:
            raise SearchTooLong(f"dp scored more than {_WORK_CAP:,} pairs")
        return compare(*args)

    # dp (3.4 on) looks the function up through a cached parser of its `minimize` option.
    cached = getattr(opt_einsum.paths, "_parse_minimize", None)
    if cached is not None:
        cached.cache_clear()
    monkeypatch.setattr(opt_einsum.paths, "_dp_compare_flops", counted)
    yield calls
    if cached is not None:
        cached.cache_clear()


def _network(name, equation, **sizes):
    """(name, equation, shapes): each index of size 2 unless ``sizes`` says otherwise."""
    return name, equation, [tuple(sizes.get(i, 2) for i in term) for term in equation.split("->")[0].split(",")]


_SYMBOL = opt_einsum.get_symbol

# Networks where one summed index joins most operands: the 14-vector example of issue 13,
# and Hessian, hvp and hessian_diagonal networks of random 7-15-operation programs drawn from
# einsdiff.testing.expressions (the fuzzer's kind: 'a' is the batch index of a batched inverse;
# old-style dp took 3 s to minutes on each). (name, equation, shapes)
HUBS = [
    _network("14 vectors share i", ",".join(["i"] * 14) + "->"),
    _network("64 vectors share i", ",".join(["i"] * 64) + "->"),
    ("batched chain of 64", ",".join("a" + _SYMBOL(k + 1) + _SYMBOL(k + 2) for k in range(64)) + "->",
     [(4, 8, 8)] * 64),
    _network("hvp network", "abc,ade,afe,abg,,abe,,,,agh,afh,aci,adi,jkl,abejlk,j,j,,,,abe->", k=3, l=3),
    _network("hessian network", "abc,ade,afe,abg,a,a,abe,,,abe,b,,agh,afh,aci,adi->"),
    _network("hessian network, two hubs", "abc,ade,afg,ahi,a,a,,,afi,abe,a,a,f,b,,agj,ahj,ack,adk->"),
    _network("hvp network, three vectors", "abc,ade,afg,ahi,a,a,a,,,adc,afi,d,f,,aej,abj,agk,ahk->"),
]

# Networks dp plans today, in the benchmark tasks (T4 logistic Hessian, T7 MLP gradient,
# T8 deep Jacobian, T10 logsumexp Hessian) and in derivatives of random programs:
# their flop counts stay dp's.
SMALL = [
    ("T4", "ca,cb,c,c,c,c,c->ab", [(5000, 500), (5000, 500)] + [(5000,)] * 5),
    ("T7", "ca,cd,cb,bd->ab", [(1024, 256), (1024, 256), (1024, 256), (256, 256)]),
    ("T8", "cd,eb,c,fe,a,d,ag,e,g,df,f,gc->ab",
     [(512, 512), (512, 512), (512,), (512, 512), (512,), (512,), (512, 512), (512,), (512,), (512, 512),
      (512,), (512, 512)]),
    ("T10", "c,d,da,cb->ab", [(2000,), (2000,), (2000, 300), (2000, 300)]),
    ("chain of 20", ",".join(_SYMBOL(k) + _SYMBOL(k + 1) for k in range(20)) + "->" + _SYMBOL(0) + _SYMBOL(20),
     [(k % 5 + 2, (k + 1) % 5 + 2) for k in range(20)]),
    _network("hessian network", "abc,ade,abe,,agh,afh,abe,,,abe->"),
]


def _flops(equation, shapes, optimize):
    return int(opt_einsum.contract_path(equation, *shapes, shapes=True, optimize=optimize)[1].opt_cost)


@pytest.mark.parametrize("name, equation, shapes", HUBS, ids=[c[0] for c in HUBS])
def test_shared_indices_are_planned_with_bounded_search(name, equation, shapes, dp_calls):
    """Too many connected sub-networks for dp: its search is never run on the whole network,
    and the plan is at least as good as greedy's."""
    path, info = paths.contraction_path(equation, shapes)
    assert dp_calls[0] <= _WORK_CAP
    assert info.opt_cost <= _flops(equation, shapes, "greedy")
    assert paths.dp_search_size(*paths._split(equation)) > paths.DP_SEARCH_LIMIT


def test_fourteen_vectors_cost_thirteen_products(dp_calls):
    """The example of issue 13 evaluates, and its plan is dp's: products of the vectors."""
    x = ed.var("x", (2,))
    f = ed.einsum(",".join(["i"] * 14) + "->", *[ed.sin(x + float(k)) for k in range(14)])
    value = np.array([0.1, 0.2])
    want = sum(np.prod([np.sin(value[i] + k) for k in range(14)]) for i in range(2))
    np.testing.assert_allclose(ed.evaluate(f, x=value), want, rtol=1e-12)
    assert int(paths.contraction_path(",".join(["i"] * 14) + "->", [(2,)] * 14)[1].opt_cost) == 28


@pytest.mark.parametrize("name, equation, shapes", SMALL, ids=[c[0] for c in SMALL])
def test_small_searches_keep_dps_flops(name, equation, shapes):
    assert int(paths.contraction_path(equation, shapes)[1].opt_cost) == _flops(equation, shapes, "dp")


def test_search_size_counts_pairs_per_component():
    """A chain of n has n - m + 1 connected pieces of m; separate components add up;
    a scalar or an index kept in the output connects nothing."""
    assert paths.dp_search_size(["ab", "bc", "cd"], "ad") == 3 * 3 + 3 * 2
    assert paths.dp_search_size(["ab", "bc", "cd", "xy", "yz"], "adxz") == 15 + 2 * 2
    assert paths.dp_search_size(["ab", "", "bc", "", "cd"], "ad") == 15
    assert paths.dp_search_size(["ab", "bc", "cd"], "abcd") == 0
    # One index everywhere: every subset is connected, and joins every other.
    n = 12
    every = sum(math.comb(n, m) * math.comb(n, size - m) for size in range(2, n + 1) for m in range(1, size // 2 + 1))
    assert paths.dp_search_size(["i"] * n, "", limit=10**9) == every
    assert paths.DP_SEARCH_LIMIT < paths.dp_search_size(["i"] * n, "") < every  # stops soon past the limit


def test_held_open_takes_the_most_shared_indices_first():
    inputs = ["ab", "ac", "ad", "ae", "af", "ag", "ah", "ai", "aj", "ak", "al", "am", "an", "ao", "bc"]
    assert paths.held_open(inputs, "") == "a"
    assert paths.dp_search_size(inputs, "a") <= paths.DP_SEARCH_LIMIT
    batched = [_SYMBOL(k) + _SYMBOL(k + 1) + "z" for k in range(12)]  # a chain once z is held
    assert paths.dp_search_size(batched, "") > paths.DP_SEARCH_LIMIT
    assert paths.held_open(batched, "") == "z"
    # A dense random network would need most of its indices held open: greedy plans it alone.
    equation, shapes = rand_equation(64, 4, n_out=2, seed=0)
    assert paths.held_open(*paths._split(equation)) is None


_CHILD = """
import einsdiff.engine.paths as p
from test_paths import HUBS
print([p.contraction_path(eq, shapes)[0] for _, eq, shapes in HUBS])
"""


def test_plans_do_not_depend_on_hash_seeds(tmp_path):
    """Indices are ordered by first appearance, never by set iteration."""
    runs = []
    for seed in ("1", "2"):
        env = {"PYTHONHASHSEED": seed, "PYTHONPATH": ":".join(sys.path)}
        child = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env,
                               cwd=__file__.rsplit("/", 1)[0], timeout=120)
        assert child.returncode == 0, child.stderr
        runs.append(child.stdout)
    assert runs[0] == runs[1]


def test_plan_path_is_a_record_of_the_searched_order():
    """The order, its cost and the expression that runs it, by name: A B x over index numbers."""
    shapes = [(4, 5), (5, 6), (6,)]
    plan = paths.plan_path(((0, 1), (1, 2), (2,)), (0,), shapes)
    want_path, info = paths.contraction_path("ab,bc,c->a", shapes)
    assert plan.equation == "ab,bc,c->a" and list(plan.path) == [tuple(step) for step in want_path]
    assert (plan.flops, plan.largest_intermediate) == (int(info.opt_cost), int(info.largest_intermediate))
    arrays = [np.arange(float(np.prod(s))).reshape(s) for s in shapes]
    np.testing.assert_allclose(plan.expression(*arrays), arrays[0] @ arrays[1] @ arrays[2])
