"""An RFC 6962 (RFC 9162 section 2.1) Merkle tree: the hashes, the proofs and their checks.

The audit log is a transparency log over its events: leaf ``i`` is
``SHA-256(0x00 || event bytes)``, an interior node ``SHA-256(0x01 || left || right)``, and a tree
of ``n`` leaves splits at the largest power of two below ``n``. Following the standard rather
than a format of our own is what lets anyone else's verifier or witness check our checkpoints,
prove that a later tree extends an earlier one (consistency) and that an event is in a tree
(inclusion).

:class:`MerkleTree` keeps every level, so a root, an inclusion proof or a consistency proof costs
O(log n) hashes once the tree is built, and appending a leaf costs one hash on average: the
server keeps the tree of its log in memory (64 bytes an event) and extends it as events come.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2): RFC 6962's split point."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """Every perfect, aligned subtree of the tree over ``leaves`` (leaf hashes, not data).

    RFC 6962's recursions only ever look up ranges that are either such a subtree (O(1) here)
    or split at the largest power of two, so a root or a proof costs O(log n) lookups.
    """

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash; each level that becomes even pairs its last two nodes upward."""
        self.levels[0].append(leaf)
        height = 0
        while len(self.levels[height]) % 2 == 0:
            if height + 1 == len(self.levels):
                self.levels.append([])
            below = self.levels[height]
            self.levels[height + 1].append(node_hash(below[-2], below[-1]))
            height += 1

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def root(self, size: int | None = None) -> bytes:
        """The root of the first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} outside 0..{self.size}")
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for the ranges the RFC's recursions visit."""
        width = end - start
        if width & (width - 1) == 0 and start % width == 0:  # a perfect, aligned subtree
            return self.levels[width.bit_length() - 1][start // width]
        k = _split(width)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]): the audit path of leaf ``index``, bottom up."""
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise ValueError(f"no leaf {index} in a tree of {size}")
        return self._path(index, 0, size)

    def _path(self, index: int, start: int, end: int) -> list[bytes]:
        if end - start == 1:
            return []
        k = _split(end - start)
        if index < start + k:
            return [*self._path(index, start, start + k), self._subtree(start + k, end)]
        return [*self._path(index, start + k, end), self._subtree(start, start + k)]

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[0:second]): that the tree of ``second`` leaves extends ``first``'s."""
        second = self.size if second is None else second
        if not 0 <= first <= second <= self.size:
            raise ValueError(f"no consistency proof from {first} to {second}")
        if first in (0, second):
            return []
        return self._subproof(first, 0, second, complete=True)

    def _subproof(self, m: int, start: int, end: int, *, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self._subtree(start, end)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, complete=complete),
                    self._subtree(start + k, end)]
        return [*self._subproof(m - k, start + k, end, complete=False),
                self._subtree(start, start + k)]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2: does ``proof`` place ``leaf`` at ``index`` under ``root``?"""
    if not 0 <= index < size or any(len(h) != HASH_BYTES for h in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree of ``second`` an extension of ``first``'s?"""
    if not 0 <= first <= second or any(len(h) != HASH_BYTES for h in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is a node of the second
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
