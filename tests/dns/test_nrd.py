"""Newly-registered-domain feeds: line rules, compression by magic, the fetch, the real list."""

from __future__ import annotations

import asyncio
import gzip
import io
import operator
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.sources.dns import nrd
from service.sources.dns.errors import FeedError
from service.sources.dns.nrd import fetch_feed, open_nrd, read_nrd
from tests.dns.conftest import shared_data

FEED = (
    "\ufeff# whoisds-style list, 2025-12-01\n"
    "paypa1-login.com\n"
    "\n"
    "   Secure-PayPal.NET  \n"
    "bücher-paypal.de\n"
    "paypa1-login.com\n"
    "bad name.com\n"
    "co.uk\n"
    "*.wild.com\n"
    "http://phish.example.com/login\n"
    "-\n" + ("a" * 70 + ".com\n") + "ok.co.uk\r\n"
).encode()


def test_lines_comments_blanks_bad_lines_and_duplicates() -> None:
    feed = read_nrd(FEED + b"\xff\xfe.com\n")
    assert feed.domains == [
        "paypa1-login.com",
        "secure-paypal.net",
        "xn--bcher-paypal-dlb.de",
        "ok.co.uk",
    ]
    assert feed.duplicates == 1
    bad = {b.line: b.reason for b in feed.bad}
    assert sorted(bad) == [7, 8, 9, 10, 11, 12, 14]
    assert bad[7] == "contains whitespace"
    assert "public suffix" in bad[8]
    assert "wildcard" in bad[9]
    assert "URL" in bad[10]
    assert "63" in bad[12]
    assert bad[14] == "not UTF-8"
    assert feed.bad[0].text == "bad name.com"


@pytest.mark.parametrize("packing", ["gzip", "zip", "file"])
def test_compression_is_detected_by_magic(packing: str, tmp_path: Path) -> None:
    if packing == "gzip":
        source: bytes | Path = gzip.compress(FEED)
    elif packing == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("domain-names.txt", FEED)
        source = buffer.getvalue()
    else:
        source = tmp_path / "nrd.txt.gz"  # gzip content, whatever the name says
        source.write_bytes(gzip.compress(FEED))
    assert len(read_nrd(source).domains) == 4


def test_unreadable_feeds_raise(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="cannot read"):
        read_nrd(gzip.compress(FEED)[:30])
    with pytest.raises(FeedError, match="cannot read"):
        read_nrd(tmp_path / "absent.txt")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "a.com\n")
        archive.writestr("b.txt", "b.com\n")
    with pytest.raises(FeedError, match="exactly one file"):
        read_nrd(buffer.getvalue())


def test_a_stream_parses_lines_as_its_names_are_taken() -> None:
    stream = open_nrd(FEED + b"\xff\xfe.com\n")
    assert operator.length_hint(stream) == 14  # lines: at least as many as the names
    assert next(stream) == "paypa1-login.com"
    assert (stream.bad, stream.duplicates) == ([], 0)  # the later lines are not read yet
    rest = list(stream)
    assert ["paypa1-login.com", *rest] == read_nrd(FEED + b"\xff\xfe.com\n").domains
    assert [b.line for b in stream.bad] == [7, 8, 9, 10, 11, 12, 14]
    assert stream.duplicates == 1
    assert operator.length_hint(stream) == 2  # the blank and the comment line


def test_oversized_feeds_raise_before_any_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nrd, "MAX_FEED_BYTES", 100)
    assert len(read_nrd(b"a.com\n" * 16).domains) == 1
    for packed in (b"a.com\n" * 17, gzip.compress(b"a.com\n" * 17)):
        with pytest.raises(FeedError, match="larger than 100 bytes"):
            open_nrd(packed)


def _fetch(handler: httpx.MockTransport, **kwargs: int) -> bytes:
    async def go() -> bytes:
        async with httpx.AsyncClient(transport=handler) as client:
            return await fetch_feed("https://feeds.example/nrd.txt", client, **kwargs)

    return asyncio.run(go())


def test_fetch_feed() -> None:
    ok = httpx.MockTransport(lambda request: httpx.Response(200, content=FEED))
    assert read_nrd(_fetch(ok)).domains[0] == "paypa1-login.com"
    missing = httpx.MockTransport(lambda request: httpx.Response(404))
    with pytest.raises(FeedError, match="HTTP 404"):
        _fetch(missing)
    with pytest.raises(FeedError, match="cap"):
        _fetch(ok, max_bytes=100)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(FeedError, match="ReadTimeout"):
        _fetch(httpx.MockTransport(slow))


def test_fetch_cap_without_content_length() -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(50):
            yield b"a.com\n"

    def chunked(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())  # streamed, no content-length

    with pytest.raises(FeedError, match="body over the 100-byte cap"):
        _fetch(httpx.MockTransport(chunked), max_bytes=100)


def test_the_real_whoisds_list() -> None:
    path = shared_data("nrd/whoisds_2025-12-01.txt")
    feed = read_nrd(path)
    lines = sum(1 for line in path.read_bytes().splitlines() if line.strip())
    assert len(feed.domains) + len(feed.bad) + feed.duplicates == lines == 70_000
    assert len(feed.domains) > 69_900
    assert feed.duplicates < 100  # the same IDN written both as U-label and as A-label
    assert all(d.isascii() for d in feed.domains)  # IDNs (192 lines) as A-labels
    assert feed.domains[0] == "alwkdsx.sbs"
    assert read_nrd(gzip.compress(path.read_bytes())).domains == feed.domains


def _line_by_line(content: bytes) -> tuple[list[str], list[tuple[int, str]]]:
    """The names and bad lines of `content` by the general per-line rules alone."""
    names: dict[str, None] = {}
    bad: list[tuple[int, str]] = []
    for number, raw in enumerate(io.BytesIO(content), 1):
        reason, name = nrd._parse_line(raw, number)
        if reason is not None:
            bad.append((number, reason))
        elif name is not None:
            names.setdefault(name)
    return list(names), bad


def _agrees_with_the_general_rules(content: bytes) -> None:
    feed = read_nrd(content)
    assert (feed.domains, [(b.line, b.reason) for b in feed.bad]) == _line_by_line(content)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text("abcxyzAZ019-_.* \r/\u00fc\ufeff", max_size=24), max_size=8))
def test_the_plain_host_fast_path_agrees_with_the_general_rules(lines: list[str]) -> None:
    # Lowercase hosts take the fast path; anything else (case, spaces, a trailing dot,
    # xn--, a bare suffix, CRLF) must come out exactly as the general rules say.
    edges = ["xn--bcher-kva.de", "xn--zz.com", "co.uk", "a.co.uk\r", "x.com.", "a" + ".b" * 130]
    content = "\n".join([*lines, *edges]).encode()
    _agrees_with_the_general_rules(content)


def test_the_real_list_agrees_with_the_general_rules() -> None:
    _agrees_with_the_general_rules(shared_data("nrd/whoisds_2025-12-01.txt").read_bytes())
