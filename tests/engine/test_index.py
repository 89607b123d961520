"""The hnswlib index: removal destroys the bytes, search is exact, saved files are safe."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import hnswlib
import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from optinface.engine import index_file
from optinface.engine.errors import IndexCorrupt
from optinface.engine.index import RESERVED_LABELS, HnswIndex
from optinface.engine.settings import EngineSettings
from optinface.engine.types import VectorIndex

DIM = 512
FAST = {"m": 16, "ef_construction": 100}  # small graphs build in well under a second
KEY = bytes(range(32))  # the tests' index key (the service's comes from its key store)


def _plain(path: Path) -> bytes:
    """The decrypted payload of the index file at ``path``: what the key holder could read."""
    blocks: list[bytes] = []
    with path.open("rb") as stream:
        index_file.decrypt_to(stream, DIM, index_file.FileKeys(KEY), sink=blocks.append)
    return b"".join(blocks)


def _unit_rows(count: int, seed: int, dim: int = DIM) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _index(count: int, seed: int = 0, path: Path | None = None,
           **options: int) -> tuple[HnswIndex, np.ndarray]:
    vectors = _unit_rows(count, seed)
    index = HnswIndex(key=KEY, dim=DIM, path=path, **{**FAST, **options})
    index.add(list(range(count)), vectors)
    return index, vectors


def _saved_index(folder: Path, count: int) -> tuple[HnswIndex, np.ndarray, Path]:
    """An index of ``count`` random vectors saved to ``folder/templates.hnsw``, its file."""
    path = folder / "templates.hnsw"
    index, vectors = _index(count, path=path)
    index.save()
    return index, vectors, path


@pytest.fixture(scope="module")
def random_5k() -> tuple[HnswIndex, np.ndarray]:
    return _index(5000, seed=11)


def test_hnsw_index_satisfies_the_vector_index_protocol() -> None:
    assert isinstance(HnswIndex(key=KEY, dim=8), VectorIndex)


def test_stored_bytes_are_the_bytes_given(tmp_path: Path) -> None:
    """The erasure checks below are only meaningful if hnswlib stores the caller's bytes."""
    index, vectors = _index(50)
    assert all(index.holds(row) for row in vectors)
    index.save(tmp_path / "templates.hnsw")
    saved = _plain(tmp_path / "templates.hnsw")  # hnswlib's own memory, as it writes it
    assert all(row.tobytes() in saved for row in vectors)
    assert not index.holds(_unit_rows(1, seed=1234)[0])


def test_differing_names_the_labels_absent_or_holding_another_vector() -> None:
    """What a replica's reconciliation after a rewind asks: a label the ledger gave to a new
    template differs though the index holds it; a removed label differs; the rest do not."""
    index, vectors = _index(20)
    index.remove([7])
    other = _unit_rows(1, seed=99)
    asked = np.vstack([vectors[:10], other, other])
    assert index.differing([*range(10), 10, 25], asked) == [7, 10, 25]
    assert asked.any(axis=1).all()  # the caller's rows are its own, untouched


def test_removed_vector_bytes_do_not_occur_in_saved_file(tmp_path: Path) -> None:
    index, vectors = _index(300)
    path = tmp_path / "templates.hnsw"
    doomed = [3, 150, 299]
    index.save(path)
    before = _plain(path)
    assert all(vectors[label].tobytes() in before for label in doomed)

    index.remove(doomed)
    index.save(path)
    after = _plain(path)
    assert not any(vectors[label].tobytes() in after for label in doomed)
    kept = [label for label in range(300) if label not in doomed]
    assert all(vectors[label].tobytes() in after for label in kept)


def test_the_saved_file_holds_no_vector_in_clear(tmp_path: Path) -> None:
    _, vectors, path = _saved_index(tmp_path, 300)
    raw = path.read_bytes()
    assert not any(row.tobytes() in raw for row in vectors)
    assert not any(row[:4].tobytes() in raw for row in vectors)  # not even a 16-byte run
    with pytest.raises(IndexCorrupt):  # another deployment's key opens nothing
        HnswIndex(key=bytes(32), dim=DIM).load(path)


