"""Large allocations given back to the system when freed, so decode memory stays bounded.

glibc serves each thread from an arena of its own and keeps what a thread frees in that arena
for its next allocation; it maps an allocation separately (and unmaps it on free) only above a
threshold that grows, once a mapped block is freed, up to 32 MiB. Pillow allocates an image in
16 MiB blocks, so after the first decode each server thread kept the peak of its largest decode:
eight uploads of a 40 Mpx PNG, two decoded at a time, left the server at 4.3 GB (one decode
takes 0.53 GB). With a fixed 1 MiB threshold every block of a decode is mapped and unmapped:
the same eight peaked at 1.4 GB and left 0.34 GB (``tests/reliability/test_decode_memory.py``).
A fixed threshold costs a map and unmap per megabyte-sized buffer: no difference measured on an
ordinary embedding (about 30 ms), within the noise.
"""

from __future__ import annotations

import ctypes
import logging

logger = logging.getLogger(__name__)

MMAP_THRESHOLD_BYTES = 1024 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's <malloc.h>


def map_large_allocations() -> bool:
    """Set the process's fixed mmap threshold (module docstring); False where the C library
    has no ``mallopt`` (not glibc): there the allocator's own policy applies."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        logger.info("no mallopt in this C library: freed decode memory may stay in the process")
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
