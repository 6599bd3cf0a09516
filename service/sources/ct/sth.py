"""Signed tree heads: `TreeHead`, RFC 6962 STH JSON, and TLS DigitallySigned verification."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from service.sources.ct.errors import BadResponse, VerificationError

HASH_SHA256 = 4
SIG_RSA = 1
SIG_ECDSA = 3


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A tree size and its root hash, as signed by the log at `timestamp` (ms since epoch)."""

    size: int
    root: bytes
    timestamp: int

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_json(cls, data: Any) -> TreeHead:
        try:
            return cls(int(data["size"]), base64.b64decode(data["root"]), int(data["timestamp"]))
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ValueError(f"not a serialised tree head: {exc}") from None


def tree_head_input(size: int, root: bytes, timestamp: int) -> bytes:
    """The signed bytes: version v1, signature type tree_hash, timestamp, size, root."""
    return struct.pack(">BBQQ", 0, 1, timestamp, size) + root


def encode_digitally_signed(signature_algorithm: int, signature: bytes) -> bytes:
    return struct.pack(">BBH", HASH_SHA256, signature_algorithm, len(signature)) + signature


class LogKey:
    """A log's public key (DER SubjectPublicKeyInfo), loaded once."""

    def __init__(self, spki_der: bytes) -> None:
        try:
            key = load_der_public_key(spki_der)
        except ValueError as exc:
            raise ValueError(f"not a DER public key: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise ValueError(f"unsupported log key type {type(key).__name__}")
        self.der = spki_der
        self.key = key
        self.log_id = hashlib.sha256(spki_der).digest()

    def verify(self, data: bytes, digitally_signed: bytes) -> None:
        """Check a TLS DigitallySigned blob over `data`; raise VerificationError."""
        if len(digitally_signed) < 4:
            raise VerificationError("DigitallySigned is truncated")
        hash_alg, sig_alg, length = struct.unpack(">BBH", digitally_signed[:4])
        signature = digitally_signed[4:]
        if len(signature) != length:
            raise VerificationError("DigitallySigned length does not match its signature")
        if hash_alg != HASH_SHA256:
            raise VerificationError(f"unsupported hash algorithm {hash_alg}")
        try:
            if sig_alg == SIG_ECDSA and isinstance(self.key, ec.EllipticCurvePublicKey):
                self.key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            elif sig_alg == SIG_RSA and isinstance(self.key, rsa.RSAPublicKey):
                self.key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            else:
                raise VerificationError(
                    f"signature algorithm {sig_alg} does not match the log's key type"
                )
        except InvalidSignature:
            raise VerificationError("signature does not verify with the log's key") from None


def _b64(body: dict[str, Any], field: str) -> bytes:
    value = body.get(field)
    if not isinstance(value, str):
        raise BadResponse(f"STH: `{field}` missing or not a string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise BadResponse(f"STH: `{field}` is not base64") from None


def _uint(body: dict[str, Any], field: str) -> int:
    value = body.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**64:
        raise BadResponse(f"STH: `{field}` missing or not an unsigned integer")
    return value


def parse_sth(body: Any) -> tuple[TreeHead, bytes]:
    """The tree head and its DigitallySigned signature from a get-sth response."""
    if not isinstance(body, dict):
        raise BadResponse("STH: not a JSON object")
    root = _b64(body, "sha256_root_hash")
    if len(root) != 32:
        raise BadResponse("STH: root hash is not 32 bytes")
    head = TreeHead(_uint(body, "tree_size"), root, _uint(body, "timestamp"))
    return head, _b64(body, "tree_head_signature")


def verify_sth(body: Any, key: LogKey) -> TreeHead:
    """A get-sth response's tree head once its signature verifies."""
    head, signature = parse_sth(body)
    key.verify(tree_head_input(head.size, head.root, head.timestamp), signature)
    return head


def check_growth(old: TreeHead | None, new: TreeHead) -> None:
    """Trees only grow, and one size has one root; raise VerificationError otherwise."""
    if old is None:
        return
    if new.size < old.size:
        raise VerificationError(f"tree shrank from {old.size} to {new.size}")
    if new.size == old.size and new.root != old.root:
        raise VerificationError(f"two different roots for tree size {new.size}")