class _FileKeys:
    """A key wrap with one destroyable key per file, as the service's key store has (the
    consent tests use the real stores); it counts what it is asked."""

    def __init__(self) -> None:
        self.keys: dict[int, bytes] = {}
        self.calls = 0
        self.made = 0

    def create(self) -> int:
        self.calls += 1
        self.made += 1
        self.keys[self.made] = AESGCM.generate_key(bit_length=256)
        return self.made

    def wrap(self, key_id: int, key: bytes) -> bytes:
        self.calls += 1
        nonce = os.urandom(12)
        return nonce + AESGCM(self.keys[key_id]).encrypt(nonce, key, None)

    def unwrap(self, key_id: int, wrapped: bytes) -> bytes:
        self.calls += 1
        if key_id not in self.keys:
            raise IndexCorrupt(f"key {key_id} destroyed")
        return AESGCM(self.keys[key_id]).decrypt(wrapped[:12], wrapped[12:], None)

    def holds(self, key_id: int) -> bool:
        self.calls += 1
        return key_id in self.keys

    def destroy(self, key_id: int) -> None:
        self.calls += 1
        self.keys.pop(key_id, None)


def _saved_with_a_copy(tmp_path: Path, keys: _FileKeys,
                       n: int) -> tuple[HnswIndex, Path, Path]:
    """An index of ``n`` vectors saved under ``keys``, its file, and a copy of the file."""
    path = tmp_path / "templates.hnsw"
    index = HnswIndex(key=KEY, key_wrap=keys, dim=DIM, path=path, **FAST)
    index.add(list(range(n)), _unit_rows(n, seed=3))
    index.save()
    copy = tmp_path / "copy.hnsw"
    copy.write_bytes(path.read_bytes())
    return index, path, copy


def test_a_file_is_bound_to_its_own_key_and_saved_whole_once_it_is_destroyed(
    tmp_path: Path,
) -> None:
    keys = _FileKeys()
    index, path, copy = _saved_with_a_copy(tmp_path, keys, 50)
    with pytest.raises(IndexCorrupt):  # a file bound to a store key needs the key's keeper
        HnswIndex(key=KEY, dim=DIM).load(copy)
    *_, unbound = _saved_index(tmp_path / "unbound", 5)
    with pytest.raises(IndexCorrupt):  # and a keeper refuses a file bound to no key
        HnswIndex(key=KEY, key_wrap=keys, dim=DIM).load(unbound)

    [first] = keys.keys
    keys.destroy(first)  # what an erasure does to every index file's key
    assert index.key_destroyed()
    calls = keys.calls
    index.remove([7])
    index.flush_removals()  # what an erasure waits for: a scrub, the key store not asked
    assert keys.calls == calls
    with pytest.raises(IndexCorrupt, match="destroyed"):
        HnswIndex(key=KEY, key_wrap=keys, dim=DIM).load(copy)
    index.save()  # no addition since, but the file's key is gone: written whole, a new key
    assert not index.key_destroyed() and list(keys.keys) != [first]
    reopened = HnswIndex(key=KEY, key_wrap=keys, dim=DIM)
    reopened.load(path)
    assert reopened.labels() == set(range(50)) - {7}


def test_a_whole_save_destroys_the_key_of_the_file_it_replaces(tmp_path: Path) -> None:
    """A copy of an earlier save opens no more once the index is saved whole again."""
    keys = _FileKeys()
    index, path, copy = _saved_with_a_copy(tmp_path, keys, 20)
    index.add([20], _unit_rows(1, seed=5))
    index.save()
    assert len(keys.keys) == 1
    with pytest.raises(IndexCorrupt, match="destroyed"):
        HnswIndex(key=KEY, key_wrap=keys, dim=DIM).load(copy)
    assert HnswIndex(key=KEY, key_wrap=keys, dim=DIM).load(path) is None


