"""The documentation site's sources: the API reference lists every public name, and every
Python block of its pages runs as written (the site itself is built by .ci/run, warnings as errors)."""

import doctest
import pathlib
import re
import sys

import pytest
from test_readme import claims

import einsdiff as ed

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


def test_the_reference_lists_every_public_name_once():
    listed = re.findall(r"^\.\. auto(?:class|function|data):: einsdiff\.(\w+)$", (DOCS / "reference.rst").read_text(),
                        flags=re.M)
    assert sorted(listed) == sorted(n for n in ed.__all__ if n != "__version__")
    assert len(listed) == len(set(listed))


def _blocks() -> list[tuple[str, str]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for match in re.finditer(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), flags=re.S | re.M):
            found.append((page.name, match.group(1)))
    return found


@pytest.mark.parametrize(("page", "source"), _blocks(), ids=[f"{p} block {k}" for k, (p, _) in enumerate(_blocks())])
def test_every_python_block_of_the_pages_runs(page, source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page}"}
    exec(compile(source, f"docs/{page}", "exec"), namespace)
    for code, claim in claims(source):
        assert str(eval(code, namespace)) == claim, f"docs/{page}: {code} gives something else than {claim}"


def _public():
    return [(n, getattr(ed, n)) for n in ed.__all__ if n != "__version__"]


def test_every_public_name_has_an_example():
    missing = sorted(n for n, o in _public() if ">>>" not in (o.__doc__ or ""))
    assert not missing, f"give these an example in their docstring (the reference shows it): {missing}"


@pytest.mark.parametrize("name", [n for n, o in _public() if ">>>" in (o.__doc__ or "")])
def test_the_reference_examples_run(name):
    """The examples the reference shows, run in the globals of the module that defines each."""
    obj = getattr(ed, name)
    module = sys.modules.get(getattr(obj, "__module__", "") or "", ed)
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, globs=dict(vars(module)))
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in tests:
        runner.run(test)
    assert tests and runner.failures == 0, f"ed.{name}'s example fails (run it for the output)"
