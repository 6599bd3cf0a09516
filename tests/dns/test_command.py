"""`phantomwatch dns lookup` against the test server: JSON Lines out, exit 2 on bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from service.sources.dns.command import main
from tests.dns.server import KnotServer


def test_lookup_prints_one_json_line_per_name_in_order(
    knot: KnotServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server = f"127.0.0.1:{knot.port}"
    names = ["parked.test", "example-lookalike.test", "nothing-here.test"]
    assert main(["lookup", *names, "--nameserver", server, "--timeout", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["name"] for line in lines] == names
    parked, lookalike, nothing = lines
    assert (parked["parked"], parked["parking_provider"]) == (True, "Sedo")
    assert lookalike["state"] == "resolves"
    assert lookalike["mx"] == ["10 mail.example-lookalike.test."]
    assert (lookalike["spf"], lookalike["dmarc"], lookalike["registration"]) == (
        True,
        True,
        "registered",
    )
    assert (nothing["state"], nothing["registration"]) == ("nxdomain", "free")
    assert lookalike["answers"]["A"] == {
        "name": "example-lookalike.test.",
        "rdtype": "A",
        "state": "resolves",
        "records": ["192.0.2.1"],
    }


def test_unknown_is_data_not_a_failure(
    silent_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["lookup", "a.test", "--nameserver", f"127.0.0.1:{silent_port}", "--timeout", "0.05"]
    assert main([*argv, "--retries", "0"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert (line["state"], line["registration"], line["parked"]) == ("unknown", "unknown", None)
    assert "timeout" in line["answers"]["A"]["detail"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lookup", "not a domain"], "invalid domain"),
        (["lookup", "co.uk"], "public suffix"),
        (["lookup", "*.paypa1.com"], "wildcard"),
        (["lookup", "a.test", "--nameserver", "resolver.example"], "not an IP address"),
        (["lookup", "a.test", "--nameserver", "127.0.0.1:99999"], "port must be"),
        (["lookup", "a.test", "--nameserver", "127.0.0.1", "--timeout", "0"], "--timeout"),
        (["lookup", "a.test", "--nameserver", "127.0.0.1", "--timeout", "nan"], "--timeout"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("phantomwatch dns lookup: error: ")
    assert message in captured.err
    assert captured.err.count("\n") == 1


def test_a_url_or_idn_is_looked_up_at_its_normalised_host(
    knot: KnotServer, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["https://WWW.Example-Lookalike.test/login", "example-lookalike.test.", "pаypal.test"]
    assert main(["lookup", *names, "--nameserver", f"127.0.0.1:{knot.port}"]) == 0
    url, dotted, idn = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (url["name"], url["state"], url["a"]) == (
        "www.example-lookalike.test",
        "resolves",
        ["192.0.2.1"],
    )
    at_name = {url["answers"][key]["name"] for key in ("A", "AAAA", "CNAME", "MX", "TXT")}
    assert at_name == {"www.example-lookalike.test."}
    assert dotted["name"] == "example-lookalike.test"
    assert (idn["name"], idn["answers"]["A"]["name"]) == (
        "xn--pypal-4ve.test",
        "xn--pypal-4ve.test.",
    )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("https:///login", "no host name in URL"),
        ("https://192.0.2.1/login", "not a domain"),
        ("paypal..com", "empty label"),
    ],
)
def test_a_bad_name_among_good_ones_stops_before_any_lookup(
    silent_port: int, bad: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A silent resolver: had anything been looked up, the command would have waited for it.
    server = f"127.0.0.1:{silent_port}"
    assert main(["lookup", "paypal.com", bad, "--nameserver", server, "--timeout", "5"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"phantomwatch dns lookup: error: invalid domain {bad!r}: ")
    assert message in captured.err


def _first(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    line: dict[str, Any] = json.loads(capsys.readouterr().out.splitlines()[0])
    return line


def test_the_service_settings_apply_and_options_override_them(
    knot: KnotServer,
    silent_port: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    good, silent = f"127.0.0.1:{knot.port}", f"127.0.0.1:{silent_port}"
    monkeypatch.setenv("PHANTOMWATCH_DNS_NAMESERVERS", json.dumps([good]))
    assert main(["lookup", "example-lookalike.test"]) == 0
    assert _first(capsys)["state"] == "resolves"

    monkeypatch.setenv("PHANTOMWATCH_DNS_NAMESERVERS", json.dumps([silent]))
    monkeypatch.setenv("PHANTOMWATCH_DNS_TIMEOUT", "0.05")
    monkeypatch.setenv("PHANTOMWATCH_DNS_RETRIES", "1")
    assert main(["lookup", "example-lookalike.test"]) == 0
    a = _first(capsys)["answers"]["A"]
    assert (a["state"], a["detail"].endswith("(after 2 attempts)")) == ("unknown", True)

    assert main(["lookup", "example-lookalike.test", "--retries", "0"]) == 0
    assert _first(capsys)["answers"]["A"]["detail"].endswith("(after 1 attempts)")
    assert main(["lookup", "example-lookalike.test", "--nameserver", good]) == 0
    assert _first(capsys)["state"] == "resolves"
    started = time.monotonic()
    assert main(["lookup", "example-lookalike.test", "--timeout", "0.5", "--retries", "0"]) == 0
    assert time.monotonic() - started >= 0.5
    assert _first(capsys)["state"] == "unknown"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PHANTOMWATCH_DNS_TIMEOUT", "0", "invalid configuration: PHANTOMWATCH_DNS_TIMEOUT"),
        ("PHANTOMWATCH_DNS_NAMESERVERS", '["resolver.example"]', "PHANTOMWATCH_DNS_NAMESERVERS"),
    ],
)
def test_bad_settings_exit_2_with_one_line(
    name: str,
    value: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    assert main(["lookup", "example-lookalike.test"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("phantomwatch dns lookup: error: ")
    assert message in captured.err
    assert captured.err.count("\n") == 1
