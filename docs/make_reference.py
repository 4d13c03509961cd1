"""Write docs/reference.rst: every public name of einsdiff, by kind, in ``ed.__all__``'s order.

    python docs/make_reference.py

tests/test_docs.py checks that the page lists exactly ``ed.__all__`` and ``einsdiff.testing.__all__``;
rerun this after adding a name.
"""

import pathlib

import einsdiff as ed
import einsdiff.testing

GROUPS = (
    ("Expressions and variables", lambda n, o: n in ("Expr", "Var", "var", "as_expr", "symbolic", "einsum", "parse")),
    ("Errors", lambda n, o: isinstance(o, type) and issubclass(o, ed.EinsdiffError)),
    ("Derivatives", lambda n, o: n in ("grad", "jacobian", "hessian", "jacobian_matrix", "jvp", "vjp", "hvp",
                                       "hessian_diagonal", "jacobian_diagonal")),
    ("Evaluation and compilation", lambda n, o: n in ("evaluate", "compile", "Compiled", "config", "simplify",
                                                      "substitute", "scipy_objective", "scipy_residuals")),
    ("Printing and explaining", lambda n, o: n.startswith("to_") or n.startswith("explain")),
    ("Decompositions and spectral functions", lambda n, o: n in ("cholesky", "eigh", "eigvalsh", "svd", "svdvals",
                                                                 "expm", "sqrtm", "logm", "matrix_power", "pinv")),
    ("Functions of matrices and reductions", lambda n, o: n in (
        "inv", "det", "logdet", "slogdet", "solve", "trace", "diagonal", "diag", "dot", "outer", "matmul", "transpose",
        "reshape", "norm", "sum", "prod", "max", "min", "amax", "amin", "logsumexp", "softmax", "log_softmax")),
    ("Elementwise functions and comparisons", lambda n, o: True),
)


def _directive(o) -> str:
    return "autoclass" if isinstance(o, type) else "autofunction" if callable(o) else "autodata"


def main() -> None:
    names = [n for n in ed.__all__ if n != "__version__"]
    lines = ["API reference", "=============", "",
             "Every public name of ``import einsdiff as ed``, with its docstring.", ""]
    left = list(names)
    for title, member in GROUPS:
        chosen = [n for n in left if member(n, getattr(ed, n))]
        left = [n for n in left if n not in chosen]
        lines += [title, "-" * len(title), ""]
        for n in chosen:
            lines += [f".. {_directive(getattr(ed, n))}:: einsdiff.{n}", ""]
    lines += ["Testing helpers: ``einsdiff.testing``", "-" * 37, "",
              ".. automodule:: einsdiff.testing", ""]
    for n in einsdiff.testing.__all__:
        kind = _directive(getattr(einsdiff.testing, n))
        if kind != "autodata":
            lines += [f".. {kind}:: einsdiff.testing.{n}", ""]
        else:  # a table: its doc comment is read where it is defined
            lines += [f".. autodata:: einsdiff.testing.strategies.{n}", "   :no-value:", ""]
    pathlib.Path(__file__).with_name("reference.rst").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
