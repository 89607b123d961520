"""A process that holds faces, vectors or keys writes no core dump when it crashes.

A crash in native code (an image decoder, onnxruntime, hnswlib) or a fatal signal lets the
kernel copy the process's memory to disk: the probe being decoded, the plaintext vectors of the
index's exact copy (:mod:`engine.vector_store`), the key store's keys. That copy is outside
every erasure (no key epoch, no journal, no scrub reaches it), and a host's crash collector
(systemd-coredump, apport) keeps it for days, a container's on the host. So every process that
loads the face pipeline or opens the service forbids it, before any image or key is read:

- its core file limit (``RLIMIT_CORE``) is set to 0: the soft limit, which the kernel applies
  and children inherit (lowering the hard limit too would keep every child, a test's included,
  from ever having one again without a capability containers drop);
- on Linux it is marked not dumpable (``prctl(PR_SET_DUMPABLE, 0)``): with
  ``fs.suid_dumpable`` at 0, the default, the kernel then writes no core at all, to a file or to
  a collector's pipe (which the limit alone does not stop), and other processes of the same
  user may no longer read its memory (ptrace, ``/proc/PID/mem``).

What it cannot stop: root reading the memory of a running process, a collector the host's
``fs.suid_dumpable`` of 2 lets write a root-only dump, and pages the kernel swaps out (keep
swap off or encrypted on a host that serves this).
"""

from __future__ import annotations

import ctypes
import logging
import resource
import sys

logger = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4
"""``<linux/prctl.h>``'s option that marks a process (not) dumpable; the standard library has no
prctl."""


def forbid() -> None:
    """Forbid this process's core dumps from now on (idempotent; a few microseconds)."""
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    if sys.platform.startswith("linux") and _prctl(PR_SET_DUMPABLE, 0) != 0:
        logger.error("this process could not be marked not dumpable (errno %d): a crash may still "
                     "be collected by a core pipe", ctypes.get_errno())


def _prctl(option: int, argument: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    result: int = libc.prctl(option, argument, 0, 0, 0)
    return result
