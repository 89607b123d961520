"""The saved index file: encrypted and authenticated by segment, so an erasure rewrites kilobytes.

Layout: hnswlib 0.8.0's own file (the *payload*) encrypted with AES-256-CTR, one 64 KiB segment
at a time, each under a fresh random 16-byte nonce; then one entry per segment (the *table*:
the nonce and an HMAC-SHA256 over the segment's number, the payload length, the nonce and the
ciphertext); then the file's data key as the key store wrapped it; then a 76-byte trailer
(magic, format version, dimension, payload length, segment size, the id of the key-store key
that wrapped the data key, the wrapped key's length, SHA-256 of the table). No template is
ever on disk in clear: the plaintext exists only in memory (an anonymous ``memfd`` that
hnswlib writes and reads), and the keys come from the key store, outside the data directory.
The MACs turn a torn, bit-flipped or forged file into :class:`IndexCorrupt` instead of a crash
inside hnswlib's loader, which trusts the link lists it reads.

Why a data key per save, wrapped by a key of its own (:class:`FileKeys`): an erasure scrubs the
live file, but a copy taken before it (a backup, a snapshot, a stopped worker's file) still
holds the erased vector. Each whole save draws a fresh data key, and the key store wraps it
under a key made for this file alone; the file's key is derived from that data key and the
caller's key (bound to the template-protection rotation). Once that store key is destroyed
(the consent core destroys every one when an erasure commits, and each whole save destroys the
one of the file it replaces), no key anywhere opens the file or any copy of it. The wrapped key
stays at the end of the file, beside the trailer, so payload offsets remain file offsets for
:func:`scrub`.

Why segments: erasing a subject must destroy their vector in the saved file too. Rewriting a
100k-template file (232 MB) and hashing it whole took a second per erasure. Instead
:func:`scrub` decrypts the one or two segments that hold the erased element's vector and label,
puts the random filler that took its slot in memory there, and writes them back encrypted under
a new nonce (the old ciphertext, which the old nonce and the key could open, is overwritten).

A scrub touches the payload, the table and the trailer: writes that a crash can tear. It is
journaled: the exact bytes to write (ciphertext and table entries, never plaintext) and the
table checksum before and after go to ``<file>.scrub``, fsynced, before the file is touched.
The trailer is written last, in one 64-byte write, so it always names one of the two.
:func:`recover` replays a complete journal on the file it was written for and discards any
other, so the file is always whole and the erased bytes always gone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import mmap
import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import hnswlib
import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from numpy.typing import NDArray

from optinface.engine.errors import IndexCorrupt
from optinface.engine.files import PRIVATE_MODE, fsync_directory

logger = logging.getLogger(__name__)

SEGMENT_BYTES = 64 * 1024
"""Encryption and checksum granularity: a scrub re-encrypts one or two segments."""
KEY_BYTES = 32

_MAGIC = b"OPTIHNSW"
_FORMAT_VERSION = 5  # 4: data key wrapped under a key epoch; 3: one key for every file; 2: clear
# magic, version, dim, payload length, segment, store key id, wrapped key length, table sha256
_TRAILER = struct.Struct("<8sIIQQQI32s")
_UNWRAPPED = 0  # the key id of a file keyed by the caller's key alone (the engine on its own)
_NONCE = 16
_MAC = 32
_ENTRY = _NONCE + _MAC  # one table entry: the segment's nonce and its HMAC
LABEL = struct.Struct("<Q")
"""How hnswlib stores an element's label: a little-endian size_t after its vector."""
_MAC_HEAD = struct.Struct("<QQ")  # segment number, payload length: a segment cannot move
# hnswlib 0.8.0 saveIndex header: offsetLevel0, max_elements, cur_element_count,
# size_data_per_element, label_offset, offsetData, maxlevel, enterpoint_node, maxM, maxM0, M,
# mult, ef_construction.
_HNSW_HEADER = struct.Struct("<6QiI3QdQ")
_DELETED_FLAG_BYTE = 2  # hnswlib keeps the deleted mark in byte 2 of each level-0 link header
_IO_CHUNK = 256 * SEGMENT_BYTES
_JOURNAL_MAGIC = b"OPTISCR3"
_JOURNAL_HEAD = struct.Struct("<8s32s32sI")  # magic, table sha256 before, after, writes
_JOURNAL_WRITE = struct.Struct("<QI")  # file offset, length
_DIGEST = 32


