"""The package's floors: each layer imports only from the layers below it.

docs/design.md describes the layers. The one exception is the sugar on
:class:`~einsdiff.ir.expr.Expr` (``a + b``, ``str(e)``, ``e.evaluate(...)``), which reaches up lazily,
inside a method, as numpy's array methods reach into numpy's higher modules.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "einsdiff"

# Bottom to top; modules of one layer may import each other.
LAYERS = {
    "errors": 0, "config": 0,  # what every layer may raise and read
    "ir": 1,  # the expression IR, the function registry and the builders
    "array_api": 1,  # the array API standard's namespace: the builders under the standard's names
    "calculus": 2,  # derivative rules, directional derivatives
    "engine": 3,  # rewrite passes, plans, evaluation, backends, sparse
    "notation": 4,  # reading and writing: parse, printers, explanations, generated code
    "frontends": 5, "testing": 5,  # CLI, playground, scipy adapters; oracles and strategies
    "": 6,  # einsdiff/__init__.py: the public API gathers everything
}
SUGAR = {("ir.expr", "engine.evaluate"), ("ir.expr", "notation.printing"), ("ir.expr", "ir.build"), ("ir.expr", "ir.variables")}
SUGAR |= {("ir.expr", "ir.numpy_functions")}  # np.sum(x), x.reshape(...): numpy's functions on expressions
SUGAR |= {("ir.expr", "ir.numpy_ufuncs")}  # Expr.__array_ufunc__ builds with the builders
SUGAR |= {("ir.expr", "ir.indexing")}  # x[0], x[:, 1:3]: constant selections
SUGAR |= {("ir.expr", "array_api")}  # Expr.__array_namespace__ returns the namespace
FORBIDDEN = {("frontends.web", "frontends.cli")}  # the playground and the CLI share frontends.session


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] in ("__init__", "__main__") else parts)


def _imports(path: Path):
    """(imported module below einsdiff, line, whether at module level) for each import."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.split(".")[0] == "einsdiff":
                target = node.module.partition(".")[2]
            else:
                continue
            names = [a.name for a in node.names]
            if node.module is None:  # from . import a, b: the names are modules
                for name in names:
                    yield (f"{target}.{name}" if target else name), node.lineno, id(node) in top
            else:
                yield target, node.lineno, id(node) in top
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "einsdiff":
                    yield alias.name.partition(".")[2], node.lineno, id(node) in top


def _layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


FILES = sorted(PACKAGE.rglob("*.py"))


def test_every_top_level_name_has_a_layer():
    names = {_module(f).split(".")[0] for f in FILES}
    assert names <= set(LAYERS), f"modules outside any layer: {sorted(names - set(LAYERS))}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_upward_import(path):
    source = _module(path)
    for target, line, at_top in _imports(path):
        where = f"{path.relative_to(PACKAGE)}:{line} imports einsdiff.{target}"
        assert target.split(".")[0] in LAYERS, f"{where}, which is in no layer"
        if any(_within(source, s) and _within(target, t) for s, t in SUGAR):
            assert not at_top, f"{where} at module level; the Expr sugar may import it only inside a method"
            continue
        assert _layer(target) <= _layer(source), f"{where}, a higher layer (see docs/design.md)"
        assert not any(_within(source, s) and _within(target, t) for s, t in FORBIDDEN), where


# The imports made inside a function to break a cycle: ed.pow's registry entry builds
# ``exp(c log x)`` for an expression exponent, with the builders that sit on the registry.
CALLED_LATE = {("ir.ops", "ir.build")}
# And log Σ exp(v − b), b a max shift, is built as logsumexp(v) − b by the reductions on the registry.
CALLED_LATE |= {("ir.ops", "ir.functions.reductions")}


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in FILES:
        source = _module(path)
        for target, _, _ in _imports(path):
            if any(_within(source, s) and _within(target, t) for s, t in SUGAR | CALLED_LATE):
                continue
            graph.setdefault(source, set()).add(target)
    return graph


def test_no_import_cycle():
    """Modules import each other in one direction, even inside a layer and inside functions."""
    graph, state, stack = _graph(), {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycle = stack[stack.index(target):] + [target]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
