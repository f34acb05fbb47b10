"""Keep the memory a training step frees, for the next step, instead of returning it to the
operating system every time.

A training step allocates and frees the same large temporaries (activations, their gradients,
the scratch arrays of an operation) step after step. With its default settings glibc's malloc
(the C library of most Linux systems) hands freed memory at the top of its heap back to the
operating system as soon as a little of it is free, and serves blocks above 128 KiB from fresh
pages of their own; every page of the next step's arrays must then be given to the process
again, one page fault per 4 KiB. Measured with ``benchmarks/run.py``: a W8 step (a tiny GPT)
takes about a third less time with the thresholds below, and W2 goes from 1.8-3.2x to 1.2x
hand-written NumPy (whose few arrays stay in place).

On import, on Linux with glibc, tinygrad_edu raises both thresholds with ``mallopt``: up to
`TRIM_THRESHOLD` of free memory stays in the process, and blocks up to `MMAP_THRESHOLD` come
from the heap. Set the environment variable ``TINYGRAD_EDU_MALLOC=default`` before importing
to leave malloc as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

TRIM_THRESHOLD = 256 * 2**20  # free memory at the top of the heap kept for reuse (bytes)
MMAP_THRESHOLD = 32 * 2**20  # blocks larger than this get pages of their own (glibc's maximum)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)

settings: dict[str, int] = {}  # what was set, by name (empty when malloc was left alone)


def keep_freed_memory() -> bool:
    """Raise glibc malloc's trim and mmap thresholds (see the module's docstring). Returns
    whether they were set: False on other systems, or with ``TINYGRAD_EDU_MALLOC=default``."""
    if os.environ.get("TINYGRAD_EDU_MALLOC") == "default" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    wanted = {"trim_threshold": TRIM_THRESHOLD, "mmap_threshold": MMAP_THRESHOLD}
    numbers = {"trim_threshold": _M_TRIM_THRESHOLD, "mmap_threshold": _M_MMAP_THRESHOLD}
    for name, value in wanted.items():
        if mallopt(numbers[name], value) == 1:  # mallopt returns 1 on success
            settings[name] = value
    return bool(settings)
