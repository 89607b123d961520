"""A command's standard output, written whole or refused: never cut short in silence.

With ``PYTHONUNBUFFERED=1`` (the container image sets it, so logs reach ``docker logs`` at
once) Python writes standard output straight to its file descriptor, and a short write, what a
nearly full disk takes of a block, drops the rest unseen: ``optinface export SUBJECT >
file`` ended 0 with the person's export cut. The console script writes through
:class:`_WholeWrites` instead, which writes again until every byte is out and turns a failure
into ``unwritable_file``, in one line like every refusal. A reader closing the pipe early
(``| head``) stays a broken pipe, as the verdict commands expect.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from optinface.engine.errors import UnwritableFile

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


class _WholeWrites(io.RawIOBase):
    """A file descriptor it writes to until every byte given is written, or raises."""

    def __init__(self, descriptor: int) -> None:
        super().__init__()
        self._descriptor = descriptor

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._descriptor

    def isatty(self) -> bool:
        return os.isatty(self._descriptor)

    def write(self, data: ReadableBuffer) -> int:
        """Write all of ``data``.

        Raises:
            BrokenPipeError: the reader is gone (left as it is).
            UnwritableFile: the file takes no more (a full disk), or cannot be written.
        """
        given = memoryview(data).cast("B")
        pending = given
        try:
            while pending:
                pending = pending[os.write(self._descriptor, pending):]
        except BrokenPipeError:
            raise
        except OSError as error:
            raise UnwritableFile(f"cannot write the output: {error.strerror}; what it printed"
                                 " is incomplete") from error
        return len(given)


@contextmanager
def whole_output() -> Iterator[None]:
    """Standard output written whole while the block runs (see the module's docstring); as it
    was where it has no file descriptor (a test capturing it in memory)."""
    stream = sys.stdout
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        yield
        return
    stream.flush()
    sys.stdout = io.TextIOWrapper(_WholeWrites(descriptor), encoding=stream.encoding,
                                  errors=stream.errors, write_through=True)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stdout = stream