@dataclass(frozen=True, slots=True)
class IndexKey:
    """The index file's key, from the key store; two subkeys so no key does two jobs."""

    encryption: bytes
    authentication: bytes

    @classmethod
    def derive(cls, key: bytes) -> IndexKey:
        if len(key) != KEY_BYTES:
            raise ValueError("the index key must be 32 bytes")
        return cls(hmac.new(key, b"optinface index encryption", hashlib.sha256).digest(),
                   hmac.new(key, b"optinface index authentication", hashlib.sha256).digest())

    def _crypt(self, nonce: bytes, data: bytes) -> bytes:
        worker = Cipher(algorithms.AES(self.encryption), modes.CTR(nonce)).encryptor()
        return worker.update(data) + worker.finalize()

    def _mac(self, segment: int, length: int, nonce: bytes, ciphertext: bytes) -> bytes:
        tag = hmac.new(self.authentication, _MAC_HEAD.pack(segment, length), hashlib.sha256)
        tag.update(nonce)
        tag.update(ciphertext)
        return tag.digest()

    def encrypt(self, segment: int, length: int, plaintext: bytes) -> tuple[bytes, bytes]:
        """(ciphertext, table entry) of one segment, under a fresh nonce."""
        nonce = os.urandom(_NONCE)
        ciphertext = self._crypt(nonce, plaintext)
        return ciphertext, nonce + self._mac(segment, length, nonce, ciphertext)

    def decrypt(self, segment: int, length: int, ciphertext: bytes, entry: bytes) -> bytes:
        """The segment's plaintext; :class:`IndexCorrupt` when its MAC does not match."""
        nonce, mac = entry[:_NONCE], entry[_NONCE:]
        if not hmac.compare_digest(mac, self._mac(segment, length, nonce, ciphertext)):
            raise IndexCorrupt(f"index file checksum mismatch in segment {segment}",
                               details={"segment": segment})
        return self._crypt(nonce, ciphertext)


class KeyWrap(Protocol):
    """Keeps each saved file's data key, wrapped under a key made for that file, which it can
    destroy.

    The consent core's key store (:class:`consent.keys.IndexKeyWrap`): destroying a file's key
    makes that file unreadable, wherever a copy of it went.
    """

    def create(self) -> int:
        """A new key for one file about to be saved; its id (never 0)."""

    def wrap(self, key_id: int, key: bytes) -> bytes:
        """``key`` wrapped under ``key_id``."""

    def unwrap(self, key_id: int, wrapped: bytes) -> bytes:
        """The data key; :class:`IndexCorrupt` when ``key_id`` is destroyed or ``wrapped``
        was forged."""

    def holds(self, key_id: int) -> bool:
        """Whether ``key_id`` still exists (a file under it still opens)."""

    def destroy(self, key_id: int) -> None:
        """Destroy ``key_id`` (a no-op when already gone)."""


@dataclass(frozen=True, slots=True)
class FileKey:
    """One saved file's key, and how its trailer names it."""

    cipher: IndexKey
    key_id: int
    wrapped: bytes