def test_removed_vector_is_overwritten_in_memory() -> None:
    index, vectors = _index(200)
    assert index.holds(vectors[42])
    index.remove([42])
    assert not index.holds(vectors[42])  # neither in the graph nor in the exact copy
    assert index.holds(vectors[41])


def test_removed_label_is_never_returned() -> None:
    index, vectors = _index(400)
    doomed = set(range(0, 400, 7))
    index.remove(doomed)
    for label in sorted(doomed)[:20]:
        unfiltered = index.search(vectors[label], k=20)
        filtered = index.search(vectors[label], k=20, allowed=set(range(400)))
        assert not {hit.label for hit in unfiltered + filtered} & doomed
    assert index.labels() == set(range(400)) - doomed
    assert index.count() == 400 - len(doomed)
    assert index.search(vectors[0], k=1000, allowed=doomed) == []


def test_removing_an_unknown_label_is_a_no_op() -> None:
    index, _ = _index(20)
    index.remove([7])
    index.remove([7, 1000])
    assert index.labels() == set(range(20)) - {7}


@pytest.mark.parametrize("path", ["exact", "graph"])
@pytest.mark.parametrize("fraction", [0.10, 0.01])
def test_filtered_search_matches_brute_force_on_random_data(
    random_5k: tuple[HnswIndex, np.ndarray],
    path: str,
    fraction: float,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index, vectors = random_5k
    monkeypatch.setattr(index, "exact_search_limit", 10**9 if path == "exact" else 0)
    rng = np.random.default_rng(int(fraction * 1000))
    allowed = np.sort(rng.choice(len(vectors), int(fraction * len(vectors)), replace=False))
    gallery = set(allowed.tolist())
    queries = _unit_rows(200, seed=99)
    agree = 0
    for query in queries:
        hits = index.search(query, k=5, allowed=gallery)
        exact = vectors[allowed] @ query
        assert len(hits) == 5
        assert {hit.label for hit in hits} <= gallery
        agree += hits[0].label == allowed[int(np.argmax(exact))]
        got = np.array([hit.score for hit in hits])
        assert np.abs(got - vectors[[hit.label for hit in hits]] @ query).max() < 1e-5
    assert agree >= 0.99 * len(queries)


def test_unfiltered_search_matches_brute_force_on_near_duplicates(
    random_5k: tuple[HnswIndex, np.ndarray],
) -> None:
    index, vectors = random_5k
    rng = np.random.default_rng(5)
    targets = rng.choice(len(vectors), 200, replace=False)
    noisy = vectors[targets] + 0.03 * rng.standard_normal((200, DIM)).astype(np.float32)
    queries = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    top1 = [index.search(query, k=10)[0].label for query in queries]
    exact = np.argmax(queries @ vectors.T, axis=1)
    assert np.mean(np.array(top1) == exact) >= 0.99


def test_scores_are_exact_cosines(random_5k: tuple[HnswIndex, np.ndarray]) -> None:
    index, vectors = random_5k
    for query in _unit_rows(20, seed=3):
        hits = index.search(query, k=10)
        scores = np.array([hit.score for hit in hits])
        exact = vectors[[hit.label for hit in hits]].astype(np.float64) @ query.astype(np.float64)
        assert np.abs(scores - exact).max() < 1e-5
        assert (np.diff(scores) <= 0).all()


def test_query_is_normalised_and_checked(random_5k: tuple[HnswIndex, np.ndarray]) -> None:
    index, vectors = random_5k
    assert index.search(3.0 * vectors[9], k=1)[0].label == 9
    assert index.search(vectors[9][None, :], k=1)[0].score == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="512"):
        index.search(np.ones(128, dtype=np.float32), k=1)
    with pytest.raises(ValueError, match="zero"):
        index.search(np.zeros(DIM, dtype=np.float32), k=1)


def test_empty_index_and_non_positive_k_return_nothing(
    random_5k: tuple[HnswIndex, np.ndarray],
) -> None:
    index, vectors = random_5k
    assert HnswIndex(key=KEY, dim=DIM).search(vectors[0], k=5) == []
    assert index.search(vectors[0], k=0) == []
    assert index.search(vectors[0], k=-1) == []
    assert index.search(vectors[0], k=3, allowed=set()) == []


