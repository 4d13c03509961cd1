"""The documentation site's sources: the API reference lists every public name with an example
that runs, and every code block of every page runs as written (tests/doc_blocks.py says how each
kind runs; the site itself is built by .ci/run, warnings as errors)."""

import doctest
import pathlib
import re
import sys

import pytest
from doc_blocks import KINDS, claims, fenced_blocks, run_console, run_python

import einsdiff as ed
import einsdiff.testing

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)
BLOCKS = [(page.relative_to(DOCS).as_posix(), line, kind, source)
          for page in PAGES for line, kind, source in fenced_blocks(page)]
RUN = [b for b in BLOCKS if b[2] in ("python", "console")]


def test_the_reference_lists_every_public_name_once():
    listed = re.findall(r"^\.\. auto(?:class|function|data):: einsdiff\.(\w+)$", (DOCS / "reference.rst").read_text(),
                        flags=re.M)
    assert sorted(listed) == sorted(n for n in ed.__all__ if n != "__version__")
    assert len(listed) == len(set(listed))


def test_the_reference_lists_the_testing_helpers():
    listed = re.findall(r"^\.\. auto(?:class|function|data):: einsdiff\.testing\.(?:strategies\.)?(\w+)$",
                        (DOCS / "reference.rst").read_text(), flags=re.M)
    assert sorted(listed) == sorted(einsdiff.testing.__all__)
    # their examples run as the package's doctests (pytest --doctest-modules)
    missing = [n for n in listed if callable(o := getattr(einsdiff.testing, n)) and ">>>" not in (o.__doc__ or "")]
    assert not missing, f"give these an example in their docstring: {missing}"


def test_every_block_is_of_a_kind_that_runs_or_is_shown():
    """A ```py or unlabelled block would silently not run: every fence names its kind."""
    odd = [(page, line, kind) for page, line, kind, _ in BLOCKS if kind not in KINDS and not kind.startswith("{")]
    assert not odd, f"label these blocks python, console, bash or text: {odd}"


def test_the_pages_show_running_code_with_its_results():
    python = [source for _, _, kind, source in BLOCKS if kind == "python"]
    assert len(python) >= 30 and len([c for s in python for c in claims(s)]) >= 30
    assert len([b for b in BLOCKS if b[2] == "console"]) >= 3


@pytest.mark.parametrize(("page", "line", "kind", "source"), RUN, ids=[f"{p}:{n}" for p, n, _, _ in RUN])
def test_every_block_of_the_pages_runs(page, line, kind, source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (run_python if kind == "python" else run_console)(source, f"docs/{page}:{line}")


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
