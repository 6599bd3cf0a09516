"""Merkle hashing, the compact range and both proofs, against a naive tree."""

from __future__ import annotations

import hashlib
import json

import pytest

from service.sources.ct.errors import VerificationError
from service.sources.ct.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(300)]


def naive_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(naive_root(leaves[:k]), naive_root(leaves[k:]))


def test_hash_prefixes() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert CompactRange().root() == hashlib.sha256(b"").digest()


def test_compact_range_matches_naive_root_for_every_size_to_300() -> None:
    cr = CompactRange()
    for n in range(1, 301):
        cr.append(LEAVES[n - 1])
        assert len(cr.hashes) == bin(n).count("1")
        assert cr.root() == naive_root(LEAVES[:n]), n


def test_compact_range_round_trips_through_json() -> None:
    cr = CompactRange()
    cr.extend(LEAVES[:237])
    stored = json.dumps(cr.to_json())
    again = CompactRange.from_json(json.loads(stored))
    assert again == cr
    again.extend(LEAVES[237:])
    cr.extend(LEAVES[237:])
    assert again.root() == cr.root() == naive_root(LEAVES)


def test_compact_range_rejects_inconsistent_json() -> None:
    with pytest.raises(ValueError, match="needs"):
        CompactRange.from_json({"size": 3, "hashes": []})
    with pytest.raises(ValueError, match="not a serialised"):
        CompactRange.from_json({"hashes": []})


def test_compact_range_verify() -> None:
    cr = CompactRange()
    cr.extend(LEAVES[:10])
    cr.verify(10, naive_root(LEAVES[:10]))
    with pytest.raises(VerificationError, match="does not match"):
        cr.verify(10, naive_root(LEAVES[:9]))
    with pytest.raises(VerificationError, match="leaves"):
        cr.verify(11, naive_root(LEAVES[:11]))


def test_inclusion_proofs_all_positions() -> None:
    for n in (1, 2, 3, 7, 8, 9, 64, 100):
        root = naive_root(LEAVES[:n])
        for i in range(n):
            verify_inclusion(LEAVES[i], i, n, inclusion_proof(LEAVES[:n], i), root)


def test_inclusion_proof_failures() -> None:
    proof = inclusion_proof(LEAVES[:100], 42)
    root = root_of(LEAVES[:100])
    with pytest.raises(VerificationError):
        verify_inclusion(LEAVES[43], 42, 100, proof, root)
    with pytest.raises(VerificationError):
        verify_inclusion(LEAVES[42], 42, 100, proof[:-1], root)
    with pytest.raises(VerificationError):
        verify_inclusion(LEAVES[42], 42, 100, [*proof, proof[0]], root)
    with pytest.raises(VerificationError):
        verify_inclusion(LEAVES[42], 100, 100, proof, root)


def test_consistency_proofs_all_pairs() -> None:
    for n in (1, 2, 5, 8, 13, 32, 77):
        for m in range(0, n + 1):
            proof = consistency_proof(LEAVES[:n], m)
            verify_consistency(m, n, naive_root(LEAVES[:m]), naive_root(LEAVES[:n]), proof)


def test_consistency_proof_failures() -> None:
    proof = consistency_proof(LEAVES[:77], 13)
    old, new = root_of(LEAVES[:13]), root_of(LEAVES[:77])
    with pytest.raises(VerificationError):
        verify_consistency(13, 77, root_of(LEAVES[1:14]), new, proof)
    with pytest.raises(VerificationError):
        verify_consistency(13, 77, old, root_of(LEAVES[:76]), proof)
    with pytest.raises(VerificationError):
        verify_consistency(13, 77, old, new, proof[1:])
    with pytest.raises(VerificationError, match="shrank"):
        verify_consistency(77, 13, new, old, proof)
    with pytest.raises(VerificationError, match="different roots"):
        verify_consistency(13, 13, old, new, [])