def test_fewer_hits_than_k_when_few_labels_qualify() -> None:
    index, vectors = _index(30)
    assert len(index.search(vectors[0], k=100)) == 30
    assert [hit.label for hit in index.search(vectors[0], k=5, allowed={0, 2})] == [0, 2]


def test_invalid_additions_are_refused() -> None:
    index = HnswIndex(key=KEY, dim=DIM)
    vectors = _unit_rows(2, seed=1)
    with pytest.raises(ValueError, match="2 vectors"):
        index.add([1], vectors)
    with pytest.raises(ValueError, match="512"):
        index.add([1, 2], vectors[:, :100])
    with pytest.raises(ValueError, match="2\\*\\*62"):
        index.add([RESERVED_LABELS], vectors[:1])
    with pytest.raises(ValueError, match="2\\*\\*62"):
        index.add([-1], vectors[:1])
    with pytest.raises(ValueError, match="finite"):
        index.add([1], np.full((1, DIM), np.nan, dtype=np.float32))
    assert index.count() == 0


def test_add_grows_capacity() -> None:
    index = HnswIndex(key=KEY, dim=DIM, max_elements=16, **FAST)
    vectors = _unit_rows(100, seed=4)
    for start in range(0, 100, 10):
        index.add(list(range(start, start + 10)), vectors[start:start + 10])
    assert index.count() == 100 and index.slots() == 100
    assert all(index.search(vectors[label], k=1)[0].label == label for label in range(100))


def test_re_adding_a_label_replaces_its_vector(tmp_path: Path) -> None:
    index, vectors = _index(100)
    replacement = _unit_rows(1, seed=77)
    index.add([5], replacement)
    assert index.count() == 100
    hit = index.search(replacement[0], k=1)[0]
    assert hit.label == 5
    assert hit.score == pytest.approx(1.0, abs=1e-6)
    assert index.search(vectors[5], k=1)[0].label != 5
    index.save(tmp_path / "index.hnsw")
    assert vectors[5].tobytes() not in (tmp_path / "index.hnsw").read_bytes()


def test_a_label_repeated_in_one_batch_keeps_its_last_vector() -> None:
    index = HnswIndex(key=KEY, dim=DIM, **FAST)
    vectors = _unit_rows(3, seed=8)
    index.add([1, 2, 1], vectors)
    assert index.labels() == {1, 2}
    assert index.search(vectors[2], k=1)[0].label == 1


def test_rows_not_of_unit_length_are_normalised() -> None:
    index = HnswIndex(key=KEY, dim=DIM, **FAST)
    vectors = _unit_rows(2, seed=9)
    index.add([1, 2], 5.0 * vectors)
    hit = index.search(vectors[0], k=1)[0]
    assert (hit.label, hit.score) == (1, pytest.approx(1.0, abs=1e-6))


def test_removed_slots_are_reused_without_rebuild() -> None:
    index, _ = _index(200)
    for cycle in range(5):
        doomed = list(range(cycle * 40, cycle * 40 + 40))
        index.remove(doomed)
        assert index.slots() == 200  # refilled in place: no rebuild, no growth
        index.add([1000 + label for label in doomed], _unit_rows(40, seed=100 + cycle))
        assert index.slots() == 200
    assert index.count() == 200


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    index, vectors = _index(300)
    index.remove([10, 20])
    path = tmp_path / "nested" / "templates.hnsw"
    index.save(path)

    loaded = HnswIndex(key=KEY, dim=DIM, path=path)
    loaded.load()
    assert loaded.labels() == index.labels()
    for query in vectors[:30]:
        assert loaded.search(query, k=5) == index.search(query, k=5)
    assert loaded.search(vectors[10], k=300, allowed={10, 20}) == []
    loaded.add([500, 501], _unit_rows(2, seed=5))  # fills the two erased slots
    assert loaded.slots() == 300


