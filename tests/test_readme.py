"""Every code block of the README runs as written (tests/doc_blocks.py says how each kind runs),
and the values its comments promise are the values it computes."""

import pathlib

import pytest
from doc_blocks import KINDS, claims, fenced_blocks, run_console, run_python

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = fenced_blocks(README)


def test_the_readme_shows_running_code_with_its_results():
    python = [source for _, kind, source in BLOCKS if kind == "python"]
    assert python and [c for s in python for c in claims(s)]
    assert {kind for _, kind, _ in BLOCKS} <= KINDS


@pytest.mark.parametrize(("line", "kind", "source"), [b for b in BLOCKS if b[1] in ("python", "console")],
                         ids=[f"line {n}" for n, kind, _ in BLOCKS if kind in ("python", "console")])
def test_readme_block_runs_as_written(line, kind, source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (run_python if kind == "python" else run_console)(source, f"README.md:{line}")
