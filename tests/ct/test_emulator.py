"""Both readers against the emulator over real HTTP, including every fault knob."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from service.sources.ct.emulator import Emulator
from service.sources.ct.entries import dedup_key, names
from service.sources.ct.errors import BadResponse, LogUnavailable, MalformedEntry, VerificationError
from service.sources.ct.http import CTHttpClient, HttpConfig
from service.sources.ct.loglist import fetch_log_list, verify_log_list_signature
from service.sources.ct.merkle import CompactRange, verify_inclusion
from service.sources.ct.reader import LogReader, reader_for
from service.sources.ct.rfc6962 import Rfc6962Log
from service.sources.ct.tiles import StaticLog

T = TypeVar("T")
FAST = HttpConfig(backoff_initial=0.01, backoff_max=0.05, max_attempts=3, read_timeout=5)


def with_readers(
    emu: Emulator,
    body: Callable[[Rfc6962Log, StaticLog], Awaitable[T]],
    config: HttpConfig = FAST,
) -> T:
    async def go() -> T:
        async with CTHttpClient(config) as client:
            log_list = await fetch_log_list(client, emu.urls["log_list"])
            rfc = reader_for(log_list.find("Phantom6962"), client)
            static = reader_for(log_list.find("PhantomTiles"), client)
            assert isinstance(rfc, Rfc6962Log)
            assert isinstance(static, StaticLog)
            return await body(rfc, static)

    return asyncio.run(go())


async def read_all(reader: LogReader) -> tuple[CompactRange, list[list[str]]]:
    head = await reader.head()
    entries = await reader.entries(0, head.size - 1)
    assert [e.index for e in entries] == list(range(head.size))
    compact = CompactRange()
    compact.extend(e.leaf_hash for e in entries)
    compact.verify(head.size, head.root)
    return compact, [names(e) for e in entries]


def test_both_readers_read_everything_and_roots_match(emulator: Emulator) -> None:
    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        for reader in (rfc, static):
            compact, all_names = await read_all(reader)
            assert compact.size == 300
            assert all_names[0] == all_names[1] == ["paypa1.com", "www.paypa1.com"]
            assert ["login-paypal.com.example.ru"] in all_names
            assert ["*.secure-paypal.net", "secure-paypal.net"] in all_names
            assert ["xn--bcher-kva.example"] in all_names
            assert ["acme.example"] in all_names  # the CN "Acme Inc" is not a name

    with_readers(emulator, body)


def test_precert_and_final_dedupe_across_both_logs(emulator: Emulator) -> None:
    async def body(rfc: Rfc6962Log, static: StaticLog) -> set[bytes]:
        a = await rfc.get_entries(0, 1)
        b = await static.get_entries(0, 1)
        return {dedup_key(e) for e in a + b}

    assert len(with_readers(emulator, body)) == 1


def test_log_list_served_and_signed(emulator: Emulator) -> None:
    async def go() -> None:
        async with CTHttpClient() as client:
            data = await client.get(emulator.urls["log_list"])
            sig = await client.get(emulator.urls["log_list_signature"])
        verify_log_list_signature(data, sig, emulator.list_public_key_pem)
        with pytest.raises(VerificationError):
            verify_log_list_signature(data + b" ", sig, emulator.list_public_key_pem)

    asyncio.run(go())


def test_tampered_signatures_fail(emulator: Emulator) -> None:
    for log in emulator.logs:
        log.faults.bad_signature = True

    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        with pytest.raises(VerificationError):
            await rfc.head()
        with pytest.raises(VerificationError):
            await static.head()

    with_readers(emulator, body)


def test_short_pages_are_followed(emulator: Emulator) -> None:
    emulator.rfc6962.faults.page_size = 7

    async def body(rfc: Rfc6962Log, static: StaticLog) -> int:
        entries = await rfc.get_entries(3, 102)
        assert [e.index for e in entries] == list(range(3, 103))
        return len([p for p, _ in emulator.rfc6962.requests if "get-entries" in p])

    assert with_readers(emulator, body) == 15  # ceil(100 / 7)


def test_more_entries_than_asked_is_a_bad_response(emulator: Emulator) -> None:
    emulator.rfc6962.faults.extra_entries = 2

    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        with pytest.raises(BadResponse, match="asked for 5 entries, got 7"):
            await rfc.get_entries(0, 4)

    with_readers(emulator, body)


def test_429_retry_after_is_honoured(emulator: Emulator) -> None:
    for log in emulator.logs:
        log.faults.rate_limit = 1
        log.faults.retry_after = "1"

    async def body(rfc: Rfc6962Log, static: StaticLog) -> list[float]:
        waits = []
        for reader in (rfc, static):
            t0 = time.monotonic()
            await reader.head()
            waits.append(time.monotonic() - t0)
        return waits

    waits = with_readers(emulator, body)
    assert all(0.95 <= w < 3 for w in waits), waits


def test_5xx_retried_then_log_unavailable(emulator: Emulator) -> None:
    emulator.rfc6962.faults.server_errors = 2  # two failures, then fine
    emulator.static.faults.server_errors = 100
    emulator.static.faults.server_error_status = 503

    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        assert (await rfc.head()).size == 300
        with pytest.raises(LogUnavailable) as info:
            await static.head()
        assert info.value.status == 503

    with_readers(emulator, body)
    assert len([p for p, _ in emulator.static.requests if p.endswith("checkpoint")]) == 3


def test_truncated_body_is_a_bad_response(emulator: Emulator) -> None:
    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        await rfc.head()
        await static.head()
        for log in emulator.logs:
            log.faults.truncate = 1
        with pytest.raises(BadResponse, match="not JSON"):
            await rfc.get_entries(0, 9)
        with pytest.raises(BadResponse, match="entry"):
            await static.get_entries(0, 9)
        emulator.static.faults.truncate = 1
        with pytest.raises(BadResponse):
            await static.head()

    with_readers(emulator, body)


def test_slow_responses_time_out_into_log_unavailable(emulator: Emulator) -> None:
    emulator.rfc6962.faults.delay = 0.5
    config = HttpConfig(read_timeout=0.2, max_attempts=2, backoff_initial=0.01)

    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        with pytest.raises(LogUnavailable, match="Timeout"):
            await rfc.head()

    with_readers(emulator, body, config)


def test_malformed_entries_keep_their_leaf_hash_and_index(emulator: Emulator) -> None:
    bad_der = emulator.add_malformed("der")
    bad_leaf = emulator.add_malformed("leaf")  # RFC 6962 log only; the tiled log gets bad DER

    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        for reader in (rfc, static):
            head = await reader.head()
            entries = await reader.entries(0, head.size - 1)
            compact = CompactRange()
            compact.extend(e.leaf_hash for e in entries)
            compact.verify(head.size, head.root)
            for index in (bad_der, bad_leaf):
                with pytest.raises(MalformedEntry) as info:
                    names(entries[index])
                assert info.value.index == index
        assert (await rfc.entries(bad_leaf, bad_leaf))[0].malformed

    with_readers(emulator, body)


def test_lying_root_fails_the_compact_range_check(emulator: Emulator) -> None:
    for log in emulator.logs:
        log.faults.lie_about_root = True

    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        for reader in (rfc, static):
            with pytest.raises(VerificationError, match="does not match the signed tree head"):
                await read_all(reader)

    with_readers(emulator, body)


def test_shrinking_tree_is_refused(emulator: Emulator) -> None:
    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        for reader in (rfc, static):
            assert (await reader.head()).size == 300
        for log in emulator.logs:
            log.faults.shrink_by = 3
        for reader in (rfc, static):
            with pytest.raises(VerificationError, match="shrank from 300 to 297"):
                await reader.head()

    with_readers(emulator, body)


def test_growth_is_checked_with_a_consistency_proof(emulator: Emulator) -> None:
    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        first = await rfc.head()
        emulator.add_certificates([["grown.example"]])
        second = await rfc.head()
        assert second.size == first.size + 2
        assert any("get-sth-consistency" in p for p, _ in emulator.rfc6962.requests)
        leaf = (await rfc.get_entries(5, 5))[0].leaf_hash
        index, path = await rfc.get_proof_by_hash(leaf, second.size)
        verify_inclusion(leaf, index, second.size, path, second.root)

    with_readers(emulator, body)


def test_response_size_cap_over_http(emulator: Emulator) -> None:
    config = HttpConfig(max_response_bytes=4000, max_attempts=1)

    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        await rfc.head()
        with pytest.raises(BadResponse, match="cap"):
            await rfc.get_entries(0, 99)
        with pytest.raises(BadResponse, match="cap"):
            await static.get_entries(0, 99)

    with_readers(emulator, body, config)


def test_user_agent_and_gzip(emulator: Emulator) -> None:
    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        await rfc.head()
        await static.get_entries(0, 3)

    with_readers(emulator, body)
    for log in emulator.logs:
        for _, headers in log.requests:
            assert headers["User-Agent"].startswith("PhantomWatch/")
            assert "(+https://" in headers["User-Agent"]
            assert headers["Accept-Encoding"] == "gzip, identity"


def test_partial_tile_read_only_when_asked_and_falls_back(emulator: Emulator) -> None:
    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        await static.get_entries(0, 255)
        assert not any(".p/" in p for p, _ in emulator.static.requests)
        tail = await static.get_entries(256, 299)
        assert [e.index for e in tail] == list(range(256, 300))
        assert any(p.endswith("tile/data/001.p/44") for p, _ in emulator.static.requests)
        # The log grows past the tile and deletes the partial: the reader, still at
        # the old head, falls back to the full tile.
        emulator.add_certificates([[f"more{i}.example"] for i in range(110)])
        emulator.static.faults.delete_partials = True
        again = await static.get_entries(290, 299)
        assert [e.index for e in again] == list(range(290, 300))
        assert emulator.static.requests[-1][0].endswith("tile/data/001")

    with_readers(emulator, body)


def test_raw_gzip_tiles_and_hash_tiles(emulator: Emulator) -> None:
    emulator.static.faults.raw_gzip_tiles = True
    emulator.static.faults.gzip = False

    async def body(rfc: Rfc6962Log, static: StaticLog) -> None:
        entries = await static.get_entries(0, 255)
        hashes = await static.hash_tile(0, 0)
        assert [e.leaf_hash for e in entries] == hashes
        partial = await static.hash_tile(0, 1, 44)
        assert len(partial) == 44

    with_readers(emulator, body)