@dataclass(frozen=True, slots=True)
class FileKeys:
    """Where saved files' keys come from: ``key`` (the caller's, e.g. bound to the rotation the
    vectors are under) and, with ``wrap``, a fresh data key per save under a key ``wrap`` keeps
    for that file alone.

    Without ``wrap`` (the engine on its own: tests, benchmarks) every file is keyed by ``key``
    alone, under key id 0; the service always wraps. A file of the other kind is refused, so a
    file bound to no destroyable key never passes for one that is.
    """

    key: bytes
    wrap: KeyWrap | None = None

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise ValueError("the index key must be 32 bytes")

    def fresh(self) -> FileKey:
        """The key of a file about to be written: a new data key, wrapped under a new key."""
        if self.wrap is None:
            return FileKey(IndexKey.derive(self.key), _UNWRAPPED, b"")
        data_key = os.urandom(KEY_BYTES)
        key_id = self.wrap.create()
        return FileKey(self._bound(data_key), key_id, self.wrap.wrap(key_id, data_key))

    def opened(self, key_id: int, wrapped: bytes) -> FileKey:
        """The key of a file whose trailer names ``key_id`` and holds ``wrapped``.

        Raises:
            IndexCorrupt: the file is of the other kind, its key is destroyed, or its wrapped
                key was forged.
        """
        if self.wrap is None or key_id == _UNWRAPPED:
            if self.wrap is not None or key_id != _UNWRAPPED or wrapped:
                raise IndexCorrupt("index file keyed otherwise: with a store key where none is"
                                   " given, or without one where one is")
            return FileKey(IndexKey.derive(self.key), _UNWRAPPED, b"")
        return FileKey(self._bound(self.wrap.unwrap(key_id, wrapped)), key_id, wrapped)

    def held(self, key: FileKey) -> bool:
        """Whether a file under ``key`` still opens (asks the key store)."""
        return self.wrap is None or key.key_id == _UNWRAPPED or self.wrap.holds(key.key_id)

    def retire(self, key: FileKey) -> None:
        """Destroy ``key``'s store key: its file, and every copy of it, no longer opens."""
        if self.wrap is not None and key.key_id != _UNWRAPPED:
            self.wrap.destroy(key.key_id)

    def _bound(self, data_key: bytes) -> IndexKey:
        """Both keys needed: the store's (through the data key) and the caller's."""
        return IndexKey.derive(hmac.new(self.key, data_key, hashlib.sha256).digest())


