"""CT parsing throughput: entries/s parsed with names extracted, both wire formats, vs a baseline.

The measured path is what the readers do: RFC 6962 get-entries JSON -> LogEntry
(leaf hash) -> names + dedup key from the certificate, or for precerts from the
TBS in the leaf wrapped for `cryptography`; static-ct-api data tiles likewise.
The baseline, timed in the same process on the same bytes, is the naive
approach producing the same output: decode each entry, load the
*pre-certificate from extra data* (or the certificate) as a full X.509
certificate, read CN + SAN with the same normalisation, and key it by
names + serial + issuer. A third figure reads both emulated
logs end to end over HTTP (the emulator runs in this process, so it competes
for the GIL: a lower bound).

    .venv/bin/python bench/ct_bench.py [--issuances 2000] [--repeat 3]

`ct_bench.py pipeline [...]` runs the end-to-end pipeline benchmark instead
(HTTP -> parse -> score against 1,000 brands -> store, SQLite and PostgreSQL,
side by side with parse-only): see bench/ct_pipeline.py.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509
from cryptography.x509.oid import NameOID

from service.sources.ct.emulator import Emulator
from service.sources.ct.entries import (
    entries_from_json,
    extract,
    normalize_names,
    parse_data_tile,
)
from service.sources.ct.http import CTHttpClient
from service.sources.ct.loglist import fetch_log_list
from service.sources.ct.merkle import CompactRange
from service.sources.ct.reader import reader_for

ROOT = Path(__file__).resolve().parent.parent
NAVIGLI = ROOT.parent / "shared" / "data" / "ct" / "static_ct" / "navigli2025h2" / "tile" / "data"
PAGE = 256
WORDS = ["paypal", "login", "secure", "account", "verify", "apple", "bank", "mail", "cdn", "www"]


def best(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    """(best seconds, items) over `repeat` runs."""
    times = []
    count = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - t0)
    return min(times), count


def corpus(issuances: int) -> Emulator:
    rng = random.Random(7)
    emu = Emulator()
    specs = []
    for i in range(issuances):
        base = "-".join(rng.sample(WORDS, 2)) + f"{i}.example.com"
        specs.append([base, "www." + base, *(f"{w}.{base}" for w in rng.sample(WORDS, 2))])
    emu.add_certificates(specs)
    return emu


def rfc_pages(emu: Emulator) -> list[tuple[int, bytes]]:
    leaves = emu.rfc6962.leaves
    pages = []
    for start in range(0, len(leaves), PAGE):
        body = {
            "entries": [
                {
                    "leaf_input": base64.b64encode(leaf.prefix + leaf.timestamped_entry).decode(),
                    "extra_data": base64.b64encode(leaf.extra_data).decode(),
                }
                for leaf in leaves[start : start + PAGE]
            ]
        }
        pages.append((start, json.dumps(body).encode()))
    return pages


def naive_names(der: bytes) -> tuple[list[str], bytes]:
    """Names and the naive dedup key (names + serial + issuer) from a full certificate."""
    cert = x509.load_der_x509_certificate(der)
    raw = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        raw.extend(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    names = normalize_names(raw)
    key = hashlib.sha256(
        "\n".join(sorted(names)).encode()
        + cert.serial_number.to_bytes(20, "big")
        + cert.issuer.public_bytes()
    ).digest()
    return names, key


def u(data: bytes, pos: int, n: int) -> int:
    return int.from_bytes(data[pos : pos + n], "big")


def rfc_measured(pages: list[tuple[int, bytes]]) -> int:
    n = 0
    for start, body in pages:
        for entry in entries_from_json(start, json.loads(body)):
            extract(entry)
            n += 1
    return n


def rfc_baseline(pages: list[tuple[int, bytes]]) -> int:
    n = 0
    for _, body in pages:
        for item in json.loads(body)["entries"]:
            leaf = base64.b64decode(item["leaf_input"])
            hashlib.sha256(b"\x00" + leaf).digest()
            if u(leaf, 10, 2) == 0:
                der = leaf[15 : 15 + u(leaf, 12, 3)]
            else:
                extra = base64.b64decode(item["extra_data"])
                der = extra[3 : 3 + u(extra, 0, 3)]  # the pre-certificate
            naive_names(der)
            n += 1
    return n


def split_tile(data: bytes) -> list[tuple[bytes, bytes]]:
    """(leaf, certificate to parse) per entry, the naive way: the precert from extra data."""
    out = []
    pos = 0
    while pos < len(data):
        start = pos
        kind = u(data, pos + 8, 2)
        pos += 10
        if kind == 0:
            length = u(data, pos, 3)
            der = data[pos + 3 : pos + 3 + length]
            pos += 3 + length
        else:
            pos += 32
            pos += 3 + u(data, pos, 3)
        pos += 2 + u(data, pos, 2)
        leaf = b"\x00\x00" + data[start:pos]
        if kind == 1:
            length = u(data, pos, 3)
            der = data[pos + 3 : pos + 3 + length]
            pos += 3 + length
        pos += 2 + u(data, pos, 2)
        out.append((leaf, der))
    return out


def tiles_measured(tiles: list[tuple[int, bytes, int]]) -> int:
    n = 0
    for first, data, count in tiles:
        for entry in parse_data_tile(first, data, count):
            extract(entry)
            n += 1
    return n


def tiles_baseline(tiles: list[tuple[int, bytes, int]]) -> int:
    n = 0
    for _, data, _ in tiles:
        for leaf, der in split_tile(data):
            hashlib.sha256(b"\x00" + leaf).digest()
            naive_names(der)
            n += 1
    return n


def static_tiles(emu: Emulator) -> list[tuple[int, bytes, int]]:
    leaves = emu.static.leaves
    return [
        (s, b"".join(leaf.tile_entry for leaf in leaves[s : s + PAGE]), len(leaves[s : s + PAGE]))
        for s in range(0, len(leaves), PAGE)
    ]


async def over_http(emu: Emulator) -> dict[str, tuple[float, int]]:
    out: dict[str, tuple[float, int]] = {}
    async with CTHttpClient() as client:
        log_list = await fetch_log_list(client, emu.urls["log_list"])
        for log in log_list.logs:
            reader = reader_for(log, client)
            t0 = time.perf_counter()
            head = await reader.head()
            compact = CompactRange()
            for start in range(0, head.size, PAGE):
                batch = await reader.entries(start, min(start + PAGE, head.size) - 1)
                for entry in batch:
                    compact.append(entry.leaf_hash)
                    extract(entry)
            compact.verify(head.size, head.root)
            out[log.protocol] = (time.perf_counter() - t0, head.size)
    return out


def row(label: str, measured: tuple[float, int], baseline: tuple[float, int] | None) -> None:
    rate = measured[1] / measured[0]
    text = f"{label:<44} {measured[1]:>7} entries  {rate:>9,.0f}/s"
    if baseline is not None:
        base_rate = baseline[1] / baseline[0]
        text += f"   baseline {base_rate:>9,.0f}/s   x{rate / base_rate:.2f}"
    print(text)


def main() -> None:
    if sys.argv[1:2] == ["pipeline"]:
        from bench.ct_pipeline import main as pipeline_main

        pipeline_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuances", type=int, default=2000, help="certificates (x2 entries)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    emu = corpus(args.issuances)
    print(
        f"corpus: {emu.rfc6962.size} entries (precert + final per certificate, 4 names each), "
        f"built in {time.perf_counter() - t0:.1f}s; best of {args.repeat}"
    )
    pages = rfc_pages(emu)
    row(
        "RFC 6962 get-entries JSON -> names+dedup",
        best(lambda: rfc_measured(pages), args.repeat),
        best(lambda: rfc_baseline(pages), args.repeat),
    )
    tiles = static_tiles(emu)
    row(
        "static-ct-api data tiles -> names+dedup",
        best(lambda: tiles_measured(tiles), args.repeat),
        best(lambda: tiles_baseline(tiles), args.repeat),
    )
    navigli = NAVIGLI / "000"
    if navigli.exists():
        real = [(0, navigli.read_bytes(), 256)]
        row(
            "Navigli2025h2 real tile (256 precerts)",
            best(lambda: tiles_measured(real * 20), args.repeat),
            best(lambda: tiles_baseline(real * 20), args.repeat),
        )
    else:
        print("Navigli2025h2 real tile: skipped (../shared/data absent)")
    emu.start()
    try:
        for protocol, result in asyncio.run(over_http(emu)).items():
            row(f"over HTTP, {protocol} reader (verified root)", result, None)
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
