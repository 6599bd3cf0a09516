"""Tile paths, STH signatures (ECDSA and RSA) and signed-note checkpoints."""

from __future__ import annotations

import base64
import gzip

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from service.sources.ct import checkpoint
from service.sources.ct.errors import BadResponse, VerificationError
from service.sources.ct.sth import (
    SIG_ECDSA,
    SIG_RSA,
    LogKey,
    TreeHead,
    check_growth,
    encode_digitally_signed,
    tree_head_input,
    verify_sth,
)
from service.sources.ct.tiles import full_tiles_end, gunzip_if_needed, tile_index_path, tile_path


@pytest.mark.parametrize(
    ("n", "path"),
    [
        (0, "000"),
        (5, "005"),
        (999, "999"),
        (1000, "x001/000"),
        (1234067, "x001/x234/067"),
        (1_000_000_000, "x001/x000/x000/000"),
    ],
)
def test_tile_index_path(n: int, path: str) -> None:
    assert tile_index_path(n) == path


def test_tile_path_levels_and_partials() -> None:
    assert tile_path("data", 1234067) == "tile/data/x001/x234/067"
    assert tile_path(0, 3, 17) == "tile/0/003.p/17"
    assert tile_path(2, 1000) == "tile/2/x001/000"
    with pytest.raises(ValueError, match="width"):
        tile_path(0, 1, 0)
    assert full_tiles_end(1000) == 768
    assert full_tiles_end(512) == 512


def test_gunzip_if_needed_and_cap() -> None:
    assert gunzip_if_needed(b"\x00abc", 10) == b"\x00abc"
    assert gunzip_if_needed(gzip.compress(b"\x00" * 100), 1000) == b"\x00" * 100
    with pytest.raises(BadResponse, match="cap"):
        gunzip_if_needed(gzip.compress(b"\x00" * 5000), 1000)


def _spki(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _sth(size: int, root: bytes, ts: int, signed: bytes) -> dict[str, object]:
    return {
        "tree_size": size,
        "timestamp": ts,
        "sha256_root_hash": base64.b64encode(root).decode(),
        "tree_head_signature": base64.b64encode(signed).decode(),
    }


def test_sth_ecdsa_and_rsa() -> None:
    root = bytes(range(32))
    data = tree_head_input(10, root, 1234)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    signed = encode_digitally_signed(SIG_ECDSA, ec_key.sign(data, ec.ECDSA(hashes.SHA256())))
    assert verify_sth(_sth(10, root, 1234, signed), LogKey(_spki(ec_key))) == TreeHead(
        10, root, 1234
    )
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_sig = rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    signed_rsa = encode_digitally_signed(SIG_RSA, rsa_sig)
    assert verify_sth(_sth(10, root, 1234, signed_rsa), LogKey(_spki(rsa_key))).size == 10
    with pytest.raises(VerificationError, match="does not match the log's key type"):
        verify_sth(_sth(10, root, 1234, signed_rsa), LogKey(_spki(ec_key)))
    with pytest.raises(VerificationError):
        verify_sth(_sth(11, root, 1234, signed), LogKey(_spki(ec_key)))
    with pytest.raises(VerificationError, match="length"):
        verify_sth(_sth(10, root, 1234, signed + b"x"), LogKey(_spki(ec_key)))
    with pytest.raises(BadResponse, match="32 bytes"):
        verify_sth(_sth(10, root[:31], 1234, signed), LogKey(_spki(ec_key)))
    with pytest.raises(BadResponse, match="tree_size"):
        verify_sth({**_sth(10, root, 1234, signed), "tree_size": "10"}, LogKey(_spki(ec_key)))


def test_check_growth() -> None:
    a = TreeHead(10, b"a" * 32, 1)
    check_growth(None, a)
    check_growth(a, TreeHead(10, b"a" * 32, 2))
    check_growth(a, TreeHead(11, b"b" * 32, 2))
    with pytest.raises(VerificationError, match="shrank"):
        check_growth(a, TreeHead(9, b"a" * 32, 2))
    with pytest.raises(VerificationError, match="different roots"):
        check_growth(a, TreeHead(10, b"b" * 32, 2))
    assert TreeHead.from_json(a.to_json()) == a


def _note(key: ec.EllipticCurvePrivateKey, origin: str, size: int, root: bytes) -> bytes:
    log_key = LogKey(_spki(key))
    signed = encode_digitally_signed(
        SIG_ECDSA, key.sign(tree_head_input(size, root, 99), ec.ECDSA(hashes.SHA256()))
    )
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    witness = checkpoint.format_signature_line("witness.example", b"abcd", b"\x01" * 64)
    mine = checkpoint.format_signature_line(
        origin, checkpoint.key_id(origin, log_key.log_id), (99).to_bytes(8, "big") + signed
    )
    return (body + "\n" + witness + mine).encode()


def test_checkpoint_verifies_ignoring_witness_lines() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    root = bytes(32)
    note = _note(key, "log.example/2025", 1000, root)
    head = checkpoint.verify(note, "log.example/2025", LogKey(_spki(key)))
    assert head == TreeHead(1000, root, 99)


def test_checkpoint_failures() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    note = _note(key, "log.example/2025", 1000, bytes(32))
    with pytest.raises(VerificationError, match="origin"):
        checkpoint.verify(note, "other.example", LogKey(_spki(key)))
    with pytest.raises(VerificationError, match="no signature"):
        checkpoint.verify(note, "log.example/2025", LogKey(_spki(other)))
    tampered = note.replace(b"\n1000\n", b"\n1001\n")
    with pytest.raises(VerificationError, match="signature"):
        checkpoint.verify(tampered, "log.example/2025", LogKey(_spki(key)))
    for broken in [b"just text", note.split(b"\n\n")[0] + b"\n\n", b"o\n01\nAAAA\n\nx\n"]:
        with pytest.raises(BadResponse):
            checkpoint.parse(broken)


def test_key_id_definition() -> None:
    import hashlib

    log_id = bytes(range(32))
    expected = hashlib.sha256(b"example.com/log\n\x05" + log_id).digest()[:4]
    assert checkpoint.key_id("example.com/log", log_id) == expected
