"""Planning time of one contraction network, and the flops of the plans chosen.

Rows of the first table are networks where one summed index joins many operands:
issue 13's 14 vectors summed over one index (and 64 of them), two other networks of 64
operands (a batched chain of matrices, opt_einsum's random regular network), and Hessian,
hvp and hessian_diagonal networks of random 7-15-operation programs drawn from
``einsdiff.testing.expressions`` (index ``a`` is the batch index of a batched inverse).
Each is planned by einsdiff's planner, by the rule it replaces (opt_einsum's dp up to 24
operands, greedy beyond), and by opt_einsum's 'auto' and 'auto-hq'; a search that runs
past ``--cap`` seconds is stopped. Times are the best of three (one run for the slow ones).

The second table plans every network of the eleven benchmark tasks (benchmarks/tasks.py,
compiled as ``benchmarks/run.py`` compiles them) under the old rule and the new, and
compares their flop counts.

``--corpus N`` adds a sweep over the networks of N derandomized hypothesis draws (programs
of 7-15 operations, depth 5 and 6): the new planner's slowest time, and its flops against
dp's wherever dp finishes within a second.

    PYTHONPATH=. python benchmarks/planning.py [--cap 20] [--corpus 300]
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time

import numpy as np
import opt_einsum
try:
    from opt_einsum.testing import rand_equation
except ImportError:  # opt_einsum < 3.4
    from opt_einsum.helpers import rand_equation

from einsdiff.engine import paths

symbol = opt_einsum.get_symbol


def network(equation, **sizes):
    """(equation, shapes) with every index of size 2 unless ``sizes`` says otherwise."""
    inputs = equation.split("->")[0].split(",")
    return equation, [tuple(sizes.get(i, 2) for i in term) for term in inputs]


CASES = {
    "12 vectors share i (issue 13)": network(",".join(["i"] * 12) + "->"),
    "13 vectors share i (issue 13)": network(",".join(["i"] * 13) + "->"),
    "14 vectors share i (issue 13)": network(",".join(["i"] * 14) + "->"),
    "64 vectors share i": network(",".join(["i"] * 64) + "->"),
    "batched chain of 64 matrices": (",".join("a" + symbol(k + 1) + symbol(k + 2) for k in range(64)) + "->",
                                     [(4, 8, 8)] * 64),
    "random, 64 operands (opt_einsum rand_equation)": rand_equation(64, 4, n_out=2, seed=0),
    "hvp, 21 operands": network("abc,ade,afe,abg,,abe,,,,agh,afh,aci,adi,jkl,abejlk,j,j,,,,abe->", k=3, l=3),
    "hessian, 16 operands": network("abc,ade,afe,abg,a,a,abe,,,abe,b,,agh,afh,aci,adi->"),
    "hessian_diagonal, 15 operands": network("abc,ade,afg,a,a,,,adg,d,,,aeh,abh,aci,afi->"),
    "hvp, 18 operands": network("abc,ade,afg,ahi,a,a,a,,,adc,afi,d,f,,aej,abj,agk,ahk->"),
    "hessian, 19 operands, two hubs": network("abc,ade,afg,ahi,a,a,,,afi,abe,a,a,f,b,,agj,ahj,ack,adk->"),
    "hvp, 19 operands, sizes 1 and 3": network("a,bcde,fghi,j,id,eh,a,kg,fl,bm,nc,a,fg,bc,,jmo,ano,a,lk->a",
                                                 **dict.fromkeys("bcdefghiklmn", 1), a=3, j=3, o=3),
}


def old_rule(equation, shapes):
    """The planner before issue 13: dp up to 24 operands, greedy beyond."""
    return opt_einsum.contract_path(equation, *shapes, shapes=True, optimize="dp" if len(shapes) <= 24 else "greedy")


def opt_einsum_rule(optimize):
    return lambda equation, shapes: opt_einsum.contract_path(equation, *shapes, shapes=True, optimize=optimize)


RULES = {"einsdiff": paths.contraction_path, "old (dp ≤ 24)": old_rule,
         "opt_einsum auto": opt_einsum_rule("auto"), "opt_einsum auto-hq": opt_einsum_rule("auto-hq")}


class Stopped(Exception):
    pass


def _stop(signum, frame):
    raise Stopped


def timed_plan(rule, equation, shapes, cap):
    """(best seconds of up to three runs, flops), or (None, None) past ``cap`` seconds."""
    best, flops = math.inf, None
    for _ in range(3):
        signal.setitimer(signal.ITIMER_REAL, cap)
        try:
            start = time.perf_counter()
            flops = int(rule(equation, shapes)[1].opt_cost)
            best = min(best, time.perf_counter() - start)
        except Stopped:
            return None, None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if best > 0.5:  # one run of a slow search is enough
            break
    return best, flops


def planning_table(cap):
    names = list(RULES)
    print("| network | operands | " + " | ".join(f"{n} ms | {n} flops" for n in names) + " |")
    print("|---|---|" + "---|---|" * len(names))
    for case, (equation, shapes) in CASES.items():
        cells = []
        for rule in RULES.values():
            seconds, flops = timed_plan(rule, equation, shapes, cap)
            if seconds is None:
                cells += [f"> {cap * 1e3:,.0f} (stopped)", "-"]
            else:
                cells += [f"{seconds * 1e3:,.1f}", f"{flops:,}"]
        print(f"| {case} | {len(shapes)} | " + " | ".join(cells) + " |", flush=True)


def task_networks():
    """(task, equation, shapes) of every contraction the compiled benchmark tasks run."""
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from tasks import TASKS

    seen = {}
    for task in TASKS.values():
        run = task._einsdiff(task.inputs(np.random.default_rng(0)))
        run()  # builds, compiles and runs it once, as benchmarks/run.py does
        # Deltas written into a sum are planned as networks of their own: the plan lists them all.
        for contraction in run.state["fn"].compiled.plan.contractions:
            shapes = tuple(op.shape for op in contraction.node.operands)
            seen.setdefault((contraction.equation, shapes), task.name)
    return [(task, equation, list(shapes)) for (equation, shapes), task in seen.items()]


def tasks_table():
    rows = task_networks()
    print("| task | networks | most operands | old flops | new flops | changed | slowest plan, old ms | new ms "
          "| opt_einsum auto flops |")
    print("|---|---|---|---|---|---|---|---|---|")
    for task in dict.fromkeys(t for t, _, _ in rows):
        mine = [(e, s) for t, e, s in rows if t == task]
        old = [timed_plan(old_rule, e, s, 60) for e, s in mine]
        new = [timed_plan(paths.contraction_path, e, s, 60) for e, s in mine]
        auto = [timed_plan(RULES["opt_einsum auto"], e, s, 60) for e, s in mine]
        changed = sum(o[1] != n[1] for o, n in zip(old, new, strict=True))
        print(f"| {task} | {len(mine)} | {max(len(s) for _, s in mine)} | {sum(o[1] for o in old):,} | "
              f"{sum(n[1] for n in new):,} | {changed} | {max(o[0] for o in old) * 1e3:.1f} | "
              f"{max(n[0] for n in new) * 1e3:.1f} | {sum(a[1] for a in auto):,} |", flush=True)


def corpus(examples):
    """Networks planned while compiling Hessians, hvp and hessian_diagonal of random programs."""
    from hypothesis import HealthCheck, Phase, given, settings

    import einsdiff as ed
    from einsdiff.ir.expr import Const, Var
    from einsdiff.testing import expressions
    from einsdiff.ir.variables import topological, variables

    found, programs = {}, []
    for depth in (5, 6):
        @settings(max_examples=examples, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(expressions(max_depth=depth, functions=True))
        def gather(e):
            if 7 <= sum(not isinstance(n, Var | Const) for n in topological([e])) <= 15:
                programs.append(e)
        gather()
    record = paths.contraction_path

    def recording(equation, shapes):
        found.setdefault((equation, tuple(map(tuple, shapes))), None)
        return opt_einsum.contract_path(equation, *shapes, shapes=True, optimize="greedy")

    paths.contraction_path = recording
    try:
        for e in programs:
            f = e.sum()
            for x in variables(f):
                for make in (lambda: ed.hessian(f, x), lambda: ed.hvp(f, x, ed.var("dx", x.shape)),
                             lambda: ed.hessian_diagonal(f, x)):
                    try:
                        ed.compile([make()])
                    except ed.EinsdiffError:
                        pass
    finally:
        paths.contraction_path = record
    return len(programs), list(found)


def corpus_summary(examples):
    n_programs, networks = corpus(examples)
    new_times, ratios, auto_ratios, slow_old = [], [], [], 0
    for equation, shapes in networks:
        seconds, flops = timed_plan(paths.contraction_path, equation, shapes, 10)
        new_times.append(seconds)
        old_seconds, old_flops = timed_plan(old_rule, equation, shapes, 1.0)
        if old_seconds is None:
            slow_old += 1
            continue
        ratios.append(flops / old_flops)
        if paths.dp_search_size(*paths._split(equation)) <= paths.DP_SEARCH_LIMIT:
            auto_ratios.append(timed_plan(RULES["opt_einsum auto"], equation, shapes, 10)[1] / old_flops)
    new_times, ratios, auto_ratios = np.array(new_times), np.array(ratios), np.array(auto_ratios)
    print(f"{n_programs} programs, {len(networks)} networks of 1 to {max(len(s) for _, s in networks)} operands")
    print(f"einsdiff: slowest {new_times.max() * 1e3:.1f} ms, "
          f"99th percentile {np.quantile(new_times, 0.99) * 1e3:.1f} ms, median {np.median(new_times) * 1e3:.2f} ms")
    print(f"old rule: {slow_old} networks took over 1 s (stopped)")
    print(f"flops against the old rule where it finished: equal on {np.mean(ratios == 1):.1%}, "
          f"mean ratio {ratios.mean():.3f}, worst {ratios.max():.2f}, better on {np.sum(ratios < 1)}")
    print(f"opt_einsum auto against dp on the {auto_ratios.size} networks where einsdiff runs dp: more flops on "
          f"{np.sum(auto_ratios > 1)} (worst {auto_ratios.max():.2f}x), fewer on {np.sum(auto_ratios < 1)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=float, default=20.0, help="seconds before a search is stopped")
    parser.add_argument("--corpus", type=int, default=0, help="hypothesis draws per depth for the sweep")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _stop)
    print(f"## Planning time (limit: {paths.DP_SEARCH_LIMIT:,} pairs in dp's search)\n")
    planning_table(args.cap)
    print("\n## The benchmark tasks' networks, old rule against new\n")
    tasks_table()
    if args.corpus:
        print("\n## Sweep over random programs\n")
        corpus_summary(args.corpus)


if __name__ == "__main__":
    main()
