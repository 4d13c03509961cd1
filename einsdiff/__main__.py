"""``python -m einsdiff``: the command line."""

from .frontends.cli import main

raise SystemExit(main())
