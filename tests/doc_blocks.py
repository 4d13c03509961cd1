"""The fenced code blocks of the README and the documentation pages, and how each kind runs.

- ```python blocks run as written, each in a fresh namespace; a line ``code  # f[...] = ...``
  states what ``code`` prints, and that is checked; a ``test_*`` function a block shows is called.
- ```console blocks are command-line sessions: each ``$ einsdiff ...`` line runs (in process) and
  what it writes, standard output then standard error, must be the lines that follow it, where
  ``...`` stands for any text (a rounding error that differs between BLAS builds).
- ```bash blocks (installs, servers) and ```text blocks are shown, not run.
"""

from __future__ import annotations

import contextlib
import io
import pathlib
import re
import shlex

KINDS = {"python", "console", "bash", "text"}


def fenced_blocks(path: pathlib.Path) -> list[tuple[int, str, str]]:
    """(line, language, source) of each fenced block, de-indented when it sits in a list item."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^( *)```([^\n`]*)\n(.*?)^\1```", text, flags=re.S | re.M):
        indent = len(match.group(1))
        source = "".join(line[indent:] for line in match.group(3).splitlines(keepends=True))
        blocks.append((text[: match.start()].count("\n") + 1, match.group(2).strip(), source))
    return blocks


def claims(source: str) -> list[tuple[str, str]]:
    """(code, formula) for each line ``code  # f[...] = ...`` that states what code prints."""
    found = []
    for text in source.splitlines():
        match = re.fullmatch(r"(?:print\((.+)\)|(\S.*?))\s+# (f(?:\[[a-z,]*\])? = .*)", text)
        if match:
            found.append((match.group(1) or match.group(2), match.group(3)))
    return found


def run_python(source: str, where: str) -> None:
    namespace = {"__name__": where.replace("/", "_").replace(".", "_").replace(":", "_")}
    exec(compile(source, where, "exec"), namespace)
    for name, value in list(namespace.items()):  # a test the page shows must pass too
        if name.startswith("test_") and callable(value):
            value()
    for code, claim in claims(source):
        shown = eval(code, namespace)
        assert str(shown) == claim, f"{where}: {code} gives {shown}, the page says {claim}"


def sessions(source: str) -> list[tuple[str, str]]:
    """(command, what it prints) of each ``$ `` line of a console block."""
    found: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif found:
            found[-1][1].append(line)
        else:
            raise AssertionError(f"a console block starts with output, not a '$ ' command: {line!r}")
    return [(command, "\n".join(lines)) for command, lines in found]


def run_console(source: str, where: str) -> None:
    from einsdiff.frontends.cli import main

    for command, expected in sessions(source):
        argv = shlex.split(command)
        assert argv[0] == "einsdiff", f"{where}: a console block runs einsdiff commands only: {command}"
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(argv[1:])
            except SystemExit:  # argparse's usage errors
                pass
        shown = (out.getvalue() + err.getvalue()).rstrip("\n")
        pattern = ".*?".join(re.escape(part) for part in expected.split("..."))
        assert re.fullmatch(pattern, shown, flags=re.S), f"{where}: `{command}` prints\n{shown}\nthe page shows\n{expected}"
