"""One process at a time on a data directory.

The index lives in the memory of the process that opened it and is saved from there. Two
processes on one data directory would each save their copy over the other's: an erasure made
by one would be written back to disk by the other's next save, which still holds the vector,
and a key rotation would leave a running server with the old keys. So the service takes an
exclusive lock on ``<data dir>/optinface.lock`` for as long as it is open, and a second opener
is refused with ``data_dir_in_use``: while the server runs, the API is the way in.

``flock`` rather than a PID file: the kernel releases the lock when its process dies, even by
``kill -9``, so a crash never leaves the directory locked.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from optinface.consent.errors import DataDirInUse, DataDirUnusable
from optinface.engine.files import PRIVATE_DIR_MODE, PRIVATE_MODE

LOCK_FILE = "optinface.lock"


class DataDirLock:
    """Held from :meth:`acquire` to :meth:`release`; the file names the holder's PID."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor: int | None = descriptor

    @classmethod
    def acquire(cls, data_dir: Path) -> DataDirLock:
        """Lock ``data_dir`` for this process, making it first where there is none, or raise
        :class:`DataDirInUse` at once.

        Raises:
            DataDirInUse: another process holds the lock.
            DataDirUnusable: ``data_dir`` cannot be made or is not a folder; the lock file
                cannot be opened (a folder in its place, no permission), named, since the data
                directory itself may be fine.
        """
        _make_private(data_dir)
        path = data_dir / LOCK_FILE
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
        except OSError as error:
            raise DataDirUnusable(f"lock file {path} cannot be opened: {error.strerror}",
                                  details={"path": str(path)}) from error
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(descriptor)
            raise DataDirInUse(
                f"process {holder} has the data directory {data_dir} open; use its HTTP API,"
                " or stop it first",
                details={"pid": holder},
            ) from error
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        return cls(descriptor)

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the descriptor drops the flock
            self._descriptor = None

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()


def _make_private(data_dir: Path) -> None:
    """Make ``data_dir`` if there is none, readable by the service's user alone: only they may
    even list what it holds, whoever made it.

    Raises:
        DataDirUnusable: it is not a folder, or cannot be made or restricted.
    """
    try:
        data_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        data_dir.chmod(PRIVATE_DIR_MODE)
    except (FileExistsError, NotADirectoryError) as error:
        raise DataDirUnusable(f"data directory {data_dir} is not a folder") from error
    except OSError as error:  # not allowed, a missing or read-only parent, a full disk...
        raise DataDirUnusable(f"data directory {data_dir}: {error.strerror}") from error