def test_load_replaces_in_memory_content(tmp_path: Path) -> None:
    first, _ = _index(10, seed=1)
    first.save(tmp_path / "first.hnsw")
    second, _ = _index(40, seed=2)
    second.load(tmp_path / "first.hnsw")
    assert second.labels() == set(range(10))


def test_open_starts_empty_then_reads_the_saved_file(tmp_path: Path) -> None:
    engine_settings = EngineSettings(data_dir=tmp_path, index_max_elements=64)
    index = HnswIndex.open(engine_settings, dim=DIM, key=KEY)
    assert index.count() == 0
    index.add([1, 2], _unit_rows(2, seed=3))
    index.save()
    assert engine_settings.index_path.exists()
    assert HnswIndex.open(engine_settings, dim=DIM, key=KEY).labels() == {1, 2}


def test_save_is_atomic_and_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index, _, path = _saved_index(tmp_path, 50)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["templates.hnsw"]
    saved = path.read_bytes()

    def crash(*_: object) -> None:
        raise OSError("disk full")

    index.add([1000], _unit_rows(1, seed=9))  # an addition: the whole file is rewritten
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        index.save(path)
    assert path.read_bytes() == saved  # the previous file, whole
    assert os.listdir(tmp_path) == ["templates.hnsw"]


def test_erasure_after_a_save_scrubs_the_file_in_place(tmp_path: Path) -> None:
    index, vectors, path = _saved_index(tmp_path, 300)
    inode = path.stat().st_ino
    doomed = [0, 7, 299]

    index.remove(doomed)
    index.save(path)
    assert path.stat().st_ino == inode  # scrubbed, not rewritten
    after = _plain(path)
    assert not any(vectors[label].tobytes() in after for label in doomed)
    assert os.listdir(tmp_path) == ["templates.hnsw"]  # no journal left behind

    loaded = HnswIndex(key=KEY, dim=DIM, path=path)
    loaded.load()
    assert loaded.labels() == index.labels()
    fillers = len(doomed)  # the slots refilled by the removals, read back from the file
    assert loaded.slots() - loaded.count() == index.slots() - index.count() == fillers
    for query in vectors[:40]:
        assert loaded.search(query, k=5) == index.search(query, k=5)


def test_flushed_removals_reach_the_file_while_additions_wait_for_a_save(
    tmp_path: Path,
) -> None:
    path = tmp_path / "templates.hnsw"
    index, vectors = _index(100, path=path)
    index.save()
    inode = path.stat().st_ino
    late = _unit_rows(5, seed=77)
    index.add(list(range(100, 105)), late)
    assert index.additions_since_save() == 5

    index.remove([3, 101])
    index.flush_removals()
    raw = _plain(path)
    assert path.stat().st_ino == inode  # scrubbed in place, additions not written
    assert vectors[3].tobytes() not in raw
    assert not any(row.tobytes() in raw for row in late)
    on_disk = HnswIndex(key=KEY, dim=DIM)
    on_disk.load(path)
    assert on_disk.labels() == set(range(100)) - {3}

    index.save()
    assert index.additions_since_save() == 0
    on_disk.load(path)
    assert on_disk.labels() == index.labels() == (set(range(105)) - {3, 101})


def test_flush_without_a_file_writes_nothing(tmp_path: Path) -> None:
    index, _ = _index(10, path=tmp_path / "templates.hnsw")
    index.remove([1])
    index.flush_removals()
    assert not (tmp_path / "templates.hnsw").exists()


