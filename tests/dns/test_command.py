"""`phantomwatch dns lookup` against the test server: JSON Lines out, exit 2 on bad input."""

from __future__ import annotations

import json

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
