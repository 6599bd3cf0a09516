"""Entry parsing of both wire formats, names extraction and the precert/final dedup key."""

from __future__ import annotations

import pytest

from service.sources.ct.der import wrap_tbs
from service.sources.ct.emulator import CertSpec, Emulator
from service.sources.ct.entries import (
    LogEntry,
    dedup_key,
    entries_from_json,
    extract,
    names,
    normalize_name,
    parse_data_tile,
    parse_leaf_input,
    rfc6962_entry,
)
from service.sources.ct.errors import BadResponse, MalformedEntry


@pytest.fixture(scope="module")
def emu() -> Emulator:
    """Not started: only its certificate factory and in-memory logs are used."""
    return Emulator()


def _rfc_entries(emu: Emulator, first: int) -> list[LogEntry]:
    leaves = emu.rfc6962.leaves[first:]
    return [
        parse_leaf_input(first + i, leaf.prefix + leaf.timestamped_entry)
        for i, leaf in enumerate(leaves)
    ]


def test_precert_and_final_cert_share_names_and_dedup_key(emu: Emulator) -> None:
    (issued,) = emu.add_certificates([["PayPa1.com.", " www.paypa1.com ", "paypa1.com"]])
    assert issued.precert_index is not None
    assert issued.final_index is not None
    pre, fin = _rfc_entries(emu, issued.precert_index)[:2]
    assert pre.entry_type == "precert"
    assert fin.entry_type == "x509"
    assert pre.issuer_key_hash == emu.issuer_key_hash
    assert names(pre) == names(fin) == ["paypa1.com", "www.paypa1.com"]
    assert dedup_key(pre) == dedup_key(fin)
    (other,) = emu.add_certificates([["paypa1.com"]], final=False)
    (again,) = _rfc_entries(emu, other.precert_index or 0)
    assert dedup_key(again) != dedup_key(pre)  # another serial, another certificate


def test_wildcards_idn_cn_with_space_and_duplicates(emu: Emulator) -> None:
    specs = [
        CertSpec(["*.login-paypal.com", "login-paypal.com", "*.LOGIN-paypal.com"]),
        CertSpec(["xn--bcher-kva.example"], cn="Bücher.Example"),
        CertSpec(["acme.example"], cn="Acme Inc"),
        CertSpec([], cn="only-cn.example"),
    ]
    issued = emu.add_certificates(specs, final=False)
    got = [names(_rfc_entries(emu, i.precert_index or 0)[0]) for i in issued]
    assert got == [
        ["*.login-paypal.com", "login-paypal.com"],
        ["xn--bcher-kva.example"],
        ["acme.example"],
        ["only-cn.example"],
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Example.COM.", "example.com"),
        ("  spaced.example \n", "spaced.example"),
        ("*.Wild.example", "*.wild.example"),
        ("*.", None),
        ("Acme Inc", None),
        ("user@example.com", None),
        ("", None),
        ("...", None),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("*.bücher.de", "*.xn--bcher-kva.de"),
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("ex_ample.бг", "ex_ample.xn--90ae"),
    ],
)
def test_normalize_name(raw: str, expected: str | None) -> None:
    assert normalize_name(raw) == expected


def test_bare_tbs_is_wrapped_for_cryptography(emu: Emulator) -> None:
    (issued,) = emu.add_certificates([["wrap.example"]], final=False)
    (entry,) = _rfc_entries(emu, issued.precert_index or 0)
    wrapped = wrap_tbs(entry.tbs_der or b"")
    assert wrapped[0] == 0x30
    assert (entry.tbs_der or b"") in wrapped
    assert extract(entry).names == ["wrap.example"]


def test_malformed_leaf_framing_is_flagged_not_raised(emu: Emulator) -> None:
    good = emu.rfc6962.leaves[0]
    leaf_input = b"\x00\x00" + good.timestamped_entry
    for broken, reason in [
        (b"\x07" + leaf_input[1:], "not a v1"),
        (leaf_input[:-3], "needs"),
        (leaf_input + b"\x00", "trailing"),
        (leaf_input[:10] + b"\x00\x09" + leaf_input[12:], "unknown entry type"),
    ]:
        with pytest.raises(MalformedEntry, match=reason) as info:
            parse_leaf_input(5, broken)
        assert info.value.index == 5
        flagged = rfc6962_entry(5, broken)
        assert flagged.malformed
        assert len(flagged.leaf_hash) == 32
        with pytest.raises(MalformedEntry) as info2:
            names(flagged)
        assert info2.value.index == 5


def test_garbage_certificate_raises_malformed_entry_with_index(emu: Emulator) -> None:
    index = emu.add_malformed()
    (entry,) = _rfc_entries(emu, index)
    with pytest.raises(MalformedEntry, match="unparseable") as info:
        names(entry)
    assert info.value.index == index
    assert isinstance(info.value, BadResponse)


def test_get_entries_json_errors() -> None:
    with pytest.raises(BadResponse):
        entries_from_json(0, {"nope": []})
    with pytest.raises(BadResponse, match="base64"):
        entries_from_json(0, {"entries": [{"leaf_input": "!!!", "extra_data": ""}]})
    with pytest.raises(BadResponse, match="leaf_input"):
        entries_from_json(0, {"entries": [{}]})


def test_data_tile_round_trip_and_errors(emu: Emulator) -> None:
    emu.add_certificates([["tile.example"]])
    leaves = emu.static.leaves
    n = len(leaves)
    tile = b"".join(leaf.tile_entry for leaf in leaves)
    entries = parse_data_tile(0, tile, n)
    assert [e.leaf_hash for e in entries] == [leaf.leaf_hash for leaf in leaves]
    assert names(entries[-1]) == ["tile.example"]
    with pytest.raises(BadResponse, match="bytes after"):
        parse_data_tile(0, tile + b"\x00", n)
    with pytest.raises(BadResponse, match="entry"):
        parse_data_tile(0, tile[:-1], n)
    # The leaf_index extension must agree with the tile's position.
    with pytest.raises(BadResponse, match="leaf_index"):
        parse_data_tile(256, tile, n)
