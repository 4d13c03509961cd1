"""Every Python block of the README runs as written, each in a fresh namespace, and the
values its comments promise are the values it computes."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[tuple[int, str]]:
    """(line number, source) of each ```python block, de-indented when it sits in a list item."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^( *)```python\n(.*?)^\1```", text, flags=re.S | re.M):
        indent = len(match.group(1))
        source = "".join(line[indent:] for line in match.group(2).splitlines(keepends=True))
        blocks.append((text[: match.start()].count("\n") + 1, source))
    return blocks


def test_the_readme_has_python_blocks():
    assert len(python_blocks()) >= 5


@pytest.mark.parametrize(("line", "source"), python_blocks(), ids=[f"line {n}" for n, _ in python_blocks()])
def test_readme_block_runs_as_written(line, source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"readme_line_{line}"}
    exec(compile(source, f"README.md:{line}", "exec"), namespace)
    for name, value in list(namespace.items()):  # a test the README shows must pass too
        if name.startswith("test_") and callable(value):
            value()
    for code, claim in claims(source):
        shown = eval(code, namespace)
        assert str(shown) == claim, f"README.md:{line}: {code} gives {shown}, the README says {claim}"


def claims(source: str) -> list[tuple[str, str]]:
    """(code, formula) for each line ``code  # f[...] = ...`` that states what code prints."""
    found = []
    for text in source.splitlines():
        match = re.fullmatch(r"(?:print\((.+)\)|(\S.*?))\s+# (f(?:\[[a-z,]*\])? = .*)", text)
        if match:
            found.append((match.group(1) or match.group(2), match.group(3)))
    return found


def test_formula_comments_are_checked():
    assert len([c for _, s in python_blocks() for c in claims(s)]) >= 6