def _crash_mid_scrub(index: HnswIndex, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Save ``index`` with a power cut after the journal and half the first write hit the file
    (the scrub's writes to the file are its only ``pwrite`` calls)."""
    write = os.pwrite

    def torn(descriptor: int, data: bytes, offset: int) -> int:
        write(descriptor, data[: len(data) // 2], offset)
        raise KeyboardInterrupt("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(os, "pwrite", torn)
        with pytest.raises(KeyboardInterrupt):
            index.save(path)


def test_scrub_interrupted_by_a_crash_is_finished_on_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, vectors, path = _saved_index(tmp_path, 200)
    doomed = [5, 6, 150]
    index.remove(doomed)
    _crash_mid_scrub(index, path, monkeypatch)
    assert index_file.journal_path(path).exists()
    with pytest.raises(IndexCorrupt, match="checksum"):  # torn without its journal
        _plain(path)

    loaded = HnswIndex(key=KEY, dim=DIM, path=path)
    loaded.load()
    assert not index_file.journal_path(path).exists()
    assert loaded.labels() == set(range(200)) - set(doomed)
    raw = _plain(path)
    assert not any(vectors[label].tobytes() in raw for label in doomed)


def test_scrub_journal_is_replayed_only_on_the_file_it_was_written_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, vectors, path = _saved_index(tmp_path, 100)
    before = path.read_bytes()
    index.remove([1])
    _crash_mid_scrub(index, path, monkeypatch)
    journal = index_file.journal_path(path).read_bytes()

    # A copy of the file from before the erasure is the file the journal was written for.
    path.unlink()
    path.write_bytes(before)
    HnswIndex(key=KEY, dim=DIM).load(path)
    assert vectors[1].tobytes() not in _plain(path)

    # Another index's file is not: the journal is dropped and the file left as it is.
    other, _ = _index(100, seed=5)
    other.save(path)
    other_bytes = path.read_bytes()
    index_file.journal_path(path).write_bytes(journal)
    HnswIndex(key=KEY, dim=DIM).load(path)
    assert path.read_bytes() == other_bytes
    assert not index_file.journal_path(path).exists()

    index_file.journal_path(path).write_bytes(journal[:-1])  # torn
    HnswIndex(key=KEY, dim=DIM).load(path)
    assert path.read_bytes() == other_bytes
    assert not index_file.journal_path(path).exists()


def test_a_replaced_index_file_is_zeroed_before_its_blocks_are_freed(tmp_path: Path) -> None:
    index, vectors, path = _saved_index(tmp_path, 50)
    with path.open("rb") as old:  # the replaced inode, as anything still holding it sees it
        index.add([100], _unit_rows(1, seed=8))
        index.save(path)
        old.seek(0)
        content = old.read()
    assert content and content.count(0) == len(content)
    assert vectors[0].tobytes() in _plain(path)


def test_save_without_any_path_is_refused() -> None:
    with pytest.raises(ValueError, match="no path"):
        HnswIndex(key=KEY, dim=8).save()


@pytest.mark.parametrize(
    "damage",
    ["truncate_end", "truncate_payload", "flip_payload_byte", "flip_checksum_byte", "garbage",
     "empty"],
)
def test_corrupt_file_raises_index_corrupt(tmp_path: Path, damage: str) -> None:
    _, _, path = _saved_index(tmp_path, 50)
    data = bytearray(path.read_bytes())
    damaged = {
        "truncate_end": data[:-10],
        "truncate_payload": data[:1000] + data[-56:],
        "flip_payload_byte": data[:500] + bytes([data[500] ^ 1]) + data[501:],
        "flip_checksum_byte": data[:-70] + bytes([data[-70] ^ 1]) + data[-69:],
        "garbage": os.urandom(len(data)),
        "empty": b"",
    }[damage]
    path.write_bytes(bytes(damaged))
    with pytest.raises(IndexCorrupt):
        HnswIndex(key=KEY, dim=DIM).load(path)


def test_plain_hnswlib_file_or_other_dimension_raises_index_corrupt(tmp_path: Path) -> None:
    raw = hnswlib.Index(space="ip", dim=DIM)
    raw.init_index(max_elements=10)
    raw.add_items(_unit_rows(5, seed=1), list(range(5)))
    raw.save_index(str(tmp_path / "raw.bin"))
    with pytest.raises(IndexCorrupt, match="not an optinface index"):
        HnswIndex(key=KEY, dim=DIM).load(tmp_path / "raw.bin")

    index, _ = _index(5)
    index.save(tmp_path / "templates.hnsw")
    with pytest.raises(IndexCorrupt, match="512-dimensional"):
        HnswIndex(key=KEY, dim=128).load(tmp_path / "templates.hnsw")


def test_ef_search_is_tunable() -> None:
    """The setting reaches the graph: a wider candidate list finds more true nearest
    neighbours of random queries (where the greedy search with ef=1 stops early)."""
    index, vectors = _index(2000, seed=21, ef_search=1)
    queries = _unit_rows(100, seed=22)
    truth = np.argmax(queries @ vectors.T, axis=1)

    def recall() -> float:
        return float(np.mean([index.search(query, k=1)[0].label == best
                              for query, best in zip(queries, truth, strict=True)]))

    narrow = recall()
    index.ef_search = 300
    assert index.ef_search == 300
    assert recall() > narrow + 0.2
    with pytest.raises(ValueError):
        index.ef_search = 0


class AddRemoveMachine(RuleBasedStateMachine):
    """After any sequence of additions, removals, saves and reloads the index agrees with a
    plain dict, and the saved file holds no vector that was removed or replaced."""

    small_dim = 8

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.path = Path(self.folder.name) / "templates.hnsw"
        self.index = HnswIndex(key=KEY, dim=self.small_dim, path=self.path, m=8, ef_construction=32,
                               max_elements=16)
        self.model: dict[int, np.ndarray] = {}
        self.removed: set[int] = set()
        self.destroyed: set[bytes] = set()
        self.peak = 0

    def teardown(self) -> None:
        self.folder.cleanup()

    @rule(labels=st.lists(st.integers(0, 40), min_size=1, max_size=12), seed=st.integers(0, 999))
    def add(self, labels: list[int], seed: int) -> None:
        vectors = _unit_rows(len(labels), seed, dim=self.small_dim)
        self.index.add(labels, vectors)
        for label, vector in zip(labels, vectors, strict=True):
            if label in self.model:
                self.destroyed.add(self.model[label].tobytes())
            self.model[label] = vector
            self.removed.discard(label)
        self.peak = max(self.peak, len(self.model))

    @rule(labels=st.lists(st.integers(0, 45), max_size=12))
    def remove(self, labels: list[int]) -> None:
        self.index.remove(labels)
        for label in labels:
            if (vector := self.model.pop(label, None)) is not None:
                self.removed.add(label)
                self.destroyed.add(vector.tobytes())

    @rule(reload=st.booleans())
    def save(self, reload: bool) -> None:
        self.index.save()
        self._file_holds_nothing_destroyed()
        if reload:  # carry on from the file, as after a restart
            self.index = HnswIndex(key=KEY, dim=self.small_dim, path=self.path)
            self.index.load()

    @rule()
    def flush_removals(self) -> None:
        self.index.flush_removals()
        if self.path.exists():
            self._file_holds_nothing_destroyed()

    def _file_holds_nothing_destroyed(self) -> None:
        raw = self.path.read_bytes()
        live = {vector.tobytes() for vector in self.model.values()}
        assert not [gone for gone in self.destroyed - live if gone in raw]

    @invariant()
    def labels_match_the_model(self) -> None:
        assert self.index.labels() == set(self.model)
        assert self.index.count() == len(self.model)

    @invariant()
    def every_live_label_and_no_removed_one_is_searchable(self) -> None:
        query = _unit_rows(1, seed=len(self.model), dim=self.small_dim)[0]
        hits = self.index.search(query, k=len(self.model) + 5)
        assert {hit.label for hit in hits} == set(self.model)
        assert not self.index.search(query, k=50, allowed=self.removed)
        for hit in hits:
            assert hit.score == pytest.approx(float(self.model[hit.label] @ query), abs=1e-5)

    @invariant()
    def slots_are_reused(self) -> None:
        assert self.index.slots() == self.peak


TestAddRemoveMachine = AddRemoveMachine.TestCase
TestAddRemoveMachine.settings = settings(max_examples=40, stateful_step_count=15, deadline=None)
