"""The erasable ANN index: an hnswlib HNSW graph whose removals destroy the vector bytes.

hnswlib's ``mark_deleted`` only hides an element: its float32 bytes stay in memory and in
every later ``save_index``. Withdrawn consent must destroy the template, so :meth:`HnswIndex.remove`
marks the element deleted and at once refills the freed slot with a random *filler* vector under
a reserved internal label (hnswlib's replace-deleted mechanism overwrites the slot's data and
label in place). Fillers stay live in the graph, which keeps hnswlib's set of deleted slots empty
between operations: that is what guarantees the next replacement lands in exactly the slot just
freed, and it costs one graph update per removal instead of a rebuild (12-22 minutes at 1M).

Next to the graph the index keeps an exact float32 copy of the live vectors, one row per label
(:class:`engine.vector_store.VectorStore`).
It serves the exact pass over a small ``allowed`` gallery (hnswlib's filtered search explores a
large part of the graph when most of it is filtered out, and ``get_items`` costs 25-50 us
a vector) and the scoring of the graph's answers, so both paths score with the same float32
products (within ~1e-7 of float64). Removal zeroes the row; the copy is never written to disk
(``load`` rebuilds it from the index file).

The exact pass multiplies with numpy's BLAS. On a busy two-core host run the service with
``OPENBLAS_NUM_THREADS=1``: OpenBLAS handing a 1024-row product to a busy second core took its
p99 from 0.3 ms to 19 ms there.

Saving: :meth:`HnswIndex.save` writes the whole file atomically (:mod:`engine.index_file` has
the format) under a fresh data key, and shreds the file it replaces. Given a key wrap (the
service's key store), each data key is wrapped under a store key made for that file, and the
replaced file's store key is destroyed once the new file is in place, so no copy of an older
save opens. Destroying the current file's key (what an erasure does to every index file)
leaves the live file unreadable too, which is why a file whose key is gone is written whole by
the next :meth:`HnswIndex.save` (:meth:`HnswIndex.key_destroyed` tells a caller when).
:meth:`HnswIndex.flush_removals`, what an erasure waits for, only overwrites the removed
elements' slots in the existing file, in place and journaled: kilobytes instead of the whole
file. The file may therefore lag memory by additions (the ledger re-adds them at start-up) and
by graph links around refilled slots (harmless: the slot holds the same filler on disk as in
memory), never by removals.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import hnswlib
import numpy as np
from numpy.typing import NDArray

from optinface.engine import index_file
from optinface.engine.errors import IndexCorrupt
from optinface.engine.files import (
    PRIVATE_DIR_MODE,
    fsync_directory,
    open_if_exists,
    shred,
    shred_path,
)
from optinface.engine.settings import EngineSettings
from optinface.engine.types import SearchHit, Vector
from optinface.engine.vector_store import VectorStore

logger = logging.getLogger(__name__)

RESERVED_LABELS = 1 << 62
"""Labels at or above this value are the index's own fillers; callers' labels stay below."""

EXACT_SEARCH_LIMIT = 20_000
"""Largest live ``allowed`` gallery searched exactly instead of through the filtered graph.

