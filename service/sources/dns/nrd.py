"""Newly-registered-domain lists: one domain a line, plain, gzip or zip, bad lines reported."""

from __future__ import annotations

import gzip
import io
import os
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

import httpx

from service.detection import normalize_domain
from service.detection.normalize import (
    MAX_NAME,
    PLAIN_HOST,
    InvalidDomain,
    split_ascii,
    suffix_lengths,
)
from service.sources.dns.errors import FeedError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
# A day of the biggest public NRD feeds is ~200k names (~5 MB); far more is a
# broken or hostile feed (or a decompression bomb).
MAX_FEED_BYTES = 64 * 1024 * 1024
MAX_LINE = 1024


@dataclass(frozen=True)
class BadLine:
    """A line that is not a domain name: skipped, reported with its 1-based number."""

    line: int
    text: str
    reason: str


@dataclass
class NrdList:
    """The names of one feed, in feed order, each once (IDNs as A-labels)."""

    domains: list[str] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    duplicates: int = 0


def _names(lines: Iterable[bytes], out: NrdList, seen: set[str]) -> Iterator[str]:
    """The names of `lines` not in `seen`, in order, as the lines are read.

    Bad lines and repeats are recorded in `out` (whose `domains` are left alone).
    """
    plain = PLAIN_HOST.fullmatch
    reason: str | None
    name: str | None
    for number, raw in enumerate(lines, 1):
        # Most lines of a real feed are plain lowercase hosts: this gives what
        # _parse_line would for them, at half its cost.
        text = raw.rstrip(b"\r\n").decode("ascii", "replace")
        labels = text.split(".")
        if (
            plain(text)
            and "xn--" not in text
            and len(text) <= MAX_NAME
            and suffix_lengths(labels)[0] < len(labels)
        ):
            reason, name = None, text
        else:
            reason, name = _parse_line(raw, number)
        if reason is None and name is None:
            continue
        if reason is not None:
            text = raw[:100].decode("utf-8", "replace").strip()
            out.bad.append(BadLine(number, text, reason))
        elif name in seen:
            out.duplicates += 1
        elif name is not None:
            seen.add(name)
            yield name


def _parse_line(raw: bytes, number: int) -> tuple[str | None, str | None]:
    """(reason, None) for a bad line, (None, name) for a good one, (None, None) to skip."""
    if len(raw) > MAX_LINE:
        return "line too long", None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8", None
    if number == 1:
        text = text.lstrip("\ufeff")
    text = text.strip()
    if not text or text.startswith("#"):
        return None, None
    if "/" in text:
        # normalize_domain would take the host out of a URL; a feed line must be a name.
        return "a URL, not a domain name", None
    fast = split_ascii(text)
    if fast is not None and not fast[2] and fast[3] < len(fast[1]):
        # A plain ASCII host with a label left of its public suffix (most lines): the
        # full normalization (IDNA, skeletons) is the scorer's job, not the reader's.
        return None, fast[0]
    try:
        name = normalize_domain(text)
    except InvalidDomain as exc:
        return str(exc), None
    if name.wildcard:
        return "wildcard, not a domain name", None
    if name.registrable is None:
        return "a public suffix, not a registered domain", None
    return None, name.ascii


def _content(handle: IO[bytes]) -> bytes:
    content = handle.read(MAX_FEED_BYTES + 1)
    if len(content) > MAX_FEED_BYTES:
        raise FeedError(f"feed larger than {MAX_FEED_BYTES} bytes once decompressed")
    return content


def _open(stream: IO[bytes]) -> IO[bytes]:
    magic = stream.read(4)
    stream.seek(0)
    if magic.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=stream)  # type: ignore[return-value]
    if magic == ZIP_MAGIC:
        archive = zipfile.ZipFile(stream)
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            raise FeedError(f"a zip feed must hold exactly one file, not {len(members)}")
        return archive.open(members[0])
    return stream


class NrdStream:
    """A feed already read and decompressed, its lines parsed as its names are taken.

    Iterate it (once) for the names: in feed order, each once, IDNs as A-labels,
    as `read_nrd` lists them. `bad` and `duplicates` fill as the lines are parsed,
    so a consumer (the feed ingester) starts on the first names while the later
    lines are still unread.
    """

    def __init__(self, content: bytes) -> None:
        self._found = NrdList()  # bad lines and repeats so far (its `domains` stay empty)
        self._names = _names(io.BytesIO(content), self._found, set())
        self._lines = content.count(b"\n") + (not content.endswith(b"\n"))
        self._taken = 0

    @property
    def bad(self) -> list[BadLine]:
        return self._found.bad

    @property
    def duplicates(self) -> int:
        return self._found.duplicates

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        name = next(self._names)
        self._taken += 1
        return name

    def __length_hint__(self) -> int:
        """Names still to come, at most (lines not yet parsed): to plan work, not a count."""
        return max(0, self._lines - self._taken - len(self.bad) - self.duplicates)

    def to_list(self) -> NrdList:
        """The names not taken yet, with the bad lines and repeats: `read_nrd`'s result."""
        return NrdList(domains=list(self), bad=self.bad, duplicates=self.duplicates)


def open_nrd(source: str | os.PathLike[str] | bytes) -> NrdStream:
    """A feed from a file path or from bytes (plain, gzip or zip: detected by magic).

    The source is read and decompressed here, so FeedError (unreadable, over 64 MiB
    once decompressed) comes before any name does; lines are parsed as names are taken.
    """
    try:
        if isinstance(source, bytes):
            if len(source) <= MAX_FEED_BYTES and not source.startswith((GZIP_MAGIC, ZIP_MAGIC)):
                return NrdStream(source)  # plain text: parsed in place, not copied
            with _open(io.BytesIO(source)) as handle:
                return NrdStream(_content(handle))
        with open(source, "rb") as raw, _open(raw) as handle:
            return NrdStream(_content(handle))
    except FeedError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        # gzip.BadGzipFile is an OSError; so are missing files.
        raise FeedError(f"cannot read the feed: {exc}") from None


def read_nrd(source: str | os.PathLike[str] | bytes) -> NrdList:
    """A feed from a file path or from bytes (plain, gzip or zip: detected by magic).

    FeedError when the source as a whole cannot be read; bad lines are in `.bad`.
    """
    return open_nrd(source).to_list()


async def fetch_feed(
    url: str,
    http_client: httpx.AsyncClient,
    *,
    max_bytes: int = MAX_FEED_BYTES,
    timeout: float = 60.0,
) -> bytes:
    """The body of a feed URL, for `read_nrd`; FeedError on HTTP errors, timeouts, oversize.

    The caller owns `http_client` (build it with `transport=` to test offline).
    """
    try:
        async with http_client.stream("GET", url, timeout=httpx.Timeout(timeout)) as resp:
            if resp.status_code != 200:
                raise FeedError(f"{url}: HTTP {resp.status_code}")
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FeedError(f"{url}: {declared} bytes is over the {max_bytes}-byte cap")
            chunks: list[bytes] = []
            total = 0
            async for chunk in resp.aiter_bytes():
                total += len(chunk)
                if total > max_bytes:
                    raise FeedError(f"{url}: body over the {max_bytes}-byte cap")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise FeedError(f"{url}: {type(exc).__name__}: {exc}") from None
