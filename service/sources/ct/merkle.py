"""RFC 6962 / RFC 9162 Merkle trees: hashing, a storable compact range, and proof checks."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.sources.ct.errors import VerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf_input: bytes) -> bytes:
    """SHA-256(0x00 || MerkleTreeLeaf)."""
    return hashlib.sha256(b"\x00" + leaf_input).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


@dataclass
class CompactRange:
    """The right-edge subtree roots of leaves [0, size): everything needed to extend the tree.

    `hashes` holds one root per set bit of `size`, largest subtree first, so a
    tree of 10^9 leaves is summarised by at most 30 hashes: small enough for a
    database row, and enough to recompute the root after appending more leaves.
    """

    size: int = 0
    hashes: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.hashes) != self.size.bit_count():
            raise ValueError(
                f"a compact range of size {self.size} needs {self.size.bit_count()} "
                f"hashes, got {len(self.hashes)}"
            )
        if any(len(h) != HASH_SIZE for h in self.hashes):
            raise ValueError("compact range hashes must be 32 bytes")

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash at index `size`."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        h = leaf
        s = self.size
        # Each trailing 1 bit of the old size is a complete subtree of the same
        # height as the one being carried: merge them like binary addition.
        while s & 1:
            h = node_hash(self.hashes.pop(), h)
            s >>= 1
        self.hashes.append(h)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """The Merkle tree hash of leaves [0, size)."""
        if not self.hashes:
            return EMPTY_ROOT
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = node_hash(h, r)
        return r

    def verify(self, size: int, root: bytes) -> None:
        """Raise VerificationError unless this range covers exactly `size` leaves with `root`.

        Called when the reader has caught up with a verified tree head: it
        proves that no entry was skipped and that the entries served are the
        ones the log signed.
        """
        if size != self.size:
            raise VerificationError(f"compact range has {self.size} leaves, tree head {size}")
        if root != self.root():
            raise VerificationError(
                f"root of the {size} entries read does not match the signed tree head"
            )

    def copy(self) -> CompactRange:
        return CompactRange(self.size, list(self.hashes))

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "hashes": [base64.b64encode(h).decode() for h in self.hashes]}

    @classmethod
    def from_json(cls, data: Any) -> CompactRange:
        try:
            size = data["size"]
            hashes = [base64.b64decode(h, validate=True) for h in data["hashes"]]
        except (KeyError, TypeError, binascii.Error) as exc:
            raise ValueError(f"not a serialised compact range: {exc}") from None
        if not isinstance(size, int) or isinstance(size, bool):
            raise ValueError("compact range size must be an integer")
        return cls(size, hashes)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (O(n), for tests and the emulator)."""
    cr = CompactRange()
    cr.extend(leaves)
    return cr.root()


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]) (reference implementation for the emulator and tests)."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError("index outside the tree")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root_of(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root_of(leaves[:k])]


def consistency_proof(leaves: Sequence[bytes], first: int) -> list[bytes]:
    """RFC 6962 PROOF(m, D[n]) (reference implementation for the emulator and tests)."""
    n = len(leaves)
    if not 0 <= first <= n:
        raise ValueError("first size outside the tree")
    if first in (0, n):
        return []
    return _subproof(leaves, first, True)


def _subproof(leaves: Sequence[bytes], m: int, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root_of(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves[:k], m, complete), root_of(leaves[k:])]
    return [*_subproof(leaves[k:], m - k, False), root_of(leaves[:k])]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 section 2.1.3.2; raise VerificationError on failure."""
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion proof too short")
    if r != root:
        raise VerificationError("inclusion proof does not lead to the root")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 section 2.1.4.2; raise VerificationError on failure."""
    if first > second:
        raise VerificationError(f"tree shrank from {first} to {second}")
    if first == second:
        if proof:
            raise VerificationError("consistency proof between equal sizes must be empty")
        if first_root != second_root:
            raise VerificationError(f"two different roots for tree size {first}")
        return
    if first == 0:
        if proof:
            raise VerificationError("consistency proof from the empty tree must be empty")
        return
    path = list(proof)
    if first & (first - 1) == 0:
        # The old tree is a complete subtree: its root is the proof's implicit first node.
        path.insert(0, first_root)
    if not path:
        raise VerificationError("empty consistency proof")
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof too long")
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
    if sn != 0:
        raise VerificationError("consistency proof too short")
    if fr != first_root:
        raise VerificationError("consistency proof does not match the old root")
    if sr != second_root:
        raise VerificationError("consistency proof does not match the new root")
