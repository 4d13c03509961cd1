"""``python -m einsdiff``: the command line."""

from .cli import main

raise SystemExit(main())
