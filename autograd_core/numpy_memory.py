"""`tune_allocator`: keep freed memory in the process, as a caching allocator does.

A tape keeps intermediate arrays alive until backward, then frees them all at once. With glibc's
defaults, arrays of a few hundred KiB are mmap'ed and unmapped one by one and a large free trims
the heap, so the next step page-faults all that memory in again. PyTorch avoids this with its
own caching allocator; NumPy has none, so this raises glibc's mmap and trim thresholds
(process-wide: the process then keeps its peak heap).
"""

from __future__ import annotations

import ctypes
import sys


def tune_allocator(mmap_threshold: int = 32 << 20, trim_threshold: int = 512 << 20) -> bool:
    """Raise glibc's mmap threshold (32 MiB, its largest) and trim threshold. Returns True when
    applied; False off glibc (macOS, Windows, musl), where it does nothing."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    m_mmap_threshold, m_trim_threshold = -3, -1  # glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, int(mmap_threshold))
                and mallopt(m_trim_threshold, int(trim_threshold)))
