"""The Merkle trees that batch-signed certificates rest on: every leaf's path leads to the root,
and no path leads there from anywhere else."""

from __future__ import annotations

import hashlib

import pytest

from datoferum.domain import merkle


def leaves(count: int) -> list[bytes]:
    return [merkle.leaf_hash(f"document {n}".encode()) for n in range(count)]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100])
def test_every_leaf_reaches_the_root_from_its_own_place_only(count: int) -> None:
    hashes = leaves(count)
    root, paths = merkle.tree(hashes)
    for index, (leaf, path) in enumerate(zip(hashes, paths, strict=True)):
        assert merkle.root_from_path(leaf, index, count, path) == root
        for other in range(count):
            if other != index:
                assert merkle.root_from_path(leaf, other, count, path) != root
        if count > 1:
            assert merkle.root_from_path(hashes[(index + 1) % count], index, count, path) != root


def test_the_tree_is_the_one_of_rfc_9162() -> None:
    """Three leaves: the split is at two, so the root is H(1, H(1, a, b), c)."""
    a, b, c = leaves(3)

    def node(left: bytes, right: bytes) -> bytes:
        return hashlib.sha256(b"\x01" + left + right).digest()

    root, paths = merkle.tree([a, b, c])
    assert root == node(node(a, b), c)
    assert paths == [[b, c], [a, c], [node(a, b)]]
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()


def test_paths_of_the_wrong_length_or_place_lead_nowhere() -> None:
    hashes = leaves(5)
    root, paths = merkle.tree(hashes)
    assert merkle.root_from_path(hashes[0], 0, 5, paths[0][:-1]) is None
    assert merkle.root_from_path(hashes[0], 0, 5, [*paths[0], root]) is None
    assert merkle.root_from_path(hashes[0], 5, 5, paths[0]) is None
    assert merkle.root_from_path(hashes[0], -1, 5, paths[0]) is None
    assert merkle.root_from_path(hashes[0], 0, 1, [root]) is None
    assert merkle.root_from_path(hashes[0], 0, 1, []) == hashes[0]
    with pytest.raises(ValueError, match="at least one leaf"):
        merkle.tree([])


def test_a_stored_proof_is_the_canonical_json_of_the_proof() -> None:
    from datoferum.domain.canonical import canonical_json
    from datoferum.services.certificates import _proof_text

    for hashes in ([], ["ab" * 32], ["cd" * 32, "ef" * 32]):
        proof = {"index": 3, "size": 12, "path": hashes}
        assert _proof_text(3, 12, hashes) == canonical_json(proof)
