"""The Merkle tree agrees with RFC 6962's published vectors, so other verifiers agree with us.

The vectors are the Certificate Transparency reference ones (also in transparency-dev/merkle):
eight leaves, the root of every prefix, and a few audit and consistency paths.
"""

from __future__ import annotations

import pytest

from optinface.consent.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
INCLUSION = {  # (leaf index, tree size): audit path
    (0, 8): ("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    (5, 8): ("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
}
CONSISTENCY = {  # (first size, second size): proof
    (2, 8): ("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    (6, 8): ("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    (2, 5): ("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
}
TREE = MerkleTree([leaf_hash(data) for data in LEAVES])


def test_roots_are_rfc6962s_for_every_size() -> None:
    grown = MerkleTree()
    assert TREE.root(0) == grown.root() == EMPTY_ROOT
    for size, expected in enumerate(ROOTS, start=1):
        grown.append(leaf_hash(LEAVES[size - 1]))
        assert TREE.root(size) == expected
        assert MerkleTree([leaf_hash(d) for d in LEAVES[:size]]).root() == expected
        assert grown.root() == expected and grown.levels == MerkleTree(
            [leaf_hash(d) for d in LEAVES[:size]]).levels


@pytest.mark.parametrize(("index", "size"), sorted(INCLUSION))
def test_inclusion_proofs_are_rfc6962s(index: int, size: int) -> None:
    expected = [bytes.fromhex(h) for h in INCLUSION[index, size]]
    assert TREE.inclusion_proof(index, size) == expected
    assert verify_inclusion(leaf_hash(LEAVES[index]), index, size, expected, ROOTS[size - 1])


@pytest.mark.parametrize(("first", "second"), sorted(CONSISTENCY))
def test_consistency_proofs_are_rfc6962s(first: int, second: int) -> None:
    expected = [bytes.fromhex(h) for h in CONSISTENCY[first, second]]
    assert TREE.consistency_proof(first, second) == expected
    assert verify_consistency(first, second, ROOTS[first - 1], ROOTS[second - 1], expected)


def test_every_proof_of_every_shape_verifies_and_a_tampered_one_does_not() -> None:
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(37)]
    tree = MerkleTree(leaves)
    grown = MerkleTree()
    for leaf in leaves:
        grown.append(leaf)
    assert grown.levels == tree.levels
    for size in range(1, len(leaves) + 1):
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert verify_inclusion(leaves[index], index, size, proof, root)
            assert not verify_inclusion(leaves[index], index, size, proof, tree.root(size - 1))
            if proof:
                assert not verify_inclusion(leaves[index], index, size, proof[:-1], root)
                bad = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
                assert not verify_inclusion(leaves[index], index, size, bad, root)
        for first in range(size + 1):
            proof = tree.consistency_proof(first, size)
            assert verify_consistency(first, size, tree.root(first), root, proof)
            if 0 < first < size:
                other = tree.root(first - 1) if first > 1 else leaves[1]
                assert not verify_consistency(first, size, other, root, proof)
                assert not verify_consistency(first, size, tree.root(first), root, proof[:-1])
