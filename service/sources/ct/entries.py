"""Log entries of both read protocols, parsed into `LogEntry`, and the names they certify."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import idna
from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

from service.sources.ct.der import wrap_tbs
from service.sources.ct.errors import BadResponse, MalformedEntry

EntryType = Literal["x509", "precert"]
X509_ENTRY = 0
PRECERT_ENTRY = 1
_MERKLE_LEAF_PREFIX = b"\x00\x00"  # MerkleTreeLeaf: version v1, leaf type timestamped_entry


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log entry. `leaf_hash` is always set, even for a malformed entry.

    The pipeline must append every leaf hash to its compact range, malformed or
    not, or the root check at the tree head fails; `malformed` says why the
    content could not be decoded, and `names()` raises `MalformedEntry` for it.
    """

    index: int
    timestamp_ms: int
    entry_type: EntryType
    leaf_hash: bytes
    cert_der: bytes | None = None  # x509 entries: the certificate
    tbs_der: bytes | None = None  # precert entries: the TBSCertificate, poison removed
    issuer_key_hash: bytes | None = None  # precert entries: SHA-256 of the issuer's SPKI
    malformed: str | None = None


class _Reader:
    """A bounds-checked cursor over TLS-encoded bytes."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def take(self, n: int) -> bytes:
        start = self.pos
        stop = start + n
        if stop > self.end:
            raise ValueError(f"needs {n} bytes at offset {start}, {self.end - start} left")
        self.pos = stop
        return self.data[start:stop]

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def vector(self, length_bytes: int) -> bytes:
        return self.take(self.uint(length_bytes))


_Timestamped = tuple[int, EntryType, bytes | None, bytes | None, bytes | None, bytes]


def _timestamped_entry(r: _Reader) -> _Timestamped:
    """Read a TimestampedEntry: (timestamp, type, cert, tbs, issuer_key_hash, extensions)."""
    timestamp = r.uint(8)
    kind = r.uint(2)
    if kind == X509_ENTRY:
        cert = r.vector(3)
        return timestamp, "x509", cert, None, None, r.vector(2)
    if kind == PRECERT_ENTRY:
        issuer_key_hash = r.take(32)
        tbs = r.vector(3)
        return timestamp, "precert", None, tbs, issuer_key_hash, r.vector(2)
    raise ValueError(f"unknown entry type {kind}")


def leaf_index_extension(extensions: bytes) -> int | None:
    """The static-ct-api `leaf_index` CtExtension (type 0, u40), if present."""
    r = _Reader(extensions)
    while r.pos < r.end:
        kind = r.uint(1)
        value = r.vector(2)
        if kind == 0 and len(value) == 5:
            return int.from_bytes(value, "big")
    return None


def parse_leaf_input(index: int, leaf_input: bytes) -> LogEntry:
    """An RFC 6962 `leaf_input` (MerkleTreeLeaf); raises MalformedEntry."""
    try:
        if leaf_input[:2] != _MERKLE_LEAF_PREFIX:
            raise ValueError("not a v1 timestamped_entry leaf")
        r = _Reader(leaf_input, 2)
        timestamp, kind, cert, tbs, ikh, _ = _timestamped_entry(r)
        if r.pos != r.end:
            raise ValueError(f"{r.end - r.pos} trailing bytes after the leaf")
    except ValueError as exc:
        raise MalformedEntry(index, str(exc)) from None
    return LogEntry(index, timestamp, kind, _leaf_hash(leaf_input), cert, tbs, ikh)


def _leaf_hash(leaf_input: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf_input).digest()


def rfc6962_entry(index: int, leaf_input: bytes) -> LogEntry:
    """Like parse_leaf_input, but a malformed leaf yields a LogEntry flagged `malformed`.

    `extra_data` (the chain) is not authenticated by the tree and not needed for
    names, so the fast path ignores it.
    """
    try:
        return parse_leaf_input(index, leaf_input)
    except MalformedEntry as exc:
        return LogEntry(index, 0, "x509", _leaf_hash(leaf_input), malformed=exc.reason)


def entries_from_json(start: int, body: Any) -> list[LogEntry]:
    """The `entries` of a get-entries response, numbered from `start`."""
    if not isinstance(body, dict) or not isinstance(body.get("entries"), list):
        raise BadResponse("get-entries: no `entries` list")
    out = []
    for offset, item in enumerate(body["entries"]):
        if not isinstance(item, dict) or not isinstance(item.get("leaf_input"), str):
            raise BadResponse(f"get-entries: entry {start + offset} has no leaf_input")
        try:
            leaf_input = base64.b64decode(item["leaf_input"], validate=True)
        except binascii.Error:
            raise BadResponse(f"get-entries: entry {start + offset} is not base64") from None
        out.append(rfc6962_entry(start + offset, leaf_input))
    return out


def parse_data_tile(first_index: int, data: bytes, count: int) -> list[LogEntry]:
    """The `count` entries of a static-ct-api data tile starting at `first_index`.

    A framing error loses the position of every later entry, so it fails the
    whole tile with BadResponse (the log serves a broken tile), unlike a bad
    certificate inside a well-framed entry, which only flags that entry.
    """
    out: list[LogEntry] = []
    r = _Reader(data)
    index = first_index
    try:
        for index in range(first_index, first_index + count):
            start = r.pos
            timestamp, kind, cert, tbs, ikh, extensions = _timestamped_entry(r)
            leaf = _MERKLE_LEAF_PREFIX + data[start : r.pos]
            # A free check that the tile holds the entries its path claims.
            claimed = leaf_index_extension(extensions)
            if claimed is not None and claimed != index:
                raise ValueError(f"its leaf_index extension says {claimed}")
            if kind == "precert":
                r.vector(3)  # the pre-certificate, not authenticated by the tree
            fingerprints = r.vector(2)
            if len(fingerprints) % 32:
                raise ValueError("chain fingerprints are not 32-byte hashes")
            out.append(LogEntry(index, timestamp, kind, _leaf_hash(leaf), cert, tbs, ikh))
    except ValueError as exc:
        raise BadResponse(f"data tile at {first_index}: entry {index}: {exc}") from None
    if r.pos != r.end:
        raise BadResponse(
            f"data tile at {first_index}: {r.end - r.pos} bytes after {count} entries"
        )
    return out


@dataclass(frozen=True, slots=True)
class Extracted:
    """What the pipeline needs from one entry."""

    names: list[str]
    dedup_key: bytes


def certificate(entry: LogEntry) -> x509.Certificate:
    """The entry's certificate; for a precert, its TBS wrapped so that `cryptography` loads it."""
    if entry.malformed is not None:
        raise MalformedEntry(entry.index, entry.malformed)
    der = entry.cert_der if entry.entry_type == "x509" else wrap_tbs(entry.tbs_der or b"")
    try:
        return x509.load_der_x509_certificate(der or b"")
    except ValueError as exc:
        raise MalformedEntry(entry.index, f"unparseable certificate: {exc}") from None


