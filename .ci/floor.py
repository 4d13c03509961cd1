"""The lowest versions pyproject.toml declares, for CI's second run.

    python .ci/floor.py constraints   # pip constraints: each declared minimum pinned exactly
    python .ci/floor.py python        # the lowest Python the project declares, if this machine has it

The pins are read from the declarations themselves (run-time dependencies and the test
extra), so the floor that CI tests cannot drift from the floor that users are promised.
"""

from __future__ import annotations

import glob
import os
import pathlib
import re
import shutil
import subprocess
import sys

try:
    import tomllib
except ImportError:  # Python 3.10: pip carries a TOML reader
    from pip._vendor import tomli as tomllib

PYPROJECT = pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml"
# "name[extra]>=1.2": the name, without extras, and its minimum.
_MINIMUM = re.compile(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)")


def constraints(project: dict) -> list[str]:
    """``name==minimum`` for each dependency and test requirement with a declared minimum."""
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    pins: dict[str, str] = {}
    for requirement in declared:
        match = _MINIMUM.match(requirement)
        if match:
            pins.setdefault(match.group(1).lower(), match.group(2))
    return [f"{name}=={version}" for name, version in pins.items()]


def lowest_python(project: dict) -> str:
    """The interpreter of the lowest declared Python on this machine (on PATH, or one pyenv
    installed), else the one running this script, with a warning on stderr."""
    version = re.match(r">=\s*(\d+\.\d+)", project["requires-python"]).group(1)
    home = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = [shutil.which(f"python{version}"), *sorted(glob.glob(f"{home}/versions/{version}.*/bin/python{version}"))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys, venv; print(sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)
        if probe.returncode == 0 and probe.stdout.strip() == str(tuple(int(p) for p in version.split("."))):
            return candidate
    print(f"floor: no Python {version} on this machine; the floor run uses {sys.executable}", file=sys.stderr)
    return sys.executable


def main(argv: list[str]) -> int:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    if argv == ["constraints"]:
        print("\n".join(constraints(project)))
    elif argv == ["python"]:
        print(lowest_python(project))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
