"""The score command via run(): files, stdin, .gz, bad lines, bad brands files, exit codes."""

from __future__ import annotations

import argparse
import gzip
import io
import json
from pathlib import Path

import pytest

from service.detection.command import BrandsFileError, load_brands_file, main, register, run

BRANDS_YAML = """\
brands:
  - name: PayPal
    domains: [paypal.com]
    allow: [paypal-community.com]
  - name: Microsoft
    domains:
      - microsoft.com
    keywords: [microsoft, office365]
    min_score: 60
"""


@pytest.fixture
def brands(tmp_path: Path) -> Path:
    p = tmp_path / "brands.yaml"
    p.write_text(BRANDS_YAML)
    return p


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="phantomwatch")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    return parser.parse_args(argv)


def _run(argv: list[str], stdin: str = "") -> tuple[int, list[dict[str, object]], str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(_parse(argv), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    return code, lines, err.getvalue()


def test_stdin_flagged_only(brands: Path) -> None:
    code, rows, _ = _run(
        ["score", "--brands", str(brands)],
        "paypa1.com\nexample.com\npaypal-community.com\nrnicrosoft.com\n",
    )
    assert code == 0
    assert [r["input"] for r in rows] == ["paypa1.com", "rnicrosoft.com"]
    assert rows[0]["brand"] == "PayPal"
    assert rows[0]["flagged"] is True
    assert rows[0]["reasons"][0]["technique"] == "homoglyph"  # type: ignore[index]


def test_all_files_and_gz(brands: Path, tmp_path: Path) -> None:
    plain = tmp_path / "a.txt"
    plain.write_text("paypal-login.com\n\n# comment\nexample.org\n")
    gz = tmp_path / "b.txt.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write("https://secure-paypal.xyz/login\n")
    code, rows, _ = _run(["score", "--brands", str(brands), "--all", str(plain), str(gz)])
    assert code == 0
    assert [r["input"] for r in rows] == [
        "paypal-login.com",
        "example.org",
        "https://secure-paypal.xyz/login",
    ]
    assert rows[1] == {
        "input": "example.org",
        "domain": "example.org",
        "unicode": "example.org",
        "registrable": "example.org",
        "brand": None,
        "score": 0,
        "severity": "none",
        "flagged": False,
        "reasons": [],
    }
    assert rows[2]["domain"] == "secure-paypal.xyz"
    assert rows[2]["flagged"] is True


def test_bad_line_keeps_going(brands: Path) -> None:
    code, rows, _ = _run(["score", "--brands", str(brands)], "a..b\npaypa1.com\n1.2.3.4\n")
    assert code == 0
    assert rows[0] == {"input": "a..b", "error": "empty label (consecutive or leading dots)"}
    assert rows[1]["input"] == "paypa1.com"
    assert rows[2]["input"] == "1.2.3.4"
    assert "IP address" in str(rows[2]["error"])


def test_min_score_override(brands: Path) -> None:
    _, rows, _ = _run(["score", "--brands", str(brands), "--min-score", "99"], "paypa1.com\n")
    assert rows == []
    _, rows, _ = _run(
        ["score", "--brands", str(brands), "--min-score", "0", "--all"], "paypa1.com\n"
    )
    assert rows[0]["flagged"] is True


def test_brand_min_score(brands: Path) -> None:
    # office365 + context word scores below Microsoft's min_score 60
    _, rows, _ = _run(["score", "--brands", str(brands), "--all"], "office365-help.com\n")
    assert rows[0]["brand"] == "Microsoft"
    assert rows[0]["flagged"] is (int(rows[0]["score"]) >= 60)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("brands:\n  - name: X\n    domains: [co.uk]\n", 3, "public suffix"),
        ("brands:\n  - name: X\n", 2, "needs 'domains'"),
        ("brands:\n  - name: X\n    domains: [a.com]\n    colour: red\n", 4, "unknown brand field"),
        ("brands: [\n", 2, "invalid YAML"),
        ("nope: 1\n", 1, "missing 'brands'"),
        (
            "brands:\n  - name: X\n    domains: [a.com]\n  - name: X\n    domains: [b.com]\n",
            4,
            "duplicate",
        ),
        ("brands:\n  - name: X\n    domains: [a.com]\n    min_score: high\n", 4, "min_score"),
        ("brands:\n  - name: X\n    domains: ['a..com']\n", 3, "empty label"),
    ],
)
def test_bad_brands_file(tmp_path: Path, text: str, line: int, message: str) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(BrandsFileError, match=message) as info:
        load_brands_file(p)
    assert info.value.line == line
    code, rows, err = _run(["score", "--brands", str(p)], "paypal.com\n")
    assert code == 2
    assert rows == []
    assert f"bad.yaml:{line}" in err
    assert message.split()[0] in err


def test_missing_brands_file_exit_2(tmp_path: Path) -> None:
    code, _, err = _run(["score", "--brands", str(tmp_path / "none.yaml")], "")
    assert code == 2
    assert "cannot read" in err


def test_load_brands_defaults(brands: Path) -> None:
    specs = load_brands_file(brands)
    assert [s.name for s in specs] == ["PayPal", "Microsoft"]
    assert specs[0].keywords == ()
    assert specs[0].allow == ("paypal-community.com",)
    assert specs[1].keywords == ("microsoft", "office365")
    assert specs[1].min_score == 60


def test_main_entry(brands: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "in.txt"
    f.write_text("paypa1.com\n")
    assert main(["score", "--brands", str(brands), str(f)]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["brand"] == "PayPal"


def test_reader_that_goes_away_is_not_an_error(brands: Path, tmp_path: Path) -> None:
    """`phantomwatch score ... | head -1`: exit 0, nothing on stderr."""
    import subprocess
    import sys

    names = tmp_path / "names.txt"
    names.write_text("paypa1.com\n" * 50_000)
    score = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service.cli",
            "score",
            "--brands",
            str(brands),
            "--all",
            str(names),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert score.stdout is not None
    assert json.loads(score.stdout.readline())["brand"] == "PayPal"
    score.stdout.close()  # as `head -1` does after its line
    _, err = score.communicate(timeout=60)
    assert score.returncode == 0, err
    assert b"Broken pipe" not in err