def extract(entry: LogEntry) -> Extracted:
    """Names and dedup key of an entry, parsing the certificate once; raises MalformedEntry."""
    cert = certificate(entry)
    try:
        raw = [
            a.value if isinstance(a.value, str) else a.value.decode("utf-8", "replace")
            for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ]
        try:
            san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        except x509.ExtensionNotFound:
            pass
        else:
            assert isinstance(san.value, x509.SubjectAlternativeName)
            raw.extend(san.value.get_values_for_type(x509.DNSName))
        if entry.entry_type == "precert":
            tbs = entry.tbs_der or b""
        else:
            try:
                # The final certificate's TBS without its SCT list is byte for
                # byte the precertificate TBS that the logs store.
                tbs = cert.tbs_precertificate_bytes
            except ValueError:
                tbs = cert.tbs_certificate_bytes
    except ValueError as exc:
        raise MalformedEntry(entry.index, f"unparseable certificate: {exc}") from None
    return Extracted(normalize_names(raw), hashlib.sha256(tbs).digest())


def names(entry: LogEntry) -> list[str]:
    """Subject CNs and SAN dNSNames, normalised and deduplicated; raises MalformedEntry."""
    return extract(entry).names


def dedup_key(entry: LogEntry) -> bytes:
    """Equal for a precertificate and its final certificate, in any log."""
    return extract(entry).dedup_key


def normalize_names(raw: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in raw:
        name = normalize_name(value)
        if name is not None:
            seen.setdefault(name, None)
    return list(seen)


_BAD_CHARS = frozenset(" \t\r\n\x00@/\\")


def normalize_name(value: str) -> str | None:
    """Lowercase A-label form of a certificate name, or None when it is not a host name.

    A CN with a space ("Acme Inc") or an e-mail address is not a host name.
    ASCII names are kept even when IDNA would refuse them (`_dmarc.x`,
    `a--b.x`): lookalike detection wants to see them.
    """
    name = value.strip().lower().rstrip(".")
    if not name or name == "*" or not _BAD_CHARS.isdisjoint(name):
        return None
    if name.startswith(".") or ".." in name:
        return None
    prefix = ""
    if name.startswith("*."):
        prefix, name = "*.", name[2:]
        if not name:
            return None
    if name.isascii():
        return prefix + name
    try:
        return prefix + idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError:
        pass
    labels = []
    for label in name.split("."):
        if label.isascii():
            labels.append(label)
            continue
        try:
            labels.append(idna.encode(label, uts46=True).decode("ascii"))
        except idna.IDNAError:
            return None
    return prefix + ".".join(labels)