@dataclass(frozen=True, slots=True)
class _Trailer:
    """The file's last bytes: what it holds, where, and under which store key."""

    dim: int
    length: int
    key_id: int
    wrapped_length: int
    digest: bytes

    @property
    def table_size(self) -> int:
        return -(-self.length // SEGMENT_BYTES) * _ENTRY

    def pack(self) -> bytes:
        return _TRAILER.pack(_MAGIC, _FORMAT_VERSION, self.dim, self.length, SEGMENT_BYTES,
                             self.key_id, self.wrapped_length, self.digest)

    @classmethod
    def read(cls, descriptor: int, size: int) -> _Trailer:
        """Raises :class:`IndexCorrupt` for another format (an older version's file) or size."""
        if size < _TRAILER.size + _HNSW_HEADER.size:
            raise IndexCorrupt("index file too short to be an index")
        magic, version, dim, length, segment, key_id, wrapped_length, digest = _TRAILER.unpack(
            os.pread(descriptor, _TRAILER.size, size - _TRAILER.size))
        if magic != _MAGIC or version != _FORMAT_VERSION or segment != SEGMENT_BYTES:
            raise IndexCorrupt("not an optinface index file (or an unknown format version)")
        trailer = cls(dim, length, key_id, wrapped_length, digest)
        if length + trailer.table_size + wrapped_length + _TRAILER.size != size:
            raise IndexCorrupt("index file truncated or extended")
        return trailer


@dataclass(frozen=True, slots=True)
class Write:
    """New bytes for ``offset`` in the payload (a filler's vector and label)."""

    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each element's vector and label lie in an hnswlib 0.8.0 payload.

    Level 0 stores one fixed-size row per element, in slot order: link list, vector, label.
    """

    count: int
    row_size: int
    data_offset: int
    label_offset: int

    @classmethod
    def parse(cls, payload: bytes | mmap.mmap, length: int, dim: int) -> Layout:
        """The layout hnswlib's header declares, checked against ``dim`` and ``length`` before
        any row is read: a file of another hnswlib version, another dimension or cut short is
        :class:`IndexCorrupt`, never a read past the payload or a misread vector."""
        header = _HNSW_HEADER.unpack_from(payload)
        layout = cls(count=header[2], row_size=header[3], label_offset=header[4],
                     data_offset=header[5])
        if (layout.label_offset - layout.data_offset != 4 * dim
                or layout.row_size < layout.label_offset + 8
                or _HNSW_HEADER.size + layout.count * layout.row_size > length):
            raise IndexCorrupt("index payload layout does not match this hnswlib version")
        return layout

    def element_offset(self, slot: int) -> int:
        """Payload offset of slot ``slot``'s vector, which its label directly follows."""
        return _HNSW_HEADER.size + slot * self.row_size + self.data_offset


def write_sealed(source: int, length: int, path: Path, *, dim: int, key: FileKey) -> bytes:
    """Encrypt the ``length``-byte hnswlib payload read from descriptor ``source`` into ``path``
    (an empty private file), with its table, wrapped key and trailer; fsync.

    Returns the table's SHA-256, which names this exact content (see :func:`sealed_digest`).
    """
    table = bytearray()
    with path.open("r+b") as stream:
        for segment, start in enumerate(range(0, length, SEGMENT_BYTES)):
            plaintext = os.pread(source, min(SEGMENT_BYTES, length - start), start)
            ciphertext, entry = key.cipher.encrypt(segment, length, plaintext)
            stream.write(ciphertext)
            table += entry
        digest = hashlib.sha256(table).digest()
        stream.write(table)
        stream.write(key.wrapped)
        stream.write(_Trailer(dim, length, key.key_id, len(key.wrapped), digest).pack())
        stream.flush()
        os.fsync(stream.fileno())
    return digest


def sealed_digest(path: Path) -> bytes | None:
    """The table SHA-256 the trailer of ``path`` names; None when there is no such file.

    Comparing it with the digest of the last write tells whether the file is still ours,
    where an inode number would not: a file deleted and written again can reuse its inode.
    """
    try:
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size < _TRAILER.size:
                return None
            return _TRAILER.unpack(os.pread(stream.fileno(), _TRAILER.size,
                                            size - _TRAILER.size))[-1]
    except FileNotFoundError:
        return None


def decrypt_to(stream: BinaryIO, dim: int, keys: FileKeys,
               sink: Callable[[bytes], object] | None = None) -> tuple[int, FileKey]:
    """Check the trailer, open the file's key, check every segment's MAC, handing each
    plaintext segment to ``sink`` (a memory file: never a file on disk); return the payload's
    length and the file's key (what a later :func:`scrub` of this file needs).
    """
    descriptor = stream.fileno()
    trailer = _Trailer.read(descriptor, os.fstat(descriptor).st_size)
    table = _read_table(descriptor, trailer, dim)
    key = keys.opened(trailer.key_id, os.pread(descriptor, trailer.wrapped_length,
                                              trailer.length + trailer.table_size))
    length = trailer.length
    stream.seek(0)
    for segment, start in enumerate(range(0, length, SEGMENT_BYTES)):
        ciphertext = stream.read(min(SEGMENT_BYTES, length - start))
        plaintext = key.cipher.decrypt(segment, length, ciphertext,
                                       table[segment * _ENTRY:(segment + 1) * _ENTRY])
        if sink is not None:
            sink(plaintext)
    stream.seek(0)
    return length, key


def elements(
    descriptor: int, length: int, dim: int
) -> tuple[Layout, NDArray[np.uint64], NDArray[np.float32]]:
    """Every level-0 element's label and vector, read from an hnswlib 0.8.0 payload.

    Reading the layout directly takes about a second at 1M elements where ``get_items`` would
    take 25-50 s; the caller compares a few rows with hnswlib's own answer.
    """
    with mmap.mmap(descriptor, length, access=mmap.ACCESS_READ) as view:
        layout = Layout.parse(view, length, dim)
        table = np.frombuffer(view, dtype=np.uint8, count=layout.count * layout.row_size,
                              offset=_HNSW_HEADER.size).reshape(layout.count, layout.row_size)
        deleted = bool((table[:, _DELETED_FLAG_BYTE] & 1).any())
        end = layout.label_offset + 8
        labels = table[:, layout.label_offset:end].copy().view("<u8").ravel()
        vectors = table[:, layout.data_offset:layout.label_offset].copy().view(np.float32)
        del table  # release the buffer before the mapping closes
    if deleted:
        raise IndexCorrupt("index file holds deleted elements it should not")
    if len(np.unique(labels)) != len(labels):
        raise IndexCorrupt("index file holds a label twice")
    return layout, labels, vectors


def element_labels(descriptor: int, dim: int) -> tuple[Layout, NDArray[np.uint64]]:
    """The layout and slot-ordered labels of the plaintext payload hnswlib just wrote."""
    with mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ) as view:
        layout = Layout.parse(view, len(view), dim)
        if not layout.count:
            return layout, np.empty(0, dtype="<u8")
        labels = np.ndarray((layout.count,), dtype="<u8", buffer=view,
                            offset=_HNSW_HEADER.size + layout.label_offset,
                            strides=(layout.row_size,)).copy()
    return layout, labels


