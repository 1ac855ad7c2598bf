"""Merkle trees in the shape of RFC 9162 (Certificate Transparency 2.0), section 2.1.

A purge certifies hundreds of deletions at once. Signing each certificate on its own cost more
than everything else the purge does for a file, so a batch is signed once: the signature covers
the root of a Merkle tree whose leaves are the batch's documents, and each certificate carries
its audit path, the sibling hashes from its leaf up to the root. A verifier rebuilds the root
from the document and the path and checks the one signature, offline, as before; changing the
document, the path, the position or the batch size breaks it.

Leaves and inner nodes are hashed with different prefixes (0x00, 0x01) so that no inner node
can pass for a leaf. A tree of ``n`` leaves splits at the largest power of two below ``n``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

#: The longest audit path accepted: a tree that deep has 2**64 leaves.
MAX_PATH = 64


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (``size`` > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def tree(leaves: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The root over the leaf hashes ``leaves``, and each leaf's audit path (leaf end first)."""
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    if len(leaves) == 1:
        return leaves[0], [[]]
    middle = _split(len(leaves))
    left_root, left_paths = tree(leaves[:middle])
    right_root, right_paths = tree(leaves[middle:])
    for path in left_paths:
        path.append(right_root)
    for path in right_paths:
        path.append(left_root)
    return node_hash(left_root, right_root), left_paths + right_paths


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that ``path`` leads to from ``leaf`` at ``index`` of a tree of ``size`` leaves,
    or None if the path cannot belong to such a tree (too short, too long, or out of range)."""
    if not 0 <= index < size or len(path) > MAX_PATH:
        return None
    position, last = index, size - 1
    node = leaf
    for sibling in path:
        if last == 0:
            return None  # more siblings than the tree has levels
        if position & 1 or position == last:
            node = node_hash(sibling, node)
            if not position & 1:
                # A right-most node without a sibling at this level is carried up unchanged.
                while position and not position & 1:
                    position >>= 1
                    last >>= 1
        else:
            node = node_hash(node, sibling)
        position >>= 1
        last >>= 1
    return node if last == 0 else None
