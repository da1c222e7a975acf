"""Large arrays straight from the kernel, and back to it when freed.

glibc's malloc serves a request over its mmap threshold (128 KB) with a mapping of its own,
but it raises the threshold to the size of any such block freed (up to 32 MB). The dedupe
index's numpy columns are replaced by larger copies as the window fills, and its sorted band
and posting arrays by merged copies; after the first free, those copies came from the heap,
whose freed middle is never returned: ~0.8 KB of resident memory per remembered article at a
100k window went to such holes (measured with ``malloc_trim``). Pinning the threshold keeps
every large array a mapping of its own."""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
THRESHOLD = 128 * 1024  # glibc's own default, pinned


def pin_mmap_threshold(threshold: int = THRESHOLD) -> bool:
    """Fix malloc's mmap threshold; False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # no such library, or one without mallopt (musl)
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