def scrub(path: Path, writes: Sequence[Write], *, key: IndexKey) -> bytes:
    """Overwrite payload bytes of the file in place, durably and crash-safely (journaled).

    Returns the file's new table digest.
    """
    journal = journal_path(path)
    descriptor = os.open(path, os.O_RDWR)
    try:
        plan = _Plan.of(descriptor, writes, key)
        _write_journal(journal, plan)
        plan.apply(descriptor)
    finally:
        os.close(descriptor)
    journal.unlink()
    return plan.after


def recover(path: Path) -> None:
    """Finish a scrub a crash interrupted, or drop a journal that does not belong to ``path``.

    A torn journal means the crash came before the file was touched; a journal whose before
    and after checksums both differ from the file's was written for another file. Both are
    removed unapplied. A whole one is replayed: its writes are idempotent.
    """
    journal = journal_path(path)
    if not journal.exists():
        return
    parsed = _read_journal(journal)
    if parsed is not None and sealed_digest(path) in (parsed.before, parsed.after):
        descriptor = os.open(path, os.O_RDWR)
        try:
            _apply(descriptor, parsed.writes)
        finally:
            os.close(descriptor)
        logger.warning("index scrub interrupted by a crash: replayed %d writes",
                       len(parsed.writes))
    else:
        logger.warning("discarded a stale or torn index scrub journal")
    journal.unlink()
    fsync_directory(journal.parent)


def journal_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.scrub")


def _read_table(descriptor: int, trailer: _Trailer, dim: int) -> bytes:
    """The segment table, after checking it and the dimension against the trailer."""
    if trailer.dim != dim:
        raise IndexCorrupt(f"index file holds {trailer.dim}-dimensional vectors, expected {dim}",
                           details={"file_dim": trailer.dim, "dim": dim})
    table = os.pread(descriptor, trailer.table_size, trailer.length)
    if hashlib.sha256(table).digest() != trailer.digest:
        raise IndexCorrupt("index file checksum table mismatch")
    return table


