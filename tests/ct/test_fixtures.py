"""Byte-exact checks on real CT data in ../shared/data/ct (skipped in a fresh clone)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from service.sources.ct.entries import entries_from_json, extract, names, parse_data_tile
from service.sources.ct.errors import VerificationError
from service.sources.ct.loglist import load_log_list
from service.sources.ct.merkle import verify_consistency, verify_inclusion
from service.sources.ct.sth import LogKey, verify_sth
from service.sources.ct.tiles import parse_hash_tile
from tests.ct.conftest import ct_data

ARGON = "rfc6962_argon2020/"
ENTRY_10000_LEAF_HASH = "nCs3mfIydh9x4CKyQ+u2xtmpxmFggA5MLymHwNQSlLg="
OLD_ROOT_3654490 = "AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ="


def _json(relative: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(ct_data(relative).read_bytes())
    return data


def _argon_key() -> LogKey:
    logs = load_log_list(ct_data("loglist/all_logs_list_v53.34_20250505.json"))
    return LogKey(logs.find("Google 'Argon2020' log").key)


def test_argon2020_entry_10000_leaf_hash_and_names() -> None:
    body = _json(ARGON + "get-entries-start-10000-end-10000.json")
    (entry,) = entries_from_json(10000, body)
    assert entry.index == 10000
    assert entry.entry_type == "x509"
    assert base64.b64encode(entry.leaf_hash).decode() == ENTRY_10000_LEAF_HASH
    assert names(entry) == ["*.landlords.com.au", "landlords.com.au"]
    assert entry.timestamp_ms == 1505737861715


def test_argon2020_sth_signature_verifies_and_tampering_fails() -> None:
    sth = _json(ARGON + "get-sth.json")
    key = _argon_key()
    head = verify_sth(sth, key)
    assert head.size == 961984011
    tampered = dict(sth, tree_size=961984012)
    with pytest.raises(VerificationError):
        verify_sth(tampered, key)


def test_argon2020_inclusion_proof_of_entry_10000() -> None:
    head = verify_sth(_json(ARGON + "get-sth.json"), _argon_key())
    proof_files = sorted(ct_data("rfc6962_argon2020").glob("get-proof-by-hash-*.json"))
    proof = json.loads(proof_files[0].read_bytes())
    path = [base64.b64decode(h) for h in proof["audit_path"]]
    leaf = base64.b64decode(ENTRY_10000_LEAF_HASH)
    verify_inclusion(leaf, proof["leaf_index"], head.size, path, head.root)
    with pytest.raises(VerificationError):
        verify_inclusion(leaf, proof["leaf_index"] + 1, head.size, path, head.root)


def test_argon2020_consistency_proof_from_3654490() -> None:
    head = verify_sth(_json(ARGON + "get-sth.json"), _argon_key())
    body = _json(ARGON + "get-sth-consistency-first-3654490-second-961984011.json")
    assert isinstance(body["consistency"], list)
    proof = [base64.b64decode(h) for h in body["consistency"]]
    old_root = base64.b64decode(OLD_ROOT_3654490)
    verify_consistency(3654490, head.size, old_root, head.root, proof)
    with pytest.raises(VerificationError):
        verify_consistency(3654490, head.size, bytes(32), head.root, proof)


def test_navigli_data_tile_leaf_hashes_equal_the_level0_hash_tile() -> None:
    data = ct_data("static_ct/navigli2025h2/tile/data/000").read_bytes()
    hashes = parse_hash_tile(ct_data("static_ct/navigli2025h2/tile/0/000").read_bytes(), 256)
    entries = parse_data_tile(0, data, 256)
    assert len(entries) == 256
    assert [e.leaf_hash for e in entries] == hashes
    assert {e.entry_type for e in entries} == {"precert"}
    assert [e.index for e in entries] == list(range(256))


def test_navigli_names_and_dedup_keys() -> None:
    data = ct_data("static_ct/navigli2025h2/tile/data/000").read_bytes()
    entries = parse_data_tile(0, data, 256)
    extracted = [extract(e) for e in entries]
    assert all(x.names for x in extracted)
    assert "379y4cn892427n987l.mexi.my" in extracted[1].names
    for x in extracted:
        assert all(n == n.lower().strip() and not n.endswith(".") for n in x.names)
    # precert dedup key = SHA-256 of the leaf TBS
    assert extracted[0].dedup_key == hashlib.sha256(entries[0].tbs_der or b"").digest()


@pytest.mark.parametrize(
    ("filename", "rfc6962", "tiled"),
    [
        ("all_logs_list_v53.34_20250505.json", 175, 6),
        ("log_list_v81.14_20260120.json", 49, 26),
    ],
)
def test_real_log_lists_parse_and_every_log_id_is_the_key_hash(
    filename: str, rfc6962: int, tiled: int
) -> None:
    path = ct_data("loglist/" + filename)
    parsed = load_log_list(path)
    assert parsed.rejected == []
    assert sum(log.protocol == "rfc6962" for log in parsed.logs) == rfc6962
    assert sum(log.protocol == "static" for log in parsed.logs) == tiled
    raw = json.loads(path.read_bytes())
    for op in raw["operators"]:
        for log in op.get("logs", []) + op.get("tiled_logs", []):
            key = base64.b64decode(log["key"])
            assert base64.b64decode(log["log_id"]) == hashlib.sha256(key).digest()
    for log in parsed.logs:
        LogKey(log.key)  # every key loads


def test_monitored_filter_on_the_2026_list() -> None:
    parsed = load_log_list(ct_data("loglist/log_list_v81.14_20260120.json"))
    monitored = parsed.monitored()
    assert monitored
    assert {log.state for log in monitored} <= {"usable", "qualified", "readonly"}
    assert any(log.protocol == "static" for log in monitored)
    sycamore = parsed.find("Sycamore2025h2d")
    assert sycamore.url == "https://mon.sycamore.ct.letsencrypt.org/2025h2d/"
    assert sycamore.origin == "log.sycamore.ct.letsencrypt.org/2025h2d"
    for log in parsed.logs:
        if log.state == "readonly":
            assert log.final_tree_head is not None
