"""The master-file reader: syntax, delegations, the bucketed diff, and the real root zone."""

from __future__ import annotations

import contextlib
import gzip
import io
import re
from pathlib import Path

import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.sources.dns.errors import ZoneFileError
from service.sources.dns.zonefile import delegations, new_delegations, ns_records, records
from tests.dns.conftest import shared_data

ZONE = """\
$ORIGIN example.
$TTL 1h
@   IN  SOA ns1 hostmaster (
            2024010101 ; serial
            3600 900   ; refresh retry
            604800 300 )
    IN  NS  ns1           ; blank owner: the apex
    NS      ns2.example.
ns1 A 192.0.2.1
alpha 3600 IN NS ns1.alpha
alpha IN 3600 NS ns2.alpha.example.   ; class and TTL the other way round
      NS ns3.provider.net.
beta.example. NS ns1.provider.net.
txt TXT "a ; not a comment" "(not a paren" ; a comment
$ORIGIN sub.example.
gamma NS ns1.provider.net.
@ NS ns1.provider.net.
ESC\\.aped NS ns.provider.net.
$ORIGIN example.
UPPER NS ns.provider.net.
"""


def test_records_resolve_owners_ttls_classes_and_origins() -> None:
    recs = list(records(io.StringIO(ZONE)))
    soa = recs[0]
    assert (soa.owner, soa.rdtype, soa.ttl, soa.rdclass) == ("example", "SOA", None, "IN")
    assert soa.rdata == ["ns1", "hostmaster", "2024010101", "3600", "900", "604800", "300"]
    assert [r.owner for r in recs[1:3]] == ["example", "example"]
    txt = next(r for r in recs if r.rdtype == "TXT")
    assert txt.rdata == ['"a ; not a comment"', '"(not a paren"']
    alpha = [r for r in recs if r.owner == "alpha.example"]
    assert [(r.ttl, r.rdclass) for r in alpha] == [("3600", "IN"), ("3600", "IN"), (None, "IN")]
    pairs = list(ns_records(io.StringIO(ZONE)))
    assert ("alpha.example", "ns1.alpha.example") in pairs
    assert ("example", "ns1.example") in pairs


def test_delegations_skip_the_apex_and_repeats() -> None:
    assert list(delegations(io.StringIO(ZONE))) == [
        "alpha.example",
        "beta.example",
        "gamma.sub.example",
        "sub.example",
        "esc\\.aped.sub.example",
        "upper.example",
    ]


def test_delegations_agree_with_dnspython_on_a_plain_zone() -> None:
    text = "\n".join(
        [
            "$ORIGIN tld.",
            "$TTL 300",
            "@ SOA a.nic.tld. h.nic.tld. 1 2 3 4 5",
            "@ NS a.nic.tld.",
            *(f"d{i} NS ns{i % 3}.host{i % 7}.net." for i in range(200)),
            *(f"d{i} NS ns9.host.net." for i in range(0, 200, 5)),
            "a.nic A 192.0.2.1",
        ]
    )
    zone = dns.zone.from_text(text, relativize=False, check_origin=False)
    expected = {
        str(name).rstrip(".")
        for name, node in zone.nodes.items()
        if node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS) is not None
        and str(name) != "tld."
    }
    assert set(delegations(io.StringIO(text))) == expected
    assert len(expected) == 200


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$INCLUDE /etc/passwd\n", "$INCLUDE is refused"),
        ("$GENERATE 1-10 h$ A 192.0.2.$\n", "unsupported directive"),
        ("a NS ( b\n", "end of file inside parentheses"),
        ("a NS b )\n", "')' without '('"),
        ('a TXT "open\n', "unterminated quoted string"),
        ("a 300 IN\n", "missing record type"),
        ("   NS b.\n", "blank owner before any record"),
        ("a.. NS b.\n", "empty label"),
        ("a NS b. c.\n", "NS takes exactly one name"),
        ("$TTL forever\n", "$TTL takes one TTL"),
    ],
)
def test_syntax_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ZoneFileError, match=re.escape(message)) as info:
        list(delegations(io.StringIO("$ORIGIN tld.\n" + text)))
    assert info.value.line == 2


def test_missing_file_is_a_zone_file_error(tmp_path: Path) -> None:
    with pytest.raises(ZoneFileError, match="No such file"):
        list(delegations(tmp_path / "absent.zone"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab1.@$ \t\n;()"\\INS-')), max_size=200))
def test_tokenizer_never_crashes_on_zone_like_text(text: str) -> None:
    # Either records come out or ZoneFileError: never another exception.
    with contextlib.suppress(ZoneFileError):
        list(records(io.StringIO(text), "tld."))
    with contextlib.suppress(ZoneFileError):
        list(delegations(io.StringIO(text), "tld."))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_tokenizer_never_crashes_on_arbitrary_text(text: str) -> None:
    with contextlib.suppress(ZoneFileError):
        list(delegations(io.StringIO(text)))


def _root_zone() -> Path:
    return shared_data("dns_zone/root.zone.2018031200")


def test_root_zone_tld_delegations() -> None:
    tlds = list(delegations(_root_zone()))
    assert len(tlds) == 1544  # NS owners other than "." (awk: $4 == "NS" && $1 != ".")
    assert len(set(tlds)) == len(tlds)
    assert {"com", "uk", "xn--p1ai", "zw"} <= set(tlds)


def test_root_zone_diff_against_a_modified_copy(tmp_path: Path) -> None:
    original = _root_zone().read_text()
    dropped = {"aaa", "zw"}
    kept = [
        line
        for line in original.splitlines(keepends=True)
        if line.split(None, 1)[0].rstrip(".") not in dropped
    ]
    added = [
        "newtld.\t172800\tIN\tNS\tns1.newtld-registry.example.\n",
        "xn--lookalike-9za.\t172800\tIN\tNS\tns1.example.\n",
        "newtld.\t172800\tIN\tNS\tns2.newtld-registry.example.\n",  # scattered: still once
    ]
    modified = tmp_path / "root.zone.modified.gz"
    with gzip.open(modified, "wt") as out:  # the reader detects gzip by its magic
        out.writelines(kept[:100] + added[:2] + kept[100:] + added[2:])
    assert sorted(new_delegations(_root_zone(), modified, buckets=16)) == [
        "newtld",
        "xn--lookalike-9za",
    ]
    assert sorted(new_delegations(modified, _root_zone(), buckets=1)) == ["aaa", "zw"]
    assert list(new_delegations(_root_zone(), _root_zone(), workdir=tmp_path)) == []
    assert [p.name for p in tmp_path.iterdir()] == ["root.zone.modified.gz"]  # buckets removed
