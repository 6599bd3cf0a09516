"""Just enough DER to wrap a bare TBSCertificate and to drop extensions from one."""

from __future__ import annotations

SEQUENCE = 0x30
# AlgorithmIdentifier { ecdsa-with-SHA256 } and an empty BIT STRING: a placeholder
# signature, enough for a parser to accept the structure around a TBS.
_DUMMY_SIG_ALG = bytes.fromhex("300a06082a8648ce3d040302")
_EMPTY_BIT_STRING = b"\x03\x01\x00"


class DERError(ValueError):
    """The bytes are not the DER structure expected."""


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(content)) + content


def read_header(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at `pos`; single-byte tags only."""
    end = len(data)
    if pos + 2 > end:
        raise DERError("truncated TLV header")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DERError("multi-byte tags are not used in certificates")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise DERError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise DERError("DER length past the end of the data")
    return tag, pos, pos + length


def wrap_tbs(tbs: bytes) -> bytes:
    """A Certificate SEQUENCE around a bare TBSCertificate, with a dummy signature."""
    return tlv(SEQUENCE, tbs + _DUMMY_SIG_ALG + _EMPTY_BIT_STRING)


def strip_extensions(tbs: bytes, oids: frozenset[bytes]) -> bytes:
    """The TBSCertificate without the extensions whose DER-encoded OID (tag+len+value) is listed.

    Used to turn a precertificate's TBS into the one a log stores (poison
    removed) and a final certificate's TBS into the same bytes (SCT list removed).
    """
    tag, start, end = read_header(tbs, 0)
    if tag != SEQUENCE or end != len(tbs):
        raise DERError("a TBSCertificate is one SEQUENCE")
    out = bytearray()
    pos = start
    while pos < end:
        item_tag, item_start, item_end = read_header(tbs, pos)
        if item_tag != 0xA3:  # [3] EXPLICIT Extensions
            out += tbs[pos:item_end]
            pos = item_end
            continue
        seq_tag, seq_start, seq_end = read_header(tbs, item_start)
        if seq_tag != SEQUENCE:
            raise DERError("extensions are a SEQUENCE")
        kept = bytearray()
        p = seq_start
        while p < seq_end:
            _, ext_start, ext_end = read_header(tbs, p)
            _, _, oid_end = read_header(tbs, ext_start)
            if tbs[ext_start:oid_end] not in oids:
                kept += tbs[p:ext_end]
            p = ext_end
        if kept:
            out += tlv(0xA3, tlv(SEQUENCE, bytes(kept)))
        pos = item_end
    return tlv(SEQUENCE, bytes(out))


def encode_oid(dotted: str) -> bytes:
    """DER encoding (tag, length, value) of an OBJECT IDENTIFIER."""
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, bytes(body))


POISON_OID = encode_oid("1.3.6.1.4.1.11129.2.4.3")
SCT_LIST_OID = encode_oid("1.3.6.1.4.1.11129.2.4.2")
