"""Writing secret and derived files: atomically, readable by the owner only, shredded when replaced.

Renaming a new file over an old one, or unlinking it, gives the old file's blocks back to the
file system with their content intact: for a file of biometric vectors that is a copy nobody
can see or erase any more. :func:`shred` overwrites the content with zeros first. That reaches
the disk blocks on file systems that update in place (ext4, xfs); copy-on-write file systems
(btrfs, zfs) and SSD wear levelling keep older copies whatever a program does, which is why
``docs/erasure.md`` asks for an encrypted volume under the data directory.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700  # folders of keys and vectors: nobody else may even list them
PUBLISHED_MODE = 0o644  # files others may read, never write: the witness's checkpoints
PUBLISHED_DIR_MODE = 0o755  # and its folders (a mode mkdir is given, not the umask's 0o777)
_SHRED_CHUNK = 16 * 1024 * 1024


def lies_within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies under it, symbolic links resolved: then every
    copy of ``folder`` carries it."""
    return path.resolve().is_relative_to(folder.resolve())


def write_private_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one.

    The temporary file is created with mode 0600 from the start, so a key is never readable by
    others, not even for the instant between creation and a later chmod.
    """
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(folder: Path) -> None:
    """Make the rename itself durable (POSIX keeps it in the directory's metadata)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def open_if_exists(path: Path) -> int | None:
    """A read-write descriptor on ``path`` to shred it after it is replaced; None if absent."""
    try:
        return os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None


def shred(descriptor: int) -> None:
    """Overwrite the whole file behind ``descriptor`` with zeros, fsync, and close it."""
    try:
        size = os.fstat(descriptor).st_size
        zeros = bytes(min(size, _SHRED_CHUNK))
        for offset in range(0, size, _SHRED_CHUNK):
            os.pwrite(descriptor, zeros[: size - offset], offset)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def shred_path(path: Path) -> None:
    """Shred and unlink ``path`` if it exists (another process may unlink it first: two workers
    finishing the same rotation)."""
    descriptor = open_if_exists(path)
    if descriptor is not None:
        shred(descriptor)
        path.unlink(missing_ok=True)
