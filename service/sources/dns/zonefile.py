"""A streaming reader of RFC 1035 master files: NS delegations of huge zones in bounded memory."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from service.sources.dns.errors import ZoneFileError

CLASSES = frozenset({"IN", "CH", "HS", "CS", "NONE", "ANY"})
_TTL = re.compile(r"\d+|(?:\d+[smhdwSMHDW])+")
_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_CLASS_N = re.compile(r"CLASS\d+", re.IGNORECASE)
# Characters that need the slow, character-by-character tokenizer.
_SPECIAL = re.compile(r'["\\]')
_EMPTY_LABEL = re.compile(r"^\.|(?<!\\)\.\.|(?<!\\)\.$")
MAX_TOKEN = 65535  # no rdata field is longer; a longer one is a broken or hostile file
DEFAULT_BUCKETS = 256


@dataclass(frozen=True)
class Entry:
    """One logical line: its tokens, the line it starts on, and whether the owner was blank."""

    line: int
    tokens: list[str]
    blank_owner: bool


@dataclass(frozen=True)
class Record:
    """One resource record with the rdata left as tokens (only NS rdata is interpreted here)."""

    line: int
    owner: str  # absolute, lower case, no final dot ("" for the root)
    origin: str  # the $ORIGIN in force, for relative names in the rdata
    ttl: str | None
    rdclass: str
    rdtype: str
    rdata: list[str]


def _split_simple(text: str, line: int, depth: int) -> tuple[list[str], int]:
    """Tokens of a line without quotes or escapes: comments cut, parentheses counted."""
    cut = text.find(";")
    if cut >= 0:
        text = text[:cut]
    opens, closes = text.count("("), text.count(")")
    if opens or closes:
        # Balanced as we go: a ")" with nothing open is an error even if a "(" follows.
        level = depth
        for char in text:
            if char == "(":
                level += 1
            elif char == ")":
                level -= 1
                if level < 0:
                    raise ZoneFileError("')' without '('", line=line)
        depth = level
        text = text.replace("(", " ").replace(")", " ")
    return text.split(), depth


def _split_quoted(text: str, line: int, depth: int) -> tuple[list[str], int]:
    """Tokens of a line with quoted strings or backslash escapes (kept as written)."""
    tokens: list[str] = []
    current: list[str] = []
    in_token = False
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            # A quoted string is one token, quotes kept so "a b" stays distinct from a b.
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= n:
                raise ZoneFileError("unterminated quoted string", line=line)
            current.append(text[i : end + 1])
            in_token = True
            i = end + 1
            continue
        if char == "\\":
            if i + 1 >= n:
                raise ZoneFileError("backslash at the end of a line", line=line)
            current.append(text[i : i + 2])
            in_token = True
            i += 2
            continue
        if char == ";":
            break
        if char in " \t\r\n\f\v()":
            if in_token:
                tokens.append("".join(current))
                current, in_token = [], False
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth < 0:
                    raise ZoneFileError("')' without '('", line=line)
        else:
            current.append(char)
            in_token = True
        i += 1
    if in_token:
        tokens.append("".join(current))
    return tokens, depth


def tokenize(lines: Iterable[str]) -> Iterator[Entry]:
    """Logical entries of a master file: comments removed, parenthesised lines joined.

    Streams: holds one entry at a time. ZoneFileError for unbalanced parentheses,
    unterminated quotes and oversized tokens.
    """
    depth = 0
    pending: list[str] = []
    start = 0
    blank_owner = False
    number = 0
    for number, text in enumerate(lines, 1):
        if depth == 0:
            start = number
            blank_owner = text[:1] in (" ", "\t")
        split = _split_quoted if _SPECIAL.search(text) else _split_simple
        tokens, depth = split(text, number, depth)
        pending.extend(tokens)
        if any(len(t) > MAX_TOKEN for t in tokens):
            raise ZoneFileError("token too long", line=number)
        if depth == 0 and pending:
            yield Entry(start, pending, blank_owner)
            pending = []
    if depth:
        raise ZoneFileError(f"end of file inside parentheses opened at line {start}", line=number)


def _absolute(name: str, origin: str, line: int) -> str:
    """An owner or rdata name made absolute: lower case, no final dot, "" for the root."""
    if name == "@":
        return origin
    lowered = name.lower()
    if lowered.endswith(".") and not lowered.endswith("\\."):
        absolute = lowered[:-1]
    else:
        absolute = f"{lowered}.{origin}" if origin else lowered
    if _EMPTY_LABEL.search(absolute):
        raise ZoneFileError(f"empty label in name {name!r}", line=line)
    return absolute


def _start_origin(origin: str) -> str:
    if origin in ("", "."):
        return ""
    return _absolute(origin if origin.endswith(".") else origin + ".", "", 0)


def records(lines: Iterable[str], origin: str = "") -> Iterator[Record]:
    """Resource records of a master file, with $ORIGIN and $TTL applied.

    `origin` is the initial origin (absolute; "" or "." for the root). $INCLUDE
    is refused (a zone file must not make us read other files of the machine),
    as are $GENERATE and other unknown directives.
    """
    origin = _start_origin(origin)
    owner: str | None = None
    for entry in tokenize(lines):
        tokens, line = entry.tokens, entry.line
        first = tokens[0]
        if first.startswith("$") and not entry.blank_owner:
            directive = first.upper()
            if directive == "$ORIGIN":
                if len(tokens) != 2:
                    raise ZoneFileError("$ORIGIN takes one name", line=line)
                origin = _absolute(tokens[1], origin, line) if tokens[1] != "." else ""
            elif directive == "$TTL":
                if len(tokens) != 2 or not _TTL.fullmatch(tokens[1]):
                    raise ZoneFileError("$TTL takes one TTL", line=line)
            elif directive == "$INCLUDE":
                raise ZoneFileError("$INCLUDE is refused: expand the zone first", line=line)
            else:
                raise ZoneFileError(f"unsupported directive {first[:20]!r}", line=line)
            continue
        rest = tokens
        if entry.blank_owner:
            if owner is None:
                raise ZoneFileError("blank owner before any record", line=line)
        else:
            owner = origin if first == "@" else _absolute(first, origin, line)
            rest = tokens[1:]
        ttl: str | None = None
        rdclass = "IN"
        # TTL and class may come in either order, each at most once.
        for _ in range(2):
            if not rest:
                break
            if ttl is None and _TTL.fullmatch(rest[0]):
                ttl, rest = rest[0], rest[1:]
            elif rest[0].upper() in CLASSES or _CLASS_N.fullmatch(rest[0]):
                rdclass, rest = rest[0].upper(), rest[1:]
        if not rest or not _TYPE.fullmatch(rest[0]):
            raise ZoneFileError("missing record type", line=line)
        yield Record(line, owner, origin, ttl, rdclass, rest[0].upper(), rest[1:])


def open_zone(path: str | os.PathLike[str]) -> IO[str]:
    """A master file as text, gunzipped when it starts with the gzip magic."""
    try:
        with open(path, "rb") as probe:
            magic = probe.read(2)
        if magic == b"\x1f\x8b":
            return gzip.open(path, "rt", encoding="latin-1", newline="")
        # latin-1 maps every byte: a stray non-ASCII byte is a bad name, not a crash.
        return open(path, encoding="latin-1", newline="")
    except OSError as exc:
        raise ZoneFileError(f"{path}: {exc.strerror or exc}") from None


def ns_records(lines: Iterable[str], origin: str = "") -> Iterator[tuple[str, str]]:
    """(owner, name server) of every NS record, both absolute without the final dot."""
    for record in records(lines, origin):
        if record.rdtype != "NS" or record.rdclass != "IN":
            continue
        if len(record.rdata) != 1:
            raise ZoneFileError("NS takes exactly one name", line=record.line)
        yield record.owner, _absolute(record.rdata[0], record.origin, record.line)


def delegations(source: str | os.PathLike[str] | Iterable[str], origin: str = "") -> Iterator[str]:
    """Names delegated by a zone: owners of NS records other than the apex.

    The apex is the owner of the first SOA, or `origin` when there is none
    before the first NS. Repeats of the previous owner are skipped (NS sets are
    written together in every real zone file); a name whose NS records are
    scattered can come out more than once, so use `new_delegations` or a set
    when exact uniqueness matters.
    """
    lines: Iterable[str]
    handle: IO[str] | None = None
    if isinstance(source, (str, os.PathLike)):
        handle = lines = open_zone(source)
    else:
        lines = source
    try:
        apex: str | None = None
        previous: str | None = None
        for record in records(lines, origin):
            if record.rdtype == "SOA" and apex is None:
                apex = record.owner
                continue
            if record.rdtype != "NS" or record.rdclass != "IN":
                continue
            if apex is None:
                apex = _start_origin(origin)
            if record.owner == apex or record.owner == previous:
                continue
            if len(record.rdata) != 1:
                raise ZoneFileError("NS takes exactly one name", line=record.line)
            previous = record.owner
            yield record.owner
    except UnicodeDecodeError as exc:
        raise ZoneFileError(f"undecodable input: {exc}") from None
    except (OSError, EOFError) as exc:  # a truncated gzip stream, a read error
        raise ZoneFileError(f"cannot read the zone: {exc}") from None
    finally:
        if handle is not None:
            handle.close()


def _bucket(name: str, buckets: int) -> int:
    digest = hashlib.blake2b(name.encode("latin-1"), digest_size=4).digest()
    return int.from_bytes(digest, "big") % buckets


def _partition(source: str | os.PathLike[str], directory: Path, tag: str, buckets: int) -> None:
    files = [
        open(directory / f"{tag}.{i}", "w", encoding="latin-1", newline="\n")  # noqa: SIM115
        for i in range(buckets)
    ]
    try:
        for name in delegations(source):
            files[_bucket(name, buckets)].write(name + "\n")
    finally:
        for handle in files:
            handle.close()


def new_delegations(
    old: str | os.PathLike[str],
    new: str | os.PathLike[str],
    *,
    buckets: int = DEFAULT_BUCKETS,
    workdir: str | os.PathLike[str] | None = None,
) -> Iterator[str]:
    """Names delegated in `new` but not in `old`, each once, in no particular order.

    Both files are streamed once and hash-partitioned into `buckets` files on
    disk (in a temporary directory under `workdir`), then compared bucket by
    bucket. Memory is one old bucket as a set plus the new names seen in that
    bucket: about (delegations / buckets) x ~120 bytes, so ~60 MB for .com's
    ~160 M names at 256 buckets and 1 MB for the root zone. Disk is about the
    size of both name lists (~20 bytes per name). Raise `buckets` for bigger
    zones or smaller machines.
    """
    if buckets < 1:
        raise ValueError("buckets must be >= 1")
    with tempfile.TemporaryDirectory(prefix="pw-zone-diff-", dir=workdir) as tmp:
        directory = Path(tmp)
        _partition(old, directory, "old", buckets)
        _partition(new, directory, "new", buckets)
        for i in range(buckets):
            with open(directory / f"old.{i}", encoding="latin-1") as handle:
                known = {line.rstrip("\n") for line in handle}
            with open(directory / f"new.{i}", encoding="latin-1") as handle:
                for line in handle:
                    name = line.rstrip("\n")
                    if name not in known:
                        known.add(name)  # each new name once
                        yield name