From ``benchmarks/bench_index.py`` (``allowed_crossover``, N=100k clustered, M=32, ef=128, two
cores): the exact pass costs about a microsecond a row (10k rows: 8-11 ms, 20k: 14-15 ms) and
misses nothing. hnswlib's filtered search visits about ``ef / fraction`` nodes and calls the
Python filter for each: 45-60 ms for a 0.5-1% gallery, 13-19 ms with recall@10 0.945 for a 10%
one. It is only faster past ~15k rows, where its recall@10 is down to 0.90.
"""

_UNIT_TOLERANCE = 1e-5  # re-normalising a unit row only adds rounding noise to its bytes
_AUDIT_CHUNK = 1024  # slots read at a time by :meth:`HnswIndex.holds`


class HnswIndex:
    """An hnswlib index over L2-normalised float32 vectors whose removals are physical.

    Cosine similarity is computed as an inner product (hnswlib space ``ip``) on vectors this
    class keeps at unit length: hnswlib's ``cosine`` space re-normalises every row, which changes
    the stored bytes of three rows in four and would hide whether erasure really destroyed the
    bytes it was given.

    All public methods take one re-entrant lock: hnswlib does not support an insertion or a
    resize running beside a search, and the exact copy must change together with the graph.

    Attributes:
        exact_search_limit: Largest live ``allowed`` gallery searched exactly (default
            :data:`EXACT_SEARCH_LIMIT`); 0 sends every filtered search through the graph.
    """

    def __init__(
        self,
        *,
        dim: int = 512,
        path: Path | None = None,
        m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 512,
        max_elements: int = 10_000,
        key: bytes | None = None,
        key_wrap: index_file.KeyWrap | None = None,
    ) -> None:
        """Start an empty index; nothing is read from ``path`` until :meth:`load`.

        M=32 comes from ``benchmarks/bench_index.py`` (clustered 512-d, N=100k): it finds every
        true neighbour above the match threshold from ef=64 there, while M=16 still misses some
        at ef=512. Real templates are harder than those clusters: on LFW templates with
        distractors (``benchmarks/bench_index_variants.py``, N=100k) ef=128 missed 1.3% of the
        searched person's matches above the threshold and gave another rank-1 than exact
        search on 2.7% of queries; ef=512 missed none, for 3.3 ms of CPU a query, hence the
        default ef_search=512.
        ef_construction=200 builds 100k vectors in 2.5 minutes; 100 matched it at 10k but was
        not measured beyond.

        Args:
            dim: Vector dimension.
            path: Default file for :meth:`save` and :meth:`load`.
            m: HNSW out-degree; memory grows by ``8 * m`` bytes a vector.
            ef_construction: Candidate list size while inserting: build time against recall.
            ef_search: Candidate list size while searching: latency against recall.
            max_elements: Initial capacity; doubled whenever an insertion needs more.
            key: The 32-byte key the file is encrypted with (the key store's); an index
                without one lives in memory only and refuses to save or load.
            key_wrap: What keeps each save's data key, under a store key that can be
                destroyed (:class:`engine.index_file.FileKeys`); without one, ``key`` alone.
        """
        if dim <= 0 or max_elements <= 0:
            raise ValueError("dim and max_elements must be positive")
        self._dim = dim
        self._path = path
        self._m = m
        self._ef_construction = ef_construction
        self._ef_search = ef_search
        self._keys = None if key is None else index_file.FileKeys(key, key_wrap)
        self._lock = threading.RLock()
        self._save_lock = threading.Lock()  # one save at a time: a scrub must hit its own file
        self._later = _LaterSaves()
        self._rng = np.random.default_rng()
        self._graph = self._new_graph(max_elements)
        self._store = VectorStore(dim, max_elements)
        self._fillers: list[int] = []
        self._next_filler = RESERVED_LABELS
        self._saved: _SavedFile | None = None
        self._additions_since_save = 0
        self._pending_scrubs: list[index_file.Write] = []
        self.exact_search_limit = EXACT_SEARCH_LIMIT

    @classmethod
    def from_settings(cls, settings: EngineSettings, dim: int = 512, *, key: bytes | None = None,
                      key_wrap: index_file.KeyWrap | None = None) -> HnswIndex:
        """An empty index configured by ``settings`` (file: ``settings.index_path``)."""
        return cls(
            dim=dim,
            path=settings.index_path,
            m=settings.index_m,
            ef_construction=settings.index_ef_construction,
            ef_search=settings.index_ef_search,
            max_elements=settings.index_max_elements,
            key=key,
            key_wrap=key_wrap,
        )

    @classmethod
    def open(cls, settings: EngineSettings, dim: int = 512, *, key: bytes | None = None,
             key_wrap: index_file.KeyWrap | None = None) -> HnswIndex:
        """The index saved at ``settings.index_path``, or an empty one when there is no file.

        Temporaries a crash left mid-save are shredded first: each holds the whole index.
        """
        path = settings.index_path
        if path.parent.is_dir():
            for leftover in path.parent.glob(f".{path.name}.*.tmp"):
                logger.warning("shredding an index temporary left by a crash: %s", leftover.name)
                shred_path(leftover)
        index = cls.from_settings(settings, dim, key=key, key_wrap=key_wrap)
        if settings.index_path.exists():
            index.load()
        return index

    # Properties ---------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self._dim

    @property
    def ef_search(self) -> int:
        """Search candidate list size (raised to ``k`` by hnswlib when ``k`` is larger)."""
        return self._ef_search

    @ef_search.setter
    def ef_search(self, ef: int) -> None:
        if ef <= 0:
            raise ValueError("ef_search must be positive")
        with self._lock:
            self._ef_search = ef
            self._graph.set_ef(ef)

    def count(self) -> int:
        """Number of live vectors (fillers excluded)."""
        with self._lock:
            return len(self._store)

    def labels(self) -> set[int]:
        """The live labels (fillers excluded)."""
        with self._lock:
            return self._store.labels()

    def slots(self) -> int:
        """Graph slots in use, fillers included: a removal refills its slot in place, so
        add/remove cycles keep this flat instead of growing the graph and its file."""
        with self._lock:
            return int(self._graph.get_current_count())

    def holds(self, vector: Vector) -> bool:
        """Whether these exact float32 bytes are still in memory: in a graph slot (live or
        filler) or in the exact copy.

        The audit behind the erasure promise: a removed or replaced vector must be gone, not
        hidden. It reads every slot (``get_items`` costs 25-50 us a vector), so it serves tests
        and investigations, never a request.

        Raises:
            ValueError: ``vector`` does not have the index's dimension.
        """
        row = np.asarray(vector, dtype=np.float32).reshape(-1)
        if row.shape != (self._dim,):
            raise ValueError(f"expected shape ({self._dim},), got {np.shape(vector)}")
        with self._lock:
            ids = self._graph.get_ids_list()
            for start in range(0, len(ids), _AUDIT_CHUNK):
                items = np.asarray(self._graph.get_items(ids[start:start + _AUDIT_CHUNK]),
                                   dtype=np.float32)
                if (items == row).all(axis=1).any():
                    return True
            return self._store.holds(row)

    def differing(self, labels: Sequence[int], vectors: Vector) -> list[int]:
        """Those of ``labels`` not held with exactly these vectors: absent, or holding another.

        What a reconciliation that cannot trust the labels alone asks (a replica's, after its
        change feed went back: the ledger may have given a label it holds to a new template).
        One comparison a vector with the exact copy; the graph is not read.

        Raises:
            ValueError: A count or dimension mismatch, or a row that is zero or not finite.
        """
        rows = self._unit_rows(vectors)
        try:
            with self._lock:
                same = self._store.same(labels, rows)
        finally:
            rows.fill(0)
        return [label for label, kept in zip(labels, same, strict=True) if not kept]

    # Mutations ----------------------------------------------------------------------------------
    def add(self, labels: Sequence[int], vectors: Vector) -> None:
        """Insert the vectors, replacing (and overwriting) those of labels already present.

        New labels reuse the slots of removed ones before the graph grows, so add/remove cycles
        keep the element count flat. A label repeated within the batch keeps its last vector.

        Raises:
            ValueError: A label outside ``[0, RESERVED_LABELS)``, a count or dimension mismatch,
                or a row that is zero or not finite.
        """
        rows = self._unit_rows(vectors)
        try:
            batch = _last_row_per_label(labels, len(rows))
            with self._lock:
                present = [label for label in batch if label in self._store]
                fresh = [label for label in batch if label not in self._store]
                # One copy, present labels first, so both groups are views of it.
                ordered = rows[[batch[label] for label in present + fresh]]
                self._additions_since_save += len(batch)
                try:
                    self._insert(present, fresh, ordered)
                finally:
                    ordered.fill(0)
        finally:
            rows.fill(0)

    def remove(self, labels: Collection[int]) -> None:
        """Erase the vectors: unsearchable at once and their bytes overwritten in memory.

        Unknown labels are ignored, so a retried erasure is harmless. The file on disk still
        holds the vectors until the next :meth:`save`, which scrubs their slots there.
        """
        with self._lock:
            doomed = sorted(label for label in {int(x) for x in labels} if label in self._store)
            for label in doomed:
                # The only deleted slot is this label's (fillers stay live), so the filler lands
                # in it and overwrites its data and label; one at a time, so we know which
                # filler went where and can write the same one into the saved file.
                self._graph.mark_deleted(label)
                filler, row = self._next_filler, self._random_unit_rows(1)
                self._next_filler += 1
                self._graph.add_items(row, [filler], replace_deleted=True)
                self._fillers.append(filler)
                self._note_overwrite(label, row[0], filler)
            self._store.erase(doomed)
            if doomed:
                logger.debug("erased %d vectors; %d filler slots", len(doomed),
                             len(self._fillers))

    # Search -------------------------------------------------------------------------------------
    def search(
        self, vector: Vector, k: int, allowed: Collection[int] | None = None
    ) -> list[SearchHit]:
        """The ``k`` nearest live labels by exact cosine, best first.

        Args:
            vector: The query, shape ``(dim,)`` or ``(1, dim)``; normalised here if needed.
            k: Number of hits wanted; fewer come back when fewer labels qualify.
            allowed: The labels the caller may see (a purpose's gallery). A gallery of at most
                :attr:`exact_search_limit` live labels is searched exactly; a larger one goes
                through the graph with a filter.

        Raises:
            ValueError: The query has the wrong dimension, is zero or is not finite.
        """
        query = self._unit_rows(vector, single=True)[0]
        try:
            if k <= 0:
                return []
            with self._lock:
                if allowed is None or len(allowed) > self.exact_search_limit:
                    return self._graph_search(query, k, allowed)
                return self._ranked(query, self._store.rows(allowed), k)
        finally:
            query.fill(0)  # the probe is biometric data too

    # Persistence --------------------------------------------------------------------------------
    def save(self, path: Path | None = None, *, whole: bool = False) -> None:
        """Make the file at ``path`` hold exactly what memory holds, durably.

        After removals only, the removed elements' slots are scrubbed in the existing file
        (journaled, see :func:`engine.index_file.scrub`), unless that file's key was destroyed
        or ``whole`` is asked (a file that held erased vectors, so that its key goes).
        Otherwise the whole index is written under a fresh data key and store key with mode
        0600 to a temporary file in the target folder (parents made as needed), fsynced,
        renamed over the target, and the folder fsynced: a crash leaves either the previous
        file or this one. The previous file's store key is destroyed after the rename.
        """
        target = self._resolve(path)
        with self._save_lock:
            destroyed = self.key_destroyed()  # asks the key store: outside the lock
            with self._lock:
                if (not (self._additions_since_save or destroyed or whole)
                        and self._scrub_saved(target)):
                    return
            self._save_whole(target)

    def save_later(self) -> None:
        """Save in the background if the file's key was destroyed (:meth:`key_destroyed`), so
        the caller (an erasure) does not wait for a whole save (1.5 s at 100k vectors). Calls
        made while one runs are coalesced: a burst of erasures costs one or two saves."""
        self._later.ask(self)

    def settle(self) -> None:
        """Wait until no background save (:meth:`save_later`) is owed or running, nor any save
        begun meanwhile (a replica's)."""
        self._later.wait()
        with self._save_lock:
            pass

    def key_destroyed(self) -> bool:
        """Whether the file last saved or loaded lost its store key since (an erasure destroys
        every index file's): it no longer opens, and the next :meth:`save` writes it whole.
        False when there is none. Asks the key store."""
        saved = self._saved
        return saved is not None and not self._file_keys().held(saved.key)

    def flush_removals(self) -> None:
        """Scrub the removed elements' slots in the index's own file; no full save.

        Kilobytes of writes where a full save rewrites the file (232 MB at 100k vectors):
        this is what an erasure waits for, so the key store is not asked (the file's key is
        kept from its save or load), even when the file's store key was destroyed since. A file
        this index did not write or read last may hold anything, so it is rewritten whole.
        """
        target = self._resolve(None)
        with self._save_lock:
            with self._lock:
                if self._scrub_saved(target) or not target.exists():
                    return
            self._save_whole(target)

    def additions_since_save(self) -> int:
        with self._lock:
            return self._additions_since_save

    def _scrub_saved(self, target: Path) -> bool:
        """Apply the pending scrubs if ``target`` is the file last written; False if not."""
        saved = self._saved
        if saved is None or saved.path != target or not saved.is_current():
            return False
        writes, self._pending_scrubs = self._pending_scrubs, []
        if writes:
            saved.digest = index_file.scrub(target, writes, key=saved.key.cipher)
            logger.debug("index scrubbed in place: %d slots", len(writes))
        return True

    def _save_whole(self, target: Path) -> None:
        keys = self._file_keys()
        key = keys.fresh()  # the key store makes and wraps it: outside the lock
        before = self._saved
        replaced = before.key if before is not None and before.path == target else None
        target.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                            suffix=".tmp")
        os.close(descriptor)
        temporary = Path(name)
        previous = open_if_exists(target)  # the file being replaced, to shred once it is
        # hnswlib writes its plaintext to memory only; the disk gets the ciphertext.
        plain = os.memfd_create("optinface-index", os.MFD_CLOEXEC)
        try:
            with self._lock:
                self._graph.save_index(f"/proc/self/fd/{plain}")
                live = len(self._store)
                # What the file holds from now on: removals after this point scrub it.
                layout, labels = index_file.element_labels(plain, self._dim)
                self._saved = _SavedFile.of(target, layout, labels, key)
                self._additions_since_save = 0
                self._pending_scrubs = []
                saved = self._saved
            saved.digest = index_file.write_sealed(plain, os.fstat(plain).st_size, temporary,
                                                   dim=self._dim, key=key)
            # A journal left by a crash belongs to the file about to be replaced.
            index_file.journal_path(target).unlink(missing_ok=True)
            os.replace(temporary, target)
        except BaseException:
            if previous is not None:
                os.close(previous)
            shred_path(temporary)
            keys.retire(key)  # it keys nothing on disk
            with self._lock:
                self._saved = None  # the target still holds the previous file
            raise
        finally:
            os.close(plain)
        fsync_directory(target.parent)
        if previous is not None:
            shred(previous)
        if replaced is not None and replaced.key_id != key.key_id:
            keys.retire(replaced)  # copies of the replaced file no longer open either
        logger.debug("index saved: %d vectors to %s", live, target)

    def load(self, path: Path | None = None) -> None:
        """Replace the in-memory content by the saved file.

        Raises:
            IndexCorrupt: The file is not an index of this dimension, or is truncated or altered.
            FileNotFoundError: There is no file.
        """
        source = self._resolve(path)
        index_file.recover(source)
        graph, layout, labels, vectors, key = self._read(source)
        fillers = labels >= RESERVED_LABELS
        row_labels = labels.astype(np.int64)
        row_labels[fillers] = -1
        store = VectorStore.adopt(row_labels, vectors)
        with self._lock:
            self._store.erase(self._store.labels())
            self._graph, self._store = graph, store
            self._m = graph.M
            self._ef_construction = graph.ef_construction
            self._fillers = labels[fillers].tolist()
            self._next_filler = max(self._fillers, default=RESERVED_LABELS - 1) + 1
            self._saved = _SavedFile.of(source, layout, labels, key)
            self._saved.digest = index_file.sealed_digest(source)
            self._additions_since_save = 0
            self._pending_scrubs = []
        logger.info("index loaded: %d vectors, %d filler slots from %s",
                    len(store), len(self._fillers), source)

    # Internals ----------------------------------------------------------------------------------
    def _new_graph(self, max_elements: int) -> hnswlib.Index:
        graph = hnswlib.Index(space="ip", dim=self._dim)
        graph.init_index(max_elements=max_elements, M=self._m,
                         ef_construction=self._ef_construction, allow_replace_deleted=True)
        graph.set_ef(self._ef_search)
        return graph

    def _file_keys(self) -> index_file.FileKeys:
        if self._keys is None:
            raise ValueError("an index without a key lives in memory only: it is never saved "
                             "in clear")
        return self._keys

    def _resolve(self, path: Path | None) -> Path:
        if path is not None:
            return path
        if self._path is None:
            raise ValueError("no path given and the index has no default path")
        return self._path

    def _unit_rows(self, vectors: Vector, *, single: bool = False) -> NDArray[np.float32]:
        """A float32 copy of ``vectors`` as unit rows, checked against the index's dimension.

        Rows already of unit length are kept byte for byte, so what hnswlib stores is exactly
        what the caller gave (and what an erasure check can look for).
        """
        rows = np.array(vectors, dtype=np.float32, ndmin=2)
        if rows.ndim != 2 or rows.shape[1] != self._dim or (single and rows.shape[0] != 1):
            expected = f"({self._dim},)" if single else f"(n, {self._dim})"
            raise ValueError(f"expected shape {expected}, got {np.shape(vectors)}")
        if not np.isfinite(rows).all():
            raise ValueError("vectors must be finite")
        norms = np.linalg.norm(rows, axis=1)
        if (norms == 0).any():
            raise ValueError("a zero vector has no direction")
        off = np.abs(norms - 1) > _UNIT_TOLERANCE
        rows[off] /= norms[off, None]
        return rows

    def _random_unit_rows(self, n: int) -> NDArray[np.float32]:
        rows = self._rng.standard_normal((n, self._dim), dtype=np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        return rows

    def _insert(self, present: list[int], fresh: list[int], rows: NDArray[np.float32]) -> None:
        """Overwrite the ``present`` labels in place, then put ``fresh`` ones in free slots.

        ``rows`` holds the present labels' vectors first. Fresh labels go to filler slots
        before new ones, so add/remove cycles do not grow the graph.
        """
        if present:
            # Not replace_deleted: given a free slot, hnswlib would move the label there and
            # leave the old vector live in its old slot.
            self._graph.add_items(rows[: len(present)], present)
            for label, row in zip(present, rows, strict=False):
                self._note_overwrite(label, row, label)  # the old vector is destroyed too
        if fresh:
            reused = min(len(fresh), len(self._fillers))
            for _ in range(reused):
                self._graph.mark_deleted(self._fillers.pop())
            self._reserve(len(fresh) - reused)
            self._graph.add_items(rows[len(present):], fresh, replace_deleted=True)
        self._store.put(present + fresh, rows)

    def _note_overwrite(self, label: int, row: NDArray[np.float32], new_label: int) -> None:
        """Queue the write that makes the saved file's slot of ``label`` match memory's."""
        saved = self._saved
        if saved is None or label not in saved.slots:
            return  # not in the file: nothing of it to destroy there
        slot = saved.slots.pop(label) if new_label != label else saved.slots[label]
        self._pending_scrubs.append(index_file.Write(
            saved.layout.element_offset(slot), row.tobytes() + index_file.LABEL.pack(new_label)))

    def _reserve(self, extra: int) -> None:
        """Grow the graph's capacity (doubling) so ``extra`` new slots fit."""
        needed = self._graph.get_current_count() + extra
        capacity = self._graph.get_max_elements()
        if needed > capacity:
            capacity = max(needed, 2 * capacity)
            self._graph.resize_index(capacity)
            logger.info("index capacity grown to %d", capacity)

    def _graph_search(
        self, query: NDArray[np.float32], k: int, allowed: Collection[int] | None
    ) -> list[SearchHit]:
        """Candidates from the graph, scored exactly; the exact pass when the graph falls short.

        Without a gallery the graph runs unfiltered (a Python filter costs about 40% more per
        query) for ``k`` plus up to ``k`` extra candidates, as live fillers can take places.
        The exact pass covers the rare case where fillers took more, or where the filtered
        graph could not reach ``k`` allowed elements.
        """
        want = min(k, len(self._store))
        if allowed is None:
            wanted, accept = want + min(k, len(self._fillers)), None
        else:
            gallery = allowed if isinstance(allowed, set | frozenset) else set(allowed)
            wanted, accept = want, gallery.__contains__
        try:
            found, _ = self._graph.knn_query(
                query, k=min(wanted, self._graph.get_current_count()), num_threads=1,
                filter=accept)
        except RuntimeError:  # fewer than ``wanted`` allowed elements reachable
            found = np.empty((1, 0), dtype=np.uint64)
        candidates = self._store.rows(int(label) for label in found[0]
                                      if label < RESERVED_LABELS)
        if len(candidates) < want:
            logger.debug("graph returned %d of %d wanted; exact pass", len(candidates), want)
            rows = self._store.live_rows() if allowed is None else self._store.rows(allowed)
            return self._ranked(query, rows, k)
        return self._ranked(query, candidates, k)

    def _ranked(
        self, query: NDArray[np.float32], rows: NDArray[np.int64], k: int
    ) -> list[SearchHit]:
        if len(rows) == 0:
            return []
        scores = self._store.scores(rows, query)
        if len(rows) > k:
            best = np.argpartition(-scores, k - 1)[:k]
            rows, scores = rows[best], scores[best]
        order = np.argsort(-scores, kind="stable")
        labels = self._store.labels_at(rows[order])
        return [SearchHit(int(label), float(score))
                for label, score in zip(labels, scores[order], strict=True)]

    def _read(
        self, source: Path
    ) -> tuple[hnswlib.Index, index_file.Layout, NDArray[np.uint64], NDArray[np.float32],
               index_file.FileKey]:
        """Check and load ``source``: the graph, every element's label and vector, its key.

        hnswlib only loads from a path, and the payload must be handed to it decrypted and
        without the trailer, so it goes through an in-memory file, never a plaintext file on
        disk.
        """
        keys = self._file_keys()
        with source.open("rb") as stream:
            descriptor = os.memfd_create("optinface-index", os.MFD_CLOEXEC)
            try:
                length, key = index_file.decrypt_to(
                    stream, self._dim, keys, sink=lambda block: _write_all(descriptor, block))
                graph = hnswlib.Index(space="ip", dim=self._dim)
                try:
                    graph.load_index(f"/proc/self/fd/{descriptor}", allow_replace_deleted=True)
                except (RuntimeError, MemoryError) as error:
                    raise IndexCorrupt(f"hnswlib cannot load {source.name}") from error
                layout, labels, vectors = index_file.elements(descriptor, length, self._dim)
            finally:
                os.close(descriptor)
        index_file.check_layout(graph, labels, vectors)
        graph.set_ef(self._ef_search)
        return graph, layout, labels, vectors, key


_LATER_SAVE_DELAY = 0.5
"""Seconds a background save waits first: the erasure that asked it finishes its commit and WAL
checkpoint without a whole-file write (232 MB at 100k) competing for the disk, and a burst of
erasures is saved once."""


class _LaterSaves:
    """The one background thread of :meth:`HnswIndex.save_later`: waits
    :data:`_LATER_SAVE_DELAY` (or until :meth:`wait` is called), then looks again after each
    save while it was asked again meanwhile, then ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._asked = False
        self._thread: threading.Thread | None = None
        self._now = threading.Event()

    def ask(self, index: HnswIndex) -> None:
        with self._lock:
            self._asked = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, args=(index,), daemon=True,
                                                name="optinface-index-save")
                self._thread.start()

    def wait(self) -> None:
        with self._lock:
            thread = self._thread
            if thread is not None:
                self._now.set()
        if thread is not None:
            thread.join()

    def _run(self, index: HnswIndex) -> None:
        self._now.wait(_LATER_SAVE_DELAY)
        while True:
            with self._lock:
                if not self._asked:
                    self._thread = None
                    self._now.clear()
                    return
                self._asked = False
            try:
                if index.key_destroyed():
                    index.save()
            except Exception:  # any: a background thread's death would go unseen
                # The file no longer opens: the next save, or the next start's rebuild, mends it.
                logger.exception("index not saved again in the background")


@dataclass(slots=True)
class _SavedFile:
    """The last file written or read: where each caller label's element sits in it, and its
    key (its scrubs need it; the key store is not asked again)."""

    path: Path
    layout: index_file.Layout
    slots: dict[int, int]
    key: index_file.FileKey
    digest: bytes | None = None  # the trailer's table digest after our last write

    @classmethod
    def of(cls, path: Path, layout: index_file.Layout, labels: NDArray[np.uint64],
           key: index_file.FileKey) -> _SavedFile:
        callers = np.flatnonzero(labels < RESERVED_LABELS)
        return cls(path=path, layout=layout, key=key,
                   slots=dict(zip(labels[callers].tolist(), callers.tolist(), strict=True)))

    def is_current(self) -> bool:
        """Whether ``path`` still holds what we last wrote (nobody replaced or deleted it)."""
        return self.digest is not None and index_file.sealed_digest(self.path) == self.digest


def _write_all(descriptor: int, block: bytes) -> None:
    view = memoryview(block)
    while view:
        view = view[os.write(descriptor, view):]


def _last_row_per_label(labels: Sequence[int], n_rows: int) -> dict[int, int]:
    """Map each label to the index of its last row in the batch, after checking the labels."""
    if len(labels) != n_rows:
        raise ValueError(f"{len(labels)} labels for {n_rows} vectors")
    batch: dict[int, int] = {}
    for position, label in enumerate(labels):
        value = int(label)
        if not 0 <= value < RESERVED_LABELS:
            raise ValueError(f"labels must be in [0, 2**62), got {value}")
        batch.pop(value, None)  # re-insert so the order follows the last occurrence
        batch[value] = position
    return batch
