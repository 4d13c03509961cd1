"""How explanations grow with depth: the Hessian of k nested tanh layers explained, and the
playground's whole answer for it (in this process, no server).

    python benchmarks/explain_depth.py [--depths 3,6,9,12]

L = Σ_j tanh(A[j,k] tanh(A[k,l] ... tanh(A[s,t] x[t]))), A 3×3, x 3, differentiated twice
by A: written out, each level of the Hessian repeats the one below, so its formula grows
exponentially; an explanation that names what it repeats grows linearly.
"""

from __future__ import annotations

import argparse
import time

import einsdiff as ed
from einsdiff.frontends.cli import written_letters
from einsdiff.frontends.session import derivation, index_names
from einsdiff.testing import nested_tanh_formula

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="3,6,9,12")
    args = parser.parse_args()
    try:
        from einsdiff.frontends.web import service
    except ImportError:  # the web extra is optional
        service = None
    print("| layers | explain characters | explain s | playground answer s |")
    print("|---|---|---|---|")
    for depth in map(int, args.depths.split(",")):
        text = nested_tanh_formula(depth)
        f, A = ed.parse(text, A=(3, 3), x=(3,)), ed.var("A", (3, 3))
        letters = written_letters(text, False)
        free, dnames = index_names(f, A, (), letters["A"], 2, written=letters)
        started = time.perf_counter()
        steps = derivation(f, A, "L", free, dnames, 2, letters=letters)
        explained = time.perf_counter() - started
        answered = "—"
        if service is not None:
            request = {"formula": text, "wrt": "A", "order": 2, "shapes": {"A": "3x3", "x": "3"}}
            started = time.perf_counter()
            service.derive(request, service.Limits())
            answered = f"{time.perf_counter() - started:.2f}"
        print(f"| {depth} | {len(steps):,} | {explained:.2f} | {answered} |")


if __name__ == "__main__":
    main()
