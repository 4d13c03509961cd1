"""einsdiff's settings: the one piece of state a user changes at run time.

Compiled functions read the settings on every call, so a change applies to functions
compiled before it.

>>> import einsdiff as ed
>>> before = ed.config.max_dense_bytes
>>> ed.config.max_dense_bytes = 2**30  # refuse dense arrays above 1 GiB
>>> ed.config
Config(max_dense_bytes=1073741824)
>>> ed.config.max_dense_bytes = before
"""

from __future__ import annotations

import math
import numbers
import os

from .errors import OptionError

_UNKNOWN_AVAILABLE = 8 * 2**30  # assumed where the platform does not tell


def available_memory() -> int:
    """Bytes available to new allocations: MemAvailable from /proc/meminfo (Linux), else
    the free physical pages, else a fixed 8 GiB."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return _UNKNOWN_AVAILABLE


class Config:
    """``max_dense_bytes``: the largest dense array (a result or an intermediate) a call may
    create, checked before the call allocates anything; default a quarter of the memory
    available when einsdiff is imported. ``math.inf`` turns the check off.

    >>> import einsdiff as ed
    >>> ed.config.max_dense_bytes > 0
    True
    """

    __slots__ = ("_max_dense_bytes",)

    def __init__(self):
        self.max_dense_bytes = available_memory() // 4

    @property
    def max_dense_bytes(self) -> int | float:
        return self._max_dense_bytes

    @max_dense_bytes.setter
    def max_dense_bytes(self, value) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
            raise OptionError(f"ed.config.max_dense_bytes must be a positive number of bytes, got {value!r}")
        self._max_dense_bytes = value if value == math.inf else int(value)

    def __repr__(self) -> str:
        return f"Config(max_dense_bytes={self.max_dense_bytes})"


config = Config()
