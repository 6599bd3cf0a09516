"""C2SP signed-note checkpoints of static-ct-api logs: parse, and verify the log's signature."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from service.sources.ct.errors import BadResponse, VerificationError
from service.sources.ct.sth import LogKey, TreeHead, tree_head_input

SIGNATURE_PREFIX = "\u2014 "  # em dash and space
_RFC6962_NOTE_SIGNATURE_TYPE = b"\x05"


def key_id(origin: str, log_id: bytes) -> bytes:
    """The 4-byte key ID of a log's RFC6962NoteSignature: SHA-256(name || 0x0A || 0x05 || id)."""
    data = origin.encode() + b"\n" + _RFC6962_NOTE_SIGNATURE_TYPE + log_id
    return hashlib.sha256(data).digest()[:4]


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    key_id: bytes
    blob: bytes  # after the key ID


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    body: bytes  # the signed text, up to and including the newline before the blank line
    signatures: tuple[Signature, ...]


def parse(note: bytes) -> Checkpoint:
    """A checkpoint note; raise BadResponse when it is not one."""
    try:
        text = note.decode("utf-8")
    except UnicodeDecodeError:
        raise BadResponse("checkpoint is not UTF-8") from None
    body, sep, sigs = text.partition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise BadResponse("checkpoint has no signature block")
    lines = body.split("\n")
    if len(lines) < 3:
        raise BadResponse("checkpoint body needs origin, size and root hash")
    origin, size_text, root_text = lines[:3]
    if not origin or not size_text.isdigit() or (size_text != "0" and size_text[0] == "0"):
        raise BadResponse("checkpoint origin or tree size is malformed")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        raise BadResponse("checkpoint root hash is not base64") from None
    if len(root) != 32:
        raise BadResponse("checkpoint root hash is not 32 bytes")
    signatures = []
    for line in sigs[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise BadResponse("checkpoint signature line is malformed")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise BadResponse("checkpoint signature is not base64") from None
        if not name or len(raw) < 5:
            raise BadResponse("checkpoint signature line is malformed")
        signatures.append(Signature(name, raw[:4], raw[4:]))
    return Checkpoint(origin, int(size_text), root, (body + "\n").encode(), tuple(signatures))


def verify(note: bytes, origin: str, key: LogKey) -> TreeHead:
    """The tree head of a checkpoint signed by the log `origin` with `key`.

    Lines from other keys (witness cosignatures) are ignored; at least one line
    must be the log's, and every line claiming to be the log's must verify.
    """
    cp = parse(note)
    if cp.origin != origin:
        raise VerificationError(f"checkpoint origin {cp.origin!r}, expected {origin!r}")
    kid = key_id(origin, key.log_id)
    head: TreeHead | None = None
    for sig in cp.signatures:
        if sig.name != origin or sig.key_id != kid:
            continue
        if len(sig.blob) < 8:
            raise VerificationError("checkpoint signature has no timestamp")
        timestamp = int.from_bytes(sig.blob[:8], "big")
        key.verify(tree_head_input(cp.size, cp.root, timestamp), sig.blob[8:])
        head = TreeHead(cp.size, cp.root, timestamp)
    if head is None:
        raise VerificationError("checkpoint carries no signature from the log's key")
    return head


def format_signature_line(name: str, kid: bytes, blob: bytes) -> str:
    return f"{SIGNATURE_PREFIX}{name} {base64.b64encode(kid + blob).decode()}\n"