@dataclass(frozen=True, slots=True)
class _Plan:
    """A scrub worked out before anything is written: the exact bytes for each file offset.

    ``writes`` are file writes (re-encrypted segments, their table entries, the trailer last),
    so replaying them after a crash is idempotent.
    """

    writes: Sequence[Write]
    before: bytes
    after: bytes

    @classmethod
    def of(cls, descriptor: int, writes: Sequence[Write], key: IndexKey) -> _Plan:
        """Decrypt the touched segments, patch them in memory, re-encrypt under new nonces."""
        size = os.fstat(descriptor).st_size
        trailer = _Trailer.read(descriptor, size)
        length = trailer.length
        table = bytearray(os.pread(descriptor, trailer.table_size, length))
        segments: dict[int, bytearray] = {}
        for write in writes:
            if not _HNSW_HEADER.size <= write.offset <= length - len(write.data):
                raise IndexCorrupt("scrub outside the index payload")
            for segment in range(write.offset // SEGMENT_BYTES,
                                 (write.offset + len(write.data) - 1) // SEGMENT_BYTES + 1):
                start = segment * SEGMENT_BYTES
                if segment not in segments:
                    segments[segment] = bytearray(key.decrypt(
                        segment, length,
                        os.pread(descriptor, min(SEGMENT_BYTES, length - start), start),
                        bytes(table[segment * _ENTRY:(segment + 1) * _ENTRY])))
                block = segments[segment]
                low, high = max(write.offset, start), min(write.offset + len(write.data),
                                                          start + len(block))
                block[low - start:high - start] = write.data[low - write.offset:
                                                             high - write.offset]
        planned: list[Write] = []
        entries: list[Write] = []
        for segment, block in sorted(segments.items()):
            ciphertext, entry = key.encrypt(segment, length, bytes(block))
            block[:] = bytes(len(block))  # the plaintext goes no further than this
            planned.append(Write(segment * SEGMENT_BYTES, ciphertext))
            entries.append(Write(length + segment * _ENTRY, entry))
            table[segment * _ENTRY:(segment + 1) * _ENTRY] = entry
        after = hashlib.sha256(table).digest()
        tail = Write(size - _TRAILER.size, dataclasses.replace(trailer, digest=after).pack())
        return cls(writes=[*planned, *entries, tail], before=trailer.digest, after=after)

    def apply(self, descriptor: int) -> None:
        """Segments, then their table entries, then the trailer last; fsync."""
        _apply(descriptor, self.writes)


def _apply(descriptor: int, writes: Sequence[Write]) -> None:
    for write in writes:
        os.pwrite(descriptor, write.data, write.offset)
    os.fsync(descriptor)


def _write_journal(journal: Path, plan: _Plan) -> None:
    body = bytearray(_JOURNAL_HEAD.pack(_JOURNAL_MAGIC, plan.before, plan.after,
                                        len(plan.writes)))
    for write in plan.writes:
        body += _JOURNAL_WRITE.pack(write.offset, len(write.data)) + write.data
    body += hashlib.sha256(body).digest()
    descriptor = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.write(descriptor, body)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    fsync_directory(journal.parent)  # the journal must outlive a crash that the writes survive


@dataclass(frozen=True, slots=True)
class _Journal:
    before: bytes
    after: bytes
    writes: list[Write]


def _read_journal(journal: Path) -> _Journal | None:
    """The journal's checksums and writes, or None when it is torn or not a journal."""
    data = journal.read_bytes()
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if len(data) < _JOURNAL_HEAD.size + _DIGEST or hashlib.sha256(body).digest() != digest:
        return None
    magic, before, after, count = _JOURNAL_HEAD.unpack_from(body)
    if magic != _JOURNAL_MAGIC:
        return None
    writes, position = [], _JOURNAL_HEAD.size
    for _ in range(count):
        offset, size = _JOURNAL_WRITE.unpack_from(body, position)
        position += _JOURNAL_WRITE.size
        writes.append(Write(offset, body[position:position + size]))
        position += size
    return _Journal(before, after, writes)


def check_layout(graph: hnswlib.Index, labels: NDArray[np.uint64],
                  vectors: NDArray[np.float32]) -> None:
    """Cross-check the parsed elements against hnswlib, in case its file layout moved."""
    if graph.get_current_count() != len(labels):
        raise IndexCorrupt("index payload element count does not match hnswlib's")
    probes = sorted({0, len(labels) // 2, len(labels) - 1}) if len(labels) else []
    for probe in probes:
        if not np.array_equal(graph.get_items([int(labels[probe])])[0], vectors[probe]):
            raise IndexCorrupt("index payload layout does not match this hnswlib version")
